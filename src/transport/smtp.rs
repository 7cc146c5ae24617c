//! SMTP relay over a pool of long-lived lettre connections.
//!
//! We drive `AsyncSmtpConnection` ourselves instead of using
//! `AsyncSmtpTransport` for three reasons:
//! - lettre's own connect leaves Nagle on, which stalls every message until the server's
//!   delayed ACK; we open the socket with `TCP_NODELAY` and hand it over;
//! - lettre's `send` tears the connection down on any negative reply, while a
//!   rejected recipient only needs an `RSET`;
//! - we want the reply code and text of the exact step that failed;
//! - with PIPELINING (RFC 2920) MAIL, RCPT and DATA go out in one write,
//!   two round trips per message instead of four.

use std::{
    error::Error as _,
    fmt, io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex,
    },
    task::{Context, Poll},
    time::Duration,
};

#[allow(deprecated)]
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::{
    address::Envelope,
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters},
        commands::{Data, Ehlo, Mail, Rcpt, Rset},
        extension::{ClientId, Extension, MailBodyParameter, MailParameter},
        response::Response,
        Error as SmtpError,
    },
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::Semaphore,
    time::{timeout, Instant},
};
use tracing::instrument::WithSubscriber as _;

use super::{SendError, TlsMode, TransportConfig, TransportError};

/// Idle connections older than this are dropped rather than reused: most
/// servers close idle sessions after 60-300 s, and a reused dead session
/// costs a failed round trip.
const MAX_IDLE: Duration = Duration::from_secs(30);

/// Message bytes are dot-stuffed and written in pieces of this size, so a
/// large message is not copied whole (lettre allocates one buffer per piece).
const CHUNK: usize = 64 * 1024;

pub(crate) struct SmtpPool {
    /// "host:port", for messages.
    addr: String,
    host: String,
    port: u16,
    tls: TlsMode,
    tls_params: Option<TlsParameters>,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
    /// Most recently used last (LIFO keeps the warm sessions busy).
    idle: Mutex<Vec<Idle>>,
    /// One permit per connection that may exist.
    permits: Semaphore,
    closed: AtomicBool,
}

struct Idle {
    session: Session,
    since: Instant,
}

struct Session {
    conn: AsyncSmtpConnection,
    /// The server offers PIPELINING (lettre's `ServerInfo` does not record it).
    pipelining: bool,
}

/// A failed step of a session.
enum StepError {
    /// The server answered with a negative reply; the session is still in step.
    Reply { code: u16, text: String },
    /// I/O error, timeout or garbage: the session is unusable.
    Broken(String),
    /// We refused to send before talking to the server; no retry can help.
    Refused(String),
}

/// Where in a transaction it failed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Mail,
    Later,
}

struct TxError {
    stage: Stage,
    what: String,
    err: StepError,
    /// The session is in a state we cannot reset (e.g. in DATA mode).
    poisoned: bool,
}

/// Failure to open a session: a reply code when the server gave one.
struct OpenError {
    code: Option<u16>,
    message: String,
}

