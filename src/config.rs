//! Typed settings: a TOML file plus `NETZPOST_*` environment overrides.
//!
//! Every key has a default that runs without any server (SQLite, file outbox, maildir inbox), so
//! an empty file is a valid configuration. Unknown keys are errors: a typo must not silently turn
//! into a default (think `unsubscribe_scop = "all"`).

use crate::transport::TlsMode;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {error}")]
    Read {
        file: String,
        /// In the message, so not a `source` (a cause chain would print it twice).
        error: std::io::Error,
    },
    #[error("{file}: line {line}, column {column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
}

/// Shortest accepted `secret`, in bytes: it is the HMAC key of every token in links and reply
/// addresses, and a short one can be guessed offline from a single mail.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "the configuration has no `secret` (the key that signs the tokens in links and reply \
         addresses): put `secret = \"<64 hex digits>\"` into config/netzpost.toml or set \
         NETZPOST_SECRET"
    )]
    Missing,
    #[error(
        "`secret` is {0} bytes long; it needs at least {MIN_SECRET_BYTES}: replace it in \
         config/netzpost.toml or NETZPOST_SECRET with 32 random bytes as hex (links and reply \
         addresses signed with the old one stop working)"
    )]
    Short(usize),
}

/// `Debug` redacts the secret and the database password (see `store::redact`): a configuration
/// printed into a log or an error message shows no credential.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `sqlite://path` (WAL) or `postgres://user@host/db`.
    pub database: String,
    /// HMAC secret for signed tokens in reply addresses and links. `init` generates one.
    pub secret: String,
    pub default_language: String,
    pub time_zone: String,
    /// Days without a reply after which a consenting contact without relations counts as silent.
    pub silent_after_days: i64,
    /// Where user templates override the bundled ones (same file names).
    pub templates_dir: Option<PathBuf>,
    pub organisation: Organisation,
    pub http: Http,
    pub outbound: Outbound,
    pub inbound: Inbound,
    pub holidays: Holidays,
    #[serde(rename = "schedule")]
    pub schedules: Vec<ScheduleEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Organisation {
    pub name: String,
    /// The From address of every mail.
    pub sender: String,
    /// Replies and bounces come back to `antwort+TOKEN@` and `bounce+TOKEN@` this domain.
    pub reply_domain: String,
    /// Postal address for the footer (German law wants an imprint in newsletters).
    pub address: String,
    /// Who is told about cooperation interest.
    pub organiser: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    pub listen: String,
    /// The address people's browsers reach: used in links in mails.
    pub public_url: String,
    /// Requests per minute per client address to the public pages (subscribe, confirm,
    /// unsubscribe, preferences, RSVP); more get 429. 0 = no limit. A correctly signed one-click
    /// unsubscribe is never refused.
    pub public_requests_per_minute: u32,
    /// Failed API authentications per minute per client address; then 429 for a minute.
    /// 0 = no limit.
    pub api_auth_failures_per_minute: u32,
    /// Reverse proxies (addresses or networks, `127.0.0.1`, `10.0.0.0/8`) whose
    /// `X-Forwarded-For` is believed; empty: the header is ignored.
    pub trusted_proxies: Vec<String>,
    /// When set, `/metrics` wants `Authorization: Bearer <this>`.
    pub metrics_token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    File,
    Smtp,
    Sendmail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Outbound {
    pub transport: TransportKind,
    pub outbox: PathBuf,
    pub sendmail_command: PathBuf,
    pub smtp: Smtp,
    /// Messages per second overall (0 = unlimited).
    pub per_second: f64,
    pub per_hour: u64,
    pub per_domain_per_second: f64,
    pub per_domain_per_hour: u64,
    /// Frequency caps per contact.
    pub invitation_every_days: i64,
    pub max_messages_per_30_days: i64,
    pub max_attempts: i64,
    /// First retry after this many seconds; each further one waits twice as long (at most 1 h).
    pub retry_base_secs: i64,
    /// A campaign pauses itself after this many failures in a row.
    pub pause_after_failures: i64,
    /// A campaign paused by temporary failures only (the relay is away) runs again after this
    /// many seconds; 0 = it waits for a person. Permanent refusals always wait for a person.
    pub resume_after_secs: i64,
    pub batch_size: i64,
    /// Where the sender notes each message the server accepted before the database records it;
    /// a restart after a crash marks those sent instead of sending them again.
    pub journal_dir: PathBuf,
    pub dkim: Option<Dkim>,
}

/// `Debug` redacts the password.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<String>,
    pub pool_size: usize,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dkim {
    pub selector: String,
    pub domain: String,
    pub private_key_file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsubscribeScope {
    /// Withdraw consent for the topic of the campaign that was answered.
    Topic,
    /// Withdraw every consent.
    All,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Inbound {
    pub maildir: PathBuf,
    /// Below this confidence a decision goes to the review queue and changes nothing.
    pub review_threshold: f32,
    pub unsubscribe_scope: UnsubscribeScope,
    /// Extra intent rules (see config/intents.toml); the bundled rules always apply.
    pub rules_file: Option<PathBuf>,
    pub create_unknown_senders: bool,
    pub send_acknowledgements: bool,
    pub soft_bounce_limit: i64,
    pub soft_bounce_days: i64,
    pub poll_secs: u64,
    /// A larger message (maildir, stdin, IMAP, HTTP) is quarantined with the reason, and only
    /// its first this many bytes are read and kept.
    pub max_message_bytes: usize,
    /// An IMAP mailbox read besides (or instead of) the maildir.
    pub imap: Option<Imap>,
}

/// `Debug` redacts the password.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Imap {
    pub host: String,
    pub port: u16,
    /// none | starttls | tls
    pub tls: TlsMode,
    pub username: String,
    pub password: String,
    pub mailbox: String,
    /// Processed mail moves here (created when missing).
    pub processed_folder: String,
    /// Wait with IDLE where the server offers it; else poll every `poll_secs`.
    pub idle: bool,
    pub poll_secs: u64,
}

impl Default for Imap {
    fn default() -> Self {
        Imap {
            host: "localhost".into(),
            port: 993,
            tls: TlsMode::Tls,
            username: String::new(),
            password: String::new(),
            mailbox: "INBOX".into(),
            processed_folder: "netzpost/verarbeitet".into(),
            idle: true,
            poll_secs: 60,
        }
    }
}

impl Imap {
    pub fn to_imap_config(&self) -> crate::imap::ImapConfig {
        crate::imap::ImapConfig {
            host: self.host.clone(),
            port: self.port,
            tls: self.tls,
            username: self.username.clone(),
            password: self.password.clone(),
            mailbox: self.mailbox.clone(),
            processed_folder: self.processed_folder.clone(),
            idle: self.idle,
            poll_secs: self.poll_secs.max(1),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// The holiday calendar a reply's "nach den Sommerferien" is read against.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Holidays {
    /// Last days of the summer school holidays, "YYYY-MM-DD", one per year. "After the summer
    /// holidays" is the day after the next of them; without one, 1 September.
    pub summer_end: Vec<String>,
}

impl Holidays {
    /// The configured ends of the summer holidays, sorted (checked when the file is loaded).
    pub fn summer_ends(&self) -> Vec<chrono::NaiveDate> {
        let mut v: Vec<chrono::NaiveDate> = self
            .summer_end
            .iter()
            .filter_map(|d| parse_date(d).ok())
            .collect();
        v.sort();
        v
    }
}

fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a date YYYY-MM-DD"))
}

/// A recurring newsletter: every firing creates a campaign run from the named campaign.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    pub name: String,
    pub campaign: String,
    pub cron: String,
    pub time_zone: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database: "sqlite://var/netzpost.db".into(),
            secret: String::new(),
            default_language: "de".into(),
            time_zone: "Europe/Berlin".into(),
            silent_after_days: 180,
            templates_dir: None,
            organisation: Organisation::default(),
            http: Http::default(),
            outbound: Outbound::default(),
            inbound: Inbound::default(),
            holidays: Holidays::default(),
            schedules: Vec::new(),
        }
    }
}

