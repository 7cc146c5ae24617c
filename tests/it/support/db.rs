//! Fresh databases on both backends, one scenario on each (`each_db!`), and raw SQL on a test
//! database through sqlx itself: for set-ups and checks no store function offers (a timestamp
//! moved back, a row only the inbound pipeline writes, a hash as it is stored).

use netzpost::store::Db;
use sqlx::{Connection, Row};
use std::sync::atomic::{AtomicU32, Ordering};

pub const PG_HINT: &str = "needs PostgreSQL: set NETZPOST_TEST_POSTGRES_URL";

/// Which database a scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database (migrated) with its URL; a SQLite file lives as long as this does.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    pub sql: Sql,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::sqlite().await,
            Backend::Postgres => TestDb::postgres().await,
        }
    }

    /// A fresh SQLite database in a temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = Db::open(&url).await.expect("open sqlite");
        TestDb {
            db,
            sql: Sql::new(&url),
            url,
            _dir: Some(dir),
        }
    }

    /// A fresh PostgreSQL database on the server in NETZPOST_TEST_POSTGRES_URL.
    pub async fn postgres() -> TestDb {
        let url = create_postgres_database().await;
        let db = Db::open(&url).await.expect("open fresh postgres database");
        TestDb {
            db,
            sql: Sql::new(&url),
            url,
            _dir: None,
        }
    }
}

/// Creates a database on the server in NETZPOST_TEST_POSTGRES_URL and returns its URL. Panics
/// when the variable is missing or the server is unreachable: such a test must never pass by
/// skipping.
pub async fn create_postgres_database() -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let base = std::env::var("NETZPOST_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| panic!("NETZPOST_TEST_POSTGRES_URL is not set: this test {PG_HINT}"));
    let name = format!(
        "netzpost_t_{}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {base} unreachable: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create database");
    let _ = admin.close().await;
    match base.rfind('/') {
        Some(i) if i > "postgres://".len() => format!("{}/{name}", &base[..i]),
        _ => format!("{base}/{name}"),
    }
}

/// [`create_postgres_database`] for code outside a runtime (the real binary's tests).
pub fn fresh_postgres_url() -> String {
    block_on(create_postgres_database())
}

/// Runs `f` to its end on a runtime of its own, on a thread of its own: callable from plain
/// tests and from inside another runtime alike.
pub fn block_on<T: Send>(f: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(f)
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// A value bound to a `$n` placeholder.
#[derive(Clone, Debug)]
pub enum Arg {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Time(chrono::DateTime<chrono::Utc>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(v)
    }
}
impl From<netzpost::domain::ContactId> for Arg {
    fn from(v: netzpost::domain::ContactId) -> Arg {
        Arg::Int(v.get())
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(v.into())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(v)
    }
}
impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Arg {
        Arg::Bytes(v)
    }
}
impl From<chrono::DateTime<chrono::Utc>> for Arg {
    fn from(v: chrono::DateTime<chrono::Utc>) -> Arg {
        Arg::Time(v)
    }
}

/// Raw SQL on the database at a URL (SQLite or PostgreSQL), one connection per call. Columns
/// come back as text (NULL: ""); integers are written out.
#[derive(Clone, Debug)]
pub struct Sql {
    pub url: String,
}

/// Runs `$body` with `$conn` connected to `$url` as the right sqlx connection type.
macro_rules! with_conn {
    ($url:expr, $conn:ident => $body:expr) => {{
        let url: &str = $url;
        if url.starts_with("postgres") {
            let mut $conn = sqlx::PgConnection::connect(url)
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            let out = $body;
            let _ = $conn.close().await;
            out
        } else {
            let mut $conn = sqlx::SqliteConnection::connect(url)
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            let out = $body;
            let _ = $conn.close().await;
            out
        }
    }};
}

/// `sqlx::query(query)` with `args` bound in order.
macro_rules! bound {
    ($query:expr, $args:expr) => {{
        let mut q = sqlx::query(sqlx::AssertSqlSafe($query.to_string()));
        for a in $args {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.clone()),
                Arg::Bytes(v) => q.bind(v.clone()),
                Arg::Time(v) => q.bind(*v),
            };
        }
        q
    }};
}

/// Each row's columns as text.
macro_rules! texts {
    ($rows:expr, $query:expr) => {
        $rows
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        if let Ok(v) = r.try_get::<Option<String>, _>(i) {
                            v.unwrap_or_default()
                        } else if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
                            v.map(|v| v.to_string()).unwrap_or_default()
                        } else if let Ok(v) = r.try_get::<Option<i32>, _>(i) {
                            v.map(|v| v.to_string()).unwrap_or_default()
                        } else {
                            panic!("{}: column {i} is neither text nor integer", $query)
                        }
                    })
                    .collect::<Vec<String>>()
            })
            .collect::<Vec<Vec<String>>>()
    };
}

impl Sql {
    pub fn new(url: &str) -> Sql {
        Sql { url: url.into() }
    }

    /// Runs a statement; the number of rows it changed.
    pub async fn exec(&self, query: &str, args: &[Arg]) -> u64 {
        with_conn!(&self.url, conn => bound!(query, args)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .rows_affected())
    }

    /// Every row, each column as text.
    pub async fn rows(&self, query: &str, args: &[Arg]) -> Vec<Vec<String>> {
        with_conn!(&self.url, conn => {
            let rows = bound!(query, args)
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{query}: {e}"));
            texts!(rows, query)
        })
    }

    /// The first column of every row.
    pub async fn column(&self, query: &str, args: &[Arg]) -> Vec<String> {
        self.rows(query, args)
            .await
            .into_iter()
            .map(|mut r| r.swap_remove(0))
            .collect()
    }

    /// The one integer a query returns (a count, or the id of `INSERT ... RETURNING id`).
    pub async fn i64(&self, query: &str, args: &[Arg]) -> i64 {
        let rows = self.rows(query, args).await;
        rows.first()
            .and_then(|r| r.first())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{query}: not one integer: {rows:?}"))
    }
}

/// Rows of `query` on the database at `url` for code outside a runtime (see [`Sql::rows`]).
pub fn db_rows(url: &str, query: &str) -> Vec<Vec<String>> {
    block_on(Sql::new(url).rows(query, &[]))
}

/// The one integer `query` gives on the database at `url`, for code outside a runtime.
pub fn db_i64(url: &str, query: &str) -> i64 {
    block_on(Sql::new(url).i64(query, &[]))
}
