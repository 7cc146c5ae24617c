//! More than the intent: how many people come ([`party_size`]), and from when someone wants to
//! be invited again ([`not_before_at`]). Pure functions of the own words, in the seven
//! languages (de, en, tr, ar, uk, ru, pl).

mod later;
mod party;

pub(crate) use later::not_before_at;
pub(crate) use party::party_size;

/// How much of the own words is read: a party or a date is stated early, and a long text must
/// not cost unbounded time.
const MAX_CHARS: usize = 3000;

/// The text both readers work on: the first [`MAX_CHARS`] characters, quoted lines ("> ...",
/// our own words) dropped.
fn own_text(own: &str) -> String {
    let mut out = String::with_capacity(own.len().min(MAX_CHARS * 2));
    let mut n = 0;
    for line in own.lines() {
        if line.trim_start().starts_with('>') {
            continue;
        }
        for c in line.chars() {
            if n >= MAX_CHARS {
                return out;
            }
            out.push(c);
            n += 1;
        }
        out.push('\n');
    }
    out
}

/// Lower case without the marks that people type or leave out at will, so that one lexicon
/// entry matches both: German umlauts as "ae"/"oe"/"ue" (also Turkish ö and ü), Polish and
/// Turkish letters without their marks, "ё" as "е", every apostrophe as "'", Arabic alef forms
/// as "ا", tā' marbūṭa as "ه", alef maqṣūra as "ي", no vowel signs or tatweel, and Arabic-Indic
/// digits as ASCII digits.
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'à' | 'á' | 'â' | 'ą' => out.push('a'),
            'é' | 'è' | 'ê' | 'ę' => out.push('e'),
            'í' | 'î' | 'ı' => out.push('i'),
            'ó' | 'ô' => out.push('o'),
            'ú' | 'û' => out.push('u'),
            'ć' | 'ç' => out.push('c'),
            'ł' => out.push('l'),
            'ń' => out.push('n'),
            'ś' | 'ş' => out.push('s'),
            'ź' | 'ż' => out.push('z'),
            'ğ' => out.push('g'),
            'ё' => out.push('е'),
            '\u{2019}' | '\u{2018}' | '\u{02bc}' | '`' | '´' => out.push('\''),
            'أ' | 'إ' | 'آ' | 'ٱ' => out.push('ا'),
            'ة' => out.push('ه'),
            'ى' => out.push('ي'),
            '\u{0660}'..='\u{0669}' => {
                out.push(char::from(b'0' + (c as u32 - 0x0660) as u8));
            }
            '\u{06f0}'..='\u{06f9}' => {
                out.push(char::from(b'0' + (c as u32 - 0x06f0) as u8));
            }
            // Turkish "İ" lower-cases to "i" and a combining dot; Arabic vowel signs and
            // tatweel carry no meaning here.
            '\u{0307}' | '\u{064b}'..='\u{065f}' | '\u{0670}' | '\u{0640}' => {}
            '\u{a0}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Number words 1-12 of the seven languages (folded), with the collective and declined forms
