//! Consent: double opt-in that a link scanner cannot confirm, one-click unsubscribe (RFC 8058),
//! the preferences page and "forget me", an opt-out that no form post or import undoes, and at
//! most three confirmation mails a day to one address.

use crate::support::app::CLIENT;
use crate::support::{app::link_in, text, App, Backend};
use netzpost::store;
use netzpost::token::Purpose;
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;

each_db!(async
    subscribe_double_opt_in_and_scanner_safe_confirm,
    unsubscribe_one_click_is_idempotent,
    preferences_toggle_language_and_forget,
);

async fn subscribe_double_opt_in_and_scanner_safe_confirm(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let (s, page) = a.get("/s/nachbarschaft").await;
    assert_eq!(s, 200);
    assert!(page.contains("name=\"website\""), "honeypot field present");
    assert!(page.contains("<label for=\"email\">"));
    let (s, page) = a
        .post_form(
            "/s/nachbarschaft",
            "email=neu%40example.org&name=Neu&language=de&website=",
        )
        .await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Postfach"), "{page}");
    let contact = store::contacts::get(&a.db, "neu@example.org")
        .await
        .unwrap();
    assert_eq!(a.status(contact.id, t).await.as_deref(), Some("pending"));
    let mails = a.mails();
    assert_eq!(mails.len(), 1, "one confirmation mail");
    let link = link_in(&mails[0], &format!("{}/c/", a.base));
    let path = link.strip_prefix(&a.base).unwrap().to_string();

    // A scanner's GET shows a button and changes nothing.
    let (s, page) = a.get(&path).await;
    assert_eq!(s, 200);
    assert!(page.contains("<form method=\"post\""), "{page}");
    assert_eq!(a.status(contact.id, t).await.as_deref(), Some("pending"));

    let (s, page) = a.post_form(&path, "").await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("bestätigt"));
    assert_eq!(a.status(contact.id, t).await.as_deref(), Some("confirmed"));
    // Twice is fine and changes nothing.
    let (s, _) = a.post_form(&path, "").await;
    assert_eq!(s, 200);
    assert_eq!(a.status(contact.id, t).await.as_deref(), Some("confirmed"));
    // English on request.
    let (s, page) = a.get(&format!("{path}?lang=en")).await;
    assert_eq!(s, 200);
    assert!(page.contains("Confirm subscription"), "{page}");
    let r = a
        .http
        .get(a.url("/s/nachbarschaft"))
        .header("accept-language", "en-GB,en;q=0.9,de;q=0.5")
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("E-mail address"));
}

