//! Consent that lives (issue 17): opt-in by a reply "Ja" to the confirmation mail; what was
//! consented to (the form's text, the privacy notice's version) kept with each consent; a
//! person's own data ("Meine Daten") on the preferences page, the CLI and the API; renewal
//! (re-permission) of consent whose contact has been silent for long; a successor named in an
//! auto-reply, proposed for review and, accepted, handed over.

use crate::support::app::link_in;
use crate::support::{angle_addr, App, Backend, Mail};
use netzpost::activation::{self, Cause};
use netzpost::store;
use netzpost::token::Purpose;

each_db!(async
    a_reply_ja_to_the_confirmation_confirms_and_one_from_another_address_does_not,
    the_consent_text_and_notice_version_are_kept_with_each_consent,
    my_data_holds_exactly_the_persons_data_on_the_page_the_cli_and_the_api,
    renewal_yes_renews_silence_withdraws_after_the_period_with_the_report,
    a_successor_in_an_auto_reply_is_proposed_and_accepted_ends_and_creates,
);

/// Posts `raw` to the inbound webhook (processed at once).
async fn deliver(a: &App, raw: &str) {
    let token = a.api_token(&format!("hook{}", raw.len())).await;
    let r = a
        .http
        .post(a.url("/api/inbound"))
        .bearer_auth(&token)
        .header("content-type", "message/rfc822")
        .body(raw.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

/// The confirmation mail of a sign-up through the form: its reply address.
async fn sign_up(a: &App, email: &str) -> String {
    let (s, page) = a
        .post_form(
            "/s/nachbarschaft",
            &format!(
                "email={}&name=Neu&language=de&website=",
                email.replace('@', "%40")
            ),
        )
        .await;
    assert_eq!(s, 200, "{page}");
    let mails = a.mails();
    let last = mails.last().expect("a confirmation mail");
    let m = Mail::parse(last.as_bytes().to_vec());
    let text = m.text.as_deref().unwrap_or_default();
    assert!(
        text.contains("mit „Ja“"),
        "the mail asks for a reply: {text}"
    );
    angle_addr(m.header("Reply-To")).to_string()
}

fn reply(from: &str, to: &str, id: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Re: Bitte bestätigen Sie Ihre Anmeldung\r\n\
         Message-ID: <{id}>\r\nDate: Mon, 7 Dec 2026 10:15:00 +0100\r\n\r\n{body}\r\n"
    )
}

async fn a_reply_ja_to_the_confirmation_confirms_and_one_from_another_address_does_not(
    backend: Backend,
) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let reply_to = sign_up(&a, "neu@example.org").await;
    assert!(reply_to.starts_with("antwort+"), "{reply_to}");
    let c = store::contacts::get(&a.db, "neu@example.org")
        .await
        .unwrap();
    assert_eq!(a.status(c.id, t).await.as_deref(), Some("pending"));

    // Someone else answers with the token (a forwarded mail): a person decides.
    deliver(
        &a,
        &reply("fremd@example.net", &reply_to, "fremd-1@example.net", "Ja"),
    )
    .await;
    assert_eq!(a.status(c.id, t).await.as_deref(), Some("pending"));
    // The same address, but a reply that says no yes: a person reads it.
    deliver(
        &a,
        &reply(
            "neu@example.org",
            &reply_to,
            "neu-0@example.org",
            "Was ist das für eine Liste?",
        ),
    )
    .await;
    assert_eq!(a.status(c.id, t).await.as_deref(), Some("pending"));
    let pending = a
        .sql
        .column(
            "SELECT action FROM decisions WHERE status = 'pending' ORDER BY id",
            &[],
        )
        .await;
    assert_eq!(pending, ["confirm", "question"], "both wait for review");
    // A "Ja" without the confirmation's token (only From): review as well.
    deliver(
        &a,
        &reply(
            "neu@example.org",
            "antwort@reply.nordstadt.example",
            "neu-x@example.org",
            "Ja",
        ),
    )
    .await;
    assert_eq!(a.status(c.id, t).await.as_deref(), Some("pending"));

    // The person's own "Ja", from the address being confirmed.
    deliver(
        &a,
        &reply(
            "Neu <neu@example.org>",
            &reply_to,
            "neu-1@example.org",
            "Ja",
        ),
    )
    .await;
    assert_eq!(a.status(c.id, t).await.as_deref(), Some("confirmed"));
    let row = a
        .sql
        .rows(
            "SELECT method, evidence FROM subscriptions WHERE contact_id = $1",
            &[c.id.get().into()],
        )
        .await;
    assert_eq!(row[0][0], "reply");
    assert!(row[0][1].contains("neu-1@example.org"), "{row:?}");
    let applied = a
        .sql
        .column("SELECT action FROM decisions WHERE status = 'applied'", &[])
        .await;
    assert_eq!(applied, ["confirm"]);
}

