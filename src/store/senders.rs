//! The senders: which daemon holds which claimed deliveries, their heartbeats, and taking
//! over a silent one's claims.

use super::campaigns::Held;
use super::{now, Db, Result, Timestamp};
use crate::domain::DeliveryId;
use crate::on_db;

/// The owners (`HOST:PID:...`) of deliveries being sent whose owner starts with `prefix`.
pub async fn sending_owners(db: &Db, prefix: &str) -> Result<Vec<String>> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar("SELECT DISTINCT lease_owner FROM deliveries WHERE status = 'sending' AND lease_owner LIKE $1")
            .bind(format!("{prefix}%"))
            .fetch_all(p)
            .await?
    }))
}

/// Of `ids` (a few hundred at most: one placeholder each), the deliveries `owner` holds.
pub async fn held_by(db: &Db, owner: &str, ids: &[DeliveryId]) -> Result<Vec<Held>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = (2..ids.len() + 2)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT d.id, d.campaign_id, d.contact_id, d.attempts FROM deliveries d
         WHERE d.status = 'sending' AND d.lease_owner = $1 AND d.id IN ({placeholders})"
    );
    Ok(on_db!(db, p => {
        let mut q = sqlx::query_as::<_, Held>(sqlx::AssertSqlSafe(sql.as_str())).bind(owner);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(p).await?
    }))
}

/// Puts every delivery `owner` still holds back in the queue. Returns how many.
pub async fn release_claims(db: &Db, owner: &str) -> Result<u64> {
    Ok(on_db!(db, p => {
        sqlx::query("UPDATE deliveries SET status = 'queued', lease_until = NULL, lease_owner = NULL WHERE status = 'sending' AND lease_owner = $1")
            .bind(owner)
            .execute(p)
            .await?
            .rows_affected()
    }))
}

/// Registers `owner` as a live sender (or says again that it is alive).
pub async fn register_sender(db: &Db, owner: &str) -> Result<()> {
    on_db!(db, p => {
        sqlx::query(
            "INSERT INTO senders (owner, last_seen) VALUES ($1, $2)
             ON CONFLICT (owner) DO UPDATE SET last_seen = excluded.last_seen",
        )
        .bind(owner)
        .bind(now())
        .execute(p)
        .await?;
    });
    Ok(())
}

/// Says that `owner` is alive. Returns false when its row was gone: another sender thought it
/// dead and took over its claims, so the rows it still holds are no longer its own. It is
/// registered again for the claims it makes from now on.
pub async fn beat(db: &Db, owner: &str) -> Result<bool> {
    let n = on_db!(db, p => {
        sqlx::query("UPDATE senders SET last_seen = $1 WHERE owner = $2")
            .bind(now())
            .bind(owner)
            .execute(p)
            .await?
            .rows_affected()
    });
    if n > 0 {
        return Ok(true);
    }
    register_sender(db, owner).await?;
    Ok(false)
}

/// The senders that have said they are alive since `since`: daemons that are running.
pub async fn live_senders(db: &Db, since: Timestamp) -> Result<Vec<String>> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar("SELECT owner FROM senders WHERE last_seen >= $1 ORDER BY owner")
            .bind(since)
            .fetch_all(p)
            .await?
    }))
}

/// The senders that have not said they are alive since `since`.
pub async fn silent_senders(db: &Db, since: Timestamp) -> Result<Vec<String>> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar("SELECT owner FROM senders WHERE last_seen < $1 ORDER BY owner")
            .bind(since)
            .fetch_all(p)
            .await?
    }))
}

/// Removes `owner` from the live senders if it is still silent since `since`. Returns whether
/// this call removed it: of several senders that find the same dead one, only that one takes
/// over its claims.
pub async fn take_over_sender(db: &Db, owner: &str, since: Timestamp) -> Result<bool> {
    let n = on_db!(db, p => {
        sqlx::query("DELETE FROM senders WHERE owner = $1 AND last_seen < $2")
            .bind(owner)
            .bind(since)
            .execute(p)
            .await?
            .rows_affected()
    });
    Ok(n > 0)
}

/// Removes `owner` from the live senders (it stops, or it is known dead).
pub async fn forget_sender(db: &Db, owner: &str) -> Result<()> {
    on_db!(db, p => {
        sqlx::query("DELETE FROM senders WHERE owner = $1")
            .bind(owner)
            .execute(p)
            .await?;
    });
    Ok(())
}
