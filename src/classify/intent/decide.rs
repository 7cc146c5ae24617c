//! Deciding one reply: the rules' hits with negation and question scope, the model's
//! probabilities and the safety rules around them.

use super::*;
use crate::classify::model::{self, Model};

pub(crate) struct Decision {
    pub intent: Intent,
    pub confidence: f32,
    pub rule: Option<String>,
    /// A clear answer that also asks something a person must answer.
    pub also_question: bool,
    /// The model's probability that the words are an automatic reply.
    pub auto_reply: f32,
    /// The own words the decision was read from (closing and signature cut off).
    pub own_words: String,
}

impl Decision {
    fn simple(intent: Intent, confidence: f32, rule: Option<String>) -> Decision {
        Decision {
            intent,
            confidence,
            rule,
            also_question: false,
            auto_reply: 0.0,
            own_words: String::new(),
        }
    }
}

struct Hit<'r> {
    intent: Intent,
    confidence: f32,
    pos: usize,
    end: usize,
    /// A rule that is not negation-aware and sure of itself: an idiom ("nicht nein sagen").
    idiom: bool,
    /// The rule matched with a negation and counts for its `negated` intent.
    negated: bool,
    rule: &'r str,
}

fn is_break(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | ';' | '\n' | ',' | ':' | '(' | ')')
}

impl Rules {
    /// Is a negation word within the clause around `text[start..end]`?
    fn negated(&self, text: &str, start: usize, end: usize, inside: bool) -> bool {
        // Look only at a bounded neighbourhood: scanning back to the clause start for every
        // match made long texts without punctuation quadratic (a denial of service).
        let mut from = start.saturating_sub(NEGATION_LOOK_BYTES);
        while !text.is_char_boundary(from) {
            from -= 1;
        }
        let before = &text[from..start];
        let clause_start = before.rfind(is_break).map(|i| i + 1).unwrap_or(0);
        let before_words: Vec<&str> = before[clause_start..]
            .split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .filter(|w| !w.is_empty())
            .collect();
        let n = before_words.len();
        let window = &before_words[n.saturating_sub(self.settings.negation_words_before)..];
        // A clause break word ("aber", "but") after the negation ends its scope.
        let mut negated = false;
        for w in window {
            if self.clause_breaks.iter().any(|b| b == w) {
                negated = false;
            } else if self.negation.iter().any(|neg| neg == w) {
                negated = true;
            }
        }
        if negated {
            return true;
        }
        // A negation between a separable verb and its particle ("ich nehme nicht teil",
        // "tragen Sie mich bitte nicht aus") stands inside the match.
        if inside
            && text[start..end]
                .split(|c: char| !(c.is_alphanumeric() || c == '\''))
                .any(|w| self.negation.iter().any(|neg| neg == w))
        {
            return true;
        }
        // After the match, within its clause ("I am coming not").
        let mut to = (end + NEGATION_LOOK_BYTES).min(text.len());
        while !text.is_char_boundary(to) {
            to += 1;
        }
        let after = &text[end..to];
        let clause_end = after.find(is_break).unwrap_or(after.len());
        for w in after[..clause_end]
            .split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .filter(|w| !w.is_empty())
            .take(self.settings.negation_words_after)
        {
            if self.clause_breaks.iter().any(|b| b == w) {
                break;
            }
            if self.negation.iter().any(|neg| neg == w) {
                return true;
            }
        }
        false
    }

    /// Byte ranges of sentences that end in "?" and open like a question.
    fn question_spans(&self, text: &str) -> Vec<(usize, usize)> {
        let Some(opener) = &self.question_opener else {
            return Vec::new();
        };
        let mut spans = Vec::new();
        let mut start = 0;
        for (i, c) in text.char_indices() {
            if matches!(c, '.' | '!' | '?' | '\n') {
                if c == '?' {
                    // The opener may follow a greeting or a lead-in clause ("Dzień dobry, co
                    // się stanie, jak się wypiszę?", "Скажите, если я отпишусь ...?", "quick
                    // question: if I unsubscribe ...?", "Before I click – can I ...?").
                    let sentence = &text[start..i];
                    if sentence
                        .split([',', ':', ';', '–', '—'])
                        .flat_map(|c| c.split(" - "))
                        .any(|clause| opener.is_match(clause.trim_start()))
                        || self
                            .question_anywhere
                            .as_ref()
                            .is_some_and(|q| q.is_match(sentence))
                    {
                        spans.push((start, i + 1));
                    }
                }
                start = i + 1;
            }
        }
        spans
    }

