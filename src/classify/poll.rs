//! Reads an answer to a date poll: which of the numbered candidate dates suit the person, from
//! their own words ("1 und 3", "alle", "keiner", "1 and 3", "both", "all but 2", "2 geht, 3
//! nicht"). Pure; anything it cannot read for certain is `None`, and the reply goes to review.

/// The dates (numbers from 1) that suit the person, in order; empty: none suits them.
pub type PollChoice = Vec<u8>;

/// Words saying every date suits.
const ALL: &[&str] = &[
    "alle", "allen", "alles", "beide", "beiden", "jeder", "jede", "all", "both", "any", "every",
    "either",
];
/// Words for "both", which name two dates when numbers follow.
const BOTH: &[&str] = &["beide", "beiden", "both"];
/// Words saying no date suits.
const NONE: &[&str] = &[
    "keiner", "keine", "keinen", "keins", "keinem", "none", "neither",
];
/// A clause of only these says no date suits ("Nein.", "No").
const NO: &[&str] = &["nein", "no", "leider", "sorry", "nope"];
/// Words that turn the numbers of their clause into dates that do not suit.
const NOT: &[&str] = &[
    "nicht", "not", "kein", "keiner", "keine", "can't", "cannot", "cant", "nein", "no", "doesn't",
    "don't", "won't", "isn't", "wouldn't",
];
/// Words that except the numbers after them from "all" ("alle außer 2").
const EXCEPT: &[&str] = &[
    "außer",
    "ausser",
    "auf",
    "but",
    "except",
    "excluding",
    "ohne",
];

/// How many lines of the person's words are read: the answer is at the top, and numbers
/// further down are more likely addresses or phone numbers.
const LINES: usize = 6;

/// The dates among `1..=dates` that suit the person who wrote `text` (their own words, quotes
/// and signature removed), or `None` when it does not say so clearly: no number and no word
/// for all or none, a number that is not one of the dates, or words that contradict each other.
pub fn read(text: &str, dates: u8) -> Option<PollChoice> {
    if dates == 0 {
        return None;
    }
    let head: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(LINES)
        .collect::<Vec<_>>()
        .join("\n")
        .to_lowercase();
    let mut can: Vec<u8> = Vec::new();
    let mut cannot: Vec<u8> = Vec::new();
    let mut all = false;
    let mut none = false;
    for clause in head
        .split(['\n', ',', ';', '.', '!', '?', '(', ')'])
        .flat_map(split_but)
    {
        let words = words(clause);
        if words.is_empty() {
            continue;
        }
        let mut numbers: Vec<u8> = Vec::new();
        let mut excepted: Vec<u8> = Vec::new();
        let mut after_except = false;
        let mut says_all = false;
        let mut says_not = false;
        for w in &words {
            if let Some(range) = numbers_in(w) {
                for n in range? {
                    if n == 0 || n > dates {
                        return None;
                    }
                    if after_except {
                        excepted.push(n);
                    } else {
                        numbers.push(n);
                    }
                }
            } else if EXCEPT.contains(&w.as_str()) {
                after_except = true;
            } else if ALL.contains(&w.as_str()) {
                says_all = true;
            } else if NOT.contains(&w.as_str()) {
                says_not = true;
            }
        }
        if says_all && !excepted.is_empty() {
            // "alle außer 2": every date but those.
            all = true;
            cannot.extend(excepted);
            continue;
        }
        if !excepted.is_empty() {
            return None;
        }
        if says_all && !numbers.is_empty() {
            // "alle 3" with three dates is all of them; "beide, 1 und 3" / "both 1+3" are the
            // two named; anything else is unclear.
            let both = words.iter().any(|w| BOTH.contains(&w.as_str()));
            if numbers.len() == 1 && numbers[0] == dates && !says_not {
                all = true;
                continue;
            }
            if both && numbers.len() == 2 && !says_not {
                can.extend(numbers);
                continue;
            }
            return None;
        }
        if !numbers.is_empty() {
            if says_not {
                cannot.extend(numbers);
            } else {
                can.extend(numbers);
            }
        } else if says_all && !says_not {
            all = true;
        } else if words.iter().any(|w| NONE.contains(&w.as_str()))
            || words.iter().all(|w| NO.contains(&w.as_str()))
        {
            none = true;
        }
    }
    let mut out: Vec<u8> = if all {
        (1..=dates).collect()
    } else {
        can.clone()
    };
    out.retain(|n| !cannot.contains(n));
    out.sort_unstable();
    out.dedup();
    if can.iter().any(|n| cannot.contains(n)) {
        return None;
    }
    if out.is_empty() {
        // No date suits: only when it says so (a number ruled out, or a word for none).
        let said_none = none || (!cannot.is_empty() && can.is_empty());
        return (said_none && !all).then(Vec::new);
    }
    if none && !all && can.is_empty() {
        return None;
    }
    Some(out)
}

