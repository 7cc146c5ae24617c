//! Loading the configuration: the TOML file, then the `NETZPOST_*` environment, checked as a
//! whole; errors name the file, line and key, and never show a credential.

use super::{parse_date, Config, ConfigError, TransportKind, REDACTED};
use std::path::{Path, PathBuf};

/// The documented example, also written by `netzpost init`.
pub const EXAMPLE: &str = include_str!("../../config/netzpost.toml");

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
        for (field, days) in [
            ("occasions.reminder_days", self.occasions.reminder_days),
            ("occasions.follow_up_days", self.occasions.follow_up_days),
            (
                "occasions.rest_after_declines",
                self.occasions.rest_after_declines,
            ),
            ("occasions.rest_days", self.occasions.rest_days),
        ] {
            if days < 0 {
                return Err(invalid(field, "must be 0 (none) or more days".into()));
            }
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
        for (key, days) in [
            ("renewal.silent_for_days", self.renewal.silent_for_days),
            ("renewal.answer_days", self.renewal.answer_days),
            ("renewal.forget_after_days", self.renewal.forget_after_days),
            (
                "retention.inbound_raw_days",
                self.retention.inbound_raw_days,
            ),
            (
                "retention.delivery_rows_days",
                self.retention.delivery_rows_days,
            ),
            ("retention.review_days", self.retention.review_days),
        ] {
            if days < 1 {
                return Err(invalid(key, format!("{days} days: must be at least 1")));
            }
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