    /// The one-line core of a short answer, without greeting and sign-off.
    fn core_answer(&self, text: &str) -> Option<String> {
        let mut core: Option<&str> = None;
        for line in text.lines() {
            let t = line.trim();
            if t.is_empty() {
                continue;
            }
            if core.is_none() && self.greeting.as_ref().is_some_and(|g| g.is_match(t)) {
                continue;
            }
            if self.signoff.as_ref().is_some_and(|s| s.is_match(t)) {
                break;
            }
            if core.is_some() {
                return None;
            }
            core = Some(t);
        }
        core.map(normalize_answer)
    }
}

/// What the rules and the model read from a reply, before the decision.
pub(crate) struct Reading {
    pub own_words: String,
    /// The own words with links blanked: what the rules and the model read.
    pub source: String,
    pub text: String,
    pub from_subject: bool,
    pub rules: Decision,
    /// An unsubscribe rule matched, but negated ("bitte NICHT austragen").
    pub negated_unsubscribe: bool,
    pub features: Vec<String>,
}

/// The own words, the rules' decision on them and the model's features.
pub(crate) fn read(rules: &Rules, visible: &str, subject: Option<&str>) -> Reading {
    let own = crate::classify::segment::own_words(visible);
    let mut factor = 1.0;
    let mut source = crate::classify::segment::without_links(&own).into_owned();
    let mut from_subject = false;
    if own.trim().is_empty() {
        if let Some(subj) = subject.and_then(subject_answer) {
            source = subj.to_string();
            factor = rules.settings.subject_factor;
            from_subject = true;
        }
    }
    let text = normalize_text(source.trim());
    let (mut d, hits) = decide_text(rules, &text);
    let negated_unsubscribe = hits
        .iter()
        .any(|(id, i)| *i == Intent::None && id.ends_with("!not") && id.starts_with("unsubscribe"));
    if factor < 1.0 {
        d.confidence *= factor;
        d.rule = d.rule.map(|r| format!("subject:{r}"));
    }
    let features = crate::classify::features::extract(&source, &hits, Some(d.intent), from_subject);
    Reading {
        own_words: own,
        source,
        text,
        from_subject,
        rules: d,
        negated_unsubscribe,
        features,
    }
}