async fn unsubscribe_one_click_is_idempotent(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let other = a.topic("garten").await;
    let c = a.contact("u@example.org", vec![t, other]).await;
    let (campaign, _) = a.invitation(t).await;
    let token = a.sign(Purpose::Unsubscribe, campaign, c, 0, None);
    let path = format!("/u/{token}");
    // GET: one button, nothing changed.
    let (s, page) = a.get(&path).await;
    assert_eq!(s, 200);
    assert!(
        page.contains("name=\"List-Unsubscribe\" value=\"One-Click\""),
        "{page}"
    );
    assert_eq!(a.status(c, t).await.as_deref(), Some("confirmed"));
    // A POST without the RFC 8058 field does nothing.
    assert_eq!(a.post_form(&path, "foo=bar").await.0, 400);
    assert_eq!(a.status(c, t).await.as_deref(), Some("confirmed"));
    // The one-click POST, as a mail client sends it.
    let (s, _) = a.post_form(&path, "List-Unsubscribe=One-Click").await;
    assert_eq!(s, 200);
    assert_eq!(a.status(c, t).await.as_deref(), Some("unsubscribed"));
    assert_eq!(
        a.status(c, other).await.as_deref(),
        Some("confirmed"),
        "only the campaign's topic"
    );
    let (s, _) = a.post_form(&path, "List-Unsubscribe=One-Click").await;
    assert_eq!(s, 200, "repeated one-click POST");
    let consent_events = store::contacts::detail(&a.db, "u@example.org", 180)
        .await
        .unwrap()
        .timeline
        .iter()
        .filter(|x| x.kind == "consent")
        .count();
    assert_eq!(consent_events, 1, "the repeat changed nothing");
    // multipart/form-data (RFC 8058 prefers it).
    let token2 = a.sign(Purpose::Unsubscribe, 0, c, other, None);
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
    let r = a
        .http
        .post(a.url(&format!("/u/{token2}")))
        .header(CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(a.status(c, other).await.as_deref(), Some("unsubscribed"));
    // Wrong content type.
    let r = a
        .http
        .post(a.url(&path))
        .header(CONTENT_TYPE, "text/plain")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
}

async fn preferences_toggle_language_and_forget(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let g = a.topic("garten").await;
    let c = a.contact("p@example.org", vec![t]).await;
    let token = a.sign(Purpose::Preferences, 0, c, t, None);
    let path = format!("/p/{token}");
    let (s, page) = a.get(&path).await;
    assert_eq!(s, 200);
    assert!(page.contains("p@example.org"));
    assert!(
        page.contains(&format!("name=\"topic_{t}\" value=\"on\" checked")),
        "{page}"
    );
    // Off for one topic, on for the other, English.
    let (s, page) = a
        .post_form(&path, &format!("topic_{g}=on&language=en"))
        .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(a.status(c, t).await.as_deref(), Some("unsubscribed"));
    assert_eq!(a.status(c, g).await.as_deref(), Some("confirmed"));
    let contact = store::contacts::by_id(&a.db, c.into()).await.unwrap();
    assert_eq!(contact.language.as_deref(), Some("en"));
    assert_eq!(a.post_form(&path, "language=xx").await.0, 400);
    // Forget needs the tick.
    assert_eq!(a.post_form(&format!("{path}/forget"), "").await.0, 400);
    assert!(store::contacts::by_id(&a.db, c.into()).await.is_ok());
    let (s, _) = a.post_form(&format!("{path}/forget"), "confirm=yes").await;
    assert_eq!(s, 200);
    assert!(store::contacts::by_id(&a.db, c.into()).await.is_err());
    assert!(store::suppressions::is_suppressed(&a.db, "p@example.org")
        .await
        .unwrap());
    // The link now leads nowhere, clearly.
    assert_eq!(a.get(&path).await.0, 410);
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_form_and_import_never_undo_an_unsubscribe_only_the_confirm_button_does() {
    let a = App::start().await;
    let t = a.topic("nachbarschaft").await;
    let c = a.contact("erika@example.org", vec![t]).await;
    // One-click unsubscribe (RFC 8058) from a mail.
    let unsub = a.sign(Purpose::Unsubscribe, 0, c, t, None);
    let (s, _) = a
        .post_form_from(CLIENT, &format!("/u/{unsub}"), "List-Unsubscribe=One-Click")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a.status(c, t).await.as_deref(), Some("unsubscribed"));

    // Anyone posts the address to the subscribe form: a confirmation mail, no change.
    let before = a.mails().len();
    let (s, page) = a
        .post_form_from(CLIENT, "/s/nachbarschaft", "email=erika%40example.org")
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(
        a.mails().len(),
        before + 1,
        "the confirmation mail goes out"
    );
    assert_eq!(a.status(c, t).await.as_deref(), Some("unsubscribed"));

    // An import with confirmed (or pending) consent leaves it and reports the row.
    let file = a.write(
        "kontakte.csv",
        "email;name\nerika@example.org;Erika\nneu@example.org;Neu\n",
    );
    for consent in ["confirmed", "pending"] {
        let out = a.cli(&[
            "contacts",
            "import",
            file.to_str().unwrap(),
            "--topic",
            "nachbarschaft",
            "--consent",
            consent,
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out)
                .contains("line 2: erika@example.org unsubscribed from topic \"nachbarschaft\""),
            "{}",
            text(&out)
        );
        let rejects =
            std::fs::read_to_string(format!("{}.rejects.csv", file.to_str().unwrap())).unwrap();
        assert!(
            rejects.contains("an import does not renew consent"),
            "{rejects}"
        );
        assert_eq!(a.status(c, t).await.as_deref(), Some("unsubscribed"));
    }
    let neu = store::contacts::get(&a.db, "neu@example.org")
        .await
        .unwrap();
    assert_eq!(a.status(neu.id, t).await.as_deref(), Some("confirmed"));

    // The person's own confirmed action (the button of the confirmation link) renews it.
    let confirm = a.sign(Purpose::Confirm, 0, c, t, None);
    let (s, _) = a.get_from(CLIENT, &format!("/c/{confirm}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        a.status(c, t).await.as_deref(),
        Some("unsubscribed"),
        "a GET changes nothing"
    );
    let (s, _) = a.post_form_from(CLIENT, &format!("/c/{confirm}"), "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a.status(c, t).await.as_deref(), Some("confirmed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn at_most_three_confirmation_mails_per_address_a_day_whatever_the_client_address() {
    let a = App::start().await;
    let t = a.topic("nachbarschaft").await;
    // Twelve posts in seconds, each from another client address.
    for i in 0..12 {
        let (s, page) = a
            .post_form_from(
                &format!("198.51.100.{i}"),
                "/s/nachbarschaft",
                "email=opfer%40example.org",
            )
            .await;
        assert_eq!(s, StatusCode::OK, "the same answer every time: {page}");
    }
    assert_eq!(a.mails().len(), 3);
    let c = store::contacts::get(&a.db, "opfer@example.org")
        .await
        .unwrap();
    assert_eq!(a.status(c.id, t).await.as_deref(), Some("pending"));
    let timeline = store::contacts::detail(&a.db, "opfer@example.org", 180)
        .await
        .unwrap();
    let noted = serde_json::to_value(&timeline).unwrap()["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["kind"] == "confirmation")
        .count();
    assert_eq!(noted, 3, "each mail is on the timeline");
    // Another address is not held up.
    let (s, _) = a
        .post_form_from(
            "198.51.100.99",
            "/s/nachbarschaft",
            "email=jemand%40example.org",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a.mails().len(), 4);
}
