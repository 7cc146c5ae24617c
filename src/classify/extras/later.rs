//! A wish not to be invited before a time: "gern ab März wieder" = March, "ab Frühjahr" =
//! March, "nächstes Jahr" = January of the next year, "nach den Feiertagen" in December =
//! January, "nach den Sommerferien" = `summer_holidays`.
//!
//! A time alone is no wish: "ab Januar bin ich in Elternzeit" is why someone declines, and
//! "wir bieten ab März einen Kurs an" is an offer. A time counts when its sentence also says
//! that the person wants to be asked again ("wieder", "einladen", "again", "invite", "снова",
//! "приглашайте", "tekrar", "davet edin", "znowu", "ابعتولي"). A refusal (or a reply with
//! nothing else to act on) may say it more softly ("gern", "happy", "с радостью", "chętnie",
//! "memnuniyetle"); an offer or a question needs the request itself ("meldet euch dann
//! nochmal"). An acceptance or an unsubscription carries no such wish, and a question about a
//! date ("Gibt es das Café im Januar wieder?") is none.
//!
//! Which time, when a text says several: the summer holidays, else the latest "from" (a
//! month, a season, a year, "next year"), else the end of an obstacle ("bis Ende Februar" =
//! March, "vor Mai wird das nichts" = May) when the refusal goes on to say "then again".

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use super::{fold, own_text};
use crate::classify::Intent;

/// The month a (folded) word names, in any of the seven languages and their cases:
/// "März", "marca", "березня", "Şubat'tan", "آذار".
fn month_of(word: &str) -> Option<u32> {
    // Turkish writes the case after an apostrophe ("Mart'tan") or right on the name.
    let w = word.split('\'').next().unwrap_or(word);
    for (i, names) in MONTHS.iter().enumerate() {
        if names.contains(&w) {
            return Some(i as u32 + 1);
        }
    }
    // Turkish seasons take their case right on: "ilkbahardan", "sonbaharda".
    for (season, m) in SEASONS {
        if w == season
            || (season.is_ascii()
                && w.strip_prefix(season).is_some_and(|r| {
                    ["dan", "da", "a", "ta", "tan"].contains(&r) && season.len() > 5
                }))
        {
            return Some(m);
        }
    }
    for (i, stems) in MONTH_STEMS.iter().enumerate() {
        for stem in *stems {
            if let Some(rest) = w.strip_prefix(stem) {
                if rest.chars().count() <= 4 && rest.chars().all(char::is_alphabetic) {
                    return Some(i as u32 + 1);
                }
            }
        }
    }
    None
}

/// Seasons as the month they start in: "ab Frühjahr" = March, "from the autumn" = September.
const SEASONS: [(&str, u32); 20] = [
    ("fruehling", 3),
    ("fruehjahr", 3),
    ("spring", 3),
    ("весны", 3),
    ("весни", 3),
    ("wiosny", 3),
    ("ilkbahar", 3),
    ("bahar", 3),
    ("الربيع", 3),
    ("sommer", 6),
    ("summer", 6),
    ("лета", 6),
    ("літа", 6),
    ("herbst", 9),
    ("autumn", 9),
    ("осени", 9),
    ("осені", 9),
    ("jesieni", 9),
    ("sonbahar", 9),
    ("الخريف", 9),
];

