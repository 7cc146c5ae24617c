//! The inbound path end to end on the embedded defaults: an invitation goes out through the file
//! transport, replies come back through the maildir and the MTA pipe, contacts are raised, and
//! every change can be explained and undone. No servers needed.

mod common;

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

thread_local! {
    /// The database of the running test: SQLite in the workspace, or a fresh PostgreSQL database.
    static DATABASE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

fn np(dir: &Path) -> Command {
    let mut c = Command::new(common::bin());
    c.current_dir(dir)
        .env_remove("NETZPOST_CONFIG")
        .env("NETZPOST_LOG", "warn");
    if let Some(url) = DATABASE.with(|d| d.borrow().clone()) {
        c.env("NETZPOST_DATABASE", url);
    }
    c
}

/// Runs `test` against a fresh PostgreSQL database (NETZPOST_TEST_POSTGRES_URL).
fn on_postgres(test: fn()) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (db, url) = rt.block_on(common::postgres());
    rt.block_on(db.close());
    DATABASE.with(|d| *d.borrow_mut() = Some(url));
    test();
}

#[test]
#[ignore = "needs PostgreSQL: set NETZPOST_TEST_POSTGRES_URL"]
fn replies_on_postgres() {
    on_postgres(replies_raise_contacts_and_can_be_explained_and_undone);
}

#[test]
#[ignore = "needs PostgreSQL: set NETZPOST_TEST_POSTGRES_URL"]
fn mta_pipe_on_postgres() {
    on_postgres(mta_pipe_spoofing_forged_tokens_and_quarantine);
}

