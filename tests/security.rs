//! Issue 7, the security items: link tokens (expiry over real HTTP; the constant-time MAC check
//! and tampering are unit tests in `src/token.rs`), no secret in any log at trace level, rate
//! limits on the public pages, the login and the API, and API tokens and passwords stored hashed.
//!
//! The web tests serve the router of `netzpost serve` in this process over real HTTP (as
//! `tests/web_http.rs` does); the log and storage tests run the real binary (`netzpost serve` and
//! CLI commands) in a workspace made by `netzpost init`. Everything but one test runs in plain
//! `cargo test`; `no_secret_in_serve_trace_log_against_real_smtp_and_imap` logs in to a real SMTP
//! server (tests/support/smtpd.py, aiosmtpd, with `--auth`) and a real Dovecot, so it is ignored
//! by default and run by `.ci/run` with `-- --ignored` (without them it fails loudly). No
//! assertion depends on timing.

mod common;
#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/e2e.rs"]
mod e2e;

use base64::Engine as _;
use dovecot::Dovecot;
use e2e::{people, wait_for, Smtpd, Workspace};
use netzpost::config::Config;
use netzpost::domain::{ConsentStatus, EmailAddress};
use netzpost::outbound::sender::Engine;
use netzpost::store::campaigns::{Audience, CampaignKind, NewCampaign};
use netzpost::store::contacts::ImportRow;
use netzpost::store::occasions::NewOccasion;
use netzpost::store::{self, Db};
use netzpost::token::{Claims, Purpose, TokenKey};
use netzpost::web;
use reqwest::header::{CONTENT_TYPE, COOKIE, RETRY_AFTER, SET_COOKIE};
use reqwest::{Client, StatusCode};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "security-test-secret-0123456789abcdef";
const FORM: &str = "application/x-www-form-urlencoded";
/// The client address of most requests (the router trusts X-Forwarded-For from loopback, as
/// behind a reverse proxy on the same host).
const CLIENT: &str = "203.0.113.50";
const OTHER_CLIENT: &str = "203.0.113.51";

// ----- the router in this process -----

struct App {
    _dir: tempfile::TempDir,
    base: String,
    db: Db,
    outbox: PathBuf,
    http: Client,
    key: TokenKey,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn app(tune: impl FnOnce(&mut Config)) -> App {
    netzpost::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut cfg = Config {
        database: format!("sqlite://{}", dir.path().join("np.db").display()),
        secret: SECRET.into(),
        ..Config::default()
    };
    cfg.outbound.outbox = dir.path().join("outbox");
    cfg.http.public_url = base.clone();
    // The tests speak as clients behind a reverse proxy on this host.
    cfg.http.trusted_proxies = vec!["127.0.0.1".into()];
    tune(&mut cfg);
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
    App {
        outbox: cfg.outbound.outbox.clone(),
        _dir: dir,
        base,
        db,
        http: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        key: TokenKey::new(SECRET.as_bytes()),
        _stop: tx,
    }
}

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, from: &str, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(self.url(path))
            .header("x-forwarded-for", from)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    async fn post(&self, from: &str, path: &str, body: &str) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("x-forwarded-for", from)
            .header(CONTENT_TYPE, FORM)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    async fn post_form(&self, from: &str, path: &str, body: &str) -> (StatusCode, String) {
        let r = self.post(from, path, body).await;
        (r.status(), r.text().await.unwrap())
    }

    /// A token for `purpose`; `exp` None = valid for an hour.
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