/// Whole (folded) words.
const MONTHS: [&[&str]; 12] = [
    &[
        "januar",
        "jaenner",
        "january",
        "jan",
        "ocak",
        "styczen",
        "stycznia",
        "styczniu",
        "январь",
        "января",
        "январе",
        "січень",
        "січня",
        "січні",
        "يناير",
        "جانفي",
        "كانون الثاني",
        "كانون التاني",
    ],
    &[
        "februar",
        "feber",
        "february",
        "feb",
        "subat",
        "luty",
        "lutego",
        "lutym",
        "فبراير",
        "فيفري",
        "شباط",
        "февраль",
        "февраля",
        "феврале",
        "лютий",
        "лютого",
        "лютому",
    ],
    &[
        "maerz",
        "marz",
        "march",
        "mart",
        "marzec",
        "marca",
        "marcu",
        "март",
        "марта",
        "марте",
        "березень",
        "березня",
        "березні",
        "مارس",
        "اذار",
    ],
    &[
        "april",
        "nisan",
        "kwiecien",
        "kwietnia",
        "kwietniu",
        "апрель",
        "апреля",
        "апреле",
        "квітень",
        "квітня",
        "квітні",
        "ابريل",
        "افريل",
        "نيسان",
    ],
    &[
        "mai",
        "may",
        "mayis",
        "maj",
        "maja",
        "maju",
        "май",
        "мая",
        "мае",
        "травень",
        "травня",
        "травні",
        "مايو",
        "ماي",
        "ايار",
    ],
    &[
        "juni",
        "june",
        "haziran",
        "czerwiec",
        "czerwca",
        "czerwcu",
        "июнь",
        "июня",
        "июне",
        "червень",
        "червня",
        "червні",
        "يونيو",
        "يونيه",
        "جوان",
        "حزيران",
    ],
    &[
        "juli",
        "july",
        "temmuz",
        "lipiec",
        "lipca",
        "lipcu",
        "июль",
        "июля",
        "июле",
        "липень",
        "липня",
        "липні",
        "يوليو",
        "يوليه",
        "جويليه",
        "تموز",
    ],
    &[
        "august",
        "agustos",
        "sierpien",
        "sierpnia",
        "sierpniu",
        "август",
        "августа",
        "августе",
        "серпень",
        "серпня",
        "серпні",
        "اغسطس",
        "اوت",
        "اب",
    ],
    &[
        "september",
        "sept",
        "eyluel",
        "eylul",
        "wrzesien",
        "wrzesnia",
        "wrzesniu",
        "сентябрь",
        "сентября",
        "сентябре",
        "вересень",
        "вересня",
        "вересні",
        "سبتمبر",
        "ايلول",
    ],
    &[
        "oktober",
        "october",
        "ekim",
        "pazdziernik",
        "pazdziernika",
        "pazdzierniku",
        "октябрь",
        "октября",
        "октябре",
        "жовтень",
        "жовтня",
        "жовтні",
        "اكتوبر",
        "تشرين الاول",
    ],
    &[
        "november",
        "kasim",
        "listopad",
        "listopada",
        "listopadzie",
        "ноябрь",
        "ноября",
        "ноябре",
        "листопада",
        "листопаді",
        "نوفمبر",
        "تشرين الثاني",
    ],
    &[
        "dezember",
        "december",
        "aralik",
        "grudzien",
        "grudnia",
        "grudniu",
        "декабрь",
        "декабря",
        "декабре",
        "грудень",
        "грудня",
        "грудні",
        "ديسمبر",
        "كانون الاول",
    ],
];

/// Turkish months with the case written on ("martta", "subattan"): the stem and at most four
/// letters.
const MONTH_STEMS: [&[&str]; 12] = [
    &["ocak", "ocag"],
    &["subat"],
    &["mart"],
    &["nisan"],
    &["mayis"],
    &["haziran"],
    &["temmuz"],
    &["agustos"],
    &["eylul", "eyluel"],
    &["ekim"],
    &["kasim"],
    &["aralik", "aralig"],
];

/// A month as two Arabic words ("كانون الثاني") or one word of any script.
const M: &str = r"(?P<m>كانون\s+(?:الثاني|التاني|الاول)|تشرين\s+(?:الاول|الثاني|التاني)|[\p{L}']+)";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// "ab März", "from April", "с мая", "Mart'tan itibaren", "من آذار": the month itself.
    From,
    /// "nach dem März", "after March", "после марта": the month after.
    After,
    /// "bis Ende Februar", "до конца января", "لآخر شباط": the month after.
    UntilEnd,
    /// "vor Mai wird das nichts", "до мая никак": the month itself.
    Before,
    /// "Şubat'ta ... davet edin": the month itself, only beside a request to be asked again.
    InMonth,
}