impl SmtpPool {
    pub(crate) async fn connect(cfg: &TransportConfig) -> Result<SmtpPool, TransportError> {
        let TransportConfig::Smtp {
            host,
            port,
            tls,
            username,
            password,
            pool_size,
            timeout,
            hello_name,
        } = cfg
        else {
            unreachable!("SmtpPool::connect is only called with an Smtp config")
        };
        let addr = format!("{host}:{port}");
        let config_err = |message: &str| TransportError::Smtp {
            addr: addr.clone(),
            message: message.to_owned(),
        };
        if *pool_size == 0 {
            return Err(config_err("pool_size must be at least 1"));
        }
        if timeout.is_zero() {
            return Err(config_err("timeout must be greater than zero"));
        }
        let credentials = match (username, password) {
            (None, None) => None,
            (Some(user), Some(pass)) => Some(Credentials::new(user.clone(), pass.clone())),
            (Some(_), None) => return Err(config_err("a username is set but no password")),
            (None, Some(_)) => return Err(config_err("a password is set but no username")),
        };
        let tls_params = match tls {
            TlsMode::None => None,
            TlsMode::StartTls | TlsMode::Tls => {
                install_ring_provider();
                Some(
                    TlsParameters::new(host.clone()).map_err(|e| TransportError::Smtp {
                        addr: addr.clone(),
                        message: format!("TLS set-up: {e}"),
                    })?,
                )
            }
        };
        if credentials.is_some() && *tls == TlsMode::None && !is_loopback(host) {
            tracing::warn!(%addr, "SMTP login without TLS: the password crosses the network in clear");
        }
        let hello = match hello_name {
            Some(name) => ClientId::Domain(name.clone()),
            None => ClientId::default(),
        };
        let pool = SmtpPool {
            addr,
            host: host.clone(),
            port: *port,
            tls: *tls,
            tls_params,
            credentials,
            timeout: *timeout,
            hello,
            idle: Mutex::new(Vec::with_capacity(*pool_size)),
            permits: Semaphore::new(*pool_size),
            closed: AtomicBool::new(false),
        };
        // One session now, so that a wrong host, port, certificate or password
        // fails the start-up instead of every delivery; it is kept for reuse.
        let session = pool.open().await.map_err(|e| TransportError::Smtp {
            addr: pool.addr.clone(),
            message: e.message,
        })?;
        pool.put_back(session).await;
        tracing::info!(addr = %pool.addr, tls = ?pool.tls, pool_size, "SMTP transport ready");
        Ok(pool)
    }