/// Decides the intent of a reply from its visible text (subject when the body is empty).
pub(crate) fn decide(
    rules: &Rules,
    visible: &str,
    subject: Option<&str>,
    calendar_partstat: Option<&str>,
) -> Decision {
    if let Some(ps) = calendar_partstat {
        let (intent, confidence) = match ps {
            "ACCEPTED" => (Intent::Accept, 1.0),
            "DECLINED" => (Intent::Decline, 1.0),
            // Tentative is no decision; a person should follow it up.
            "TENTATIVE" => (Intent::None, rules.settings.calendar_tentative_confidence),
            _ => (Intent::None, rules.settings.none_confidence),
        };
        return Decision::simple(intent, confidence, Some(format!("calendar:partstat={ps}")));
    }
    let r = read(rules, visible, subject);
    let model = rules.model;
    if model.is_empty() {
        let mut d = r.rules;
        d.own_words = r.own_words;
        return d;
    }
    let p = model.predict(&r.features);
    let (best, &pb) = p[..model::AUTO]
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.partial_cmp(b.1).unwrap_or(std::cmp::Ordering::Equal))
        .expect("classes");
    let mut intent = model::intent_of(best);
    // The probability among the intents (the auto-reply share is the caller's business).
    let mut confidence = pb / (1.0 - p[model::AUTO]).max(1e-6);
    let mut rule = format!(
        "model:{}{}",
        intent.as_str(),
        r.rules
            .rule
            .as_deref()
            .map(|x| format!("+{x}"))
            .unwrap_or_default()
    );
    // A rule this sure (a one-word answer, a numbered choice, an idiom) decides; the model
    // only doubts it.
    let veto = if rules.precedence.contains(&r.rules.intent) {
        rules.settings.precedence_veto
    } else {
        rules.settings.rule_veto
    };
    if r.rules.confidence >= veto && r.rules.intent != Intent::None && !r.from_subject {
        let agree = p[model::class_of(r.rules.intent)] / (1.0 - p[model::AUTO]).max(1e-6);
        intent = r.rules.intent;
        confidence = if agree >= 0.1 {
            r.rules.confidence.max(confidence.min(0.999))
        } else {
            rules.settings.doubt_confidence
        };
        rule = format!("rule:{}", r.rules.rule.as_deref().unwrap_or("-"));
    }
    // "Bitte NICHT austragen": the rules saw the unsubscribe words negated; whatever the model
    // makes of the words, a person reads it.
    if intent == Intent::Unsubscribe && r.negated_unsubscribe {
        intent = Intent::None;
        confidence = rules.settings.doubt_confidence;
        rule.push_str("+negated-unsubscribe");
    }
    // A question beside a clear answer ("Ich komme. Darf ich den Hund mitbringen?"): the
    // question sentences read alone would drown the answer, so the statements are read
    // without them. A clear decision there is applied and the question goes to a person.
    let mut statement_answered = false;
    if intent == Intent::Question && !r.from_subject {
        if let Some((answer, conf)) = statement_answer(rules, model, &r.source) {
            if conf >= rules.settings.statement_answer {
                intent = answer;
                confidence = conf;
                statement_answered = true;
                rule = format!("model:{}+statements", answer.as_str());
            }
        }
    }
    // The rules read a question and the model an answer no rule states: the answer must
    // stand in the sentences that are no question, read alone ("Czy trzeba coś przynieść?
    // Jedzenie, picie?" is no acceptance however the model leans). Else a person decides.
    if r.rules.intent == Intent::Question
        && !statement_answered
        && !matches!(intent, Intent::Question | Intent::None)
        && rule.starts_with("model:")
        && !statement_answer(rules, model, &r.source).is_some_and(|(a, _)| a == intent)
    {
        confidence = confidence.min(rules.settings.doubt_confidence);
        rule.push_str("+question-unanswered");
    }
    // Safety: a wish to unsubscribe is never applied as anything else. When the rules or the
    // model see one and the decision is another, a person decides.
    let unsub = model::class_of(Intent::Unsubscribe);
    if intent != Intent::Unsubscribe
        && (p[unsub] >= rules.settings.unsubscribe_doubt
            || (r.rules.intent == Intent::Unsubscribe && !r.from_subject))
    {
        confidence = confidence.min(rules.settings.doubt_confidence);
        rule.push_str("+unsubscribe-doubt");
    }
    // "Ні. Не підтверджую." / "Nein, ..." read as a yes: a person decides.
    if matches!(intent, Intent::Accept | Intent::Cooperation) && opens_with_no(&r.text) {
        confidence = confidence.min(rules.settings.doubt_confidence);
        rule.push_str("+opens-with-no");
    }
    if r.rules.intent != intent && !matches!(intent, Intent::Question | Intent::None) {
        // The model alone, without a rule that says the same: less sure than it thinks.
        confidence *= rules.settings.model_alone_factor;
    }
    if r.from_subject {
        confidence *= rules.settings.subject_factor;
    }
    // A question sentence of a few words beside an answer is one a person must answer
    // ("Ich komme. Darf ich den Hund mitbringen?"); "Ok?" is not.
    let also_question = statement_answered
        || (!matches!(intent, Intent::Question | Intent::None)
            && r.text.contains(['?', '\u{61f}'])
            && (longest_question_words(&r.text) >= 3
                || p[model::class_of(Intent::Question)] >= rules.settings.also_question));
    Decision {
        intent,
        confidence: confidence.clamp(0.0, 0.999),
        rule: Some(rule),
        also_question,
        auto_reply: p[model::AUTO],
        own_words: r.own_words,
    }
}

