//! An IMAP mailbox as an inbound source.
//!
//! Every message in the watched mailbox is fetched with `BODY.PEEK[]` (so `\Seen` stays untouched
//! until we are done), handed to the caller, and moved to the processed folder only when the
//! handler returned `Ok`. The handler stores the raw bytes first, so a crash between fetch and move
//! costs at most one duplicate delivery (which the spool recognises by Message-ID), never a loss.
//! Messages are fetched one at a time in UID order, so memory stays at one message however full
//! the mailbox is.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{Response, Status};
use async_imap::types::{Capabilities, Capability, Fetch, Name};
use async_imap::{Client, Session};
use futures::future::{FutureExt, Shared};
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tracing::{debug, info, warn};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// For short commands (LOGIN, SELECT, SEARCH, MOVE, ...).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// A single message may be tens of MB on a slow line.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// RFC 3501 lets servers drop an idle client after 30 minutes; renew IDLE before that.
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);

use crate::transport::TlsMode;

/// Where to read inbound mail from.
#[derive(Clone)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub password: String,
    /// The mailbox to read, usually `INBOX`.
    pub mailbox: String,
    /// Where handled messages go; `/` separates levels and is translated to the server's own
    /// hierarchy delimiter. Created (and subscribed) when missing.
    pub processed_folder: String,
    /// Use IDLE when the server offers it; otherwise poll every `poll_secs`.
    pub idle: bool,
    pub poll_secs: u64,
    /// At most this many bytes plus one are fetched of a message (`BODY.PEEK[]<0.N>`): the
    /// handler sees that it is larger and quarantines it.
    pub max_message_bytes: usize,
}

impl ImapConfig {
    /// A configuration with the usual defaults: TLS on port 993, `INBOX`, processed messages into
    /// `netzpost/verarbeitet`, IDLE with a 60 s polling fallback.
    pub fn new(
        host: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port: 993,
            tls: TlsMode::Tls,
            username: username.into(),
            password: password.into(),
            mailbox: "INBOX".to_owned(),
            processed_folder: "netzpost/verarbeitet".to_owned(),
            idle: true,
            poll_secs: 60,
            max_message_bytes: crate::config::DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

// Hand-written so that the password never reaches a log line.
impl fmt::Debug for ImapConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("mailbox", &self.mailbox)
            .field("processed_folder", &self.processed_folder)
            .field("idle", &self.idle)
            .field("poll_secs", &self.poll_secs)
            .finish()
    }
}

/// What went wrong talking to the IMAP server. Messages name host:port or the user, never the
/// password.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to IMAP server {host}:{port}: {message}")]
    Connect {
        host: String,
        port: u16,
        message: String,
    },
    #[error("IMAP login as {user:?} failed: {message}")]
    Auth { user: String, message: String },
    #[error("IMAP mailbox {mailbox:?}: {message}")]
    Mailbox { mailbox: String, message: String },
    #[error("IMAP protocol error: {0}")]
    Protocol(String),
}

/// Plain TCP or TLS behind one type, since STARTTLS swaps the stream under an existing client.
#[derive(Debug)]
enum Transport {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

type ImapSession = Session<Transport>;

/// What we learnt about the server once per connection.
struct Ctx {
    has_move: bool,
    has_uidplus: bool,
    has_idle: bool,
    /// The processed folder as the server spells it (delimiter translated, modified UTF-7).
    processed: String,
    max_bytes: usize,
}

fn protocol(what: &str, e: impl fmt::Display) -> ImapError {
    ImapError::Protocol(format!("{what}: {e}"))
}

/// Bounds one server round trip, so a server that stops answering ends in an error (and a
/// reconnect) instead of a hang.
async fn timed<T, E: fmt::Display>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, ImapError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result.map_err(|e| protocol(what, e)),
        Err(_) => Err(ImapError::Protocol(format!(
            "{what}: no answer within {} s",
            limit.as_secs()
        ))),
    }
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    // Several dependencies default to aws-lc-rs; the project runs on ring everywhere.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_handshake(
    cfg: &ImapConfig,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ImapError> {
    let connect_err = |message: String| ImapError::Connect {
        host: cfg.host.clone(),
        port: cfg.port,
        message,
    };
    let name = rustls::pki_types::ServerName::try_from(cfg.host.clone())
        .map_err(|e| connect_err(format!("invalid TLS server name: {e}")))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, tls_connector().connect(name, tcp)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(connect_err(format!("TLS handshake failed: {e}"))),
        Err(_) => Err(connect_err("TLS handshake timed out".to_owned())),
    }
}

