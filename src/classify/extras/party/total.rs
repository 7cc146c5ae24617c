//! Totals said outright: "wir kommen zu dritt", "we are three", "нас буде троє", "üç kişi".

use std::sync::LazyLock;

use regex::Regex;

use super::super::number_word;
use super::MAX_PARTY;

pub(super) enum Total {
    Said(u32),
    /// "4-5 Leute": the writer does not know yet.
    Range,
    Nothing,
}

/// A number in a pattern: digits or one number word, checked by [`number_word`].
const N: &str = r"(?P<n>\d{1,3}|[\p{L}'][\p{L}']*)";

struct TotalPattern {
    re: Regex,
    /// The number when the pattern captures none ("zu dritt", "втроём", "ikimiz").
    fixed: Option<u32>,
    /// "insgesamt", "in total", "toplam": wins over a count said earlier for something else
    /// ("25 kişi olduk ... toplam 8 kişi olacağız").
    marked: bool,
    /// Says that the people come ("zu dritt", "втроём", "the three of us"), not only how many
    /// a group has ("wir sind 6 Leute", "нас 14 осіб"): the only totals an offer to cooperate
    /// is read for.
    coming: bool,
}

fn total_pattern(re: &str, fixed: Option<u32>, marked: bool) -> TotalPattern {
    TotalPattern {
        // The text is folded to ASCII for the Latin scripts, so an ASCII word boundary is
        // enough there, and it is much cheaper than a Unicode one.
        re: Regex::new(&re.replace("{N}", N).replace(r"\b", r"(?-u:\b)"))
            .expect("party total regex"),
        fixed,
        marked,
        coming: false,
    }
}

/// A total that says the people come.
fn coming(mut p: TotalPattern) -> TotalPattern {
    p.coming = true;
    p
}

