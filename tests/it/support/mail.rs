//! Messages as the tests read them: parsed headers and parts, and netzpost's Message-IDs.

use super::workspace::SENDER_DOMAIN;
use std::path::{Path, PathBuf};

/// One message, parsed enough for the assertions.
#[derive(Debug, Clone)]
pub struct Mail {
    pub raw: Vec<u8>,
    pub file: Option<PathBuf>,
    pub envelope_from: Option<String>,
    pub envelope_to: Vec<String>,
    /// Unfolded header fields in order (name as written, value trimmed).
    pub headers: Vec<(String, String)>,
    pub text: Option<String>,
    pub html: Option<String>,
    /// `Content-Type` values of every part (lower-case), e.g. `text/calendar; method=request`.
    pub content_types: Vec<String>,
    /// Decoded text of the text/calendar part, if any.
    pub calendar: Option<String>,
}

impl Mail {
    pub fn parse(raw: Vec<u8>) -> Mail {
        use mail_parser::MimeHeaders;
        let msg = mail_parser::MessageParser::default()
            .parse(&raw[..])
            .unwrap_or_else(|| panic!("unparseable message:\n{}", String::from_utf8_lossy(&raw)));
        let text = msg.body_text(0).map(|t| t.into_owned());
        let html = msg.body_html(0).map(|t| t.into_owned());
        let mut content_types = Vec::new();
        let mut calendar = None;
        for part in &msg.parts {
            if let Some(ct) = part.content_type() {
                let mut s =
                    format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()).to_lowercase();
                if let Some(m) = ct.attribute("method") {
                    s.push_str(&format!("; method={}", m.to_lowercase()));
                }
                if s.starts_with("text/calendar") {
                    calendar = part
                        .text_contents()
                        .map(str::to_owned)
                        .or_else(|| Some(String::from_utf8_lossy(part.contents()).into_owned()));
                }
                content_types.push(s);
            }
        }
        let head_end = find(&raw, b"\r\n\r\n")
            .or_else(|| find(&raw, b"\n\n"))
            .unwrap_or(raw.len());
        let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split('\n') {
            let line = line.trim_end_matches('\r');
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                headers.push((k.to_string(), v.trim().to_string()));
            } else {
                headers.push((line.to_string(), String::new()));
            }
        }
        Mail {
            raw,
            file: None,
            envelope_from: None,
            envelope_to: Vec::new(),
            headers,
            text,
            html,
            content_types,
            calendar,
        }
    }

    /// Every value of header `name` (case-insensitive).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of header `name`; panics when missing or repeated.
    pub fn header(&self, name: &str) -> &str {
        let v = self.all(name);
        assert_eq!(
            v.len(),
            1,
            "header {name}: expected exactly one, got {v:?} in\n{}",
            self.head()
        );
        v[0]
    }

    pub fn head(&self) -> String {
        self.headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect()
    }

    pub fn message_id(&self) -> String {
        self.header("Message-ID").to_string()
    }

    /// Text (decoded) of the plain part, or panics.
    pub fn text(&self) -> &str {
        self.text
            .as_deref()
            .unwrap_or_else(|| panic!("no text/plain part:\n{}", self.head()))
    }
}

/// The decoded subject of `m`.
pub fn subject(m: &Mail) -> String {
    mail_parser::MessageParser::default()
        .parse(&m.raw[..])
        .and_then(|p| p.subject().map(str::to_string))
        .unwrap_or_default()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The address inside `<...>` (or the whole value).
pub fn angle_addr(v: &str) -> &str {
    match (v.rfind('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v.trim(),
    }
}

/// Parses a campaign Message-ID `<np.C.K.MAC@domain>` into (campaign id, contact id, domain).
/// The MAC is not checked here (see [`campaign_message_id`]).
pub fn parse_message_id(mid: &str) -> Option<(i64, i64, String)> {
    let inner = mid.strip_prefix("<np.")?.strip_suffix('>')?;
    let (ids, domain) = inner.split_once('@')?;
    let mut parts = ids.split('.');
    let (c, k, mac) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || mac.len() != 16 {
        return None;
    }
    Some((c.parse().ok()?, k.parse().ok()?, domain.to_string()))
}

/// The Message-ID netzpost gives the mail of `campaign` to `contact` in a workspace with
/// `secret` (deterministic, with a MAC only the secret can make).
pub fn campaign_message_id(secret: &str, campaign: i64, contact: i64) -> String {
    netzpost::token::TokenKey::new(secret.as_bytes()).message_id(campaign, contact, SENDER_DOMAIN)
}

/// A yes from Anna (no token, no thread) of about `filler` more bytes, with Message-ID
/// `<{id}@nachbarn.example>` (stored as dedup key `mid:{id}@nachbarn.example`).
pub fn reply_from_anna(id: &str, subject: &str, filler: usize) -> Vec<u8> {
    format!(
        "From: Anna <anna@nachbarn.example>\r\nTo: antwort@reply.nordstadt.example\r\n\
         Subject: {subject}\r\nMessage-ID: <{id}@nachbarn.example>\r\n\
         Date: Mon, 7 Dec 2026 10:00:00 +0100\r\n\r\nJa, ich komme gerne.\r\n\r\n{}\r\n",
        "Gruss aus der Nordstadt. ".repeat(filler / 25)
    )
    .into_bytes()
}

/// Writes a message into `maildir/new` the way an MTA does (into `tmp/`, then renamed), so a
/// reader never sees half a file.
pub fn deliver_to_maildir(maildir: &Path, name: &str, raw: impl AsRef<[u8]>) {
    let tmp = maildir.join("tmp").join(name);
    std::fs::write(&tmp, raw).unwrap();
    std::fs::rename(&tmp, maildir.join("new").join(name)).unwrap();
}
