//! End to end in a real browser: Debian's headless Chromium, driven through chromedriver with the
//! W3C WebDriver protocol (plain HTTP + JSON). A person subscribes through the form, confirms
//! through the mail in the file outbox, answers an RSVP link from an invitation, and an admin
//! signs in and finds them as an encounter on the dashboard. Screenshots of the dashboard and
//! the preferences page go to `docs/`.

use netzpost::config::Config;
use netzpost::domain::{ConsentStatus, EmailAddress};
use netzpost::outbound::campaign::{self, CreateArgs};
use netzpost::outbound::sender::Engine;
use netzpost::store::campaigns::{Audience, CampaignKind};
use netzpost::store::contacts::ImportRow;
use netzpost::store::occasions::NewOccasion;
use netzpost::store::{self, Db};
use netzpost::web;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
    child: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: apt-get install chromium chromium-driver (.ci/run does)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await {
                if r.json::<Value>()
                    .await
                    .ok()
                    .and_then(|v| v["value"]["ready"].as_bool())
                    == Some(true)
                {
                    ready = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver did not become ready on port {port}");
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1280,1600".into(),
            "--lang=de-DE".into(),
            "--accept-lang=de-DE,de".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": args,
                // The pages follow Accept-Language; the test reads the German ones.
                "prefs": {"intl.accept_languages": "de-DE,de"},
            },
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_string();
        Driver {
            http,
            base,
            session,
            child,
            _profile: profile,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        if v["value"].get("error").is_some() {
            panic!("WebDriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        match v[ELEMENT].as_str() {
            Some(e) => e.to_string(),
            None => panic!("no element {css}: {v}\n{}", self.source().await),
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Waits (bounded) until the page shows `text`: a click's navigation finishes on its own
    /// time, more so on a busy machine.
    async fn wait_for(&self, text: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let page = self.source().await;
            if page.contains(text) {
                return page;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{text:?} not shown within 20 s; the page:\n{page}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn screenshot(&self, to: &Path) {
        use base64::Engine as _;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, png).unwrap();
    }

    async fn quit(&self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }
}

fn mails(outbox: &Path) -> Vec<String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(outbox)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    v.sort();
    v.iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: apt-get install chromium chromium-driver (run by .ci/run)"]
async fn subscribe_confirm_rsvp_and_see_the_encounter_on_the_dashboard() {
    netzpost::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut cfg = Config {
        database: format!("sqlite://{}", dir.path().join("np.db").display()),
        secret: "browser-test-secret-browser-test-secret".into(),
        ..Config::default()
    };
    cfg.outbound.outbox = dir.path().join("outbox");
    cfg.http.public_url = base.clone();
    let cfg = Arc::new(cfg);
    let db = Db::open(&cfg.database).await.unwrap();
    let engine = Engine::new(db.clone(), cfg.clone()).await.unwrap();
    let state =
        web::AppState::new(db.clone(), cfg.clone(), Some(Arc::new(engine.notifier()))).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = web::start_on(state.clone(), listener, async move {
        let _ = stop_rx.await;
    })
    .unwrap();

    // A small network: a topic with silent contacts, an occasion, an admin password.
    let topic = store::topics::add(&db, "nachbarschaft", "Nachbarschaft Nordstadt", None)
        .await
        .unwrap();
    for (email, name) in [
        ("amira@example.org", "Amira K."),
        ("jonas@example.org", "Jonas B."),
        ("fatma@example.org", "Fatma Y."),
        ("lena@example.org", "Lena S."),
    ] {
        store::contacts::upsert_one(
            &db,
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
        &db,
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
    web::auth::set_password(&db, "admin", "browser-test-passwort")
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
    let contact = store::contacts::get(&db, me).await.unwrap();

    // 2. Confirm through the mail in the file outbox.
    let confirm_mail = mails(&cfg.outbound.outbox)
        .into_iter()
        .find(|m| m.contains(me))
        .expect("confirmation mail in the outbox");
    let confirm = link_in(&confirm_mail, &format!("{base}/c/"));
    b.goto(&confirm).await;
    let subs = store::contacts::subscriptions(&db, contact.id)
        .await
        .unwrap();
    assert_eq!(
        subs[0].status, "pending",
        "opening the link alone confirms nothing"
    );
    b.click("button[type=submit]").await;
    b.wait_for("Anmeldung bestätigt").await;
    let subs = store::contacts::subscriptions(&db, contact.id)
        .await
        .unwrap();
    assert_eq!(subs[0].status, "confirmed");

    // 3. An invitation to the silent contacts goes out; answer its RSVP link.
    let composer = engine.composer().clone();
    let c = campaign::create(
        &db,
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
    let queued = campaign::start(&db, &cfg, &c).await.unwrap();
    assert_eq!(queued, 5);
    engine.run_until_idle().await.unwrap();
    let invitation = mails(&cfg.outbound.outbox)
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
    let rel = store::relations::for_contact(&db, contact.id)
        .await
        .unwrap();
    assert_eq!(rel[0].form, "encounter");
    assert_eq!(rel[0].status, "confirmed");
    assert_eq!(rel[0].cause_kind, "link");

    // 4. The admin signs in and finds the contact as an encounter on the dashboard.
    b.goto(&format!("{base}/admin")).await;
    b.type_into("#password", "browser-test-passwort").await;
    b.click("button[type=submit]").await;
    let dash = b.wait_for("Aktivierung stiller Kontakte").await;
    let recent = &dash[dash
        .find("id=\"recent\"")
        .expect("recent activations table")..];
    let row = &recent[recent.find(me).expect("the contact on the dashboard")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("Begegnung"), "{row}");
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
    let _ = stop_tx.send(());
    running.handle.await.unwrap().unwrap();
    engine.close().await;
}
