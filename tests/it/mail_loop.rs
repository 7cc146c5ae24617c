//! The whole mail loop through a real MTA (support/postfix.rs: a private Postfix on loopback):
//! netzpost submits an invitation to Postfix; Postfix delivers it into the recipients' Maildirs
//! and returns real DSNs for unknown users and for a domain that refuses all mail; replies
//! composed from the delivered invitation as a mail client would, and the one-click
//! unsubscribe mailto, go back through Postfix; the reply domain is delivered to
//! `netzpost inbound ingest` by pipe(8), or into a Maildir that netzpost reads over IMAP
//! (Dovecot). The configuration is the one docs/mail-server.md describes.
//!
//! Ignored by default; `.ci/run` installs Postfix and runs them with `cargo test -- --ignored`.
//! Without Postfix (or Dovecot) they fail loudly, never skip.

use crate::support::dovecot::{self, Dovecot};
use crate::support::postfix::{
    maildir_messages, Postfix, ReplyDelivery, Routes, MAIL_GID, MAIL_UID,
};
use crate::support::{angle_addr, bin, people, wait_for, Mail, Person, Workspace, REPLY_DOMAIN};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

const ORGANISER: &str = "koordination@nordstadt.example";

/// Polls `f` every second until it returns `Some`, flushing Postfix's queue before each try so
/// a deferred delivery is not left waiting for the next queue run.
fn until<T>(postfix: &Postfix, what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}\nqueue: {}\nmail log:\n{}",
            postfix.queue(),
            postfix.logs()
        );
        postfix.flush();
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// One header value, RFC 2047-encoded when it is not ASCII (as mail clients write it).
fn encoded(value: &str) -> String {
    use base64::Engine;
    if value.is_ascii() {
        value.to_string()
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(value)
        )
    }
}

/// A reply to `invitation` as a mail client writes it: to its Reply-To, "Re:" and the subject,
/// In-Reply-To and References, `text` above the quoted original. Returns the envelope recipient
/// and the message.
fn reply_to(invitation: &[u8], from: &Person, message_id: &str, text: &str) -> (String, Vec<u8>) {
    let parsed = mail_parser::MessageParser::default()
        .parse(invitation)
        .expect("a parseable invitation");
    let subject = parsed.subject().unwrap_or_default().to_string();
    let original = Mail::parse(invitation.to_vec());
    let to = original.header("Reply-To").to_string();
    let mid = original.message_id();
    let quoted: String = original
        .text()
        .lines()
        .map(|l| {
            if l.is_empty() {
                ">\r\n".into()
            } else {
                format!("> {l}\r\n")
            }
        })
        .collect();
    let (sent, author) = (original.header("Date"), original.header("From"));
    let attribution = if from.language == "de" {
        format!("Am {sent} schrieb {author}:")
    } else {
        format!("On {sent}, {author} wrote:")
    };
    let raw = format!(
        "From: {name} <{email}>\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Message-ID: <{message_id}>\r\nIn-Reply-To: {mid}\r\nReferences: {mid}\r\n\
         Date: {date}\r\nMIME-Version: 1.0\r\nUser-Agent: mail-loop-test\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n\r\n{attribution}\r\n{quoted}",
        name = from.name,
        email = from.email,
        subject = encoded(&format!("Re: {subject}")),
        date = chrono::Utc::now().to_rfc2822(),
    )
    .into_bytes();
    (angle_addr(&to).to_string(), raw)
}

/// Keeps a copy of a sent message in the Maildir's Sent folder (Maildir++), as a client does.
fn keep_sent(maildir: &Path, name: &str, raw: &[u8]) {
    let sent = maildir.join(".Sent");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(sent.join(sub)).unwrap();
    }
    let secs = chrono::Utc::now().timestamp();
    std::fs::write(
        sent.join("cur").join(format!("{secs}.{name}.client:2,S")),
        raw,
    )
    .unwrap();
}

/// The address in a List-Unsubscribe header's `<mailto:...>`.
fn unsubscribe_mailto(invitation: &[u8]) -> String {
    let m = Mail::parse(invitation.to_vec());
    let lu = m.header("List-Unsubscribe");
    let start = lu
        .find("<mailto:")
        .unwrap_or_else(|| panic!("no mailto: {lu}"))
        + 8;
    let rest = &lu[start..];
    rest[..rest.find(['>', '?']).unwrap()].to_string()
}