    pub(crate) async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        let _permit = self.permits.acquire().await.map_err(|_| {
            SendError::temporary(format!("SMTP transport to {} is closed", self.addr))
        })?;
        let mut retried = false;
        loop {
            let (mut session, reused) = match self.take_idle() {
                Some(session) => (session, true),
                None => {
                    let session = self.open().await.map_err(|e| SendError::Temporary {
                        // Failing to open a session says nothing about the
                        // message: always worth a retry, whatever the code.
                        code: e.code,
                        message: format!("{}: {}", self.addr, e.message),
                    })?;
                    (session, false)
                }
            };
            let Err(tx) = self.transaction(&mut session, envelope, message).await else {
                self.put_back(session).await;
                return Ok(());
            };
            // A reused session that fails at its first command was most likely
            // closed by the server while idle (EOF, or a 421 idle timeout).
            // Nothing was accepted yet, so one retry on a fresh session is safe.
            let stale = matches!(
                tx.err,
                StepError::Broken(_) | StepError::Reply { code: 421, .. }
            );
            if reused && !retried && tx.stage == Stage::Mail && stale {
                tracing::debug!(addr = %self.addr, "reused SMTP session was dead, reconnecting");
                retried = true;
                continue;
            }
            return Err(match tx.err {
                StepError::Refused(message) => {
                    self.put_back(session).await;
                    SendError::Permanent {
                        code: None,
                        message: format!("not sent to {}: {message}", self.addr),
                    }
                }
                StepError::Broken(message) => {
                    tracing::debug!(addr = %self.addr, %message, "SMTP session dropped");
                    SendError::temporary(format!("{}: {}: {message}", self.addr, tx.what))
                }
                StepError::Reply { code, text } => {
                    // 421 means the server is closing the session; anything
                    // else leaves it usable once the transaction is reset.
                    if code != 421 && !tx.poisoned && self.reset(&mut session.conn).await {
                        self.put_back(session).await;
                    }
                    let message = format!("{} answered {code} to {}: {text}", self.addr, tx.what);
                    if (500..600).contains(&code) {
                        SendError::Permanent {
                            code: Some(code),
                            message,
                        }
                    } else {
                        SendError::Temporary {
                            code: Some(code),
                            message,
                        }
                    }
                }
            });
        }
    }

    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for mut idle in idle {
            let _ = timeout(self.timeout, idle.session.conn.quit()).await;
        }
        tracing::info!(addr = %self.addr, "SMTP transport closed");
    }

    /// One MAIL/RCPT/DATA transaction. Any rejected recipient fails the whole
    /// message, so a retry never delivers twice to the others.
    async fn transaction(
        &self,
        session: &mut Session,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<(), TxError> {
        let conn = &mut session.conn;
        let mut params = Vec::new();
        let non_ascii_addr = envelope
            .from()
            .is_some_and(|a| !AsRef::<str>::as_ref(a).is_ascii())
            || envelope
                .to()
                .iter()
                .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii_addr {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(refused(
                    "the envelope has non-ASCII addresses but the server lacks SMTPUTF8",
                ));
            }
            params.push(MailParameter::SmtpUtfEight);
        }
        if !message.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                return Err(refused(
                    "the message has 8-bit bytes but the server lacks 8BITMIME",
                ));
            }
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let mail = Mail::new(envelope.from().cloned(), params);
        let mail_what = || mail.to_string().trim_end().to_owned();
        let rcpt_what = |i: usize| format!("RCPT TO:<{}>", envelope.to()[i]);

        if session.pipelining {
            self.pipelined_envelope(conn, &mail, envelope, mail_what, rcpt_what)
                .await?;
        } else {
            let fail = |stage, what: String| move |err| tx_error(stage, what, err);
            self.step(conn.command(&mail))
                .await
                .map_err(fail(Stage::Mail, mail_what()))?;
            for (i, to) in envelope.to().iter().enumerate() {
                self.step(conn.command(Rcpt::new(to.clone(), vec![])))
                    .await
                    .map_err(fail(Stage::Later, rcpt_what(i)))?;
            }
            self.step(conn.command(Data))
                .await
                .map_err(fail(Stage::Later, "DATA".to_owned()))?;
        }
        // The terminator lettre appends starts with CRLF; a message that ends
        // with its own CRLF would otherwise gain an empty last line.
        let body = message.strip_suffix(b"\r\n").unwrap_or(message);
        let sent = match std::str::from_utf8(body) {
            // One write of the stuffed message and its terminator, then the answer: lettre's
            // `message_iter` stuffs byte by byte and writes each chunk and the terminator
            // separately (6 % of the send CPU, two syscalls more per message).
            Ok(text) => self.step(conn.command(RawData(dot_stuff(text)))).await,
            Err(_) => self.step(conn.message_iter(body.chunks(CHUNK))).await,
        };
        sent.map_err(|err| tx_error(Stage::Later, "the message data".to_owned(), err))?;
        Ok(())
    }

    /// MAIL, every RCPT and DATA in one write, then their replies in order.
    /// Every reply is read even after a rejection, to stay in step.
    async fn pipelined_envelope(
        &self,
        conn: &mut AsyncSmtpConnection,
        mail: &Mail,
        envelope: &Envelope,
        mail_what: impl Fn() -> String,
        rcpt_what: impl Fn(usize) -> String,
    ) -> Result<(), TxError> {
        let rcpts: Vec<Rcpt> = envelope
            .to()
            .iter()
            .map(|to| Rcpt::new(to.clone(), vec![]))
            .collect();
        let mut first: Option<TxError> = None;
        let mut note = |result: Result<Response, StepError>, stage, what: &dyn Fn() -> String| {
            match result {
                Ok(_) => Ok(()),
                // Once the stream is broken, report the first rejection if
                // there was one: it is what the server meant.
                Err(StepError::Broken(message)) => Err(match first.take() {
                    Some(mut earlier) => {
                        earlier.poisoned = true;
                        earlier
                    }
                    None => tx_error(stage, what(), StepError::Broken(message)),
                }),
                Err(err) => {
                    first.get_or_insert_with(|| tx_error(stage, what(), err));
                    Ok(())
                }
            }
        };

        let batch = Pipelined {
            mail,
            rcpts: &rcpts,
        };
        note(
            self.step(conn.command(&batch)).await,
            Stage::Mail,
            &mail_what,
        )?;
        for i in 0..rcpts.len() {
            let what = || rcpt_what(i);
            note(self.step(conn.read_response()).await, Stage::Later, &what)?;
        }
        let data = self.step(conn.read_response()).await;
        let data_ok = data.is_ok();
        note(data, Stage::Later, &|| "DATA".to_owned())?;
        match first {
            None => Ok(()),
            Some(mut err) => {
                // DATA accepted although something before it failed (e.g. one
                // of several recipients): leaving DATA mode would send the
                // message, so the session must be dropped instead.
                err.poisoned |= data_ok;
                Err(err)
            }
        }
    }

    /// Runs one command with the per-command timeout.
    async fn step(
        &self,
        fut: impl std::future::Future<Output = Result<Response, SmtpError>>,
    ) -> Result<Response, StepError> {
        match timeout(self.timeout, fut).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(step_error(e)),
            Err(_) => Err(StepError::Broken(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        }
    }

    async fn reset(&self, conn: &mut AsyncSmtpConnection) -> bool {
        self.step(conn.command(Rset)).await.is_ok()
    }

    fn take_idle(&self) -> Option<Session> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(entry) = idle.pop() {
            if entry.since.elapsed() < MAX_IDLE && !entry.session.conn.has_broken() {
                return Some(entry.session);
            }
        }
        None
    }

    async fn put_back(&self, mut session: Session) {
        if self.closed.load(Ordering::SeqCst) {
            let _ = timeout(self.timeout, session.conn.quit()).await;
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        // The oldest entries sit at the bottom; drop the ones gone stale.
        let stale = idle
            .iter()
            .take_while(|e| e.since.elapsed() >= MAX_IDLE)
            .count();
        idle.drain(..stale);
        idle.push(Idle {
            session,
            since: Instant::now(),
        });
    }

    /// Opens a session: TCP (no Nagle), optional TLS, greeting, EHLO,
    /// optional STARTTLS and AUTH, each bounded by the timeout.
    async fn open(&self) -> Result<Session, OpenError> {
        let t = self.timeout;
        let broken = |what: &str, e: &dyn fmt::Display| OpenError {
            code: None,
            message: format!("{what}: {e}"),
        };
        let timed_out = |what: &str| OpenError {
            code: None,
            message: format!("{what}: no answer within {t:?}"),
        };

        let tcp = timeout(t, TcpStream::connect((self.host.as_str(), self.port)))
            .await
            .map_err(|_| timed_out("connect"))?
            .map_err(|e| broken("connect", &e))?;
        tcp.set_nodelay(true)
            .map_err(|e| broken("TCP_NODELAY", &e))?;

        let stream: Box<dyn AsyncTokioStream> = match (&self.tls, &self.tls_params) {
            (TlsMode::Tls, Some(params)) => {
                #[allow(deprecated)]
                let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
                timeout(t, stream.upgrade_tls(params.clone()))
                    .await
                    .map_err(|_| timed_out("TLS handshake"))?
                    .map_err(|e| broken("TLS handshake", &e))?;
                Box::new(TokioCompat(stream))
            }
            _ => Box::new(tcp),
        };
        let mut conn = timeout(
            t,
            AsyncSmtpConnection::connect_with_transport(stream, &self.hello),
        )
        .await
        .map_err(|_| timed_out("greeting/EHLO"))?
        .map_err(|e| open_error("greeting/EHLO", e))?;

        if let (TlsMode::StartTls, Some(params)) = (&self.tls, &self.tls_params) {
            timeout(t, conn.starttls(params.clone(), &self.hello))
                .await
                .map_err(|_| timed_out("STARTTLS"))?
                .map_err(|e| open_error("STARTTLS", e))?;
        }
        // lettre parsed the EHLO reply but keeps no record of PIPELINING, so
        // ask once more; before AUTH, as some servers forget a login on EHLO.
        let ehlo = timeout(t, conn.command(Ehlo::new(self.hello.clone())))
            .await
            .map_err(|_| timed_out("EHLO"))?
            .map_err(|e| open_error("EHLO", e))?;
        let pipelining = ehlo.message().any(|line| {
            line.split_ascii_whitespace()
                .next()
                .is_some_and(|kw| kw.eq_ignore_ascii_case("PIPELINING"))
        });
        if let Some(credentials) = &self.credentials {
            // lettre logs every command it writes at DEBUG, AUTH included:
            // silence tracing while the credentials are on the wire.
            let auth = conn
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .with_subscriber(tracing::subscriber::NoSubscriber::default());
            timeout(t, auth)
                .await
                .map_err(|_| timed_out("AUTH"))?
                .map_err(|e| open_error("AUTH", e))?;
        }
        tracing::debug!(addr = %self.addr, pipelining, "SMTP session opened");
        Ok(Session { conn, pipelining })
    }
}

