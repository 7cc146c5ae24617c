//! Getting a formatted message to the wire: an SMTP connection pool, a file
//! outbox (development, tests) or a local `sendmail` binary.
//!
//! The caller hands over an envelope and the exact message bytes (CRLF line
//! endings, as `lettre::Message::formatted` produces them) and gets back a
//! [`SendError`] that says whether a retry can help.

mod file;
mod ratelimit;
mod sendmail;
mod smtp;

use std::{fmt, path::PathBuf, sync::Arc, time::Duration};

use lettre::address::Envelope;

pub use ratelimit::{RateLimit, RateLimiter};

/// How a connection to a mail server (SMTP or IMAP) is secured; in the configuration `none`,
/// `starttls` or `tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain text (loopback relays, test servers).
    None,
    /// Plain connect, then STARTTLS; refuses to go on if the server does not
    /// offer it, so nothing is ever sent in clear by accident.
    #[default]
    StartTls,
    /// TLS from the first byte ("submissions", usually port 465).
    Tls,
}

/// Where messages go.
#[derive(Clone, PartialEq, Eq)]
pub enum TransportConfig {
    /// Writes each message to a file in `dir` (see [`TransportConfig::default`]).
    File { dir: PathBuf },
    /// Pipes each message to a sendmail-compatible binary.
    Sendmail { command: PathBuf },
    /// Relays to an SMTP server over a pool of up to `pool_size` connections.
    Smtp {
        host: String,
        port: u16,
        tls: TlsMode,
        username: Option<String>,
        password: Option<String>,
        pool_size: usize,
        /// Applies to the TCP connect and to each SMTP command on its own.
        timeout: Duration,
        /// EHLO name; the machine's host name when `None`.
        hello_name: Option<String>,
    },
}

impl TransportConfig {
    /// An SMTP relay with the usual defaults: STARTTLS, 4 connections, 30 s timeout.
    pub fn smtp(host: impl Into<String>, port: u16) -> Self {
        TransportConfig::Smtp {
            host: host.into(),
            port,
            tls: TlsMode::StartTls,
            username: None,
            password: None,
            pool_size: 4,
            timeout: Duration::from_secs(30),
            hello_name: None,
        }
    }
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig::File {
            dir: PathBuf::from("var/outbox/"),
        }
    }
}

// Hand-written so that a config printed with `{:?}` never shows the password.
impl fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportConfig::File { dir } => f.debug_struct("File").field("dir", dir).finish(),
            TransportConfig::Sendmail { command } => f
                .debug_struct("Sendmail")
                .field("command", command)
                .finish(),
            TransportConfig::Smtp {
                host,
                port,
                tls,
                username,
                password,
                pool_size,
                timeout,
                hello_name,
            } => f
                .debug_struct("Smtp")
                .field("host", host)
                .field("port", port)
                .field("tls", tls)
                .field("username", username)
                .field("password", &password.as_ref().map(|_| "<redacted>"))
                .field("pool_size", pool_size)
                .field("timeout", timeout)
                .field("hello_name", hello_name)
                .finish(),
        }
    }
}

/// Why one message was not delivered. Connection errors and timeouts are
/// `Temporary`; SMTP 4xx replies are `Temporary`, 5xx `Permanent`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("temporary failure{}: {message}", code_suffix(.code))]
    Temporary { code: Option<u16>, message: String },
    #[error("permanent failure{}: {message}", code_suffix(.code))]
    Permanent { code: Option<u16>, message: String },
}

fn code_suffix(code: &Option<u16>) -> String {
    code.map(|c| format!(" ({c})")).unwrap_or_default()
}

impl SendError {
    pub(crate) fn temporary(message: impl Into<String>) -> Self {
        SendError::Temporary {
            code: None,
            message: message.into(),
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent { .. })
    }

    /// The SMTP reply code, when a server gave one.
    pub fn code(&self) -> Option<u16> {
        match self {
            SendError::Temporary { code, .. } | SendError::Permanent { code, .. } => *code,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            SendError::Temporary { message, .. } | SendError::Permanent { message, .. } => message,
        }
    }
}

/// A transport that cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The SMTP server could not be reached, or refused TLS, EHLO or the login.
    #[error("SMTP server {addr}: {message}")]
    Smtp { addr: String, message: String },
    #[error("invalid transport configuration: {0}")]
    Config(String),
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        /// In the message, so not a `source` (a cause chain would print it twice).
        error: std::io::Error,
    },
}

/// A started transport; cheap to clone and share between workers.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

// Built once per process and kept behind the Arc: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Inner {
    File(file::FileTransport),
    Sendmail(sendmail::SendmailTransport),
    Smtp(smtp::SmtpPool),
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &*self.inner {
            Inner::File(_) => "file",
            Inner::Sendmail(_) => "sendmail",
            Inner::Smtp(_) => "smtp",
        };
        f.debug_struct("Transport").field("kind", &kind).finish()
    }
}

impl Transport {
    /// Starts a transport. SMTP opens one connection right away (TLS and login
    /// included) so that a wrong host, port or password shows at start-up;
    /// File creates its directory; Sendmail checks that the command exists.
    pub async fn connect(cfg: &TransportConfig) -> Result<Transport, TransportError> {
        let inner = match cfg {
            TransportConfig::File { dir } => Inner::File(file::FileTransport::new(dir).await?),
            TransportConfig::Sendmail { command } => {
                Inner::Sendmail(sendmail::SendmailTransport::new(command)?)
            }
            TransportConfig::Smtp { .. } => Inner::Smtp(smtp::SmtpPool::connect(cfg).await?),
        };
        Ok(Transport {
            inner: Arc::new(inner),
        })
    }

    /// Delivers one message. `message` is sent byte for byte (SMTP adds only
    /// dot-stuffing, which the server removes).
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        match &*self.inner {
            Inner::File(t) => t.send(envelope, message).await,
            Inner::Sendmail(t) => t.send(envelope, message).await,
            Inner::Smtp(t) => t.send(envelope, message).await,
        }
    }

    /// Closes idle SMTP connections politely (QUIT) and refuses further sends;
    /// sends already running finish first.
    pub async fn close(&self) {
        if let Inner::Smtp(t) = &*self.inner {
            t.close().await;
        }
    }
}
