//! The admin API over HTTP: bearer tokens (and the CLI that makes them), contacts, topics,
//! occasions and campaigns, the review queue, and the inbound webhook.

use crate::support::{App, Backend};
use netzpost::store;
use netzpost::store::occasions::NewOccasion;
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::{json, Value};

each_db!(async
    api_auth_no_wrong_and_revoked_tokens,
    cli_tokens_create_list_revoke,
    api_contacts_topics_occasions_campaigns,
    api_review_queue_accept_reject_undo,
    api_inbound_webhook,
    api_edits_cancels_and_records_attendance,
);

async fn api_auth_no_wrong_and_revoked_tokens(backend: Backend) {
    let a = App::on(backend).await;
    let r = a.http.get(a.url("/api/contacts")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let error = r.json::<Value>().await.unwrap()["error"].to_string();
    assert!(!error.contains("netzpost "), "{error}");
    let r = a
        .http
        .get(a.url("/api/contacts"))
        .bearer_auth("np_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let token = a.api_token("skript").await;
    let r = a
        .http
        .get(a.url("/api/contacts"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!([]));
    // Revoked through the CLI code.
    let mut out = Vec::new();
    netzpost::cli::tokens::run(
        &a.db,
        netzpost::cli::tokens::TokensCmd::Revoke {
            name: "skript".into(),
        },
        netzpost::output::Format::Table,
        &mut out,
    )
    .await
    .unwrap();
    let r = a
        .http
        .get(a.url("/api/contacts"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The description needs no token.
    let r = a.http.get(a.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/campaigns/{name}/{action}"]["post"].is_object());
    assert_eq!(
        doc["paths"]["/reports/funnel"]["get"]["parameters"][0]["name"],
        "days"
    );
    let item = &doc["components"]["schemas"]["ReviewItem"]["properties"];
    for field in ["text", "contact_id", "action", "reason", "status"] {
        assert!(item[field].is_object(), "ReviewItem.{field}: {item}");
    }
    assert_eq!(
        a.http
            .get(a.url("/api/nothing"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

async fn cli_tokens_create_list_revoke(backend: Backend) {
    let a = App::on(backend).await;
    use netzpost::cli::tokens::{run as run_tokens, TokensCmd};
    use netzpost::output::Format;
    let mut out = Vec::new();
    run_tokens(
        &a.db,
        TokensCmd::Create { name: "etl".into() },
        Format::Table,
        &mut out,
    )
    .await
    .unwrap();
    let secret = String::from_utf8(out).unwrap().trim().to_string();
    assert!(secret.starts_with("np_") && secret.len() > 60);
    let mut again = Vec::new();
    assert!(run_tokens(
        &a.db,
        TokensCmd::Create { name: "etl".into() },
        Format::Table,
        &mut again
    )
    .await
    .is_err());
    let mut list = Vec::new();
    run_tokens(&a.db, TokensCmd::List, Format::Csv, &mut list)
        .await
        .unwrap();
    let list = String::from_utf8(list).unwrap();
    assert!(list.contains("etl") && !list.contains(&secret), "{list}");
    let stored = a.sql.column("SELECT token_hash FROM api_tokens", &[]).await;
    assert!(stored.iter().all(|h| h.len() == 64 && !h.contains(&secret)));
    let mut out = Vec::new();
    run_tokens(
        &a.db,
        TokensCmd::Revoke { name: "etl".into() },
        Format::Table,
        &mut out,
    )
    .await
    .unwrap();
    assert!(run_tokens(
        &a.db,
        TokensCmd::Revoke { name: "etl".into() },
        Format::Table,
        &mut Vec::new()
    )
    .await
    .is_err());
}

async fn api_contacts_topics_occasions_campaigns(backend: Backend) {
    let a = App::on(backend).await;
    let api = a.api_caller("admin-skript").await;
    // Topics.
    let r = api
        .request(Method::POST, "/topics")
        .json(&json!({"name": "nachbarschaft", "title": "Nachbarschaft <Nord>"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = api
        .request(Method::POST, "/topics")
        .json(&json!({"name": "nachbarschaft"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = api
        .request(Method::POST, "/topics")
        .json(&json!({"name": "Böse Leerzeichen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let topics: Value = api.get_json("/topics").await;
    assert_eq!(topics[0]["title"], "Nachbarschaft <Nord>");
    // Contacts: create (malformed, unknown field, wrong type, bad address, then good).
    let r = api
        .request(Method::POST, "/contacts")
        .header(CONTENT_TYPE, "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = api
        .request(Method::POST, "/contacts")
        .header(CONTENT_TYPE, "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = api
        .request(Method::POST, "/contacts")
        .json(&json!({"email": "a@b.de", "evil": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = api
        .request(Method::POST, "/contacts")
        .json(&json!({"email": "kein-at"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = api
        .request(Method::POST, "/contacts")
        .json(&json!({"email": "a@b.de", "topics": ["gibtsnicht"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // In plain words: a caller of the API has no shell to type a command into.
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "unknown topic \"gibtsnicht\""})
    );
    let r = api.request(Method::POST, "/contacts")
        .json(&json!({"email": "Still@Example.org", "name": "Robert'); DROP TABLE contacts;--", "topics": ["nachbarschaft"], "consent": "confirmed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let list: Value = api.get_json("/contacts?silent=true").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Robert'); DROP TABLE contacts;--");
    let list: Value = api
        .get_json("/contacts?topic=nachbarschaft&form=encounter")
        .await;
    assert_eq!(list, json!([]));
    assert_eq!(api.status(Method::GET, "/contacts?form=freund").await, 400);
    assert_eq!(api.status(Method::GET, "/contacts?bogus=1").await, 400);
    let d: Value = api.get_json("/contacts/still@example.org").await;
    assert_eq!(d["silent"], true);
    assert!(!d["timeline"].as_array().unwrap().is_empty());
    // The timeline is described when it is read, in the caller's language.
    let mut first = Vec::new();
    for lang in ["de", "en"] {
        let d: Value = api
            .request(Method::GET, "/contacts/still@example.org")
            .header("Accept-Language", lang)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        first.push(d["timeline"][0]["summary"].as_str().unwrap().to_string());
    }
    assert!(first[0].starts_with("importiert aus api:"), "{first:?}");
    assert!(first[1].starts_with("imported from api:"), "{first:?}");
    assert_eq!(
        api.status(Method::GET, "/contacts/niemand@example.org")
            .await,
        404
    );
    // Occasions and campaigns.
    store::occasions::add(
        &a.db,
        &NewOccasion {
            slug: "cafe".into(),
            title: "Café".into(),
            starts_at: chrono::Utc::now() + chrono::Duration::days(3),
            ends_at: None,
            place: None,
            description: None,
            capacity: None,
            topic_id: Some(store::topics::get(&a.db, "nachbarschaft").await.unwrap().id),
        },
    )
    .await
    .unwrap();
    let occ: Value = api.get_json("/occasions").await;
    assert_eq!(occ[0]["slug"], "cafe");
    let one: Value = api.get_json("/occasions/cafe").await;
    assert_eq!(one["rsvps"], json!([]));
    assert_eq!(api.status(Method::GET, "/occasions/nope").await, 404);
    let r = api.request(Method::POST, "/campaigns")
        .json(&json!({"name": "einladung", "kind": "invitation", "occasion": "cafe", "body": "Hallo {{ contact.name }}"}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = api.request(Method::POST, "/campaigns")
        .json(&json!({"name": "mehrsprachig", "kind": "newsletter", "topic": "nachbarschaft", "body": "Neues.",
            "translations": {"tr": {"subject": "Haberler", "body": "Yeni haberler."}, "ar": {"body": "أخبار جديدة."}}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["translations"]["tr"]["subject"], "Haberler");
    assert_eq!(c["translations"]["ar"]["body"], "أخبار جديدة.");
    let r = api
        .request(Method::POST, "/campaigns")
        .json(
            &json!({"name": "unbekannt", "kind": "newsletter", "topic": "nachbarschaft",
            "translations": {"xx": {"body": "?"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "an unknown language is refused");
    let r = api.request(Method::POST, "/campaigns")
        .json(&json!({"name": "kaputt", "kind": "newsletter", "topic": "nachbarschaft", "body": "{{ gibtsnicht.x }}"}))
        .send().await.unwrap();
    assert_eq!(r.status(), 422, "template errors are caught at creation");
    let r = api
        .request(Method::POST, "/campaigns")
        .json(&json!({"name": "x", "kind": "spam"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // Test send and scheduling, before the real send.
    let r = api
        .request(
            Method::POST,
            "/campaigns/einladung/test?address=probe@example.org&language=en",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let outbox = a.outbox.clone();
    let probe = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .find(|m| m.contains("To: probe@example.org"));
    assert!(probe.is_some(), "the test message is in the outbox");
    assert_eq!(
        api.status(Method::POST, "/campaigns/einladung/test").await,
        422,
        "test needs an address"
    );
    let r = api
        .request(
            Method::POST,
            "/campaigns/einladung/schedule?at=2099-01-01T09:00:00Z",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let show: Value = api.get_json("/campaigns/einladung").await;
    assert_eq!(show["campaign"]["status"], "scheduled");
    assert_eq!(
        api.status(Method::POST, "/campaigns/einladung/schedule?at=morgen")
            .await,
        422
    );
    let r: Value = api
        .request(Method::POST, "/campaigns/einladung/send")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["queued"], 1);
    let show: Value = api.get_json("/campaigns/einladung").await;
    assert_eq!(show["progress"]["queued"], 1);
    assert_eq!(show["campaign"]["status"], "running");
    assert_eq!(
        api.status(Method::POST, "/campaigns/einladung/pause").await,
        200
    );
    assert_eq!(
        api.status(Method::POST, "/campaigns/einladung/pause").await,
        422
    );
    assert_eq!(
        api.status(Method::POST, "/campaigns/einladung/resume")
            .await,
        200
    );
    assert_eq!(
        api.status(Method::POST, "/campaigns/einladung/explode")
            .await,
        404
    );
    assert_eq!(
        api.status(Method::POST, "/campaigns/einladung/cancel")
            .await,
        200
    );
    assert_eq!(
        api.status(Method::POST, "/campaigns/gibtsnicht/send").await,
        404
    );
    let list: Value = api.get_json("/campaigns").await;
    assert_eq!(list[0]["status"], "cancelled");
    let funnel: Value = api.get_json("/reports/funnel").await;
    assert_eq!(funnel["topics"][0]["silent"], 1);
    // Oversized JSON.
    let big = format!(
        "{{\"email\": \"a@b.de\", \"name\": \"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let r = api
        .request(Method::POST, "/contacts")
        .header(CONTENT_TYPE, "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // Update: fields and consent per topic, all or nothing.
    let r = api.request(Method::PATCH, "/contacts/still@example.org")
        .json(&json!({"organisation": "Mieterverein", "language": "English", "consent": {"gibtsnicht": "confirmed"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let d: Value = api.get_json("/contacts/still@example.org").await;
    assert_eq!(d["contact"]["organisation"], Value::Null);
    let r = api.request(Method::PATCH, "/contacts/still@example.org")
        .json(&json!({"organisation": "Mieterverein", "language": "English", "consent": {"nachbarschaft": "unsubscribed"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["contact"]["organisation"], "Mieterverein");
    assert_eq!(d["contact"]["language"], "en");
    assert_eq!(d["subscriptions"][0]["status"], "unsubscribed");
    assert_eq!(
        d["contact"]["name"], "Robert'); DROP TABLE contacts;--",
        "untouched fields stay"
    );
    let r = api
        .request(Method::PATCH, "/contacts/still@example.org")
        .json(&json!({"language": "Klingonisch"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // Preview of the message a contact would get.
    let r = api
        .request(
            Method::GET,
            "/campaigns/einladung/preview?to=still@example.org",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Subject:"));
    assert_eq!(
        api.status(
            Method::GET,
            "/campaigns/einladung/preview?to=niemand@example.org"
        )
        .await,
        404
    );
    // CSV import, German Excel style, with a reject.
    let csv = "E-Mail;Vorname;Nachname;Verein\r\nanna@example.org;Anna;Berg;Kleingarten e.V.\r\nkaputt;X;Y;Z\r\n";
    let r = api
        .request(
            Method::POST,
            "/contacts/import?topic=nachbarschaft&consent=confirmed",
        )
        .header(CONTENT_TYPE, "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["created"], 1);
    assert_eq!(report["rejected"], 1);
    assert_eq!(report["rejects"][0]["line"], 3);
    let anna: Value = api.get_json("/contacts/anna@example.org").await;
    assert_eq!(anna["contact"]["organisation"], "Kleingarten e.V.");
    let r = api
        .request(Method::POST, "/contacts/import")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = api
        .request(Method::POST, "/contacts/import?topic=gibtsnicht")
        .header(CONTENT_TYPE, "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = api
        .request(Method::POST, "/contacts/import")
        .header(CONTENT_TYPE, "text/csv")
        .body("foo;bar\r\n1;2\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "no e-mail column");
    // Forget.
    assert_eq!(
        api.status(Method::DELETE, "/contacts/still@example.org")
            .await,
        204
    );
    assert_eq!(
        api.status(Method::DELETE, "/contacts/still@example.org")
            .await,
        404
    );
    let r = api
        .request(Method::POST, "/contacts")
        .json(&json!({"email": "still@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "a forgotten address does not come back");
}

async fn api_review_queue_accept_reject_undo(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let c = a.contact("r@example.org", vec![t]).await;
    let d1 = a.pending_decision(c, 1).await;
    let d2 = a.pending_decision(c, 2).await;
    let api = a.api_caller("review").await;
    let list = api.get_json("/review").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let r = api
        .request(Method::POST, &format!("/review/{d1}/accept"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(
        api.status(Method::POST, &format!("/review/{d1}/accept"))
            .await,
        409
    );
    assert_eq!(
        api.status(Method::POST, &format!("/review/{d1}/undo"))
            .await,
        200
    );
    assert_eq!(
        api.status(Method::POST, &format!("/review/{d2}/reject"))
            .await,
        200
    );
    assert_eq!(
        api.status(Method::POST, &format!("/review/{d2}/undo"))
            .await,
        409
    );
    assert_eq!(api.status(Method::POST, "/review/999/accept").await, 404);
    assert_eq!(
        api.status(Method::POST, &format!("/review/{d2}/maybe"))
            .await,
        404
    );
    assert_eq!(api.status(Method::POST, "/review/abc/accept").await, 400);
    let all = api.get_json("/review?all=true").await;
    let statuses: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["rejected", "undone"]);
}

/// The HTTP inbound source: a provider's inbound webhook posts raw messages with a bearer token.
async fn api_inbound_webhook(backend: Backend) {
    let a = App::on(backend).await;
    let mail = "From: jemand@example.org\r\nTo: antwort@reply.nordstadt.example\r\n\
                Subject: Re: Einladung\r\nMessage-ID: <hook-1@example.org>\r\n\r\nIch komme gern.\r\n";
    let r = a
        .http
        .post(a.url("/api/inbound"))
        .body(mail)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no token, no mail");
    let token = a.api_token("webhook").await;
    let post = |ct: &'static str| {
        a.http
            .post(a.url("/api/inbound"))
            .bearer_auth(&token)
            .header("content-type", ct)
            .body(mail)
    };
    assert_eq!(post("application/json").send().await.unwrap().status(), 415);
    let r = post("message/rfc822").send().await.unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["duplicate"], false);
    let r = post("message/rfc822").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["duplicate"], true);
    let n = a
        .sql
        .i64(
            "SELECT COUNT(*) FROM inbound_messages WHERE source = 'http' AND status = 'processed'",
            &[],
        )
        .await;
    assert_eq!(n, 1, "stored once and processed");
}

/// Whose fault an error is decides its status: a test send while the mail server is down is
/// 503 (try again later), not 422 as if the request were wrong; a campaign that does not exist
/// is 404; an address that is no address stays 422.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
async fn a_test_send_while_the_mail_server_is_down_is_503_not_the_callers_fault() {
    let mut smtpd = crate::support::smtpd::Smtpd::start(&[]);
    let port = smtpd.port;
    let a = App::start_with(|c| {
        c.outbound.transport = netzpost::config::TransportKind::Smtp;
        c.outbound.smtp.host = "127.0.0.1".into();
        c.outbound.smtp.port = port;
        c.outbound.smtp.tls = netzpost::transport::TlsMode::None;
        c.outbound.smtp.timeout_secs = 2;
    })
    .await;
    let api = a.api_caller("skript").await;
    a.topic("nachbarschaft").await;
    let r = api
        .request(Method::POST, "/campaigns")
        .json(&json!({"name": "brief", "kind": "newsletter", "topic": "nachbarschaft", "body": "Hallo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let status = |p: &'static str| api.status(Method::POST, p);
    assert_eq!(
        status("/campaigns/brief/test?address=probe@example.org").await,
        200
    );
    smtpd.down();
    assert_eq!(
        status("/campaigns/brief/test?address=probe@example.org").await,
        503,
        "the mail server is down: not the caller's fault"
    );
    assert_eq!(
        status("/campaigns/gibtsnicht/test?address=probe@example.org").await,
        404
    );
    assert_eq!(
        status("/campaigns/brief/test?address=keine-adresse").await,
        422
    );
}

/// A withdrawn consent comes back only by the person's own confirmed action: an admin's PATCH
/// that would confirm it again is refused with 409 and changes nothing (neither that topic nor
/// the others named with it); withdrawing and confirming where nothing was withdrawn still work.
#[tokio::test]
async fn an_admin_cannot_confirm_a_consent_the_person_withdrew() {
    let a = App::start().await;
    let api = a.api_caller("admin-skript").await;
    let kultur = a.topic("kultur").await;
    let sport = a.topic("sport").await;
    let c = a.contact("weg@example.org", vec![kultur, sport]).await;
    netzpost::activation::withdraw_consent(
        &a.db,
        netzpost::domain::ContactId::from(c),
        Some(netzpost::domain::TopicId::from(kultur)),
        &netzpost::activation::Cause::Link {
            link: netzpost::activation::Link::Unsubscribe,
            evidence: "unsubscribe link (RFC 8058)".into(),
            campaign_id: None,
        },
    )
    .await
    .unwrap();
    let before = (a.status(c, kultur).await, a.status(c, sport).await);
    assert_eq!(before.0.as_deref(), Some("unsubscribed"));
    let patch = |body: Value| {
        api.request(Method::PATCH, "/contacts/weg@example.org")
            .json(&body)
            .send()
    };
    let r = patch(json!({"consent": {"kultur": "confirmed", "sport": "unsubscribed"}}))
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "{}", r.text().await.unwrap());
    assert_eq!(
        (a.status(c, kultur).await, a.status(c, sport).await),
        before
    );
    let r = patch(json!({"consent": {"sport": "unsubscribed"}}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(a.status(c, sport).await.as_deref(), Some("unsubscribed"));
    // Creating the contact again with that consent is an import of one row: the same rule.
    let r = api
        .request(Method::POST, "/contacts")
        .json(&json!({"email": "weg@example.org", "name": "Neu", "topics": ["kultur"], "consent": "confirmed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "{}", r.text().await.unwrap());
    assert_eq!(a.status(c, kultur).await.as_deref(), Some("unsubscribed"));
    let weg = netzpost::store::contacts::get(&a.db, "weg@example.org")
        .await
        .unwrap();
    assert_eq!(weg.name.as_deref(), Some("Erika Muster"), "nothing changed");
}

async fn api_edits_cancels_and_records_attendance(backend: Backend) {
    let a = App::on(backend).await;
    let token = a.api_token("tuer").await;
    let api = |m: reqwest::Method, p: &str| {
        a.http
            .request(m, a.url(&format!("/api{p}")))
            .bearer_auth(&token)
    };
    use reqwest::Method;
    let t = a.topic("nachbarschaft").await;
    let c = a.contact("gast@example.org", vec![t]).await;
    a.invitation(t).await;
    let path = "/occasions/nachbarschaftscafe";
    let r = api(Method::PATCH, path)
        .json(&json!({"start": "2030-06-01 18:00", "place": "Hof", "capacity": 12}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["changed"], json!(["start", "place", "capacity"]));
    assert_eq!(v["occasion"]["sequence"], 1);
    assert_eq!(v["occasion"]["starts_at"], "2030-06-01T16:00:00Z");
    assert_eq!(v["notified"]["sent"], 0, "no invitation went out yet");
    let r = api(Method::PATCH, path)
        .json(&json!({"start": "gestern"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = api(Method::POST, &format!("{path}/attendance"))
        .json(&json!({"came": ["gast@example.org"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(
        a.relation(c, "encounter").await,
        Some(("confirmed".into(), "person".into()))
    );
    let r = api(Method::POST, &format!("{path}/attendance"))
        .json(&json!({"no_show": ["niemand@example.org"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = api(Method::POST, &format!("{path}/cancel"))
        .json(&json!({"reason": "Regen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["occasion"]["cancel_reason"], "Regen");
    assert_eq!(v["occasion"]["sequence"], 2);
    let r = api(Method::POST, &format!("{path}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = api(Method::PATCH, path)
        .json(&json!({"title": "Neu"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
}