fn open_error(what: &str, e: SmtpError) -> OpenError {
    match step_error(e) {
        StepError::Reply { code, text } => OpenError {
            code: Some(code),
            message: format!("answered {code} to {what}: {text}"),
        },
        StepError::Broken(message) | StepError::Refused(message) => OpenError {
            code: None,
            message: format!("{what}: {message}"),
        },
    }
}

fn tx_error(stage: Stage, what: String, err: StepError) -> TxError {
    TxError {
        stage,
        what,
        err,
        poisoned: false,
    }
}

/// Several commands written as one (each `Display` ends with CRLF).
struct Pipelined<'a> {
    mail: &'a Mail,
    rcpts: &'a [Rcpt],
}

impl fmt::Display for Pipelined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.mail)?;
        for rcpt in self.rcpts {
            write!(f, "{rcpt}")?;
        }
        write!(f, "{Data}")
    }
}

fn step_error(e: SmtpError) -> StepError {
    match e.status() {
        Some(code) => StepError::Reply {
            code: code.into(),
            // lettre keeps the server's text as the error source.
            text: e.source().map(|s| s.to_string()).unwrap_or_default(),
        },
        // lettre's words for EOF where a reply was due.
        None if e.is_response() && e.to_string().ends_with("incomplete response") => {
            StepError::Broken("connection closed by the server".to_owned())
        }
        None => StepError::Broken(e.to_string()),
    }
}

