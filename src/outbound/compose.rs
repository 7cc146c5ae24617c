//! Builds the RFC 5322 message for one delivery with lettre, optionally DKIM-signed.
//!
//! Every header value that comes from users or contacts (names, subject, list id) goes through
//! [`header_text`], which turns CR, LF and other controls into spaces, so no value can start a
//! header of its own. Values with a fixed syntax (URLs, Message-ID) are checked and refused.
//!
//! MIME layout: text only -> `text/plain`; with HTML -> `multipart/alternative` of text and
//! HTML; with a calendar object -> `multipart/mixed` of that alternative (text, HTML,
//! `text/calendar; method=REQUEST|CANCEL`, RFC 6047 2.4, the richest last) and the same object
//! as an `invite.ics` attachment (`application/ics`), as Google Calendar and Thunderbird send it:
//! clients that ignore the inline part still offer the file.

pub use crate::outbound::dkim::DkimSigner;
use chrono::{DateTime, Utc};
use lettre::address::{Address, Envelope};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use std::time::SystemTime;

/// One message ready to be composed. Addresses are plain `local@domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub from_name: String,
    pub from_addr: String,
    pub to_name: Option<String>,
    pub to_addr: String,
    /// `antwort+<token>@...`; shown with `reply_to_name`, else `from_name`.
    pub reply_to: String,
    /// The name shown with `reply_to` when it is not ours (a notice answered to the contact).
    pub reply_to_name: Option<String>,
    /// SMTP MAIL FROM (`bounce+<token>@...`); not a header.
    pub envelope_from: String,
    /// Deterministic per delivery; `<...>` is added when missing.
    pub message_id: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// One-click URL (RFC 8058). Only an `https:` URL gets `List-Unsubscribe-Post`.
    pub list_unsubscribe_url: Option<String>,
    /// An address or a `mailto:` URI.
    pub list_unsubscribe_mailto: Option<String>,
    /// e.g. `Nachbarschaft Nord <nachbarschaft.netz.example.org>`, or the bare id.
    pub list_id: Option<String>,
    /// iCalendar object (see [`crate::outbound::ics`]); its METHOD line names the method.
    pub ics: Option<String>,
    pub date: DateTime<Utc>,
    /// `Auto-Submitted` (RFC 3834): `auto-replied` for an answer to a message, `auto-generated`
    /// for a notice; `None` for campaign mail.
    pub auto_submitted: Option<&'static str>,
    /// The Message-ID this answers (`In-Reply-To`), with or without `<>`.
    pub in_reply_to: Option<String>,
    /// The thread (`References`), oldest first, with or without `<>`.
    pub references: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("{field}: invalid address '{value}': {error}")]
    Address {
        field: &'static str,
        value: String,
        /// In the message, so not a `source` (a cause chain would print it twice).
        error: lettre::address::AddressError,
    },
    #[error("{field}: unusable value '{value}': {reason}")]
    Header {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("building the message: {0}")]
    Build(lettre::error::Error),
    #[error(transparent)]
    Dkim(#[from] crate::outbound::dkim::DkimError),
}

impl From<lettre::error::Error> for ComposeError {
    fn from(e: lettre::error::Error) -> Self {
        ComposeError::Build(e)
    }
}

/// Single-line header text: controls (CR, LF, TAB, ...) become spaces, runs of whitespace
/// collapse, ends are trimmed.
pub fn header_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s
        .split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn address(field: &'static str, value: &str) -> Result<Address, ComposeError> {
    value
        .trim()
        .parse::<Address>()
        .map_err(|error| ComposeError::Address {
            field,
            value: value.to_string(),
            error,
        })
}

fn mailbox(name: Option<&str>, addr: Address) -> Mailbox {
    let name = name.map(header_text).filter(|n| !n.is_empty());
    Mailbox::new(name, addr)
}

/// Visible ASCII without spaces or angle brackets: safe inside `<...>` in a header.
fn check_token_like(field: &'static str, value: &str) -> Result<(), ComposeError> {
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
    {
        return Err(ComposeError::Header {
            field,
            value: value.to_string(),
            reason: "must be printable ASCII without spaces or angle brackets",
        });
    }
    Ok(())
}

