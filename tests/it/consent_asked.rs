//! Contacts left pending by an import or the API are asked once, by the same confirmation mail
//! as a sign-up (a reply "Ja" or the button), and a reply "Ja" confirms them.

use crate::support::{Person, Workspace};

fn consent_of(ws: &Workspace, email: &str) -> String {
    ws.sql(&format!(
        "SELECT s.status FROM subscriptions s JOIN contacts c ON c.id = s.contact_id
         WHERE c.email = '{email}'"
    ))[0][0]
        .clone()
}

#[test]
fn an_import_with_pending_consent_asks_each_new_person_once_and_ja_confirms() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "nachbarschaft"]);
    let people = vec![
        Person::new("anna@nachbarn.example", "Anna", "de"),
        Person::new("bob@nachbarn.example", "Bob", "en"),
    ];
    let out = ws.import(&people, "nachbarschaft", "pending");
    let said = crate::support::workspace::text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("2 asked by mail to confirm"), "{said}");
    let mails = ws.outbox_messages();
    assert_eq!(mails.len(), 2);
    let anna = mails
        .iter()
        .find(|m| m.envelope_to[0] == "anna@nachbarn.example")
        .unwrap();
    assert!(
        anna.text.as_deref().unwrap().contains("„Ja“"),
        "{:?}",
        anna.text
    );
    let reply_to = anna.header("Reply-To").to_string();
    assert!(reply_to.contains("antwort+"), "{reply_to}");

    // The same import again asks nobody twice.
    let again = ws.import(&people, "nachbarschaft", "pending");
    assert!(crate::support::workspace::text(&again).contains("0 asked"));
    assert_eq!(ws.outbox_count(), 2);

    // Anna answers "Ja": confirmed; Bob stays pending.
    let raw = format!(
        "From: anna@nachbarn.example\r\nTo: {reply_to}\r\nSubject: Re: Anmeldung\r\n\
         Message-ID: <ja-1@nachbarn.example>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0100\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nJa\r\n"
    );
    ws.np(&["inbound", "ingest", "-"])
        .write_stdin(raw)
        .assert()
        .success();
    assert_eq!(consent_of(&ws, "anna@nachbarn.example"), "confirmed");
    assert_eq!(consent_of(&ws, "bob@nachbarn.example"), "pending");
}

#[test]
fn an_import_with_confirmed_consent_asks_nobody() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.import_ok(
        &[Person::new("anna@nachbarn.example", "Anna", "de")],
        "nachbarschaft",
        "confirmed",
    );
    assert_eq!(ws.outbox_count(), 0);
}

#[tokio::test]
async fn a_contact_the_api_creates_as_pending_is_asked_to_confirm() {
    let a = crate::support::App::start().await;
    a.topic("nachbarschaft").await;
    let api = a.api_caller("crm").await;
    let r = api
        .request(reqwest::Method::POST, "/contacts")
        .json(&serde_json::json!({"email": "neu@nachbarn.example", "topics": ["nachbarschaft"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let mails = a.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].contains("neu@nachbarn.example") && mails[0].contains("antwort+"));
    a.stop().await;
}
