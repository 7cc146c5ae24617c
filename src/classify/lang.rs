//! German / English detection by stopword counts: cheap, and good enough for short replies.

/// 1 for a German stopword, 2 for an English one (bit set: a word may be both, e.g. "am").
/// A `match` on the word (length, then bytes) instead of hashing: this runs for up to 200
/// words of every message.
fn stopword(w: &str) -> u8 {
    macro_rules! lists {
        ($($de:literal),* ; $($en:literal),*) => {{
            let mut bits = 0;
            if matches!(w, $($de)|*) {
                bits |= 1;
            }
            if matches!(w, $($en)|*) {
                bits |= 2;
            }
            bits
        }};
    }
    lists!(
        "und", "ich", "nicht", "die", "der", "das", "ist", "wir", "sie", "es", "mit", "für",
        "auf", "ein", "eine", "zu", "gerne", "gern", "leider", "bin", "bitte", "danke", "komme",
        "kann", "ja", "nein", "auch", "dem", "den", "von", "mich", "mir", "uns", "wird", "haben",
        "habe", "hallo", "grüße", "viele", "liebe", "schon", "noch", "aber", "oder", "wenn",
        "dass", "im", "am", "kein", "keine", "sind", "zum", "zur", "herzliche", "freundlichen",
        "vielen", "dabei", "teilnehmen", "abmelden", "würde", "gibt", "wie", "was", "wann", "wo";
        "and", "i", "not", "the", "is", "we", "you", "it", "with", "for", "on", "a", "an", "to",
        "be", "will", "can", "can't", "yes", "no", "please", "thanks", "thank", "come", "am",
        "are", "of", "in", "my", "me", "us", "have", "has", "hello", "hi", "regards", "best",
        "would", "love", "but", "or", "if", "that", "this", "there", "unfortunately",
        "unsubscribe", "remove", "join", "attend", "what", "when", "where", "how", "sorry",
        "sure", "don't", "won't"
    )
}

const MAX_WORDS: usize = 200;

fn score(text: &str) -> (usize, usize) {
    let mut de = 0;
    let mut en = 0;
    // Reused buffers: no allocation per word.
    let mut ascii = [0u8; 24];
    let mut lower = String::new();
    let mut seen = 0;
    for w in text
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty() && w.len() <= 24)
        .take(MAX_WORDS)
    {
        seen += 1;
        let bits = if w.is_ascii() {
            let b = &mut ascii[..w.len()];
            b.copy_from_slice(w.as_bytes());
            b.make_ascii_lowercase();
            // Lower-cased ASCII is still ASCII, so valid UTF-8.
            stopword(std::str::from_utf8(b).unwrap_or_default())
        } else {
            lower.clear();
            lower.extend(w.chars().flat_map(char::to_lowercase));
            let umlaut = lower.contains(['ä', 'ö', 'ü', 'ß']);
            de += usize::from(umlaut);
            stopword(&lower)
        };
        de += usize::from(bits & 1);
        en += usize::from(bits >> 1);
        // Stop once the words left (at most 2 points each) cannot change the outcome.
        let left = 2 * (MAX_WORDS - seen);
        if de > en + left || en > de + left {
            break;
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