/// A Message-ID from a received message as `<id>`; refused unless it looks like `id@domain` in
/// printable ASCII (it came from outside).
fn message_id_ref(field: &'static str, id: &str) -> Result<String, ComposeError> {
    let id = id.trim();
    let bare = id
        .strip_prefix('<')
        .and_then(|m| m.strip_suffix('>'))
        .unwrap_or(id);
    check_token_like(field, bare)?;
    if !bare.contains('@') {
        return Err(ComposeError::Header {
            field,
            value: id.to_string(),
            reason: "must look like id@domain",
        });
    }
    Ok(format!("<{bare}>"))
}

/// Whether `id` (from a received message) can be named in `In-Reply-To` or `References`.
pub fn usable_message_id(id: &str) -> bool {
    message_id_ref("message-id", id).is_ok()
}

fn raw_header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// Longest line of a `7bit` part, and of a quoted-printable line with its soft break.
const MAX_LINE: usize = 76;

/// The transfer-encoded body of a text part: `7bit` when it is ASCII with short lines, else
/// quoted-printable, with CRLF line ends either way. Quoted-printable even for UTF-8, not `8bit`:
/// a relay without 8BITMIME on the way would re-encode an `8bit` body and break its DKIM
/// signature.
///
/// A check of the lines and one encoding pass, instead of lettre's `Body::new`, which inserts a
/// CR before every LF by shifting the rest of the string each time (docs/performance.md,
/// "Transfer encoding").
fn body(text: &str) -> Body {
    let bytes = text.as_bytes();
    // 7bit: every line (its CRLF or LF taken off) short and printable ASCII or tab; a CR left
    // inside a line is a bare CR and fails the test. Paragraphs rendered as one line each fail
    // it at their first line.
    let seven_bit = lines(bytes).all(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        line.len() <= MAX_LINE && line.iter().all(|&b| b == b'\t' || (32..=126).contains(&b))
    });
    let mut out = Vec::with_capacity(text.len() + text.len() / 8 + 16);
    for (i, line) in lines(bytes).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if seven_bit {
            out.extend_from_slice(line);
        } else {
            qp_line(line, &mut out);
        }
    }
    let encoding = if seven_bit {
        ContentTransferEncoding::SevenBit
    } else {
        ContentTransferEncoding::QuotedPrintable
    };
    Body::dangerous_pre_encoded(out, encoding)
}

/// The lines of `bytes` split at LF (CR stays), found with `memchr`.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', bytes)
        .chain(std::iter::once(bytes.len()))
        .map(move |end| {
            let line = &bytes[start..end];
            start = end + 1;
            line
        })
}

/// Bytes that quoted-printable may leave as they are inside a line (RFC 2045 6.7 rules 2 and
/// 3): printable ASCII except `=`, and space and tab (but not at the end of a line).
const QP_LITERAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 32;
    while b <= 126 {
        t[b] = b != b'=' as usize;
        b += 1;
    }
    t[b'\t' as usize] = true;
    t
};

