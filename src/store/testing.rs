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

/// The rows of a read-only query of a unit test, decoded as `T` on either backend.
pub async fn query_as<T>(db: &Db, sql: &str) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    crate::on_db!(db, p => sqlx::query_as::<_, T>(sql).fetch_all(p).await.unwrap())
}

/// Runs one statement of a unit test (to set up a state no public path makes).
pub async fn execute(db: &Db, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    crate::on_db!(db, p => {
        sqlx::query(sql).execute(p).await.unwrap();
    });
}