/// The decision of the sentences that are no question, when there are such sentences with
/// words in them: (intent, probability among the intents). Only an answer counts (accept,
/// decline, cooperation, unsubscribe).
fn statement_answer(rules: &Rules, model: &Model, source: &str) -> Option<(Intent, f32)> {
    let mut statements = String::with_capacity(source.len());
    let mut questions = 0;
    for (sentence, question) in sentences(source) {
        if question {
            questions += 1;
        } else {
            statements.push_str(sentence);
        }
    }
    if questions == 0 || statements.split_whitespace().count() < 2 {
        return None;
    }
    let text = normalize_text(statements.trim());
    let (d, hits) = decide_text(rules, &text);
    let features = crate::classify::features::extract(&statements, &hits, Some(d.intent), false);
    let p = model.predict(&features);
    let rest = (1.0 - p[model::AUTO]).max(1e-6);
    let best = [
        Intent::Accept,
        Intent::Decline,
        Intent::Cooperation,
        Intent::Unsubscribe,
    ]
    .into_iter()
    .map(|i| (i, p[model::class_of(i)] / rest))
    .max_by(|a, b| a.1.total_cmp(&b.1))?;
    // A hint of an unsubscribe wish in the statements: a person reads it all.
    let unsubscribe = p[model::class_of(Intent::Unsubscribe)] / rest;
    let unsubscribe_hint =
        d.intent == Intent::Unsubscribe || unsubscribe >= rules.settings.unsubscribe_doubt;
    (best.0 == Intent::Unsubscribe || !unsubscribe_hint).then_some(best)
}

/// The text's first word is a bare "no" in one of the seven languages, standing alone before
/// punctuation or a line end ("Nein.", "No,", "Ні.", "Hayır!", "لا،"); "No problem" is none.
fn opens_with_no(text: &str) -> bool {
    const NO: &[&str] = &[
        "nein", "nee", "noe", "no", "nope", "hayir", "нет", "ні", "нi", "nie", "لا",
    ];
    let t = text.trim_start();
    let end = t
        .find(|c: char| !(c.is_alphanumeric() || c == '\''))
        .unwrap_or(t.len());
    let (word, rest) = t.split_at(end);
    NO.contains(&word)
        && (rest.is_empty()
            || rest.starts_with(['.', ',', '!', ';', '\n', '\u{60c}', '-', '–'])
            || rest.starts_with(" -")
            || rest.starts_with(" –"))
}

/// The number of words of the longest sentence that ends in a question mark.
fn longest_question_words(text: &str) -> usize {
    sentences(text)
        .filter(|(_, question)| *question)
        .map(|(s, _)| s.split_whitespace().count())
        .max()
        .unwrap_or(0)
}

/// The sentences of a text with their end mark (". ! ? ؟" or a line end), each with whether it
/// is a question; a last sentence without an end mark is a statement.
fn sentences(text: &str) -> impl Iterator<Item = (&str, bool)> {
    let mut start = 0;
    let mut ends = text.char_indices();
    std::iter::from_fn(move || {
        for (i, c) in ends.by_ref() {
            if matches!(c, '.' | '!' | '?' | '\n' | '\u{61f}') {
                let end = i + c.len_utf8();
                let s = &text[start..end];
                start = end;
                return Some((s, matches!(c, '?' | '\u{61f}')));
            }
        }
        let tail = &text[start..];
        start = text.len();
        (!tail.trim().is_empty()).then_some((tail, false))
    })
}

/// A subject that can carry the whole answer ("Zusage", "unsubscribe"): not a reply
/// prefix followed by our own long subject.
fn subject_answer(subject: &str) -> Option<&str> {
    let s = subject.trim();
    let lower = s.to_lowercase();
    for p in ["re:", "aw:", "antw:", "wg:", "fw:", "fwd:"] {
        if let Some(rest) = lower.strip_prefix(p) {
            let rest = rest.trim();
            return (rest.split_whitespace().count() <= 2).then(|| &s[s.len() - rest.len()..]);
        }
    }
    Some(s)
}

