//! Typed settings: a TOML file plus `NETZPOST_*` environment overrides.
//!
//! Every key has a default that runs without any server (SQLite, file outbox, maildir inbox), so
//! an empty file is a valid configuration. Unknown keys are errors: a typo must not silently turn
//! into a default (think `unsubscribe_scop = "all"`).

use crate::transport::TlsMode;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

mod load;

pub use load::{workspace_of, EXAMPLE};

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
    pub privacy: Privacy,
    pub renewal: Renewal,
    pub retention: Retention,
    pub occasions: Occasions,
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

/// An occasion's own mails; each occasion may set its own days (`occasions edit`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Occasions {
    /// Days before the start the reminder goes to everyone who said yes (0 = none).
    pub reminder_days: i64,
    /// Days after the invitation the one follow-up goes to the invited who did not answer
    /// (0 = none).
    pub follow_up_days: i64,
    /// Someone who declined this many invitations in a row (0 = never) rests: no invitation or
    /// call for cooperation reaches them for `rest_days` after the last of them.
    pub rest_after_declines: i64,
    /// How long such a rest lasts, in days.
    pub rest_days: i64,
}

impl Default for Occasions {
    fn default() -> Self {
        Occasions {
            reminder_days: 2,
            follow_up_days: 5,
            rest_after_declines: 3,
            rest_days: 90,
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

/// The privacy notice people consent under: its address is linked beside the subscribe form,
/// and its version is stored with every consent given through the form, a confirmation or a
/// renewal.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Privacy {
    /// The privacy notice (Datenschutzhinweise), e.g. `https://nordstadt.example/datenschutz`.
    pub notice_url: Option<String>,
    /// Its version as you name it (a date, "2026-03"): stored with each consent.
    pub notice_version: Option<String>,
}

/// What becomes of a contact whose last consent ended because they did not answer a renewal
/// request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterWithdrawal {
    /// Erased (as "forget me" does) after `forget_after_days`.
    Forget,
    /// Kept, with every consent withdrawn.
    Keep,
}

/// Re-permission: contacts silent for `silent_for_days` are asked once whether they still want
/// mail on a topic; without an answer in `answer_days` the consent is withdrawn.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Renewal {
    /// The daily job asks and withdraws by itself (`netzpost consent renew` does it by hand).
    pub enabled: bool,
    /// Days without a reply and without a consent change after which a contact is asked.
    pub silent_for_days: i64,
    /// Days to answer before the consent for the topic is withdrawn.
    pub answer_days: i64,
    /// `forget` or `keep` a contact left without any consent by an unanswered request.
    pub after_withdrawal: AfterWithdrawal,
    /// With `forget`: days after the withdrawal before the contact is erased.
    pub forget_after_days: i64,
}

impl Default for Renewal {
    fn default() -> Self {
        Renewal {
            enabled: false,
            silent_for_days: 730,
            answer_days: 30,
            after_withdrawal: AfterWithdrawal::Keep,
            forget_after_days: 30,
        }
    }
}

/// How long what is stored is kept (docs/privacy.md); a daily job deletes the rest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Days the raw bytes of an inbound message are kept; the visible text and the decisions
    /// stay.
    pub inbound_raw_days: i64,
    /// Days after a campaign finished before its delivery rows become totals per status.
    pub delivery_rows_days: i64,
    /// Days a review item may wait before it is closed (rejected, changing nothing).
    pub review_days: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            inbound_raw_days: 90,
            delivery_rows_days: 180,
            review_days: 60,
        }
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
            privacy: Privacy::default(),
            renewal: Renewal::default(),
            retention: Retention::default(),
            occasions: Occasions::default(),
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

impl Config {
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
}
