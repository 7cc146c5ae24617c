//! Issue 13, the web, consent and credential items: an opt-out that no form post or import
//! undoes, sessions that end with their token, password or user, strong secrets and passwords,
//! `admin set-password USER` without echo, CSV formula neutralisation, trusted proxies, the
//! confirmation mail limit per address, the metrics token, and page numbers that do not wrap.
//!
//! The web tests serve the router of `netzpost serve` in this process over real HTTP; the CLI
//! tests run the real binary, in a workspace made by `netzpost init` or on the web test's
//! database. Everything runs in plain `cargo test`, without servers.

#[path = "support/e2e.rs"]
mod e2e;

use e2e::Workspace;
use netzpost::config::Config;
use netzpost::domain::{ConsentStatus, EmailAddress};
use netzpost::outbound::sender::Engine;
use netzpost::store::contacts::ImportRow;
use netzpost::store::{self, Db};
use netzpost::token::{Claims, Purpose, TokenKey};
use netzpost::web;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Client, StatusCode};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

const SECRET: &str = "security-web-test-secret-0123456789abcdef";
const FORM: &str = "application/x-www-form-urlencoded";
/// The client address of most requests, as the reverse proxy on loopback reports it.
const CLIENT: &str = "203.0.113.50";

// ----- the router in this process -----

struct App {
    dir: tempfile::TempDir,
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
        dir,
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

    async fn post_form(&self, from: &str, path: &str, body: &str) -> (StatusCode, String) {
        let r = self
            .http
            .post(self.url(path))
            .header("x-forwarded-for", from)
            .header(CONTENT_TYPE, FORM)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    fn sign(&self, purpose: Purpose, contact: i64, extra: i64) -> String {
        self.key.sign(&Claims {
            purpose,
            campaign_id: 0,
            contact_id: contact,
            extra,
            expires_at: Some(chrono::Utc::now().timestamp() + 3600),
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

    fn mails(&self) -> usize {
        std::fs::read_dir(&self.outbox)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// The real binary on this app's database, with a configuration file of its own.
    fn cli(&self, args: &[&str]) -> Output {
        let config = self.dir.path().join("cli.toml");
        std::fs::write(
            &config,
            format!(
                "database = \"sqlite://{}\"\nsecret = \"{SECRET}\"\n",
                self.dir.path().join("np.db").display()
            ),
        )
        .unwrap();
        Command::new(e2e::bin())
            .current_dir(self.dir.path())
            .env_remove("NETZPOST_CONFIG")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ----- 3. an opt-out is undone only by the person -----

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_form_and_import_never_undo_an_unsubscribe_only_the_confirm_button_does() {
    let a = app(|_| {}).await;
    let t = a.topic("nachbarschaft").await;
    let c = a
        .contact("erika@example.org", vec![t], ConsentStatus::Confirmed)
        .await;
    // One-click unsubscribe (RFC 8058) from a mail.
    let unsub = a.sign(Purpose::Unsubscribe, c, t);
    let (s, _) = a
        .post_form(CLIENT, &format!("/u/{unsub}"), "List-Unsubscribe=One-Click")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a.status(c, t).await.as_deref(), Some("unsubscribed"));

    // Anyone posts the address to the subscribe form: a confirmation mail, no change.
    let before = a.mails();
    let (s, page) = a
        .post_form(CLIENT, "/s/nachbarschaft", "email=erika%40example.org")
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(a.mails(), before + 1, "the confirmation mail goes out");
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
            path_str(&file),
            "--topic",
            "nachbarschaft",
            "--consent",
            consent,
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains("line 2: erika@example.org unsubscribed from topic \"nachbarschaft\""),
            "{}",
            text(&out)
        );
        let rejects = std::fs::read_to_string(format!("{}.rejects.csv", path_str(&file))).unwrap();
        assert!(
            rejects.contains("an import does not renew consent"),
            "{rejects}"
        );
        assert_eq!(a.status(c, t).await.as_deref(), Some("unsubscribed"));
    }
    let neu = store::contacts::get(&a.db, "neu@example.org").await.unwrap();
    assert_eq!(a.status(neu.id, t).await.as_deref(), Some("confirmed"));

    // The person's own confirmed action (the button of the confirmation link) renews it.
    let confirm = a.sign(Purpose::Confirm, c, t);
    let (s, _) = a.get(CLIENT, &format!("/c/{confirm}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a.status(c, t).await.as_deref(), Some("unsubscribed"), "a GET changes nothing");
    let (s, _) = a.post_form(CLIENT, &format!("/c/{confirm}"), "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a.status(c, t).await.as_deref(), Some("confirmed"));
}

#[allow(dead_code)]
fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
        .filter(|v| !v.is_empty())
}
