//! Consent that lives (issue 17): opt-in by a reply "Ja" to the confirmation mail.

use crate::support::{angle_addr, App, Backend, Mail};
use netzpost::store;

each_db!(async
    a_reply_ja_to_the_confirmation_confirms_and_one_from_another_address_does_not,
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
