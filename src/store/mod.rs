//! Storage on SQLite (embedded default) or PostgreSQL, behind one API.
//!
//! No `sqlx::Any` (it cannot decode SQLite booleans or TIMESTAMPTZ): `Db` holds a typed pool, and
//! the `on_db!` macro writes the same generic query once for both. SQL uses `$1` placeholders and
//! the subset both engines share; where they differ, the code says so.

pub mod activities;
pub mod audience;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod campaigns;
pub mod consents;
pub mod contacts;
pub mod decisions;
pub mod directory;
pub mod import_stage;
pub mod inbound;
pub mod metrics;
pub mod occasion_mails;
pub mod occasions;
pub mod polls;
pub mod ratelimits;
pub mod relations;
pub mod report;
pub mod retention;
pub mod senders;
mod sql_types;
pub mod suppressions;
pub mod team;
#[cfg(test)]
pub(crate) mod testing;
pub mod topics;
pub mod wishes;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

pub type Timestamp = chrono::DateTime<chrono::Utc>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // The causes are in the messages, so they are not `source`s (`{:#}` would print them twice).
    #[error("database: {0}")]
    Sqlx(sqlx::Error),
    #[error("migration failed (rolled back): {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("cannot open database {url}: {message}")]
    Open { url: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    #[error("unknown occasion {0:?}")]
    UnknownOccasion(String),
    #[error("unknown campaign {0:?}")]
    UnknownCampaign(String),
    #[error("no active token named {0:?}")]
    UnknownToken(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Sqlx(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e)
    }
}

impl StoreError {
    /// Something named or numbered does not exist (whatever the variant says what).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            StoreError::NotFound(_)
                | StoreError::UnknownTopic(_)
                | StoreError::UnknownOccasion(_)
                | StoreError::UnknownCampaign(_)
                | StoreError::UnknownToken(_)
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the typed pool of either backend. The body is compiled twice,
/// once per database type, so generic sqlx code needs writing once.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` inside one transaction (`$tx` is `&mut Transaction`); commits when it returns Ok.
macro_rules! in_tx {
    ($db:expr, $tx:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite(pool) => {
                // IMMEDIATE takes the write lock up front: a deferred transaction that reads
                // first and then writes fails with SQLITE_BUSY_SNAPSHOT while another process
                // writes, and the busy timeout cannot help it.
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let $tx = &mut tx;
                let out = $body;
                tx.commit().await?;
                out
            }
            $crate::store::Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let $tx = &mut tx;
                let out = $body;
                tx.commit().await?;
                out
            }
        }
    };
}

/// One open transaction on either backend. Store functions that write take `&mut Tx`, so a
/// caller composes several of them into one atomic change without writing SQL; dropped without
/// [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs `$body` with `$c` bound to the transaction's connection (`&mut SqliteConnection` or
/// `&mut PgConnection`); like [`on_db!`], the body is compiled once per backend.
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use {in_tx, on_db, on_tx};

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