/// Points the workspace's configuration file (not the environment: the MTA starts netzpost
/// without the test's) at Postfix's listener without TLS, with the test's public URL.
fn use_postfix_in_config(ws: &Workspace, port: u16) {
    let mut cfg = ws.config_text();
    for (from, to) in [
        ("transport = \"file\"", "transport = \"smtp\"".to_string()),
        (
            "host = \"localhost\"\nport = 587\ntls = \"starttls\"",
            format!("host = \"127.0.0.1\"\nport = {port}\ntls = \"none\""),
        ),
        ("retry_base_secs = 60", "retry_base_secs = 1".to_string()),
        (
            "public_url = \"http://127.0.0.1:8089\"",
            format!("public_url = \"{}\"", crate::support::PUBLIC_URL),
        ),
    ] {
        assert!(cfg.contains(from), "config/netzpost.toml has no {from:?}");
        cfg = cfg.replacen(from, &to, 1);
    }
    std::fs::write(ws.path().join("config/netzpost.toml"), cfg).unwrap();
}

/// Addresses of the suppression list.
fn suppressed(ws: &Workspace) -> BTreeSet<String> {
    ws.sql("SELECT address FROM suppressions")
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

#[test]
#[ignore = "needs Postfix: apt-get install postfix (run by .ci/run)"]
fn invitation_through_postfix_real_dsns_suppress_and_replies_and_unsubscribe_come_back() {
    let started = Instant::now();
    // The pipe command runs as nobody: so does every command here, on files nobody owns.
    let ws = Workspace::owned_by(MAIL_UID, MAIL_GID);
    let config = ws.path().join("config/netzpost.toml");
    let present = people("nachbar", "nachbarn.example", 45);
    let absent: Vec<Person> = (0..3)
        .map(|i| Person::new(&format!("weggezogen{i}@nachbarn.example"), "Weg", "de"))
        .chain((0..2).map(|i| Person::new(&format!("jemand{i}@nirgendwo.example"), "Nie", "en")))
        .collect();
    let mut mailboxes: Vec<String> = present.iter().map(|p| p.email.clone()).collect();
    // The organisation's own domain is delivered too: its organiser gets notices by mail.
    mailboxes.push(ORGANISER.into());
    let postfix = Postfix::start(&Routes {
        mailboxes,
        refusing: vec!["nirgendwo.example".into()],
        reply_domain: REPLY_DOMAIN.into(),
        reply: ReplyDelivery::Pipe(vec![
            bin().display().to_string(),
            "--config".into(),
            config.display().to_string(),
            "inbound".into(),
            "ingest".into(),
        ]),
    });
    use_postfix_in_config(&ws, postfix.port);
    ws.ok(&["topics", "add", "nachbarschaft"]);
    let everyone: Vec<Person> = present.iter().chain(&absent).cloned().collect();
    assert_eq!(everyone.len(), 50);
    ws.import_ok(&everyone, "nachbarschaft", "confirmed");

    // Postfix accepts all 50 at SMTP time: the failures come back later, as DSNs.
    let out = ws.send_cafe_invitation();
    assert!(out.contains("done: 50 sent, 0 failed, 0 bounced"), "{out}");
    let sent_at = Instant::now();

    let want: BTreeSet<String> = absent.iter().map(|p| p.email.clone()).collect();
    until(
        &postfix,
        "5 suppressions from DSNs",
        Duration::from_secs(60),
        || (suppressed(&ws).len() >= 5).then_some(()),
    );
    println!("5 DSNs ingested {:?} after the send", sent_at.elapsed());
    assert_eq!(suppressed(&ws), want, "exactly the five absent addresses");
    until(
        &postfix,
        "45 invitations delivered",
        Duration::from_secs(30),
        || {
            present
                .iter()
                .all(|p| postfix.delivered(&p.email).len() == 1)
                .then_some(())
        },
    );
    // Each DSN came through the pipe, was recognised as a bounce and proven by its token.
    let bounces =
        ws.sql("SELECT source, kind, attribution, status FROM inbound_messages ORDER BY id");
    assert_eq!(bounces.len(), 5, "{bounces:?}");
    for b in &bounces {
        assert_eq!(b, &["stdin", "bounce", "token", "processed"], "{bounces:?}");
    }
    for (who, status) in [
        ("weggezogen0@nachbarn.example", "5.1.1"),
        ("jemand0@nirgendwo.example", "5.1.2"),
    ] {
        let show = ws.ok(&["contacts", "show", who]);
        assert!(
            show.contains("suppressed") && show.contains("hard_bounce") && show.contains(status),
            "{show}"
        );
    }

    // Replies, written in the recipients' clients from the invitation in their Maildir.
    let answers = [
        (&present[0], "Ja, ich komme gerne! Bis dann."),
        (
            &present[1],
            "Yes, I'll be there. Thank you for the invitation!",
        ),
        (&present[2], "Leider kann ich an dem Tag nicht kommen."),
    ];
    for (i, (who, text)) in answers.iter().enumerate() {
        let invitation = &postfix.delivered(&who.email)[0];
        let (rcpt, raw) = reply_to(invitation, who, &format!("reply{i}@nachbarn.example"), text);
        assert!(
            rcpt.starts_with("antwort+") && rcpt.ends_with(REPLY_DOMAIN),
            "{rcpt}"
        );
        keep_sent(&postfix.maildir(&who.email), &format!("reply{i}"), &raw);
        postfix.submit(&who.email, &[&rcpt], &raw);
    }
    // Other addresses at the reply domain are refused at RCPT: no bounce to a forged sender.
    let refused = postfix
        .try_submit(
            &present[0].email,
            &[&format!("info@{REPLY_DOMAIN}")],
            b"Subject: hallo\r\n\r\nhallo\r\n",
        )
        .expect_err("an unknown address at the reply domain");
    assert!(
        refused.contains("550") && refused.contains("5.1.1"),
        "{refused}"
    );
    let relations = || {
        ws.sql(
            "SELECT c.email, r.form, r.status FROM relations r JOIN contacts c ON c.id = r.contact_id
             ORDER BY c.email",
        )
    };
    until(&postfix, "three answers", Duration::from_secs(60), || {
        (relations().len() >= 3).then_some(())
    });
    let row = |e: &str, f: &str, s: &str| vec![e.to_string(), f.to_string(), s.to_string()];
    assert_eq!(
        relations(),
        vec![
            row(&present[0].email, "encounter", "confirmed"),
            row(&present[1].email, "encounter", "confirmed"),
            row(&present[2].email, "encounter", "declined"),
        ]
    );
    let show = ws.ok(&["contacts", "show", &present[0].email]);
    assert!(
        show.contains("caused by message reply0@nachbarn.example"),
        "{show}"
    );

    // The one-click unsubscribe of a client, a mail to the List-Unsubscribe mailto, arrives
    // while the database cannot be opened: `inbound ingest` exits 75, Postfix keeps the mail
    // and delivers it once the database is back.
    let db = ws.path().join("var/netzpost.db");
    let mode = |m: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(0o000);
    let leaver = &present[3];
    let mailto = unsubscribe_mailto(&postfix.delivered(&leaver.email)[0]);
    assert!(mailto.starts_with("abmelden+"), "{mailto}");
    let raw = format!(
        "From: {} <{}>\r\nTo: {mailto}\r\nSubject: Unsubscribe\r\n\
         Message-ID: <unsubscribe@nachbarn.example>\r\nDate: {}\r\n\r\n\
         This message was sent by the unsubscribe button of a mail client.\r\n",
        leaver.name,
        leaver.email,
        chrono::Utc::now().to_rfc2822()
    );
    keep_sent(
        &postfix.maildir(&leaver.email),
        "unsubscribe",
        raw.as_bytes(),
    );
    postfix.submit(&leaver.email, &[&mailto], raw.as_bytes());
    let deferred = until(
        &postfix,
        "the pipe to defer",
        Duration::from_secs(30),
        || {
            postfix
                .logs()
                .lines()
                .find(|l| l.contains("relay=netzpost") && l.contains("status=deferred"))
                .map(str::to_owned)
        },
    );
    println!("database away: {deferred}");
    // pipe(8) names EX_TEMPFAIL (75) "temporary failure".
    assert!(
        deferred.contains("dsn=4.3.0") && deferred.contains("temporary failure"),
        "{deferred}"
    );
    let unsubscribed = || {
        ws.sql(
            "SELECT c.email, s.method FROM subscriptions s JOIN contacts c ON c.id = s.contact_id
             WHERE s.status = 'unsubscribed'",
        )
    };
    assert!(unsubscribed().is_empty());
    // Postfix keeps the message in its queue, with the reason (between two attempts: while one
    // runs, the entry is marked active and shows none).
    let queue = wait_for(
        "the deferred message in postqueue -p",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || {
            let q = postfix.queue();
            (q.contains(&mailto) && q.contains("temporary failure")).then_some(q)
        },
    );
    println!("postqueue -p while the database is away:\n{queue}");
    mode(0o600);
    until(&postfix, "the unsubscribe", Duration::from_secs(30), || {
        (!unsubscribed().is_empty()).then_some(())
    });
    let gone = unsubscribed();
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert_eq!(gone[0][0], leaver.email);

    // The acknowledgement of the yes went out through Postfix into the person's Maildir.
    let inbox = until(
        &postfix,
        "the acknowledgement",
        Duration::from_secs(30),
        || {
            let got = postfix.delivered(&present[0].email);
            (got.len() >= 2).then_some(got)
        },
    );
    let ack = Mail::parse(inbox[1].clone());
    assert!(
        ack.header("From").contains("netzwerk@nordstadt.example"),
        "{}",
        ack.head()
    );

    // Every pipe delivery succeeded the first time or after a retry; nothing is left queued.
    until(&postfix, "an empty queue", Duration::from_secs(30), || {
        postfix
            .queue()
            .contains("Mail queue is empty")
            .then_some(())
    });
    let log = postfix.logs();
    let piped: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("relay=netzpost"))
        .collect();
    assert!(
        piped.iter().all(|l| !l.contains("status=bounced")),
        "a pipe delivery bounced:\n{log}"
    );
    let sent = piped.iter().filter(|l| l.contains("status=sent")).count();
    assert_eq!(sent, 9, "5 DSNs, 3 replies, 1 unsubscribe:\n{log}");
    println!(
        "mail loop through Postfix: {:?} in all; {} pipe deliveries deferred and retried",
        started.elapsed(),
        piped
            .iter()
            .filter(|l| l.contains("status=deferred"))
            .count()
    );
}