impl Default for Organisation {
    fn default() -> Self {
        Organisation {
            name: "Netzwerk Nordstadt".into(),
            sender: "netzwerk@nordstadt.example".into(),
            reply_domain: "reply.nordstadt.example".into(),
            address: "Nordstraße 1, 12345 Musterstadt".into(),
            organiser: "koordination@nordstadt.example".into(),
        }
    }
}

impl Default for Http {
    fn default() -> Self {
        Http {
            listen: "127.0.0.1:8089".into(),
            public_url: "http://127.0.0.1:8089".into(),
            public_requests_per_minute: 60,
            api_auth_failures_per_minute: 10,
            trusted_proxies: Vec::new(),
            metrics_token: None,
        }
    }
}

impl Default for Outbound {
    fn default() -> Self {
        Outbound {
            transport: TransportKind::File,
            outbox: "var/outbox".into(),
            sendmail_command: "/usr/sbin/sendmail".into(),
            smtp: Smtp::default(),
            per_second: 0.0,
            per_hour: 0,
            per_domain_per_second: 0.0,
            per_domain_per_hour: 0,
            invitation_every_days: 14,
            max_messages_per_30_days: 4,
            max_attempts: 5,
            retry_base_secs: 60,
            pause_after_failures: 20,
            resume_after_secs: 600,
            batch_size: 500,
            journal_dir: "var/journal".into(),
            dkim: None,
        }
    }
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp {
            host: "localhost".into(),
            port: 587,
            tls: TlsMode::StartTls,
            username: None,
            password: None,
            pool_size: 8,
            timeout_secs: 30,
        }
    }
}