struct MonthPattern {
    re: Regex,
    kind: Kind,
    /// "erst ab März", "not until April": the words themselves say "not before".
    marked: bool,
}

fn month_pattern(re: &str, kind: Kind, marked: bool) -> MonthPattern {
    MonthPattern {
        re: Regex::new(&re.replace("{M}", M)).expect("not_before month regex"),
        kind,
        marked,
    }
}

/// Patterns over a folded sentence; `m` is checked by [`month_of`].
static MONTH_PATTERNS: LazyLock<Vec<MonthPattern>> = LazyLock::new(|| {
    use Kind::*;
    let b = r"(?:^|[^\p{L}'])";
    let part = r"(?:(?:anfang|mitte|beginning\s+of|the\s+beginning\s+of|the\s+middle\s+of|mid|начала|середины|початку|середини|poczatku|polowy)\s+)?";
    vec![
        month_pattern(
            &format!(
                r"{b}(?:erst\s+(?:ab|im|in|nach)|not\s+until|not\s+before|only\s+(?:from|in|after)|только\s+(?:с|со|в|после)|лише\s+(?:з|із|від|у|в|після)|тільки\s+(?:з|із|від|у|в|після)|dopiero\s+(?:od|w|po))\s+(?:dem\s+|the\s+)?{part}{{M}}"
            ),
            From,
            true,
        ),
        month_pattern(
            &format!(
                r"{b}(?:ab|from|starting(?:\s+in|\s+from)?|beginning\s+in|as\s+of|с|со|начиная\s+с|з|із|від|починаючи\s+з|od|من|ابتداء\s+من|ابتداءا\s+من|اعتبارا\s+من|بدءا\s+من)\s+(?:dem\s+|the\s+)?{part}{{M}}"
            ),
            From,
            false,
        ),
        // "im März wieder", "again in January", "in January again", "wieder im April".
        month_pattern(
            &format!(r"{b}(?:wieder|again|erneut)\s+(?:im|in|ab)\s+{{M}}"),
            From,
            false,
        ),
        month_pattern(
            &format!(r"{b}(?:im|in)\s+{{M}}\s+(?:wieder|again|erneut)"),
            From,
            false,
        ),
        // "من آذار ورايح", "أيار وطالع": onwards.
        month_pattern(
            r"(?:^|[^\p{L}])(?:من\s+)?{M}\s+(?:ورايح|وطالع|وانت\s+طالع)",
            From,
            false,
        ),
        month_pattern(&format!(r"{b}{{M}}\s+onwards\b"), From, false),
        // Turkish "Mart'ta ... yine davet ederseniz": in a month, with a request to be asked
        // again.
        month_pattern(
            r"(?:^|[^\p{L}'])(?P<m>[\p{L}]+)'(?:da|de|ta|te)(?:$|[^\p{L}])",
            InMonth,
            false,
        ),
        // Turkish: "Nisan'dan itibaren", "Mart'tan sonra", "Mart başından itibaren".
        month_pattern(
            r"(?:^|[^\p{L}'])(?P<m>[\p{L}]+)'?(?:dan|den|tan|ten|ayindan|ayından)?\s+(?:ayindan\s+|basindan\s+|ortasindan\s+)?(?:itibaren|sonra)",
            From,
            false,
        ),
        month_pattern(
            &format!(r"{b}(?:nach|after|после|після|po|بعد)\s+(?:dem\s+|the\s+)?{{M}}"),
            After,
            false,
        ),
        month_pattern(
            &format!(
                r"{b}(?:bis\s+(?:zum\s+)?ende|until\s+(?:the\s+)?end\s+of|till\s+(?:the\s+)?end\s+of|through|до\s+конца|до\s+кінця|do\s+konca|حتى\s+(?:اخر|نهايه)|لاخر|لنهايه|ل\s*اخر)\s+(?:des\s+)?{{M}}"
            ),
            UntilEnd,
            false,
        ),
        month_pattern(
            r"(?:^|[^\p{L}'])(?P<m>[\p{L}]+)'?\s+(?:sonuna|sonuna\s+kadar|sonuna\s+dek)",
            UntilEnd,
            false,
        ),
        month_pattern(
            &format!(r"{b}(?:vor|before|не\s+раньше|до|przed|قبل)\s+(?:dem\s+|the\s+)?{{M}}"),
            Before,
            false,
        ),
        month_pattern(
            r"(?:^|[^\p{L}'])(?P<m>[\p{L}]+)'?(?:dan|den|tan|ten)\s+(?:oence|once)",
            Before,
            false,
        ),
    ]
});