fn refused(message: &str) -> TxError {
    tx_error(
        Stage::Later,
        "MAIL FROM".to_owned(),
        StepError::Refused(message.to_owned()),
    )
}

fn install_ring_provider() {
    // Fails when a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// lettre's TLS stream speaks the `futures` I/O traits; `connect_with_transport`
/// wants tokio's. This lets us do implicit TLS on our own `TCP_NODELAY` socket.
#[allow(deprecated)]
#[derive(Debug)]
struct TokioCompat(AsyncNetworkStream);

impl AsyncRead for TokioCompat {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let dst = buf.initialize_unfilled();
        match futures::io::AsyncRead::poll_read(Pin::new(&mut self.0), cx, dst) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for TokioCompat {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        futures::io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures::io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures::io::AsyncWrite::poll_close(Pin::new(&mut self.0), cx)
    }
}

impl AsyncTokioStream for TokioCompat {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }
}

/// The DATA payload, already dot-stuffed, with its terminator; written as one "command".
struct RawData(String);

impl std::fmt::Display for RawData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)?;
        f.write_str("\r\n.\r\n")
    }
}

/// Doubles a dot that starts a line (RFC 5321 4.5.2), as lettre's codec does: at the start and
/// after each CRLF.
fn dot_stuff(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    if text.starts_with('.') {
        out.push('.');
    }
    let mut rest = text;
    while let Some(i) = memchr::memmem::find(rest.as_bytes(), b"\r\n.") {
        out.push_str(&rest[..i + 3]);
        out.push('.');
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod dot_stuff_tests {
    use super::dot_stuff;

    #[test]
    fn dots_at_line_starts_are_doubled_and_nothing_else_changes() {
        assert_eq!(
            dot_stuff(".a\r\nb.\r\n.\r\n..c\r\nd"),
            "..a\r\nb.\r\n..\r\n...c\r\nd"
        );
        assert_eq!(dot_stuff("plain\r\ntext"), "plain\r\ntext");
        // A bare LF is not a line start for the codec lettre would use either.
        assert_eq!(dot_stuff("a\n.b"), "a\n.b");
        assert_eq!(dot_stuff(""), "");
    }
}