async fn the_consent_text_and_notice_version_are_kept_with_each_consent(backend: Backend) {
    let url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(crate::support::db::create_postgres_database().await),
    };
    let a = App::start_with(|c| {
        if let Some(u) = url {
            c.database = u;
        }
        c.privacy.notice_url = Some("https://nordstadt.example/datenschutz".into());
        c.privacy.notice_version = Some("2026-03".into());
    })
    .await;
    let t = a.topic("nachbarschaft").await;
    let (_, page) = a.get("/s/nachbarschaft").await;
    assert!(
        page.contains("datenschutz\">Datenschutzhinweise</a>"),
        "{page}"
    );
    sign_up(&a, "neu@example.org").await;
    let c = store::contacts::get(&a.db, "neu@example.org")
        .await
        .unwrap();
    let subs = store::contacts::subscriptions(&a.db, c.id).await.unwrap();
    assert_eq!(subs[0].notice_version.as_deref(), Some("2026-03"));
    let text = subs[0].consent_text.clone().unwrap();
    assert!(
        text.contains("Bestätigungslink"),
        "the page's words: {text}"
    );
    assert!(text.contains("Abmelden geht mit einem Klick"), "{text}");

    // Confirmed by the link: the sign-up's text stays, the version is the one now in force.
    let mails = a.mails();
    let link = link_in(mails.last().unwrap(), &format!("{}/c/", a.base));
    let path = link.strip_prefix(&a.base).unwrap().to_string();
    assert_eq!(a.post_form(&path, "").await.0, 200);
    assert_eq!(a.status(c.id, t).await.as_deref(), Some("confirmed"));
    let subs = store::contacts::subscriptions(&a.db, c.id).await.unwrap();
    assert_eq!(subs[0].consent_text.as_deref(), Some(text.as_str()));
    assert_eq!(subs[0].notice_version.as_deref(), Some("2026-03"));
    // Each consent event on the timeline keeps them too, and says the version.
    let d = store::contacts::detail(&a.db, "neu@example.org", 180)
        .await
        .unwrap();
    let events: Vec<_> = d.timeline.iter().filter(|x| x.kind == "consent").collect();
    assert_eq!(events.len(), 2, "asked for, confirmed");
    for e in &events {
        let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
        assert_eq!(detail["notice_version"], "2026-03", "{detail}");
        assert_eq!(detail["consent_text"], text.as_str());
    }
    let described = netzpost::timeline::describe(
        netzpost::store::activities::ActivityKind::Consent,
        &serde_json::from_str(&events[0].detail).unwrap(),
        None,
        netzpost::domain::Lang::De,
    )
    .unwrap();
    assert!(
        described.contains("Datenschutzhinweise 2026-03"),
        "{described}"
    );
}

