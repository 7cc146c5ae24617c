//! Cron schedules as users write them (5-field crontab and `@daily` etc.), evaluated by the `cron`
//! crate in a time zone.
//!
//! The `cron` crate wants `sec min hour dom month dow [year]` and numbers weekdays 1 = Sunday ..
//! 7 = Saturday, so crontab syntax is parsed here (with errors that name the field) and handed to
//! it as explicit numeric lists.
//!
//! Semantics:
//! * Day of month and day of week: as in Vixie cron, when both fields are restricted (neither
//!   starts with `*`) a day matches if EITHER matches; otherwise both must match. The `cron` crate
//!   always ANDs, so an OR schedule is kept as two crate schedules whose slots are merged.
//! * Daylight saving, spring forward: a local time that does not exist (02:30 on 2026-03-29 in
//!   Europe/Berlin) is skipped, as the `cron` crate does: a daily 02:30 job does not run that day.
//! * Fall back: a local time that occurs twice fires once, at its first occurrence. The `cron`
//!   crate would yield both; the second one is filtered out here. (So an hourly job also skips the
//!   repeated hour: a wall-clock time never fires twice.)

use chrono::offset::LocalResult;
use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use std::fmt;
use std::str::FromStr;

/// Largest UTC-offset change at a transition we account for when walking backwards in local time.
const FOLD_MARGIN: Duration = Duration::hours(3);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("empty schedule")]
    Empty,
    #[error(
        "expected 5 fields (minute hour day-of-month month day-of-week) or @hourly/@daily/\
         @weekly/@monthly/@yearly, found {found} field(s)"
    )]
    FieldCount { found: usize },
    #[error("unknown schedule shortcut '{0}' (known: @hourly @daily @midnight @weekly @monthly @yearly @annually)")]
    UnknownShortcut(String),
    #[error("{field}: invalid value '{value}': {reason}")]
    Field {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("schedule '{0}' never fires (no such day in the given months)")]
    NeverFires(String),
    #[error("cron expression '{expr}' rejected: {message}")]
    Cron { expr: String, message: String },
}

/// A parsed, validated schedule.
#[derive(Debug, Clone)]
pub struct CronSpec {
    source: String,
    /// One schedule, or two whose union is the schedule (day-of-month OR day-of-week).
    parts: Vec<cron::Schedule>,
}

impl PartialEq for CronSpec {
    fn eq(&self, other: &Self) -> bool {
        self.parts.len() == other.parts.len()
            && self
                .parts
                .iter()
                .zip(&other.parts)
                .all(|(a, b)| a.timeunitspec_eq(b))
    }
}

impl fmt::Display for CronSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for CronSpec {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CronSpec::parse(s)
    }
}

struct FieldDef {
    name: &'static str,
    min: u8,
    max: u8,
    names: &'static [&'static str],
    /// Value of `names[0]`; names map to consecutive numbers.
    names_base: u8,
}

const MINUTE: FieldDef = FieldDef {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    names_base: 0,
};
const HOUR: FieldDef = FieldDef {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    names_base: 0,
};
const DOM: FieldDef = FieldDef {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
    names_base: 0,
};
const MONTH: FieldDef = FieldDef {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    names_base: 1,
};
const DOW: FieldDef = FieldDef {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    names_base: 0,
};