/// `inbound.max_message_bytes` unless configured: 25 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;

impl Default for Inbound {
    fn default() -> Self {
        Inbound {
            maildir: "var/inbox".into(),
            review_threshold: 0.6,
            unsubscribe_scope: UnsubscribeScope::Topic,
            rules_file: None,
            create_unknown_senders: false,
            send_acknowledgements: true,
            soft_bounce_limit: 3,
            soft_bounce_days: 30,
            poll_secs: 10,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            imap: None,
        }
    }
}

const REDACTED: &str = "<redacted>";

fn redacted_if_set(s: &str) -> &'static str {
    if s.is_empty() {
        "<empty>"
    } else {
        REDACTED
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database", &crate::store::redact(&self.database))
            .field("secret", &redacted_if_set(&self.secret))
            .field("default_language", &self.default_language)
            .field("time_zone", &self.time_zone)
            .field("silent_after_days", &self.silent_after_days)
            .field("templates_dir", &self.templates_dir)
            .field("organisation", &self.organisation)
            .field("http", &self.http)
            .field("outbound", &self.outbound)
            .field("inbound", &self.inbound)
            .field("holidays", &self.holidays)
            .field("schedules", &self.schedules)
            .finish()
    }
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_deref().map(redacted_if_set))
            .field("pool_size", &self.pool_size)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

impl std::fmt::Debug for Imap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imap")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &redacted_if_set(&self.password))
            .field("mailbox", &self.mailbox)
            .field("processed_folder", &self.processed_folder)
            .field("idle", &self.idle)
            .field("poll_secs", &self.poll_secs)
            .finish()
    }
}

/// The documented example, also written by `netzpost init`.
pub const EXAMPLE: &str = include_str!("../config/netzpost.toml");

const ENV_PREFIX: &str = "NETZPOST_";
/// Variables that choose things rather than override keys.
const ENV_NOT_KEYS: &[&str] = &["NETZPOST_CONFIG", "NETZPOST_LOG", "NETZPOST_CORPORA"];

/// The folder that relative paths in the configuration file `file` are relative to: the
/// workspace that holds `config/` when the file lies in a folder named `config` (the layout
/// `init` writes: `config/netzpost.toml` names `var/netzpost.db`), else the file's own folder.
/// Never the current directory: an MTA or a cron job runs netzpost from elsewhere.
pub fn workspace_of(file: &Path) -> PathBuf {
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let folder = file.parent().unwrap_or(Path::new("/"));
    match folder.file_name() {
        Some(name) if name == "config" => folder.parent().unwrap_or(folder).to_path_buf(),
        _ => folder.to_path_buf(),
    }
}

