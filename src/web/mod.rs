//! The HTTP side of `netzpost serve` (axum): public pages for contacts (subscribe, confirm,
//! preferences, unsubscribe, RSVP), the admin JSON API under `/api`, the admin pages under
//! `/admin`, and `/healthz` and `/metrics`.
//!
//! Rules that hold for every route:
//! - a GET never changes anything (mail scanners follow links); only the POST of a form does;
//! - every POST body is size-limited and must have the expected content type (else 413/415);
//! - every page is rendered by minijinja with HTML auto-escaping on for all templates;
//! - public pages speak de, en, tr, ar (right to left), uk, ru and pl: `?lang=`, else the
//!   contact's own language on a contact's link, else `Accept-Language`, else German; the admin
//!   pages German or English.

pub mod admin;
pub mod api;
pub mod auth;
pub mod download;
pub mod metrics;
pub mod pages;
pub mod public;
pub mod report;

use crate::config::Config;
use crate::inbound::Inbound;
use crate::outbound::sender::{Composer, Notifier};
use crate::store::{Db, StoreError};
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest accepted body of a public or admin form. Real forms are far below 1 KiB.
pub const FORM_LIMIT: usize = 16 * 1024;
/// Largest accepted JSON body of the admin API.
pub const API_LIMIT: usize = 1024 * 1024;

/// Everything a request handler needs; shared behind an `Arc`.
pub struct AppState {
    pub db: Db,
    pub cfg: Arc<Config>,
    pub composer: Arc<Composer>,
    /// Sends confirmation and acknowledgement mails; `None` in processes without a transport.
    pub notifier: Option<Arc<Notifier>>,
    pub inbound: Arc<Inbound>,
    pub pages: pages::Pages,
    pub metrics: metrics::Metrics,
    subscribe_limiter: RateLimiter,
    login_limiter: RateLimiter,
    /// Every request to the public pages (`http.public_requests_per_minute`).
    public_limiter: RateLimiter,
    /// Failed bearer-token checks of the API (`http.api_auth_failures_per_minute`).
    api_auth_limiter: RateLimiter,
    /// `http.trusted_proxies`: whose `X-Forwarded-For` counts.
    trusted_proxies: Vec<Network>,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(
        db: Db,
        cfg: Arc<Config>,
        notifier: Option<Arc<Notifier>>,
    ) -> anyhow::Result<Shared> {
        let composer = match &notifier {
            Some(n) => n.composer.clone(),
            None => Arc::new(Composer::new(cfg.clone())?),
        };
        let inbound = Arc::new(Inbound::new(db.clone(), cfg.clone(), notifier.clone())?);
        let pages = pages::Pages::new(
            cfg.templates_dir.as_deref(),
            cfg.tz().map_err(anyhow::Error::msg)?,
        )?
        .with_org(&cfg.organisation.name);
        let trusted_proxies = cfg
            .http
            .trusted_proxies
            .iter()
            .map(|s| Network::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("http.trusted_proxies: {e}"))?;
        Ok(Arc::new(AppState {
            db: db.clone(),
            composer,
            notifier,
            inbound,
            pages,
            metrics: metrics::Metrics::default(),
            // A person subscribes to a topic or two; a script tries hundreds.
            subscribe_limiter: RateLimiter::on(&db, "subscribe", 5, Duration::from_secs(600)),
            // Slows password guessing to a crawl without locking out a person who mistypes.
            login_limiter: RateLimiter::on(&db, "login", 10, Duration::from_secs(600)),
            public_limiter: RateLimiter::on(
                &db,
                "public",
                cfg_limit(cfg.http.public_requests_per_minute),
                Duration::from_secs(60),
            ),
            api_auth_limiter: RateLimiter::on(
                &db,
                "api_auth",
                cfg_limit(cfg.http.api_auth_failures_per_minute),
                Duration::from_secs(60),
            ),
            trusted_proxies,
            cfg,
        }))
    }

    /// Whether the public URL is HTTPS: then cookies are marked `Secure`.
    pub fn https(&self) -> bool {
        self.cfg.http.public_url.starts_with("https://")
    }
}

/// The whole application.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(public::index))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/static/web.css", get(stylesheet))
        .merge(
            public::routes()
                .layer(DefaultBodyLimit::max(FORM_LIMIT))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    limit_public,
                )),
        )
        .merge(admin::routes(state.clone()).layer(DefaultBodyLimit::max(FORM_LIMIT)))
        .nest(
            "/api",
            api::routes(state.clone())
                .layer(DefaultBodyLimit::max(API_LIMIT))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    limit_api_auth,
                )),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}