fn decide_text(rules: &Rules, text: &str) -> (Decision, Vec<(String, Intent)>) {
    if let Some(core) = rules.core_answer(text) {
        for e in &rules.exact {
            if e.answers.contains(&core) {
                return (
                    Decision::simple(e.intent, e.confidence, Some(e.id.clone())),
                    vec![(e.id.clone(), e.intent)],
                );
            }
        }
    }
    // Negated unsubscribe hits ("bitte NICHT austragen") decide nothing but are reported.
    let mut negated_ids: Vec<(String, Intent)> = Vec::new();

    // Soft line wraps must not end a clause: "Abmelden\nmöchte ich mich nicht".
    let flat = unwrap_lines(text);
    let text = flat.as_str();

    // Informational questions ("Muss man sich anmelden?") mention intents without stating one.
    let questions = rules.question_spans(text);
    let in_question = |pos: usize| questions.iter().any(|&(a, b)| pos >= a && pos < b);

    let mut hits: Vec<Hit<'_>> = Vec::new();
    for r in &rules.rules {
        for m in r.re.find_iter(text) {
            let (intent, confidence, negated) = match r.negated {
                Some(neg) if rules.negated(text, m.start(), m.end(), r.negation_inside) => {
                    (neg, r.confidence * rules.settings.negated_factor, true)
                }
                _ => (r.intent, r.confidence, false),
            };
            if intent != Intent::Question && in_question(m.start()) {
                continue;
            }
            if intent == Intent::None && r.negated.is_some() {
                negated_ids.push((format!("{}!not", r.id), Intent::None));
                continue;
            }
            hits.push(Hit {
                intent,
                confidence,
                pos: m.start(),
                end: m.end(),
                idiom: r.negated.is_none() && r.confidence >= 0.95,
                negated,
                rule: &r.id,
            });
        }
    }

    // Words inside an idiom do not count on their own ("kann ich nicht nein sagen" is no
    // "kann ich nicht").
    let idioms: Vec<(usize, usize)> = hits
        .iter()
        .filter(|h| h.idiom)
        .map(|h| (h.pos, h.end))
        .collect();
    hits.retain(|h| h.idiom || !idioms.iter().any(|&(a, b)| h.pos < b && h.end > a));
    let hits_out = |hits: &[Hit<'_>]| -> Vec<(String, Intent)> {
        hits.iter()
            // A negated hit is its own feature: the model must not read "ich nehme nicht
            // teil" as the rule for "ich nehme teil".
            .map(|h| {
                let id = if h.negated {
                    format!("{}!neg", h.rule)
                } else {
                    h.rule.to_string()
                };
                (id, h.intent)
            })
            .chain(negated_ids.iter().cloned())
            .collect()
    };
    // Precedence: consent withdrawal first, then the strongest relation.
    for p in &rules.precedence {
        if let Some(h) = best(&hits, |i| i == *p) {
            return (decision(h, 0.0), hits_out(&hits));
        }
    }
    // Accept / decline / undecided ("none" rules) compete on confidence.
    let main = |i: Intent| matches!(i, Intent::Accept | Intent::Decline | Intent::None);
    if let Some(h) = best(&hits, main) {
        let others = hits
            .iter()
            .any(|o| main(o.intent) && o.intent != h.intent && o.confidence >= 0.7);
        let agreeing = hits
            .iter()
            .filter(|o| o.intent == h.intent && o.rule != h.rule)
            .count();
        let adjust = if others {
            -rules.settings.conflict_penalty
        } else {
            rules.settings.agreement_bonus * agreeing.min(3) as f32
        };
        return (decision(h, adjust), hits_out(&hits));
    }
    if let Some(h) = best(&hits, |i| i == Intent::Question) {
        return (decision(h, 0.0), hits_out(&hits));
    }
    if text.contains('?') {
        return (
            Decision::simple(
                Intent::Question,
                rules.settings.question_mark_confidence,
                Some("question-mark".into()),
            ),
            hits_out(&hits),
        );
    }
    (
        Decision::simple(Intent::None, rules.settings.none_confidence, None),
        hits_out(&hits),
    )
}

/// Highest confidence wins; on a tie the later statement (the conclusion) wins.
fn best<'a, 'r>(hits: &'a [Hit<'r>], pred: impl Fn(Intent) -> bool) -> Option<&'a Hit<'r>> {
    hits.iter().filter(|h| pred(h.intent)).max_by(|a, b| {
        a.confidence
            .partial_cmp(&b.confidence)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.pos.cmp(&b.pos))
    })
}

fn decision(h: &Hit<'_>, adjust: f32) -> Decision {
    Decision::simple(
        h.intent,
        (h.confidence + adjust).clamp(0.0, 0.99),
        Some(h.rule.to_string()),
    )
}

/// Joins wrapped lines of a paragraph; blank lines stay paragraph breaks.
fn unwrap_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        if c == '\n' {
            let prev_nl = i > 0 && bytes[i - 1] == b'\n';
            let next_nl = bytes.get(i + 1) == Some(&b'\n');
            out.push(if prev_nl || next_nl { '\n' } else { ' ' });
        } else {
            out.push(c);
        }
    }
    out
}