impl Config {
    /// Loads `path` (or the defaults when `None`) and applies the environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX) && !ENV_NOT_KEYS.contains(&k.as_str()))
            .filter(|(k, _)| !k.starts_with("NETZPOST_TEST_"))
            .collect();
        match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|error| ConfigError::Read {
                    file: p.display().to_string(),
                    error,
                })?;
                let mut cfg = Self::from_str_with_env(&text, &p.display().to_string(), &env)?;
                cfg.rebase(&workspace_of(p));
                Ok(cfg)
            }
            None => Self::from_str_with_env("", "(defaults)", &env),
        }
    }

    /// Parses `text` (named `file` in errors), then overlays `env`: `NETZPOST_DATABASE` sets
    /// `database`, `NETZPOST_OUTBOUND__SMTP__HOST` sets `outbound.smtp.host` (double underscore
    /// descends into a table). Values are read as TOML when they parse, else as strings.
    pub fn from_str_with_env(
        text: &str,
        file: &str,
        env: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        // First the file alone, so its errors carry line and column.
        let mut table: toml::Table = toml::from_str(text).map_err(|e| syntax(file, text, &e))?;
        let cfg: Config = toml::from_str(text).map_err(|e| syntax(file, text, &e))?;
        if env.is_empty() {
            cfg.validate(file)?;
            return Ok(cfg);
        }
        for (var, value) in env {
            let path: Vec<String> = var[ENV_PREFIX.len()..]
                .split("__")
                .map(|p| p.to_lowercase())
                .collect();
            set_path(&mut table, &path, parse_env_value(value)).map_err(|message| {
                ConfigError::Env {
                    var: var.clone(),
                    message,
                }
            })?;
            // Check each override on its own so the error names the variable.
            let probe = toml::to_string(&table).expect("a toml table serialises");
            toml::from_str::<Config>(&probe).map_err(|e| ConfigError::Env {
                var: var.clone(),
                message: if is_secret_key(var) {
                    scrub_quoted(e.message())
                } else {
                    e.message().to_string()
                },
            })?;
        }
        let text = toml::to_string(&table).expect("a toml table serialises");
        let cfg: Config = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            file: file.into(),
            // No line to tell which key: never show a value here.
            message: scrub_quoted(e.message()),
        })?;
        cfg.validate(file)?;
        Ok(cfg)
    }

    fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            file: file.into(),
            message: format!("key `{key}`: {message}"),
        };
        if !(self.database.starts_with("sqlite:")
            || self.database.starts_with("postgres://")
            || self.database.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database",
                format!(
                    "{:?} is neither sqlite://PATH nor postgres://...",
                    crate::store::redact(&self.database)
                ),
            ));
        }
        self.tz().map_err(|e| invalid("time_zone", e))?;
        crate::domain::Language::parse(&self.default_language)
            .map_err(|e| invalid("default_language", e.to_string()))?;
        crate::domain::EmailAddress::parse(&self.organisation.sender)
            .map_err(|e| invalid("organisation.sender", e.to_string()))?;
        crate::domain::EmailAddress::parse(&self.organisation.organiser)
            .map_err(|e| invalid("organisation.organiser", e.to_string()))?;
        crate::domain::EmailAddress::parse(&format!("x@{}", self.organisation.reply_domain))
            .map_err(|e| invalid("organisation.reply_domain", e.to_string()))?;
        if self.silent_after_days < 1 {
            return Err(invalid("silent_after_days", "must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&self.inbound.review_threshold) {
            return Err(invalid(
                "inbound.review_threshold",
                "must be between 0 and 1".into(),
            ));
        }
        if self.outbound.transport == TransportKind::Smtp
            && self.outbound.smtp.username.is_some()
            && self
                .outbound
                .smtp
                .password
                .as_deref()
                .unwrap_or("")
                .is_empty()
        {
            return Err(invalid(
                "outbound.smtp.password",
                "a username is set but the password is missing (set it here or in NETZPOST_OUTBOUND__SMTP__PASSWORD)".into(),
            ));
        }
        if let Some(i) = &self.inbound.imap {
            if i.username.is_empty() || i.password.is_empty() {
                return Err(invalid(
                    "inbound.imap",
                    "username and password are required (the password better in NETZPOST_INBOUND__IMAP__PASSWORD)".into(),
                ));
            }
        }
        if self.inbound.max_message_bytes < 1024 {
            return Err(invalid(
                "inbound.max_message_bytes",
                "must be at least 1024".into(),
            ));
        }
        for (i, d) in self.holidays.summer_end.iter().enumerate() {
            parse_date(d).map_err(|e| invalid(&format!("holidays.summer_end[{i}]"), e))?;
        }
        if self.outbound.batch_size < 1 {
            return Err(invalid("outbound.batch_size", "must be at least 1".into()));
        }
        for (i, s) in self.schedules.iter().enumerate() {
            if let Some(tz) = &s.time_zone {
                tz.parse::<chrono_tz::Tz>().map_err(|_| {
                    invalid(
                        &format!("schedule[{i}].time_zone"),
                        format!("unknown time zone {tz:?}"),
                    )
                })?;
            }
        }
        Ok(())
    }

    /// Makes the relative paths of this configuration relative to `dir` instead of the current
    /// directory ([`Config::load`] passes the workspace of the file).
    pub fn rebase(&mut self, dir: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        for prefix in ["sqlite://", "sqlite:"] {
            if let Some(path) = self.database.strip_prefix(prefix) {
                if !path.starts_with('/') && !path.starts_with(":memory:") {
                    self.database = format!("sqlite://{}", dir.join(path).display());
                }
                break;
            }
        }
        fix(&mut self.outbound.outbox);
        fix(&mut self.outbound.journal_dir);
        fix(&mut self.inbound.maildir);
        if let Some(t) = self.templates_dir.as_mut() {
            fix(t);
        }
        if let Some(r) = self.inbound.rules_file.as_mut() {
            fix(r);
        }
        if let Some(d) = self.outbound.dkim.as_mut() {
            fix(&mut d.private_key_file);
        }
    }

    /// The SQLite file of `database`, `None` for PostgreSQL and an in-memory database.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let path = ["sqlite://", "sqlite:"]
            .iter()
            .find_map(|p| self.database.strip_prefix(p))?;
        let path = path.split('?').next().unwrap_or(path);
        (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
    }

    pub fn tz(&self) -> Result<chrono_tz::Tz, String> {
        self.time_zone
            .parse()
            .map_err(|_| format!("unknown time zone {:?}", self.time_zone))
    }

    pub fn secret_bytes(&self) -> Vec<u8> {
        self.secret.as_bytes().to_vec()
    }

    /// The key that signs and checks tokens. Every command that does either gets it here, so
    /// none runs with an empty or short secret.
    pub fn token_key(&self) -> Result<crate::token::TokenKey, SecretError> {
        match self.secret.len() {
            0 => Err(SecretError::Missing),
            n if n < MIN_SECRET_BYTES => Err(SecretError::Short(n)),
            _ => Ok(crate::token::TokenKey::new(self.secret.as_bytes())),
        }
    }
}

