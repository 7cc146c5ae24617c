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

/// Word bytes of ASCII: letters, digits and the apostrophe (as `char::is_alphanumeric`).
fn ascii_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'\''
}

/// The next word of `text` at or after `*i`: a maximal run of alphanumeric chars and
/// apostrophes, exactly the non-empty pieces of `text.split(|c| !(c.is_alphanumeric() ||
/// c == '\''))`. ASCII bytes are classified without decoding; only non-ASCII chars are
/// decoded. Returns the word and whether it is all ASCII.
fn next_word<'t>(text: &'t str, i: &mut usize) -> Option<(&'t str, bool)> {
    skip(text, i, false);
    if *i >= text.len() {
        return None;
    }
    let start = *i;
    let ascii = skip(text, i, true);
    Some((&text[start..*i], ascii))
}

/// Moves `*i` past the chars that are word chars (`word`) or separators (`!word`). Returns
/// whether all chars passed were ASCII.
fn skip(text: &str, i: &mut usize, word: bool) -> bool {
    let bytes = text.as_bytes();
    let mut ascii = true;
    while *i < bytes.len() {
        let b = bytes[*i];
        if b < 0x80 {
            if ascii_word_byte(b) != word {
                break;
            }
            *i += 1;
        } else {
            let c = text[*i..].chars().next().unwrap_or(' ');
            if c.is_alphanumeric() != word {
                break;
            }
            ascii = false;
            *i += c.len_utf8();
        }
    }
    ascii
}