async fn my_data_holds_exactly_the_persons_data_on_the_page_the_cli_and_the_api(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let garten = a.topic("garten").await;
    let anna = a.contact("anna@nachbarn.example", vec![t]).await;
    let bob = a.contact("bob@nachbarn.example", vec![t, garten]).await;
    let admin = Cause::Admin { by: "test".into() };
    for (c, note) in [(anna, "Annas Arbeitsgruppe"), (bob, "Bobs Gartengruppe")] {
        activation::join_group(&a.db, c.into(), Some(t.into()), Some(note.into()), &admin)
            .await
            .unwrap();
    }
    let token = a.sign(Purpose::Preferences, 0, anna, 0, None);

    // The preferences page links to it; a GET shows it and changes nothing.
    let (s, page) = a.get(&format!("/p/{token}")).await;
    assert_eq!(s, 200);
    assert!(
        page.contains(&format!("&#x2f;{token}&#x2f;data\"")),
        "{page}"
    );
    let events_before = a.sql.i64("SELECT COUNT(*) FROM activities", &[]).await;
    let (s, page) = a.get(&format!("/p/{token}/data")).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Meine Daten"), "{page}");
    assert!(page.contains("anna@nachbarn.example"));
    assert!(page.contains("nachbarschaft"));
    assert!(page.contains("erteilt"), "consent in plain words: {page}");
    assert!(
        page.contains("Annas Arbeitsgruppe") || page.contains("Arbeitsgruppe"),
        "{page}"
    );
    assert!(!page.contains("bob@"), "nobody else's data");
    assert!(!page.contains("Bobs"));
    let (s, page) = a.get(&format!("/p/{token}/data?lang=en")).await;
    assert_eq!(s, 200);
    assert!(page.contains("My data") && page.contains("given"), "{page}");

    let r = a
        .http
        .get(a.url(&format!("/p/{token}/data.json")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let page_json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        a.sql.i64("SELECT COUNT(*) FROM activities", &[]).await,
        events_before,
        "looking changes nothing"
    );
    let check = |v: &serde_json::Value| {
        assert_eq!(v["contact"]["email"], "anna@nachbarn.example");
        assert_eq!(v["consents"].as_array().unwrap().len(), 1, "{v}");
        assert_eq!(v["consents"][0]["topic"], "nachbarschaft");
        assert_eq!(v["consents"][0]["status"], "confirmed");
        assert_eq!(v["relations"].as_array().unwrap().len(), 1);
        assert_eq!(v["relations"][0]["note"], "Annas Arbeitsgruppe");
        assert!(!v["timeline"].as_array().unwrap().is_empty());
        let all = v.to_string();
        assert!(!all.contains("bob"), "nobody else's data: {all}");
        assert!(
            !all.contains("garten"),
            "not even the topics only others have"
        );
    };
    check(&page_json);

    // The same from the command line and the API.
    let out = a.cli(&["contacts", "export-person", "anna@nachbarn.example"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli_json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    check(&cli_json);
    let api = a.api_caller("export").await;
    let api_json = api.get_json("/contacts/anna@nachbarn.example/export").await;
    check(&api_json);
    assert_eq!(
        api.status(
            reqwest::Method::GET,
            "/contacts/niemand@nachbarn.example/export"
        )
        .await,
        404
    );
    // A damaged token shows nothing.
    let (s, _) = a.get(&format!("/p/{token}x/data.json")).await;
    assert!(s.is_client_error(), "{s}");
}

/// A contact confirmed for `topic` whose consent and last reply are `days` old.
async fn silent_contact(a: &App, email: &str, topic: i64, days: i64) -> i64 {
    let c = a.contact(email, vec![topic]).await;
    a.sql
        .exec(
            "UPDATE subscriptions SET changed_at = $1 WHERE contact_id = $2",
            &[
                crate::support::db::Arg::Time(chrono::Utc::now() - chrono::Duration::days(days)),
                c.into(),
            ],
        )
        .await;
    c
}

async fn renewal_yes_renews_silence_withdraws_after_the_period_with_the_report(backend: Backend) {
    use netzpost::renewal::{run, Entry, RenewalOptions};
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let ja = silent_contact(&a, "ja@example.org", t, 800).await;
    let button = silent_contact(&a, "knopf@example.org", t, 800).await;
    let quiet = silent_contact(&a, "still@example.org", t, 800).await;
    let fresh = silent_contact(&a, "neu@example.org", t, 100).await;
    let notifier = a.engine.notifier();
    let now = chrono::Utc::now();
    let opts = RenewalOptions::default();
    let entry = |e: &str| Entry {
        email: e.into(),
        topic: "nachbarschaft".into(),
    };

    // Who is due shows on the command line before anything is sent.
    let out = a.cli(&["consent", "due"]);
    let due = String::from_utf8_lossy(&out.stdout);
    assert!(
        due.contains("ja@example.org") && due.contains("still@example.org"),
        "{due}"
    );
    assert!(!due.contains("neu@example.org"), "{due}");

    // And on the admin dashboard.
    let mut input = std::io::Cursor::new(b"ein-langes-passwort\n".to_vec());
    netzpost::cli::admin::run(
        &a.cfg,
        &a.db,
        netzpost::cli::admin::AdminCmd::SetPassword {
            user: Some("admin".into()),
            user_flag: None,
        },
        &mut input,
        &mut Vec::new(),
    )
    .await
    .unwrap();
    let session = a.admin_login("admin", "ein-langes-passwort").await;
    let page = a
        .admin_get(&session.cookie, "/admin")
        .await
        .text()
        .await
        .unwrap();
    let section = &page[page.find("id=\"renewal\"").expect("the renewal list")..];
    assert!(
        section.contains("still@example.org") && section.contains("fällig"),
        "{section}"
    );
    assert!(!section.contains("neu@example.org"), "{section}");

    let report = run(&a.db, &a.cfg, Some(&notifier), &opts, now)
        .await
        .unwrap();
    assert_eq!(
        report.asked,
        [
            entry("ja@example.org"),
            entry("knopf@example.org"),
            entry("still@example.org")
        ]
    );
    assert!(report.withdrawn.is_empty() && report.not_sent.is_empty());
    let mails = a.mails();
    assert_eq!(mails.len(), 3, "one mail each");
    let mail_to = |who: &str| {
        let m = mails
            .iter()
            .map(|m| Mail::parse(m.as_bytes().to_vec()))
            .find(|m| m.header("To").contains(who))
            .unwrap();
        m
    };
    let m = mail_to("ja@example.org");
    assert!(
        m.header("Subject").contains("weiter Nachrichten"),
        "{}",
        m.header("Subject")
    );
    assert!(m.text.as_deref().unwrap().contains("„Ja“"));
    // Asked once: a second run the same day sends nothing more.
    let again = run(&a.db, &a.cfg, Some(&notifier), &opts, now)
        .await
        .unwrap();
    assert!(again.asked.is_empty(), "{again:?}");
    assert_eq!(a.mails().len(), 3);

    // A reply "Ja" renews, with the reply as evidence.
    let reply_to = angle_addr(m.header("Reply-To")).to_string();
    deliver(
        &a,
        &reply("ja@example.org", &reply_to, "ja-1@example.org", "Ja"),
    )
    .await;
    let subs = store::contacts::subscriptions(&a.db, ja.into())
        .await
        .unwrap();
    assert_eq!(subs[0].status.as_str(), "confirmed");
    assert_eq!(subs[0].method, "reply");
    assert!(subs[0].renewal_asked_at.is_none(), "answered");
    // The button renews too.
    let link = link_in(
        mails.iter().find(|m| m.contains("knopf@")).unwrap(),
        &format!("{}/c/", a.base),
    );
    let path = link.strip_prefix(&a.base).unwrap().to_string();
    assert_eq!(a.post_form(&path, "").await.0, 200);
    let subs = store::contacts::subscriptions(&a.db, button.into())
        .await
        .unwrap();
    assert_eq!(
        (subs[0].status.as_str(), subs[0].method.as_str()),
        ("confirmed", "confirm-link")
    );

    // No answer after answer_days (30): withdrawn, and reported.
    let later = now + chrono::Duration::days(31);
    let report = run(&a.db, &a.cfg, Some(&notifier), &opts, later)
        .await
        .unwrap();
    assert_eq!(report.withdrawn, [entry("still@example.org")]);
    assert!(
        report.asked.is_empty(),
        "the renewed are not asked again: {report:?}"
    );
    assert_eq!(a.status(quiet, t).await.as_deref(), Some("unsubscribed"));
    assert_eq!(a.status(ja, t).await.as_deref(), Some("confirmed"));
    assert_eq!(a.status(button, t).await.as_deref(), Some("confirmed"));
    assert_eq!(a.status(fresh, t).await.as_deref(), Some("confirmed"));
    let subs = store::contacts::subscriptions(&a.db, quiet.into())
        .await
        .unwrap();
    assert_eq!(subs[0].method, "renewal");
    assert!(
        subs[0].evidence.as_deref().unwrap().contains("no answer"),
        "{:?}",
        subs[0].evidence
    );
    // Kept as withdrawn by default; with "forget", erased after the grace period.
    let mut forgetful = (*a.cfg).clone();
    forgetful.renewal.after_withdrawal = netzpost::config::AfterWithdrawal::Forget;
    // (The withdrawal was stamped with the real time: the grace period counts from there.)
    let report = run(
        &a.db,
        &forgetful,
        Some(&notifier),
        &opts,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert!(
        report.forgotten.is_empty(),
        "within the grace period: {report:?}"
    );
    let report = run(
        &a.db,
        &a.cfg,
        Some(&notifier),
        &opts,
        later + chrono::Duration::days(40),
    )
    .await
    .unwrap();
    assert!(report.forgotten.is_empty(), "keep: {report:?}");
    let report = run(
        &a.db,
        &forgetful,
        Some(&notifier),
        &opts,
        later + chrono::Duration::days(40),
    )
    .await
    .unwrap();
    assert_eq!(report.forgotten, ["still@example.org"]);
    assert!(store::contacts::get(&a.db, "still@example.org")
        .await
        .is_err());
    assert!(store::contacts::get(&a.db, "ja@example.org").await.is_ok());
}

/// An auto-reply from `from` to the reply address of `contact`'s invitation.
async fn auto_reply(
    a: &App,
    contact: i64,
    campaign: i64,
    occasion: i64,
    from: &str,
    id: &str,
    body: &str,
) {
    let token = a.sign(Purpose::Reply, campaign, contact, occasion, None);
    let raw = format!(
        "From: {from}\r\nTo: antwort+{token}@reply.nordstadt.example\r\n\
         Subject: Automatische Antwort: Einladung\r\nAuto-Submitted: auto-replied\r\n\
         Message-ID: <{id}>\r\nDate: Mon, 7 Dec 2026 10:15:00 +0100\r\n\r\n{body}\r\n"
    );
    deliver(a, &raw).await;
}

async fn a_successor_in_an_auto_reply_is_proposed_and_accepted_ends_and_creates(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let garten = a.topic("garten").await;
    let (campaign, occasion) = a.invitation(t).await;
    let cases = [
        (
            "alt@schule.example",
            "Grundschule Nord",
            "Guten Tag,\r\n\r\nFrau Erika Alt hat die Einrichtung verlassen. Ihre Nachfolgerin ist \
             Frau Jana Neu (jana.neu@schule.example).\r\n\r\nMit freundlichen Grüßen",
            "Erika Alt hat die Einrichtung verlassen; Nachfolge: Jana Neu <jana.neu@schule.example>",
            "jana.neu@schule.example",
        ),
        (
            "old@school.example",
            "North School",
            "Thank you for your message. Ms Erika Old has left the organisation. Her successor \
             is John New (john.new@school.example).",
            "Erika Old hat die Einrichtung verlassen; Nachfolge: John New <john.new@school.example>",
            "john.new@school.example",
        ),
    ];
    let api = a.api_caller("review").await;
    for (i, (old, org, body, reason, new)) in cases.into_iter().enumerate() {
        let c = a.contact(old, vec![t, garten]).await;
        a.sql
            .exec(
                "UPDATE contacts SET organisation = $1 WHERE id = $2",
                &[org.into(), c.into()],
            )
            .await;
        activation::join_group(
            &a.db,
            c.into(),
            Some(t.into()),
            None,
            &Cause::Admin { by: "test".into() },
        )
        .await
        .unwrap();
        let mails_before = a.mails().len();
        auto_reply(&a, c, campaign, occasion, old, &format!("ar{i}@x"), body).await;

        // Proposed, nothing else: no successor, no mail, the relation stands.
        let proposal = a
            .sql
            .rows(
                "SELECT id, reason FROM decisions WHERE contact_id = $1 AND action = 'successor' AND status = 'pending'",
                &[c.into()],
            )
            .await;
        assert_eq!(proposal.len(), 1, "{proposal:?}");
        assert_eq!(proposal[0][1], reason);
        assert!(
            store::contacts::get(&a.db, new).await.is_err(),
            "nobody created yet"
        );
        assert_eq!(
            a.mails().len(),
            mails_before,
            "nothing sent to the successor"
        );
        assert_eq!(
            a.relations(c).await,
            [("group".to_string(), "confirmed".to_string())]
        );

        // Accepted: the old relations end, the successor is pending with the organisation
        // and both topics (the answered campaign's first), and gets one confirmation request.
        let r = api
            .request(
                reqwest::Method::POST,
                &format!("/review/{}/accept", proposal[0][0]),
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        assert_eq!(
            a.relations(c).await,
            [("group".to_string(), "ended".to_string())]
        );
        let s = store::contacts::get(&a.db, new).await.unwrap();
        assert_eq!(s.organisation.as_deref(), Some(org));
        assert_eq!(a.status(s.id, t).await.as_deref(), Some("pending"));
        assert_eq!(a.status(s.id, garten).await.as_deref(), Some("pending"));
        let mails = a.mails();
        assert_eq!(mails.len(), mails_before + 1, "one confirmation request");
        assert!(mails.last().unwrap().contains(new));
        // The old contact's timeline keeps the ended relation.
        let d = store::contacts::detail(&a.db, old, 180).await.unwrap();
        assert!(d
            .timeline
            .iter()
            .any(|e| e.kind == "relation" && e.detail.contains("ended")));
    }
}
