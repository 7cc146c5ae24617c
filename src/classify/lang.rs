//! German / English detection by stopword counts: cheap, and good enough for short replies.

use std::collections::HashSet;
use std::sync::LazyLock;

const DE: &[&str] = &[
    "und",
    "ich",
    "nicht",
    "die",
    "der",
    "das",
    "ist",
    "wir",
    "sie",
    "es",
    "mit",
    "für",
    "auf",
    "ein",
    "eine",
    "zu",
    "gerne",
    "gern",
    "leider",
    "bin",
    "bitte",
    "danke",
    "komme",
    "kann",
    "ja",
    "nein",
    "auch",
    "dem",
    "den",
    "von",
    "mich",
    "mir",
    "uns",
    "wird",
    "haben",
    "habe",
    "hallo",
    "grüße",
    "viele",
    "liebe",
    "schon",
    "noch",
    "aber",
    "oder",
    "wenn",
    "dass",
    "im",
    "am",
    "kein",
    "keine",
    "sind",
    "zum",
    "zur",
    "herzliche",
    "freundlichen",
    "vielen",
    "dabei",
    "teilnehmen",
    "abmelden",
    "würde",
    "gibt",
    "wie",
    "was",
    "wann",
    "wo",
];

const EN: &[&str] = &[
    "and",
    "i",
    "not",
    "the",
    "is",
    "we",
    "you",
    "it",
    "with",
    "for",
    "on",
    "a",
    "an",
    "to",
    "be",
    "will",
    "can",
    "can't",
    "yes",
    "no",
    "please",
    "thanks",
    "thank",
    "come",
    "am",
    "are",
    "of",
    "in",
    "my",
    "me",
    "us",
    "have",
    "has",
    "hello",
    "hi",
    "regards",
    "best",
    "would",
    "love",
    "but",
    "or",
    "if",
    "that",
    "this",
    "there",
    "unfortunately",
    "unsubscribe",
    "remove",
    "join",
    "attend",
    "what",
    "when",
    "where",
    "how",
    "sorry",
    "sure",
    "don't",
    "won't",
];

static SETS: LazyLock<(HashSet<&'static str>, HashSet<&'static str>)> =
    LazyLock::new(|| (DE.iter().copied().collect(), EN.iter().copied().collect()));

fn score(text: &str) -> (usize, usize) {
    let (de_set, en_set) = &*SETS;
    let mut de = 0;
    let mut en = 0;
    // One reused buffer: no allocation per word.
    let mut lower = String::with_capacity(32);
    for w in text
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty() && w.len() <= 24)
        .take(200)
    {
        lower.clear();
        lower.extend(w.chars().flat_map(char::to_lowercase));
        if de_set.contains(lower.as_str()) {
            de += 1;
        }
        if en_set.contains(lower.as_str()) {
            en += 1;
        }
        if !w.is_ascii() && lower.contains(['ä', 'ö', 'ü', 'ß']) {
            de += 1;
        }
    }
    (de, en)
}

/// "de" or "en": the visible text decides; the whole body (our own quoted invitation) and
/// the subject break a tie; German, the project's home language, is the last resort.
pub(crate) fn detect(visible: &str, body: &str, subject: Option<&str>) -> &'static str {
    for t in [visible, body, subject.unwrap_or("")] {
        let (de, en) = score(t);
        if de > en {
            return "de";
        }
        if en > de {
            return "en";
        }
    }
    "de"
}
