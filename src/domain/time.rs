//! Times as people write them: a local time in the configured zone, or RFC 3339.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The local-time layouts accepted besides RFC 3339.
const LOCAL_FORMATS: [&str; 3] = ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d.%m.%Y %H:%M"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("cannot read the time {0:?}: use \"2026-12-12 15:00\" or RFC 3339")]
    Unreadable(String),
    /// The local time falls into the gap of a clock change (spring forward).
    #[error("{time:?} does not exist in {tz} (clock change)")]
    Skipped { time: String, tz: Tz },
}

/// "2026-12-12 15:00" (also "2026-12-12T15:00" or "12.12.2026 15:00") in `tz`, or RFC 3339 with
/// its own offset. A local time that occurs twice (fall back) is its first occurrence.
pub fn parse_local_time(s: &str, tz: Tz) -> Result<DateTime<Utc>, TimeError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in LOCAL_FORMATS {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, f) {
            return match tz.from_local_datetime(&naive) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Ok(t.with_timezone(&Utc)),
                LocalResult::None => Err(TimeError::Skipped {
                    time: s.to_string(),
                    tz,
                }),
            };
        }
    }
    Err(TimeError::Unreadable(s.to_string()))
}

/// A start with an optional end, as a candidate date of a poll is written: "2026-12-12 15:00",
/// "2026-12-12 15:00 - 17:00" (the end on the same day) or "2026-12-12 15:00 - 2026-12-13 11:00";
/// each time as for [`parse_local_time`].
pub fn parse_local_span(
    s: &str,
    tz: Tz,
) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), TimeError> {
    let Some((start, end)) = s.split_once(" - ") else {
        return Ok((parse_local_time(s.trim(), tz)?, None));
    };
    let (start, end) = (start.trim(), end.trim());
    let starts_at = parse_local_time(start, tz)?;
    let end_full = if end.len() <= 5 && end.contains(':') {
        // Only a time: the start's day.
        let day = start
            .split([' ', 'T'])
            .next()
            .ok_or_else(|| TimeError::Unreadable(s.to_string()))?;
        format!("{day} {end}")
    } else {
        end.to_string()
    };
    let ends_at = parse_local_time(&end_full, tz).map_err(|_| TimeError::Unreadable(s.into()))?;
    Ok((starts_at, Some(ends_at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_with_and_without_an_end() {
        let (s, e) = parse_local_span("2026-12-12 15:00 - 17:00", BERLIN).unwrap();
        assert_eq!(s, Utc.with_ymd_and_hms(2026, 12, 12, 14, 0, 0).unwrap());
        assert_eq!(
            e,
            Some(Utc.with_ymd_and_hms(2026, 12, 12, 16, 0, 0).unwrap())
        );
        let (_, e) = parse_local_span("12.12.2026 15:00 - 13.12.2026 11:00", BERLIN).unwrap();
        assert_eq!(
            e,
            Some(Utc.with_ymd_and_hms(2026, 12, 13, 10, 0, 0).unwrap())
        );
        assert_eq!(
            parse_local_span("2026-12-12 15:00", BERLIN).unwrap().1,
            None
        );
        assert!(parse_local_span("2026-12-12 15:00 - später", BERLIN).is_err());
    }

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    #[test]
    fn local_layouts_and_rfc3339() {
        let want = Utc.with_ymd_and_hms(2026, 12, 12, 14, 0, 0).unwrap();
        for s in [
            "2026-12-12 15:00",
            "2026-12-12T15:00",
            "12.12.2026 15:00",
            "2026-12-12T14:00:00Z",
        ] {
            assert_eq!(parse_local_time(s, BERLIN), Ok(want), "{s}");
        }
    }

    #[test]
    fn clock_changes() {
        assert_eq!(
            parse_local_time("2026-03-29 02:30", BERLIN)
                .unwrap_err()
                .to_string(),
            "\"2026-03-29 02:30\" does not exist in Europe/Berlin (clock change)"
        );
        // 02:30 on 2026-10-25 happens twice: the first one, still in summer time.
        assert_eq!(
            parse_local_time("2026-10-25 02:30", BERLIN),
            Ok(Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap())
        );
    }

    #[test]
    fn unreadable() {
        assert_eq!(
            parse_local_time("morgen", BERLIN).unwrap_err().to_string(),
            "cannot read the time \"morgen\": use \"2026-12-12 15:00\" or RFC 3339"
        );
    }
}
