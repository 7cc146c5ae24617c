//! iCalendar invitations (RFC 5545 objects, sent as iMIP `METHOD:REQUEST` or `METHOD:CANCEL`,
//! RFC 5546 and RFC 6047).
//!
//! The ORGANIZER is the token-carrying reply address of the first invitation that reached the
//! contact, so a calendar client's "Accept" (an iMIP `METHOD:REPLY` mail) comes back to the
//! address that names the delivery, and an update or cancellation names the same ORGANIZER under
//! the same UID (RFC 5546 3.2.2, 3.2.5). Times are written in the configured zone (`TZID`) with
//! its `VTIMEZONE`, so a calendar shows the local time the organisers meant.

use crate::domain::OccasionId;
use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// What the calendar object asks of the attendee's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcsMethod {
    /// A new or changed event (`METHOD:REQUEST`).
    Request,
    /// The event is cancelled (`METHOD:CANCEL`, `STATUS:CANCELLED`).
    Cancel,
}

impl IcsMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            IcsMethod::Request => "REQUEST",
            IcsMethod::Cancel => "CANCEL",
        }
    }
}

/// One occasion, as sent to one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcsEvent {
    pub method: IcsMethod,
    pub occasion_id: OccasionId,
    /// Domain for the stable UID `occasion-<id>@<domain>`.
    pub uid_domain: String,
    /// Raise when the occasion changes, so clients update instead of duplicating.
    pub sequence: u32,
    /// When this iCalendar object was created (DTSTAMP).
    pub dtstamp: DateTime<Utc>,
    pub starts_at: DateTime<Utc>,
    /// Without an end, the event has no DTEND (zero duration per RFC 5545 3.6.1).
    pub ends_at: Option<DateTime<Utc>>,
    pub summary: String,
    pub location: Option<String>,
    pub description: Option<String>,
    pub organizer_name: Option<String>,
    /// The reply address (`antwort+<token>@...`).
    pub organizer_addr: String,
    pub attendee_name: Option<String>,
    pub attendee_addr: String,
    /// The RSVP page (URL property).
    pub url: Option<String>,
    /// The zone the times are written in; `None` writes UTC.
    pub tz: Option<Tz>,
}

/// The complete VCALENDAR with CRLF line ends and 75-octet folding.
pub fn invitation_ics(ev: &IcsEvent) -> String {
    let mut out = String::with_capacity(1024);
    let mut line = |s: &str| fold_line(s, &mut out);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line("PRODID:-//netzpost//netzpost//DE");
    line("CALSCALE:GREGORIAN");
    line(&format!("METHOD:{}", ev.method.as_str()));
    if let Some(tz) = ev.tz {
        let until = ev.ends_at.unwrap_or(ev.starts_at);
        for l in vtimezone(tz, ev.starts_at, until) {
            line(&l);
        }
    }
    vevent(ev, true, &mut line);
    line("END:VCALENDAR");
    out
}

/// A published calendar (`METHOD:PUBLISH`, RFC 5546 3.2.1) of many occasions, for a feed that a
/// website or a phone subscribes to: the events without ORGANIZER and ATTENDEE (no personal
/// data), a cancelled one as `STATUS:CANCELLED`. `name` becomes the calendar's display name.
pub fn published_ics(name: &str, events: &[IcsEvent], tz: Option<Tz>) -> String {
    let mut out = String::with_capacity(512 + events.len() * 512);
    let mut line = |s: &str| fold_line(s, &mut out);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line("PRODID:-//netzpost//netzpost//DE");
    line("CALSCALE:GREGORIAN");
    line("METHOD:PUBLISH");
    line(&format!("X-WR-CALNAME:{}", escape_text(name)));
    if let Some(tz) = tz {
        line(&format!("X-WR-TIMEZONE:{}", tz.name()));
        let from = events.iter().map(|e| e.starts_at).min();
        let until = events
            .iter()
            .map(|e| e.ends_at.unwrap_or(e.starts_at))
            .max();
        if let (Some(from), Some(until)) = (from, until) {
            for l in vtimezone(tz, from, until) {
                line(&l);
            }
        }
    }
    for ev in events {
        vevent(ev, false, &mut line);
    }
    line("END:VCALENDAR");
    out
}

