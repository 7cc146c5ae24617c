//! Consent that lives (issue 17): opt-in by a reply "Ja" to the confirmation mail; what was
//! consented to (the form's text, the privacy notice's version) kept with each consent; a
//! person's own data ("Meine Daten") on the preferences page, the CLI and the API.

use crate::support::app::link_in;
use crate::support::{angle_addr, App, Backend, Mail};
use netzpost::activation::{self, Cause};
use netzpost::store;
use netzpost::token::Purpose;

each_db!(async
    a_reply_ja_to_the_confirmation_confirms_and_one_from_another_address_does_not,
    the_consent_text_and_notice_version_are_kept_with_each_consent,
    my_data_holds_exactly_the_persons_data_on_the_page_the_cli_and_the_api,
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