/// The summer holidays, "from" or "after" them, and "not before" them.
static SUMMER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        (nach|ab)\s+den\s+sommerferien|nach\s+der\s+sommerpause|
        after\s+the\s+summer(\s+(holidays|holiday|break|vacation))?|
        yaz\s+tatilinden\s+sonra|yazdan\s+sonra|
        после\s+(летних\s+каникул|летнего\s+отпуска|лета|sommerferien)|
        після\s+(літніх\s+канікул|літа|sommerferien)|
        po\s+wakacjach|po\s+lecie|
        بعد\s+(العطله\s+الصيفيه|عطله\s+الصيف|الصيف)|
        (vor\s+den|bis\s+zu\s+den)\s+sommerferien|before\s+the\s+summer\s+(holidays|break)",
    )
    .expect("summer regex")
});

/// "After the holidays": the Christmas holidays in a mail of the last months of the year
/// (January next), the summer holidays in one of the summer; else nobody knows which.
static HOLIDAYS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        nach\s+(den\s+)?(feiertagen|festtagen|ferien|weihnachtsferien|winterferien|weihnachten)|
        after\s+(the\s+)?(holidays|christmas|xmas|festive\s+season|winter\s+break)|
        после\s+(праздников|каникул|новогодних\s+праздников|рождества|зимних\s+каникул)|
        після\s+(свят|канікул|різдва|зимових\s+канікул)|
        po\s+(swietach|feriach|feriach\s+zimowych)|
        (tatil|tatiller|bayram|yilbasi)(den|dan|ndan|inden)\s+sonra|
        بعد\s+(الاعياد|العيد|العطل[ةه]|الاجاز[ةه]|الكريسماس)",
    )
    .expect("holidays regex")
});

/// January of the next year: "nächstes Jahr", "im neuen Jahr", "next year", "с нового года".
static NEXT_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        (naechste[sn]?|kommende[sn]?|neuen)\s+jahr|nach\s+(neujahr|dem\s+jahreswechsel)|
        next\s+year|(in|from)\s+the\s+new\s+year|after\s+(the\s+)?new\s+year|
        seneye|gelecek\s+(yil|sene)|yeni\s+yil(da|dan)|oenuemuezdeki\s+(yil|sene)|yilbasindan\s+sonra|
        (в\s+)?следующем\s+году|(в|с|со)\s+нового\s+года|новом\s+году|после\s+нового\s+года|будущем\s+году|
        наступного\s+року|нового\s+року|новому\s+році|наступному\s+році|
        (przyszlym|nowym)\s+roku|(od|po)\s+(nowego|przyszlego|nowym)\s+roku|
        (ال|لل)(سنه|عام)\s+(الجايه|الجاي|القادم|القادمه|المقبل|المقبله|الجديد|الجديده)|بعد\s+راس\s+السنه",
    )
    .expect("next year regex")
});

/// "until the end of the year": January of the next year, like "bis Ende Februar" = March.
static YEAR_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        bis\s+(zum\s+)?(jahresende|ende\s+des\s+jahres)|until\s+the\s+end\s+of\s+the\s+year|
        до\s+конца\s+года|до\s+кінця\s+року|do\s+konca\s+roku|yil\s+sonuna\s+kadar|
        (لاخر|لنهايه|حتى\s+نهايه|حتى\s+اخر)\s+(السنه|العام)",
    )
    .expect("year end regex")
});

