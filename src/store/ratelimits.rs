//! Rate-limit counters in the database, shared by every daemon on it: hits per scope, client
//! and fixed window (its start in Unix seconds). The limiter in `web` weighs two windows.

use super::{Db, Result};
use crate::on_db;

/// Counts one hit of `client` in `scope` for the window starting at `window` and returns the
/// hits of that window (this one included) and of the window before (`previous`).
pub async fn hit(
    db: &Db,
    scope: &str,
    client: &str,
    window: i64,
    previous: i64,
) -> Result<(i64, i64)> {
    let now: i64 = on_db!(db, p => {
        sqlx::query_scalar(
            "INSERT INTO rate_hits (scope, client, window_start, hits) VALUES ($1, $2, $3, 1)
             ON CONFLICT (scope, client, window_start) DO UPDATE SET hits = rate_hits.hits + 1
             RETURNING hits",
        )
        .bind(scope)
        .bind(client)
        .bind(window)
        .fetch_one(p)
        .await?
    });
    let (_, before) = hits(db, scope, client, window, previous).await?;
    Ok((now, before))
}

/// The hits of `client` in `scope` in the window starting at `window` and in the one starting
/// at `previous`, in one query (counts nothing).
pub async fn hits(
    db: &Db,
    scope: &str,
    client: &str,
    window: i64,
    previous: i64,
) -> Result<(i64, i64)> {
    let rows: Vec<(i64, i64)> = on_db!(db, p => {
        sqlx::query_as(
            "SELECT window_start, hits FROM rate_hits
             WHERE scope = $1 AND client = $2 AND window_start IN ($3, $4)",
        )
        .bind(scope)
        .bind(client)
        .bind(window)
        .bind(previous)
        .fetch_all(p)
        .await?
    });
    let of = |w: i64| rows.iter().find(|r| r.0 == w).map_or(0, |r| r.1);
    Ok((of(window), of(previous)))
}

/// Deletes the windows of `scope` that started before `before`.
pub async fn prune(db: &Db, scope: &str, before: i64) -> Result<u64> {
    Ok(on_db!(db, p => {
        sqlx::query("DELETE FROM rate_hits WHERE scope = $1 AND window_start < $2")
            .bind(scope)
            .bind(before)
            .execute(p)
            .await?
            .rows_affected()
    }))
}
