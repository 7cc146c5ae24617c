//! A real browser: Debian's headless Chromium driven through chromedriver with the W3C
//! WebDriver protocol (plain HTTP and JSON). Panics loudly when either is missing.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
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
    pub async fn start() -> Driver {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: apt-get install chromium chromium-driver (.ci/run does)"
            );
        }
        let port = super::free_port();
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

    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn find(&self, css: &str) -> String {
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

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
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
    pub async fn wait_for(&self, text: &str) -> String {
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

    pub async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn screenshot(&self, to: &Path) {
        use base64::Engine as _;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, png).unwrap();
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub async fn execute(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Resizes the window to `width` CSS pixels (a phone: 390).
    pub async fn set_width(&self, width: u32) {
        self.window(width, 900).await;
    }

    /// Runs `script` in the page and waits until it calls its last argument (the callback)
    /// with the value to return.
    pub async fn execute_async(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Sets the window's size (the page's width is this less nothing in headless mode).
    pub async fn window(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// The page's width beyond the window: `document.documentElement.scrollWidth`.
    pub async fn scroll_width(&self) -> i64 {
        self.execute("return document.documentElement.scrollWidth;")
            .await
            .as_i64()
            .unwrap()
    }

    /// The value of the cookie `name` the browser holds for the current page.
    pub async fn cookie(&self, name: &str) -> String {
        let v = self
            .cmd(reqwest::Method::GET, &format!("/cookie/{name}"), None)
            .await;
        v["value"].as_str().unwrap_or_default().to_string()
    }

    /// axe-core (`NETZPOST_TEST_AXE`, see [`axe_source`]) finds no WCAG 2 A or AA violation on
    /// the page, and checked something.
    pub async fn assert_accessible(&self, what: &str) {
        let script = format!(
            "{}\nconst done = arguments[arguments.length - 1];
             axe.run(document, {{runOnly: {{type: 'tag', values: ['wcag2a', 'wcag2aa']}}}})
                .then(r => done({{passes: r.passes.length, violations: r.violations.map(v => v.id
                    + ' (' + v.help + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))}}))
                .catch(e => done({{passes: 0, violations: ['axe failed: ' + e]}}));",
            axe_source()
        );
        let r = self.execute_async(&script).await;
        let violations = &r["violations"];
        assert_eq!(
            violations.as_array().map(Vec::len),
            Some(0),
            "{what}: {violations:#}"
        );
        // A run that checked nothing would pass as well.
        assert!(
            r["passes"].as_u64().unwrap_or(0) > 5,
            "{what}: axe checked nothing: {r}"
        );
    }

    pub async fn quit(&self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }
}

/// The source of axe-core (`NETZPOST_TEST_AXE`: the path of `axe.min.js`).
pub fn axe_source() -> String {
    let path = std::env::var("NETZPOST_TEST_AXE").unwrap_or_else(|_| {
        panic!(
            "NETZPOST_TEST_AXE is not set: npm install --prefix ~/.cache/netzpost-axe axe-core@4 and \
             set NETZPOST_TEST_AXE=~/.cache/netzpost-axe/node_modules/axe-core/axe.min.js (.ci/run does)"
        )
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("NETZPOST_TEST_AXE={path}: {e}"))
}
