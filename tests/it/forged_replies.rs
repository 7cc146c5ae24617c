//! Replies that claim to be someone's without proof (no valid token, an In-Reply-To or
//! References naming a message we never sent, or a guessed or forged Message-ID of ours) never
//! unsubscribe or raise anyone without a person's review; only the id of the mail the contact
//! really received proves the thread.

use crate::support::{campaign_message_id, Person, Workspace, SENDER_DOMAIN};

/// Anna (German), Bob (English) and Cem (German), invited to the café through the file outbox.
fn invited() -> Workspace {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.import_ok(
        &[
            Person::new("anna@nachbarn.example", "Anna", "de"),
            Person::new("bob@nachbarn.example", "Bob", "en"),
            Person::new("cem@nachbarn.example", "Cem", "de"),
        ],
        "nachbarschaft",
        "confirmed",
    );
    let out = ws.send_cafe_invitation();
    assert!(out.contains("3 sent"), "{out}");
    ws
}

/// The Message-ID of the invitation in the outbox addressed to `to`.
fn sent_message_id(ws: &Workspace, to: &str) -> String {
    ws.outbox_messages()
        .into_iter()
        .find(|m| m.envelope_to == [to])
        .unwrap_or_else(|| panic!("no mail to {to} in the outbox"))
        .message_id()
}

/// Ingests a reply from Anna (no token in the recipient address) with `threading` headers.
fn ingest_reply(ws: &Workspace, name: &str, threading: &str, body: &str) {
    let raw = format!(
        "From: Anna <anna@nachbarn.example>\r\nTo: netzwerk@nordstadt.example\r\n\
         Subject: Re: Einladung\r\nMessage-ID: <{name}@mail.example>\r\n\
         Date: Mon, 9 Dec 2030 10:15:00 +0100\r\n{threading}\r\n{body}\r\n"
    );
    let file = ws.path().join(format!("{name}.eml"));
    std::fs::write(&file, raw).unwrap();
    ws.ok(&["inbound", "ingest", &file.to_string_lossy()]);
}

/// Decisions that changed something without a person looking.
fn applied(ws: &Workspace) -> Vec<Vec<String>> {
    ws.sql(
        "SELECT action, reason FROM decisions WHERE status = 'applied'
         AND action NOT IN ('note', 'auto_reply')",
    )
}

