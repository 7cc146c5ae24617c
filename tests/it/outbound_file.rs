//! Sending end to end on the default `file` transport: newsletters and invitations through the
//! real binary into `var/outbox`, with their headers, parts, languages, consent rules, caps and
//! template checks. No server needed: runs in plain `cargo test`.

use crate::support::{
    angle_addr, campaign_message_id, parse_message_id, people, Mail, Person, Workspace, PUBLIC_URL,
    REPLY_DOMAIN, SENDER_DOMAIN,
};
use netzpost::token::{Purpose, TokenKey};
use std::collections::{HashMap, HashSet};

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `{token}` out of `{prefix}+{token}@{domain}`.
fn token_of<'a>(addr: &'a str, prefix: &str, domain: &str) -> &'a str {
    addr.strip_prefix(&format!("{prefix}+"))
        .and_then(|r| r.strip_suffix(&format!("@{domain}")))
        .unwrap_or_else(|| panic!("{addr:?} is not {prefix}+TOKEN@{domain}"))
}

#[test]
fn newsletter_reaches_every_consenting_contact_once_in_their_language() {
    let ws = Workspace::new();
    ws.ok(&[
        "topics",
        "add",
        "nachbarschaft",
        "--title",
        "Nachbarschaft Nordstadt",
    ]);
    ws.ok(&["topics", "add", "sport"]);
    let audience = people("nachbar", "example.org", 50);
    ws.import_ok(&audience, "nachbarschaft", "confirmed");
    // Not in the audience: consent only pending, or consent for another topic only.
    ws.import_ok(
        &people("pending", "example.org", 3),
        "nachbarschaft",
        "pending",
    );
    ws.import_ok(&people("sportler", "example.org", 2), "sport", "confirmed");
    // The pending ones were asked to confirm; the newsletter goes to the others only.
    let asked: Vec<_> = ws.outbox_messages().into_iter().map(|m| m.file).collect();
    assert_eq!(
        asked.len(),
        3,
        "one confirmation request per pending contact"
    );

    ws.ok(&[
        "campaigns",
        "create",
        "maerz",
        "--kind",
        "newsletter",
        "--topic",
        "nachbarschaft",
        "--body",
        "Hallo {{ contact.name }},\n\nam Samstag ist Straßenfest.",
    ]);
    let started = std::time::Instant::now();
    let out = ws.ok(&["campaigns", "send", "maerz", "--wait"]);
    println!(
        "send --wait of 50 to the file outbox: {:?}",
        started.elapsed()
    );
    assert!(out.contains("50 deliveries queued"), "{out}");
    assert!(out.contains("done: 50 sent"), "{out}");

    let mails: Vec<_> = ws
        .outbox_messages()
        .into_iter()
        .filter(|m| !asked.contains(&m.file))
        .collect();
    assert_eq!(mails.len(), 50, "exactly one file per consenting contact");

    // Which Message-ID belongs to which contact, as the queue recorded it.
    let rows = ws.sql(
        "SELECT c.email, d.message_id, d.contact_id, d.campaign_id, d.status FROM deliveries d
         JOIN contacts c ON c.id = d.contact_id JOIN campaigns k ON k.id = d.campaign_id
         WHERE k.name = 'maerz'",
    );
    assert_eq!(rows.len(), 50);
    let by_email: HashMap<&str, &Vec<String>> = rows.iter().map(|r| (r[0].as_str(), r)).collect();
    assert!(rows.iter().all(|r| r[4] == "sent"), "{rows:?}");

    let key = TokenKey::new(ws.secret().as_bytes());
    let lang: HashMap<&str, &str> = audience
        .iter()
        .map(|p| (p.email.as_str(), p.language.as_str()))
        .collect();
    let mut ids = HashSet::new();
    let mut langs_seen = HashMap::new();
    for m in &mails {
        assert_eq!(m.envelope_to.len(), 1, "{:?}", m.envelope_to);
        let to = m.envelope_to[0].as_str();
        let row = by_email
            .get(to)
            .unwrap_or_else(|| panic!("{to} got mail but is not in the audience"));
        assert_eq!(angle_addr(m.header("To")), to);

        // Deterministic Message-ID <np.CAMPAIGN.CONTACT.MAC@sender domain>, derived from the
        // delivery (the row stores none) with a MAC under the workspace's secret.
        let mid = m.message_id();
        assert_eq!(row[1], "", "new deliveries store no Message-ID");
        let (campaign, contact, domain) =
            parse_message_id(&mid).unwrap_or_else(|| panic!("Message-ID {mid}"));
        assert_eq!(
            mid,
            campaign_message_id(&ws.secret(), campaign, contact),
            "Message-ID is the delivery's"
        );
        assert_eq!(campaign.to_string(), row[3]);
        assert_eq!(contact.to_string(), row[2]);
        assert_eq!(domain, SENDER_DOMAIN);
        assert!(ids.insert(mid.clone()), "Message-ID {mid} twice");

        // Reply-To and envelope sender carry signed tokens naming this delivery.
        let reply_to = angle_addr(m.header("Reply-To"));
        let tok = token_of(reply_to, "antwort", REPLY_DOMAIN);
        let claims = key.verify(tok, Purpose::Reply, now_unix()).unwrap();
        assert_eq!((claims.campaign_id, claims.contact_id), (campaign, contact));
        let env_from = m.envelope_from.as_deref().expect("envelope sender");
        let tok = token_of(env_from, "bounce", REPLY_DOMAIN);
        let claims = key.verify(tok, Purpose::Bounce, now_unix()).unwrap();
        assert_eq!((claims.campaign_id, claims.contact_id), (campaign, contact));
        assert_ne!(
            env_from,
            angle_addr(m.header("From")),
            "bounces go to the token address, not to From"
        );

        // RFC 2369 / 8058 list headers.
        let lu = m.header("List-Unsubscribe");
        let https = format!("<{PUBLIC_URL}/u/");
        assert!(lu.contains(&https), "List-Unsubscribe without https: {lu}");
        assert!(
            lu.contains("<mailto:abmelden+") && lu.contains(REPLY_DOMAIN),
            "List-Unsubscribe without mailto: {lu}"
        );
        let url_tok = lu
            .split(&https)
            .nth(1)
            .and_then(|r| r.split('>').next())
            .unwrap();
        let claims = key
            .verify(url_tok, Purpose::Unsubscribe, now_unix())
            .unwrap();
        assert_eq!(claims.contact_id, contact);
        assert_eq!(
            m.header("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click"
        );
        let list_id = m.header("List-Id");
        assert!(
            list_id.contains("<nachbarschaft.") && list_id.ends_with('>'),
            "List-Id {list_id}"
        );

        // Both parts, in the contact's language.
        let text = m.text();
        let html = m.html.as_deref().expect("text/html part");
        assert!(m.content_types.iter().any(|c| c == "text/plain"));
        assert!(m.content_types.iter().any(|c| c == "text/html"));
        assert!(text.contains("am Samstag ist Straßenfest."), "{text}");
        assert!(html.contains("Straßenfest"), "{html}");
        let subject = m.header("Subject");
        match lang[to] {
            "de" => {
                assert!(text.contains("Sie erhalten diese E-Mail"), "{to}: {text}");
                assert!(!text.contains("You receive this e-mail"), "{to}: {text}");
            }
            "en" => {
                assert!(text.contains("You receive this e-mail"), "{to}: {text}");
                assert!(!text.contains("Sie erhalten diese E-Mail"), "{to}: {text}");
            }
            other => panic!("language {other}"),
        }
        *langs_seen.entry(lang[to]).or_insert(0) += 1;
        assert!(!subject.is_empty());
    }
    assert_eq!(langs_seen.get("de"), Some(&25));
    assert_eq!(langs_seen.get("en"), Some(&25));

    // Pending consent and other topics: nothing.
    let all_to: HashSet<&str> = mails.iter().map(|m| m.envelope_to[0].as_str()).collect();
    assert!(
        !all_to.iter().any(|a| a.starts_with("pending")),
        "{all_to:?}"
    );
    assert!(
        !all_to.iter().any(|a| a.starts_with("sportler")),
        "{all_to:?}"
    );

    // The campaign and the timeline say what happened.
    let show = ws.campaign("maerz");
    assert_eq!(show["campaign"]["status"], "done", "{show}");
    assert_eq!(show["progress"]["sent"], 50, "{show}");
    assert_eq!(show["progress"]["queued"], 0, "{show}");
    assert_eq!(show["progress"]["sending"], 0, "{show}");
    let table = ws.ok(&["campaigns", "show", "maerz"]);
    assert!(table.contains("maerz (newsletter, done)"), "{table}");
    assert!(table.contains("50 sent"), "{table}");
    let contact = ws.ok(&["contacts", "show", &audience[0].email]);
    assert!(
        contact.contains("maerz"),
        "the send is on the timeline:\n{contact}"
    );
    let pending = ws.ok(&["contacts", "show", "pending00000@example.org"]);
    assert!(!pending.contains("maerz"), "{pending}");

    // A second send of the same campaign queues nothing new and sends nothing again.
    let again = ws.run(&["campaigns", "send", "maerz", "--wait"]);
    assert!(
        !again.status.success(),
        "a done campaign cannot be sent again"
    );
    assert_eq!(ws.outbox_count(), 50 + asked.len());
}

#[test]
fn invitation_carries_an_icalendar_request_and_respects_the_frequency_cap() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "kultur", "--title", "Kultur im Viertel"]);
    for (name, title, start) in [
        ("lesung", "Lesung im Hof", "2026-12-12 15:00"),
        ("konzert", "Hofkonzert", "2026-12-19 18:00"),
    ] {
        ws.ok(&[
            "occasions",
            "add",
            name,
            "--title",
            title,
            "--start",
            start,
            "--place",
            "Hinterhof Nordstraße 5",
            "--topic",
            "kultur",
        ]);
    }
    let first = people("gast", "example.net", 10);
    ws.import_ok(&first, "kultur", "confirmed");
    ws.ok(&[
        "campaigns",
        "create",
        "einladung-lesung",
        "--kind",
        "invitation",
        "--occasion",
        "lesung",
        "--body",
        "Wir lesen vor.",
    ]);
    let out = ws.ok(&["campaigns", "send", "einladung-lesung", "--wait"]);
    assert!(out.contains("10 deliveries queued"), "{out}");
    let mails = ws.outbox_messages();
    assert_eq!(mails.len(), 10);
    let mut uids = HashSet::new();
    for m in &mails {
        assert!(
            m.content_types
                .iter()
                .any(|c| c == "text/calendar; method=request"),
            "no text/calendar; method=REQUEST part: {:?}\n{}",
            m.content_types,
            String::from_utf8_lossy(&m.raw)
        );
        assert!(m.content_types.iter().any(|c| c == "text/plain"));
        assert!(m.content_types.iter().any(|c| c == "text/html"));
        let cal = m.calendar.as_deref().unwrap();
        assert!(cal.contains("METHOD:REQUEST"), "{cal}");
        assert!(cal.contains("BEGIN:VEVENT"), "{cal}");
        assert!(cal.contains("Lesung im Hof"), "{cal}");
        let uid = cal
            .lines()
            .find_map(|l| l.trim_end().strip_prefix("UID:"))
            .unwrap_or_else(|| panic!("no UID: {cal}"));
        uids.insert(uid.to_string());
        assert_eq!(
            m.header("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click"
        );
    }
    assert_eq!(uids.len(), 1, "one event, one UID for everyone: {uids:?}");
    // Stable: the preview (rendered later, for another run of the renderer) has the same UID.
    let preview = ws.ok(&[
        "campaigns",
        "preview",
        "einladung-lesung",
        "--to",
        &first[0].email,
        "--raw",
    ]);
    let uid = uids.iter().next().unwrap();
    let pm = Mail::parse(preview.into_bytes());
    assert!(
        pm.calendar
            .as_deref()
            .unwrap()
            .contains(&format!("UID:{uid}")),
        "the preview's calendar part names the same UID {uid}"
    );

    // A newcomer arrives after the first invitation.
    let newcomer = Person::new("neu@example.net", "Neu Hinzu", "en");
    ws.import_ok(std::slice::from_ref(&newcomer), "kultur", "confirmed");

    // A second invitation within 14 days reaches nobody who got the first.
    ws.ok(&[
        "campaigns",
        "create",
        "einladung-konzert",
        "--kind",
        "invitation",
        "--occasion",
        "konzert",
    ]);
    let out = ws.ok(&["campaigns", "send", "einladung-konzert", "--wait"]);
    assert!(out.contains("1 deliveries queued"), "{out}");
    let mails = ws.outbox_messages();
    assert_eq!(mails.len(), 11);
    let second: Vec<_> = mails
        .iter()
        .filter(|m| {
            m.calendar
                .as_deref()
                .is_some_and(|c| c.contains("Hofkonzert"))
        })
        .collect();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].envelope_to, vec![newcomer.email.clone()]);
    let show = ws.ok(&["campaigns", "show", "einladung-konzert"]);
    println!("{show}");
    assert!(
        show.contains("einladung-konzert (invitation, done)"),
        "{show}"
    );
    assert!(show.contains("1 sent"), "{show}");
}

