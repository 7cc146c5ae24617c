//! The web side over real HTTP: the router on 127.0.0.1:0 against a fresh SQLite database in a
//! temporary folder, a file outbox, and reqwest as the client.

use netzpost::config::Config;
use netzpost::domain::{ConsentStatus, EmailAddress};
use netzpost::outbound::sender::Engine;
use netzpost::store::campaigns::{Audience, CampaignKind, NewCampaign};
use netzpost::store::contacts::ImportRow;
use netzpost::store::occasions::NewOccasion;
use netzpost::store::{self, Db};
use netzpost::token::{Claims, Purpose, TokenKey};
use netzpost::web;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;

mod common;
use std::sync::Arc;

const SECRET: &str = "test-secret-test-secret-test-secret";
const FORM: &str = "application/x-www-form-urlencoded";

struct App {
    _dir: tempfile::TempDir,
    base: String,
    db: Db,
    outbox: PathBuf,
    http: Client,
    key: TokenKey,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("np.db").display());
    app_on(dir, url).await
}

/// The same application on a fresh PostgreSQL database (NETZPOST_TEST_POSTGRES_URL).
async fn app_pg() -> App {
    let (db, url) = common::postgres().await;
    db.close().await;
    app_on(tempfile::tempdir().unwrap(), url).await
}

async fn app_on(dir: tempfile::TempDir, database: String) -> App {
    netzpost::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut cfg = Config {
        database,
        secret: SECRET.into(),
        ..Config::default()
    };
    cfg.outbound.outbox = dir.path().join("outbox");
    cfg.http.public_url = base.clone();
    // The tests speak as clients behind a reverse proxy on this host.
    cfg.http.trusted_proxies = vec!["127.0.0.1".into()];
    let cfg = Arc::new(cfg);
    let db = Db::open(&cfg.database).await.unwrap();
    let engine = Engine::new(db.clone(), cfg.clone()).await.unwrap();
    let state =
        web::AppState::new(db.clone(), cfg.clone(), Some(Arc::new(engine.notifier()))).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    web::start_on(state, listener, async move {
        let _ = rx.await;
    })
    .unwrap();
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    App {
        outbox: cfg.outbound.outbox.clone(),
        _dir: dir,
        base,
        db,
        http,
        key: TokenKey::new(SECRET.as_bytes()),
        _stop: tx,
    }
}

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let s = r.status();
        (s, r.text().await.unwrap())
    }

    async fn post_form(&self, path: &str, body: &str) -> (StatusCode, String) {
        let r = self
            .http
            .post(self.url(path))
            .header(CONTENT_TYPE, FORM)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let s = r.status();
        (s, r.text().await.unwrap())
    }

    fn sign(
        &self,
        purpose: Purpose,
        campaign: i64,
        contact: i64,
        extra: i64,
        exp: Option<i64>,
    ) -> String {
        self.key.sign(&Claims {
            purpose,
            campaign_id: campaign,
            contact_id: contact,
            extra,
            expires_at: exp.or(Some(chrono::Utc::now().timestamp() + 3600)),
        })
    }

    async fn topic(&self, slug: &str) -> i64 {
        store::topics::add(&self.db, slug, &format!("Thema {slug}"), None)
            .await
            .unwrap()
            .id
    }

    async fn contact(&self, email: &str, topics: Vec<i64>) -> i64 {
        store::contacts::upsert_one(
            &self.db,
            &ImportRow {
                email: EmailAddress::parse(email).unwrap(),
                name: Some("Erika Muster".into()),
                organisation: None,
                language: Some("de".into()),
                attributes: Default::default(),
                topics,
            },
            ConsentStatus::Confirmed,
            "test",
        )
        .await
        .unwrap()
        .id
    }

    async fn status(&self, contact: i64, topic: i64) -> Option<String> {
        store::contacts::subscriptions(&self.db, contact)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.topic_id == topic)
            .map(|s| s.status)
    }

    fn mails(&self) -> Vec<String> {
        let mut v: Vec<_> = std::fs::read_dir(&self.outbox)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        v.retain(|p: &PathBuf| p.extension().is_some_and(|e| e == "eml"));
        v.sort();
        v.iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    async fn invitation(&self, topic: i64) -> (i64, i64) {
        let o = store::occasions::add(
            &self.db,
            &NewOccasion {
                slug: "nachbarschaftscafe".into(),
                title: "Nachbarschaftscafé".into(),
                starts_at: chrono::Utc::now() + chrono::Duration::days(10),
                ends_at: None,
                place: Some("Stadtteilladen".into()),
                description: None,
                capacity: Some(20),
                topic_id: Some(topic),
            },
        )
        .await
        .unwrap();
        let c = store::campaigns::create(
            &self.db,
            &NewCampaign {
                name: "einladung-cafe".into(),
                kind: CampaignKind::Invitation,
                topic_id: Some(topic),
                occasion_id: Some(o.id),
                subject: String::new(),
                body: "Kommen Sie vorbei!".into(),
                translations: Default::default(),
                audience: Audience::default(),
                schedule: None,
                send_at: None,
                parent_id: None,
            },
        )
        .await
        .unwrap();
        (c.id, o.id)
    }

    async fn relation(&self, contact: i64, form: &str) -> Option<(String, String)> {
        store::relations::for_contact(&self.db, contact)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.form == form)
            .map(|r| (r.status, r.cause_kind))
    }

    async fn api_token(&self, name: &str) -> String {
        web::auth::create_token(&self.db, name).await.unwrap()
    }
}

