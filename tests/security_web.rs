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
            text(&out)
                .contains("line 2: erika@example.org unsubscribed from topic \"nachbarschaft\""),
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
    let neu = store::contacts::get(&a.db, "neu@example.org")
        .await
        .unwrap();
    assert_eq!(a.status(neu.id, t).await.as_deref(), Some("confirmed"));

    // The person's own confirmed action (the button of the confirmation link) renews it.
    let confirm = a.sign(Purpose::Confirm, c, t);
    let (s, _) = a.get(CLIENT, &format!("/c/{confirm}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        a.status(c, t).await.as_deref(),
        Some("unsubscribed"),
        "a GET changes nothing"
    );
    let (s, _) = a.post_form(CLIENT, &format!("/c/{confirm}"), "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a.status(c, t).await.as_deref(), Some("confirmed"));
}

// ----- 4. sessions end with their token, password or user -----

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

impl App {
    /// Signs in at /admin/login (the password field also takes an API token); returns the
    /// session cookie.
    async fn sign_in(&self, user: &str, password: &str) -> String {
        let r = self
            .http
            .get(self.url("/admin/login"))
            .send()
            .await
            .unwrap();
        let cookie = cookie_of(&r, "np_login").expect("login cookie");
        let csrf = hidden(&r.text().await.unwrap(), "csrf");
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &csrf)
            .append_pair("user", user)
            .append_pair("password", password)
            .finish();
        let r = self
            .http
            .post(self.url("/admin/login"))
            .header(CONTENT_TYPE, FORM)
            .header(COOKIE, format!("np_login={cookie}"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in as {user}");
        cookie_of(&r, "np_session").expect("session cookie")
    }

    /// GET of an admin page with a session: the status, and the page's CSRF token when it shows.
    async fn admin_get(&self, session: &str) -> (StatusCode, Option<String>) {
        let r = self
            .http
            .get(self.url("/admin/contacts"))
            .header(COOKIE, format!("np_session={session}"))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let page = r.text().await.unwrap();
        (
            status,
            (status == StatusCode::OK).then(|| hidden(&page, "csrf")),
        )
    }

    /// The CSRF-protected "forget this contact" POST of the admin pages.
    async fn admin_forget(&self, session: &str, csrf: &str, contact: i64) -> StatusCode {
        self.http
            .post(self.url(&format!("/admin/contacts/{contact}/forget")))
            .header(CONTENT_TYPE, FORM)
            .header(COOKIE, format!("np_session={session}"))
            .body(format!("csrf={csrf}"))
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Whether a session ended: its page and its CSRF-protected POST both go to the login.
    async fn assert_ended(&self, session: &str, csrf: &str, contact: i64, why: &str) {
        assert_eq!(
            self.admin_get(session).await.0,
            StatusCode::SEE_OTHER,
            "{why}"
        );
        assert_eq!(
            self.admin_forget(session, csrf, contact).await,
            StatusCode::SEE_OTHER,
            "{why}: the POST is refused"
        );
        assert!(
            store::contacts::by_id(&self.db, contact).await.is_ok(),
            "{why}: the contact is still there"
        );
    }
}

impl App {
    /// An admin login whose password hash has 1,000 PBKDF2 iterations: signing in with it takes
    /// no time in a debug build (the 600,000 of `set_password` take seconds each).
    async fn quick_password(&self, user: &str, password: &str) {
        use hmac::{Hmac, Mac};
        let (salt, iterations) = ("00112233445566778899aabbccddeeff", 1000u32);
        let prf = Hmac::<sha2::Sha256>::new_from_slice(password.as_bytes()).unwrap();
        let mut mac = prf.clone();
        mac.update(salt.as_bytes());
        mac.update(&1u32.to_be_bytes());
        let mut u: Vec<u8> = mac.finalize().into_bytes().to_vec();
        let mut out = u.clone();
        for _ in 1..iterations {
            let mut mac = prf.clone();
            mac.update(&u);
            u = mac.finalize().into_bytes().to_vec();
            out.iter_mut().zip(&u).for_each(|(o, x)| *o ^= x);
        }
        let hash = format!("pbkdf2-sha256${iterations}${salt}${}", hex::encode(out));
        netzpost::on_db!(&self.db, p => {
            sqlx::query(
                "INSERT INTO admin_users (name, password_hash, updated_at) VALUES ($1, $2, $3)",
            )
            .bind(user)
            .bind(hash)
            .bind(chrono::Utc::now())
            .execute(p)
            .await
            .unwrap();
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_sessions_end_when_their_token_is_revoked_the_password_changes_or_the_user_goes() {
    let a = app(|_| {}).await;
    let c = a
        .contact("erika@example.org", vec![], ConsentStatus::Pending)
        .await;

    // A session opened with an API token, then `netzpost tokens revoke`.
    let token = web::auth::create_token(&a.db, "skript").await.unwrap();
    let other = web::auth::create_token(&a.db, "anderes").await.unwrap();
    let s1 = a.sign_in("admin", &token).await;
    let s2 = a.sign_in("admin", &other).await;
    let (status, csrf1) = a.admin_get(&s1).await;
    assert_eq!(status, StatusCode::OK);
    let out = a.cli(&["tokens", "revoke", "skript"]);
    assert!(out.status.success(), "{}", text(&out));
    a.assert_ended(&s1, &csrf1.unwrap(), c, "token revoked")
        .await;
    assert_eq!(
        a.admin_get(&s2).await.0,
        StatusCode::OK,
        "another token's session lives on"
    );
    // However the token was revoked, its sessions do not outlive it.
    let s3 = a.sign_in("admin", &other).await;
    let csrf3 = a.admin_get(&s3).await.1.unwrap();
    netzpost::on_db!(&a.db, p => {
        sqlx::query("UPDATE api_tokens SET revoked_at = created_at WHERE name = 'anderes'")
            .execute(p)
            .await
            .unwrap();
    });
    a.assert_ended(&s3, &csrf3, c, "token revoked in the database")
        .await;

    // A password change ends the sessions of that user (not those of others).
    a.quick_password("admin", "erstes-langes-passwort").await;
    a.quick_password("kollegin", "zweites-langes-passwort")
        .await;
    let s4 = a.sign_in("admin", "erstes-langes-passwort").await;
    let s5 = a.sign_in("kollegin", "zweites-langes-passwort").await;
    let csrf4 = a.admin_get(&s4).await.1.unwrap();
    web::auth::set_password(&a.db, "admin", "neues-langes-passwort")
        .await
        .unwrap();
    a.assert_ended(&s4, &csrf4, c, "password changed").await;
    let (status, csrf5) = a.admin_get(&s5).await;
    assert_eq!(status, StatusCode::OK);

    // Removing a user (`netzpost admin remove`) ends their sessions.
    let out = a.cli(&["admin", "remove", "kollegin"]);
    assert!(out.status.success(), "{}", text(&out));
    a.assert_ended(&s5, &csrf5.unwrap(), c, "user removed")
        .await;
    let out = a.cli(&["admin", "remove", "kollegin"]);
    assert!(
        !out.status.success() && text(&out).contains("no admin login named"),
        "{}",
        text(&out)
    );
}

// ----- 5. no command signs or checks tokens with an empty or short secret -----

/// A reply whose token was signed with the empty key: what a weak secret would accept.
fn reply_signed_with(key: &[u8]) -> String {
    let token = TokenKey::new(key).sign(&Claims {
        purpose: Purpose::Reply,
        campaign_id: 1,
        contact_id: 1,
        extra: 0,
        expires_at: None,
    });
    format!(
        "Message-ID: <weak-secret@example.org>\r\nFrom: erika@example.org\r\n\
         To: antwort+{token}@{}\r\nSubject: Re: Einladung\r\n\r\nJa, ich komme.\r\n",
        e2e::REPLY_DOMAIN
    )
}

#[test]
fn commands_that_sign_or_check_tokens_refuse_an_empty_or_short_secret() {
    let ws = Workspace::new();
    let good = ws.config_text();
    let secret = ws.secret();
    assert_eq!(secret.len(), 64, "init writes 32 random bytes as hex");
    for (weak, want) in [
        ("", "the configuration has no `secret`"),
        ("a", "`secret` is 1 bytes long; it needs at least 32"),
        ("0123456789abcdef0123456789abcde", "is 31 bytes long"),
    ] {
        std::fs::write(
            ws.path().join("config/netzpost.toml"),
            good.replace(
                &format!("secret = \"{secret}\""),
                &format!("secret = \"{weak}\""),
            ),
        )
        .unwrap();
        let mail = ws.path().join("reply.eml");
        std::fs::write(&mail, reply_signed_with(weak.as_bytes())).unwrap();
        for args in [
            &["inbound", "ingest", mail.to_str().unwrap()][..],
            &["inbound", "process"],
            &["serve"],
        ] {
            let out = ws.run(args);
            assert!(
                !out.status.success(),
                "{args:?} with secret {weak:?}: {}",
                text(&out)
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(want), "{args:?}: {err}");
            assert!(
                err.contains("openssl rand -hex 32"),
                "the fix is named: {err}"
            );
        }
        assert_eq!(
            ws.sql_i64("SELECT COUNT(*) FROM inbound_messages"),
            0,
            "nothing taken in"
        );
    }
    // With the secret `init` wrote, the same mail is taken in.
    std::fs::write(ws.path().join("config/netzpost.toml"), &good).unwrap();
    let mail = ws.path().join("reply.eml");
    let out = ws.run(&["inbound", "ingest", mail.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
}

// ----- 17 and 15. `admin set-password USER`, without echo, and no weak passwords -----

/// `netzpost admin set-password ARGS...` with `input` on standard input (a pipe).
fn set_password(ws: &Workspace, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut all = vec!["admin", "set-password"];
    all.extend(args);
    let mut child = ws
        .command(&all)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn password_hash(ws: &Workspace, user: &str) -> String {
    ws.sql(&format!(
        "SELECT password_hash FROM admin_users WHERE name = '{user}'"
    ))
    .first()
    .map(|r| r[0].clone())
    .unwrap_or_default()
}

#[test]
fn admin_set_password_takes_the_user_as_documented_and_refuses_weak_passwords() {
    let ws = Workspace::new();
    // The README's form, and `--user` as before.
    let out = set_password(&ws, &["admin"], "Ein-gutes-Passwort-1\n");
    assert!(out.status.success(), "{}", text(&out));
    assert!(password_hash(&ws, "admin").starts_with("pbkdf2-sha256$"));
    let out = set_password(&ws, &["--user", "kollegin"], "Ein-gutes-Passwort-2\n");
    assert!(out.status.success(), "{}", text(&out));
    assert!(password_hash(&ws, "kollegin").starts_with("pbkdf2-sha256$"));
    let out = set_password(
        &ws,
        &["admin", "--user", "kollegin"],
        "Ein-gutes-Passwort-3\n",
    );
    assert!(
        !out.status.success(),
        "USER and --user together: {}",
        text(&out)
    );

    // Weak passwords change nothing.
    let before = password_hash(&ws, "admin");
    for (weak, why) in [
        ("          ", "only spaces"),
        ("\t \t", "only spaces"),
        ("", "empty"),
        ("kurz-123", "at least 12 characters"),
        ("   elf-zeichen   ", "at least 12 characters"),
    ] {
        let out = set_password(&ws, &["admin"], &format!("{weak}\n"));
        assert!(!out.status.success(), "{weak:?} accepted");
        assert!(text(&out).contains(why), "{weak:?}: {}", text(&out));
    }
    assert_eq!(password_hash(&ws, "admin"), before);
}

/// Standard output and error of `script` (a terminal for the command) until `want` shows.
fn read_until(rx: &std::sync::mpsc::Receiver<Vec<u8>>, seen: &mut Vec<u8>, want: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !String::from_utf8_lossy(seen).contains(want) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => panic!(
                "no {want:?} from the terminal: {:?}",
                String::from_utf8_lossy(seen)
            ),
        }
    }
}

#[test]
fn admin_set_password_on_a_terminal_does_not_echo_the_password() {
    use std::io::{Read, Write};
    let ws = Workspace::new();
    let password = "Unsichtbares-Passwort-42";
    // util-linux `script` gives the command a pseudo-terminal; what it echoes comes back here.
    let line = format!("{} admin set-password admin", e2e::bin().display());
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(ws.path())
        .env_remove("NETZPOST_CONFIG")
        .envs(&ws.env)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the command on a terminal");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut seen = Vec::new();
    // Typed only after the prompt: the terminal echoes input when it arrives.
    read_until(&rx, &mut seen, "New password for admin");
    writeln!(stdin, "{password}").unwrap();
    read_until(&rx, &mut seen, "The same again");
    writeln!(stdin, "{password}").unwrap();
    read_until(&rx, &mut seen, "password for admin set");
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let shown = String::from_utf8_lossy(&seen);
    assert!(status.success(), "{shown}");
    assert!(
        !shown.contains(password),
        "the password was echoed: {shown:?}"
    );
    assert!(password_hash(&ws, "admin").starts_with("pbkdf2-sha256$"));
}

// ----- 6. no spreadsheet formula in any CSV we write -----

/// Every cell of a CSV text (`,` or `;`).
fn csv_cells(text: &str, delimiter: u8) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    r.records()
        .flat_map(|rec| rec.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

fn assert_no_formula(what: &str, cells: &[String], expected: &[&str]) {
    for c in cells {
        assert!(
            !c.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{what}: a cell starts like a formula: {c:?}"
        );
    }
    for e in expected {
        assert!(
            cells.iter().any(|c| c == e),
            "{what}: no cell {e:?} in {cells:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn contacts_export_list_and_rejects_csv_neutralise_spreadsheet_formulas() {
    let a = app(|_| {}).await;
    a.topic("nachbarschaft").await;
    // A stranger names themselves through the subscribe form.
    let name = "=HYPERLINK(\"http://evil.example\",\"klick\")";
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("email", "mallory@example.org")
        .append_pair("name", name)
        .finish();
    let (s, _) = a.post_form(CLIENT, "/s/nachbarschaft", &body).await;
    assert_eq!(s, StatusCode::OK);
    let file = a.write(
        "liste.csv",
        "email;name;Verein;notiz\n\
         erika@example.org;@SUM(1+1);+49 30 123;-2+3\n\
         =cmd|'/C calc'!A0;Kaputt;;\n",
    );
    let out = a.cli(&["contacts", "import", path_str(&file)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    let out = a.cli(&["contacts", "export"]);
    assert!(out.status.success(), "{}", text(&out));
    let cells = csv_cells(&String::from_utf8_lossy(&out.stdout), b',');
    assert_no_formula(
        "contacts export",
        &cells,
        &[&format!("'{name}"), "'@SUM(1+1)", "'+49 30 123"],
    );
    let export = a.dir.path().join("export.csv");
    let out = a.cli(&["contacts", "export", "-o", path_str(&export)]);
    assert!(out.status.success(), "{}", text(&out));
    let cells = csv_cells(&std::fs::read_to_string(&export).unwrap(), b',');
    assert_no_formula("contacts export -o", &cells, &[&format!("'{name}")]);

    let out = a.cli(&["--format", "csv", "contacts", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    let cells = csv_cells(&String::from_utf8_lossy(&out.stdout), b',');
    assert_no_formula(
        "contacts list --format csv",
        &cells,
        &[&format!("'{name}"), "'@SUM(1+1)"],
    );

    let rejects = std::fs::read_to_string(format!("{}.rejects.csv", path_str(&file))).unwrap();
    assert_no_formula(
        "rejects",
        &csv_cells(&rejects, b','),
        &["'=cmd|'/C calc'!A0;Kaputt;;"],
    );
}

// ----- 7. X-Forwarded-For only from trusted proxies -----

impl App {
    /// The evidence of the last consent change of `email` for `topic`.
    async fn evidence(&self, email: &str, topic: i64) -> String {
        let c = store::contacts::get(&self.db, email).await.unwrap();
        store::contacts::subscriptions(&self.db, c.id)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.topic_id == topic)
            .and_then(|s| s.evidence)
            .unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_for_is_ignored_unless_from_a_trusted_proxy_and_then_read_from_the_right() {
    // Default: no trusted proxy. A client on loopback cannot pick its address by header: the
    // limit counts it as itself, and the evidence names the real peer.
    let a = app(|c| c.http.trusted_proxies.clear()).await;
    let t = a.topic("nachbarschaft").await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let (s, _) = a
            .post_form(
                &format!("198.51.100.{i}"),
                "/s/nachbarschaft",
                &format!("email=person{i}%40example.org"),
            )
            .await;
        statuses.push(s);
    }
    assert_eq!(
        statuses,
        [
            [StatusCode::OK; 5].as_slice(),
            &[StatusCode::TOO_MANY_REQUESTS]
        ]
        .concat(),
        "the subscribe limit (5 per address) holds whatever X-Forwarded-For says"
    );
    let ev = a.evidence("person0@example.org", t).await;
    assert!(
        ev.contains("from 127.0.0.1") && !ev.contains("198.51.100"),
        "{ev}"
    );

    // Behind a trusted proxy: the right-most address that is not a trusted proxy.
    let b = app(|c| c.http.trusted_proxies = vec!["127.0.0.1".into(), "10.0.0.0/8".into()]).await;
    let t = b.topic("nachbarschaft").await;
    let (s, _) = b
        .post_form(
            "192.0.2.66, 203.0.113.9, 10.1.2.3",
            "/s/nachbarschaft",
            "email=erika%40example.org",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let ev = b.evidence("erika@example.org", t).await;
    assert!(ev.contains("from 203.0.113.9"), "{ev}");
    // A bad entry is not walked past.
    let (s, _) = b
        .post_form(
            "192.0.2.66, unknown",
            "/s/nachbarschaft",
            "email=max%40example.org",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let ev = b.evidence("max@example.org", t).await;
    assert!(ev.contains("from 127.0.0.1"), "{ev}");
}

// ----- 8. at most 3 confirmation mails per address and day -----

#[tokio::test(flavor = "multi_thread")]
async fn at_most_three_confirmation_mails_per_address_a_day_whatever_the_client_address() {
    let a = app(|_| {}).await;
    let t = a.topic("nachbarschaft").await;
    // Twelve posts in seconds, each from another client address.
    for i in 0..12 {
        let (s, page) = a
            .post_form(
                &format!("198.51.100.{i}"),
                "/s/nachbarschaft",
                "email=opfer%40example.org",
            )
            .await;
        assert_eq!(s, StatusCode::OK, "the same answer every time: {page}");
    }
    assert_eq!(a.mails(), 3);
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
        .post_form(
            "198.51.100.99",
            "/s/nachbarschaft",
            "email=jemand%40example.org",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a.mails(), 4);
}

// ----- 16. /metrics behind an optional bearer token -----

#[tokio::test(flavor = "multi_thread")]
async fn metrics_want_the_bearer_token_when_one_is_configured() {
    let open = app(|_| {}).await;
    let r = open.http.get(open.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "open by default");

    let token = "metrics-token-5f2c1e9a";
    let a = app(|c| c.http.metrics_token = Some(token.into())).await;
    let get = |auth: Option<String>| {
        let mut req = a.http.get(a.url("/metrics"));
        if let Some(v) = auth {
            req = req.header(reqwest::header::AUTHORIZATION, v);
        }
        req.send()
    };
    for wrong in [
        None,
        Some("Bearer falsch".to_string()),
        Some(token.to_string()),
    ] {
        let r = get(wrong.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert!(!r.text().await.unwrap().contains("netzpost_"), "{wrong:?}");
    }
    let r = get(Some(format!("Bearer {token}"))).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("netzpost_"));
}

// ----- 18. page numbers do not wrap; error messages say their cause once -----

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_admin_page_number_does_not_wrap_to_page_one() {
    let a = app(|_| {}).await;
    a.contact("erika@example.org", vec![], ConsentStatus::Pending)
        .await;
    a.quick_password("admin", "ein-langes-passwort").await;
    let session = a.sign_in("admin", "ein-langes-passwort").await;
    let page = |n: &str| {
        a.http
            .get(a.url(&format!("/admin/contacts?page={n}")))
            .header(COOKIE, format!("np_session={session}"))
            .send()
    };
    let r = page("0").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("erika@example.org"));
    for n in [
        "9223372036854775807",
        "92233720368547758",
        "-9223372036854775808",
    ] {
        let r = page(n).await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        if n.starts_with('-') {
            // A negative page is the first page, as before.
            assert_eq!(status, StatusCode::OK);
            continue;
        }
        assert_eq!(status, StatusCode::OK, "page {n}");
        assert!(
            !text.contains("erika@example.org"),
            "page {n} wrapped to page 1"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn error_messages_say_their_cause_once() {
    let a = app(|_| {}).await;
    let file = a.write("liste.csv", "email\nerika@example.org\n");
    let missing = a.dir.path().join("fehlt.csv");
    for (args, cause) in [
        (
            vec![
                "contacts",
                "import",
                path_str(&file),
                "--topic",
                "gibtsnicht",
            ],
            "unknown topic \"gibtsnicht\"",
        ),
        (
            vec!["contacts", "import", path_str(&missing)],
            "No such file",
        ),
        (
            vec!["topics", "remove", "gibtsnicht"],
            "unknown topic \"gibtsnicht\"",
        ),
        (
            vec!["contacts", "show", "niemand@example.org"],
            "niemand@example.org",
        ),
    ] {
        let out = a.cli(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.matches(cause).count(), 1, "{args:?}: {err}");
    }
    // A configuration file that cannot be read.
    let out = Command::new(e2e::bin())
        .current_dir(a.dir.path())
        .env_remove("NETZPOST_CONFIG")
        .args(["--config", path_str(&missing), "topics", "list"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    // Named once, with what to do about it (no workspace there: exit 78).
    assert_eq!(err.matches("fehlt.csv").count(), 1, "{err}");
    assert_eq!(out.status.code(), Some(78), "{err}");
}