    async fn contact(&self, email: &str, topics: Vec<i64>, consent: ConsentStatus) -> i64 {
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
            consent,
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

    async fn relations(&self, contact: i64) -> Vec<(String, String)> {
        store::relations::for_contact(&self.db, contact)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.form, r.status))
            .collect()
    }

    fn mails(&self) -> usize {
        std::fs::read_dir(&self.outbox)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// An invitation campaign `name` to an occasion starting at `starts`; returns its id.
    async fn invitation(
        &self,
        topic: i64,
        name: &str,
        starts: chrono::DateTime<chrono::Utc>,
    ) -> i64 {
        let o = store::occasions::add(
            &self.db,
            &NewOccasion {
                slug: name.into(),
                title: format!("Treffen {name}"),
                starts_at: starts,
                ends_at: None,
                place: Some("Stadtteilladen".into()),
                description: None,
                capacity: None,
                topic_id: Some(topic),
            },
        )
        .await
        .unwrap();
        store::campaigns::create(
            &self.db,
            &NewCampaign {
                name: name.into(),
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
        .unwrap()
        .id
    }

    async fn count(&self, sql: &'static str) -> i64 {
        netzpost::on_db!(&self.db, p => {
            sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await.unwrap()
        })
    }
}

// ----- 1. link tokens expire; unsubscribe links do not -----

#[tokio::test]
async fn expired_links_get_410_and_change_nothing_but_unsubscribe_links_keep_working() {
    let a = app(|_| {}).await;
    let now = chrono::Utc::now();
    let past = now.timestamp() - 60;
    let t = a.topic("nachbarschaft").await;
    let garden = a.topic("garten").await;
    let c = a
        .contact("e@example.org", vec![t], ConsentStatus::Confirmed)
        .await;
    let p = a
        .contact("p@example.org", vec![garden], ConsentStatus::Pending)
        .await;
    assert_eq!(a.status(p, garden).await.as_deref(), Some("pending"));

    // Confirm (double opt-in) link past its 7 days: 410 with a page that says so, still pending.
    let confirm = a.sign(Purpose::Confirm, 0, p, garden, Some(past));
    let (s, page) = a.get(CLIENT, &format!("/c/{confirm}")).await;
    assert_eq!(s, StatusCode::GONE);
    assert!(
        page.contains("Link abgelaufen") && page.contains("nichts geändert"),
        "{page}"
    );
    let (s, page) = a
        .post_form(CLIENT, &format!("/c/{confirm}?lang=en"), "")
        .await;
    assert_eq!(s, StatusCode::GONE);
    assert!(
        page.contains("Link expired") && page.contains("Nothing was changed"),
        "{page}"
    );
    assert_eq!(a.status(p, garden).await.as_deref(), Some("pending"));

    // Preferences link past its expiry: neither the topic switch nor "forget me" acts.
    let prefs = a.sign(Purpose::Preferences, 0, c, 0, Some(past));
    assert_eq!(
        a.get(CLIENT, &format!("/p/{prefs}")).await.0,
        StatusCode::GONE
    );
    assert_eq!(
        a.post_form(CLIENT, &format!("/p/{prefs}"), "language=en")
            .await
            .0,
        StatusCode::GONE
    );
    assert_eq!(
        a.post_form(CLIENT, &format!("/p/{prefs}/forget"), "confirm=yes")
            .await
            .0,
        StatusCode::GONE
    );
    assert_eq!(a.status(c, t).await.as_deref(), Some("confirmed"));
    assert_eq!(
        store::contacts::by_id(&a.db, c)
            .await
            .unwrap()
            .language
            .as_deref(),
        Some("de")
    );

    // RSVP to an occasion that ended more than RSVP_GRACE_DAYS ago: 410 although the token
    // itself is still valid for an hour; no relation.
    let over = a
        .invitation(t, "vorbei", now - chrono::Duration::days(10))
        .await;
    let rsvp = a.sign(Purpose::Rsvp, over, c, 0, None);
    for answer in ["yes", "no"] {
        assert_eq!(
            a.get(CLIENT, &format!("/r/{rsvp}/{answer}")).await.0,
            StatusCode::GONE
        );
        let (s, page) = a
            .post_form(CLIENT, &format!("/r/{rsvp}/{answer}"), "")
            .await;
        assert_eq!(s, StatusCode::GONE, "{answer}");
        assert!(page.contains("Link abgelaufen"), "{page}");
    }
    // "Cooperation" is not tied to the occasion: its token's own expiry decides.
    let old_rsvp = a.sign(Purpose::Rsvp, over, c, 0, Some(past));
    assert_eq!(
        a.post_form(CLIENT, &format!("/r/{old_rsvp}/cooperation"), "")
            .await
            .0,
        StatusCode::GONE
    );
    assert!(a.relations(c).await.is_empty());
    assert_eq!(a.mails(), 0, "no acknowledgement for an expired link");

    // An invitation sent half a year ahead: the token's own expiry has passed (the sender signs
    // 120 days), the occasion has not: the link works.
    let ahead = a
        .invitation(t, "spaeter", now + chrono::Duration::days(200))
        .await;
    let rsvp = a.sign(Purpose::Rsvp, ahead, c, 0, Some(past));
    assert_eq!(
        a.get(CLIENT, &format!("/r/{rsvp}/yes")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        a.post_form(CLIENT, &format!("/r/{rsvp}/yes"), "").await.0,
        StatusCode::OK
    );
    assert_eq!(
        a.relations(c).await,
        vec![("encounter".to_string(), "confirmed".to_string())]
    );

    // Unsubscribe: a correctly signed link works however old it is (RFC 8058) ...
    let unsub = a.sign(Purpose::Unsubscribe, 0, c, t, Some(past - 400 * 86_400));
    assert_eq!(
        a.get(CLIENT, &format!("/u/{unsub}")).await.0,
        StatusCode::OK
    );
    let (s, page) = a
        .post_form(CLIENT, &format!("/u/{unsub}"), "List-Unsubscribe=One-Click")
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(a.status(c, t).await.as_deref(), Some("unsubscribed"));
    // ... but not a forged one, nor another purpose's token.
    let forged = TokenKey::new(b"not-our-secret").sign(&Claims {
        purpose: Purpose::Unsubscribe,
        campaign_id: 0,
        contact_id: p,
        extra: garden,
        expires_at: None,
    });
    let confirm_as_unsub = a.sign(Purpose::Confirm, 0, p, garden, None);
    for tok in [forged, confirm_as_unsub] {
        assert_eq!(
            a.post_form(CLIENT, &format!("/u/{tok}"), "List-Unsubscribe=One-Click")
                .await
                .0,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(a.status(p, garden).await.as_deref(), Some("pending"));
}

// ----- 3. rate limits -----

#[tokio::test]
async fn a_burst_on_the_link_pages_gets_429_and_changes_nothing() {
    let a = app(|c| c.http.public_requests_per_minute = 5).await;
    let t = a.topic("nachbarschaft").await;
    let c = a
        .contact("b@example.org", vec![t], ConsentStatus::Confirmed)
        .await;
    let campaign = a
        .invitation(t, "cafe", chrono::Utc::now() + chrono::Duration::days(10))
        .await;
    let prefs = a.sign(Purpose::Preferences, campaign, c, 0, None);
    let rsvp = a.sign(Purpose::Rsvp, campaign, c, 0, None);
    for _ in 0..5 {
        assert_eq!(
            a.get(CLIENT, &format!("/p/{prefs}")).await.0,
            StatusCode::OK
        );
    }
    // The sixth request of this client within the minute, and every one after it: 429 before
    // any handler runs. Each of these would change something if it got through.
    let r = a.post(CLIENT, &format!("/p/{prefs}"), "language=en").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()[RETRY_AFTER], "60");
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Zu viele Anfragen") && page.contains("nichts geändert"),
        "{page}"
    );
    for (path, body) in [
        (format!("/r/{rsvp}/yes"), ""),
        (format!("/p/{prefs}/forget"), "confirm=yes"),
        (
            format!("/c/{}", a.sign(Purpose::Confirm, 0, c, t, None)),
            "",
        ),
        // Guessing tokens stops too.
        (
            "/u/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_string(),
            "List-Unsubscribe=One-Click",
        ),
        ("/s/nachbarschaft".to_string(), "email=neu%40example.org"),
    ] {
        assert_eq!(
            a.post_form(CLIENT, &path, body).await.0,
            StatusCode::TOO_MANY_REQUESTS,
            "{path}"
        );
    }
    assert_eq!(
        a.get(CLIENT, &format!("/r/{rsvp}/yes")).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(a.status(c, t).await.as_deref(), Some("confirmed"));
    assert!(a.relations(c).await.is_empty());
    let contact = store::contacts::by_id(&a.db, c).await.unwrap();
    assert_eq!(contact.language.as_deref(), Some("de"));
    assert!(store::contacts::get(&a.db, "neu@example.org")
        .await
        .is_err());
    assert_eq!(a.mails(), 0);

    // A correctly signed one-click unsubscribe is never refused (mail providers send them for
    // many people from one server).
    let unsub = a.sign(Purpose::Unsubscribe, campaign, c, 0, None);
    assert_eq!(
        a.post_form(CLIENT, &format!("/u/{unsub}"), "List-Unsubscribe=One-Click")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(a.status(c, t).await.as_deref(), Some("unsubscribed"));

    // Another client is not affected.
    assert_eq!(
        a.post_form(OTHER_CLIENT, &format!("/r/{rsvp}/yes"), "")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        a.relations(c).await,
        vec![("encounter".to_string(), "confirmed".to_string())]
    );
}

#[tokio::test]
async fn failed_api_authentications_get_429_then_even_a_good_token_is_refused() {
    let a = app(|c| c.http.api_auth_failures_per_minute = 3).await;
    let token = web::auth::create_token(&a.db, "webhook").await.unwrap();
    let mail = "From: jemand@example.org\r\nTo: antwort@reply.nordstadt.example\r\n\
                Subject: Re: Einladung\r\nMessage-ID: <sec-1@example.org>\r\n\r\nIch komme gern.\r\n";
    let post = |from: &'static str, bearer: String| {
        a.http
            .post(a.url("/api/inbound"))
            .header("x-forwarded-for", from)
            .header("content-type", "message/rfc822")
            .bearer_auth(bearer)
            .body(mail)
            .send()
    };
    for i in 0..3 {
        let r = post(CLIENT, format!("np_{i:064x}")).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = post(CLIENT, "np_guess".into()).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()[RETRY_AFTER], "60");
    // Within the minute this address gets nothing in, not even with the right token.
    assert_eq!(
        post(CLIENT, token.clone()).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let r = a
        .http
        .get(a.url("/api/topics"))
        .header("x-forwarded-for", CLIENT)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.count("SELECT COUNT(*) FROM inbound_messages").await, 0);
    // Successful calls do not count; another address is not affected.
    for _ in 0..5 {
        let r = a
            .http
            .get(a.url("/api/topics"))
            .header("x-forwarded-for", OTHER_CLIENT)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(
        post(OTHER_CLIENT, token.clone()).await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(a.count("SELECT COUNT(*) FROM inbound_messages").await, 1);
}

/// The login form and its CSRF cookie, as a browser at `from` gets them.
async fn login_form(a: &App, from: &str) -> (String, String) {
    let r = a
        .http
        .get(a.url("/admin/login"))
        .header("x-forwarded-for", from)
        .send()
        .await
        .unwrap();
    let cookie = cookie_of(&r, "np_login").expect("login cookie");
    let page = r.text().await.unwrap();
    (cookie, hidden(&page, "csrf"))
}

fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
        .filter(|v| !v.is_empty())
}

fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn a_login_burst_gets_429_and_no_session_even_with_the_right_password() {
    let a = app(|_| {}).await;
    web::auth::set_password(&a.db, "admin", "ein-langes-passwort")
        .await
        .unwrap();
    let (cookie, csrf) = login_form(&a, CLIENT).await;
    let attempt = |from: &'static str, cookie: String, body: String| {
        a.http
            .post(a.url("/admin/login"))
            .header("x-forwarded-for", from)
            .header(CONTENT_TYPE, FORM)
            .header(COOKIE, format!("np_login={cookie}"))
            .body(body)
            .send()
    };
    // Ten attempts per ten minutes (without the CSRF value: no PBKDF2 work in a debug build).
    for i in 0..10 {
        let r = attempt(
            CLIENT,
            cookie.clone(),
            format!("user=admin&password=rate-{i}-falsch"),
        )
        .await
        .unwrap();
        assert_ne!(r.status(), StatusCode::TOO_MANY_REQUESTS, "attempt {i}");
        assert!(cookie_of(&r, "np_session").is_none());
    }
    let r = attempt(
        CLIENT,
        cookie.clone(),
        format!("csrf={csrf}&user=admin&password=ein-langes-passwort"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(cookie_of(&r, "np_session").is_none());
    assert_eq!(a.count("SELECT COUNT(*) FROM admin_sessions").await, 0);
    // Another address signs in.
    let (cookie, csrf) = login_form(&a, OTHER_CLIENT).await;
    let r = attempt(
        OTHER_CLIENT,
        cookie,
        format!("csrf={csrf}&user=admin&password=ein-langes-passwort"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(cookie_of(&r, "np_session").is_some());
    assert_eq!(a.count("SELECT COUNT(*) FROM admin_sessions").await, 1);
}

/// Item 19: two daemons on one PostgreSQL database (two web servers, as behind a load
/// balancer) share the login and public-page limits: a client that spreads its tries over both
/// gets no more than from one. Before, each process counted alone and the tries doubled.
#[tokio::test]
#[ignore = "needs PostgreSQL: set NETZPOST_TEST_POSTGRES_URL"]
async fn two_daemons_on_one_postgresql_database_share_the_rate_limits() {
    let (db, url) = common::postgres().await;
    db.close().await;
    let tune = |c: &mut Config| {
        c.database = url.clone();
        c.http.public_requests_per_minute = 6;
    };
    let (a, b) = (app(tune).await, app(tune).await);
    web::auth::set_password(&a.db, "admin", "ein-langes-passwort")
        .await
        .unwrap();
    let mut forms = Vec::new();
    for d in [&a, &b] {
        forms.push(login_form(d, CLIENT).await);
    }
    let attempt = |d: &App, cookie: &str, body: String| {
        d.http
            .post(d.url("/admin/login"))
            .header("x-forwarded-for", CLIENT)
            .header(CONTENT_TYPE, FORM)
            .header(COOKIE, format!("np_login={cookie}"))
            .body(body)
            .send()
    };
    // Ten failed attempts in all, five through each daemon ...
    for i in 0..10 {
        let (d, (cookie, _)) = if i % 2 == 0 {
            (&a, &forms[0])
        } else {
            (&b, &forms[1])
        };
        let r = attempt(d, cookie, format!("user=admin&password=falsch-{i}"))
            .await
            .unwrap();
        assert_ne!(r.status(), StatusCode::TOO_MANY_REQUESTS, "attempt {i}");
    }
    // ... and the eleventh is refused by either, with the right password too.
    for (d, (cookie, csrf)) in [(&a, &forms[0]), (&b, &forms[1])] {
        let r = attempt(
            d,
            cookie,
            format!("csrf={csrf}&user=admin&password=ein-langes-passwort"),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(a.count("SELECT COUNT(*) FROM admin_sessions").await, 0);

    // The public pages: six requests a minute in all, whichever daemon answers.
    let page = "/s/unbekannt";
    let mut statuses = Vec::new();
    for i in 0..8 {
        let d = if i % 2 == 0 { &a } else { &b };
        statuses.push(d.get(OTHER_CLIENT, page).await.0);
    }
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // login_form fetched /admin/login, which is no public page: the six are all here. A minute
    // boundary in between can free at most a few (the previous minute still counts in part).
    assert!(limited >= 1, "{statuses:?}");
    assert!(
        statuses[..6]
            .iter()
            .all(|s| *s != StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

// ----- the real binary -----

const ADMIN_PASSWORD: &str = "Admin-Passwort-8c1f5e";

/// `netzpost admin set-password` with the password on standard input.
fn set_admin_password(ws: &Workspace, password: &str) {
    let mut child = ws
        .command(&["admin", "set-password", "--user", "admin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "set-password: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `netzpost serve` with its stdout and stderr in `log`; waits until it listens and returns the
/// base URL.
fn serve(ws: &Workspace, log: &Path, level: &str) -> (e2e::Guard, String) {
    let file = std::fs::File::create(log).unwrap();
    let child = ws
        .command(&["serve"])
        .env("NETZPOST_LOG", level)
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let mut guard = e2e::Guard {
        child,
        name: "netzpost serve".into(),
        log: Some(log.to_path_buf()),
    };
    let base = wait_for(
        "serve to listen",
        Duration::from_secs(60),
        Duration::from_millis(50),
        || {
            guard.assert_running();
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let line = text.lines().find(|l| l.contains("web server listening"))?;
            let addr = line.split("addr=").nth(1)?.split_whitespace().next()?;
            Some(format!("http://{addr}"))
        },
    );
    (guard, base)
}

/// All bytes of the SQLite database: the file, its WAL and shared memory.
fn database_bytes(ws: &Workspace) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Ok(b) = std::fs::read(ws.path().join(format!("var/netzpost.db{suffix}"))) {
            all.extend(b);
        }
    }
    assert!(all.len() > 4096, "the database exists");
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

// ----- 4. API tokens and passwords stored hashed -----

#[tokio::test(flavor = "multi_thread")]
async fn cli_api_token_and_admin_password_are_stored_hashed_and_still_work() {
    let ws = Workspace::new();
    let out = ws.run(&["tokens", "create", "skript"]);
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("np_") && token.len() > 60, "{token}");
    set_admin_password(&ws, ADMIN_PASSWORD);
    // `tokens list` never shows the secret.
    let list = ws.ok(&["tokens", "list"]);
    assert!(list.contains("skript") && !list.contains(&token), "{list}");

    let bytes = database_bytes(&ws);
    assert!(
        !contains(&bytes, &token),
        "API token in plain text in the database"
    );
    assert!(
        !contains(&bytes, &token[3..]),
        "API token (without np_) in the database"
    );
    assert!(
        !contains(&bytes, ADMIN_PASSWORD),
        "admin password in plain text in the database"
    );
    // What is stored: the SHA-256 of the token, a salted PBKDF2 hash of the password.
    assert!(contains(&bytes, &sha256_hex(&token)));
    assert!(contains(&bytes, "pbkdf2-sha256$600000$"));

    // Both still work against `netzpost serve`.
    let log = ws.path().join("var/serve.log");
    let (mut daemon, base) = serve(&ws, &log, "info");
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .get(format!("{base}/api/topics"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .get(format!("{base}/api/topics"))
        .bearer_auth(format!("{token}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let session = admin_login(&http, &base, ADMIN_PASSWORD)
        .await
        .expect("login works");
    assert!(admin_login(&http, &base, "Admin-Passwort-falsch")
        .await
        .is_none());
    let r = http
        .get(format!("{base}/admin"))
        .header(COOKIE, format!("np_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    daemon.terminate(Duration::from_secs(20));

    // After use (last_used_at written, a session opened) still no plain secret anywhere.
    let bytes = database_bytes(&ws);
    for s in [
        token.as_str(),
        &token[3..],
        ADMIN_PASSWORD,
        session.as_str(),
    ] {
        assert!(!contains(&bytes, s), "{s} in the database");
    }
    assert!(
        contains(&bytes, &sha256_hex(&session)),
        "the session is stored as its hash"
    );
}

/// Signs in at `base`; the session cookie, or None when refused.
async fn admin_login(http: &Client, base: &str, password: &str) -> Option<String> {
    let r = http
        .get(format!("{base}/admin/login"))
        .send()
        .await
        .unwrap();
    let cookie = cookie_of(&r, "np_login").expect("login cookie");
    let csrf = hidden(&r.text().await.unwrap(), "csrf");
    let r = http
        .post(format!("{base}/admin/login"))
        .header(CONTENT_TYPE, FORM)
        .header(COOKIE, format!("np_login={cookie}"))
        .body(format!("csrf={csrf}&user=admin&password={password}"))
        .send()
        .await
        .unwrap();
    if r.status() != StatusCode::SEE_OTHER {
        return None;
    }
    cookie_of(&r, "np_session")
}

// ----- 2. secrets never in logs -----

const SMTP_USER: &str = "versand@nordstadt.example";
const SMTP_PASSWORD: &str = "Smtp-Passwort-3b9d27";
const IMAP_PASSWORD: &str = "Imap-Passwort-71c0aa";
const PG_PASSWORD: &str = "Pg-Passwort-5e2f90";
/// The module filters that would log SMTP and IMAP commands; asking for them changes nothing.
const TRACE_ALL: &str =
    "trace,lettre::transport::smtp::client::async_connection=trace,async_imap::imap_stream=trace";

/// Every secret of this test in the forms it could leak in.
fn secret_forms(secrets: &[&str]) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut v: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
    for s in secrets {
        v.push(b64.encode(s));
        v.push(hex::encode(s));
    }
    // SMTP AUTH PLAIN: base64 of "\0user\0password" (and with the user as authzid).
    v.push(b64.encode(format!("\0{SMTP_USER}\0{SMTP_PASSWORD}")));
    v.push(b64.encode(format!("{SMTP_USER}\0{SMTP_USER}\0{SMTP_PASSWORD}")));
    v
}

fn assert_no_secret(what: &str, text: &str, forms: &[String]) {
    for s in forms {
        assert!(
            !text.contains(s.as_str()),
            "{what}: {s:?} appears in\n{text}"
        );
    }
}

/// The CLI at trace with the credentials configured: an API token (returned), the admin
/// password, a topic, two contacts, a campaign, a test send and the send. Returns the token and
/// every command's output.
fn cli_commands(ws: &Workspace) -> (String, Vec<(String, String)>) {
    let out = ws.run(&["tokens", "create", "skript"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let api_token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    set_admin_password(ws, ADMIN_PASSWORD);
    let mut outputs: Vec<(String, String)> = vec![(
        "tokens create (stderr)".into(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )];
    let mut run = |label: &str, args: &[&str]| {
        let out = ws.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{label}: {text}");
        outputs.push((label.to_string(), text));
    };
    run("topics add", &["topics", "add", "nachbarschaft"]);
    let who = people("leser", "example.org", 2);
    let csv = ws.path().join("leute.csv");
    std::fs::write(&csv, e2e::csv(&who)).unwrap();
    let csv = csv.to_string_lossy().into_owned();
    run(
        "import",
        &[
            "contacts",
            "import",
            &csv,
            "--topic",
            "nachbarschaft",
            "--consent",
            "confirmed",
        ],
    );
    run(
        "campaigns create",
        &[
            "campaigns",
            "create",
            "juni",
            "--kind",
            "newsletter",
            "--topic",
            "nachbarschaft",
            "--body",
            "Hallo!",
        ],
    );
    // A test send goes out from the CLI process itself (over SMTP: it logs in too).
    run(
        "campaigns test",
        &["campaigns", "test", "juni", "probe@example.org"],
    );
    run("campaigns send", &["campaigns", "send", "juni"]);
    (api_token, outputs)
}

/// What `serve_at_trace` waits for, and a check of it given the daemon's log so far.
type Wait<'a> = (&'a str, &'a mut dyn FnMut(&str) -> bool);

/// `netzpost serve` at trace (with the modules that log SMTP and IMAP commands asked for by
/// name): the API with the token and a wrong one, the admin login with the password and a wrong
/// one; then it runs until every `waits` condition holds. Returns the daemon's log and the
/// admin session id.
async fn serve_at_trace(
    ws: &Workspace,
    api_token: &str,
    waits: &mut [Wait<'_>],
) -> (String, String) {
    let log = ws.path().join("var/serve-trace.log");
    let (mut daemon, base) = serve(ws, &log, TRACE_ALL);
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .get(format!("{base}/api/topics"))
        .bearer_auth(api_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .get(format!("{base}/api/topics"))
        .bearer_auth(format!("{api_token}-falsch"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let session = admin_login(&http, &base, ADMIN_PASSWORD)
        .await
        .expect("login works");
    assert!(
        admin_login(&http, &base, &format!("{ADMIN_PASSWORD}-falsch"))
            .await
            .is_none()
    );
    for (what, until) in waits.iter_mut() {
        wait_for(
            what,
            Duration::from_secs(120),
            Duration::from_millis(100),
            || {
                daemon.assert_running();
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                until(&text).then_some(())
            },
        );
    }
    daemon.terminate(Duration::from_secs(20));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("TRACE") || text.contains("DEBUG"),
        "trace level was on:\n{text}"
    );
    (text, session)
}

/// Without any server: the SMTP and IMAP credentials are configured (transport `file`, an IMAP
/// port nobody listens on), the CLI and `netzpost serve` run at trace, and commands that fail on
/// the configuration or the database print no credential either. The logins themselves are
/// checked against real servers in `no_secret_in_serve_trace_log_against_real_smtp_and_imap`.
#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_cli_output_serve_log_or_config_errors_at_trace_level() {
    let mut ws = Workspace::new();
    let token_secret = ws.secret();
    assert!(token_secret.len() >= 32);
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    ws.set("NETZPOST_OUTBOUND__SMTP__USERNAME", SMTP_USER)
        .set("NETZPOST_OUTBOUND__SMTP__PASSWORD", SMTP_PASSWORD)
        .set("NETZPOST_INBOUND__IMAP__HOST", "127.0.0.1")
        .set("NETZPOST_INBOUND__IMAP__PORT", closed)
        .set("NETZPOST_INBOUND__IMAP__TLS", "none")
        .set(
            "NETZPOST_INBOUND__IMAP__USERNAME",
            "antwort@nordstadt.example",
        )
        .set("NETZPOST_INBOUND__IMAP__PASSWORD", IMAP_PASSWORD)
        .set("NETZPOST_INBOUND__IMAP__IDLE", "false")
        .set("NETZPOST_INBOUND__IMAP__POLL_SECS", 1)
        .set("NETZPOST_LOG", "trace");
    let (api_token, outputs) = cli_commands(&ws);
    let mut forms = secret_forms(&[
        &token_secret,
        SMTP_PASSWORD,
        IMAP_PASSWORD,
        PG_PASSWORD,
        &api_token,
        ADMIN_PASSWORD,
    ]);
    let outbox_ws = &ws;
    let (text, session) = serve_at_trace(
        &ws,
        &api_token,
        &mut [(
            "the campaign in the outbox (test send and 2 recipients)",
            &mut |_: &str| outbox_ws.outbox_count() >= 3,
        )],
    )
    .await;
    forms.push(session);
    assert_no_secret("netzpost serve", &text, &forms);
    for (label, output) in &outputs {
        assert_no_secret(label, output, &forms);
    }

    // Commands that fail on the configuration or the database print no credential either.
    let pg = format!("postgres://netzpost:{PG_PASSWORD}@127.0.0.1:1/netzpost");
    let mut failing = Vec::new();
    for (label, env, args) in [
        (
            "serve, PostgreSQL unreachable",
            vec![("NETZPOST_DATABASE", pg.clone())],
            vec!["serve"],
        ),
        (
            "topics list, PostgreSQL unreachable",
            vec![("NETZPOST_DATABASE", pg.clone())],
            vec!["topics", "list"],
        ),
        (
            "database with a wrong scheme",
            vec![(
                "NETZPOST_DATABASE",
                format!("mysql://netzpost:{PG_PASSWORD}@db/np"),
            )],
            vec!["topics", "list"],
        ),
        (
            "SMTP password as an array",
            vec![(
                "NETZPOST_OUTBOUND__SMTP__PASSWORD",
                format!("[\"{SMTP_PASSWORD}\"]"),
            )],
            vec!["topics", "list"],
        ),
    ] {
        let mut c = ws.command(&args);
        c.env("NETZPOST_LOG", "trace");
        for (k, v) in &env {
            c.env(k, v);
        }
        let out = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{label} should fail");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("error"), "{label}: {text}");
        assert_no_secret(label, &text, &forms);
        failing.push(label);
    }
    // Errors in the file itself: a numeric secret and a password without quotes.
    let cfg_path = ws.path().join("config/netzpost.toml");
    let original = std::fs::read_to_string(&cfg_path).unwrap();
    for (label, replace, with) in [
        (
            "numeric secret in the file",
            format!("secret = \"{token_secret}\""),
            "secret = 4711471147".to_string(),
        ),
        (
            "unquoted database URL in the file",
            "database = \"sqlite://var/netzpost.db\"".to_string(),
            format!("database = postgres://netzpost:{PG_PASSWORD}@db/np"),
        ),
    ] {
        assert!(original.contains(&replace), "{replace}");
        std::fs::write(&cfg_path, original.replace(&replace, &with)).unwrap();
        let mut c = ws.command(&["topics", "list"]);
        c.env("NETZPOST_LOG", "trace");
        let out = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{label} should fail");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut forms = forms.clone();
        forms.push("4711471147".into());
        assert_no_secret(label, &text, &forms);
        failing.push(label);
    }
    std::fs::write(&cfg_path, original).unwrap();
    println!(
        "checked {} outputs of commands that worked, the daemon's trace log ({} lines) and {} failing commands",
        outputs.len(),
        text.lines().count(),
        failing.len()
    );
}

/// The logins themselves, against real servers: tests/support/smtpd.py (aiosmtpd) with
/// `--auth`, which accepts only this user and password over AUTH PLAIN or LOGIN, and a private
/// Dovecot with one user. The CLI's test send and `netzpost serve` at trace authenticate to both
/// (checked on the servers' side, so the secrets did travel), and no form of any secret is in
/// the output.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs python3 with aiosmtpd and Dovecot (dovecot-imapd); run by .ci/run"]
async fn no_secret_in_serve_trace_log_against_real_smtp_and_imap() {
    let smtpd = Smtpd::start(&["--auth", &format!("{SMTP_USER}:{SMTP_PASSWORD}")]);
    let imap = Dovecot::start();
    let auth_log =
        || std::fs::read_to_string(smtpd.dir.path().join("auth.log")).unwrap_or_default();
    let smtp_logins = || auth_log().lines().filter(|l| l.starts_with("ok\t")).count();
    let imap_login = format!("Login: user=<{}>", dovecot::USER);
    let mut ws = Workspace::new();
    let token_secret = ws.secret();
    ws.use_smtp(smtpd.port)
        .set("NETZPOST_OUTBOUND__SMTP__USERNAME", SMTP_USER)
        .set("NETZPOST_OUTBOUND__SMTP__PASSWORD", SMTP_PASSWORD)
        .set("NETZPOST_INBOUND__IMAP__HOST", "127.0.0.1")
        .set("NETZPOST_INBOUND__IMAP__PORT", imap.port)
        .set("NETZPOST_INBOUND__IMAP__TLS", "none")
        .set("NETZPOST_INBOUND__IMAP__USERNAME", dovecot::USER)
        .set("NETZPOST_INBOUND__IMAP__PASSWORD", dovecot::PASSWORD)
        .set("NETZPOST_INBOUND__IMAP__IDLE", "false")
        .set("NETZPOST_INBOUND__IMAP__POLL_SECS", 1)
        .set("NETZPOST_LOG", "trace");
    let (api_token, outputs) = cli_commands(&ws);
    // The CLI logged in for its test send (how many logins that takes is counted, not assumed).
    let cli_logins = smtp_logins();
    assert!(cli_logins >= 1, "the CLI logged in: {}", auth_log());
    let cli_accepted = smtpd.accepted();
    assert!(cli_accepted >= 1, "the test send was accepted");
    assert!(
        !imap.logs().contains(&imap_login),
        "no IMAP login before serve"
    );
    let (text, session) = serve_at_trace(
        &ws,
        &api_token,
        &mut [
            (
                "the campaign accepted by the SMTP server after a login",
                &mut |_: &str| smtp_logins() > cli_logins && smtpd.accepted() >= 3,
            ),
            (
                "an IMAP session (login and select) in serve's log and Dovecot's",
                &mut |log: &str| {
                    log.contains("IMAP session ready") && imap.logs().contains(&imap_login)
                },
            ),
        ],
    )
    .await;
    // Only the right credentials were ever sent (a wrong one would be a "fail" line).
    let auth = auth_log();
    assert!(
        auth.lines().all(|l| l.starts_with("ok\t")),
        "every SMTP AUTH succeeded:\n{auth}"
    );
    assert!(
        auth.lines().all(|l| l.ends_with(&format!("\t{SMTP_USER}"))),
        "{auth}"
    );
    assert!(
        !imap.logs().contains("auth failed"),
        "no failed IMAP login:\n{}",
        imap.logs()
    );
    let mut forms = secret_forms(&[
        &token_secret,
        SMTP_PASSWORD,
        dovecot::PASSWORD,
        &api_token,
        ADMIN_PASSWORD,
    ]);
    forms.push(session);
    assert_no_secret("netzpost serve", &text, &forms);
    for (label, output) in &outputs {
        assert_no_secret(label, output, &forms);
    }
    println!(
        "{} SMTP logins ({cli_logins} by the CLI, which got {cli_accepted} recipients through; {}), IMAP login seen by Dovecot; checked {} command outputs and the daemon's trace log ({} lines)",
        smtp_logins(),
        auth.lines()
            .map(|l| l.split('\t').nth(1).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(", "),
        outputs.len(),
        text.lines().count()
    );
}
