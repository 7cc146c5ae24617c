//! More than the intent: how many people come, and from when someone wants to be invited again.
//! Pure functions of the own words.

use std::sync::LazyLock;

use regex::Regex;

use super::Intent;

/// Number words of the seven languages (folded: "fünf" -> "fuenf").
fn number(w: &str) -> Option<u32> {
    let w = w.trim().to_lowercase();
    if let Ok(n) = w.parse::<u32>() {
        return Some(n);
    }
    // Arabic-Indic digits.
    if w.chars().all(|c| ('\u{660}'..='\u{669}').contains(&c)) && !w.is_empty() {
        return w
            .chars()
            .map(|c| c as u32 - 0x660)
            .try_fold(0u32, |a, d| a.checked_mul(10)?.checked_add(d));
    }
    Some(match w.as_str() {
        "ein" | "eine" | "einem" | "einer" | "one" | "a" | "bir" | "один" | "одна" | "одним"
        | "одной" | "одну" | "jeden" | "jedna" | "jednym" | "jedną" | "واحد" => 1,
        "zwei" | "zweit" | "two" | "iki" | "два" | "две" | "двое" | "двумя" | "двоє" | "дві"
        | "двома" | "dwa" | "dwie" | "dwoje" | "dwójką" | "dwojka" | "dwójkę" | "dwóch"
        | "اثنين" | "اثنان" => 2,
        "drei" | "dritt" | "three" | "üç" | "uc" | "три" | "трое" | "тремя" | "троє" | "трьома"
        | "trzy" | "troje" | "trójką" | "trojka" | "trójkę" | "trzech" | "ثلاثة" | "ثلاث" => {
            3
        }
        "vier" | "viert" | "four" | "dört" | "dort" | "четыре" | "четверо" | "четырьмя"
        | "чотири" | "чотирма" | "cztery" | "czworo" | "czwórką" | "czwórkę" | "أربعة"
        | "اربعة" | "أربع" => 4,
        "fuenf" | "fünf" | "fuenft" | "fünft" | "five" | "beş" | "bes" | "пять" | "пятеро"
        | "п'ять" | "пʼять" | "pięć" | "piec" | "pięcioro" | "خمسة" => 5,
        "sechs" | "sechst" | "six" | "altı" | "alti" | "шесть" | "шестеро" | "шість" | "sześć"
        | "ستة" => 6,
        "sieben" | "siebt" | "seven" | "yedi" | "семь" | "сім" | "siedem" | "سبعة" => 7,
        "acht" | "eight" | "sekiz" | "восемь" | "вісім" | "osiem" | "ثمانية" => 8,
        _ => return None,
    })
}

const NUM: &str = r"(\d{1,2}|[\u{660}-\u{669}]{1,2}|\p{L}+)";

struct Pattern {
    re: Regex,
    /// Added to the number the pattern captures (companions + the writer).
    plus: u32,
    /// The whole match is this many people (no number captured).
    fixed: Option<u32>,
}

fn pat(re: &str, plus: u32, fixed: Option<u32>) -> Pattern {
    Pattern {
        re: Regex::new(&format!("(?i){}", re.replace("NUM", NUM))).expect("party regex"),
        plus,
        fixed,
    }
}