/// A bound, running server.
pub struct Running {
    pub addr: SocketAddr,
    pub handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds `listen` now (so a taken port stops the start with its name) and serves until `stop`
/// resolves; open requests are finished first.
pub async fn start(
    state: Shared,
    listen: &str,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("http.listen {listen}: {e}"))?;
    start_on(state, listener, stop)
}

/// Serves on a listener bound by the caller (tests bind port 0 first, to know the public URL).
pub fn start_on(
    state: Shared,
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, public_url = %state.cfg.http.public_url, "web server listening");
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let handle = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
    });
    Ok(Running { addr, handle })
}

/// `start`, then waits until the server stops.
pub async fn serve(
    state: Shared,
    listen: &str,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let running = start(state, listen, stop).await?;
    running.handle.await??;
    Ok(())
}

async fn healthz(axum::extract::State(st): axum::extract::State<Shared>) -> Response {
    match st.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!("healthz: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/web/web.css"),
    )
        .into_response()
}

async fn not_found(
    axum::extract::State(st): axum::extract::State<Shared>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let lang = Lang::from_request(uri.query(), &headers);
    st.pages.message(
        lang,
        StatusCode::NOT_FOUND,
        "not_found_title",
        "not_found_text",
    )
}

// ----- language -----

pub use crate::domain::Lang;

/// The page language of a request.
impl Lang {
    /// The page language for a contact's link: `?lang=` wins, then the contact's own language
    /// (when the pages have it), then the request's `Accept-Language`.
    pub fn for_contact(query: Option<&str>, headers: &HeaderMap, contact: Option<&str>) -> Lang {
        if Lang::explicit(query).is_none() {
            if let Some(l) = contact.and_then(Lang::parse) {
                return l;
            }
        }
        Lang::from_request(query, headers)
    }

    fn explicit(query: Option<&str>) -> Option<Lang> {
        query.and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .and_then(|(_, v)| Lang::parse(&v))
        })
    }

    /// `?lang=` wins; then the best of the page languages in `Accept-Language` (by q-value);
    /// else German.
    pub fn from_request(query: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(l) = Lang::explicit(query) {
            return l;
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut it = part.split(';');
            let Some(l) = it.next().and_then(Lang::parse) else {
                continue;
            };
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, l));
            }
        }
        best.map_or(Lang::De, |(_, l)| l)
    }

    /// The query suffix that keeps an explicit language choice across form posts.
    pub fn query(self, query: Option<&str>) -> &'static str {
        if Lang::explicit(query).is_none() {
            return "";
        }
        match self {
            Lang::De => "?lang=de",
            Lang::En => "?lang=en",
            Lang::Tr => "?lang=tr",
            Lang::Ar => "?lang=ar",
            Lang::Uk => "?lang=uk",
            Lang::Ru => "?lang=ru",
            Lang::Pl => "?lang=pl",
        }
    }
}

// ----- forms -----

/// Reads an `application/x-www-form-urlencoded` body (size already limited by the router).
pub fn read_form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, FormError> {
    let ct = content_type(headers);
    if ct != "application/x-www-form-urlencoded" {
        return Err(FormError::ContentType);
    }
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if k.len() > 64 || out.len() >= 64 {
            return Err(FormError::Malformed);
        }
        out.insert(k.into_owned(), v.into_owned());
    }
    Ok(out)
}

pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("expected application/x-www-form-urlencoded")]
    ContentType,
    #[error("malformed form")]
    Malformed,
}

impl FormError {
    pub fn status(self) -> StatusCode {
        match self {
            FormError::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            FormError::Malformed => StatusCode::BAD_REQUEST,
        }
    }
}

/// Reads a body up to `FORM_LIMIT`; a bigger one is a 413.
pub async fn body_bytes(body: axum::body::Body) -> Result<axum::body::Bytes, StatusCode> {
    axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)
}