fn has_capability(caps: &Capabilities, name: &str) -> bool {
    caps.iter()
        .any(|c| matches!(c, Capability::Atom(a) if a.eq_ignore_ascii_case(name)))
}

/// Connects, secures, greets and logs in; returns the session with its capabilities.
async fn connect(cfg: &ImapConfig) -> Result<(ImapSession, Capabilities), ImapError> {
    let connect_err = |message: String| ImapError::Connect {
        host: cfg.host.clone(),
        port: cfg.port,
        message,
    };
    let tcp = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((cfg.host.as_str(), cfg.port)),
    )
    .await
    {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return Err(connect_err(e.to_string())),
        Err(_) => return Err(connect_err("timed out".to_owned())),
    };
    // IMAP is many small commands; Nagle + delayed ACK would stall each round trip.
    let _ = tcp.set_nodelay(true);

    let stream = match cfg.tls {
        TlsMode::Tls => Transport::Tls(Box::new(tls_handshake(cfg, tcp).await?)),
        TlsMode::None | TlsMode::StartTls => Transport::Plain(tcp),
    };
    let mut client = Client::new(stream);
    let greeting = match tokio::time::timeout(CONNECT_TIMEOUT, client.read_response()).await {
        Ok(Ok(Some(greeting))) => greeting,
        Ok(Ok(None)) => return Err(connect_err("closed before the greeting".to_owned())),
        Ok(Err(e)) => return Err(connect_err(format!("reading the greeting: {e}"))),
        Err(_) => return Err(connect_err("no greeting within 30 s".to_owned())),
    };
    if let Response::Data {
        status: Status::Bye,
        outcome,
    } = greeting.parsed()
    {
        return Err(connect_err(format!(
            "server refused the connection: {}",
            outcome.information.as_deref().unwrap_or("BYE")
        )));
    }

    if cfg.tls == TlsMode::StartTls {
        match tokio::time::timeout(
            COMMAND_TIMEOUT,
            client.run_command_and_check_ok("STARTTLS", None),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(connect_err(format!("STARTTLS refused: {e}"))),
            Err(_) => return Err(connect_err("STARTTLS timed out".to_owned())),
        }
        let Transport::Plain(tcp) = client.into_inner() else {
            unreachable!("STARTTLS is only sent on a plain connection")
        };
        // No second greeting after STARTTLS.
        client = Client::new(Transport::Tls(Box::new(tls_handshake(cfg, tcp).await?)));
    }

    let auth_err = |message: String| ImapError::Auth {
        user: cfg.username.clone(),
        message,
    };
    let login = tokio::time::timeout(
        COMMAND_TIMEOUT,
        client.login_with_capabilities(&cfg.username, &cfg.password),
    )
    .await;
    let (mut session, caps) = match login {
        Ok(Ok(ok)) => ok,
        Ok(Err((e, _client))) => {
            return Err(match e {
                async_imap::error::Error::No(m) | async_imap::error::Error::Bad(m) => auth_err(m),
                // The validation error would quote the offending character of the password.
                async_imap::error::Error::Validate(_) => {
                    auth_err("user name or password contains a line break".to_owned())
                }
                other => connect_err(format!("during login: {other}")),
            });
        }
        Err(_) => return Err(auth_err("no answer to LOGIN within 120 s".to_owned())),
    };
    // Servers may send a partial list with the login answer; ask when it lacks the basics.
    let caps = match caps {
        Some(c) if c.has(&Capability::Imap4rev1) => c,
        _ => timed(COMMAND_TIMEOUT, "CAPABILITY", session.capabilities()).await?,
    };
    Ok((session, caps))
}

/// IMAP quoted string (RFC 3501 `quoted`).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Mailbox names travel in modified UTF-7 (RFC 3501 5.1.3): a German folder name with umlauts
/// would otherwise be refused.
fn encode_mailbox_name(name: &str) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    fn flush(out: &mut String, pending: &mut Vec<u16>) {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out.push('-');
        pending.clear();
    }
    let mut out = String::with_capacity(name.len());
    let mut pending = Vec::new();
    for ch in name.chars() {
        if (' '..='~').contains(&ch) {
            flush(&mut out, &mut pending);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(ch.encode_utf16(&mut buf));
        }
    }
    flush(&mut out, &mut pending);
    out
}

