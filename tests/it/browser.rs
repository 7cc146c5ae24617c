//! End to end in a real browser (headless Chromium through chromedriver): a person subscribes
//! through the form, confirms through the mail in the file outbox, answers an RSVP link from an
//! invitation, and an admin signs in and finds them as an encounter on the dashboard.
//! Screenshots of the dashboard and the preferences page go to `docs/`.

use crate::support::app::link_in;
use crate::support::browser::Driver;
use crate::support::App;
use netzpost::domain::{ConsentStatus, EmailAddress};
use netzpost::outbound::campaign::{self, CreateArgs};
use netzpost::store;
use netzpost::store::campaigns::{Audience, CampaignKind};
use netzpost::store::contacts::ImportRow;
use netzpost::store::occasions::NewOccasion;
use netzpost::web;
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: apt-get install chromium chromium-driver (run by .ci/run)"]
async fn subscribe_confirm_rsvp_and_see_the_encounter_on_the_dashboard() {
    let a = App::start_with(|c| c.http.trusted_proxies.clear()).await;
    let (db, cfg, base) = (&a.db, &a.cfg, &a.base);

    // A small network: a topic with silent contacts, an occasion, an admin password.
    let topic = store::topics::add(db, "nachbarschaft", "Nachbarschaft Nordstadt", None)
        .await
        .unwrap();
    for (email, name) in [
        ("amira@example.org", "Amira K."),
        ("jonas@example.org", "Jonas B."),
        ("fatma@example.org", "Fatma Y."),
        ("lena@example.org", "Lena S."),
    ] {
        store::contacts::upsert_one(
            db,
            &ImportRow {
                email: EmailAddress::parse(email).unwrap(),
                name: Some(name.into()),
                organisation: None,
                language: Some("de".into()),
                attributes: Default::default(),
                topics: vec![topic.id],
            },
            ConsentStatus::Confirmed,
            "kontakte.csv",
        )
        .await
        .unwrap();
    }
    store::occasions::add(
        db,
        &NewOccasion {
            slug: "cafe".into(),
            title: "Nachbarschaftscafé".into(),
            starts_at: chrono::Utc::now() + chrono::Duration::days(14),
            ends_at: None,
            place: Some("Stadtteilladen, Nordstraße 5".into()),
            description: None,
            capacity: Some(30),
            topic_id: Some(topic.id),
        },
    )
    .await
    .unwrap();
    web::auth::set_password(db, "admin", "browser-test-passwort")
        .await
        .unwrap();

    let b = Driver::start().await;
    let me = "sam.neu@example.org";

    // 1. Subscribe through the form.
    b.goto(&format!("{base}/s/nachbarschaft")).await;
    b.type_into("#email", me).await;
    b.type_into("#name", "Sam Neu").await;
    b.click("button[type=submit]").await;
    b.wait_for("Postfach").await;
    let contact = store::contacts::get(db, me).await.unwrap();

    // 2. Confirm through the mail in the file outbox.
    let confirm_mail = a
        .mails()
        .into_iter()
        .find(|m| m.contains(me))
        .expect("confirmation mail in the outbox");
    let confirm = link_in(&confirm_mail, &format!("{base}/c/"));
    b.goto(&confirm).await;
    let subs = store::contacts::subscriptions(db, contact.id)
        .await
        .unwrap();
    assert_eq!(
        subs[0].status.as_str(),
        "pending",
        "opening the link alone confirms nothing"
    );
    b.click("button[type=submit]").await;
    b.wait_for("Anmeldung bestätigt").await;
    let subs = store::contacts::subscriptions(db, contact.id)
        .await
        .unwrap();
    assert_eq!(subs[0].status.as_str(), "confirmed");

    // 3. An invitation to the silent contacts goes out; answer its RSVP link.
    let composer = a.engine.composer().clone();
    let c = campaign::create(
        db,
        &composer,
        &CreateArgs {
            name: "einladung-cafe".into(),
            kind: CampaignKind::Invitation,
            topic: None,
            occasion: Some("cafe".into()),
            subject: String::new(),
            body: "Wir laden Sie herzlich zum Nachbarschaftscafé ein.".into(),
            translations: Default::default(),
            audience: Audience::default(),
            schedule: None,
            send_at: None,
        },
    )
    .await
    .unwrap();
    let queued = campaign::start(db, cfg, &c).await.unwrap();
    assert_eq!(queued, 5);
    a.engine.run_until_idle().await.unwrap();
    let invitation = a
        .mails()
        .into_iter()
        .find(|m| m.contains(me) && m.contains("/r/"))
        .expect("invitation in the outbox");
    let yes = link_in(&invitation, &format!("{base}/r/"));
    let yes = format!(
        "{}/yes",
        yes.trim_end_matches(|ch: char| ch != '/')
            .trim_end_matches('/')
    );
    b.goto(&yes).await;
    b.wait_for("Ja, ich komme").await;
    b.click("button[type=submit]").await;
    b.wait_for("Danke für Ihre Antwort").await;
    let rel = store::relations::for_contact(db, contact.id).await.unwrap();
    assert_eq!(rel[0].form.as_str(), "encounter");
    assert_eq!(rel[0].status.as_str(), "confirmed");
    assert_eq!(rel[0].cause_kind, "link");

    // 4. The admin signs in and finds the contact as an encounter on the dashboard.
    b.goto(&format!("{base}/admin")).await;
    b.type_into("#password", "browser-test-passwort").await;
    b.click("button[type=submit]").await;
    let dash = b.wait_for("Aktivierung stiller Kontakte").await;
    let recent = &dash[dash.find("id=\"recent\"").expect("recent activations list")..];
    let row = &recent[recent.find(me).expect("the contact on the dashboard")..];
    let row = &row[..row.find("</li>").unwrap()];
    assert!(row.contains("hat zugesagt"), "{row}");
    assert!(row.contains("Nachbarschaftscafé"), "{row}");
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    b.screenshot(&docs.join("screenshot-dashboard.png")).await;

    // 5. The preferences page from the invitation's footer.
    let prefs = link_in(&invitation, &format!("{base}/p/"));
    b.goto(&prefs).await;
    let page = b.source().await;
    assert!(page.contains("Ihre Einstellungen") && page.contains(me));
    b.screenshot(&docs.join("screenshot-preferences.png")).await;

    b.quit().await;
    a.stop().await;
}