/// Splits a clause at "aber"/"but": "2 geht, aber 3 nicht" is two clauses, but "all but 2"
/// (an exception to "all") stays one.
fn split_but(clause: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut from = 0;
    loop {
        let rest = &clause[from..];
        let next = [" aber ", " but "]
            .iter()
            .filter_map(|sep| rest.find(sep).map(|i| (i, sep.len())))
            .min();
        let Some((i, len)) = next else { break };
        let before = &clause[start..from + i];
        let after_all = before
            .split_whitespace()
            .last()
            .is_some_and(|w| ALL.contains(&w));
        if !after_all {
            parts.push(before);
            start = from + i + len;
        }
        from += i + len;
    }
    parts.push(&clause[start..]);
    parts
}

/// The words of a clause: letters, digits and the apostrophe of "can't"; "1-3" and "1+3" stay
/// one word for [`numbers_in`].
fn words(clause: &str) -> Vec<String> {
    clause
        .split(|c: char| {
            !(c.is_alphanumeric()
                || c == '\''
                || c == '’'
                || c == '-'
                || c == '+'
                || c == '&'
                || c == '/')
        })
        .flat_map(|w| {
            // "1+3", "1&3", "1/3" are lists; "1-3" a range: keep digits with their joiner.
            let w = w.replace('’', "'");
            if w.chars().any(|c| c.is_ascii_digit()) {
                vec![w]
            } else {
                w.split(['-', '+', '&', '/'])
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            }
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// The numbers a word names: "2" -> [2], "1-3" -> [1, 2, 3], "1+3" / "1&3" / "1/3" -> [1, 3],
/// "nr2" -> [2]. `None`: no digit in it (a word); `Some(None)`: digits that are no date number
/// (a time "15:00", a year, "3er").
fn numbers_in(w: &str) -> Option<Option<Vec<u8>>> {
    if !w.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let w = w
        .trim_start_matches("nr")
        .trim_start_matches("no")
        .trim_start_matches('#')
        .trim_end_matches(['.', ':']);
    let num = |s: &str| -> Option<u8> {
        if s.is_empty() || s.len() > 2 || !s.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    if let Some((a, b)) = w.split_once('-') {
        let (a, b) = (num(a), num(b));
        return Some(match (a, b) {
            (Some(a), Some(b)) if a <= b => Some((a..=b).collect()),
            _ => None,
        });
    }
    let parts: Vec<&str> = w.split(['+', '&', '/']).collect();
    Some(parts.iter().map(|p| num(p)).collect())
}

#[cfg(test)]
mod tests {
    use super::read;

    #[test]
    fn numbers_in_german_and_english() {
        assert_eq!(read("1 und 3", 3), Some(vec![1, 3]));
        assert_eq!(read("1 and 3", 4), Some(vec![1, 3]));
        assert_eq!(read("1, 2", 3), Some(vec![1, 2]));
        assert_eq!(read("Nr. 2 passt mir", 3), Some(vec![2]));
        assert_eq!(read("2+3", 3), Some(vec![2, 3]));
        assert_eq!(read("1-3", 4), Some(vec![1, 2, 3]));
        assert_eq!(
            read("Ja, 1 und 3 gehen bei mir. Viele Grüße", 3),
            Some(vec![1, 3])
        );
    }

    #[test]
    fn all_and_none() {
        assert_eq!(read("alle", 3), Some(vec![1, 2, 3]));
        assert_eq!(read("All of them work for me", 3), Some(vec![1, 2, 3]));
        assert_eq!(read("beide", 2), Some(vec![1, 2]));
        assert_eq!(read("both 1+3", 3), Some(vec![1, 3]));
        assert_eq!(read("alle 1 und 3", 3), None);
        assert_eq!(read("both", 2), Some(vec![1, 2]));
        assert_eq!(read("keiner", 3), Some(vec![]));
        assert_eq!(read("Leider keiner davon.", 3), Some(vec![]));
        assert_eq!(read("none", 3), Some(vec![]));
        assert_eq!(read("None of them, sorry", 3), Some(vec![]));
    }

    #[test]
    fn exceptions_and_negations() {
        assert_eq!(read("alle außer 2", 3), Some(vec![1, 3]));
        assert_eq!(read("all but 1", 3), Some(vec![2, 3]));
        assert_eq!(read("Alle bis auf 1", 3), Some(vec![2, 3]));
        assert_eq!(read("alle 3", 3), Some(vec![1, 2, 3]));
        assert_eq!(read("2 geht, 3 nicht", 3), Some(vec![2]));
        assert_eq!(read("1 passt, aber 2 leider nicht", 3), Some(vec![1]));
        assert_eq!(read("I can do 3 but not 1", 3), Some(vec![3]));
        assert_eq!(read("3 geht nicht", 3), Some(vec![]));
    }

    #[test]
    fn unclear_is_none() {
        // A number that is no date, a time, nothing at all, a contradiction.
        assert_eq!(read("7", 3), None);
        assert_eq!(read("ab 15:00 Uhr", 3), None);
        assert_eq!(read("Ich komme gern!", 3), None);
        assert_eq!(read("", 3), None);
        assert_eq!(read("2, aber 2 nicht", 3), None);
        assert_eq!(read("Am 12.12. kann ich", 3), None);
    }
}