/// Finds the processed folder under the server's hierarchy delimiter, creating it if missing.
async fn ensure_processed_folder(
    session: &mut ImapSession,
    cfg: &ImapConfig,
) -> Result<String, ImapError> {
    let root: Vec<Name> = timed(COMMAND_TIMEOUT, "LIST", async {
        session.list(Some(""), None).await?.try_collect().await
    })
    .await?;
    let delimiter = root
        .first()
        .and_then(|n| n.delimiter())
        .unwrap_or("/")
        .to_owned();
    let name = encode_mailbox_name(&cfg.processed_folder.replace('/', &delimiter));

    let pattern = quote(&name);
    let found: Vec<Name> = timed(COMMAND_TIMEOUT, "LIST", async {
        session
            .list(Some(""), Some(&pattern))
            .await?
            .try_collect()
            .await
    })
    .await?;
    if found.is_empty() {
        timed(COMMAND_TIMEOUT, "CREATE", session.create(&name))
            .await
            .map_err(|e| ImapError::Mailbox {
                mailbox: cfg.processed_folder.clone(),
                message: format!("cannot create it: {e}"),
            })?;
        // Subscribed so that ordinary mail clients show it; not essential.
        if let Err(e) = timed(COMMAND_TIMEOUT, "SUBSCRIBE", session.subscribe(&name)).await {
            debug!(error = %e, "could not subscribe the processed folder");
        }
        info!(folder = %name, "created the processed folder");
    }
    Ok(name)
}

/// Connects, prepares the processed folder and selects the watched mailbox.
async fn open(cfg: &ImapConfig) -> Result<(ImapSession, Ctx), ImapError> {
    let (mut session, caps) = connect(cfg).await?;
    let processed = ensure_processed_folder(&mut session, cfg).await?;
    let mailbox = encode_mailbox_name(&cfg.mailbox);
    timed(COMMAND_TIMEOUT, "SELECT", session.select(&mailbox))
        .await
        .map_err(|e| ImapError::Mailbox {
            mailbox: cfg.mailbox.clone(),
            message: format!("cannot select it: {e}"),
        })?;
    let ctx = Ctx {
        has_move: has_capability(&caps, "MOVE"),
        has_uidplus: has_capability(&caps, "UIDPLUS"),
        has_idle: has_capability(&caps, "IDLE"),
        processed,
        max_bytes: cfg.max_message_bytes,
    };
    debug!(
        move_ = ctx.has_move,
        uidplus = ctx.has_uidplus,
        idle = ctx.has_idle,
        "IMAP session ready"
    );
    Ok((session, ctx))
}

/// The raw bytes of one message, or None when it vanished meanwhile (another client expunged it).
async fn fetch_raw(
    session: &mut ImapSession,
    uid: u32,
    max_bytes: usize,
) -> Result<Option<Vec<u8>>, ImapError> {
    let what = format!("UID FETCH {uid}");
    let query = format!("(UID BODY.PEEK[]<0.{}>)", max_bytes.saturating_add(1));
    let fetches: Vec<Fetch> = timed(FETCH_TIMEOUT, &what, async {
        session
            .uid_fetch(uid.to_string(), &query)
            .await?
            .try_collect()
            .await
    })
    .await?;
    // Unsolicited FETCH responses (flag changes of other messages) may come along: pick ours.
    Ok(fetches
        .iter()
        .find(|f| f.uid == Some(uid))
        .and_then(|f| f.body())
        .map(<[u8]>::to_vec))
}

