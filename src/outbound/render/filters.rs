//! The template filters: dates and times as people write them in each language, in the
//! configured zone, and `paragraphs`.

use super::html::paragraphs_html;
use super::normalize_lang;
use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use minijinja::value::Value;
use minijinja::{Environment, ErrorKind, State};

/// Weekdays (Monday first) and months (in the form a date takes: genitive in uk, ru, pl).
struct Calendar {
    weekdays: [&'static str; 7],
    months: [&'static str; 12],
}

const DE: Calendar = Calendar {
    weekdays: [
        "Montag",
        "Dienstag",
        "Mittwoch",
        "Donnerstag",
        "Freitag",
        "Samstag",
        "Sonntag",
    ],
    months: [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
};
const EN: Calendar = Calendar {
    weekdays: [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
};
const TR: Calendar = Calendar {
    weekdays: [
        "Pazartesi",
        "Salı",
        "Çarşamba",
        "Perşembe",
        "Cuma",
        "Cumartesi",
        "Pazar",
    ],
    months: [
        "Ocak", "Şubat", "Mart", "Nisan", "Mayıs", "Haziran", "Temmuz", "Ağustos", "Eylül", "Ekim",
        "Kasım", "Aralık",
    ],
};
const AR: Calendar = Calendar {
    weekdays: [
        "الاثنين",
        "الثلاثاء",
        "الأربعاء",
        "الخميس",
        "الجمعة",
        "السبت",
        "الأحد",
    ],
    months: [
        "يناير",
        "فبراير",
        "مارس",
        "أبريل",
        "مايو",
        "يونيو",
        "يوليو",
        "أغسطس",
        "سبتمبر",
        "أكتوبر",
        "نوفمبر",
        "ديسمبر",
    ],
};
const UK: Calendar = Calendar {
    weekdays: [
        "понеділок",
        "вівторок",
        "середа",
        "четвер",
        "пʼятниця",
        "субота",
        "неділя",
    ],
    months: [
        "січня",
        "лютого",
        "березня",
        "квітня",
        "травня",
        "червня",
        "липня",
        "серпня",
        "вересня",
        "жовтня",
        "листопада",
        "грудня",
    ],
};
const RU: Calendar = Calendar {
    weekdays: [
        "понедельник",
        "вторник",
        "среда",
        "четверг",
        "пятница",
        "суббота",
        "воскресенье",
    ],
    months: [
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ],
};
const PL: Calendar = Calendar {
    weekdays: [
        "poniedziałek",
        "wtorek",
        "środa",
        "czwartek",
        "piątek",
        "sobota",
        "niedziela",
    ],
    months: [
        "stycznia",
        "lutego",
        "marca",
        "kwietnia",
        "maja",
        "czerwca",
        "lipca",
        "sierpnia",
        "września",
        "października",
        "listopada",
        "grudnia",
    ],
};

#[derive(Clone, Copy)]
enum DatePart {
    Date,
    Time,
    Both,
}

/// The separator between date and time (Arabic has its own comma).
fn date_sep(lang: &str) -> &'static str {
    if lang == "ar" {
        "، "
    } else {
        ", "
    }
}

/// A start and an optional end as people write them in `lang`, in zone `tz`: the day once when
/// both fall on it (the `timespan` filter; the web pages use it too).
pub fn timespan(start: DateTime<Utc>, end: Option<DateTime<Utc>>, tz: Tz, lang: &str) -> String {
    let lang = normalize_lang(lang);
    let s = start.with_timezone(&tz);
    let Some(e) = end.map(|e| e.with_timezone(&tz)) else {
        return format_local(s, &lang, DatePart::Both);
    };
    if e.date_naive() != s.date_naive() {
        format!(
            "{} – {}",
            format_local(s, &lang, DatePart::Both),
            format_local(e, &lang, DatePart::Both)
        )
    } else if lang == "de" {
        // "18:30 – 20:30 Uhr" rather than "18:30 Uhr – 20:30 Uhr".
        format!(
            "{}, {:02}:{:02} – {}",
            format_local(s, &lang, DatePart::Date),
            s.hour(),
            s.minute(),
            format_local(e, &lang, DatePart::Time)
        )
    } else {
        format!(
            "{}{}{} – {}",
            format_local(s, &lang, DatePart::Date),
            date_sep(&lang),
            format_local(s, &lang, DatePart::Time),
            format_local(e, &lang, DatePart::Time)
        )
    }
}

/// Dates as people write them in `lang`; English for a language without a calendar here.
fn format_local(t: DateTime<Tz>, lang: &str, part: DatePart) -> String {
    let wd = t.weekday().num_days_from_monday() as usize;
    let mon = t.month0() as usize;
    let (d, y) = (t.day(), t.year());
    let h24 = format!("{:02}:{:02}", t.hour(), t.minute());
    let (date, time) = match lang {
        "de" => (
            format!("{}, {d}. {} {y}", DE.weekdays[wd], DE.months[mon]),
            format!("{h24} Uhr"),
        ),
        "tr" => (
            format!("{d} {} {y} {}", TR.months[mon], TR.weekdays[wd]),
            h24,
        ),
        "ar" => (
            format!("{}، {d} {} {y}", AR.weekdays[wd], AR.months[mon]),
            h24,
        ),
        "uk" => (
            format!("{}, {d} {} {y}", UK.weekdays[wd], UK.months[mon]),
            h24,
        ),
        "ru" => (
            format!("{}, {d} {} {y}", RU.weekdays[wd], RU.months[mon]),
            h24,
        ),
        "pl" => (
            format!("{}, {d} {} {y}", PL.weekdays[wd], PL.months[mon]),
            h24,
        ),
        _ => {
            let (pm, h12) = t.hour12();
            (
                format!("{}, {d} {} {y}", EN.weekdays[wd], EN.months[mon]),
                format!("{}:{:02} {}", h12, t.minute(), if pm { "pm" } else { "am" }),
            )
        }
    };
    match part {
        DatePart::Date => date,
        DatePart::Time => time,
        DatePart::Both => format!("{date}{}{time}", date_sep(lang)),
    }
}

fn parse_instant(v: &Value) -> Result<DateTime<Utc>, minijinja::Error> {
    if let Some(s) = v.as_str() {
        return DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| {
                minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!("'{s}' is not an RFC 3339 date-time: {e}"),
                )
            });
    }
    if let Ok(secs) = i64::try_from(v.clone()) {
        if let Some(t) = DateTime::from_timestamp(secs, 0) {
            return Ok(t);
        }
    }
    Err(minijinja::Error::new(
        ErrorKind::InvalidOperation,
        format!("cannot format {v} as a date (want an RFC 3339 string or unix seconds)"),
    ))
}

pub(super) fn register_filters(env: &mut Environment<'static>, tz: Tz) {
    register_date_filters(env, tz);
    env.add_filter("paragraphs", |text: String| {
        Value::from_safe_string(paragraphs_html(&text))
    });
}

/// `date`, `time`, `datetime` and `timespan`: instants in zone `tz`, written as people write
/// them in the template's `lang` (or the language given as the filter's argument).
pub fn register_date_filters(env: &mut Environment<'static>, tz: Tz) {
    for (name, part) in [
        ("date", DatePart::Date),
        ("time", DatePart::Time),
        ("datetime", DatePart::Both),
    ] {
        env.add_filter(
            name,
            move |state: &State,
                  v: Value,
                  lang: Option<String>|
                  -> Result<String, minijinja::Error> {
                let t = parse_instant(&v)?.with_timezone(&tz);
                let lang = lang
                    .or_else(|| {
                        state
                            .lookup("lang")
                            .and_then(|l| l.as_str().map(str::to_string))
                    })
                    .unwrap_or_default();
                Ok(format_local(t, &normalize_lang(&lang), part))
            },
        );
    }
    env.add_filter(
        "timespan",
        move |state: &State,
              start: Value,
              end: Option<Value>,
              lang: Option<String>|
              -> Result<String, minijinja::Error> {
            let lang = normalize_lang(&lang.unwrap_or_else(|| {
                state
                    .lookup("lang")
                    .and_then(|l| l.as_str().map(str::to_string))
                    .unwrap_or_default()
            }));
            let s = parse_instant(&start)?;
            let e = match end.filter(|e| !e.is_none() && !e.is_undefined()) {
                Some(e) => Some(parse_instant(&e)?),
                None => None,
            };
            Ok(timespan(s, e, tz, &lang))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::super::context::json_to_value;
    use super::super::Renderer;
    use serde_json::json;

    fn renderer() -> Renderer {
        Renderer::new(None).unwrap()
    }

    #[test]
    fn date_filters() {
        let r = renderer();
        let ctx = json!({ "t": "2026-10-25T01:30:00Z", "s": 1_777_777_777 });
        let render = |src: &str| {
            r.env
                .template_from_str(src)
                .unwrap()
                .render(json_to_value(&ctx))
                .unwrap()
        };
        // After the autumn switch: 01:30 UTC = 02:30 CET.
        assert_eq!(
            render("{{ t|datetime('de') }}"),
            "Sonntag, 25. Oktober 2026, 02:30 Uhr"
        );
        assert_eq!(render("{{ t|date('en') }}"), "Sunday, 25 October 2026");
        assert_eq!(render("{{ t|time('en') }}"), "2:30 am");
        assert_eq!(render("{{ s|date('de') }}"), "Sonntag, 3. Mai 2026");
        let r = renderer().with_timezone(chrono_tz::UTC);
        let out = r
            .env
            .template_from_str("{{ t|time('de') }}")
            .unwrap()
            .render(json_to_value(&ctx))
            .unwrap();
        assert_eq!(out, "01:30 Uhr");
    }
}
