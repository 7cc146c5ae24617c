//! Shared test support: fresh databases on both backends.
#![allow(dead_code)]

use netzpost::store::Db;

/// A fresh SQLite database in a temporary directory (kept alive by the returned guard).
pub async fn sqlite() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let db = Db::open(&url).await.expect("open sqlite");
    (db, dir)
}

pub const PG_HINT: &str = "needs PostgreSQL: set NETZPOST_TEST_POSTGRES_URL";

/// A fresh PostgreSQL database, created on the server in NETZPOST_TEST_POSTGRES_URL. Panics when
/// the variable is missing or the server is unreachable: such a test must never pass by skipping.
pub async fn postgres() -> (Db, String) {
    let base = std::env::var("NETZPOST_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| panic!("NETZPOST_TEST_POSTGRES_URL is not set: this test {PG_HINT}"));
    let name = format!(
        "netzpost_t_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let admin = Db::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {base} unreachable: {e}"));
    if let Db::Postgres(p) = &admin {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(p)
            .await
            .expect("create database");
    }
    admin.close().await;
    let url = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => format!("{}/{name}", &base[..i]),
        _ => format!("{base}/{name}"),
    };
    let db = Db::open(&url).await.expect("open fresh postgres database");
    (db, url)
}

pub fn bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_netzpost"))
}
