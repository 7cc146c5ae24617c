//! The inbound path end to end on the embedded defaults: an invitation goes out through the file
//! transport, replies come back through the maildir and the MTA pipe, contacts are raised, and
//! every change can be explained and undone. No servers needed.

use crate::support::{angle_addr, Backend, Mail, Person, Workspace};
use predicates::prelude::*;

each_db!(
    replies_raise_contacts_and_can_be_explained_and_undone,
    mta_pipe_spoofing_forged_tokens_and_quarantine,
);

/// A workspace on `backend` with four contacts invited to an occasion; returns it with the
/// Reply-To address each contact's invitation carries.
fn invited(backend: Backend) -> (Workspace, Vec<(String, String)>) {
    let ws = Workspace::on(backend);
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.import_ok(
        &[
            Person::new("anna@nachbarn.example", "Anna", "de"),
            Person::new("bob@nachbarn.example", "Bob", "en"),
            Person::new("cem@nachbarn.example", "Cem", "de"),
            Person::new("dora@nachbarn.example", "Dora", "de"),
        ],
        "nachbarschaft",
        "confirmed",
    );
    let out = ws.send_cafe_invitation();
    assert!(out.contains("4 sent"), "{out}");
    let mut reply_to: Vec<(String, String)> = ws
        .outbox_messages()
        .iter()
        .map(|m| {
            (
                angle_addr(m.header("To")).to_string(),
                angle_addr(m.header("Reply-To")).to_string(),
            )
        })
        .collect();
    reply_to.sort();
    (ws, reply_to)
}