#[test]
#[ignore = "needs Postfix and Dovecot: apt-get install postfix dovecot-imapd (run by .ci/run)"]
fn replies_and_dsns_that_postfix_delivers_into_a_mailbox_are_read_over_imap() {
    let dovecot = Dovecot::start();
    let mailbox = dovecot.dir.path().join("mail").join(dovecot::USER);
    let present = people("nachbar", "nachbarn.example", 2);
    let absent = Person::new("weggezogen@nachbarn.example", "Weg", "de");
    let postfix = Postfix::start(&Routes {
        mailboxes: present.iter().map(|p| p.email.clone()).collect(),
        refusing: vec![],
        reply_domain: REPLY_DOMAIN.into(),
        reply: ReplyDelivery::Maildir(mailbox.clone()),
    });
    let mut ws = Workspace::new();
    ws.use_smtp(postfix.port)
        .set("NETZPOST_INBOUND__IMAP__HOST", "127.0.0.1")
        .set("NETZPOST_INBOUND__IMAP__PORT", dovecot.port)
        .set("NETZPOST_INBOUND__IMAP__TLS", "none")
        .set("NETZPOST_INBOUND__IMAP__USERNAME", dovecot::USER)
        .set("NETZPOST_INBOUND__IMAP__PASSWORD", dovecot::PASSWORD)
        .set("NETZPOST_INBOUND__IMAP__IDLE", "false");
    ws.ok(&["topics", "add", "nachbarschaft"]);
    let everyone: Vec<Person> = present.iter().cloned().chain([absent.clone()]).collect();
    ws.import_ok(&everyone, "nachbarschaft", "confirmed");
    let out = ws.send_cafe_invitation();
    assert!(out.contains("done: 3 sent, 0 failed, 0 bounced"), "{out}");

    let invitation = until(&postfix, "the invitation", Duration::from_secs(30), || {
        postfix.delivered(&present[0].email).into_iter().next()
    });
    let (rcpt, raw) = reply_to(
        &invitation,
        &present[0],
        "imap-reply@nachbarn.example",
        "Ja, ich komme!",
    );
    postfix.submit(&present[0].email, &[&rcpt], &raw);
    until(
        &postfix,
        "the DSN and the reply in the mailbox",
        Duration::from_secs(30),
        || (maildir_messages(&mailbox).len() >= 2).then_some(()),
    );

    // virtual(8) names the whole recipient, token included, in Delivered-To.
    for raw in maildir_messages(&mailbox) {
        let m = Mail::parse(raw);
        let to = m.header("Delivered-To");
        assert!(
            (to.starts_with("antwort+") || to.starts_with("bounce+")) && to.ends_with(REPLY_DOMAIN),
            "{}",
            m.head()
        );
    }

    let out = ws.ok(&["inbound", "process"]);
    assert!(
        out.contains("2 messages taken from IMAP"),
        "{out}\n{}",
        dovecot.logs()
    );
    assert_eq!(suppressed(&ws), BTreeSet::from([absent.email.clone()]));
    let show = ws.ok(&["contacts", "show", &present[0].email]);
    assert!(
        show.contains("encounter    confirmed")
            && show.contains("caused by message imap-reply@nachbarn.example"),
        "{show}"
    );
}