impl CronSpec {
    pub fn parse(input: &str) -> Result<CronSpec, ScheduleError> {
        let source = input.trim();
        if source.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let expanded = if let Some(name) = source.strip_prefix('@') {
            match name.to_ascii_lowercase().as_str() {
                "hourly" => "0 * * * *",
                "daily" | "midnight" => "0 0 * * *",
                "weekly" => "0 0 * * 0",
                "monthly" => "0 0 1 * *",
                "yearly" | "annually" => "0 0 1 1 *",
                _ => return Err(ScheduleError::UnknownShortcut(source.to_string())),
            }
        } else {
            source
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(ScheduleError::FieldCount {
                found: fields.len(),
            });
        }
        let minutes = parse_field(fields[0], &MINUTE)?;
        let hours = parse_field(fields[1], &HOUR)?;
        let dom = parse_field(fields[2], &DOM)?;
        let months = parse_field(fields[3], &MONTH)?;
        let mut dow = parse_field(fields[4], &DOW)?;
        // 7 is another name for Sunday.
        if dow & (1 << 7) != 0 {
            dow = (dow & !(1 << 7)) | 1;
        }

        let dom_star = fields[2].starts_with('*');
        let dow_star = fields[4].starts_with('*');
        let head = format!("0 {} {}", list(minutes, 0, 59), list(hours, 0, 23));
        let mon = list(months, 1, 12);
        let dom_s = list(dom, 1, 31);
        // cron crate: 1 = Sunday .. 7 = Saturday.
        let dow_s = list(dow << 1, 1, 7);
        let exprs = if dom_star || dow_star {
            if !can_happen(dom, months) {
                return Err(ScheduleError::NeverFires(source.to_string()));
            }
            vec![format!("{head} {dom_s} {mon} {dow_s}")]
        } else {
            // Either matches: two schedules; the day-of-month one may never fire on its own.
            let mut v = vec![format!("{head} * {mon} {dow_s}")];
            if can_happen(dom, months) {
                v.push(format!("{head} {dom_s} {mon} *"));
            }
            v
        };
        let parts = exprs
            .into_iter()
            .map(|e| {
                cron::Schedule::from_str(&e).map_err(|err| ScheduleError::Cron {
                    expr: e.clone(),
                    message: err.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CronSpec {
            source: source.to_string(),
            parts,
        })
    }

    /// The schedule as the user wrote it.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The first slot strictly after `after`, evaluated in `tz`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        self.parts
            .iter()
            .filter_map(|s| next_in(s, after, tz))
            .min()
    }

    /// The next `n` slots strictly after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, tz: Tz, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut cursor = after;
        while out.len() < n {
            match self.next_after(cursor, tz) {
                Some(t) => {
                    out.push(t);
                    cursor = t;
                }
                None => break,
            }
        }
        out
    }

    /// The slot to fire now, if any: the latest slot `s` with
    /// `max(last_fired, created_at) < s <= now`. Slots missed during downtime coalesce into this
    /// one firing; a slot at or before `last_fired` never fires again. The caller records the
    /// returned slot (not `now`) as the new `last_fired`.
    pub fn due(
        &self,
        last_fired: Option<DateTime<Utc>>,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
        tz: Tz,
    ) -> Option<DateTime<Utc>> {
        let lower = last_fired.map_or(created_at, |l| l.max(created_at));
        if now <= lower {
            return None;
        }
        self.parts
            .iter()
            .filter_map(|s| latest_in(s, lower, now, tz))
            .max()
    }
}

/// Only the first occurrence of a repeated local time (autumn fold) is a slot.
fn is_first_occurrence(c: &DateTime<Tz>, tz: Tz) -> bool {
    match tz.from_local_datetime(&c.naive_local()) {
        LocalResult::Ambiguous(earlier, _) => earlier == *c,
        _ => true,
    }
}

fn next_in(s: &cron::Schedule, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    // In the second pass of a fold the crate also yields the (earlier, already past) first
    // occurrence; both filters below drop what is not a new slot.
    s.after(&after.with_timezone(&tz))
        .find(|c| c.with_timezone(&Utc) > after && is_first_occurrence(c, tz))
        .map(|c| c.with_timezone(&Utc))
}

/// Latest slot in `(lower, now]`. Walks backwards in local time from a point safely past `now`
/// (local order and UTC order differ inside a fold) and stops once no earlier local time can
/// map to a later instant than the best found.
fn latest_in(
    s: &cron::Schedule,
    lower: DateTime<Utc>,
    now: DateTime<Utc>,
    tz: Tz,
) -> Option<DateTime<Utc>> {
    // Slots are whole seconds; the crate's backward search is strictly before a whole-second start.
    let probe = now.with_nanosecond(0).unwrap_or(now) + FOLD_MARGIN + Duration::seconds(1);
    let mut floor = lower;
    let mut best = None;
    for c in s.after(&probe.with_timezone(&tz)).rev() {
        let u = c.with_timezone(&Utc);
        if u + FOLD_MARGIN <= floor {
            break;
        }
        if u <= now && u > floor && is_first_occurrence(&c, tz) {
            best = Some(u);
            floor = u;
        }
    }
    best
}

/// Comma list of the set bits in `min..=max`, or `*` when all are set.
fn list(bits: u64, min: u8, max: u8) -> String {
    let all = (min..=max).all(|v| bits & (1 << v) != 0);
    if all {
        return "*".to_string();
    }
    (min..=max)
        .filter(|v| bits & (1 << v) != 0)
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether some chosen day of month exists in some chosen month (Feb counted with 29 days).
fn can_happen(dom: u64, months: u64) -> bool {
    const DAYS: [u8; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    (1..=12u8)
        .any(|m| months & (1 << m) != 0 && (1..=DAYS[m as usize - 1]).any(|d| dom & (1 << d) != 0))
}

fn parse_field(text: &str, def: &FieldDef) -> Result<u64, ScheduleError> {
    let err = |value: &str, reason: String| ScheduleError::Field {
        field: def.name,
        value: value.to_string(),
        reason,
    };
    let mut bits = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(err(text, "empty list element".into()));
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u8 = s
                    .parse()
                    .map_err(|_| err(item, format!("step '{s}' is not a number")))?;
                if step == 0 || step > def.max {
                    return Err(err(item, format!("step must be 1-{}", def.max)));
                }
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (def.min, def.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let lo = parse_value(a, def).map_err(|r| err(item, r))?;
            let hi = parse_value(b, def).map_err(|r| err(item, r))?;
            if lo > hi {
                return Err(err(item, format!("range {a}-{b} runs backwards")));
            }
            (lo, hi)
        } else {
            let v = parse_value(range, def).map_err(|r| err(item, r))?;
            // `5/15` means from 5 to the end in steps of 15.
            (v, if step > 1 { def.max } else { v })
        };
        for v in (lo..=hi).step_by(usize::from(step)) {
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

fn parse_value(s: &str, def: &FieldDef) -> Result<u8, String> {
    if s.is_empty() {
        return Err("missing number".into());
    }
    let v = if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<u8>()
            .map_err(|_| format!("{s} is out of range {}-{}", def.min, def.max))?
    } else {
        let lower = s.to_ascii_lowercase();
        match def.names.iter().position(|n| *n == lower) {
            Some(i) => def.names_base + i as u8,
            None if def.names.is_empty() => return Err(format!("'{s}' is not a number")),
            None => {
                return Err(format!(
                    "'{s}' is neither a number nor one of {}",
                    def.names.join(", ")
                ))
            }
        }
    };
    if v < def.min || v > def.max {
        return Err(format!("{v} is out of range {}-{}", def.min, def.max));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate, Weekday};
    use chrono_tz::Europe::Berlin;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Berlin
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn weekdays(spec: &str, n: usize) -> Vec<Weekday> {
        // 2026-01-03 is a Saturday.
        CronSpec::parse(spec)
            .unwrap()
            .upcoming(utc("2026-01-03T12:00:00Z"), Berlin, n)
            .iter()
            .map(|t| t.with_timezone(&Berlin).weekday())
            .collect()
    }

    #[test]
    fn one_to_five_is_monday_to_friday() {
        use Weekday::*;
        assert_eq!(
            weekdays("0 9 * * 1-5", 6),
            vec![Mon, Tue, Wed, Thu, Fri, Mon]
        );
        assert_eq!(
            weekdays("0 9 * * mon-fri", 6),
            vec![Mon, Tue, Wed, Thu, Fri, Mon]
        );
        assert_eq!(weekdays("0 9 * * MON,wed", 3), vec![Mon, Wed, Mon]);
        assert_eq!(weekdays("0 9 * * 6", 2), vec![Sat, Sat]);
        assert_eq!(weekdays("0 9 * * 5-7", 4), vec![Sun, Fri, Sat, Sun]);
    }

    #[test]
    fn zero_and_seven_are_sunday() {
        for spec in ["0 9 * * 0", "0 9 * * 7", "0 9 * * sun", "@weekly"] {
            assert!(
                weekdays(spec, 3).iter().all(|d| *d == Weekday::Sun),
                "{spec}"
            );
        }
        assert_eq!(
            CronSpec::parse("0 9 * * 0").unwrap(),
            CronSpec::parse("0 9 * * 7").unwrap()
        );
    }

    #[test]
    fn local_time_of_day_in_zone() {
        let s = CronSpec::parse("30 9 * * *").unwrap();
        // Winter: UTC+1, summer: UTC+2.
        assert_eq!(
            s.next_after(utc("2026-01-10T00:00:00Z"), Berlin),
            Some(utc("2026-01-10T08:30:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2026-07-10T00:00:00Z"), Berlin),
            Some(utc("2026-07-10T07:30:00Z"))
        );
        // Strictly after.
        assert_eq!(
            s.next_after(utc("2026-07-10T07:30:00Z"), Berlin),
            Some(utc("2026-07-11T07:30:00Z"))
        );
    }

    #[test]
    fn shortcuts() {
        let daily = CronSpec::parse("@daily").unwrap();
        assert_eq!(daily, CronSpec::parse("0 0 * * *").unwrap());
        assert_eq!(daily, CronSpec::parse("@midnight").unwrap());
        assert_eq!(
            daily.upcoming(utc("2026-03-27T12:00:00Z"), Berlin, 3),
            vec![
                utc("2026-03-27T23:00:00Z"),
                utc("2026-03-28T23:00:00Z"),
                utc("2026-03-29T22:00:00Z"),
            ]
        );
        let at = utc("2026-05-05T10:00:00Z");
        let first = |s: &str| CronSpec::parse(s).unwrap().next_after(at, Berlin).unwrap();
        assert_eq!(first("@hourly"), utc("2026-05-05T11:00:00Z"));
        assert_eq!(first("@monthly"), local(2026, 6, 1, 0, 0));
        assert_eq!(first("@yearly"), local(2027, 1, 1, 0, 0));
        assert_eq!(first("@annually"), local(2027, 1, 1, 0, 0));
        assert_eq!(
            first("@WEEKLY").with_timezone(&Berlin).weekday(),
            Weekday::Sun
        );
    }

    #[test]
    fn ranges_lists_steps_and_names() {
        let s = CronSpec::parse("*/20 8-10/2 * jan-feb,DEC *").unwrap();
        let times: Vec<_> = s
            .upcoming(utc("2026-11-15T00:00:00Z"), Berlin, 7)
            .into_iter()
            .map(|t| t.with_timezone(&Berlin).format("%m-%d %H:%M").to_string())
            .collect();
        assert_eq!(
            times,
            [
                "12-01 08:00",
                "12-01 08:20",
                "12-01 08:40",
                "12-01 10:00",
                "12-01 10:20",
                "12-01 10:40",
                "12-02 08:00"
            ]
        );
        let s = CronSpec::parse("5/30 0 1 1 *").unwrap();
        let t = s.upcoming(utc("2026-06-01T00:00:00Z"), Berlin, 2);
        assert_eq!(t, vec![local(2027, 1, 1, 0, 5), local(2027, 1, 1, 0, 35)]);
    }

    #[test]
    fn day_of_month_or_day_of_week_when_both_restricted() {
        // Vixie cron: the 13th OR any Friday.
        let s = CronSpec::parse("0 12 13 * 5").unwrap();
        let days: Vec<_> = s
            .upcoming(utc("2026-02-01T00:00:00Z"), Berlin, 6)
            .into_iter()
            .map(|t| t.with_timezone(&Berlin).date_naive())
            .collect();
        let d = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        assert_eq!(
            days,
            vec![d(2, 6), d(2, 13), d(2, 20), d(2, 27), d(3, 6), d(3, 13)]
        );
        // A star-led field keeps AND semantics: odd days that are Mondays.
        let s = CronSpec::parse("0 12 */2 * 1").unwrap();
        for t in s.upcoming(utc("2026-02-01T00:00:00Z"), Berlin, 5) {
            let l = t.with_timezone(&Berlin);
            assert_eq!(l.weekday(), Weekday::Mon);
            assert_eq!(l.day() % 2, 1);
        }
    }

    #[test]
    fn errors_name_field_and_value() {
        let cases = [
            ("0 9 * * 8", "day of week", "8"),
            ("60 * * * *", "minute", "60"),
            ("0 24 * * *", "hour", "24"),
            ("0 0 0 * *", "day of month", "0"),
            ("0 0 * 13 *", "month", "13"),
            ("0 0 * foo *", "month", "foo"),
            ("0 0 * * fri-mon", "day of week", "fri-mon"),
            ("*/0 * * * *", "minute", "*/0"),
            ("1,,2 * * * *", "minute", "1,,2"),
            ("x * * * *", "minute", "x"),
            ("0 0 * * 1-", "day of week", "1-"),
            ("0 999 * * *", "hour", "999"),
        ];
        for (spec, field, value) in cases {
            match CronSpec::parse(spec) {
                Err(ScheduleError::Field {
                    field: f, value: v, ..
                }) => {
                    assert_eq!((f, v.as_str()), (field, value), "{spec}");
                }
                other => panic!("{spec}: {other:?}"),
            }
            let msg = CronSpec::parse(spec).unwrap_err().to_string();
            assert!(msg.contains(field) && msg.contains(value), "{msg}");
        }
        assert_eq!(
            CronSpec::parse("0 0 * *"),
            Err(ScheduleError::FieldCount { found: 4 })
        );
        assert_eq!(
            CronSpec::parse("0 0 0 * * *"),
            Err(ScheduleError::FieldCount { found: 6 })
        );
        assert!(matches!(
            CronSpec::parse("@reboot"),
            Err(ScheduleError::UnknownShortcut(_))
        ));
        assert_eq!(CronSpec::parse("  "), Err(ScheduleError::Empty));
        assert!(matches!(
            CronSpec::parse("0 0 31 2 *"),
            Err(ScheduleError::NeverFires(_))
        ));
        // Feb 29 exists in leap years.
        let leap = CronSpec::parse("0 0 29 2 *").unwrap();
        assert_eq!(
            leap.next_after(utc("2026-01-01T00:00:00Z"), Berlin),
            Some(local(2028, 2, 29, 0, 0))
        );
    }

    #[test]
    fn spring_forward_missing_time_is_skipped() {
        // 2026-03-29 02:00 -> 03:00 in Berlin: 02:30 does not exist that day.
        let s = CronSpec::parse("30 2 * * *").unwrap();
        assert_eq!(
            s.upcoming(utc("2026-03-27T12:00:00Z"), Berlin, 3),
            vec![
                local(2026, 3, 28, 2, 30),
                local(2026, 3, 30, 2, 30),
                local(2026, 3, 31, 2, 30),
            ]
        );
        // `due` agrees: at 03:10 local on the 29th nothing new is due.
        let fired = local(2026, 3, 28, 2, 30);
        assert_eq!(
            s.due(Some(fired), fired, local(2026, 3, 29, 3, 10), Berlin),
            None
        );
        assert_eq!(
            s.due(Some(fired), fired, local(2026, 3, 30, 2, 30), Berlin),
            Some(local(2026, 3, 30, 2, 30))
        );
    }

    #[test]
    fn fall_back_repeated_time_fires_once() {
        // 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens at 00:30 and 01:30 UTC.
        let s = CronSpec::parse("30 2 * * *").unwrap();
        assert_eq!(
            s.upcoming(utc("2026-10-24T12:00:00Z"), Berlin, 2),
            vec![utc("2026-10-25T00:30:00Z"), utc("2026-10-26T01:30:00Z")]
        );
        // From inside the repeated hour, the second 02:30 is not offered.
        for after in ["2026-10-25T00:45:00Z", "2026-10-25T01:15:00Z"] {
            assert_eq!(
                s.next_after(utc(after), Berlin),
                Some(utc("2026-10-26T01:30:00Z")),
                "{after}"
            );
        }
        // Ticking through the night with `due` fires exactly once on the 25th.
        let created = utc("2026-10-24T12:00:00Z");
        let mut last = None;
        let mut fired = vec![];
        let mut now = created;
        while now < utc("2026-10-25T06:00:00Z") {
            now += Duration::minutes(1);
            if let Some(slot) = s.due(last, created, now, Berlin) {
                fired.push(slot);
                last = Some(slot);
            }
        }
        assert_eq!(fired, vec![utc("2026-10-25T00:30:00Z")]);
    }

    #[test]
    fn downtime_coalesces_into_the_latest_slot() {
        let s = CronSpec::parse("0 * * * *").unwrap();
        let created = utc("2026-05-01T00:00:00Z");
        let last = Some(utc("2026-05-01T10:00:00Z"));
        // Down from 10:30 to 15:20: one firing, for the 15:00 slot.
        assert_eq!(
            s.due(last, created, utc("2026-05-01T15:20:00Z"), Berlin),
            Some(utc("2026-05-01T15:00:00Z"))
        );
        // Exactly on a slot counts.
        assert_eq!(
            s.due(last, created, utc("2026-05-01T11:00:00Z"), Berlin),
            Some(utc("2026-05-01T11:00:00Z"))
        );
        // Nothing new yet.
        assert_eq!(
            s.due(last, created, utc("2026-05-01T10:59:59Z"), Berlin),
            None
        );
        // A schedule created after the last slot waits for the next one.
        assert_eq!(
            s.due(
                None,
                utc("2026-05-01T10:00:00Z"),
                utc("2026-05-01T10:30:00Z"),
                Berlin
            ),
            None
        );
        // Never fired since creation long ago: only the latest slot.
        let weekly = CronSpec::parse("0 9 * * mon").unwrap();
        assert_eq!(
            weekly.due(
                None,
                utc("2020-01-01T00:00:00Z"),
                utc("2026-05-06T12:00:00Z"),
                Berlin
            ),
            Some(local(2026, 5, 4, 9, 0))
        );
        // last_fired before created_at: created_at wins.
        assert_eq!(
            s.due(
                Some(utc("2026-01-01T00:00:00Z")),
                utc("2026-05-01T10:00:00Z"),
                utc("2026-05-01T10:30:00Z"),
                Berlin
            ),
            None
        );
    }

    #[test]
    fn due_never_returns_a_slot_twice_and_matches_upcoming() {
        // Tick every 5 minutes across both 2026 transitions; every firing is a distinct slot
        // and the firings are exactly the slots `upcoming` lists.
        for spec in ["0 * * * *", "30 2 * * *", "*/20 1-3 * * *", "0 0 13 * 5"] {
            let s = CronSpec::parse(spec).unwrap();
            for (from, to) in [
                ("2026-03-28T00:00:00Z", "2026-03-30T12:00:00Z"),
                ("2026-10-24T00:00:00Z", "2026-10-26T12:00:00Z"),
            ] {
                let (from, to) = (utc(from), utc(to));
                let mut last = None;
                let mut fired = vec![];
                let mut now = from;
                while now < to {
                    now += Duration::minutes(5);
                    if let Some(slot) = s.due(last, from, now, Berlin) {
                        assert!(slot <= now && last.is_none_or(|l| slot > l));
                        // Asking again at the same instant gives nothing.
                        assert_eq!(s.due(Some(slot), from, now, Berlin), None);
                        fired.push(slot);
                        last = Some(slot);
                    }
                }
                let expected: Vec<_> = s
                    .upcoming(from, Berlin, 1000)
                    .into_iter()
                    .take_while(|t| *t <= now)
                    .collect();
                assert_eq!(fired, expected, "{spec}");
            }
        }
    }

    #[test]
    fn hourly_over_fall_back_has_no_duplicate_wall_time() {
        let s = CronSpec::parse("0 * * * *").unwrap();
        let t = s.upcoming(utc("2026-10-24T22:30:00Z"), Berlin, 4);
        assert_eq!(
            t,
            vec![
                utc("2026-10-24T23:00:00Z"), // 01:00 CEST
                utc("2026-10-25T00:00:00Z"), // 02:00 CEST
                utc("2026-10-25T02:00:00Z"), // 03:00 CET (02:00 CET is the repeat)
                utc("2026-10-25T03:00:00Z"),
            ]
        );
    }
}