/// The messages in the outbox after the first `n`, as text.
fn sent_after(ws: &Workspace, n: usize) -> Vec<String> {
    ws.outbox_messages()[n..]
        .iter()
        .map(|m| String::from_utf8_lossy(&m.raw).into_owned())
        .collect()
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

fn replies_raise_contacts_and_can_be_explained_and_undone(backend: Backend) {
    let (ws, to) = invited(backend);
    let d = ws.path();
    let sent_before = ws.outbox_count();

    // Anna says yes (German, Gmail-style quote that itself contains "abmelden").
    ws.deliver("1.anna", mail(
        "Anna <anna@nachbarn.example>", &reply_for(&to, "anna"), "a1@mail.example", "",
        "Ja, ich komme gerne!\r\n\r\nAm Mo., 9. Dez. 2030 um 10:15 Uhr schrieb Netzwerk Nordstadt:\r\n> Zum Abmelden klicken Sie hier.\r\n",
    ));
    // Bob is interested in working together (English).
    ws.deliver(
        "2.bob",
        mail(
            "bob@nachbarn.example",
            &reply_for(&to, "bob"),
            "b1@mail.example",
            "",
            "We would love to work together with you on a joint project.\r\n",
        ),
    );
    // Cem wants no more mail.
    ws.deliver(
        "3.cem",
        mail(
            "cem@nachbarn.example",
            &reply_for(&to, "cem"),
            "c1@mail.example",
            "",
            "Bitte nehmen Sie mich aus dem Verteiler.\r\n",
        ),
    );
    // Dora is away: an auto-reply that even says "ich komme".
    ws.deliver(
        "4.dora",
        mail(
            "dora@nachbarn.example",
            &reply_for(&to, "dora"),
            "d1@mail.example",
            "Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n",
            "Ich bin bis zum 6. Januar nicht im Büro. Ich komme am 7. Januar zurück.\r\n",
        ),
    );
    let out = ws.ok(&["inbound", "process"]);
    assert!(out.starts_with("4 messages taken"), "{out}");
    assert_eq!(
        std::fs::read_dir(d.join("var/inbox/new")).unwrap().count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(d.join("var/inbox/cur")).unwrap().count(),
        4
    );

    let anna = ws.ok(&["contacts", "show", "anna@nachbarn.example"]);
    assert!(
        anna.contains("encounter    confirmed")
            && anna.contains("caused by message a1@mail.example"),
        "{anna}"
    );
    assert!(anna.contains("Ja, ich komme gerne!"), "{anna}");
    let bob = ws.ok(&["contacts", "show", "bob@nachbarn.example"]);
    assert!(bob.contains("cooperation  interested"), "{bob}");
    let cem = ws.ok(&["contacts", "show", "cem@nachbarn.example"]);
    assert!(
        cem.contains("nachbarschaft        unsubscribed")
            && cem.contains("via reply (c1@mail.example)"),
        "{cem}"
    );
    let dora = ws.ok(&["contacts", "show", "dora@nachbarn.example"]);
    assert!(
        !dora.contains("relations:") && dora.contains("Abwesenheitsnotiz"),
        "{dora}"
    );
    assert!(
        dora.contains("silent contact"),
        "an auto-reply changes nothing: {dora}"
    );

    // Acknowledgement to Anna, confirmation to Cem, notice to the organiser; nothing to Dora.
    let new = sent_after(&ws, sent_before);
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
    ws.deliver(
        "5.cem-again",
        mail(
            "cem@nachbarn.example",
            &reply_for(&to, "cem"),
            "c1@mail.example",
            "",
            "Bitte nehmen Sie mich aus dem Verteiler.\r\n",
        ),
    );
    ws.ok(&["inbound", "process"]);
    assert_eq!(ws.outbox_count(), sent_before + 3, "no second confirmation");

    // The funnel's occasion list counts Anna.
    let occ = ws.ok(&["--format", "csv", "occasions", "list"]);
    assert!(
        occ.lines().nth(1).unwrap().ends_with(",1,0,0,1"),
        "coming, declined, waiting, people: {occ}"
    );

    // Undo Anna's encounter: the relation is no longer active, the undo is on the timeline.
    let list = ws.ok(&["--format", "json", "review", "list", "--all"]);
    let rows: serde_json::Value = serde_json::from_str(&list).unwrap();
    let anna_decision = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "encounter")
        .expect("encounter decision")["id"]
        .as_i64()
        .unwrap();
    ws.ok(&["review", "undo", &anna_decision.to_string()]);
    let anna = ws.ok(&["contacts", "show", "anna@nachbarn.example"]);
    assert!(anna.contains("encounter    undone"), "{anna}");
    ws.np(&["review", "undo", &anna_decision.to_string()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("only an applied decision"));
}

fn mta_pipe_spoofing_forged_tokens_and_quarantine(backend: Backend) {
    let (ws, to) = invited(backend);
    let d = ws.path();
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
    ws.np(&["inbound", "ingest", "spoof.eml"])
        .assert()
        .success();
    let anna = ws.ok(&["contacts", "show", "anna@nachbarn.example"]);
    assert!(anna.contains("nachbarschaft        confirmed"), "{anna}");
    let review = ws.ok(&["--format", "json", "review", "list"]);
    let rows: serde_json::Value = serde_json::from_str(&review).unwrap();
    let pending = rows.as_array().unwrap();
    assert_eq!(pending.len(), 1, "{review}");
    assert_eq!(pending[0]["action"], "unsubscribe");
    assert!(pending[0]["reason"]
        .as_str()
        .unwrap()
        .contains("From address"));
    let id = pending[0]["id"].as_i64().unwrap().to_string();
    ws.ok(&["review", "reject", &id]);
    assert!(ws
        .ok(&["contacts", "show", "anna@nachbarn.example"])
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
    ws.np(&["inbound", "ingest", "-"])
        .write_stdin(msg)
        .assert()
        .success();
    let bob = ws.ok(&["contacts", "show", "bob@nachbarn.example"]);
    assert!(!bob.contains("encounter"), "{bob}");

    // The same message twice: the second time is a duplicate and changes nothing.
    let yes = mail(
        "cem@nachbarn.example",
        &reply_for(&to, "cem"),
        "y1@mail.example",
        "",
        "1\r\n",
    );
    ws.np(&["inbound", "ingest", "-"])
        .write_stdin(yes.clone())
        .assert()
        .success();
    ws.np(&["inbound", "ingest", "-"])
        .write_stdin(yes)
        .assert()
        .success()
        .stdout(predicate::str::contains("duplicate, unchanged"));
    let occ = ws.ok(&["--format", "csv", "occasions", "list"]);
    assert!(
        occ.lines().nth(1).unwrap().ends_with(",1,0,0,1"),
        "coming, declined, waiting, people: {occ}"
    );

    // A bounce to the bounce+token address suppresses the address.
    let bounce_to = ws
        .outbox_messages()
        .into_iter()
        .find(|m| String::from_utf8_lossy(&m.raw).contains("dora@"))
        .and_then(|m| m.envelope_from)
        .unwrap();
    let dsn = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.nachbarn.example>\r\nTo: {bounce_to}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.example>\r\nAuto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.nachbarn.example\r\n\r\n\
         Final-Recipient: rfc822; dora@nachbarn.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n--b--\r\n"
    );
    ws.np(&["inbound", "ingest", "-"])
        .write_stdin(dsn)
        .assert()
        .success();
    let dora = ws.ok(&["contacts", "show", "dora@nachbarn.example"]);
    assert!(dora.contains("suppressed"), "{dora}");

    // Nothing lost: an empty message is kept in quarantine and listed with its error.
    ws.np(&["inbound", "ingest", "-"])
        .write_stdin("\r\n")
        .assert()
        .success();
    let q = ws.ok(&["--format", "json", "inbound", "quarantine"]);
    let q: serde_json::Value = serde_json::from_str(&q).unwrap();
    assert_eq!(q.as_array().unwrap().len(), 1, "{q}");
    assert!(q[0]["error"].as_str().unwrap().contains("empty"));
    let id = q[0]["id"].as_i64().unwrap().to_string();
    ws.np(&["inbound", "reprocess", &id]).assert().success();
    ws.np(&["inbound", "reprocess", "999999"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "inbound message 999999 is not quarantined (see `netzpost inbound quarantine`)",
        ));
    // A missing file is the MTA's EX_NOINPUT.
    ws.np(&["inbound", "ingest", "nope.eml"]).assert().code(66);
}

#[test]
fn explain_needs_no_database() {
    let ws = Workspace::empty();
    let d = ws.path();
    std::fs::write(d.join("a.eml"), "From: x@example.org\r\nTo: y@example.org\r\nSubject: Re: Einladung\r\n\r\nIch komme leider nicht.\r\n").unwrap();
    let out = ws.np(&["inbound", "explain", "a.eml"]).output().unwrap();
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

/// Attribution looks at the sender: the organiser's notice about Bob's cooperation
/// interest carries no token of Bob and nothing to unsubscribe with, and is answered to Bob;
/// the coordinator's words are never taken as Bob's answer, even when a copy reaches netzpost
/// with Bob's token. Acknowledgements and confirmations answer the reply that caused them.
#[test]
fn the_organisers_notice_is_answered_to_the_contact_and_never_taken_as_the_contacts_answer() {
    let (ws, to) = invited(Backend::Sqlite);
    let d = ws.path();
    // The coordinator's address is in the contact list too, as it often is.
    std::fs::write(
        d.join("team.csv"),
        "email;name\nkoordination@nordstadt.example;Koordination\n",
    )
    .unwrap();
    ws.np(&["contacts", "import", "team.csv", "--topic", "nachbarschaft"])
        .args(["--consent", "confirmed"])
        .assert()
        .success();
    let sent_before = ws.outbox_count();
    let thread = "References: <thread0@mail.example>\r\nIn-Reply-To: <thread0@mail.example>\r\n";
    ws.deliver(
        "1.bob",
        mail(
            "Bob <bob@nachbarn.example>",
            &reply_for(&to, "bob"),
            "b1@mail.example",
            "",
            "We would love to work together with you on a joint project.\r\n",
        ),
    );
    ws.deliver(
        "2.anna",
        mail(
            "Anna <anna@nachbarn.example>",
            &reply_for(&to, "anna"),
            "a1@mail.example",
            thread,
            "Ja, ich komme gerne!\r\n",
        ),
    );
    ws.deliver(
        "3.cem",
        mail(
            "cem@nachbarn.example",
            &reply_for(&to, "cem"),
            "c1@mail.example",
            "",
            "Bitte nehmen Sie mich aus dem Verteiler.\r\n",
        ),
    );
    ws.ok(&["inbound", "process"]);
    let new: Vec<Mail> = ws.outbox_messages()[sent_before..].to_vec();
    assert_eq!(new.len(), 3, "{new:#?}");
    let to_of = |who: &str| {
        new.iter()
            .find(|m| m.header("To").contains(who))
            .unwrap_or_else(|| panic!("no mail to {who}: {new:#?}"))
    };

    // The notice: answered to Bob, nothing of Bob's tokens, nothing to POST.
    let notice = to_of("koordination@nordstadt.example");
    assert_eq!(notice.header("Reply-To"), "Bob <bob@nachbarn.example>");
    assert_eq!(notice.header("Auto-Submitted"), "auto-generated");
    for absent in ["List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"] {
        assert!(
            notice.all(absent).is_empty(),
            "{absent} in {}",
            notice.head()
        );
    }
    let text = String::from_utf8_lossy(&notice.raw);
    for token in ["antwort+", "abmelden+", "bounce+", "/u/", "/p/", "/r/"] {
        assert!(!text.contains(token), "{token} in {text}");
    }
    assert_eq!(
        notice.envelope_from.as_deref(),
        Some("netzwerk@nordstadt.example")
    );

    // The acknowledgement and the confirmation answer the replies that caused them.
    let ack = to_of("anna@nachbarn.example");
    assert_eq!(ack.header("Auto-Submitted"), "auto-replied");
    assert_eq!(ack.header("In-Reply-To"), "<a1@mail.example>");
    assert_eq!(
        ack.header("References"),
        "<thread0@mail.example> <a1@mail.example>"
    );
    assert_eq!(ack.header("Subject"), "Re: Einladung");
    let confirmation = to_of("cem@nachbarn.example");
    assert_eq!(confirmation.header("Auto-Submitted"), "auto-replied");
    assert_eq!(confirmation.header("In-Reply-To"), "<c1@mail.example>");
    assert_eq!(confirmation.header("Subject"), "Re: Einladung");

    // The coordinator answers the notice: to its Reply-To, Bob's own address, which is not one
    // of netzpost's. Should a copy still come in (a reply-all to Bob's invitation, with Bob's
    // token; a mail to the sender address), it changes nothing and waits for a person.
    let notice_id = notice.header("Message-ID");
    let words = "Bitte nehmen Sie mich aus dem Verteiler.\r\n";
    let coordinator = "Koordination <koordination@nordstadt.example>";
    let answer = format!("In-Reply-To: {notice_id}\r\nReferences: {notice_id}\r\n");
    ws.deliver(
        "4.coordinator",
        mail(
            coordinator,
            &format!("bob@nachbarn.example, {}", reply_for(&to, "bob")),
            "k1@nordstadt.example",
            &answer,
            words,
        ),
    );
    ws.deliver(
        "5.coordinator",
        mail(
            coordinator,
            "netzwerk@nordstadt.example",
            "k2@nordstadt.example",
            &answer,
            "Ja, ich komme gerne!\r\n",
        ),
    );
    ws.ok(&["inbound", "process"]);
    assert_eq!(ws.outbox_count(), sent_before + 3, "nothing answered");
    let bob = ws.ok(&["contacts", "show", "bob@nachbarn.example"]);
    assert!(
        bob.contains("nachbarschaft        confirmed") && bob.contains("cooperation  interested"),
        "{bob}"
    );
    assert!(
        !bob.contains("Antwort: Bitte nehmen"),
        "the coordinator's words as Bob's reply: {bob}"
    );
    assert!(
        bob.contains("Mail der Organisation, nicht angewandt: Bitte nehmen"),
        "on Bob's timeline as the organisation's mail, in the configured language: {bob}"
    );
    let team = ws.ok(&["contacts", "show", "koordination@nordstadt.example"]);
    assert!(
        !team.contains("relations:") && team.contains("nachbarschaft        confirmed"),
        "{team}"
    );
    let review = ws.ok(&["--format", "json", "review", "list"]);
    let rows: serde_json::Value = serde_json::from_str(&review).unwrap();
    let own: Vec<&serde_json::Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["reason"] == "sent from the organisation's own address")
        .collect();
    assert_eq!(own.len(), 2, "{review}");
}