#[test]
fn a_template_error_is_refused_at_create_with_its_place_and_nothing_is_queued() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "garten"]);
    ws.import_ok(&people("g", "example.org", 3), "garten", "confirmed");

    let out = ws.run(&[
        "campaigns",
        "create",
        "kaputt",
        "--kind",
        "newsletter",
        "--topic",
        "garten",
        "--subject",
        "{{ contact.nme }}",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    println!("{err}");
    assert!(
        err.contains("campaign subject"),
        "names the template: {err}"
    );
    assert!(err.contains("line 1"), "names the line: {err}");
    assert!(err.contains("kaputt"), "names the campaign: {err}");

    let out = ws.run(&[
        "campaigns",
        "create",
        "kaputt2",
        "--kind",
        "newsletter",
        "--topic",
        "garten",
        "--body",
        "Hallo,\n\nheute {{ topic.title }\n",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    println!("{err}");
    assert!(err.contains("campaign body"), "{err}");
    assert!(err.contains("line 3"), "{err}");

    // Nothing exists, nothing is queued, nothing is sent.
    let list = ws.ok(&["--format", "csv", "campaigns", "list"]);
    assert!(!list.contains("kaputt"), "{list}");
    assert!(ws
        .run(&["campaigns", "send", "kaputt", "--wait"])
        .stderr
        .starts_with(b"error"));
    assert_eq!(ws.sql_i64("SELECT COUNT(*) FROM deliveries"), 0);
    assert_eq!(ws.outbox_count(), 0);
}

#[test]
fn cr_lf_in_a_contact_name_or_subject_cannot_inject_a_header() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "hof"]);
    let mut who = people("nachbar", "example.org", 2);
    who.push(Person::new(
        "eve@example.org",
        "Eve\r\nBcc: x@evil.example",
        "de",
    ));
    who.push(Person::new(
        "mallory@example.org",
        "Mallory\nBcc: y@evil.example\nX-Evil: 1",
        "en",
    ));
    let out = ws.import(&who, "hof", "confirmed");
    println!(
        "import: {} {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ws.ok(&[
        "campaigns",
        "create",
        "hofbrief",
        "--kind",
        "newsletter",
        "--topic",
        "hof",
        "--subject",
        "Hallo {{ contact.name }}\r\nBcc: z@evil.example",
    ]);
    let out = ws.ok(&["campaigns", "send", "hofbrief", "--wait"]);
    println!("{out}");
    let mails = ws.outbox_messages();
    let imported = ws.sql_i64("SELECT COUNT(*) FROM contacts");
    assert_eq!(
        mails.len() as i64,
        imported,
        "one message per imported contact"
    );
    assert!(
        imported == 4,
        "names with line breaks are data, not a reason to drop the contact"
    );
    for m in &mails {
        if m.envelope_to[0].starts_with("eve") || m.envelope_to[0].starts_with("mallory") {
            println!("To: {}\nSubject: {}", m.header("To"), m.header("Subject"));
        }
        for (k, v) in &m.headers {
            assert!(
                !k.eq_ignore_ascii_case("bcc") && !k.eq_ignore_ascii_case("x-evil"),
                "injected header {k}: {v} in\n{}",
                m.head()
            );
        }
        assert_eq!(m.envelope_to.len(), 1, "{:?}", m.envelope_to);
        assert!(!m.envelope_to[0].contains("evil"), "{:?}", m.envelope_to);
        assert_eq!(m.all("To").len(), 1);
        assert_eq!(m.all("Subject").len(), 1);
        assert!(
            !String::from_utf8_lossy(&m.raw).contains("\nBcc:"),
            "{}",
            m.head()
        );
    }
}