/// The link with `prefix` in a mail (quoted-printable soft breaks undone first).
fn link_in(mail: &str, prefix: &str) -> String {
    let text = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/:.-_?=&".contains(*c))
        .collect()
}

// ----- operations -----

async fn healthz_and_metrics(a: App) {
    let (s, body) = a.get("/healthz").await;
    assert_eq!(s, 200);
    assert_eq!(body, "ok\n");
    let t = a.topic("nachbarschaft").await;
    a.get("/s/nachbarschaft").await;
    let (s, body) = a.get("/metrics").await;
    assert_eq!(s, 200);
    assert!(body.contains("netzpost_queue_depth 0"), "{body}");
    assert!(
        body.contains(
            "netzpost_http_requests_total{method=\"GET\",route=\"/s/{topic}\",status=\"200\"} 1"
        ),
        "{body}"
    );
    assert!(body.contains(
        "netzpost_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 1"
    ));
    // Campaign and inbound figures come from the database.
    a.contact("m@example.org", vec![t]).await;
    let (campaign, _) = a.invitation(t).await;
    let k = store::campaigns::by_id(&a.db, campaign).await.unwrap();
    store::campaigns::enqueue(
        &a.db,
        &k,
        netzpost::store::campaigns::Caps {
            invitation_every_days: 0,
            max_messages_per_30_days: 100,
            silent_after_days: 180,
        },
    )
    .await
    .unwrap();
    let (_, body) = a.get("/metrics").await;
    assert!(body.contains("netzpost_queue_depth 1"), "{body}");
    assert!(
        body.contains("netzpost_messages_total{campaign=\"einladung-cafe\",status=\"queued\"} 1"),
        "{body}"
    );
}

// ----- subscribe and confirm -----

