//! The router of `netzpost serve` in this process over real HTTP: on 127.0.0.1:0 against a fresh
//! database (SQLite in a temporary folder, or PostgreSQL), a file outbox, reqwest as the client
//! (no redirects followed), request and set-up helpers, and the real binary on the same
//! database. Also the login and page helpers that a daemon started from a workspace needs.

use super::db::{create_postgres_database, Arg, Backend, Sql};
use super::workspace::bin;
use netzpost::config::Config;
use netzpost::domain::{CampaignId, ConsentStatus, ContactId, EmailAddress, OccasionId, TopicId};
use netzpost::outbound::sender::Engine;
use netzpost::store::campaigns::{Audience, CampaignKind, NewCampaign};
use netzpost::store::contacts::ImportRow;
use netzpost::store::occasions::{NewOccasion, Occasion};
use netzpost::store::{self, Db};
use netzpost::token::{Claims, Purpose, TokenKey};
use netzpost::web;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

pub const SECRET: &str = "test-secret-0123456789abcdef-0123456789";
pub const FORM: &str = "application/x-www-form-urlencoded";
/// The client address of most requests (the router trusts X-Forwarded-For from loopback, as
/// behind a reverse proxy on the same host).
pub const CLIENT: &str = "203.0.113.50";

pub struct App {
    /// Holds the SQLite database, the outbox, the send journal and files the test writes.
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`, also the configured public URL.
    pub base: String,
    pub cfg: Arc<Config>,
    pub db: Db,
    /// Raw SQL on the same database.
    pub sql: Sql,
    pub engine: Engine,
    pub outbox: PathBuf,
    pub http: Client,
    pub key: TokenKey,
    stop: tokio::sync::oneshot::Sender<()>,
    running: web::Running,
}

impl App {
    /// On SQLite, behind a trusted reverse proxy on this host (X-Forwarded-For is read).
    pub async fn start() -> App {
        App::start_with(|_| {}).await
    }

    /// On `backend` (a fresh PostgreSQL database: NETZPOST_TEST_POSTGRES_URL).
    pub async fn on(backend: Backend) -> App {
        match backend {
            Backend::Sqlite => App::start().await,
            Backend::Postgres => {
                let url = create_postgres_database().await;
                App::start_with(|c| c.database = url).await
            }
        }
    }

    /// With the configuration changed by `tune` before the start.
    pub async fn start_with(tune: impl FnOnce(&mut Config)) -> App {
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
        cfg.outbound.journal_dir = dir.path().join("journal");
        cfg.http.public_url = base.clone();
        // The tests speak as clients behind a reverse proxy on this host.
        cfg.http.trusted_proxies = vec!["127.0.0.1".into()];
        tune(&mut cfg);
        let cfg = Arc::new(cfg);
        let db = Db::open(&cfg.database).await.unwrap();
        let engine = Engine::new(db.clone(), cfg.clone()).await.unwrap();
        let state =
            web::AppState::new(db.clone(), cfg.clone(), Some(Arc::new(engine.notifier()))).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = web::start_on(state, listener, async move {
            let _ = stopped.await;
        })
        .unwrap();
        App {
            outbox: cfg.outbound.outbox.clone(),
            sql: Sql::new(&cfg.database),
            dir,
            base,
            cfg,
            db,
            engine,
            http: client(),
            key: TokenKey::new(SECRET.as_bytes()),
            stop,
            running,
        }
    }

    /// Stops the web server, waits for it, and closes the engine.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.running.handle.await.unwrap().unwrap();
        self.engine.close().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// A GET from client address `from` (as the reverse proxy reports it).
    pub async fn get_from(&self, from: &str, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(self.url(path))
            .header("x-forwarded-for", from)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    pub async fn post_form(&self, path: &str, body: &str) -> (StatusCode, String) {
        let r = self
            .http
            .post(self.url(path))
            .header(CONTENT_TYPE, FORM)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// A form POST from client address `from`.
    pub async fn post_from(&self, from: &str, path: &str, body: &str) -> Response {
        self.http
            .post(self.url(path))
            .header("x-forwarded-for", from)
            .header(CONTENT_TYPE, FORM)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn post_form_from(&self, from: &str, path: &str, body: &str) -> (StatusCode, String) {
        let r = self.post_from(from, path, body).await;
        (r.status(), r.text().await.unwrap())
    }

    /// A link token for `purpose`; `exp` None: valid for an hour.
    pub fn sign(
        &self,
        purpose: Purpose,
        campaign: i64,
        contact: impl Into<i64>,
        extra: i64,
        exp: Option<i64>,
    ) -> String {
        self.key.sign(&Claims {
            purpose,
            campaign_id: campaign,
            contact_id: contact.into(),
            extra,
            expires_at: exp.or(Some(chrono::Utc::now().timestamp() + 3600)),
        })
    }

    pub async fn topic(&self, slug: &str) -> i64 {
        store::topics::add(&self.db, slug, &format!("Thema {slug}"), None)
            .await
            .unwrap()
            .id
            .get()
    }

    /// Erika Muster (German) at `email`, confirmed for `topics`.
    pub async fn contact(&self, email: &str, topics: Vec<i64>) -> i64 {
        self.contact_with(email, topics, ConsentStatus::Confirmed)
            .await
    }

    /// Erika Muster (German) at `email` with `consent` for `topics`.
    pub async fn contact_with(&self, email: &str, topics: Vec<i64>, consent: ConsentStatus) -> i64 {
        store::contacts::upsert_one(
            &self.db,
            &ImportRow {
                email: EmailAddress::parse(email).unwrap(),
                name: Some("Erika Muster".into()),
                organisation: None,
                language: Some("de".into()),
                attributes: Default::default(),
                topics: topics.into_iter().map(TopicId).collect(),
            },
            consent,
            "test",
        )
        .await
        .unwrap()
        .id
        .get()
    }

    /// The consent status of `contact` for `topic`.
    pub async fn status(
        &self,
        contact: impl Into<ContactId>,
        topic: impl Into<TopicId>,
    ) -> Option<String> {
        let topic = topic.into();
        store::contacts::subscriptions(&self.db, contact.into())
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.topic_id == topic)
            .map(|s| s.status.to_string())
    }

    /// The relation of `form` of `contact`: (status, cause kind).
    pub async fn relation(
        &self,
        contact: impl Into<ContactId>,
        form: &str,
    ) -> Option<(String, String)> {
        store::relations::for_contact(&self.db, contact.into())
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.form.as_str() == form)
            .map(|r| (r.status.to_string(), r.cause_kind))
    }

    /// Every relation of `contact`: (form, status).
    pub async fn relations(&self, contact: impl Into<ContactId>) -> Vec<(String, String)> {
        store::relations::for_contact(&self.db, contact.into())
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.form.to_string(), r.status.to_string()))
            .collect()
    }

    /// The messages in the file outbox, oldest first.
    pub fn mails(&self) -> Vec<String> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.outbox)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        v.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        v.sort();
        v.iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// The "Nachbarschaftscafé" in ten days (20 places) on `topic` and its invitation
    /// "einladung-cafe" (a draft): (campaign id, occasion id).
    pub async fn invitation(&self, topic: i64) -> (i64, i64) {
        self.invite(
            NewOccasion {
                slug: "nachbarschaftscafe".into(),
                title: "Nachbarschaftscafé".into(),
                starts_at: chrono::Utc::now() + chrono::Duration::days(10),
                ends_at: None,
                place: Some("Stadtteilladen".into()),
                description: None,
                capacity: Some(20),
                topic_id: Some(TopicId(topic)),
            },
            "einladung-cafe",
        )
        .await
    }

    /// An occasion `name` starting at `starts` on `topic` and its invitation, also `name`:
    /// (campaign id, occasion id).
    pub async fn invitation_at(
        &self,
        topic: i64,
        name: &str,
        starts: chrono::DateTime<chrono::Utc>,
    ) -> (i64, i64) {
        self.invite(
            NewOccasion {
                slug: name.into(),
                title: format!("Treffen {name}"),
                starts_at: starts,
                ends_at: None,
                place: Some("Stadtteilladen".into()),
                description: None,
                capacity: None,
                topic_id: Some(TopicId(topic)),
            },
            name,
        )
        .await
    }

    /// An invitation to `name` starting at `starts` on `topic` (as [`App::invitation_at`]), sent
    /// to new contacts `people` (as [`App::contacts`]): the occasion's id and the contacts'.
    pub async fn invited<const N: usize>(
        &self,
        topic: i64,
        name: &str,
        starts: chrono::DateTime<chrono::Utc>,
        people: [&str; N],
    ) -> (i64, [i64; N]) {
        let (campaign, occasion) = self.invitation_at(topic, name, starts).await;
        let contacts = self.contacts(topic, people).await;
        self.send_campaign(campaign).await;
        (occasion, contacts)
    }

    /// New contacts `NAME@example.org` of `topic`, one for each of `names`, in order.
    pub async fn contacts<const N: usize>(&self, topic: i64, names: [&str; N]) -> [i64; N] {
        let mut ids = [0; N];
        for (id, name) in ids.iter_mut().zip(names) {
            *id = self
                .contact(&format!("{name}@example.org"), vec![topic])
                .await;
        }
        ids
    }

    /// Starts campaign `campaign` and sends it to its whole audience.
    pub async fn send_campaign(&self, campaign: i64) {
        let c = store::campaigns::by_id(&self.db, CampaignId(campaign))
            .await
            .unwrap();
        netzpost::outbound::campaign::start(&self.db, &self.cfg, &c)
            .await
            .unwrap();
        self.engine.run_until_idle().await.unwrap();
    }

    /// `contact` answers the invitation to `o`, yes or no (recorded as by an administrator).
    pub async fn answer(&self, contact: i64, o: &Occasion, yes: bool) {
        let cause = netzpost::activation::Cause::Admin { by: "test".into() };
        netzpost::activation::answer_invitation(
            &self.db,
            ContactId(contact),
            o,
            yes,
            None,
            None,
            &cause,
        )
        .await
        .unwrap();
    }

    /// Every consent of `contact` withdrawn, in the database alone (no timeline, no mail).
    pub async fn withdraw_all(&self, contact: i64) {
        self.sql
            .exec(
                "UPDATE subscriptions SET status = 'unsubscribed' WHERE contact_id = $1",
                &[contact.into()],
            )
            .await;
    }

    /// Occasion `id` as it is stored now.
    pub async fn occasion(&self, id: i64) -> Occasion {
        store::occasions::by_id(&self.db, OccasionId(id))
            .await
            .unwrap()
    }

    /// The "Runder Tisch" (`rat`) on `topic`, starting at `starts` until a date is picked, with
    /// a date poll over `dates` (start and end).
    pub async fn poll(
        &self,
        topic: i64,
        starts: chrono::DateTime<chrono::Utc>,
        dates: &[(
            chrono::DateTime<chrono::Utc>,
            Option<chrono::DateTime<chrono::Utc>>,
        )],
    ) -> Occasion {
        let new = NewOccasion {
            slug: "rat".into(),
            title: "Runder Tisch".into(),
            starts_at: starts,
            ends_at: None,
            place: None,
            description: None,
            capacity: None,
            topic_id: Some(TopicId(topic)),
        };
        netzpost::activation::add_poll(&self.db, &new, dates)
            .await
            .unwrap()
    }

    async fn invite(&self, occasion: NewOccasion, campaign: &str) -> (i64, i64) {
        let topic_id = occasion.topic_id;
        let o = store::occasions::add(&self.db, &occasion).await.unwrap();
        let c = store::campaigns::create(
            &self.db,
            &NewCampaign {
                name: campaign.into(),
                kind: CampaignKind::Invitation,
                topic_id,
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
        (c.id.get(), o.id.get())
    }

    pub async fn api_token(&self, name: &str) -> String {
        web::auth::create_token(&self.db, name).await.unwrap()
    }

    /// A reply from r@example.org waiting in the review queue, stored as the inbound pipeline
    /// stores it (`n` makes its Message-ID); returns the decision's id.
    pub async fn pending_decision(&self, contact: impl Into<ContactId>, n: i64) -> i64 {
        let contact: ContactId = contact.into();
        let raw = format!(
            "From: r@example.org\r\nTo: antwort@example.org\r\nSubject: Re: Einladung\r\nMessage-ID: <q{n}@example.org>\r\n\r\nVielleicht, mal sehen.\r\n"
        );
        let inbound = self
            .sql
            .i64(
                "INSERT INTO inbound_messages (dedup_key, raw, source, received_at, status, from_addr, subject, visible_text, contact_id)
                 VALUES ($1, $2, 'test', $3, 'processed', 'r@example.org', 'Re: Einladung', 'Vielleicht, <b>mal</b> sehen.', $4) RETURNING id",
                &[
                    format!("mid:q{n}").into(),
                    raw.into_bytes().into(),
                    chrono::Utc::now().into(),
                    contact.into(),
                ],
            )
            .await;
        self.sql
            .i64(
                "INSERT INTO decisions (inbound_id, contact_id, action, status, confidence, reason, plan, created_at)
                 VALUES ($1, $2, 'note', 'pending', 0.4, 'unsure', '{\"action\":\"note\"}', $3) RETURNING id",
                &[inbound.into(), contact.into(), Arg::Time(chrono::Utc::now())],
            )
            .await
    }

    /// An admin login whose password hash has 1,000 PBKDF2 iterations: signing in with it takes no
    /// time in a debug build (the 600,000 of `set_password` take seconds each).
    pub async fn quick_password(&self, user: &str, password: &str) {
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
        self.sql
            .exec(
                "INSERT INTO admin_users (name, password_hash, updated_at) VALUES ($1, $2, $3)",
                &[user.into(), hash.into(), chrono::Utc::now().into()],
            )
            .await;
    }

    /// The login form's cookie and CSRF token, as a browser at `from` gets them.
    pub async fn login_form(&self, from: &str) -> (String, String) {
        login_form(&self.http, &self.base, Some(from)).await
    }

    /// Signs in at /admin/login (the password field also takes an API token): the response.
    pub async fn try_sign_in(&self, user: &str, password: &str) -> Response {
        try_sign_in(&self.http, &self.base, user, password).await
    }

    /// Signs in; the session cookie. Panics when refused.
    pub async fn sign_in(&self, user: &str, password: &str) -> String {
        let r = self.try_sign_in(user, password).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in as {user}");
        cookie_of(&r, "np_session").expect("session cookie")
    }

    /// Signs in as `user`; the session with the CSRF token of its forms (from the dashboard).
    pub async fn admin_login(&self, user: &str, password: &str) -> AdminSession {
        let cookie = self.sign_in(user, password).await;
        let page = self
            .admin_get(&cookie, "/admin")
            .await
            .text()
            .await
            .unwrap();
        AdminSession {
            csrf: hidden(&page, "csrf"),
            cookie,
        }
    }

    /// GET of an admin page with the session cookie `session`.
    pub async fn admin_get(&self, session: &str, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .header(COOKIE, format!("np_session={session}"))
            .send()
            .await
            .unwrap()
    }

    /// The text of admin page `path` with the session cookie `session`, whatever its status.
    pub async fn admin_text(&self, session: &str, path: &str) -> String {
        self.admin_get(session, path).await.text().await.unwrap()
    }

    /// The form POST of an admin page with the session cookie `session`.
    pub async fn admin_post(&self, session: &str, path: &str, body: &str) -> Response {
        self.http
            .post(self.url(path))
            .header(COOKIE, format!("np_session={session}"))
            .header(CONTENT_TYPE, FORM)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// The admin API as a caller with a new bearer token named `name`.
    pub async fn api_caller(&self, name: &str) -> ApiCaller<'_> {
        ApiCaller {
            token: self.api_token(name).await,
            app: self,
        }
    }

    /// The real binary on this app's database, with a configuration file of its own.
    pub fn cli(&self, args: &[&str]) -> Output {
        let config = self.dir.path().join("cli.toml");
        std::fs::write(
            &config,
            format!(
                "database = \"{}\"\nsecret = \"{SECRET}\"\n",
                self.cfg.database
            ),
        )
        .unwrap();
        Command::new(bin())
            .current_dir(self.dir.path())
            .env_remove("NETZPOST_CONFIG")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap()
    }

    /// Writes `text` to `name` in the app's folder.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// A signed-in admin: the session cookie and the CSRF token of its forms.
pub struct AdminSession {
    pub cookie: String,
    pub csrf: String,
}

/// Requests to the admin API (`/api...`) with one bearer token.
pub struct ApiCaller<'a> {
    app: &'a App,
    pub token: String,
}

impl ApiCaller<'_> {
    /// A request to `/api{path}` with the token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.app
            .http
            .request(method, self.app.url(&format!("/api{path}")))
            .bearer_auth(&self.token)
    }

    /// The status of a request without a body.
    pub async fn status(&self, method: Method, path: &str) -> StatusCode {
        self.request(method, path).send().await.unwrap().status()
    }

    /// A request with the JSON `body`.
    pub async fn send_json(&self, method: Method, path: &str, body: serde_json::Value) -> Response {
        self.request(method, path).json(&body).send().await.unwrap()
    }

    /// The JSON answer to a GET.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.request(Method::GET, path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// An HTTP client that follows no redirects: the tests look at the 303s themselves.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of cookie `name` that a response sets (None when absent or cleared).
pub fn cookie_of(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
        .filter(|v| !v.is_empty())
}

/// The value of the hidden form field `name` in `page`.
pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

/// The link with `prefix` in a mail (quoted-printable soft breaks undone first).
pub fn link_in(mail: &str, prefix: &str) -> String {
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

/// The login form of the web server at `base`: its cookie and CSRF token.
pub async fn login_form(http: &Client, base: &str, from: Option<&str>) -> (String, String) {
    let mut req = http.get(format!("{base}/admin/login"));
    if let Some(from) = from {
        req = req.header("x-forwarded-for", from);
    }
    let r = req.send().await.unwrap();
    let cookie = cookie_of(&r, "np_login").expect("login cookie");
    let page = r.text().await.unwrap();
    (cookie, hidden(&page, "csrf"))
}

/// Signs in at the web server at `base` with the login form's cookie and CSRF token.
pub async fn try_sign_in(http: &Client, base: &str, user: &str, password: &str) -> Response {
    let (cookie, csrf) = login_form(http, base, None).await;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &csrf)
        .append_pair("user", user)
        .append_pair("password", password)
        .finish();
    http.post(format!("{base}/admin/login"))
        .header(CONTENT_TYPE, FORM)
        .header(COOKIE, format!("np_login={cookie}"))
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Signs in as admin at `base`; the session cookie, or None when refused.
pub async fn admin_session(http: &Client, base: &str, password: &str) -> Option<String> {
    let r = try_sign_in(http, base, "admin", password).await;
    if r.status() != StatusCode::SEE_OTHER {
        return None;
    }
    cookie_of(&r, "np_session")
}
