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

#[cfg(test)]
mod tests {
    use super::*;

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