static PARTY: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    vec![
        // Totals.
        pat(
            r"\bzu\s+(zweit|dritt|viert|fünft|fuenft|sechst|siebt|NUM)\b",
            0,
            None,
        ),
        pat(
            r"\bNUM\s+(personen|leute|erwachsene|people|persons|adults|of\s+us|kişi|kisi|kişiyiz|человек[а]?|людей|людини|осіб|особи|osoby|osób|osob|أشخاص|اشخاص|شخص)\b",
            0,
            None,
        ),
        pat(
            r"\b(wir\s+sind|we\s+are|we'll\s+be|we\s+will\s+be|нас\s+(будет\s+)?|нас\s+(буде\s+)?|będzie\s+nas|bedzie\s+nas|przyjdziemy\s+w)\s*NUM\b",
            0,
            None,
        ),
        pat(r"\bparty\s+of\s+NUM\b", 0, None),
        pat(
            r"\bwe\s+(dwoje|troje|czworo|dwójkę|trójkę|czwórkę|dwojke|trojke)\b",
            0,
            None,
        ),
        pat(r"\b(двое|трое|четверо|пятеро|двоє|троє)\b", 0, None),
        // Companions: a number of children, friends ... plus the writer.
        pat(
            r"\b(mit|with|с|з|z|ze)\s+(meinen|unseren|my|our|моими|моїми|moimi|naszymi)?\s*NUM\s+(kindern|kids|children|kinder|freunden|friends|nachbarn|enkeln|kolleg\w*|детьми|дітьми|dziećmi|dziecmi|dzieci)\b",
            1,
            None,
        ),
        pat(
            r"\bNUM\s+(çocuğumla|cocugumla|çocukla|cocukla|arkadaşımla)\b",
            1,
            None,
        ),
        pat(r"\bمع\s+NUM\s+(أطفال|اطفال|أولاد|اولاد)\b", 1, None),
        // One companion named: "mit meinem Mann", "my wife and I", "eşimle".
        pat(
            r"\b(mit|with)\s+(meinem|meiner|my)\s+(mann|frau|partner|partnerin|tochter|sohn|freundin|freund|mutter|vater|nachbarin|nachbarn|kollegin|kollegen|husband|wife|son|daughter|friend|mum|mom|dad|neighbour|neighbor|colleague)\b",
            0,
            Some(2),
        ),
        pat(
            r"\bmy\s+(husband|wife|partner|son|daughter|friend)\s+and\s+i\b",
            0,
            Some(2),
        ),
        pat(
            r"\b(ich\s+bring[e]?\s+(meinen|meine)\s+\p{L}+\s+mit)\b",
            0,
            Some(2),
        ),
        pat(
            r"\b(eşimle|esimle|kızımla|kizimla|oğlumla|oglumla|annemle|arkadaşımla)\b",
            0,
            Some(2),
        ),
        pat(
            r"\b(с|з)\s+(мужем|женой|сыном|дочкой|дочерью|ребёнком|ребенком|чоловіком|дружиною|сином|донькою|дитиною)\b",
            0,
            Some(2),
        ),
        pat(
            r"\bz\s+(mężem|mezem|żoną|zona|córką|corka|synem|dzieckiem)\b",
            0,
            Some(2),
        ),
        pat(r"مع\s+(زوجي|زوجتي|ابني|بنتي|ابنتي|طفلي)", 0, Some(2)),
    ]
});

/// How many people come in all, when an acceptance says so.
pub(crate) fn party_size(own: &str, intent: Intent) -> Option<u32> {
    if intent != Intent::Accept || own.is_empty() {
        return None;
    }
    let text: String = own.chars().take(2000).collect();
    for p in PARTY.iter() {
        if let Some(c) = p.re.captures(&text) {
            if let Some(n) = p.fixed {
                return Some(n);
            }
            // The last capture group that holds a number word.
            let n = (1..c.len())
                .rev()
                .filter_map(|i| c.get(i))
                .find_map(|m| number(m.as_str()));
            if let Some(n) = n {
                let total = n + p.plus;
                if (1..=50).contains(&total) {
                    return Some(total);
                }
            }
        }
    }
    None
}

const MONTHS: [&[&str]; 12] = [
    &[
        "januar",
        "january",
        "ocak",
        "январ",
        "січ",
        "styczni",
        "stycz",
        "يناير",
        "كانون الثاني",
    ],
    &[
        "februar",
        "february",
        "şubat",
        "subat",
        "феврал",
        "лют",
        "lut",
        "فبراير",
        "شباط",
    ],
    &[
        "märz",
        "maerz",
        "march",
        "mart",
        "март",
        "берез",
        "marzec",
        "marca",
        "مارس",
        "آذار",
    ],
    &[
        "april",
        "nisan",
        "апрел",
        "квіт",
        "kwietni",
        "kwiec",
        "أبريل",
        "نيسان",
    ],
    &[
        "mai",
        "may",
        "mayıs",
        "mayis",
        "май",
        "мая",
        "травн",
        "maj",
        "مايو",
        "أيار",
    ],
    &[
        "juni",
        "june",
        "haziran",
        "июн",
        "черв",
        "czerw",
        "يونيو",
        "حزيران",
    ],
    &[
        "juli",
        "july",
        "temmuz",
        "июл",
        "лип",
        "lip",
        "يوليو",
        "تموز",
    ],
    &[
        "august",
        "ağustos",
        "agustos",
        "август",
        "серп",
        "sierp",
        "أغسطس",
        "آب",
    ],
    &[
        "september",
        "eylül",
        "eylul",
        "сентябр",
        "верес",
        "wrze",
        "سبتمبر",
        "أيلول",
    ],
    &[
        "oktober",
        "october",
        "ekim",
        "октябр",
        "жовт",
        "październik",
        "pazdziernik",
        "października",
        "أكتوبر",
    ],
    &[
        "november",
        "kasım",
        "kasim",
        "ноябр",
        "листопад",
        "listopad",
        "نوفمبر",
    ],
    &[
        "dezember",
        "december",
        "aralık",
        "aralik",
        "декабр",
        "груд",
        "grud",
        "ديسمبر",
    ],
];