/// Patterns over the folded text (see [`fold`]: "fünft" is "fuenft", "kişi" is "kisi").
static TOTALS: LazyLock<Vec<TotalPattern>> = LazyLock::new(|| {
    let mut v = vec![
        // Marked totals first.
        total_pattern(
            r"\b(?:insgesamt|zusammen|in\s+total|altogether|total(?:\s+of)?|toplam(?:da)?|всего|усього|всього|razem|lacznie|في\s+المجموع|المجموع)\s+(?:also\s+|sind\s+wir\s+|we\s+are\s+|we'll\s+be\s+|будет\s+|буде\s+|bedzie\s+)?{N}\b",
            None,
            true,
        ),
        total_pattern(r"\b{N}\s+(?:in\s+total|insgesamt|altogether)\b", None, true),
        // German.
        coming(total_pattern(
            r"\bzu\s+(?P<n>zweit|dritt|viert|fuenft|sechst|siebt|acht|neunt|zehnt)\b",
            None,
            false,
        )),
        coming(total_pattern(
            r"\bzu\s+{N}\s*(?:personen|leuten|[.!,;:)\n]|$)",
            None,
            false,
        )),
        total_pattern(
            r"\bwir\s+(?:sind|werden|kommen)\s+(?:wohl\s+|dann\s+|voraussichtlich\s+|ungefaehr\s+|etwa\s+|ca\.?\s+)?(?:zu\s+)?{N}\s*(?:personen|leute|menschen|sein)?\s*(?:[.!,;:)–—]|$|\n|(?:und|am|beim|zum|zur|bei|dabei|da|dort)\b)",
            None,
            false,
        ),
        coming(total_pattern(
            r"\bwir\s+(?P<n>beide|zwei|drei|vier|fuenf)\b",
            None,
            false,
        )),
        // English.
        total_pattern(
            r"\b(?:we\s+are|we're|we\s+will\s+be|we'll\s+be|there\s+will\s+be|there'll\s+be|we\s+should\s+be|we'd\s+be)\s+(?:about\s+|around\s+)?{N}\s*(?:people|persons|of\s+us|guests)?\s*(?:[.!,;:()–—]|$|\n|(?:and|on|at|for|to|in|from|with|tomorrow|today|then)\b)",
            None,
            false,
        ),
        coming(total_pattern(
            r"\b(?:the\s+|all\s+)?{N}\s+of\s+us\b",
            None,
            false,
        )),
        coming(total_pattern(
            r"\b(?:party|group)\s+of\s+{N}\b",
            None,
            false,
        )),
        coming(total_pattern(
            r"\b(?:both\s+of\s+us|we\s+both|the\s+pair\s+of\s+us)\b",
            Some(2),
            false,
        )),
        // Russian and Ukrainian.
        total_pattern(
            r"(?:^|[^\p{L}])(?P<skip>[ув]\s+)?нас\s+(?:будет\s+|буде\s+|будемо\s+|всего\s+|усього\s+|всього\s+)?{N}(?:$|[^\p{L}'])",
            None,
            false,
        ),
        coming(total_pattern(
            r"(?:^|[^\p{L}])(?:мы|ми)\s+(?:будем\s+|будемо\s+|придем\s+|прийдемо\s+)?(?P<n>двое|трое|четверо|пятеро|двоє|троє|п'ятеро|оба|обе|обидва|обидві)(?:$|[^\p{L}'])",
            None,
            false,
        )),
        // Polish.
        total_pattern(r"\b(?:bedzie|jest)\s+nas\s+{N}\b", None, false),
        coming(total_pattern(
            r"\b(?:bedziemy|przyjdziemy|przyjedziemy|wpadniemy|jestesmy|bedziemy\s+tam|przyjdziemy\s+tam)\s+(?:w|we)\s+{N}\b",
            None,
            false,
        )),
        coming(total_pattern(
            r"\bwe\s+(?P<n>dwoje|dwoch|dwie|troje|trzech|trzy|czworo|czterech|pieciu|piecioro)\b",
            None,
            false,
        )),
        coming(total_pattern(
            r"\bwe?\s+(?P<n>dwojke|trojke|czworke|piatke)\b",
            None,
            false,
        )),
        coming(total_pattern(
            r"\bcala\s+(?P<n>dwojka|trojka|czworka|piatka)\b",
            None,
            false,
        )),
        coming(total_pattern(
            r"\b(?:przyjdziemy|bedziemy|wpadniemy)\s+(?P<n>oboje|obaj|obie)\b",
            None,
            false,
        )),
        // People, said with the word for persons ("3 Personen", "üç kişi", "5 человек").
        total_pattern(
            r"(?:^|[^\p{L}'])(?:(?P<skip>fuer|for|fur|для|на|dla|na|icin|bis\s+zu|up\s+to|до)\s+)?{N}\s+(?:personen|leute|menschen|people|persons|person|guests|kisi(?:yiz|z)?|человека?|людей|людини|осіб|особи|osoby|osob|ludzi|اشخاص|افراد|شخص)(?:$|[^\p{L}'])",
            None,
            false,
        ),
        // "iki kişi olarak orada oluruz": as two people.
        coming(total_pattern(
            r"(?:^|[^\p{L}'])(?:(?P<skip>icin)\s+)?{N}\s+kisi\s+olarak\b",
            None,
            false,
        )),
        // Arabic: "نحن خمسة", "إحنا جايين 4", "سنأتي ثلاثة".
        total_pattern(
            r"(?:^|[^\p{L}])(?:نحن|احنا|نحنا|حنا|كلنا)\s+(?:(?:جايين|جاين|راح\s+نكون|رح\s+نكون|سنكون|بنكون|هنكون)\s+)?(?:ال)?{N}(?:$|[^\p{L}])",
            None,
            false,
        ),
        coming(total_pattern(
            r"(?:^|[^\p{L}])(?:جايين|جاين|جايين\s+كلنا|سناتي|سنحضر|سنكون|رح\s+نكون|راح\s+نكون|بنكون|هنكون|حنكون|راح\s+نجي|رح\s+نجي|هنيجي)\s+(?:ال)?{N}(?:$|[^\p{L}])",
            None,
            false,
        )),
    ];
    // One word for the whole party ("втроём", "ikimiz"), all in one pattern.
    let words: Vec<&str> = ONE_WORD.iter().map(|(w, _)| *w).collect();
    v.push(coming(total_pattern(
        &format!(
            r"(?:^|[^\p{{L}}'])(?P<n>{})(?:$|[^\p{{L}}'])",
            words.join("|")
        ),
        None,
        false,
    )));
    v
});