/// "ab 2028", "from 2028".
static FROM_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\p{L}])(?:ab|from|od|с|з|من|starting)\s+(?:dem\s+jahr\s+)?(?P<y>20\d\d)\b")
        .expect("year regex")
});

/// Words asking to be invited again, or saying the person will come then. Enough for any
/// answer but an acceptance.
static ASK_AGAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)(?:^|[^\p{L}])(
        wieder|erneut|nochmal|nochmals|noch\s+mal|einladen|anfragen|meldet|melden\s+sie|
        again|invite\s+(me|us)|inviting|be\s+invited|get\s+in\s+touch|
        снова|опять|приглашайте|пригласите|приглашать|зовите|позовите|
        знову|запрошуйте|запросіть|запрошувати|кличте|покличте|
        tekrar|yine|davet\s+ed\p{L}*|cagirin|cagirirsaniz|cagirabilirsiniz|
        znowu|ponownie|zapraszac|zapraszajcie|zaproscie|
        من\s+جديد|\p{L}*بعتول\p{L}*|\p{L}*بعتيل\p{L}*|دزول\p{L}*|خبرون\p{L}*|احكون\p{L}*|
        \p{L}*كتبول\p{L}*|ادعون\p{L}*
        )(?:$|[^\p{L}])",
    )
    .expect("ask again regex")
});

/// Softer words that make a time in a refusal a wish: "gern", "happy", "с радостью",
/// "chętnie", "memnuniyetle", "وقتها", "more time". Not "dann", "then", "kommen": a refusal
/// says them about the obstacle too.
static THEN_GLADLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)(?:^|[^\p{L}])(
        gern|gerne|danach|rechnen|schreiben\s+sie|schreibt|fragen\s+sie|leichter|
        mehr\s+zeit|mehr\s+luft|
        happy|glad|love\s+to|easier|more\s+time|write\s+to\s+me|contact\s+me|ask\s+me|
        count\s+on\s+me|
        с\s+радостью|с\s+удовольствием|буду\s+рад\p{L}*|пишите|напишите|напиши|давайте|
        вернусь|возвращаюсь|легче|свободн\p{L}*|
        з\s+радістю|охоче|рада|радий|пишіть|напишіть|повертаю\p{L}*|повернусь|долуч\p{L}*|
        легше|більше\s+часу|
        chetnie|z\s+checia|latwiej|wiecej\s+czasu|pisac|piszcie|napiszcie|odezw\p{L}*|
        wracam|wroce|
        seve\s+seve|memnuniyetle|sevinirim|rahat\p{L}*|musait\p{L}*|haber\s+ver\p{L}*|
        yazin|yazarsaniz|doenueyorum|doenecegim|
        وقتها|مبسوط\p{L}*|بكل\s+سرور|برجع|افضى|فاضي\p{L}*|رجعو\p{L}*|ابعت\p{L}*|بعت\p{L}*
        )(?:$|[^\p{L}])",
    )
    .expect("then gladly regex")
});

/// Every time phrase in one pass over a sentence: most sentences name no time.
static ANY_TIME: LazyLock<RegexSet> = LazyLock::new(|| {
    let mut all: Vec<&str> = MONTH_PATTERNS.iter().map(|p| p.re.as_str()).collect();
    all.extend([
        SUMMER.as_str(),
        HOLIDAYS.as_str(),
        NEXT_YEAR.as_str(),
        YEAR_END.as_str(),
        FROM_YEAR.as_str(),
    ]);
    RegexSet::new(all).expect("time set")
});