/// Encodes one line (without its line end) as quoted-printable, with soft line breaks so no
/// output line is longer than [`MAX_LINE`] with its `=`. Runs of literal bytes are copied whole.
fn qp_line(line: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    // Room for content on an output line: the last column is kept for a soft break's `=`.
    const ROOM: usize = MAX_LINE - 1;
    // Whitespace at the end of a line must be encoded (a relay may strip it).
    let (line, last) = match line.split_last() {
        Some((&b, rest)) if b == b' ' || b == b'\t' => (rest, Some(b)),
        _ => (line, None),
    };
    let mut col = 0;
    let escape = |b: u8, col: &mut usize, out: &mut Vec<u8>| {
        if *col + 3 > ROOM {
            out.extend_from_slice(b"=\r\n");
            *col = 0;
        }
        out.extend_from_slice(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        *col += 3;
    };
    let mut i = 0;
    while i < line.len() {
        if QP_LITERAL[line[i] as usize] {
            if col == ROOM {
                out.extend_from_slice(b"=\r\n");
                col = 0;
            }
            let avail = &line[i..line.len().min(i + ROOM - col)];
            // 16 bytes at a time while all are literal (the test compiles to vector compares),
            // then byte by byte.
            let mut run = 0;
            for chunk in avail.chunks_exact(16) {
                let literal = chunk.iter().fold(true, |ok, &b| {
                    ok & (((b.wrapping_sub(32) < 95) & (b != b'=')) | (b == b'\t'))
                });
                if !literal {
                    break;
                }
                run += 16;
            }
            run += avail[run..]
                .iter()
                .position(|&b| !QP_LITERAL[b as usize])
                .unwrap_or(avail.len() - run);
            out.extend_from_slice(&line[i..i + run]);
            col += run;
            i += run;
        } else {
            escape(line[i], &mut col, out);
            i += 1;
        }
    }
    if let Some(b) = last {
        escape(b, &mut col, out);
    }
}

/// Composes the message. Returns the SMTP envelope (MAIL FROM = `envelope_from`, RCPT TO =
/// `to_addr`) and the formatted bytes (CRLF line ends), DKIM-signed when a signer is given.
pub fn compose(
    msg: &Outgoing,
    dkim: Option<&DkimSigner>,
) -> Result<(Envelope, Vec<u8>), ComposeError> {
    let from = address("from", &msg.from_addr)?;
    let to = address("to", &msg.to_addr)?;
    let reply_to = address("reply-to", &msg.reply_to)?;
    let envelope_from = address("envelope-from", &msg.envelope_from)?;

    let mid = msg.message_id.trim();
    let mid = mid
        .strip_prefix('<')
        .and_then(|m| m.strip_suffix('>'))
        .unwrap_or(mid);
    check_token_like("message-id", mid)?;
    if !mid.contains('@') {
        return Err(ComposeError::Header {
            field: "message-id",
            value: msg.message_id.clone(),
            reason: "must look like id@domain",
        });
    }

    let mut builder = Message::builder()
        .from(mailbox(Some(&msg.from_name), from))
        .reply_to(mailbox(
            Some(msg.reply_to_name.as_deref().unwrap_or(&msg.from_name)),
            reply_to,
        ))
        .to(mailbox(msg.to_name.as_deref(), to.clone()))
        .subject(header_text(&msg.subject))
        .date(SystemTime::from(msg.date))
        .message_id(Some(format!("<{mid}>")))
        .envelope(Envelope::new(Some(envelope_from), vec![to])?);

    if let Some(id) = msg.list_id.as_deref() {
        let id = header_text(id);
        if !id.is_empty() {
            // A bare id gets the angle brackets RFC 2919 requires.
            let value = if id.ends_with('>') {
                id
            } else {
                check_token_like("list-id", &id)?;
                format!("<{id}>")
            };
            builder = builder.raw_header(raw_header("List-Id", value));
        }
    }

    if let Some(v) = msg.auto_submitted {
        builder = builder.raw_header(raw_header("Auto-Submitted", v.into()));
    }
    if let Some(id) = msg.in_reply_to.as_deref() {
        builder = builder.raw_header(raw_header(
            "In-Reply-To",
            message_id_ref("in-reply-to", id)?,
        ));
    }
    if !msg.references.is_empty() {
        let ids = msg
            .references
            .iter()
            .map(|id| message_id_ref("references", id))
            .collect::<Result<Vec<_>, _>>()?;
        builder = builder.raw_header(raw_header("References", ids.join(" ")));
    }

    let mut unsubscribe = Vec::new();
    let mut one_click = false;
    if let Some(url) = msg.list_unsubscribe_url.as_deref() {
        let url = url.trim();
        check_token_like("list-unsubscribe url", url)?;
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("https://") {
            one_click = true;
        } else if !lower.starts_with("http://") {
            return Err(ComposeError::Header {
                field: "list-unsubscribe url",
                value: url.to_string(),
                reason: "must be an http(s) URL",
            });
        }
        unsubscribe.push(format!("<{url}>"));
    }
    if let Some(mailto) = msg.list_unsubscribe_mailto.as_deref() {
        let mailto = mailto.trim();
        let addr = mailto.strip_prefix("mailto:").unwrap_or(mailto);
        check_token_like("list-unsubscribe mailto", addr)?;
        if !addr.contains('?') {
            address("list-unsubscribe mailto", addr)?;
        }
        unsubscribe.push(format!("<mailto:{addr}>"));
    }
    if !unsubscribe.is_empty() {
        builder = builder.raw_header(raw_header("List-Unsubscribe", unsubscribe.join(", ")));
    }
    if one_click {
        builder = builder.raw_header(raw_header(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".into(),
        ));
    }

    let text = SinglePart::plain(body(&msg.text));
    let message = if msg.html.is_none() && msg.ics.is_none() {
        builder.singlepart(text)?
    } else {
        let mut alt = MultiPart::alternative().singlepart(text);
        if let Some(html) = &msg.html {
            alt = alt.singlepart(SinglePart::html(body(html)));
        }
        match &msg.ics {
            Some(ics) => {
                let method = if ics.contains("\r\nMETHOD:CANCEL\r\n") {
                    "CANCEL"
                } else {
                    "REQUEST"
                };
                let ct =
                    ContentType::parse(&format!("text/calendar; method={method}; charset=UTF-8"))
                        .expect("static content type parses");
                alt = alt.singlepart(SinglePart::builder().content_type(ct).body(body(ics)));
                let file = ContentType::parse("application/ics; name=\"invite.ics\"")
                    .expect("static content type parses");
                let attachment = Attachment::new("invite.ics".to_string()).body(body(ics), file);
                builder.multipart(MultiPart::mixed().multipart(alt).singlepart(attachment))?
            }
            None => builder.multipart(alt)?,
        }
    };
    let bytes = message.formatted();
    let bytes = match dkim {
        Some(signer) => signer.sign(&bytes, msg.date.timestamp()),
        None => bytes,
    };
    Ok((message.envelope().clone(), bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    const RSA_TEST_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQDLYgB+pEy/HFRniD+HXNceVe7FEK1ez7FFUiXPT8LeHiZ82C5w
8xs1Dt/CoX5Ca6BwMUsig0ecfLte3oAjTT9qZC5vdjjkoI6Vdepe0yLcDTooKr0e
h2+jRf6gZkBMY360QX80+cKizkDIZIlE+xs0IUZ6abXqWPDVo9bjXClLmwIDAQAB
AoGAeF80c7/CPIoD2pLlJrRoDWhGvRO1yJucC68m+Z/3cYbeuJ0qP2di/vAitwrl
s2IHvt8t3OteAtw/+VIu/LXHhZ5Q+se5wezQwP58gpu/qTmDO88/H7GRRsKe1XM9
sN/3g8TCfcXOtFlULb54OnZbmWBw4N0yO7CWIVXnAtulkOECQQDmQtN0vGPU0y7D
vrd1d9MEwRuZSVCAcIIvjUZNC4Ukv6yeXllXd4Aky0FNnWfOn8yXPHuO/EivQ7Dq
K0cpBDZlAkEA4h4GqCU9kI1ZBp0qi52J22D2sVL4ZQbV+wd2HxlZF/0SRkqUWipw
JT6svqdFVKzutN8IxF7PV6qLKCAU4fZZ/wJBAMTXUd9UgV9Z3Xt22WyxL5K75nUG
6Ku0AobWFcgdVgfRV6bW7zdHsCNEIqJQMoK/tu1+xf25DAXQLzgwIRgeQsUCQQCR
l6/FmKT5bGnEPnJkjz1yig6NwtS5iBtDlVxTTej17zdTFzZKkETBVoe4AtA7Y1YY
E/v7JOjwk5kibvXDQPJVAkBPkRdki0i3j8vm/6ExaRlK26Ibc5cR+7eCwAwdRgzY
1bw8rZ6k+yXBC5bb3KtuFIsy3yendvScm39YFyfsghhO
-----END RSA PRIVATE KEY-----";

    const ED25519_TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIElNMtoRHDbciC08rP6/PZjc/LRkizrCLXvyRlUEYKfK
-----END PRIVATE KEY-----";

    fn outgoing() -> Outgoing {
        Outgoing {
            from_name: "Netzwerk Nord".into(),
            from_addr: "netzwerk@netz.example.org".into(),
            to_name: Some("Erika Mustermann".into()),
            to_addr: "erika@example.net".into(),
            reply_to: "antwort+abc234@reply.example.org".into(),
            reply_to_name: None,
            envelope_from: "bounce+abc234@reply.example.org".into(),
            message_id: "d-17-4711@netz.example.org".into(),
            subject: "Einladung zur Stadtteilrunde".into(),
            text: "Hallo Erika,\n\nwir laden dich ein.\n".into(),
            html: Some("<p>Hallo Erika,</p><p>wir laden dich ein.</p>".into()),
            list_unsubscribe_url: Some("https://netz.example.org/u/abc234".into()),
            list_unsubscribe_mailto: Some("abmelden+abc234@reply.example.org".into()),
            list_id: Some("Nachbarschaft Nord <nachbarschaft.netz.example.org>".into()),
            ics: None,
            date: "2026-03-01T10:00:00Z".parse().unwrap(),
            auto_submitted: None,
            in_reply_to: None,
            references: Vec::new(),
        }
    }

    fn compose_str(o: &Outgoing) -> (Envelope, String) {
        let (env, bytes) = compose(o, None).unwrap();
        (env, String::from_utf8(bytes).unwrap())
    }

    /// Header block, unfolded, one header per entry.
    fn headers(msg: &str) -> Vec<String> {
        let head = msg.split("\r\n\r\n").next().unwrap();
        head.replace("\r\n ", " ")
            .replace("\r\n\t", " ")
            .split("\r\n")
            .map(str::to_string)
            .collect()
    }

    fn header<'a>(hs: &'a [String], name: &str) -> Vec<&'a str> {
        hs.iter()
            .filter_map(|h| {
                let (n, v) = h.split_once(':')?;
                n.eq_ignore_ascii_case(name).then_some(v.trim())
            })
            .collect()
    }

    /// Text and HTML parts as mail-parser decodes them from the composed message.
    fn decoded_parts(bytes: &[u8]) -> (String, String) {
        let parsed = mail_parser::MessageParser::default().parse(bytes).unwrap();
        (
            parsed.body_text(0).unwrap().into_owned(),
            parsed.body_html(0).unwrap().into_owned(),
        )
    }

    #[test]
    fn bodies_round_trip_and_keep_lines_short() {
        let long_word = "x".repeat(200);
        let cases = [
            "Hallo Erika,\n\nwir laden dich ein.\n".to_string(),
            format!("{}\n", "ä".repeat(60)),
            "Zeile mit Leerzeichen am Ende \nund\tTab\t\nund = Gleich =3D\n".into(),
            format!("{}{}\n{}", "a".repeat(74), "=", long_word),
            (73..=79)
                .map(|n| format!("{}ö", "b".repeat(n)))
                .collect::<Vec<_>>()
                .join("\r\n"),
            ".Punkt am Anfang\n.\nFrom hier\n\u{1F600} Emoji und \u{00a0}geschützt".into(),
            "ein langer Absatz ohne Umbruch, wie ihn die Vorlagen liefern: ".repeat(20),
        ];
        for text in cases {
            let mut o = outgoing();
            o.text = text.clone();
            o.html = Some(format!(
                "<p>{}</p>",
                text.replace("\r\n", "\n").replace('\n', "<br>\n")
            ));
            let (_, bytes) = compose(&o, None).unwrap();
            let body = String::from_utf8(bytes.clone()).unwrap();
            let body = body.split_once("\r\n\r\n").unwrap().1;
            for line in body.split("\r\n") {
                assert!(line.len() <= 76, "line too long: {line:?}");
                assert!(!line.contains(['\r', '\n']), "bare CR or LF: {line:?}");
            }
            assert!(body.is_ascii(), "8-bit body");
            let (plain, html) = decoded_parts(&bytes);
            let want = text.replace("\r\n", "\n");
            assert_eq!(plain.replace("\r\n", "\n"), want);
            assert_eq!(
                html.replace("\r\n", "\n"),
                format!("<p>{}</p>", want.replace('\n', "<br>\n"))
            );
        }
    }

    #[test]
    fn short_ascii_bodies_go_out_7bit_others_quoted_printable() {
        let (_, msg) = compose_str(&outgoing());
        assert_eq!(
            msg.matches("Content-Transfer-Encoding: 7bit").count(),
            2,
            "{msg}"
        );
        let mut o = outgoing();
        o.text = "Grüße\n".into();
        let (_, msg) = compose_str(&o);
        assert!(
            msg.contains("Content-Transfer-Encoding: quoted-printable"),
            "{msg}"
        );
        assert!(msg.contains("Gr=C3=BC=C3=9Fe\r\n"), "{msg}");
    }

    #[test]
    fn headers_and_envelope() {
        let (env, msg) = compose_str(&outgoing());
        assert_eq!(
            env.from().unwrap().to_string(),
            "bounce+abc234@reply.example.org"
        );
        assert_eq!(
            env.to().iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            ["erika@example.net"]
        );
        let hs = headers(&msg);
        assert_eq!(
            header(&hs, "From"),
            ["\"Netzwerk Nord\" <netzwerk@netz.example.org>"]
        );
        assert_eq!(
            header(&hs, "Reply-To"),
            ["\"Netzwerk Nord\" <antwort+abc234@reply.example.org>"]
        );
        assert_eq!(
            header(&hs, "To"),
            ["\"Erika Mustermann\" <erika@example.net>"]
        );
        assert_eq!(header(&hs, "Subject"), ["Einladung zur Stadtteilrunde"]);
        assert_eq!(header(&hs, "Message-ID"), ["<d-17-4711@netz.example.org>"]);
        assert_eq!(header(&hs, "Date"), ["Sun, 01 Mar 2026 10:00:00 +0000"]);
        assert_eq!(
            header(&hs, "List-Unsubscribe"),
            ["<https://netz.example.org/u/abc234>, <mailto:abmelden+abc234@reply.example.org>"]
        );
        assert_eq!(
            header(&hs, "List-Unsubscribe-Post"),
            ["List-Unsubscribe=One-Click"]
        );
        assert_eq!(
            header(&hs, "List-Id"),
            ["Nachbarschaft Nord <nachbarschaft.netz.example.org>"]
        );
        assert!(header(&hs, "Auto-Submitted").is_empty());
        assert!(header(&hs, "Bcc").is_empty());
        assert!(header(&hs, "Return-Path").is_empty());
        assert!(header(&hs, "Content-Type")[0].starts_with("multipart/alternative"));
        // Envelope sender and MIME structure.
        assert!(msg.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(msg.contains("Content-Type: text/html; charset=utf-8"));
        assert!(!msg.contains("text/calendar"));
    }

    #[test]
    fn message_id_is_deterministic_and_bracketed_once() {
        let mut o = outgoing();
        o.message_id = "<d-17-4711@netz.example.org>".into();
        let (_, a) = compose_str(&o);
        assert_eq!(
            header(&headers(&a), "Message-ID"),
            ["<d-17-4711@netz.example.org>"]
        );
        for bad in ["no-at-sign", "a b@c", "a@b\r\nBcc: x@y", "<>"] {
            o.message_id = bad.into();
            assert!(
                matches!(compose(&o, None), Err(ComposeError::Header { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn text_only_is_a_single_part() {
        let mut o = outgoing();
        o.html = None;
        o.list_unsubscribe_url = None;
        o.list_unsubscribe_mailto = None;
        o.list_id = None;
        let (_, msg) = compose_str(&o);
        let hs = headers(&msg);
        assert!(header(&hs, "Content-Type")[0].starts_with("text/plain"));
        assert!(header(&hs, "List-Unsubscribe").is_empty());
        assert!(header(&hs, "List-Unsubscribe-Post").is_empty());
        assert!(header(&hs, "List-Id").is_empty());
        assert!(msg.contains("wir laden dich ein."));
    }

    #[test]
    fn one_click_only_with_https() {
        let mut o = outgoing();
        o.list_unsubscribe_url = Some("http://localhost:8080/u/x".into());
        let (_, msg) = compose_str(&o);
        let hs = headers(&msg);
        assert!(header(&hs, "List-Unsubscribe")[0].starts_with("<http://localhost:8080/u/x>"));
        assert!(header(&hs, "List-Unsubscribe-Post").is_empty());
        for bad in [
            "ftp://x/y",
            "https://x/a b",
            "https://x/<y>",
            "https://x/\r\nBcc:a@b",
        ] {
            o.list_unsubscribe_url = Some(bad.into());
            assert!(compose(&o, None).is_err(), "{bad}");
        }
        o.list_unsubscribe_url = None;
        o.list_unsubscribe_mailto = Some("mailto:abmelden@x.org?subject=abmelden".into());
        let (_, msg) = compose_str(&o);
        assert_eq!(
            header(&headers(&msg), "List-Unsubscribe"),
            ["<mailto:abmelden@x.org?subject=abmelden>"]
        );
        assert!(header(&headers(&msg), "List-Unsubscribe-Post").is_empty());
    }

    #[test]
    fn answers_carry_auto_submitted_and_the_thread() {
        let mut o = outgoing();
        let (_, msg) = compose_str(&o);
        let hs = headers(&msg);
        for h in ["Auto-Submitted", "In-Reply-To", "References"] {
            assert!(header(&hs, h).is_empty(), "campaign mail has no {h}");
        }
        o.auto_submitted = Some("auto-replied");
        o.in_reply_to = Some("a1@mail.example".into());
        o.references = vec!["<np.3.4@netz.example.org>".into(), "a1@mail.example".into()];
        o.reply_to = "anna@nachbarn.example".into();
        o.reply_to_name = Some("Anna Schmidt".into());
        o.list_unsubscribe_url = None;
        o.list_unsubscribe_mailto = None;
        let (_, msg) = compose_str(&o);
        let hs = headers(&msg);
        assert_eq!(header(&hs, "Auto-Submitted"), ["auto-replied"]);
        assert_eq!(header(&hs, "In-Reply-To"), ["<a1@mail.example>"]);
        assert_eq!(
            header(&hs, "References"),
            ["<np.3.4@netz.example.org> <a1@mail.example>"]
        );
        assert_eq!(
            header(&hs, "Reply-To"),
            ["\"Anna Schmidt\" <anna@nachbarn.example>"]
        );
        assert!(header(&hs, "List-Unsubscribe").is_empty());
        assert!(header(&hs, "List-Unsubscribe-Post").is_empty());
        // An id from a received message cannot carry a header of its own.
        for bad in ["a b@x", "a@x>\r\nBcc: c@d", "no-at-sign", ""] {
            o.in_reply_to = Some(bad.into());
            assert!(compose(&o, None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn line_breaks_never_inject_headers() {
        let mut o = outgoing();
        o.subject = "Hallo\r\nBcc: victim@example.com\r\n\r\nbody".into();
        o.from_name = "Netz\nBcc: a@example.com".into();
        o.to_name = Some("Erika\rX-Injected: 1".into());
        o.list_id = Some("List\r\nX-Evil: 1 <l.example.org>".into());
        let (env, msg) = compose_str(&o);
        let hs = headers(&msg);
        assert!(header(&hs, "Bcc").is_empty());
        assert!(header(&hs, "X-Injected").is_empty());
        assert!(header(&hs, "X-Evil").is_empty());
        assert_eq!(env.to().len(), 1);
        // No bare CR or LF anywhere in the header block.
        let head = msg.split("\r\n\r\n").next().unwrap();
        assert_eq!(head.matches('\n').count(), head.matches("\r\n").count());
        assert_eq!(head.matches('\r').count(), head.matches("\r\n").count());
        assert_eq!(
            header(&hs, "Subject"),
            ["Hallo Bcc: victim@example.com body"]
        );
        // Injection via addresses is refused by the address parser.
        o.to_addr = "erika@example.net\r\nBcc: x@y.org".into();
        assert!(matches!(
            compose(&o, None),
            Err(ComposeError::Address { field: "to", .. })
        ));
        assert_eq!(header_text("  a \t\u{0} b\u{85}c  "), "a b c");
    }

    #[test]
    fn non_ascii_subject_and_names_are_encoded() {
        let mut o = outgoing();
        o.subject = "Grüße aus dem Bürgerhaus – Einladung".into();
        o.to_name = Some("Jörg Müller".into());
        let (_, msg) = compose_str(&o);
        assert!(msg.is_ascii(), "headers and bodies are 7-bit encoded");
        let hs = headers(&msg);
        assert!(header(&hs, "Subject")[0].starts_with("=?utf-8?"));
        assert!(header(&hs, "To")[0].contains("=?utf-8?"));
    }

    #[test]
    fn invitation_carries_a_calendar_part() {
        let mut o = outgoing();
        o.ics = Some("BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n".into());
        let (_, msg) = compose_str(&o);
        // The mime crate lowercases the charset value; parameters are case-insensitive.
        assert!(msg
            .to_ascii_lowercase()
            .contains("content-type: text/calendar; method=request; charset=utf-8"));
        let text = msg.find("text/plain").unwrap();
        let html = msg.find("text/html").unwrap();
        let cal = msg.find("text/calendar").unwrap();
        assert!(text < html && html < cal);
        assert!(msg.contains("BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR"));
        // The alternative sits in multipart/mixed beside the invite.ics attachment.
        assert!(header(&headers(&msg), "Content-Type")[0].starts_with("multipart/mixed"));
        assert!(msg.contains("multipart/alternative"));
        let attachment = msg.find("Content-Disposition: attachment; filename=\"invite.ics\"");
        assert!(attachment.is_some_and(|a| a > cal), "{msg}");
        assert!(msg.contains("application/ics"));
        // Calendar without HTML too.
        o.html = None;
        let (_, msg) = compose_str(&o);
        assert!(header(&headers(&msg), "Content-Type")[0].starts_with("multipart/mixed"));
        assert!(msg.contains("text/calendar"));
        // A cancellation says so in the part's method.
        o.ics = Some("BEGIN:VCALENDAR\r\nMETHOD:CANCEL\r\nEND:VCALENDAR\r\n".into());
        let (_, msg) = compose_str(&o);
        assert!(msg
            .to_ascii_lowercase()
            .contains("text/calendar; method=cancel"));
    }

    #[test]
    fn invalid_addresses_name_the_field() {
        for (field, set) in [
            (
                "from",
                (|o: &mut Outgoing| o.from_addr = "nope".into()) as fn(&mut Outgoing),
            ),
            ("reply-to", |o| o.reply_to = "x@".into()),
            ("envelope-from", |o| o.envelope_from = "@y".into()),
        ] {
            let mut o = outgoing();
            set(&mut o);
            match compose(&o, None) {
                Err(ComposeError::Address { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn dkim_signature_covers_list_headers() {
        for (key, algo) in [
            (RSA_TEST_KEY, "rsa-sha256"),
            (ED25519_TEST_KEY, "ed25519-sha256"),
        ] {
            let signer = DkimSigner::new(key, "np2026", "netz.example.org").unwrap();
            let (_, bytes) = compose(&outgoing(), Some(&signer)).unwrap();
            let msg = String::from_utf8(bytes).unwrap();
            let hs = headers(&msg);
            let sig = header(&hs, "DKIM-Signature");
            assert_eq!(sig.len(), 1);
            let sig = sig[0].replace(' ', "");
            assert!(sig.contains(&format!("a={algo}")), "{sig}");
            assert!(sig.contains("d=netz.example.org"));
            assert!(sig.contains("s=np2026"));
            assert!(sig.contains("c=relaxed/relaxed"));
            assert!(
                sig.contains("list-unsubscribe:list-unsubscribe-post"),
                "{sig}"
            );
            // Content-Type signed, From, Subject and To over-signed (each named once more
            // than the message has it); tests/security_outbound.rs verifies the signature.
            assert!(sig.contains("content-type:content-type"), "{sig}");
            for h in ["from", "subject", "to"] {
                assert!(sig.contains(&format!("{h}:{h}:")), "{sig}");
            }
        }
    }

    #[test]
    fn dkim_key_errors() {
        assert!(DkimSigner::new("-----BEGIN EC PRIVATE KEY-----\nAA==\n", "s", "d.org").is_err());
        assert!(DkimSigner::new("not base64!", "s", "d.org").is_err());
        assert!(DkimSigner::new(RSA_TEST_KEY, "bad selector", "d.org").is_err());
        assert!(DkimSigner::new(RSA_TEST_KEY, "s", "d.org\r\nX: y").is_err());
        // A raw base64 Ed25519 seed works too.
        let seed = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert!(DkimSigner::new(&seed, "s", "d.org").is_ok());
    }

    #[test]
    fn dkim_dns_record_publishes_the_public_half_of_the_key() {
        use base64::Engine as _;
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePublicKey;
        let b64 = base64::engine::general_purpose::STANDARD;
        let signer = DkimSigner::new(RSA_TEST_KEY, "np2026", "netz.example.org").unwrap();
        assert_eq!(signer.dns_name(), "np2026._domainkey.netz.example.org");
        let record = signer.dns_record();
        let p = record.strip_prefix("v=DKIM1; k=rsa; p=").expect(&record);
        let published = rsa::RsaPublicKey::from_public_key_der(&b64.decode(p).unwrap()).unwrap();
        let private = rsa::RsaPrivateKey::from_pkcs1_pem(RSA_TEST_KEY).unwrap();
        assert_eq!(published, private.to_public_key());

        let seed = [7u8; 32];
        let signer = DkimSigner::new(&b64.encode(seed), "s", "d.org").unwrap();
        let record = signer.dns_record();
        let p = record
            .strip_prefix("v=DKIM1; k=ed25519; p=")
            .expect(&record);
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        assert_eq!(b64.decode(p).unwrap(), public.as_bytes());
    }
}
