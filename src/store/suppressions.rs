//! Addresses that must never be mailed: hard bounces, complaints, manual blocks, forgotten people.

use super::{now, Db, Result, Timestamp};
use crate::domain::{key_hash, SuppressionReason};
use crate::on_db;
use serde::Serialize;
use std::collections::HashSet;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Suppression {
    pub address_hash: String,
    pub address: Option<String>,
    pub reason: crate::domain::SuppressionReason,
    pub note: Option<String>,
    pub created_at: Timestamp,
}

/// Suppresses `key` (a lower-cased address). A forgotten address keeps only its hash.
pub async fn add(db: &Db, key: &str, reason: SuppressionReason, note: Option<&str>) -> Result<()> {
    let address = (reason != SuppressionReason::Forgotten).then_some(key);
    on_db!(db, p => {
        sqlx::query(
            "INSERT INTO suppressions (address_hash, address, reason, note, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (address_hash) DO UPDATE SET reason = excluded.reason,
                address = excluded.address, note = excluded.note",
        )
        .bind(key_hash(key))
        .bind(address)
        .bind(reason.as_str())
        .bind(note)
        .bind(now())
        .execute(p)
        .await?;
    });
    Ok(())
}

pub async fn is_suppressed(db: &Db, key: &str) -> Result<bool> {
    let n: i64 = on_db!(db, p => {
        sqlx::query_scalar("SELECT COUNT(*) FROM suppressions WHERE address_hash = $1")
            .bind(key_hash(key))
            .fetch_one(p)
            .await?
    });
    Ok(n > 0)
}

/// All suppressed hashes: small enough to hold during an import.
pub async fn all_hashes(db: &Db) -> Result<HashSet<String>> {
    let v: Vec<String> = on_db!(db, p => {
        sqlx::query_scalar("SELECT address_hash FROM suppressions").fetch_all(p).await?
    });
    Ok(v.into_iter().collect())
}

pub async fn list(db: &Db) -> Result<Vec<Suppression>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, Suppression>(
            "SELECT address_hash, address, reason, note, created_at FROM suppressions ORDER BY created_at",
        )
        .fetch_all(p)
        .await?
    }))
}

/// Lifts the suppression of `key` (a lower-cased address): the undo of one added by mistake.
pub async fn remove(db: &Db, key: &str) -> Result<()> {
    on_db!(db, p => {
        sqlx::query("DELETE FROM suppressions WHERE address_hash = $1")
            .bind(key_hash(key))
            .execute(p)
            .await?;
    });
    Ok(())
}
