//! iCalendar invitations (RFC 5545 objects, sent as iMIP `METHOD:REQUEST`, RFC 6047).
//!
//! The ORGANIZER is the token-carrying reply address, so a calendar client's "Accept" (an iMIP
//! `METHOD:REPLY` mail) comes back to the address that names the delivery.

use crate::domain::OccasionId;
use chrono::{DateTime, Utc};

/// One occasion, as sent to one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcsEvent {
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
}

/// The complete VCALENDAR with CRLF line ends and 75-octet folding.
pub fn invitation_ics(ev: &IcsEvent) -> String {
    let mut out = String::with_capacity(1024);
    let mut line = |s: &str| fold_line(s, &mut out);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line("PRODID:-//netzpost//netzpost//DE");
    line("CALSCALE:GREGORIAN");
    line("METHOD:REQUEST");
    line("BEGIN:VEVENT");
    line(&format!(
        "UID:occasion-{}@{}",
        ev.occasion_id,
        escape_text(&ev.uid_domain)
    ));
    line(&format!("SEQUENCE:{}", ev.sequence));
    line(&format!("DTSTAMP:{}", utc_stamp(ev.dtstamp)));
    line(&format!("DTSTART:{}", utc_stamp(ev.starts_at)));
    if let Some(end) = ev.ends_at {
        line(&format!("DTEND:{}", utc_stamp(end)));
    }
    line(&format!("SUMMARY:{}", escape_text(&ev.summary)));
    if let Some(loc) = ev.location.as_deref().filter(|l| !l.trim().is_empty()) {
        line(&format!("LOCATION:{}", escape_text(loc)));
    }
    if let Some(desc) = ev.description.as_deref().filter(|d| !d.trim().is_empty()) {
        line(&format!("DESCRIPTION:{}", escape_text(desc)));
    }
    line(&format!(
        "ORGANIZER{}:mailto:{}",
        cn_param(ev.organizer_name.as_deref()),
        uri_safe(&ev.organizer_addr)
    ));
    line(&format!(
        "ATTENDEE{};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{}",
        cn_param(ev.attendee_name.as_deref()),
        uri_safe(&ev.attendee_addr)
    ));
    line("STATUS:CONFIRMED");
    line("TRANSP:OPAQUE");
    line("END:VEVENT");
    line("END:VCALENDAR");
    out
}

fn utc_stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
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
}