impl Db {
    /// Opens (creating an SQLite file and its folder when needed) and migrates.
    pub async fn open(url: &str) -> Result<Db> {
        let db = Self::connect(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    pub async fn connect(url: &str) -> Result<Db> {
        let open_err = |e: &dyn std::fmt::Display| StoreError::Open {
            url: redact(url),
            message: e.to_string(),
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut opts = PgConnectOptions::from_str(url).map_err(|e| open_err(&e))?;
            if is_local(&opts) && !sets_sslmode(url) && std::env::var_os("PGSSLMODE").is_none() {
                // TLS to this machine protects nothing and costs a delayed ACK per large
                // statement: sqlx never sets TCP_NODELAY, so Nagle holds a statement's last TLS
                // record (docs/performance.md, "PostgreSQL on this machine without TLS"). An
                // explicit sslmode wins.
                opts = opts.ssl_mode(PgSslMode::Disable);
            }
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(15))
                .connect_with(opts)
                .await
                .map_err(|e| open_err(&e))?;
            return Ok(Db::Postgres(pool));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| open_err(&"expected sqlite://PATH or postgres://..."))?;
        let opts = if path == ":memory:" {
            SqliteConnectOptions::from_str("sqlite::memory:").map_err(|e| open_err(&e))?
        } else {
            let file = std::path::Path::new(path.split('?').next().unwrap_or(path));
            create_private_file(file).map_err(|e| open_err(&e))?;
            SqliteConnectOptions::new()
                .filename(file)
                .create_if_missing(true)
        };
        let opts = opts
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // 1 MiB of page cache per connection instead of SQLite's 2 MiB: the caches of the
            // pool filled as the queue grew and were most of what grew with the audience (the
            // operating system caches the file anyway).
            .pragma("cache_size", "-1024")
            // The CLI and the daemon write to one file at once: wait instead of failing.
            .busy_timeout(Duration::from_secs(30));
        // Four connections: SQLite writes one at a time anyway, and each connection costs a
        // worker thread with its own page cache and allocator arena: with eight, a 1M-recipient
        // send peaked at 48 MB instead of 33 MB (docs/performance.md).
        let max = if path == ":memory:" { 1 } else { 4 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .after_release(|conn, _| {
                Box::pin(async move {
                    // A connection whose transaction could not be ended (a COMMIT or ROLLBACK
                    // refused, e.g. on a full disk) must not serve the next caller: its next
                    // BEGIN fails, and its writes would land in a transaction nobody commits.
                    // The ping waits for the rollback a dropped transaction queued.
                    conn.ping().await?;
                    Ok(!conn.is_in_transaction())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| open_err(&e))?;
        Ok(Db::Sqlite(pool))
    }

    /// Applies pending migrations, each in its own transaction: a failing one leaves the schema as
    /// it was before it.
    pub async fn migrate(&self) -> Result<usize> {
        let before = self.applied_migrations().await.unwrap_or(0);
        match self {
            Db::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
            Db::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
        }
        Ok(self.applied_migrations().await? - before)
    }

    async fn applied_migrations(&self) -> Result<usize> {
        let n: i64 = on_db!(self, p => {
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(p)
                .await?
        });
        Ok(n as usize)
    }

    /// Opens a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a
    /// deferred one that reads first and then writes fails with SQLITE_BUSY_SNAPSHOT while
    /// another process writes, and the busy timeout cannot help it.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Whether the database answers a query.
    pub async fn ping(&self) -> Result<()> {
        let _: i64 = on_db!(self, p => {
            // BIGINT on both engines: PostgreSQL will not decode an INT4 as i64.
            sqlx::query_scalar("SELECT CAST(1 AS BIGINT)").fetch_one(p).await?
        });
        Ok(())
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    pub async fn close(&self) {
        on_db!(self, p => p.close().await)
    }
}

/// A Unix socket or a loopback host (`localhost`, 127.0.0.0/8, `::1`).
fn is_local(opts: &PgConnectOptions) -> bool {
    let host = opts
        .get_host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    opts.get_socket().is_some()
        || host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a PostgreSQL URL's query names an sslmode.
fn sets_sslmode(url: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| {
        query
            .split('&')
            .any(|kv| matches!(kv.split('=').next(), Some("sslmode" | "ssl-mode")))
    })
}

/// The URL with its password (`user:PASSWORD@`) and `password=` query values replaced, for logs
/// and messages: `postgres://np:s3cret@db/np` becomes `postgres://np:<redacted>@db/np`.
pub fn redact(url: &str) -> String {
    const REDACTED: &str = "<redacted>";
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let auth_end = out[rest_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..auth_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, REDACTED);
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}={REDACTED}"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// The row of a write's `RETURNING`, its rows read to the end (`fetch_all`). A write never uses
/// `fetch_one` or `fetch_optional` on SQLite: they stop after the first row and leave the
/// statement unfinished, so its autocommit stays open and a failing commit (a full disk) is never
/// reported: the caller printed success for a row that was lost when the connection closed.
pub fn returned_one<T>(rows: Vec<T>) -> std::result::Result<T, sqlx::Error> {
    rows.into_iter().next().ok_or(sqlx::Error::RowNotFound)
}

/// [`returned_one`] for a write that may affect no row.
pub fn returned_first<T>(rows: Vec<T>) -> Option<T> {
    rows.into_iter().next()
}

pub fn now() -> Timestamp {
    chrono::Utc::now()
}

/// What `contacts forget` deletes, each bound to the lower-cased address (`$1`). Tables added by
/// later migrations that hold personal data append their statement here.
pub const FORGET_STATEMENTS: &[&str] = &[
    "DELETE FROM inbound_messages WHERE from_addr = $1",
    "DELETE FROM contacts WHERE email_key = $1",
];

/// Creates the SQLite database file (and any missing folders above it, 0700) readable by its
/// owner only, before SQLite opens it: SQLite would create it with the umask (0644 as a rule),
/// and its `-wal` and `-shm` files take the mode of the database. An existing file is left as
/// it is.
fn create_private_file(file: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tls_is_off_by_default_only_for_local_servers() {
        use std::str::FromStr;
        let local = |url: &str| super::is_local(&super::PgConnectOptions::from_str(url).unwrap());
        assert!(local("postgres://postgres@127.0.0.1:5432/db"));
        assert!(local("postgres://u@localhost/db"));
        assert!(local("postgres://u@[::1]:5432/db"));
        assert!(local("postgres://u@%2Fvar%2Frun%2Fpostgresql/db"));
        assert!(local("postgres://u@x/db?host=/var/run/postgresql"));
        assert!(!local("postgres://u@db.example.org/db"));
        assert!(!local("postgres://u@10.0.0.5/db"));
        assert!(super::sets_sslmode(
            "postgres://u@127.0.0.1/db?sslmode=require"
        ));
        assert!(super::sets_sslmode(
            "postgres://u@127.0.0.1/db?a=b&ssl-mode=prefer"
        ));
        assert!(!super::sets_sslmode(
            "postgres://u@127.0.0.1/db?application_name=x"
        ));
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://u:geheim@h/db"),
            "postgres://u:<redacted>@h/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
