//! Databases for the store's unit tests.

use super::Db;

/// A new database of its own in the PostgreSQL server at `NETZPOST_TEST_POSTGRES_URL`.
pub async fn fresh_postgres() -> Db {
    let base =
        std::env::var("NETZPOST_TEST_POSTGRES_URL").expect("NETZPOST_TEST_POSTGRES_URL is not set");
    let name = format!(
        "netzpost_u_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let admin = Db::connect(&base).await.unwrap();
    if let Db::Postgres(p) = &admin {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(p)
            .await
            .unwrap();
    }
    admin.close().await;
    let url = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => format!("{}/{name}", &base[..i]),
        _ => format!("{base}/{name}"),
    };
    Db::open(&url).await.unwrap()
}
