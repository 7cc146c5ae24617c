//! Failed recipients of a bounce: RFC 3464 fields first, free-text MTA formats second.

use std::sync::LazyLock;

use regex::Regex;

use super::kind::head;
use super::parse::Parsed;
use super::BounceRecipient;

pub(crate) static EMAIL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+",
    )
    .unwrap()
});

static STATUS_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?-u:\b)([245])\.(\d{1,3})\.(\d{1,3})(?-u:\b)").unwrap());

/// Where the copy of the original message starts in a free-text bounce; addresses below
/// belong to the original, not to the failure report.
static ORIGINAL_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?imx)^[\s>-]*(
        (-+\s*)?(this\s+is\s+a\s+copy\s+of|below\s+this\s+line\s+is\s+a\s+copy|
        (the\s+)?original\s+message\s+(follows|is\s+attached|headers?)|unsent\s+message\s+below|
        message\s+headers?\s+follows?|(the\s+)?header\s+of\s+the\s+original|headers\s+of\s+the\s+original|
        returned\s+message|original\s+message\s+follows|-+\s*original\s+message|
        ursprüngliche\s+nachricht|kopf\s+der\s+nachricht|
        start\s+of\s+returned\s+message|message\s+text\s+follows|included\s+is\s+a\s+copy)|
        (received|return-path|message-id|x-mailer|mime-version):\s)",
    )
    .unwrap()
});

/// Lines that name the sender or the original headers, never the failed recipient.
static SKIP_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*(\*\s*)?(from|to|cc|sent|subject|date|reply-to|sender|errors-to|von|an|betreff|
        mail\s+from|envelope-from|x-envelope-from|return-path|message-id|received)\s*:|
        (?-u:\b)mail\s+from:|sender\s+ok|(?-u:\b)from:\s*<|your\s+message\s+to:?\s*$",
    )
    .unwrap()
});

/// Delay notices: the MTA will try again, so the failure is temporary.
static TEMPORARY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        will\s+(keep|continue)\s+(on\s+)?(trying|to\s+try)|still\s+trying|postponed|will\s+(be\s+)?retr(y|ied)|
        delivery\s+attempts\s+will\s+continue|has\s+not\s+yet\s+been\s+delivered|
        not\s+yet\s+been\s+delivered|delayed|delay\s+notification|warning:\s+could\s+not\s+send|
        (message|mail)\s+is\s+still\s+(queued|delayed)|no\s+action\s+is\s+required|
        will\s+attempt\s+to\s+deliver|transient\s+(failure|error)|temporar(y|ily)\s+(failure|error|deferred)|
        zustellung\s+verzögert|wird\s+(weiterhin|erneut)\s+versucht",
    )
    .unwrap()
});

static PERMANENT_HINT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)permanent|given\s+up|giving\s+up|i'm\s+not\s+going\s+to\s+try\s+again|
        failed\s+permanently|fatal|unknown|does\s+not\s+exist|no\s+such|not\s+found|
        unzustellbar|existiert\s+nicht|unbekannt|too\s+long|gave\s+up|could\s+not\s+be\s+delivered",
    )
    .unwrap()
});

fn is_daemon_addr(a: &str) -> bool {
    let local = a.split('@').next().unwrap_or("");
    matches!(
        local,
        "mailer-daemon" | "postmaster" | "mailerdaemon" | "mail-daemon" | "maildaemon"
    )
}

fn clean_addr(a: &str) -> String {
    let a = a
        .trim()
        .trim_matches(|c: char| c == '<' || c == '>' || c == '"' || c == '\'' || c == '.')
        .to_ascii_lowercase();
    // Exchange writes "SMTP=user@example.com" into X.400-style recipient lines.
    match a.strip_prefix("smtp=") {
        Some(rest) => rest.to_string(),
        None => a,
    }
}

fn push(
    out: &mut Vec<BounceRecipient>,
    recipient: String,
    permanent: bool,
    status: Option<String>,
) {
    // "david...@gmail.com" (elided by the MTA) is no address.
    if recipient.is_empty() || !recipient.contains('@') || recipient.contains("..") {
        return;
    }
    if let Some(e) = out.iter_mut().find(|b| b.recipient == recipient) {
        if e.status.is_none() {
            e.status = status;
        }
        return;
    }
    out.push(BounceRecipient {
        recipient,
        permanent,
        status,
    });
}