fn score(text: &str) -> (usize, usize) {
    let mut de = 0;
    let mut en = 0;
    // Reused buffers: no allocation per word.
    let mut ascii_buf = [0u8; 24];
    let mut lower = String::new();
    let mut seen = 0;
    let mut i = 0;
    while seen < MAX_WORDS {
        let Some((w, ascii)) = next_word(text, &mut i) else {
            break;
        };
        if w.len() > 24 {
            continue;
        }
        seen += 1;
        let bits = if ascii {
            let b = &mut ascii_buf[..w.len()];
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

/// The language of one text, when its letters or words tell: the script decides between
/// Arabic, Cyrillic and Latin; letters only one language uses decide within a script
/// (і ї є ґ Ukrainian, ы э ъ ё Russian, ğ ı ş Turkish, ą ę ł ń ś ź ż Polish); else whatlang among
/// the seven, and for German and English the stopword counter.
pub(crate) fn detect_one(t: &str) -> Option<&'static str> {
    let (mut arabic, mut cyrillic, mut latin) = (0usize, 0usize, 0usize);
    let (mut uk, mut ru, mut tr, mut pl) = (0usize, 0usize, 0usize, 0usize);
    for c in t.chars().take(4000) {
        match c {
            '\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' => arabic += 1,
            '\u{0400}'..='\u{04FF}' => {
                cyrillic += 1;
                match c {
                    'і' | 'ї' | 'є' | 'ґ' | 'І' | 'Ї' | 'Є' | 'Ґ' => uk += 1,
                    'ы' | 'э' | 'ъ' | 'ё' | 'Ы' | 'Э' | 'Ё' => ru += 1,
                    _ => {}
                }
            }
            c if c.is_alphabetic() => {
                latin += 1;
                match c {
                    'ğ' | 'ı' | 'ş' | 'Ğ' | 'İ' | 'Ş' => tr += 1,
                    'ą' | 'ę' | 'ł' | 'ń' | 'ś' | 'ź' | 'ż' | 'Ą' | 'Ę' | 'Ł' | 'Ś' | 'Ź' | 'Ż' => {
                        pl += 1
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if arabic + cyrillic + latin < 2 {
        return None;
    }
    if arabic >= cyrillic && arabic >= latin {
        return Some("ar");
    }
    if cyrillic >= latin {
        if uk > ru {
            return Some("uk");
        }
        if ru > uk {
            return Some("ru");
        }
        return Some(
            match whatlang_among(t, &[whatlang::Lang::Ukr, whatlang::Lang::Rus]) {
                Some("uk") => "uk",
                _ => "ru",
            },
        );
    }
    if tr > pl && tr > 0 {
        return Some("tr");
    }
    if pl > tr {
        return Some("pl");
    }
    let (de, en) = score(t);
    // Two stopwords or more, and not a tie: German or English, whatever whatlang would say
    // (the rule below); whatlang, the costly part, runs only when the stopwords cannot decide.
    if de + en >= 2 && de != en {
        return Some(if de > en { "de" } else { "en" });
    }
    let wl = whatlang_among(
        t,
        &[
            whatlang::Lang::Deu,
            whatlang::Lang::Eng,
            whatlang::Lang::Tur,
            whatlang::Lang::Pol,
        ],
    );
    match wl {
        // Turkish and Polish written without their letters: only whatlang can tell, and a
        // German or English stopword outvotes it.
        Some(l @ ("tr" | "pl")) if de + en < 2 => Some(l),
        _ if de > en => Some("de"),
        _ if en > de => Some("en"),
        Some(l) => Some(l),
        None => None,
    }
}

fn whatlang_among(t: &str, langs: &[whatlang::Lang]) -> Option<&'static str> {
    let opts = whatlang::Detector::with_allowlist(langs.to_vec());
    let info = opts.detect(t)?;
    if info.confidence() < 0.2 {
        return None;
    }
    Some(match info.lang() {
        whatlang::Lang::Deu => "de",
        whatlang::Lang::Eng => "en",
        whatlang::Lang::Tur => "tr",
        whatlang::Lang::Pol => "pl",
        whatlang::Lang::Ukr => "uk",
        whatlang::Lang::Rus => "ru",
        whatlang::Lang::Ara => "ar",
        _ => return None,
    })
}

/// The language of a reply: the visible text decides; the whole body (our own quoted mail)
/// and the subject break a tie; German, the project's home language, is the last resort.
pub(crate) fn detect(visible: &str, body: &str, subject: Option<&str>) -> &'static str {
    for t in [visible, body, subject.unwrap_or("")] {
        if let Some(l) = detect_one(t) {
            return l;
        }
    }
    "de"
}

/// Every language seen in the text, in order: paragraphs (or lines of three words or more)
/// are detected one by one, so "Ja, ich komme. / Yes, I will come." gives ["de", "en"].
pub(crate) fn seen(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().take(200) {
        if line.split_whitespace().count() < 3 {
            continue;
        }
        if let Some(l) = detect_one(line) {
            if !out.iter().any(|x| x == l) {
                out.push(l.to_string());
            }
        }
    }
    if out.is_empty() {
        if let Some(l) = detect_one(text) {
            out.push(l.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_the_pieces_of_split() {
        for text in [
            "",
            "Ja, ich komme gerne!",
            "  --Grüße aus Köln,\nDANKE  schön's ÄÖÜ straße ",
            "can't won't  I'm 42x ** ---",
            "日本語のテキスト、中文。 Ελληνικά; ١٢٣ x\u{200b}y",
            "a'b''c '' ' x",
        ] {
            let want: Vec<&str> = text
                .split(|c: char| !(c.is_alphanumeric() || c == '\''))
                .filter(|w| !w.is_empty())
                .collect();
            let mut got = Vec::new();
            let mut i = 0;
            while let Some((w, ascii)) = next_word(text, &mut i) {
                assert_eq!(ascii, w.is_ascii(), "{w:?}");
                got.push(w);
            }
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn detects_both_languages() {
        assert_eq!(detect("Ja, ich komme gerne.", "", None), "de");
        assert_eq!(detect("Yes, I will be there, thanks!", "", None), "en");
        assert_eq!(
            detect("", "", Some("Re: Thank you for the invitation")),
            "en"
        );
        assert_eq!(detect("", "", None), "de");
    }
}