/// One word for the whole party (folded).
const ONE_WORD: &[(&str, u32)] = &[
    ("вдвоем", 2),
    ("втроем", 3),
    ("вчетвером", 4),
    ("впятером", 5),
    ("вшестером", 6),
    ("удвох", 2),
    ("вдвох", 2),
    ("втрьох", 3),
    ("утрьох", 3),
    ("вчотирьох", 4),
    ("учотирьох", 4),
    ("вп'ятьох", 5),
    ("вшістьох", 6),
    ("vdvoem", 2),
    ("vdvoyom", 2),
    ("vtroem", 3),
    ("vtroyom", 3),
    ("vchetverom", 4),
    ("vdvokh", 2),
    ("udvokh", 2),
    ("vtrokh", 3),
    ("vtr'okh", 3),
    ("vtrjokh", 3),
    ("ikimiz", 2),
    ("uecuemuez", 3),
    ("ucumuz", 3),
    ("doerduemuez", 4),
    ("dordumuz", 4),
    ("besimiz", 5),
    ("altimiz", 6),
    ("كلانا", 2),
    ("شخصين", 2),
];

/// "4-5", "4 oder 5", "3 or 4", "3–4": the number right of `end` (or left of `start`) makes a
/// range.
static RANGE_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:-|–|bis|oder|or|to|или|або|чи|lub|albo|veya|ya\s+da|او)\s*\d")
        .expect("range")
});
static RANGE_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d\s*(?:-|–|bis|oder|or|to|или|або|чи|lub|albo|veya|ya\s+da|او)\s*$")
        .expect("range")
});

/// Words that book places: "Zusage für 2 Personen", "Anmeldung für 3", "places for 4".
static RSVP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|[^\p{L}])(?:zusag\p{L}*|anmeld\p{L}*|platz|plaetze|reserv\p{L}*|registr\p{L}*|rsvp|sign\s+up|places?|seats?|tickets?|zapis\p{L}*|miejsc\p{L}*|мест\p{L}*|місц\p{L}*|запис\p{L}*|kayit\p{L}*|yer|حجز|مكان)",
    )
    .expect("rsvp regex")
});

pub(super) fn total(folded: &str, offer: bool) -> Total {
    // (position, number, marked)
    let mut found: Option<(usize, u32, bool)> = None;
    for p in TOTALS.iter().filter(|p| p.coming || !offer) {
        for c in p.re.captures_iter(folded) {
            let whole = c.get(0).expect("match");
            let (n, at) = match (p.fixed, c.name("n")) {
                (Some(n), _) => (Some(n), whole.start()),
                (None, Some(m)) => {
                    let w = m.as_str();
                    let one_word = ONE_WORD.iter().find(|(o, _)| *o == w).map(|(_, n)| *n);
                    let n = match w {
                        _ if one_word.is_some() => one_word,
                        "zweit" => Some(2),
                        "dritt" => Some(3),
                        "viert" => Some(4),
                        "fuenft" => Some(5),
                        "sechst" => Some(6),
                        "siebt" => Some(7),
                        "neunt" => Some(9),
                        "zehnt" => Some(10),
                        w => number_word(w),
                    };
                    if n.is_some()
                        && m.as_str().bytes().all(|b| b.is_ascii_digit())
                        && (RANGE_AFTER.is_match(&folded[m.end()..])
                            || RANGE_BEFORE.is_match(&folded[..m.start()]))
                    {
                        return Total::Range;
                    }
                    // "für 80 Personen" is how much food, "у нас 3 ребёнка" what a family has:
                    // neither is who comes. "Zusage für 2 Personen" is.
                    let skip = c.name("skip").is_some_and(|sk| {
                        let before = &folded[..sk.start()];
                        let from = before.char_indices().rev().nth(30).map_or(0, |(i, _)| i);
                        !RSVP.is_match(&before[from..])
                    });
                    (if skip { None } else { n }, m.start())
                }
                (None, None) => (None, whole.start()),
            };
            let Some(n) = n.filter(|n| (2..=MAX_PARTY).contains(n)) else {
                continue;
            };
            let better = match found {
                None => true,
                Some((pos, _, marked)) => (p.marked && !marked) || (p.marked == marked && at < pos),
            };
            if better {
                found = Some((at, n, p.marked));
            }
        }
    }
    match found {
        Some((_, n, _)) => Total::Said(n),
        None => Total::Nothing,
    }
}