async fn subscribe_double_opt_in_and_scanner_safe_confirm(a: App) {
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

async fn subscribe_rejects_bad_input(a: App) {
    let t = a.topic("nachbarschaft").await;
    // Unknown topic (and one that is not even a slug).
    assert_eq!(a.get("/s/gibtsnicht").await.0, 404);
    assert_eq!(a.post_form("/s/gibtsnicht", "email=a%40b.de").await.0, 404);
    assert_eq!(a.get("/s/%3Cscript%3E").await.0, 404);
    // Wrong content type.
    let r = a
        .http
        .post(a.url("/s/nachbarschaft"))
        .header(CONTENT_TYPE, "application/json")
        .body(r#"{"email":"a@b.de"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // Oversized.
    let big = format!("email=a%40b.de&name={}", "x".repeat(40_000));
    assert_eq!(a.post_form("/s/nachbarschaft", &big).await.0, 413);
    // Invalid address: 422 with the input shown escaped.
    let (s, page) = a
        .post_form(
            "/s/nachbarschaft",
            "email=%3Cb%3Ekein-at%3C%2Fb%3E&name=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        )
        .await;
    assert_eq!(s, 422);
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)"), "{page}");
    assert!(page.contains("&lt;b&gt;kein-at"), "{page}");
    // Name too long.
    let long = format!("email=x%40example.org&name={}", "n".repeat(201));
    assert_eq!(a.post_form("/s/nachbarschaft", &long).await.0, 422);
    // Honeypot: same answer, nothing stored, nothing sent.
    let (s, _) = a
        .post_form(
            "/s/nachbarschaft",
            "email=bot%40example.org&website=http%3A%2F%2Fspam",
        )
        .await;
    assert_eq!(s, 200);
    assert!(store::contacts::get(&a.db, "bot@example.org")
        .await
        .is_err());
    assert!(a.mails().is_empty());
    assert_eq!(store::contacts::count(&a.db).await.unwrap(), 0);
    let _ = t;
}

async fn subscribe_rate_limit_per_client(a: App) {
    a.topic("nachbarschaft").await;
    let post = |ip: &'static str, n: usize| {
        a.http
            .post(a.url("/s/nachbarschaft"))
            .header(CONTENT_TYPE, FORM)
            .header("x-forwarded-for", ip)
            .body(format!("email=p{n}%40example.org"))
            .send()
    };
    for n in 0..5 {
        assert_eq!(post("203.0.113.7", n).await.unwrap().status(), 200);
    }
    assert_eq!(post("203.0.113.7", 5).await.unwrap().status(), 429);
    assert!(store::contacts::get(&a.db, "p5@example.org").await.is_err());
    // Another client is not affected.
    assert_eq!(post("203.0.113.8", 6).await.unwrap().status(), 200);
}

// ----- unsubscribe -----

async fn unsubscribe_one_click_is_idempotent(a: App) {
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

async fn forged_expired_and_misused_tokens_change_nothing(a: App) {
    let t = a.topic("nachbarschaft").await;
    let c = a.contact("f@example.org", vec![t]).await;
    let (campaign, _) = a.invitation(t).await;
    let good = a.sign(Purpose::Unsubscribe, campaign, c, 0, None);
    // Forged: another key.
    let forged = TokenKey::new(b"not-the-secret").sign(&Claims {
        purpose: Purpose::Unsubscribe,
        campaign_id: campaign,
        contact_id: c,
        extra: 0,
        expires_at: None,
    });
    let (s, page) = a
        .post_form(&format!("/u/{forged}"), "List-Unsubscribe=One-Click")
        .await;
    assert_eq!(s, 400);
    assert!(page.contains("Ungültiger Link"), "{page}");
    // Tampered: one character changed.
    let mut tampered = good.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        a.post_form(&format!("/u/{tampered}"), "List-Unsubscribe=One-Click")
            .await
            .0,
        400
    );
    // Expired (an expired unsubscribe link still works: tests/security.rs).
    let expired = a.sign(
        Purpose::Preferences,
        campaign,
        c,
        0,
        Some(chrono::Utc::now().timestamp() - 10),
    );
    let (s, page) = a.post_form(&format!("/p/{expired}"), "").await;
    assert_eq!(s, 410);
    assert!(page.contains("abgelaufen"), "{page}");
    assert_eq!(a.get(&format!("/p/{expired}?lang=en")).await.0, 410);
    // A token for another purpose.
    let rsvp = a.sign(Purpose::Rsvp, campaign, c, 0, None);
    assert_eq!(
        a.post_form(&format!("/u/{rsvp}"), "List-Unsubscribe=One-Click")
            .await
            .0,
        400
    );
    assert_eq!(a.get(&format!("/p/{rsvp}")).await.0, 400);
    assert_eq!(a.get(&format!("/c/{rsvp}")).await.0, 400);
    // Garbage and overlong.
    assert_eq!(a.get("/u/nichtbase32!!").await.0, 400);
    assert_eq!(a.get(&format!("/u/{}", "a".repeat(500))).await.0, 400);
    assert_eq!(a.status(c, t).await.as_deref(), Some("confirmed"));
    // Forged RSVP.
    let forged_rsvp = TokenKey::new(b"other").sign(&Claims {
        purpose: Purpose::Rsvp,
        campaign_id: campaign,
        contact_id: c,
        extra: 0,
        expires_at: None,
    });
    assert_eq!(
        a.post_form(&format!("/r/{forged_rsvp}/yes"), "").await.0,
        400
    );
    assert!(a.relation(c, "encounter").await.is_none());
}

// ----- RSVP -----

async fn rsvp_links_ask_then_apply(a: App) {
    let t = a.topic("nachbarschaft").await;
    let c = a.contact("r@example.org", vec![t]).await;
    let (campaign, occasion) = a.invitation(t).await;
    let token = a.sign(Purpose::Rsvp, campaign, c, occasion, None);
    let (s, page) = a.get(&format!("/r/{token}/yes")).await;
    assert_eq!(s, 200);
    assert!(page.contains("Nachbarschaftscafé"), "{page}");
    assert!(
        a.relation(c, "encounter").await.is_none(),
        "GET changes nothing"
    );
    let (s, page) = a.post_form(&format!("/r/{token}/yes"), "").await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(
        a.relation(c, "encounter").await,
        Some(("confirmed".into(), "link".into()))
    );
    let rows = netzpost::store::report::rsvps(&a.db, occasion)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    // Changing one's mind updates the same relation.
    a.post_form(&format!("/r/{token}/no"), "").await;
    assert_eq!(
        a.relation(c, "encounter").await,
        Some(("declined".into(), "link".into()))
    );
    a.post_form(&format!("/r/{token}/cooperation"), "").await;
    assert_eq!(
        a.relation(c, "cooperation").await,
        Some(("interested".into(), "link".into()))
    );
    let timeline = store::contacts::detail(&a.db, "r@example.org", 180)
        .await
        .unwrap()
        .timeline;
    assert!(timeline
        .iter()
        .filter(|x| x.kind == "relation")
        .all(|x| x.campaign_id == Some(campaign)));
    // An acknowledgement mail went out for the yes.
    assert!(a.mails().iter().any(|m| m.contains("r@example.org")));
    // Unknown answer.
    assert_eq!(a.get(&format!("/r/{token}/vielleicht")).await.0, 404);
    assert_eq!(
        a.post_form(&format!("/r/{token}/vielleicht"), "").await.0,
        404
    );
}

// ----- preferences -----

async fn preferences_toggle_language_and_forget(a: App) {
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
    let contact = store::contacts::by_id(&a.db, c).await.unwrap();
    assert_eq!(contact.language.as_deref(), Some("en"));
    assert_eq!(a.post_form(&path, "language=xx").await.0, 400);
    // Forget needs the tick.
    assert_eq!(a.post_form(&format!("{path}/forget"), "").await.0, 400);
    assert!(store::contacts::by_id(&a.db, c).await.is_ok());
    let (s, _) = a.post_form(&format!("{path}/forget"), "confirm=yes").await;
    assert_eq!(s, 200);
    assert!(store::contacts::by_id(&a.db, c).await.is_err());
    assert!(store::suppressions::is_suppressed(&a.db, "p@example.org")
        .await
        .unwrap());
    // The link now leads nowhere, clearly.
    assert_eq!(a.get(&path).await.0, 410);
}

async fn public_pages_speak_the_contacts_language(a: App) {
    let t = a.topic("nachbarschaft").await;
    let c = a.contact("olga@example.org", vec![t]).await;
    sqlx_set_language(&a, c, "uk").await;
    let token = a.sign(Purpose::Preferences, 0, c, t, None);
    let path = format!("/p/{token}");
    // The contact's own language, whatever the browser says; ?lang= wins.
    let r = a
        .http
        .get(a.url(&path))
        .header("accept-language", "de-DE,de;q=0.9")
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("<html lang=\"uk\" dir=\"ltr\">"), "{page}");
    assert!(page.contains("Ваші налаштування"), "{page}");
    // Every language the installation has is offered, each named in itself.
    for (code, name) in [
        ("de", "Deutsch"),
        ("en", "English"),
        ("tr", "Türkçe"),
        ("ar", "العربية"),
        ("uk", "Українська"),
        ("ru", "Русский"),
        ("pl", "Polski"),
    ] {
        assert!(
            page.contains(&format!("<option value=\"{code}\" lang=\"{code}\"")),
            "{code}: {page}"
        );
        assert!(page.contains(name), "{name}");
    }
    assert!(page.contains("value=\"uk\" lang=\"uk\" selected"), "{page}");
    let (_, page) = a.get(&format!("{path}?lang=ar")).await;
    assert!(page.contains("<html lang=\"ar\" dir=\"rtl\">"), "{page}");
    assert!(page.contains("إعداداتكم"), "{page}");
    // Choosing Arabic: stored, and the page answers in it.
    let (s, page) = a
        .post_form(&path, &format!("topic_{t}=on&language=ar"))
        .await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("dir=\"rtl\""), "{page}");
    let contact = store::contacts::by_id(&a.db, c).await.unwrap();
    assert_eq!(contact.language.as_deref(), Some("ar"));
    // A language without templates is not a choice.
    assert_eq!(a.post_form(&path, "language=fr").await.0, 400);
    // Browsers: the best page language in Accept-Language.
    let r = a
        .http
        .get(a.url("/s/nachbarschaft"))
        .header("accept-language", "pl-PL,pl;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("<html lang=\"pl\""), "{page}");
    assert!(page.contains("Zapisz się"), "{page}");
    // The admin pages stay German or English.
    let r = a
        .http
        .get(a.url("/admin/login"))
        .header("accept-language", "tr")
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("<html lang=\"en\""));
}