pub(crate) fn recipients(p: &Parsed) -> Vec<BounceRecipient> {
    let mut out = Vec::new();
    for ds in &p.delivery_status {
        parse_dsn(ds, &mut out);
    }
    if !out.is_empty() {
        return out;
    }
    // A DSN whose delivery-status part only reports successes: nothing failed.
    if !p.delivery_status.is_empty() && dsn_has_recipient_fields(&p.delivery_status) {
        return out;
    }

    let text = head(&p.report_text, 64 * 1024);
    let region = match ORIGINAL_START.find(text) {
        Some(m) if m.start() > 0 => &text[..m.start()],
        _ => text,
    };
    let temporary = TEMPORARY.is_match(region)
        && !region.to_ascii_lowercase().contains("permanent")
        && !region.contains("gave up")
        && !region.contains("given up");

    if let Some(h) = p.header("x-failed-recipients") {
        for m in EMAIL_RE.find_iter(h) {
            let a = clean_addr(m.as_str());
            let status = status_near(region, &a);
            push(&mut out, a, !temporary, status);
        }
        if !out.is_empty() {
            return out;
        }
    }

    // The bounce's own addressees (our envelope sender) are never the failed recipient.
    let mut excluded: Vec<String> = p.to_cc.clone();
    for (_, v) in p.headers.iter().filter(|(n, _)| n == "delivered-to") {
        excluded.extend(super::parse::addresses_in(v));
    }
    if let Some(f) = &p.from {
        excluded.push(f.clone());
    }
    let lines: Vec<&str> = region.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        // No '@', no address: skip the line regexes.
        if !line.contains('@') || SKIP_LINE.is_match(line) {
            continue;
        }
        for m in EMAIL_RE.find_iter(line) {
            let a = clean_addr(m.as_str());
            if is_daemon_addr(&a) || excluded.contains(&a) {
                continue;
            }
            // An address inside a URL or a message-id is not a recipient.
            let before = &line[..m.start()];
            if before.ends_with("//") || before.ends_with(":/") || before.ends_with("mid:") {
                continue;
            }
            let ctx_end = (i + 4).min(lines.len());
            let ctx = lines[i..ctx_end].join(" ");
            let status = STATUS_RE
                .captures(&ctx)
                .map(|c| format!("{}.{}.{}", &c[1], &c[2], &c[3]));
            let permanent = match status.as_deref() {
                Some(s) if s.starts_with('4') => PERMANENT_HINT.is_match(&ctx) && !temporary,
                Some(s) if s.starts_with('5') => true,
                _ => !temporary,
            };
            push(&mut out, a, permanent, status);
        }
    }
    out
}

fn status_near(text: &str, addr: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find(addr)?;
    let window = head(&text[at..], 400);
    STATUS_RE
        .captures(window)
        .map(|c| format!("{}.{}.{}", &c[1], &c[2], &c[3]))
}

fn dsn_has_recipient_fields(parts: &[String]) -> bool {
    parts.iter().any(|p| {
        let l = p.to_ascii_lowercase();
        l.contains("final-recipient") || l.contains("original-recipient")
    })
}

/// RFC 3464 per-recipient blocks (`Original-Recipient`, `Final-Recipient`, `Action`,
/// `Status`), separated by blank lines. The original recipient is preferred: it is the
/// address we sent to, before any forwarding or rewriting.
fn parse_dsn(text: &str, out: &mut Vec<BounceRecipient>) {
    for block in text.split("\n\n").flat_map(|b| b.split("\r\n\r\n")) {
        let mut original = None;
        let mut final_rcpt = None;
        let mut action = String::new();
        let mut status = None;
        for line in block.lines() {
            if line.starts_with([' ', '\t']) {
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let addr = || {
                let v = value.split_once(';').map(|(_, a)| a).unwrap_or(value);
                EMAIL_RE.find(v).map(|m| clean_addr(m.as_str()))
            };
            match name.trim().to_ascii_lowercase().as_str() {
                "original-recipient" => original = addr(),
                "final-recipient" => final_rcpt = addr(),
                "action" => action = value.to_ascii_lowercase(),
                "status" => {
                    status = STATUS_RE
                        .captures(value)
                        .map(|c| format!("{}.{}.{}", &c[1], &c[2], &c[3]));
                }
                _ => {}
            }
        }
        let Some(rcpt) = original.or(final_rcpt) else {
            continue;
        };
        let act = action.split_whitespace().next().unwrap_or("");
        if matches!(act, "delivered" | "relayed" | "expanded") {
            continue;
        }
        let permanent = match act {
            "failed" => true,
            "delayed" => false,
            _ => !status.as_deref().is_some_and(|s| s.starts_with('4')),
        };
        push(out, rcpt, permanent, status);
    }
}
