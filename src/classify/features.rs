//! Features of the own words for the statistical intent model: words, word pairs and
//! character 4-grams (they carry morphology: "gelemiyorum", "przyjdę", "nicht" inside
//! "kann ich leider nicht"), each word also marked when it stands in the scope of a negation
//! (with its 4-grams: "не прийду", "nie przyjdę") or in a question clause, or among the first
//! words (where a decision is stated; signatures come last), plus the hits of the intent rules. Pure and deterministic: training and
//! the daemon call exactly this.

use super::Intent;

/// How much of the own words is read: decisions are stated early, and long texts must not
/// cost unbounded time.
const MAX_CHARS: usize = 3000;

/// How many words of the own words also count as "first words" (`f:`).
const FIRST_WORDS: usize = 6;

/// Words that negate what follows them in their clause, in the seven languages (after
/// folding: "nicht", "kein"..., "değil", "не", "ні", "nie", "لا").
const NEGATIONS: &[&str] = &[
    "nicht",
    "nich",
    "net",
    "ned",
    "kein",
    "keine",
    "keinen",
    "keinem",
    "keiner",
    "nie",
    "niemals",
    "nichts",
    "weder",
    "nein",
    "leider",
    "not",
    "no",
    "never",
    "can't",
    "cannot",
    "cant",
    "won't",
    "wont",
    "don't",
    "dont",
    "doesn't",
    "isn't",
    "aren't",
    "wouldn't",
    "couldn't",
    "unable",
    "neither",
    "nor",
    "didn't",
    "wasn't",
    "unfortunately",
    "değil",
    "degil",
    "yok",
    "hayır",
    "hayir",
    "maalesef",
    "не",
    "нет",
    "ні",
    "нi",
    "жаль",
    "niestety",
    "żaden",
    "nigdy",
    "لا",
    "لن",
    "لم",
    "ما",
    "مش",
    "ليس",
    "مو",
    "للأسف",
    "للاسف",
    "nö",
    "nee",
    "noe",
];

/// Words that end a negation's scope ("nicht heute, aber morgen").
const BREAKS: &[&str] = &[
    "aber",
    "sondern",
    "jedoch",
    "doch",
    "but",
    "however",
    "ama",
    "fakat",
    "ancak",
    "но",
    "але",
    "однак",
    "ale",
    "jednak",
    "لكن",
    "بس",
    "ولكن",
];

fn is_clause_end(c: char) -> bool {
    matches!(
        c,
        '.' | '!' | '?' | ';' | '\n' | ',' | ':' | '؟' | '،' | '(' | ')'
    )
}

/// The features of one text. `rule_hits` are (rule id, intent the hit counts for);
/// `rule_decision` is what the rules alone would decide.
pub(crate) fn extract(
    text: &str,
    rule_hits: &[(String, Intent)],
    rule_decision: Option<Intent>,
    from_subject: bool,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(256);
    let text: String = text.chars().take(MAX_CHARS).collect();
    let text = super::intent::normalize_text(&text);

    // Sentences end at . ! ? ; and line ends; a question mark marks its whole sentence.
    // Within a sentence, commas and colons end a negation's clause.
    let mut clauses: Vec<(&str, bool)> = Vec::new();
    let mut start = 0;
    let mut sentence_first = 0;
    for (i, c) in text.char_indices() {
        if is_clause_end(c) {
            clauses.push((&text[start..i], false));
            start = i + c.len_utf8();
            if matches!(c, '.' | '!' | '?' | ';' | '\n' | '؟') {
                if matches!(c, '?' | '؟') {
                    for cl in &mut clauses[sentence_first..] {
                        cl.1 = true;
                    }
                }
                sentence_first = clauses.len();
            }
        }
    }
    clauses.push((&text[start..], false));
    let mut n_words = 0usize;
    let mut prev: Option<String> = None;
    for &(clause, question) in &clauses {
        let words: Vec<&str> = clause
            .split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .filter(|w| !w.is_empty())
            .collect();
        // A negation's scope is its stretch of the clause between break words, before it as
        // well as after: German, Turkish and Arabic put it after the verb ("ich komme
        // nicht", "gelemem", "ما بقدر").
        let mut negated = vec![false; words.len()];
        let mut from = 0;
        for end in (0..words.len())
            .filter(|&i| BREAKS.contains(&words[i]))
            .chain([words.len()])
        {
            if words[from..end].iter().any(|w| NEGATIONS.contains(w)) {
                for (i, n) in negated.iter_mut().enumerate().take(end).skip(from) {
                    *n = !NEGATIONS.contains(&words[i]);
                }
            }
            from = end;
        }
        for (i, &w) in words.iter().enumerate() {
            n_words += 1;
            out.push(format!("w:{w}"));
            if negated[i] {
                out.push(format!("nw:{w}"));
            }
            if question {
                out.push(format!("qw:{w}"));
            }
            if let Some(p) = &prev {
                out.push(format!("b:{p}_{w}"));
            }
            grams(w, "c:", &mut out);
            // The first words state the decision; a signature's words come last.
            if n_words <= FIRST_WORDS {
                out.push(format!("f:{w}"));
            }
            if negated[i] {
                grams(w, "nc:", &mut out);
            }
            prev = Some(w.to_string());
        }
        prev = None;
    }
    out.push(
        match n_words {
            0 => "len:0",
            1 => "len:1",
            2..=3 => "len:2",
            4..=8 => "len:4",
            9..=20 => "len:9",
            21..=60 => "len:21",
            _ => "len:61",
        }
        .to_string(),
    );
    if text.contains(['?', '؟']) {
        out.push("qmark".into());
    }
    if from_subject {
        out.push("subject".into());
    }
    for (id, intent) in rule_hits {
        out.push(format!("r:{id}"));
        out.push(format!("ri:{}", intent.as_str()));
    }
    if let Some(d) = rule_decision {
        out.push(format!("rd:{}", d.as_str()));
    }
    out.push("bias".into());
    out.sort_unstable();
    out.dedup();
    out
}

/// Character 4-grams of a word with boundary marks ("^kom", "omme", "me$").
fn grams(w: &str, tag: &str, out: &mut Vec<String>) {
    let chars: Vec<char> = std::iter::once('^')
        .chain(w.chars())
        .chain(std::iter::once('$'))
        .collect();
    if chars.len() <= 4 {
        out.push(format!("{tag}{}", chars.iter().collect::<String>()));
        return;
    }
    for win in chars.windows(4) {
        out.push(format!("{tag}{}", win.iter().collect::<String>()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negation_and_question_scope() {
        let f = extract(
            "Ich komme leider nicht, aber gern nächstes Mal",
            &[],
            None,
            false,
        );
        assert!(f.contains(&"w:nicht".to_string()));
        assert!(!f.contains(&"nw:gern".to_string()), "aber ends the scope");
        let f = extract("Muss man sich nicht anmelden?", &[], None, false);
        assert!(f.contains(&"qw:anmelden".to_string()));
        assert!(f.contains(&"nw:anmelden".to_string()));
        let f = extract("Ich komme. Darf ich den Hund mitbringen?", &[], None, false);
        assert!(f.contains(&"qw:hund".to_string()));
        assert!(
            !f.contains(&"qw:komme".to_string()),
            "the statement is no question"
        );
    }
}