static FROM_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(ab|erst\s+(im|ab)|nach|from|after|starting|in|od|po|после|с|з|після|від)\s+(dem\s+|the\s+)?(\p{L}+)",
    )
    .expect("month regex")
});

static MONTH_TR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(\p{L}+)\s*(ayından|ayindan|'?(dan|den|tan|ten))\s+(sonra|itibaren)")
        .expect("month tr regex")
});

static SUMMER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)nach\s+den\s+sommerferien|after\s+the\s+summer\s+(holidays|break|vacation)|yaz\s+tatilinden\s+sonra|после\s+летних\s+каникул|після\s+літніх\s+канікул|po\s+wakacjach|بعد\s+(العطلة\s+الصيفية|عطلة\s+الصيف)",
    )
    .expect("summer regex")
});

static NEXT_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(nächstes|naechstes|im\s+nächsten|im\s+naechsten|ab\s+nächstem|kommendes)\s+jahr|next\s+year|gelecek\s+yıl|gelecek\s+yil|seneye|в\s+следующем\s+году|наступного\s+року|w\s+przyszłym\s+roku|w\s+przyszlym\s+roku|العام\s+(القادم|المقبل)|السنة\s+(القادمة|الجاية)",
    )
    .expect("next year regex")
});

/// A wish not to be invited before a time: "YYYY-MM" (relative to the mail's date) or
/// "summer_holidays" (resolved against the configured holiday calendar by the caller).
pub(crate) fn not_before_at(own: &str, date: (i32, u32)) -> Option<String> {
    let text: String = own.chars().take(2000).collect::<String>().to_lowercase();
    if SUMMER.is_match(&text) {
        return Some("summer_holidays".into());
    }
    let (year, month) = date;
    let month_of = |w: &str| -> Option<u32> {
        MONTHS
            .iter()
            .position(|names| names.iter().any(|n| w.starts_with(n)))
            .map(|i| i as u32 + 1)
    };
    let mut found = None;
    for c in FROM_MONTH.captures_iter(&text) {
        if let Some(m) = c.get(4).and_then(|w| month_of(w.as_str())) {
            // "im Mai" alone is no wish for later; "ab", "erst", "nach", "from" are.
            let word = c.get(1).map(|w| w.as_str()).unwrap_or("");
            if word == "in" && !text.contains("erst") {
                continue;
            }
            let m = if word.starts_with("nach")
                || word == "after"
                || word == "po"
                || word == "после"
                || word == "після"
            {
                m % 12 + 1
            } else {
                m
            };
            found = Some(m);
            break;
        }
    }
    if found.is_none() {
        if let Some(c) = MONTH_TR.captures(&text) {
            found = c.get(1).and_then(|w| month_of(w.as_str()));
        }
    }
    if let Some(m) = found {
        let y = if m <= month { year + 1 } else { year };
        return Some(format!("{y:04}-{m:02}"));
    }
    if NEXT_YEAR.is_match(&text) {
        return Some(format!("{:04}-01", year + 1));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn party_sizes() {
        let a = Intent::Accept;
        assert_eq!(party_size("Wir kommen zu dritt!", a), Some(3));
        assert_eq!(party_size("Ich komme mit 2 Kindern", a), Some(3));
        assert_eq!(party_size("wir kommen zu viert", a), Some(4));
        assert_eq!(party_size("My wife and I will come", a), Some(2));
        assert_eq!(party_size("Ich komme gern", a), None);
        assert_eq!(party_size("Wir kommen zu dritt", Intent::Decline), None);
        assert_eq!(party_size("Нас будет трое", a), Some(3));
    }

    #[test]
    fn later_wishes() {
        let d = (2026, 12);
        assert_eq!(
            not_before_at("Gern ab März wieder", d).as_deref(),
            Some("2027-03")
        );
        assert_eq!(
            not_before_at("nach den Sommerferien gerne", d).as_deref(),
            Some("summer_holidays")
        );
        assert_eq!(
            not_before_at("Nächstes Jahr gerne!", d).as_deref(),
            Some("2027-01")
        );
        assert_eq!(not_before_at("Ich komme gerne.", d), None);
    }
}