/// Anyone who knows Anna's address and our id scheme could write a reply "from" her naming the
/// invitation's Message-ID (`<np.CAMPAIGN.CONTACT@domain>`, ids counted up from 1, so a
/// References header can carry a range of guesses) and have it applied: an unsubscribe, or an
/// encounter with an acknowledgement mail. Our Message-IDs now carry a MAC under the secret:
/// guesses, the old form, a MAC of another delivery or another installation all go to review,
/// and only the id of the mail Anna really received proves the thread.
#[test]
fn a_forged_reply_naming_a_guessed_message_id_goes_to_review() {
    let ws = invited();
    let campaign = ws.sql_i64("SELECT id FROM campaigns WHERE name = 'einladung'");
    let anna = ws.sql_i64("SELECT id FROM contacts WHERE email = 'anna@nachbarn.example'");
    let domain = SENDER_DOMAIN;
    let real = sent_message_id(&ws, "anna@nachbarn.example");
    let (_, bob_mac) = sent_message_id(&ws, "bob@nachbarn.example")
        .trim_matches(['<', '>'])
        .split_once('@')
        .map(|(local, _)| local.rsplit_once('.').unwrap())
        .map(|(ids, mac)| (ids.to_string(), mac.to_string()))
        .unwrap();
    let other_installation = netzpost::token::TokenKey::new(b"another installation's secret!!!")
        .message_id(campaign, anna, domain);
    assert_ne!(real, format!("<np.{campaign}.{anna}@{domain}>"));

    let guesses: String = (1..=20)
        .flat_map(|c| (1..=5).map(move |k| format!("<np.{c}.{k}@{domain}>")))
        .collect::<Vec<_>>()
        .join(" ");
    let forged = [
        // The predictable form the probe used.
        format!("In-Reply-To: <np.{campaign}.{anna}@{domain}>\r\n"),
        // A range of guesses in References.
        format!("In-Reply-To: <CAfoo@mail.gmail.com>\r\nReferences: {guesses}\r\n"),
        // Bob's MAC on Anna's ids, and the right ids under another installation's secret.
        format!("In-Reply-To: <np.{campaign}.{anna}.{bob_mac}@{domain}>\r\n"),
        format!("In-Reply-To: {other_installation}\r\n"),
        // A MAC-shaped guess.
        format!("References: <np.{campaign}.{anna}.aaaaaaaaaaaaaaaa@{domain}>\r\n"),
    ];
    for (i, threading) in forged.iter().enumerate() {
        for (j, body) in [
            "Bitte nehmen Sie mich aus dem Verteiler.",
            "Ja, ich komme gerne!",
        ]
        .iter()
        .enumerate()
        {
            ingest_reply(&ws, &format!("forged-{i}-{j}"), threading, body);
            assert!(
                applied(&ws).is_empty(),
                "{threading:?} / {body:?} applied without review: {:?}",
                applied(&ws)
            );
        }
    }
    assert_eq!(
        ws.sql_i64(
            "SELECT COUNT(*) FROM inbound_messages WHERE attribution IN ('token', 'in_reply_to')"
        ),
        0,
        "no forged message counts as proof"
    );
    assert!(ws.sql_i64("SELECT COUNT(*) FROM decisions WHERE status = 'pending'") >= 10);
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM subscriptions WHERE status <> 'confirmed'"),
        0
    );
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM relations WHERE status IN ('interested', 'confirmed')"),
        0
    );
    let mails_before = ws.outbox_count();

    // The id of the mail Anna received (In-Reply-To as her mail client writes it) still proves
    // the thread: her yes is applied with an acknowledgement.
    ingest_reply(
        &ws,
        "real",
        &format!("In-Reply-To: {real}\r\nReferences: {real}\r\n"),
        "Ja, ich komme gerne!",
    );
    assert_eq!(
        ws.sql("SELECT attribution, contact_id, campaign_id FROM inbound_messages WHERE dedup_key LIKE '%real@mail.example%'"),
        [["in_reply_to".to_string(), anna.to_string(), campaign.to_string()]]
    );
    assert_eq!(applied(&ws).len(), 1, "{:?}", applied(&ws));
    assert!(ws.outbox_count() > mails_before, "acknowledgement sent");
}