/// `sh -c script` in `dir`; its standard output (panics when it fails).
fn sh(dir: &Path, script: &str) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("sh -c {script}: {e}"));
    assert!(out.status.success(), "sh -c {script}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[ignore = "needs Postfix: apt-get install postfix (run by .ci/run)"]
fn dkim_signature_made_with_the_documented_key_verifies_after_postfix_delivered_it() {
    use rsa::pkcs8::DecodePublicKey;
    let mut ws = Workspace::new();
    // The key and the DNS record's p= exactly as docs/mail-server.md makes them.
    sh(
        ws.path(),
        "openssl genrsa -traditional -out config/dkim.pem 2048",
    );
    let p = sh(
        ws.path(),
        "openssl rsa -in config/dkim.pem -pubout -outform DER 2>/dev/null | base64 -w0",
    );
    ws.append_config(
        "[outbound.dkim]\nselector = \"netzpost\"\ndomain = \"nordstadt.example\"\n\
         private_key_file = \"config/dkim.pem\"\n",
    );
    let replies = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(replies.path(), Some(MAIL_UID), Some(MAIL_GID)).unwrap();
    let anna = Person::new("anna@nachbarn.example", "Anna", "de");
    let postfix = Postfix::start(&Routes {
        mailboxes: vec![anna.email.clone()],
        refusing: vec![],
        reply_domain: REPLY_DOMAIN.into(),
        reply: ReplyDelivery::Maildir(replies.path().join("replies")),
    });
    ws.use_smtp(postfix.port);
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.import_ok(std::slice::from_ref(&anna), "nachbarschaft", "confirmed");
    let out = ws.send_cafe_invitation();
    assert!(out.contains("done: 1 sent"), "{out}");

    let delivered = until(&postfix, "the invitation", Duration::from_secs(30), || {
        postfix.delivered(&anna.email).into_iter().next()
    });
    let mail = Mail::parse(delivered.clone());
    assert!(
        mail.header("Return-Path").contains("bounce+"),
        "{}",
        mail.head()
    );
    let sig = mail.header("DKIM-Signature");
    assert!(
        sig.contains("d=nordstadt.example") && sig.contains("s=netzpost"),
        "{sig}"
    );
    // The Maildir holds LF line ends; a verifier reads the message in its SMTP form (CRLF).
    let crlf = String::from_utf8(delivered)
        .unwrap()
        .replace("\r\n", "\n")
        .replace('\n', "\r\n");
    let key = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, p.trim())
        .expect("p= is base64");
    let key = rsa::RsaPublicKey::from_public_key_der(&key).expect("p= is an RSA public key");
    crate::dkim::verify::dkim(crlf.as_bytes(), &crate::dkim::verify::PublicKey::Rsa(key))
        .unwrap_or_else(|e| panic!("DKIM after Postfix: {e}\n{}", mail.head()));
}