/// Reads a URL-encoded form of at most `FORM_LIMIT` bytes; a wrong content type, a malformed or
/// an oversized body becomes the matching error page. Every form handler reads its body here.
pub async fn check_post(
    st: &Shared,
    lang: Lang,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<std::collections::HashMap<String, String>, Response> {
    let bytes = body_bytes(body).await.map_err(|s| {
        st.pages
            .message(lang, s, "bad_form_title", "too_large_text")
    })?;
    read_form(headers, &bytes).map_err(|e| {
        st.pages
            .message(lang, e.status(), "bad_form_title", "bad_form_text")
    })
}

// ----- client address and rate limiting -----

/// A network of `http.trusted_proxies`: an address with a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network(IpAddr, u8);

impl Network {
    /// `192.0.2.10`, `10.0.0.0/8`, `::1`, `2001:db8::/32`.
    pub fn parse(s: &str) -> Result<Network, String> {
        let (addr, len) = match s.trim().split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s.trim(), None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or network (10.0.0.0/8)"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Network(ip, len))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.0, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.1)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.1)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The client's address. `X-Forwarded-For` counts only when the peer is one of
/// `http.trusted_proxies` (none by default): then its entries are walked from the right, past
/// the trusted proxies, and the first address that is not one of them is the client (entries
/// further left are whatever the client claimed). Anyone else gets its peer address, whatever
/// it sends.
pub fn client_ip(
    trusted: &[Network],
    peer: Option<&ConnectInfo<SocketAddr>>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    let peer = peer.map(|c| c.0.ip())?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            // Not an address: what is left of it cannot be trusted either.
            Err(_) => break,
        }
    }
    Some(client)
}

impl AppState {
    /// `client_ip` with this server's trusted proxies.
    pub fn client_ip(
        &self,
        peer: Option<&ConnectInfo<SocketAddr>>,
        headers: &HeaderMap,
    ) -> Option<IpAddr> {
        client_ip(&self.trusted_proxies, peer, headers)
    }
}

/// `0` in the configuration switches a limit off.
fn cfg_limit(per_minute: u32) -> usize {
    if per_minute == 0 {
        usize::MAX
    } else {
        per_minute as usize
    }
}

/// Limits every request to the public pages (subscribe, confirm, unsubscribe, preferences, RSVP)
/// per client address: a burst gets 429 and its requests never reach a handler, so they change
/// nothing. Exempt: a POST to `/u/TOKEN` whose token is a correctly signed unsubscribe token.
/// Mail providers send RFC 8058 one-click unsubscribes from a few servers for many people, and
/// an opt-out must never be refused; such a token cannot be guessed, so the exemption does not
/// help anyone who tries tokens.
async fn limit_public(
    axum::extract::State(st): axum::extract::State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let one_click = req.method() == axum::http::Method::POST
        && req
            .uri()
            .path()
            .strip_prefix("/u/")
            .filter(|t| t.len() <= 200 && !t.contains('/'))
            .is_some_and(|t| {
                st.composer
                    .key
                    .verify_any_age(t, crate::token::Purpose::Unsubscribe)
                    .is_ok()
            });
    if !one_click {
        let ip = st.client_ip(
            req.extensions().get::<ConnectInfo<SocketAddr>>(),
            req.headers(),
        );
        if let Some(ip) = ip {
            if !st.public_limiter.allow(ip).await {
                tracing::info!(%ip, "public pages: rate limit reached, 429");
                let lang = Lang::from_request(req.uri().query(), req.headers());
                let mut r = st.pages.message(
                    lang,
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited_title",
                    "links_rate_limited_text",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
                return r;
            }
        }
    }
    next.run(req).await
}

/// Limits failed authentications of the API per client address: after
/// `http.api_auth_failures_per_minute` answers 401 within a minute every API request from that
/// address gets 429 (with a good token too) until the minute has passed.
async fn limit_api_auth(
    axum::extract::State(st): axum::extract::State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let ip = st.client_ip(
        req.extensions().get::<ConnectInfo<SocketAddr>>(),
        req.headers(),
    );
    if let Some(ip) = ip {
        if st.api_auth_limiter.is_full(ip).await {
            tracing::info!(%ip, "api: too many failed authentications, 429");
            let mut r = ApiError(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed authentications from this address; try again in a minute".into(),
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            return r;
        }
    }
    let r = next.run(req).await;
    if r.status() == StatusCode::UNAUTHORIZED {
        if let Some(ip) = ip {
            st.api_auth_limiter.allow(ip).await;
        }
    }
    r
}

/// What a limit counts by: the IPv4 address, or the /64 network of an IPv6 address (one
/// connection usually has a whole /64, and picking a new address in it costs nothing).
fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// A limit per client address over a sliding window. With PostgreSQL the hits are counted in
/// the database, so every daemon serving the pages shares them (a client cannot multiply its
/// tries by the number of daemons behind a load balancer); with SQLite, whose database one
/// host serves, in memory. In the database each window is a fixed one and the previous
/// window's hits count by how much of it still overlaps (a sliding estimate, exact enough for a
/// limit); should the database fail, the process's own count stands in.
pub struct RateLimiter {
    max: usize,
    window: Duration,
    hits: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    /// The database and the limit's scope name, when the count is shared.
    shared: Option<(Db, &'static str)>,
    /// The window whose predecessors were pruned last (database counts only).
    pruned: std::sync::atomic::AtomicI64,
}

impl RateLimiter {
    /// A limit counted in this process.
    pub fn new(max: usize, window: Duration) -> RateLimiter {
        RateLimiter {
            max,
            window,
            hits: Mutex::new(HashMap::new()),
            shared: None,
            pruned: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// A limit shared through `db` when it is PostgreSQL (else as [`RateLimiter::new`]); `scope`
    /// names it in the table.
    pub fn on(db: &Db, scope: &'static str, max: usize, window: Duration) -> RateLimiter {
        RateLimiter {
            shared: db.is_postgres().then(|| (db.clone(), scope)),
            ..RateLimiter::new(max, window)
        }
    }

    /// Counts a hit; false when the address is over its limit.
    pub async fn allow(&self, ip: IpAddr) -> bool {
        if self.max == usize::MAX {
            return true;
        }
        if let Some(over) = self.shared_count(ip, true).await {
            return !over;
        }
        self.allow_here(ip)
    }

    /// Whether the address has used up its limit (counts nothing).
    pub async fn is_full(&self, ip: IpAddr) -> bool {
        if self.max == usize::MAX {
            return false;
        }
        if let Some(over) = self.shared_count(ip, false).await {
            return over;
        }
        self.is_full_here(ip)
    }

    /// Over the limit by the database's count (after counting this hit when `count`); None
    /// when the count is not shared or the database failed.
    async fn shared_count(&self, ip: IpAddr, count: bool) -> Option<bool> {
        let (db, scope) = self.shared.as_ref()?;
        let len = self.window.as_secs().max(1) as i64;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let window = (now as i64).div_euclid(len) * len;
        let client = limit_key(ip).to_string();
        let counted = if count {
            crate::store::ratelimits::hit(db, scope, &client, window, window - len).await
        } else {
            crate::store::ratelimits::hits(db, scope, &client, window, window - len).await
        };
        let (current, previous) = match counted {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(
                    scope,
                    "rate limit: the shared count failed, counting here: {e}"
                );
                return None;
            }
        };
        // Windows before the previous one count for nothing: the first hit of a new window
        // in this process deletes them.
        let pruned = self
            .pruned
            .swap(window, std::sync::atomic::Ordering::Relaxed);
        if pruned != window {
            if let Err(e) = crate::store::ratelimits::prune(db, scope, window - len).await {
                tracing::warn!(scope, "rate limit: pruning old windows failed: {e}");
            }
        }
        let overlap = 1.0 - (now - window as f64) / len as f64;
        // A refused hit is counted too; `count` hits are over the limit beyond `max`.
        let seen = current as f64 + previous as f64 * overlap.clamp(0.0, 1.0);
        Some(if count {
            seen > self.max as f64
        } else {
            seen >= self.max as f64
        })
    }

    fn allow_here(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut hits = self.hits.lock().expect("rate limiter lock");
        if hits.len() > 10_000 {
            hits.retain(|_, q| q.back().is_some_and(|t| now - *t < self.window));
        }
        let q = hits.entry(limit_key(ip)).or_default();
        while q.front().is_some_and(|t| now - *t >= self.window) {
            q.pop_front();
        }
        if q.len() >= self.max {
            return false;
        }
        q.push_back(now);
        true
    }

    fn is_full_here(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut hits = self.hits.lock().expect("rate limiter lock");
        let Some(q) = hits.get_mut(&limit_key(ip)) else {
            return false;
        };
        while q.front().is_some_and(|t| now - *t >= self.window) {
            q.pop_front();
        }
        q.len() >= self.max
    }
}

// ----- errors of JSON handlers -----

/// An API error: status and a message for the caller.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(serde_json::json!({"error": self.1}))).into_response()
    }
}

impl From<crate::activation::ActivationError> for ApiError {
    fn from(e: crate::activation::ActivationError) -> Self {
        use crate::activation::ActivationError as E;
        let status = match &e {
            E::NotFound(_) => StatusCode::NOT_FOUND,
            E::Conflict(_) => StatusCode::CONFLICT,
            E::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            E::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            E::Store(e) => {
                tracing::error!("api: {e}");
                return ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into());
            }
        };
        ApiError(status, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            e if e.is_not_found() => StatusCode::NOT_FOUND,
            StoreError::Conflict(_) => StatusCode::CONFLICT,
            StoreError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("api: {e}");
            return ApiError(status, "internal error".into());
        }
        ApiError(status, e.to_string())
    }
}

impl From<anyhow::Error> for ApiError {
    /// By the first cause that says whose fault it is: the database (500, or the store's own
    /// status), the rules (see `ActivationError`), or a mail server that cannot take the message
    /// now (503: not the caller's fault, try again) or refused it (502). Other library errors
    /// here are about the request (a campaign in the wrong state, a template that does not
    /// render, an address that is no address): 422, and the caller can act on the message.
    fn from(e: anyhow::Error) -> Self {
        let e = match e.downcast::<StoreError>() {
            Ok(s) => return s.into(),
            Err(e) => e,
        };
        let e = match e.downcast::<crate::activation::ActivationError>() {
            Ok(a) => return a.into(),
            Err(e) => e,
        };
        for cause in e.chain() {
            if let Some(s) = cause.downcast_ref::<crate::transport::SendError>() {
                let status = if s.is_permanent() {
                    StatusCode::BAD_GATEWAY
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                return ApiError(status, format!("mail server: {e:#}"));
            }
            if cause
                .downcast_ref::<crate::transport::TransportError>()
                .is_some()
            {
                return ApiError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("mail server: {e:#}"),
                );
            }
            if let Some(s) = cause.downcast_ref::<StoreError>() {
                if matches!(
                    s,
                    StoreError::Sqlx(_) | StoreError::Migrate(_) | StoreError::Open { .. }
                ) {
                    tracing::error!("api: {e:#}");
                    return ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into());
                }
            }
        }
        ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}"))
    }
}