/// A wish not to be invited before a time: "YYYY-MM" (relative to the mail's date) or
/// "summer_holidays" (resolved against the configured holiday calendar by the caller).
pub(crate) fn not_before_at(own: &str, date: (i32, u32), intent: Intent) -> Option<String> {
    let refusal = match intent {
        Intent::Accept | Intent::Unsubscribe => return None,
        Intent::Decline | Intent::None => true,
        Intent::Cooperation | Intent::Question => false,
    };
    let text = fold(&own_text(own));
    let sentences = sentences(&text);
    let wish = |i: usize| -> bool {
        let s = sentences[i];
        ASK_AGAIN.is_match(s) || (refusal && THEN_GLADLY.is_match(s))
    };
    // An obstacle's end may be followed by its "then" in the next sentence ("vor Mai wird das
    // nichts. Danach bin ich gern wieder dabei").
    let wish_after =
        |i: usize| -> bool { refusal && (wish(i) || (i + 1 < sentences.len() && wish(i + 1))) };
    let (year, month) = date;
    // A month named alone is the next one of that name (the mail's own month is next year's).
    let resolve = |m: u32| -> (i32, u32) {
        if m <= month {
            (year + 1, m)
        } else {
            (year, m)
        }
    };
    let next = |(y, m): (i32, u32)| if m == 12 { (y + 1, 1) } else { (y, m + 1) };

    let mut from: Option<(i32, u32)> = None;
    let mut until: Option<(i32, u32)> = None;
    let later = |slot: &mut Option<(i32, u32)>, d: (i32, u32)| {
        if slot.is_none_or(|s| d > s) {
            *slot = Some(d);
        }
    };
    for (i, s) in sentences.iter().enumerate() {
        if !ANY_TIME.is_match(s) {
            continue;
        }
        if SUMMER.is_match(s) && (wish(i) || wish_after(i)) {
            return Some("summer_holidays".into());
        }
        if HOLIDAYS.is_match(s) && wish(i) {
            match month {
                10..=12 => later(&mut from, (year + 1, 1)),
                5..=8 => return Some("summer_holidays".into()),
                _ => {}
            }
        }
        for p in MONTH_PATTERNS.iter() {
            for c in p.re.captures_iter(s) {
                let Some(m) = c.name("m").and_then(|w| month_of(w.as_str())) else {
                    continue;
                };
                let ok = match p.kind {
                    Kind::From | Kind::After => (p.marked && refusal) || wish(i),
                    Kind::UntilEnd | Kind::Before => wish_after(i),
                    Kind::InMonth => ASK_AGAIN.is_match(s),
                };
                if !ok {
                    continue;
                }
                match p.kind {
                    Kind::From | Kind::InMonth => later(&mut from, resolve(m)),
                    Kind::After => later(&mut from, next(resolve(m))),
                    Kind::UntilEnd => later(&mut until, next(resolve(m))),
                    Kind::Before => later(&mut until, resolve(m)),
                }
            }
        }
        if NEXT_YEAR.is_match(s) && wish(i) {
            later(&mut from, (year + 1, 1));
        }
        if let Some(y) = FROM_YEAR
            .captures(s)
            .and_then(|c| c["y"].parse::<i32>().ok())
            .filter(|y| *y > year)
        {
            if wish(i) {
                later(&mut from, (y, 1));
            }
        }
        if YEAR_END.is_match(s) && wish_after(i) {
            later(&mut until, (year + 1, 1));
        }
    }
    from.or(until).map(|(y, m)| format!("{y:04}-{m:02}"))
}

/// The sentences of a folded text that are no question: split at ".", "!", "?", ";" and line
/// ends, not at the dot of a date ("am 18. Dezember").
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev = ' ';
    for (i, c) in text.char_indices() {
        let end = match c {
            '!' | '?' | ';' | '\n' | '؟' | '؛' => true,
            '.' => !prev.is_ascii_digit(),
            _ => false,
        };
        if end {
            // A question asks about a date ("Gibt es das Café im Januar wieder?"); a wish is
            // said.
            let question = matches!(c, '?' | '؟');
            if text[start..i].trim().len() > 1 && !question {
                out.push(&text[start..i]);
            }
            start = i + c.len_utf8();
        }
        prev = c;
    }
    if text[start..].trim().len() > 1 {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests;