async fn move_to_processed(
    session: &mut ImapSession,
    ctx: &Ctx,
    uid: u32,
) -> Result<(), ImapError> {
    let set = uid.to_string();
    if ctx.has_move {
        return timed(
            COMMAND_TIMEOUT,
            "UID MOVE",
            session.uid_mv(&set, &ctx.processed),
        )
        .await;
    }
    timed(
        COMMAND_TIMEOUT,
        "UID COPY",
        session.uid_copy(&set, &ctx.processed),
    )
    .await?;
    timed(COMMAND_TIMEOUT, "UID STORE", async {
        session
            .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    if ctx.has_uidplus {
        timed(COMMAND_TIMEOUT, "UID EXPUNGE", async {
            session
                .uid_expunge(&set)
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
    } else {
        // Without UIDPLUS this also expunges what others flagged \Deleted; RFC 3501 has no narrower way.
        timed(COMMAND_TIMEOUT, "EXPUNGE", async {
            session.expunge().await?.try_collect::<Vec<_>>().await
        })
        .await?;
    }
    Ok(())
}

/// One pass over the selected mailbox. `stopped` is checked between messages, so a stop never
/// cuts a handler short.
async fn process_mailbox<F, Fut, P>(
    session: &mut ImapSession,
    ctx: &Ctx,
    handle: &mut F,
    stopped: P,
) -> Result<usize, ImapError>
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
    P: Fn() -> bool,
{
    // NOOP lets the server catch up with deliveries since the last command.
    timed(COMMAND_TIMEOUT, "NOOP", session.noop()).await?;
    // UNDELETED: a message we copied and flagged but could not expunge is already processed.
    let mut uids: Vec<u32> = timed(
        COMMAND_TIMEOUT,
        "UID SEARCH",
        session.uid_search("UNDELETED"),
    )
    .await?
    .into_iter()
    .collect();
    uids.sort_unstable();
    if !uids.is_empty() {
        debug!(count = uids.len(), "messages waiting");
    }

    let mut handled = 0;
    for uid in uids {
        if stopped() {
            break;
        }
        let Some(raw) = fetch_raw(session, uid, ctx.max_bytes).await? else {
            debug!(uid, "message vanished before it could be fetched");
            continue;
        };
        let size = raw.len();
        match handle(raw).await {
            Ok(()) => {
                move_to_processed(session, ctx, uid).await?;
                handled += 1;
                debug!(uid, size, "message handled and moved");
            }
            Err(e) => {
                warn!(uid, size, error = %format!("{e:#}"), "handler failed; the message stays in the mailbox and is retried");
            }
        }
    }
    Ok(handled)
}

/// Fetches every message in `cfg.mailbox` (oldest UID first) and calls `handle` with its raw
/// bytes. When the handler returns `Ok`, the message is moved to `cfg.processed_folder` (UID MOVE
/// if the server has MOVE, else COPY + STORE \Deleted + EXPUNGE); when it returns `Err`, the
/// message stays where it is (retried next time) and the error is logged. Returns the number of
/// messages handled and moved.
#[tracing::instrument(name = "imap_poll", skip_all, fields(server = %format!("{}:{}", cfg.host, cfg.port), mailbox = %cfg.mailbox))]
pub async fn poll_once<F, Fut>(cfg: &ImapConfig, mut handle: F) -> Result<usize, ImapError>
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let (mut session, ctx) = open(cfg).await?;
    let handled = process_mailbox(&mut session, &ctx, &mut handle, || false).await?;
    let _ = timed(COMMAND_TIMEOUT, "LOGOUT", session.logout()).await;
    Ok(handled)
}

/// Logs in and opens the mailbox read-only (EXAMINE), changing nothing: for `netzpost check`.
/// Returns the number of messages in it.
pub async fn check(cfg: &ImapConfig) -> Result<u32, ImapError> {
    let (mut session, _) = connect(cfg).await?;
    let mailbox = encode_mailbox_name(&cfg.mailbox);
    let opened = timed(COMMAND_TIMEOUT, "EXAMINE", session.examine(&mailbox))
        .await
        .map_err(|e| ImapError::Mailbox {
            mailbox: cfg.mailbox.clone(),
            message: format!("cannot open it: {e}"),
        })?;
    let _ = timed(COMMAND_TIMEOUT, "LOGOUT", session.logout()).await;
    Ok(opened.exists)
}

/// Waits in IDLE until the mailbox changes, the renewal time passes or `stop` resolves.
/// Returns the session (out of IDLE again) and whether we were stopped.
async fn idle_wait<S>(
    session: ImapSession,
    stop: &Shared<S>,
) -> Result<(ImapSession, bool), ImapError>
where
    S: Future<Output = ()>,
{
    let mut idle = session.idle();
    timed(COMMAND_TIMEOUT, "IDLE", idle.init()).await?;
    let stopped = {
        let (wait, _interrupt) = idle.wait_with_timeout(IDLE_RENEW);
        tokio::select! {
            response = wait => {
                match response.map_err(|e| protocol("IDLE", e))? {
                    IdleResponse::NewData(data) => {
                        if let Response::Data { status: Status::Bye, outcome, .. } = data.parsed() {
                            // Server shutdown or kick: no DONE possible, reconnect.
                            return Err(ImapError::Protocol(format!(
                                "server closed the connection: {}",
                                outcome.information.as_deref().unwrap_or("BYE")
                            )));
                        }
                        debug!(response = ?data.parsed(), "mailbox changed");
                    }
                    IdleResponse::Timeout => debug!("renewing IDLE"),
                    // Also what a closed connection looks like; DONE below will tell.
                    IdleResponse::ManualInterrupt => debug!("IDLE interrupted"),
                }
                false
            }
            // async-imap's own timeout restarts with every keepalive ("* OK Still here" comes
            // every 2 minutes from Dovecot), so it alone would never renew.
            () = tokio::time::sleep(IDLE_RENEW) => {
                debug!("renewing IDLE");
                false
            }
            () = stop.clone() => true,
        }
    };
    let session = timed(COMMAND_TIMEOUT, "DONE", idle.done()).await?;
    Ok((session, stopped))
}

/// One connection's life: passes over the mailbox, separated by IDLE or sleeps. Returns Ok when
/// stopped, Err when the connection failed. Sets `healthy` once a pass succeeded.
async fn serve<F, Fut, S>(
    cfg: &ImapConfig,
    handle: &mut F,
    stop: &Shared<S>,
    healthy: &mut bool,
) -> Result<(), ImapError>
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
    S: Future<Output = ()>,
{
    let is_stopped = || stop.clone().now_or_never().is_some();
    let (mut session, ctx) = tokio::select! {
        opened = open(cfg) => opened?,
        () = stop.clone() => return Ok(()),
    };
    let use_idle = cfg.idle && ctx.has_idle;
    if cfg.idle && !ctx.has_idle {
        info!(
            poll_secs = cfg.poll_secs,
            "server does not offer IDLE; polling"
        );
    }
    loop {
        let handled = process_mailbox(&mut session, &ctx, handle, is_stopped).await?;
        *healthy = true;
        if handled > 0 {
            info!(handled, "inbound messages taken from IMAP");
        }
        if is_stopped() {
            break;
        }
        if use_idle {
            let (back, stopped) = idle_wait(session, stop).await?;
            session = back;
            if stopped {
                break;
            }
        } else {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(cfg.poll_secs.max(1))) => {}
                () = stop.clone() => break,
            }
        }
    }
    let _ = timed(Duration::from_secs(5), "LOGOUT", session.logout()).await;
    Ok(())
}

/// Runs until `stop` resolves: a pass over the mailbox, then IDLE (when `cfg.idle` and the server
/// offers it, renewed every 25 minutes) or a sleep of `poll_secs`, and again. Connection errors
/// are logged and retried with exponential backoff (1 s to 5 min). A handler that is running when
/// `stop` resolves is allowed to finish; no further message is started.
#[tracing::instrument(name = "imap_source", skip_all, fields(server = %format!("{}:{}", cfg.host, cfg.port), mailbox = %cfg.mailbox))]
pub async fn run<F, Fut>(
    cfg: ImapConfig,
    mut handle: F,
    stop: impl Future<Output = ()>,
) -> Result<(), ImapError>
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    // Shared so that IDLE, sleeps and the between-messages check can all watch the one signal.
    let stop = stop.shared();
    let mut backoff = BACKOFF_MIN;
    loop {
        let mut healthy = false;
        match serve(&cfg, &mut handle, &stop, &mut healthy).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                if healthy {
                    backoff = BACKOFF_MIN;
                }
                warn!(error = %e, retry_in_secs = backoff.as_secs(), "IMAP source failed; reconnecting");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.clone() => return Ok(()),
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_names_use_modified_utf7() {
        assert_eq!(encode_mailbox_name("INBOX"), "INBOX");
        assert_eq!(
            encode_mailbox_name("netzpost/verarbeitet"),
            "netzpost/verarbeitet"
        );
        assert_eq!(encode_mailbox_name("A&B"), "A&-B");
        // RFC 3501 5.1.3's example.
        assert_eq!(
            encode_mailbox_name("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(encode_mailbox_name("Rückläufer"), "R&APw-ckl&AOQ-ufer");
    }

    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn debug_and_errors_never_show_the_password() {
        let cfg = ImapConfig::new("mail.example.org", "netzpost", "s3cret-Pw");
        assert!(!format!("{cfg:?}").contains("s3cret-Pw"));
        assert_eq!(cfg.mailbox, "INBOX");
        assert_eq!(cfg.processed_folder, "netzpost/verarbeitet");
        let e = ImapError::Connect {
            host: "mail.example.org".into(),
            port: 993,
            message: "refused".into(),
        };
        assert!(e.to_string().contains("mail.example.org:993"));
        let e = ImapError::Auth {
            user: "netzpost".into(),
            message: "Authentication failed.".into(),
        };
        assert!(e.to_string().contains("\"netzpost\""));
    }
}