/// One VEVENT; `personal` adds the ORGANIZER (the reply address) and the ATTENDEE of an iMIP
/// message.
fn vevent(ev: &IcsEvent, personal: bool, line: &mut impl FnMut(&str)) {
    line("BEGIN:VEVENT");
    line(&format!(
        "UID:occasion-{}@{}",
        ev.occasion_id,
        escape_text(&ev.uid_domain)
    ));
    line(&format!("SEQUENCE:{}", ev.sequence));
    line(&format!("DTSTAMP:{}", utc_stamp(ev.dtstamp)));
    line(&format!("DTSTART{}", zoned(ev.starts_at, ev.tz)));
    if let Some(end) = ev.ends_at {
        line(&format!("DTEND{}", zoned(end, ev.tz)));
    }
    line(&format!("SUMMARY:{}", escape_text(&ev.summary)));
    if let Some(loc) = ev.location.as_deref().filter(|l| !l.trim().is_empty()) {
        line(&format!("LOCATION:{}", escape_text(loc)));
    }
    if let Some(desc) = ev.description.as_deref().filter(|d| !d.trim().is_empty()) {
        line(&format!("DESCRIPTION:{}", escape_text(desc)));
    }
    if let Some(url) = ev.url.as_deref() {
        line(&format!("URL:{}", uri_safe(url)));
    }
    if personal {
        line(&format!(
            "ORGANIZER{}:mailto:{}",
            cn_param(ev.organizer_name.as_deref()),
            uri_safe(&ev.organizer_addr)
        ));
        let rsvp = match ev.method {
            IcsMethod::Request => ";PARTSTAT=NEEDS-ACTION;RSVP=TRUE",
            IcsMethod::Cancel => "",
        };
        line(&format!(
            "ATTENDEE{};ROLE=REQ-PARTICIPANT{rsvp}:mailto:{}",
            cn_param(ev.attendee_name.as_deref()),
            uri_safe(&ev.attendee_addr)
        ));
    }
    line(match ev.method {
        IcsMethod::Request => "STATUS:CONFIRMED",
        IcsMethod::Cancel => "STATUS:CANCELLED",
    });
    line("TRANSP:OPAQUE");
    line("END:VEVENT");
}

fn utc_stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// `;TZID=Zone:local` in zone `tz`, else `:UTC` with Z.
fn zoned(t: DateTime<Utc>, tz: Option<Tz>) -> String {
    match tz {
        Some(tz) => format!(
            ";TZID={}:{}",
            tz.name(),
            t.with_timezone(&tz).format("%Y%m%dT%H%M%S")
        ),
        None => format!(":{}", utc_stamp(t)),
    }
}

/// The offset of `tz` at `t`, in seconds east of UTC.
fn offset_at(tz: Tz, t: DateTime<Utc>) -> i32 {
    tz.offset_from_utc_datetime(&t.naive_utc())
        .fix()
        .local_minus_utc()
}

/// `+HHMM` / `-HHMM`.
fn offset_text(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let m = secs.abs() / 60;
    format!("{sign}{:02}{:02}", m / 60, m % 60)
}