fn syntax(file: &str, text: &str, e: &toml::de::Error) -> ConfigError {
    let (line, column) = match e.span() {
        Some(span) => line_col(text, span.start),
        None => (0, 0),
    };
    let message = e.message().trim();
    // serde quotes the offending value ("invalid type: integer `1234`"): not for a credential.
    let key = text
        .lines()
        .nth(line.saturating_sub(1))
        .and_then(|l| l.split_once('='))
        .map_or("", |(k, _)| k.trim());
    let message = if is_secret_key(key) {
        scrub_quoted(message)
    } else {
        message.to_string()
    };
    ConfigError::Syntax {
        file: file.into(),
        line,
        column,
        message,
    }
}

/// Keys whose values are credentials (or hold one, like a database URL with a password).
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "database", "token"]
        .iter()
        .any(|s| k.contains(s))
}

/// Replaces every `...` and "..." quoted part of a message.
fn scrub_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut open: Option<char> = None;
    for c in message.chars() {
        match open {
            Some(q) if c == q => {
                out.push_str(REDACTED);
                out.push(c);
                open = None;
            }
            Some(_) => {}
            None => {
                out.push(c);
                if c == '`' || c == '"' {
                    open = Some(c);
                }
            }
        }
    }
    if open.is_some() {
        out.push_str(REDACTED);
    }
    out
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn parse_env_value(value: &str) -> toml::Value {
    // `key = VALUE` parses numbers, booleans, arrays; anything else is a plain string.
    match toml::from_str::<toml::Table>(&format!("v = {value}")) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| value.into()),
        Err(_) => toml::Value::String(value.to_string()),
    }
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty key".into()),
        [last] => {
            // A string that looks like a number must stay a string where the key is a string
            // (an SMTP password "1234"): serde would refuse an integer there.
            let value = match (table.get(last), &value) {
                (Some(toml::Value::String(_)), v) if !v.is_str() => {
                    toml::Value::String(v.to_string().trim_matches('"').to_string())
                }
                _ => value,
            };
            table.insert(last.clone(), value);
            Ok(())
        }
        [head, rest @ ..] => {
            let entry = table
                .entry(head.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => Err(format!("`{head}` is not a table")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_serverless_defaults() {
        let c = Config::from_str_with_env("", "x.toml", &[]).unwrap();
        assert_eq!(c.database, "sqlite://var/netzpost.db");
        assert_eq!(c.outbound.transport, TransportKind::File);
        assert_eq!(c.inbound.maildir, PathBuf::from("var/inbox"));
        assert_eq!(c.default_language, "de");
    }

    #[test]
    fn debug_and_errors_show_no_credential() {
        let text = "database = \"postgres://np:Pg-Pw-4711@db.example/np\"\n\
            secret = \"Token-Secret-4711\"\n\
            [outbound.smtp]\nusername = \"u\"\npassword = \"Smtp-Pw-4711\"\n\
            [inbound.imap]\nhost = \"imap.example\"\nusername = \"u\"\npassword = \"Imap-Pw-4711\"\n";
        let c = Config::from_str_with_env(text, "c", &[]).unwrap();
        for shown in [format!("{c:?}"), format!("{c:#?}")] {
            for s in [
                "Pg-Pw-4711",
                "Token-Secret-4711",
                "Smtp-Pw-4711",
                "Imap-Pw-4711",
            ] {
                assert!(!shown.contains(s), "{s} in {shown}");
            }
            assert!(
                shown.contains("postgres://np:<redacted>@db.example/np"),
                "{shown}"
            );
        }
        assert_eq!(
            crate::store::redact("postgres://a:b@c@h:5432/d?sslmode=require&password=x"),
            "postgres://a:<redacted>@h:5432/d?sslmode=require&password=<redacted>"
        );
        assert_eq!(
            crate::store::redact("sqlite://var/np.db"),
            "sqlite://var/np.db"
        );
        assert_eq!(crate::store::redact("postgres://u@h/d"), "postgres://u@h/d");
        // A wrong scheme, a numeric password without quotes, the same from the environment.
        let errors = [
            Config::from_str_with_env("database = \"mysql://u:Db-Pw-4711@h/d\"\n", "c", &[]),
            Config::from_str_with_env("[outbound.smtp]\npassword = 4711471147\n", "c", &[]),
            Config::from_str_with_env("secret = 4711471147\n", "c", &[]),
            Config::from_str_with_env(
                "",
                "c",
                &[("NETZPOST_SECRET".into(), "[4711471147]".into())],
            ),
        ];
        for e in errors {
            let msg = e.unwrap_err().to_string();
            assert!(!msg.contains("4711"), "{msg}");
        }
    }

    #[test]
    fn example_file_parses() {
        Config::from_str_with_env(EXAMPLE, "config/netzpost.toml", &[]).unwrap();
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "database = \"sqlite://a.db\"\n\n[inbound]\nreview_treshold = 0.5\n";
        let err = Config::from_str_with_env(text, "conf.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("conf.toml: line 4, column 1:"), "{err}");
        assert!(err.contains("review_treshold"), "{err}");
    }

    #[test]
    fn bad_value_names_line() {
        let text = "silent_after_days = \"lange\"\n";
        let err = Config::from_str_with_env(text, "c.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
        let err = Config::from_str_with_env("time_zone = \"Mars/Olympus\"\n", "c.toml", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("time_zone") && err.contains("Mars"), "{err}");
    }

    #[test]
    fn environment_overrides() {
        let env = vec![
            (
                "NETZPOST_DATABASE".to_string(),
                "postgres://x@y/z".to_string(),
            ),
            ("NETZPOST_OUTBOUND__SMTP__PORT".into(), "2525".into()),
            ("NETZPOST_OUTBOUND__SMTP__PASSWORD".into(), "1234".into()),
            (
                "NETZPOST_ORGANISATION__NAME".into(),
                "Treffpunkt Süd".into(),
            ),
        ];
        let c =
            Config::from_str_with_env("[outbound.smtp]\npassword = \"a\"\n", "c", &env).unwrap();
        assert_eq!(c.database, "postgres://x@y/z");
        assert_eq!(c.outbound.smtp.port, 2525);
        assert_eq!(c.outbound.smtp.password.as_deref(), Some("1234"));
        assert_eq!(c.organisation.name, "Treffpunkt Süd");
        let bad = vec![(
            "NETZPOST_OUTBOUND__SMTP__PORT".to_string(),
            "lots".to_string(),
        )];
        let err = Config::from_str_with_env("", "c", &bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("NETZPOST_OUTBOUND__SMTP__PORT"), "{err}");
        let typo = vec![("NETZPOST_DATABSE".to_string(), "x".to_string())];
        let err = Config::from_str_with_env("", "c", &typo)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("NETZPOST_DATABSE") && err.contains("databse"),
            "{err}"
        );
    }

    #[test]
    fn holidays_are_dates() {
        let c = Config::from_str_with_env(
            "[holidays]\nsummer_end = [\"2028-08-26\", \"2027-08-14\"]\n",
            "c",
            &[],
        )
        .unwrap();
        assert_eq!(
            c.holidays.summer_ends(),
            [
                chrono::NaiveDate::from_ymd_opt(2027, 8, 14).unwrap(),
                chrono::NaiveDate::from_ymd_opt(2028, 8, 26).unwrap()
            ]
        );
        let err =
            Config::from_str_with_env("[holidays]\nsummer_end = [\"14.08.2027\"]\n", "c", &[])
                .unwrap_err()
                .to_string();
        assert!(err.contains("holidays.summer_end[0]"), "{err}");
    }

    #[test]
    fn smtp_username_without_password_is_an_error() {
        let text = "[outbound]\ntransport = \"smtp\"\n[outbound.smtp]\nusername = \"u\"\n";
        let err = Config::from_str_with_env(text, "c", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("outbound.smtp.password"), "{err}");
    }
}
#[cfg(test)]
mod imap_env_tests {
    #[test]
    fn imap_from_environment() {
        let env = vec![
            (
                "NETZPOST_INBOUND__IMAP__HOST".to_string(),
                "127.0.0.1".to_string(),
            ),
            ("NETZPOST_INBOUND__IMAP__USERNAME".into(), "u".into()),
            ("NETZPOST_INBOUND__IMAP__PASSWORD".into(), "p".into()),
            ("NETZPOST_INBOUND__IMAP__IDLE".into(), "false".into()),
        ];
        let c = super::Config::from_str_with_env(super::EXAMPLE, "c", &env).unwrap();
        let i = c.inbound.imap.expect("imap configured");
        assert_eq!((i.host.as_str(), i.idle, i.port), ("127.0.0.1", false, 993));
    }
}