#[test]
fn spoofed_replies_never_unsubscribe_or_raise_anyone_without_review() {
    let ws = invited();
    let secret_free_token = "a".repeat(26);
    let mid_of = |email: &str| {
        let row = &ws.sql(&format!(
            "SELECT d.campaign_id, d.contact_id FROM deliveries d JOIN contacts c ON c.id = d.contact_id
             WHERE c.email = '{email}'"
        ))[0];
        campaign_message_id(
            &ws.secret(),
            row[0].parse().unwrap(),
            row[1].parse().unwrap(),
        )
    };
    let anna_mid = mid_of("anna@nachbarn.example");
    let bob_mid = mid_of("bob@nachbarn.example");
    let bodies = [
        "Bitte nehmen Sie mich aus dem Verteiler. Abmelden!",
        "Ja, ich komme gerne!",
        "1",
        "Wir würden gerne mit Ihnen kooperieren und ein gemeinsames Projekt machen.",
        "Please unsubscribe me.",
        "STOP",
    ];
    // (To, extra headers): no token, a forged token, a token-shaped garbage address, an
    // In-Reply-To naming *another* contact's message (From does not match it), a References to
    // a message we never sent, a List-Unsubscribe mailto address without a valid token.
    let routes = [
        ("netzwerk@nordstadt.example".to_string(), String::new()),
        (
            format!("antwort+{secret_free_token}@reply.nordstadt.example"),
            String::new(),
        ),
        (
            format!("abmelden+{secret_free_token}@reply.nordstadt.example"),
            String::new(),
        ),
        (
            "antwort+@reply.nordstadt.example".to_string(),
            format!("In-Reply-To: {bob_mid}\r\n"),
        ),
        (
            "antwort@reply.nordstadt.example".to_string(),
            "In-Reply-To: <CAfoo@mail.gmail.com>\r\nReferences: <np.x.y@nordstadt.example> <other@example.org>\r\n"
                .to_string(),
        ),
    ];
    let mut n = 0;
    for (ri, (to, extra)) in routes.iter().enumerate() {
        for (bi, body) in bodies.iter().enumerate() {
            n += 1;
            let raw = format!(
                "From: Anna <anna@nachbarn.example>\r\nTo: {to}\r\nSubject: Re: Einladung\r\n\
                 Message-ID: <spoof-{ri}-{bi}@evil.example>\r\nDate: Mon, 9 Dec 2030 10:15:00 +0100\r\n\
                 {extra}\r\n{body}\r\n"
            );
            let file = ws.path().join(format!("spoof-{ri}-{bi}.eml"));
            std::fs::write(&file, raw).unwrap();
            let out = ws.run(&["inbound", "ingest", &file.to_string_lossy()]);
            assert!(
                out.status.success(),
                "ingest: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let _ = anna_mid;
    println!("{n} spoofed replies ingested");
    let applied = ws.sql(
        "SELECT d.action, d.status, d.reason FROM decisions d
         WHERE d.status = 'applied' AND d.action NOT IN ('note', 'auto_reply')",
    );
    assert!(applied.is_empty(), "applied without review: {applied:?}");
    let pending = ws.sql_i64("SELECT COUNT(*) FROM decisions WHERE status = 'pending'");
    println!("decisions waiting for review: {pending}");
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM subscriptions WHERE status <> 'confirmed'"),
        0,
        "every consent stays"
    );
    assert_eq!(ws.sql_i64("SELECT COUNT(*) FROM suppressions"), 0);
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM relations WHERE status IN ('interested', 'confirmed')"),
        0,
        "nobody raised"
    );
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM inbound_messages WHERE status = 'processed'"),
        n
    );
}

/// Our Message-IDs are predictable (`<np.CAMPAIGN.CONTACT@domain>`): an In-Reply-To that names
/// a delivery that never existed (another campaign, or a campaign that does not exist) must not
/// count as proof, even with the right From.
#[test]
fn in_reply_to_naming_no_delivery_is_not_proof() {
    let ws = invited();
    let anna: i64 = ws.sql_i64("SELECT id FROM contacts WHERE email = 'anna@nachbarn.example'");
    let campaign: i64 = ws.sql_i64("SELECT id FROM campaigns WHERE name = 'einladung'");
    for (i, mid) in [
        format!("<np.{}.{anna}@nordstadt.example>", campaign + 41),
        format!("<np.999999.{anna}@nordstadt.example>"),
        format!("<np.{campaign}.{anna}@elsewhere.example>"),
    ]
    .iter()
    .enumerate()
    {
        let raw = format!(
            "From: anna@nachbarn.example\r\nTo: netzwerk@nordstadt.example\r\nSubject: Re: x\r\n\
             Message-ID: <guess-{i}@evil.example>\r\nIn-Reply-To: {mid}\r\n\r\n\
             Bitte nehmen Sie mich aus dem Verteiler.\r\n"
        );
        let file = ws.path().join(format!("guess-{i}.eml"));
        std::fs::write(&file, raw).unwrap();
        ws.ok(&["inbound", "ingest", &file.to_string_lossy()]);
        let applied = ws.sql(
            "SELECT d.action, d.reason FROM decisions d WHERE d.status = 'applied'
             AND d.action NOT IN ('note', 'auto_reply')",
        );
        assert!(
            applied.is_empty(),
            "In-Reply-To {mid} (no such delivery) applied: {applied:?}"
        );
    }
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM subscriptions WHERE status <> 'confirmed'"),
        0
    );
}