/// that name a count of people ("двое", "трьома", "dwójka", "اتنين").
pub(crate) fn number_word(w: &str) -> Option<u32> {
    if !w.is_empty() && w.len() <= 3 && w.bytes().all(|b| b.is_ascii_digit()) {
        return w.parse().ok();
    }
    Some(match w {
        "eins" | "one" | "bir" | "один" | "одна" | "jeden" | "jedna" | "واحد" | "واحده" => {
            1
        }
        "zwei" | "zwo" | "beide" | "beiden" | "two" | "both" | "iki" | "два" | "две" | "двух"
        | "двум" | "двумя" | "двое" | "двоих" | "дві" | "двох" | "двома" | "двоє" | "обидва"
        | "обидві" | "оба" | "обе" | "dwa" | "dwie" | "dwoch" | "dwoma" | "dwoje" | "dwojga"
        | "dwojgiem" | "dwojka" | "dwojke" | "oboje" | "obaj" | "obie" | "اثنين" | "اثنان"
        | "اتنين" | "تنين" | "ثنين" | "اثنتين" | "ثنتين" | "اثنتان" => {
            2
        }
        "drei" | "three" | "uec" | "uc" | "три" | "трех" | "трем" | "тремя" | "трое" | "троих"
        | "трьох" | "трьома" | "троє" | "trzy" | "trzech" | "trzema" | "troje" | "trojga"
        | "trojka" | "trojke" | "ثلاثه" | "ثلاث" | "تلاته" | "تلات" => 3,
        // Not "dort": German for "there".
        "vier" | "four" | "doert" => 4,
        "четыре" | "четырех" | "четырьмя" | "четверо" | "четверых" | "чотири" | "чотирьох"
        | "чотирма" | "cztery" | "czterech" | "czterema" | "czworo" | "czworka" | "czworke"
        | "اربعه" | "اربع" => 4,
        "fuenf" | "five" | "bes" | "пять" | "пятью" | "пятеро" | "пяти" | "п'ять" | "п'ятьох"
        | "п'ятеро" | "piec" | "pieciu" | "piecioro" | "piatka" | "piatke" | "خمسه" | "خمس" => {
            5
        }
        "sechs" | "six" | "alti" | "шесть" | "шестеро" | "шість" | "шістьох" | "szesc"
        | "szesciu" | "szescioro" | "سته" => 6,
        "sieben" | "seven" | "yedi" | "семь" | "семеро" | "сім" | "сімох" | "siedem"
        | "siedmiu" | "سبعه" => 7,
        "acht" | "eight" | "sekiz" | "восемь" | "вісім" | "osiem" | "osmiu" | "ثمانيه"
        | "ثماني" | "ثمان" | "تمانيه" => 8,
        "neun" | "nine" | "dokuz" | "девять" | "дев'ять" | "dziewiec" | "تسعه" => 9,
        "zehn" | "ten" | "десять" | "dziesiec" | "عشره" => 10,
        "elf" | "eleven" => 11,
        "zwoelf" | "twelve" => 12,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_unifies_what_people_type_at_will() {
        assert_eq!(fold("Fünf Töchter"), "fuenf toechter");
        assert_eq!(fold("koleżanką"), "kolezanka");
        assert_eq!(fold("Çocuğumla İKİ"), "cocugumla iki");
        assert_eq!(fold("втроём"), "втроем");
        assert_eq!(fold("п’ятеро"), "п'ятеро");
        assert_eq!(fold("أنا وزوجتي"), "انا وزوجتي");
        assert_eq!(fold("٣ أشخاص"), "3 اشخاص");
        assert_eq!(fold("خمسة"), "خمسه");
    }

    #[test]
    fn number_words_of_the_seven_languages() {
        for (w, n) in [
            ("drei", 3),
            ("three", 3),
            ("üç", 3),
            ("трое", 3),
            ("троє", 3),
            ("trójkę", 3),
            ("ثلاثة", 3),
            ("٣", 3),
            ("dört", 4),
            ("четверо", 4),
            ("п'ятеро", 5),
            ("pięć", 5),
            ("اتنين", 2),
            ("12", 12),
        ] {
            assert_eq!(number_word(&fold(w)), Some(n), "{w}");
        }
        // One to ten in each language.
        let tens: [(&str, [&str; 10]); 7] = [
            (
                "de",
                [
                    "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
                    "zehn",
                ],
            ),
            (
                "en",
                [
                    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                ],
            ),
            (
                "tr",
                [
                    "bir", "iki", "üç", "dört", "beş", "altı", "yedi", "sekiz", "dokuz", "10",
                ],
            ),
            (
                "ru",
                [
                    "один",
                    "два",
                    "три",
                    "четыре",
                    "пять",
                    "шесть",
                    "семь",
                    "восемь",
                    "девять",
                    "десять",
                ],
            ),
            (
                "uk",
                [
                    "один",
                    "два",
                    "три",
                    "чотири",
                    "п’ять",
                    "шість",
                    "сім",
                    "вісім",
                    "дев'ять",
                    "10",
                ],
            ),
            (
                "pl",
                [
                    "jeden",
                    "dwa",
                    "trzy",
                    "cztery",
                    "pięć",
                    "sześć",
                    "siedem",
                    "osiem",
                    "dziewięć",
                    "dziesięć",
                ],
            ),
            (
                "ar",
                [
                    "واحد",
                    "اثنين",
                    "ثلاثة",
                    "أربعة",
                    "خمسة",
                    "ستة",
                    "سبعة",
                    "ثمانية",
                    "تسعة",
                    "عشرة",
                ],
            ),
        ];
        for (lang, words) in tens {
            for (i, w) in words.iter().enumerate() {
                assert_eq!(number_word(&fold(w)), Some(i as u32 + 1), "{lang}: {w}");
            }
        }
        // Arabic-Indic digits.
        assert_eq!(number_word(&fold("١٠")), Some(10));
        assert_eq!(number_word("tisch"), None);
        assert_eq!(number_word("1000"), None);
    }
}
