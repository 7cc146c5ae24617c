//! The counts that `/metrics` exports.

use super::{Db, Result};
use crate::on_db;

/// Deliveries per campaign name and status.
pub async fn deliveries_by_campaign(db: &Db) -> Result<Vec<(String, String, i64)>> {
    Ok(on_db!(db, p => {
        sqlx::query_as(
            "SELECT k.name, d.status, COUNT(*) FROM deliveries d JOIN campaigns k ON k.id = d.campaign_id
             GROUP BY k.name, d.status ORDER BY k.name, d.status",
        )
        .fetch_all(p)
        .await?
    }))
}

/// Deliveries waiting to be sent or being sent.
pub async fn queue_depth(db: &Db) -> Result<i64> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status IN ('queued', 'sending')")
            .fetch_one(p)
            .await?
    }))
}

/// Inbound messages per kind and intent (`unknown` and `none` where not classified).
pub async fn inbound_by_kind(db: &Db) -> Result<Vec<(String, String, i64)>> {
    Ok(on_db!(db, p => {
        sqlx::query_as(
            "SELECT COALESCE(kind, 'unknown') AS kind, COALESCE(intent, 'none') AS intent, COUNT(*)
             FROM inbound_messages GROUP BY COALESCE(kind, 'unknown'), COALESCE(intent, 'none')
             ORDER BY 1, 2",
        )
        .fetch_all(p)
        .await?
    }))
}