fn stdout(dir: &Path, args: &[&str]) -> String {
    let out = np(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A workspace with four contacts invited to an occasion; returns it with the Reply-To address
/// each contact's invitation carries.
fn invited() -> (tempfile::TempDir, Vec<(String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    np(d).arg("init").assert().success();
    np(d)
        .args(["topics", "add", "nachbarschaft"])
        .assert()
        .success();
    std::fs::write(
        d.join("k.csv"),
        "email;name;sprache\nanna@nachbarn.example;Anna;de\nbob@nachbarn.example;Bob;en\n\
         cem@nachbarn.example;Cem;de\ndora@nachbarn.example;Dora;de\n",
    )
    .unwrap();
    np(d)
        .args([
            "contacts",
            "import",
            "k.csv",
            "--topic",
            "nachbarschaft",
            "--consent",
            "confirmed",
        ])
        .assert()
        .success();
    np(d)
        .args([
            "occasions",
            "add",
            "cafe",
            "--title",
            "Nachbarschaftscafé",
            "--start",
            "2030-05-12 15:00",
            "--topic",
            "nachbarschaft",
        ])
        .assert()
        .success();
    np(d)
        .args([
            "campaigns",
            "create",
            "einladung",
            "--kind",
            "invitation",
            "--occasion",
            "cafe",
            "--body",
            "Kommen Sie vorbei!",
        ])
        .assert()
        .success();
    np(d)
        .args(["campaigns", "send", "einladung", "--wait"])
        .assert()
        .success()
        .stdout(predicate::str::contains("4 sent"));
    let mut reply_to = Vec::new();
    for f in outbox(d) {
        let text = std::fs::read_to_string(&f).unwrap();
        let to = header(&text, "To");
        let rt = header(&text, "Reply-To");
        let addr = rt
            .rsplit('<')
            .next()
            .unwrap()
            .trim_end_matches('>')
            .to_string();
        let email = to
            .rsplit('<')
            .next()
            .unwrap()
            .trim_end_matches('>')
            .to_string();
        reply_to.push((email, addr));
    }
    reply_to.sort();
    (dir, reply_to)
}

fn outbox(d: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(d.join("var/outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    v.sort();
    v
}

fn header(text: &str, name: &str) -> String {
    let mut lines = text.lines();
    let mut value = String::new();
    while let Some(l) = lines.next() {
        if let Some(v) = l.strip_prefix(&format!("{name}: ")) {
            value = v.to_string();
            for cont in lines.by_ref() {
                if cont.starts_with([' ', '\t']) {
                    value.push_str(cont.trim_start());
                } else {
                    break;
                }
            }
            break;
        }
    }
    value
}

fn reply_for(to: &[(String, String)], who: &str) -> String {
    to.iter()
        .find(|(e, _)| e.starts_with(who))
        .unwrap()
        .1
        .clone()
}

fn mail(from: &str, to: &str, id: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Re: Einladung\r\nMessage-ID: <{id}>\r\n\
         Date: Mon, 9 Dec 2030 10:15:00 +0100\r\n{extra_headers}\r\n{body}"
    )
}

fn drop_into_maildir(d: &Path, name: &str, text: &str) {
    std::fs::write(d.join("var/inbox/new").join(name), text).unwrap();
}

#[test]
fn replies_raise_contacts_and_can_be_explained_and_undone() {
    let (dir, to) = invited();
    let d = dir.path();
    let sent_before = outbox(d).len();

    // Anna says yes (German, Gmail-style quote that itself contains "abmelden").
    drop_into_maildir(d, "1.anna", &mail(
        "Anna <anna@nachbarn.example>", &reply_for(&to, "anna"), "a1@mail.example", "",
        "Ja, ich komme gerne!\r\n\r\nAm Mo., 9. Dez. 2030 um 10:15 Uhr schrieb Netzwerk Nordstadt:\r\n> Zum Abmelden klicken Sie hier.\r\n",
    ));
    // Bob is interested in working together (English).
    drop_into_maildir(
        d,
        "2.bob",
        &mail(
            "bob@nachbarn.example",
            &reply_for(&to, "bob"),
            "b1@mail.example",
            "",
            "We would love to work together with you on a joint project.\r\n",
        ),
    );
    // Cem wants no more mail.
    drop_into_maildir(
        d,
        "3.cem",
        &mail(
            "cem@nachbarn.example",
            &reply_for(&to, "cem"),
            "c1@mail.example",
            "",
            "Bitte nehmen Sie mich aus dem Verteiler.\r\n",
        ),
    );
    // Dora is away: an auto-reply that even says "ich komme".
    drop_into_maildir(
        d,
        "4.dora",
        &mail(
            "dora@nachbarn.example",
            &reply_for(&to, "dora"),
            "d1@mail.example",
            "Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n",
            "Ich bin bis zum 6. Januar nicht im Büro. Ich komme am 7. Januar zurück.\r\n",
        ),
    );
    let out = stdout(d, &["inbound", "process"]);
    assert!(out.starts_with("4 messages taken"), "{out}");
    assert_eq!(
        std::fs::read_dir(d.join("var/inbox/new")).unwrap().count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(d.join("var/inbox/cur")).unwrap().count(),
        4
    );

    let anna = stdout(d, &["contacts", "show", "anna@nachbarn.example"]);
    assert!(
        anna.contains("encounter    confirmed")
            && anna.contains("caused by message a1@mail.example"),
        "{anna}"
    );
    assert!(anna.contains("Ja, ich komme gerne!"), "{anna}");
    let bob = stdout(d, &["contacts", "show", "bob@nachbarn.example"]);
    assert!(bob.contains("cooperation  interested"), "{bob}");
    let cem = stdout(d, &["contacts", "show", "cem@nachbarn.example"]);
    assert!(
        cem.contains("nachbarschaft        unsubscribed")
            && cem.contains("via reply (c1@mail.example)"),
        "{cem}"
    );
    let dora = stdout(d, &["contacts", "show", "dora@nachbarn.example"]);
    assert!(
        !dora.contains("relations:") && dora.contains("auto-reply"),
        "{dora}"
    );
    assert!(
        dora.contains("silent contact"),
        "an auto-reply changes nothing: {dora}"
    );

    // Acknowledgement to Anna, confirmation to Cem, notice to the organiser; nothing to Dora.
    let new: Vec<String> = outbox(d)[sent_before..]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert_eq!(new.len(), 3, "{new:#?}");
    assert!(new
        .iter()
        .any(|m| m.contains("To: Anna <anna@nachbarn.example>")));
    assert!(new
        .iter()
        .any(|m| m.contains("cem@nachbarn.example>") || m.contains("To: cem@")));
    assert!(new
        .iter()
        .any(|m| m.contains("koordination@nordstadt.example")));
    assert!(!new.iter().any(|m| m.contains("dora@")));

    // The same message again (another copy in the maildir) changes nothing.
    drop_into_maildir(
        d,
        "5.cem-again",
        &mail(
            "cem@nachbarn.example",
            &reply_for(&to, "cem"),
            "c1@mail.example",
            "",
            "Bitte nehmen Sie mich aus dem Verteiler.\r\n",
        ),
    );
    stdout(d, &["inbound", "process"]);
    assert_eq!(outbox(d).len(), sent_before + 3, "no second confirmation");

    // The funnel's occasion list counts Anna.
    let occ = stdout(d, &["--format", "csv", "occasions", "list"]);
    assert!(occ.lines().nth(1).unwrap().ends_with(",1,0,1"), "{occ}");

    // Undo Anna's encounter: the relation is no longer active, the undo is on the timeline.
    let list = stdout(d, &["--format", "json", "review", "list", "--all"]);
    let rows: serde_json::Value = serde_json::from_str(&list).unwrap();
    let anna_decision = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "encounter")
        .expect("encounter decision")["id"]
        .as_i64()
        .unwrap();
    stdout(d, &["review", "undo", &anna_decision.to_string()]);
    let anna = stdout(d, &["contacts", "show", "anna@nachbarn.example"]);
    assert!(anna.contains("encounter    undone"), "{anna}");
    np(d)
        .args(["review", "undo", &anna_decision.to_string()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("only an applied decision"));
}

#[test]
fn mta_pipe_spoofing_forged_tokens_and_quarantine() {
    let (dir, to) = invited();
    let d = dir.path();
    // Spoofed: Anna's From, no token, no In-Reply-To: goes to review, changes nothing.
    std::fs::write(
        d.join("spoof.eml"),
        mail(
            "anna@nachbarn.example",
            "info@nordstadt.example",
            "s1@evil.example",
            "",
            "Bitte abmelden!\r\n",
        ),
    )
    .unwrap();
    np(d)
        .args(["inbound", "ingest", "spoof.eml"])
        .assert()
        .success();
    let anna = stdout(d, &["contacts", "show", "anna@nachbarn.example"]);
    assert!(anna.contains("nachbarschaft        confirmed"), "{anna}");
    let review = stdout(d, &["--format", "json", "review", "list"]);
    let rows: serde_json::Value = serde_json::from_str(&review).unwrap();
    let pending = rows.as_array().unwrap();
    assert_eq!(pending.len(), 1, "{review}");
    assert_eq!(pending[0]["action"], "unsubscribe");
    assert!(pending[0]["reason"]
        .as_str()
        .unwrap()
        .contains("From address"));
    let id = pending[0]["id"].as_i64().unwrap().to_string();
    stdout(d, &["review", "reject", &id]);
    assert!(stdout(d, &["contacts", "show", "anna@nachbarn.example"])
        .contains("nachbarschaft        confirmed"));

    // A forged token (one character changed) counts as no token: Bob's From is not enough.
    let real = reply_for(&to, "bob");
    let (local, domain) = real.split_once('@').unwrap();
    let mut chars: Vec<char> = local.chars().collect();
    let i = chars.len() - 3;
    chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
    let forged = format!("{}@{domain}", chars.into_iter().collect::<String>());
    let msg = mail(
        "bob@nachbarn.example",
        &forged,
        "f1@mail.example",
        "",
        "Ich komme!\r\n",
    );
    np(d)
        .args(["inbound", "ingest", "-"])
        .write_stdin(msg)
        .assert()
        .success();
    let bob = stdout(d, &["contacts", "show", "bob@nachbarn.example"]);
    assert!(!bob.contains("encounter"), "{bob}");

    // The same message twice: the second time is a duplicate and changes nothing.
    let yes = mail(
        "cem@nachbarn.example",
        &reply_for(&to, "cem"),
        "y1@mail.example",
        "",
        "1\r\n",
    );
    np(d)
        .args(["inbound", "ingest", "-"])
        .write_stdin(yes.clone())
        .assert()
        .success();
    np(d)
        .args(["inbound", "ingest", "-"])
        .write_stdin(yes)
        .assert()
        .success()
        .stdout(predicate::str::contains("duplicate, unchanged"));
    let occ = stdout(d, &["--format", "csv", "occasions", "list"]);
    assert!(occ.lines().nth(1).unwrap().ends_with(",1,0,1"), "{occ}");

    // A bounce to the bounce+token address suppresses the address.
    let env: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            outbox(d)
                .iter()
                .find(|p| std::fs::read_to_string(p).unwrap().contains("dora@"))
                .unwrap()
                .with_extension("envelope.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let bounce_to = env["from"].as_str().unwrap();
    let dsn = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.nachbarn.example>\r\nTo: {bounce_to}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.example>\r\nAuto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.nachbarn.example\r\n\r\n\
         Final-Recipient: rfc822; dora@nachbarn.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n--b--\r\n"
    );
    np(d)
        .args(["inbound", "ingest", "-"])
        .write_stdin(dsn)
        .assert()
        .success();
    let dora = stdout(d, &["contacts", "show", "dora@nachbarn.example"]);
    assert!(dora.contains("suppressed"), "{dora}");

    // Nothing lost: an empty message is kept in quarantine and listed with its error.
    np(d)
        .args(["inbound", "ingest", "-"])
        .write_stdin("\r\n")
        .assert()
        .success();
    let q = stdout(d, &["--format", "json", "inbound", "quarantine"]);
    let q: serde_json::Value = serde_json::from_str(&q).unwrap();
    assert_eq!(q.as_array().unwrap().len(), 1, "{q}");
    assert!(q[0]["error"].as_str().unwrap().contains("empty"));
    let id = q[0]["id"].as_i64().unwrap().to_string();
    np(d).args(["inbound", "reprocess", &id]).assert().success();
    // A missing file is the MTA's EX_NOINPUT.
    np(d)
        .args(["inbound", "ingest", "nope.eml"])
        .assert()
        .code(66);
}

#[test]
fn explain_needs_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.eml"), "From: x@example.org\r\nTo: y@example.org\r\nSubject: Re: Einladung\r\n\r\nIch komme leider nicht.\r\n").unwrap();
    let out = np(d)
        .args(["inbound", "explain", "a.eml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intent"], "decline");
    assert_eq!(v["kind"], "reply");
    assert_eq!(v["bounces"], serde_json::json!([]));
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "also_question",
            "bounces",
            "confidence",
            "file",
            "intent",
            "kind",
            "language",
            "languages",
            "not_before",
            "party_size",
            "text"
        ]
    );
    assert!(
        !d.join("var").exists(),
        "explain must not create a database"
    );
}

/// Issue 12, "attribution ignores the sender": the organiser's notice about Bob's cooperation
/// interest carries no token of Bob and nothing to unsubscribe with, and is answered to Bob;
/// the coordinator's words are never taken as Bob's answer, even when a copy reaches netzpost
/// with Bob's token. Acknowledgements and confirmations answer the reply that caused them.
#[test]
fn the_organisers_notice_is_answered_to_the_contact_and_never_taken_as_the_contacts_answer() {
    let (dir, to) = invited();
    let d = dir.path();
    // The coordinator's address is in the contact list too, as it often is.
    std::fs::write(
        d.join("team.csv"),
        "email;name\nkoordination@nordstadt.example;Koordination\n",
    )
    .unwrap();
    np(d)
        .args(["contacts", "import", "team.csv", "--topic", "nachbarschaft"])
        .args(["--consent", "confirmed"])
        .assert()
        .success();
    let sent_before = outbox(d).len();
    let thread = "References: <thread0@mail.example>\r\nIn-Reply-To: <thread0@mail.example>\r\n";
    drop_into_maildir(
        d,
        "1.bob",
        &mail(
            "Bob <bob@nachbarn.example>",
            &reply_for(&to, "bob"),
            "b1@mail.example",
            "",
            "We would love to work together with you on a joint project.\r\n",
        ),
    );
    drop_into_maildir(
        d,
        "2.anna",
        &mail(
            "Anna <anna@nachbarn.example>",
            &reply_for(&to, "anna"),
            "a1@mail.example",
            thread,
            "Ja, ich komme gerne!\r\n",
        ),
    );
    drop_into_maildir(
        d,
        "3.cem",
        &mail(
            "cem@nachbarn.example",
            &reply_for(&to, "cem"),
            "c1@mail.example",
            "",
            "Bitte nehmen Sie mich aus dem Verteiler.\r\n",
        ),
    );
    stdout(d, &["inbound", "process"]);
    let new: Vec<(PathBuf, String)> = outbox(d)[sent_before..]
        .iter()
        .map(|p| (p.clone(), std::fs::read_to_string(p).unwrap()))
        .collect();
    assert_eq!(new.len(), 3, "{new:#?}");
    let to_of = |who: &str| {
        new.iter()
            .find(|(_, m)| header(m, "To").contains(who))
            .unwrap_or_else(|| panic!("no mail to {who}: {new:#?}"))
    };

    // The notice: answered to Bob, nothing of Bob's tokens, nothing to POST.
    let (path, notice) = to_of("koordination@nordstadt.example");
    assert_eq!(header(notice, "Reply-To"), "Bob <bob@nachbarn.example>");
    assert_eq!(header(notice, "Auto-Submitted"), "auto-generated");
    for absent in ["List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"] {
        assert_eq!(header(notice, absent), "", "{absent} in {notice}");
    }
    for token in ["antwort+", "abmelden+", "bounce+", "/u/", "/p/", "/r/"] {
        assert!(!notice.contains(token), "{token} in {notice}");
    }
    let envelope = std::fs::read_to_string(path.with_extension("envelope.json")).unwrap();
    assert!(
        envelope.contains("\"from\":\"netzwerk@nordstadt.example\""),
        "{envelope}"
    );

    // The acknowledgement and the confirmation answer the replies that caused them.
    let (_, ack) = to_of("anna@nachbarn.example");
    assert_eq!(header(ack, "Auto-Submitted"), "auto-replied");
    assert_eq!(header(ack, "In-Reply-To"), "<a1@mail.example>");
    assert_eq!(
        header(ack, "References"),
        "<thread0@mail.example> <a1@mail.example>"
    );
    assert_eq!(header(ack, "Subject"), "Re: Einladung");
    let (_, confirmation) = to_of("cem@nachbarn.example");
    assert_eq!(header(confirmation, "Auto-Submitted"), "auto-replied");
    assert_eq!(header(confirmation, "In-Reply-To"), "<c1@mail.example>");
    assert_eq!(header(confirmation, "Subject"), "Re: Einladung");

    // The coordinator answers the notice: to its Reply-To, Bob's own address, which is not one
    // of netzpost's. Should a copy still come in (a reply-all to Bob's invitation, with Bob's
    // token; a mail to the sender address), it changes nothing and waits for a person.
    let notice_id = header(notice, "Message-ID");
    let words = "Bitte nehmen Sie mich aus dem Verteiler.\r\n";
    let coordinator = "Koordination <koordination@nordstadt.example>";
    let answer = format!("In-Reply-To: {notice_id}\r\nReferences: {notice_id}\r\n");
    drop_into_maildir(
        d,
        "4.coordinator",
        &mail(
            coordinator,
            &format!("bob@nachbarn.example, {}", reply_for(&to, "bob")),
            "k1@nordstadt.example",
            &answer,
            words,
        ),
    );
    drop_into_maildir(
        d,
        "5.coordinator",
        &mail(
            coordinator,
            "netzwerk@nordstadt.example",
            "k2@nordstadt.example",
            &answer,
            "Ja, ich komme gerne!\r\n",
        ),
    );
    stdout(d, &["inbound", "process"]);
    assert_eq!(outbox(d).len(), sent_before + 3, "nothing answered");
    let bob = stdout(d, &["contacts", "show", "bob@nachbarn.example"]);
    assert!(
        bob.contains("nachbarschaft        confirmed") && bob.contains("cooperation  interested"),
        "{bob}"
    );
    assert!(
        !bob.contains("Antwort / reply: Bitte nehmen"),
        "the coordinator's words as Bob's reply: {bob}"
    );
    let team = stdout(d, &["contacts", "show", "koordination@nordstadt.example"]);
    assert!(
        !team.contains("relations:") && team.contains("nachbarschaft        confirmed"),
        "{team}"
    );
    let review = stdout(d, &["--format", "json", "review", "list"]);
    let rows: serde_json::Value = serde_json::from_str(&review).unwrap();
    let own: Vec<&serde_json::Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["reason"] == "sent from the organisation's own address")
        .collect();
    assert_eq!(own.len(), 2, "{review}");
}