async fn sqlx_set_language(a: &App, contact: i64, lang: &str) {
    let email = store::contacts::by_id(&a.db, contact).await.unwrap().email;
    store::contacts::upsert_one(
        &a.db,
        &ImportRow {
            email: EmailAddress::parse(&email).unwrap(),
            name: None,
            organisation: None,
            language: Some(lang.into()),
            attributes: Default::default(),
            topics: vec![],
        },
        ConsentStatus::Confirmed,
        "test",
    )
    .await
    .unwrap();
}

// ----- admin API -----

async fn api_auth_no_wrong_and_revoked_tokens(a: App) {
    let r = a.http.get(a.url("/api/contacts")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
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
        a.http
            .get(a.url("/api/nothing"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

async fn cli_tokens_create_list_revoke(a: App) {
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
    let stored: Vec<String> = netzpost::on_db!(&a.db, p => {
        sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_all(p).await.unwrap()
    });
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

async fn api_contacts_topics_occasions_campaigns(a: App) {
    let token = a.api_token("admin-skript").await;
    let api = |m: reqwest::Method, p: &str| {
        a.http
            .request(m, a.url(&format!("/api{p}")))
            .bearer_auth(&token)
    };
    use reqwest::Method;
    // Topics.
    let r = api(Method::POST, "/topics")
        .json(&json!({"name": "nachbarschaft", "title": "Nachbarschaft <Nord>"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = api(Method::POST, "/topics")
        .json(&json!({"name": "nachbarschaft"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = api(Method::POST, "/topics")
        .json(&json!({"name": "Böse Leerzeichen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let topics: Value = api(Method::GET, "/topics")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(topics[0]["title"], "Nachbarschaft <Nord>");
    // Contacts: create (malformed, unknown field, wrong type, bad address, then good).
    let r = api(Method::POST, "/contacts")
        .header(CONTENT_TYPE, "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = api(Method::POST, "/contacts")
        .header(CONTENT_TYPE, "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = api(Method::POST, "/contacts")
        .json(&json!({"email": "a@b.de", "evil": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = api(Method::POST, "/contacts")
        .json(&json!({"email": "kein-at"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = api(Method::POST, "/contacts")
        .json(&json!({"email": "a@b.de", "topics": ["gibtsnicht"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = api(Method::POST, "/contacts")
        .json(&json!({"email": "Still@Example.org", "name": "Robert'); DROP TABLE contacts;--", "topics": ["nachbarschaft"], "consent": "confirmed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let list: Value = api(Method::GET, "/contacts?silent=true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Robert'); DROP TABLE contacts;--");
    let list: Value = api(Method::GET, "/contacts?topic=nachbarschaft&form=encounter")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!([]));
    assert_eq!(
        api(Method::GET, "/contacts?form=freund")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        api(Method::GET, "/contacts?bogus=1")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let d: Value = api(Method::GET, "/contacts/still@example.org")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["silent"], true);
    assert!(!d["timeline"].as_array().unwrap().is_empty());
    assert_eq!(
        api(Method::GET, "/contacts/niemand@example.org")
            .send()
            .await
            .unwrap()
            .status(),
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
    let occ: Value = api(Method::GET, "/occasions")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(occ[0]["slug"], "cafe");
    let one: Value = api(Method::GET, "/occasions/cafe")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["rsvps"], json!([]));
    assert_eq!(
        api(Method::GET, "/occasions/nope")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let r = api(Method::POST, "/campaigns")
        .json(&json!({"name": "einladung", "kind": "invitation", "occasion": "cafe", "body": "Hallo {{ contact.name }}"}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = api(Method::POST, "/campaigns")
        .json(&json!({"name": "mehrsprachig", "kind": "newsletter", "topic": "nachbarschaft", "body": "Neues.",
            "translations": {"tr": {"subject": "Haberler", "body": "Yeni haberler."}, "ar": {"body": "أخبار جديدة."}}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["translations"]["tr"]["subject"], "Haberler");
    assert_eq!(c["translations"]["ar"]["body"], "أخبار جديدة.");
    let r = api(Method::POST, "/campaigns")
        .json(
            &json!({"name": "unbekannt", "kind": "newsletter", "topic": "nachbarschaft",
            "translations": {"xx": {"body": "?"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "an unknown language is refused");
    let r = api(Method::POST, "/campaigns")
        .json(&json!({"name": "kaputt", "kind": "newsletter", "topic": "nachbarschaft", "body": "{{ gibtsnicht.x }}"}))
        .send().await.unwrap();
    assert_eq!(r.status(), 422, "template errors are caught at creation");
    let r = api(Method::POST, "/campaigns")
        .json(&json!({"name": "x", "kind": "spam"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // Test send and scheduling, before the real send.
    let r = api(
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
        api(Method::POST, "/campaigns/einladung/test")
            .send()
            .await
            .unwrap()
            .status(),
        422,
        "test needs an address"
    );
    let r = api(
        Method::POST,
        "/campaigns/einladung/schedule?at=2099-01-01T09:00:00Z",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let show: Value = api(Method::GET, "/campaigns/einladung")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(show["campaign"]["status"], "scheduled");
    assert_eq!(
        api(Method::POST, "/campaigns/einladung/schedule?at=morgen")
            .send()
            .await
            .unwrap()
            .status(),
        422
    );
    let r: Value = api(Method::POST, "/campaigns/einladung/send")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["queued"], 1);
    let show: Value = api(Method::GET, "/campaigns/einladung")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(show["progress"]["queued"], 1);
    assert_eq!(show["campaign"]["status"], "running");
    assert_eq!(
        api(Method::POST, "/campaigns/einladung/pause")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        api(Method::POST, "/campaigns/einladung/pause")
            .send()
            .await
            .unwrap()
            .status(),
        422
    );
    assert_eq!(
        api(Method::POST, "/campaigns/einladung/resume")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        api(Method::POST, "/campaigns/einladung/explode")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        api(Method::POST, "/campaigns/einladung/cancel")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        api(Method::POST, "/campaigns/gibtsnicht/send")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let list: Value = api(Method::GET, "/campaigns")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["status"], "cancelled");
    let funnel: Value = api(Method::GET, "/reports/funnel")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(funnel["topics"][0]["silent"], 1);
    // Oversized JSON.
    let big = format!(
        "{{\"email\": \"a@b.de\", \"name\": \"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let r = api(Method::POST, "/contacts")
        .header(CONTENT_TYPE, "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // Update: fields and consent per topic, all or nothing.
    let r = api(Method::PATCH, "/contacts/still@example.org")
        .json(&json!({"organisation": "Mieterverein", "language": "English", "consent": {"gibtsnicht": "confirmed"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let d: Value = api(Method::GET, "/contacts/still@example.org")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["contact"]["organisation"], Value::Null);
    let r = api(Method::PATCH, "/contacts/still@example.org")
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
    let r = api(Method::PATCH, "/contacts/still@example.org")
        .json(&json!({"language": "Klingonisch"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // Preview of the message a contact would get.
    let r = api(
        Method::GET,
        "/campaigns/einladung/preview?to=still@example.org",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Subject:"));
    assert_eq!(
        api(
            Method::GET,
            "/campaigns/einladung/preview?to=niemand@example.org"
        )
        .send()
        .await
        .unwrap()
        .status(),
        404
    );
    // CSV import, German Excel style, with a reject.
    let csv = "E-Mail;Vorname;Nachname;Verein\r\nanna@example.org;Anna;Berg;Kleingarten e.V.\r\nkaputt;X;Y;Z\r\n";
    let r = api(
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
    let anna: Value = api(Method::GET, "/contacts/anna@example.org")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anna["contact"]["organisation"], "Kleingarten e.V.");
    let r = api(Method::POST, "/contacts/import")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = api(Method::POST, "/contacts/import?topic=gibtsnicht")
        .header(CONTENT_TYPE, "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = api(Method::POST, "/contacts/import")
        .header(CONTENT_TYPE, "text/csv")
        .body("foo;bar\r\n1;2\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "no e-mail column");
    // Forget.
    assert_eq!(
        api(Method::DELETE, "/contacts/still@example.org")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        api(Method::DELETE, "/contacts/still@example.org")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let r = api(Method::POST, "/contacts")
        .json(&json!({"email": "still@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "a forgotten address does not come back");
}

/// A reply that went to the review queue, stored as the inbound pipeline stores it.
async fn pending_decision(db: &Db, contact: i64, n: i64) -> i64 {
    let raw = format!(
        "From: r@example.org\r\nTo: antwort@example.org\r\nSubject: Re: Einladung\r\nMessage-ID: <q{n}@example.org>\r\n\r\nVielleicht, mal sehen.\r\n"
    );
    netzpost::on_db!(db, p => {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO inbound_messages (dedup_key, raw, source, received_at, status, from_addr, subject, visible_text, contact_id)
             VALUES ($1, $2, 'test', $3, 'processed', 'r@example.org', 'Re: Einladung', 'Vielleicht, <b>mal</b> sehen.', $4) RETURNING id",
        )
        .bind(format!("mid:q{n}"))
        .bind(raw.into_bytes())
        .bind(chrono::Utc::now())
        .bind(contact)
        .fetch_one(p)
        .await
        .unwrap();
        sqlx::query_scalar(
            "INSERT INTO decisions (inbound_id, contact_id, action, status, confidence, reason, plan, created_at)
             VALUES ($1, $2, 'note', 'pending', 0.4, 'unsure', '{\"action\":\"note\"}', $3) RETURNING id",
        )
        .bind(id)
        .bind(contact)
        .bind(chrono::Utc::now())
        .fetch_one(p)
        .await
        .unwrap()
    })
}

async fn api_review_queue_accept_reject_undo(a: App) {
    let t = a.topic("nachbarschaft").await;
    let c = a.contact("r@example.org", vec![t]).await;
    let d1 = pending_decision(&a.db, c, 1).await;
    let d2 = pending_decision(&a.db, c, 2).await;
    let token = a.api_token("review").await;
    let post = |p: String| a.http.post(a.url(&p)).bearer_auth(&token).send();
    let list: Value = a
        .http
        .get(a.url("/api/review"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let r = post(format!("/api/review/{d1}/accept")).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(
        post(format!("/api/review/{d1}/accept"))
            .await
            .unwrap()
            .status(),
        409
    );
    assert_eq!(
        post(format!("/api/review/{d1}/undo"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post(format!("/api/review/{d2}/reject"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post(format!("/api/review/{d2}/undo"))
            .await
            .unwrap()
            .status(),
        409
    );
    assert_eq!(
        post("/api/review/999/accept".into())
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        post(format!("/api/review/{d2}/maybe"))
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        post("/api/review/abc/accept".into())
            .await
            .unwrap()
            .status(),
        400
    );
    let all: Value = a
        .http
        .get(a.url("/api/review?all=true"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["rejected", "undone"]);
}

// ----- admin pages -----

struct Session {
    cookie: String,
    csrf: String,
}

async fn login(a: &App) -> Session {
    let r = a.http.get(a.url("/admin/login")).send().await.unwrap();
    let login_cookie = cookie_of(&r, "np_login");
    let page = r.text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    let r = a
        .http
        .post(a.url("/admin/login"))
        .header(CONTENT_TYPE, FORM)
        .header(COOKIE, format!("np_login={login_cookie}"))
        .body(format!(
            "csrf={csrf}&user=admin&password=ein-langes-passwort"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = cookie_of(&r, "np_session");
    let page = a
        .http
        .get(a.url("/admin"))
        .header(COOKIE, format!("np_session={cookie}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    Session {
        csrf: hidden(&page, "csrf"),
        cookie,
    }
}

fn cookie_of(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no cookie {name}"))
        .to_string()
}

fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

impl Session {
    async fn get(&self, a: &App, path: &str) -> reqwest::Response {
        a.http
            .get(a.url(path))
            .header(COOKIE, format!("np_session={}", self.cookie))
            .send()
            .await
            .unwrap()
    }
    async fn post(&self, a: &App, path: &str, body: &str) -> reqwest::Response {
        a.http
            .post(a.url(path))
            .header(COOKIE, format!("np_session={}", self.cookie))
            .header(CONTENT_TYPE, FORM)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }
}

async fn admin_login_csrf_and_pages(a: App) {
    let mut out = Vec::new();
    let mut input = std::io::Cursor::new(b"ein-langes-passwort\n".to_vec());
    netzpost::cli::admin::run(
        &a.db,
        netzpost::cli::admin::AdminCmd::SetPassword {
            user: Some("admin".into()),
            user_flag: None,
        },
        &mut input,
        &mut out,
    )
    .await
    .unwrap();
    let mut short = std::io::Cursor::new(b"kurz\n".to_vec());
    assert!(netzpost::cli::admin::run(
        &a.db,
        netzpost::cli::admin::AdminCmd::SetPassword {
            user: Some("admin".into()),
            user_flag: None,
        },
        &mut short,
        &mut Vec::new()
    )
    .await
    .is_err());
    // Not signed in: to the login.
    let r = a.http.get(a.url("/admin/contacts")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION], "/admin/login");
    // Login without the form token, and with a wrong password.
    let (s, _) = a
        .post_form("/admin/login", "user=admin&password=ein-langes-passwort")
        .await;
    assert_eq!(s, 403);
    let r = a.http.get(a.url("/admin/login")).send().await.unwrap();
    let lc = cookie_of(&r, "np_login");
    let csrf = hidden(&r.text().await.unwrap(), "csrf");
    let r = a
        .http
        .post(a.url("/admin/login"))
        .header(CONTENT_TYPE, FORM)
        .header(COOKIE, format!("np_login={lc}"))
        .body(format!("csrf={csrf}&user=admin&password=falsch"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let s = login(&a).await;
    // Data with HTML in it, to see it escaped.
    let t = a.topic("nachbarschaft").await;
    let c = store::contacts::upsert_one(
        &a.db,
        &ImportRow {
            email: EmailAddress::parse("html@example.org").unwrap(),
            name: Some("<img src=x onerror=alert(1)>".into()),
            organisation: Some("\"Verein\" & <Co>".into()),
            language: None,
            attributes: Default::default(),
            topics: vec![t],
        },
        ConsentStatus::Confirmed,
        "test",
    )
    .await
    .unwrap();
    let (campaign, occasion) = a.invitation(t).await;
    let tok = a.sign(Purpose::Rsvp, campaign, c.id, occasion, None);
    a.post_form(&format!("/r/{tok}/yes"), "").await;

    let dash = s.get(&a, "/admin").await;
    assert_eq!(dash.status(), 200);
    let dash = dash.text().await.unwrap();
    assert!(dash.contains("<svg class=\"funnel\""), "{dash}");
    assert!(
        dash.contains("html@example.org"),
        "recent activation listed"
    );
    assert!(!dash.contains("<img src=x"), "{dash}");
    let page = s
        .get(&a, &format!("/admin/contacts/{}", c.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(
        page.contains("&quot;Verein&quot; &amp; &lt;Co&gt;"),
        "{page}"
    );
    for path in [
        "/admin/contacts",
        "/admin/contacts?silent=1&topic=nachbarschaft",
        "/admin/contacts?form=encounter",
        "/admin/campaigns",
        "/admin/review",
        "/admin/occasions",
        "/admin?lang=en",
    ] {
        let r = s.get(&a, path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert!(!r.text().await.unwrap().contains("<img src=x"), "{path}");
    }
    assert_eq!(
        s.get(&a, "/admin/contacts?topic=gibtsnicht").await.status(),
        404
    );
    assert_eq!(s.get(&a, "/admin/contacts?form=freund").await.status(), 400);
    assert_eq!(s.get(&a, "/admin/contacts/99999").await.status(), 404);
    let occasions = s.get(&a, "/admin/occasions").await.text().await.unwrap();
    assert!(occasions.contains("Personen: 1"), "{occasions}");
    let filtered = s
        .get(&a, "/admin/contacts?form=encounter")
        .await
        .text()
        .await
        .unwrap();
    assert!(filtered.contains("html@example.org"));
    // CSV of the RSVP list, with formula cells defused.
    let csv = s
        .get(&a, "/admin/occasions/nachbarschaftscafe/rsvps.csv")
        .await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    assert!(
        csv.contains("html@example.org;<img src=x onerror=alert(1)>;"),
        "{csv}"
    );
    assert!(csv.contains(";confirmed;link;"), "{csv}");
    // People coming: each yes counts its party size, or one.
    assert!(
        csv.lines().next().unwrap().ends_with(";updated_at;people"),
        "{csv}"
    );
    assert!(csv.lines().nth(1).unwrap().ends_with(";1"), "{csv}");
    // Forms: without CSRF 403 and nothing changes; with it, the action happens.
    let r = s.post(&a, "/admin/campaigns/einladung-cafe/send", "").await;
    assert_eq!(r.status(), 403);
    let r = s
        .post(&a, "/admin/campaigns/einladung-cafe/send", "csrf=falsch")
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        store::campaigns::by_id(&a.db, campaign)
            .await
            .unwrap()
            .status,
        "draft"
    );
    let r = s
        .post(
            &a,
            "/admin/campaigns/einladung-cafe/send",
            &format!("csrf={}", s.csrf),
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        store::campaigns::by_id(&a.db, campaign)
            .await
            .unwrap()
            .status,
        "running"
    );
    let r = s
        .post(
            &a,
            "/admin/campaigns/einladung-cafe/resume",
            &format!("csrf={}", s.csrf),
        )
        .await;
    assert_eq!(r.status(), 422, "resume of a running campaign is refused");
    let d = pending_decision(&a.db, c.id, 7).await;
    assert_eq!(
        s.post(&a, &format!("/admin/review/{d}/accept"), "")
            .await
            .status(),
        403
    );
    let review = s.get(&a, "/admin/review").await.text().await.unwrap();
    assert!(
        review.contains("Vielleicht, &lt;b&gt;mal&lt;") && !review.contains("<b>mal"),
        "{review}"
    );
    assert_eq!(
        s.post(
            &a,
            &format!("/admin/review/{d}/accept"),
            &format!("csrf={}", s.csrf)
        )
        .await
        .status(),
        303
    );
    assert_eq!(
        s.post(
            &a,
            &format!("/admin/review/{d}/undo"),
            &format!("csrf={}", s.csrf)
        )
        .await
        .status(),
        303
    );
    // Wrong content type and oversized admin posts.
    let r = a
        .http
        .post(a.url("/admin/logout"))
        .header(COOKIE, format!("np_session={}", s.cookie))
        .header(CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let big = format!("csrf={}&x={}", s.csrf, "y".repeat(20_000));
    assert_eq!(s.post(&a, "/admin/logout", &big).await.status(), 413);
    // Forget from the contact page.
    assert_eq!(
        s.post(
            &a,
            &format!("/admin/contacts/{}/forget", c.id),
            &format!("csrf={}", s.csrf)
        )
        .await
        .status(),
        303
    );
    assert!(store::contacts::by_id(&a.db, c.id).await.is_err());
    // Logout ends the session.
    assert_eq!(s.post(&a, "/admin/logout", "").await.status(), 403);
    assert_eq!(
        s.post(&a, "/admin/logout", &format!("csrf={}", s.csrf))
            .await
            .status(),
        303
    );
    assert_eq!(s.get(&a, "/admin").await.status(), 303);
}

async fn public_index_and_unknown_pages(a: App) {
    a.topic("nachbarschaft").await;
    let (s, page) = a.get("/").await;
    assert_eq!(s, 200);
    assert!(page.contains("href=\"/s/nachbarschaft\""), "{page}");
    assert!(page.starts_with("<!doctype html>\n<html lang=\"de\" dir=\"ltr\">"));
    let (s, page) = a.get("/gibtsnicht?lang=en").await;
    assert_eq!(s, 404);
    assert!(page.contains("Not found"));
    let r = a.http.get(a.url("/static/web.css")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Security headers on pages.
    let r = a.http.get(a.url("/s/nachbarschaft")).send().await.unwrap();
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert_eq!(r.headers()["cache-control"], "no-store");
}

/// The admin pages also take an API token in the password field; a revoked one does not work.
async fn admin_login_with_an_api_token(a: App) {
    let token = a.api_token("buero").await;
    let try_login = |secret: String| {
        let a = &a;
        async move {
            let r = a.http.get(a.url("/admin/login")).send().await.unwrap();
            let login_cookie = cookie_of(&r, "np_login");
            let csrf = hidden(&r.text().await.unwrap(), "csrf");
            a.http
                .post(a.url("/admin/login"))
                .header(CONTENT_TYPE, FORM)
                .header(COOKIE, format!("np_login={login_cookie}"))
                .body(format!("csrf={csrf}&user=admin&password={secret}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(try_login(token.clone()).await, 303);
    assert_eq!(try_login("np_0000".into()).await, 401);
    netzpost::web::auth::revoke_token(&a.db, "buero")
        .await
        .unwrap();
    assert_eq!(try_login(token).await, 401);
}

/// Issue 4's HTTP source: a provider's inbound webhook posts raw messages with a bearer token.
async fn api_inbound_webhook(a: App) {
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
    let n: i64 = netzpost::on_db!(&a.db, p => {
        sqlx::query_scalar("SELECT COUNT(*) FROM inbound_messages WHERE source = 'http' AND status = 'processed'")
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!(n, 1, "stored once and processed");
}

// ----- every scenario on SQLite (plain `cargo test`) and on PostgreSQL (`--ignored`) -----

macro_rules! on_both {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(super::app().await).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL: set NETZPOST_TEST_POSTGRES_URL"]
                async fn $scenario() {
                    super::$scenario(super::app_pg().await).await
                }
            )+
        }
    };
}

on_both!(
    healthz_and_metrics,
    subscribe_double_opt_in_and_scanner_safe_confirm,
    subscribe_rejects_bad_input,
    subscribe_rate_limit_per_client,
    unsubscribe_one_click_is_idempotent,
    forged_expired_and_misused_tokens_change_nothing,
    rsvp_links_ask_then_apply,
    preferences_toggle_language_and_forget,
    public_pages_speak_the_contacts_language,
    api_auth_no_wrong_and_revoked_tokens,
    cli_tokens_create_list_revoke,
    api_contacts_topics_occasions_campaigns,
    api_review_queue_accept_reject_undo,
    admin_login_csrf_and_pages,
    public_index_and_unknown_pages,
    api_inbound_webhook,
    admin_login_with_an_api_token,
);