pub fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies_right_most_untrusted_first() {
        let peer = |ip: &str| ConnectInfo(SocketAddr::new(ip.parse().unwrap(), 4711));
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "198.51.100.1, 203.0.113.9, 10.0.0.2".parse().unwrap(),
        );
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let none: Vec<Network> = Vec::new();
        assert_eq!(
            client_ip(&none, Some(&peer("127.0.0.1")), &h),
            Some(ip("127.0.0.1"))
        );
        let lo = vec![Network::parse("127.0.0.1").unwrap()];
        assert_eq!(
            client_ip(&lo, Some(&peer("127.0.0.1")), &h),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(
            client_ip(&lo, Some(&peer("192.0.2.7")), &h),
            Some(ip("192.0.2.7"))
        );
        let two = vec![
            Network::parse("127.0.0.0/8").unwrap(),
            Network::parse("10.0.0.0/8").unwrap(),
        ];
        assert_eq!(
            client_ip(&two, Some(&peer("127.0.0.1")), &h),
            Some(ip("203.0.113.9"))
        );
        h.insert("x-forwarded-for", "junk, 10.0.0.3".parse().unwrap());
        assert_eq!(
            client_ip(&two, Some(&peer("127.0.0.1")), &h),
            Some(ip("10.0.0.3"))
        );
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("proxy.example").is_err());
        assert!(Network::parse("2001:db8::/32")
            .unwrap()
            .contains(ip("2001:db8:1::1")));
        assert!(Network::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("::ffff:192.0.2.1")));
    }

    #[tokio::test]
    async fn limits_count_ipv6_by_64_network_and_zero_is_off() {
        let l = RateLimiter::new(2, Duration::from_secs(600));
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.allow(a).await);
        assert!(l.allow(b).await);
        assert!(
            !l.allow("2001:db8:1:2:abcd::1".parse().unwrap()).await,
            "same /64"
        );
        assert!(l.is_full(a).await);
        assert!(l.allow(other).await);
        let v4: IpAddr = "198.51.100.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert!(l.allow(v4).await);
        assert!(l.allow(mapped).await);
        assert!(
            !l.allow(v4).await,
            "an IPv4-mapped address counts as the IPv4 one"
        );
        assert!(l.allow("198.51.100.8".parse().unwrap()).await);
        let off = RateLimiter::new(cfg_limit(0), Duration::from_secs(60));
        for _ in 0..1000 {
            assert!(off.allow(v4).await);
        }
        assert!(!off.is_full(v4).await);
    }
}