/// The VTIMEZONE lines for `tz` covering `from`..=`until`: one observance for the offset in force
/// at `from`, and one for each change of offset up to `until` (found to the minute). Without a
/// rule (RRULE) the component describes exactly the span the event needs, which is all a calendar
/// uses it for; the zone name stays the IANA one, so clients that know it may use their own.
fn vtimezone(tz: Tz, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
    // The offset in force at `from` began at the last change before it (searched a year back).
    let mut changes: Vec<(DateTime<Utc>, i32, i32)> = Vec::new();
    let mut t = from - Duration::days(366);
    let end = until.max(from);
    let mut prev = offset_at(tz, t);
    while t < end {
        let next = (t + Duration::days(1)).min(end);
        let off = offset_at(tz, next);
        if off != prev {
            // Bisect to the minute of the change within (t, next].
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::minutes(1) {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, mid) == prev {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            changes.push((hi, prev, off));
            prev = off;
        }
        t = next;
    }
    // Keep the last change at or before `from` and every one after it.
    let first = changes.iter().rposition(|(at, _, _)| *at <= from);
    let kept: Vec<(NaiveDateTime, i32, i32)> = match first {
        Some(i) => changes[i..]
            .iter()
            .map(|(at, f, o)| (at.naive_utc() + Duration::seconds(i64::from(*f)), *f, *o))
            .collect(),
        // No change in the year before: one observance since 1970 with the offset at `from`.
        None => {
            let off = offset_at(tz, from);
            let mut v = vec![(
                chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .expect("a valid date"),
                off,
                off,
            )];
            v.extend(
                changes
                    .iter()
                    .map(|(at, f, o)| (at.naive_utc() + Duration::seconds(i64::from(*f)), *f, *o)),
            );
            v
        }
    };
    let standard = kept.iter().map(|k| k.2).min().unwrap_or(0);
    let mut lines = vec!["BEGIN:VTIMEZONE".to_string(), format!("TZID:{}", tz.name())];
    for (local_start, from_off, to_off) in kept {
        // The smaller offset of the span is standard time, a larger one daylight saving time.
        let part = if to_off > standard {
            "DAYLIGHT"
        } else {
            "STANDARD"
        };
        let abbrev = tz
            .offset_from_utc_datetime(
                &(local_start - Duration::seconds(i64::from(from_off)) + Duration::minutes(1)),
            )
            .to_string();
        lines.push(format!("BEGIN:{part}"));
        lines.push(format!("DTSTART:{}", local_start.format("%Y%m%dT%H%M%S")));
        lines.push(format!("TZOFFSETFROM:{}", offset_text(from_off)));
        lines.push(format!("TZOFFSETTO:{}", offset_text(to_off)));
        if !abbrev.is_empty()
            && abbrev
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-')
        {
            lines.push(format!("TZNAME:{abbrev}"));
        }
        lines.push(format!("END:{part}"));
    }
    lines.push("END:VTIMEZONE".to_string());
    lines
}

/// RFC 5545 3.3.11 TEXT escaping; any line break becomes `\n`, other controls are dropped.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `;CN="..."`; parameter values cannot contain DQUOTE or controls (RFC 5545 3.1), so those go.
fn cn_param(name: Option<&str>) -> String {
    match name {
        Some(n) => {
            let clean: String = n.chars().filter(|c| *c != '"' && !c.is_control()).collect();
            let clean = clean.trim();
            if clean.is_empty() {
                String::new()
            } else {
                format!(";CN=\"{clean}\"")
            }
        }
        None => String::new(),
    }
}

/// An address inside a `mailto:` value: no whitespace or controls may break the line.
fn uri_safe(addr: &str) -> String {
    addr.chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect()
}

/// Appends `line` folded at 75 octets (never inside a UTF-8 sequence), each physical line ending
/// in CRLF; continuation lines start with one space, which counts toward their 75.
fn fold_line(line: &str, out: &mut String) {
    let mut limit = 75;
    let mut used = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if used + len > limit {
            out.push_str("\r\n ");
            used = 0;
            limit = 74;
        }
        out.push(c);
        used += len;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> IcsEvent {
        IcsEvent {
            method: IcsMethod::Request,
            occasion_id: OccasionId(42),
            uid_domain: "netz.example.org".into(),
            sequence: 2,
            dtstamp: "2026-03-01T10:00:00Z".parse().unwrap(),
            starts_at: "2026-03-12T17:30:00Z".parse().unwrap(),
            ends_at: Some("2026-03-12T19:30:00Z".parse().unwrap()),
            summary: "Stadtteilrunde; Thema: Wohnen, Nachbarschaft".into(),
            location: Some("Bürgerhaus, Raum 2\nHinterhof".into()),
            description: Some("Bitte mitbringen: Ideen\\Fragen".into()),
            organizer_name: Some("Netzwerk \"Nord\"".into()),
            organizer_addr: "antwort+abc234@reply.example.org".into(),
            attendee_name: Some("Erika Mustermann".into()),
            attendee_addr: "erika@example.net".into(),
            url: None,
            tz: None,
        }
    }

    fn unfold(s: &str) -> String {
        s.replace("\r\n ", "")
    }

    #[test]
    fn structure_and_fields() {
        let ics = invitation_ics(&event());
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
        // Every line ends in CRLF: no bare LF or CR.
        assert_eq!(ics.matches('\n').count(), ics.matches("\r\n").count());
        assert_eq!(ics.matches('\r').count(), ics.matches("\r\n").count());
        let u = unfold(&ics);
        for want in [
            "METHOD:REQUEST\r\n",
            "UID:occasion-42@netz.example.org\r\n",
            "SEQUENCE:2\r\n",
            "DTSTAMP:20260301T100000Z\r\n",
            "DTSTART:20260312T173000Z\r\n",
            "DTEND:20260312T193000Z\r\n",
            "ORGANIZER;CN=\"Netzwerk Nord\":mailto:antwort+abc234@reply.example.org\r\n",
            "ATTENDEE;CN=\"Erika Mustermann\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;\
             RSVP=TRUE:mailto:erika@example.net\r\n",
        ] {
            assert!(u.contains(want), "missing {want:?} in\n{u}");
        }
    }

    #[test]
    fn text_escaping() {
        let u = unfold(&invitation_ics(&event()));
        assert!(u.contains("SUMMARY:Stadtteilrunde\\; Thema: Wohnen\\, Nachbarschaft\r\n"));
        assert!(u.contains("LOCATION:Bürgerhaus\\, Raum 2\\nHinterhof\r\n"));
        assert!(u.contains("DESCRIPTION:Bitte mitbringen: Ideen\\\\Fragen\r\n"));
        assert_eq!(escape_text("a\r\nb\rc\td\u{7}"), "a\\nb\\nc d");
    }

    #[test]
    fn folding_is_75_octets_and_utf8_safe() {
        let mut ev = event();
        ev.description = Some("Grüße aus dem Stadtteil ".repeat(20) + "€€€€€€€€€€€€€€€€€€€€€€€€€€");
        let ics = invitation_ics(&ev);
        for physical in ics.split("\r\n") {
            assert!(
                physical.len() <= 75,
                "{} octets: {physical:?}",
                physical.len()
            );
        }
        // Folding loses nothing and splits no character (the String is valid UTF-8 by type;
        // the round trip proves no byte went missing).
        let u = unfold(&ics);
        assert!(u.contains(&format!(
            "DESCRIPTION:{}",
            escape_text(ev.description.as_deref().unwrap())
        )));
        // A line of exactly 75 octets is not folded; 76 is.
        let mut out = String::new();
        fold_line(&"x".repeat(75), &mut out);
        assert_eq!(out, format!("{}\r\n", "x".repeat(75)));
        out.clear();
        fold_line(&"x".repeat(76), &mut out);
        assert_eq!(out, format!("{}\r\n x\r\n", "x".repeat(75)));
        // A 2-octet char that would straddle octet 75 moves to the next line.
        out.clear();
        fold_line(&format!("{}ü", "x".repeat(74)), &mut out);
        assert_eq!(out, format!("{}\r\n ü\r\n", "x".repeat(74)));
    }

    #[test]
    fn optional_parts_are_omitted() {
        let mut ev = event();
        ev.ends_at = None;
        ev.location = None;
        ev.description = Some("  ".into());
        ev.organizer_name = None;
        ev.attendee_name = Some("\"\"".into());
        let ics = invitation_ics(&ev);
        assert!(!ics.contains("DTEND"));
        assert!(!ics.contains("LOCATION"));
        assert!(!ics.contains("DESCRIPTION"));
        assert!(ics.contains("ORGANIZER:mailto:"));
        assert!(unfold(&ics).contains("ATTENDEE;ROLE="));
    }

    #[test]
    fn injected_line_breaks_stay_inside_values() {
        let mut ev = event();
        ev.summary = "x\r\nEND:VEVENT\r\nBEGIN:VEVENT".into();
        ev.attendee_addr = "a@b.org\r\nATTENDEE:mailto:evil@x".into();
        ev.organizer_name = Some("N\r\nX-EVIL:1".into());
        let ics = invitation_ics(&ev);
        assert_eq!(ics.matches("\r\nBEGIN:VEVENT\r\n").count(), 1);
        assert_eq!(ics.matches("\r\nEND:VEVENT\r\n").count(), 1);
        assert!(!ics.contains("\r\nATTENDEE:mailto:evil"));
        assert!(!ics.contains("\r\nX-EVIL"));
    }

    #[test]
    fn zoned_times_carry_their_vtimezone() {
        let mut ev = event();
        ev.tz = Some(chrono_tz::Europe::Berlin);
        ev.url = Some("https://netz.example.org/r/abc".into());
        let u = unfold(&invitation_ics(&ev));
        // 17:30 UTC in March before the change to summer time is 18:30 in Berlin.
        assert!(
            u.contains("DTSTART;TZID=Europe/Berlin:20260312T183000\r\n"),
            "{u}"
        );
        assert!(u.contains("DTEND;TZID=Europe/Berlin:20260312T203000\r\n"));
        assert!(u.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"));
        // The change to winter time on 26 October 2025 at 03:00 local (01:00 UTC).
        assert!(u.contains(
            "BEGIN:STANDARD\r\nDTSTART:20251026T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
        ), "{u}");
        assert!(u.contains("URL:https://netz.example.org/r/abc\r\n"));
        // An event across the change to summer time also names the daylight observance.
        ev.ends_at = Some("2026-03-30T10:00:00Z".parse().unwrap());
        let u = unfold(&invitation_ics(&ev));
        assert!(u.contains(
            "BEGIN:DAYLIGHT\r\nDTSTART:20260329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
        ), "{u}");
        // A zone without changes gets one standard observance.
        ev.tz = Some(chrono_tz::Asia::Tokyo);
        let u = unfold(&invitation_ics(&ev));
        assert!(u.contains("BEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0900\r\nTZOFFSETTO:+0900\r\n"), "{u}");
    }

    #[test]
    fn a_cancellation_says_so() {
        let mut ev = event();
        ev.method = IcsMethod::Cancel;
        let u = unfold(&invitation_ics(&ev));
        assert!(u.contains("METHOD:CANCEL\r\n"));
        assert!(u.contains("STATUS:CANCELLED\r\n"));
        assert!(!u.contains("RSVP=TRUE"));
        assert!(u.contains("UID:occasion-42@netz.example.org\r\n"));
    }
}
