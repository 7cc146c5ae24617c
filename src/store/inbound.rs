//! Inbound messages as spooled: raw bytes first, then the analysis and the processing state.
//! Several daemons may share the database: a message is claimed with a lease before it is
//! processed.

use super::{now, Db, Result, StoreError, Timestamp};
use crate::on_db;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct InboundRow {
    pub id: i64,
    pub source: String,
    pub received_at: Timestamp,
    pub status: String,
    pub error: Option<String>,
    pub kind: Option<String>,
    pub intent: Option<String>,
    pub confidence: Option<f32>,
    pub from_addr: Option<String>,
    pub subject: Option<String>,
    pub contact_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub attribution: Option<String>,
}

/// Stores the raw bytes under `key` unless a message with that key is stored already. Returns
/// the message's id and whether it was there before.
pub async fn spool(db: &Db, key: &str, raw: &[u8], source: &str) -> Result<(i64, bool)> {
    let id: Option<i64> = on_db!(db, p => {
        sqlx::query_scalar(
            "INSERT INTO inbound_messages (dedup_key, raw, source, received_at, status)
             VALUES ($1, $2, $3, $4, 'new') ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
        )
        .bind(key)
        .bind(raw)
        .bind(source)
        .bind(now())
        .fetch_all(p)
        .await
        .map(super::returned_first)?
    });
    if let Some(id) = id {
        return Ok((id, false));
    }
    let id: i64 = on_db!(db, p => {
        sqlx::query_scalar("SELECT id FROM inbound_messages WHERE dedup_key = $1")
            .bind(key)
            .fetch_one(p)
            .await?
    });
    Ok((id, true))
}

/// Claims message `id` for processing until `lease_until` when it is new or its earlier
/// claim ran out; returns its raw bytes, or None when it is not to be taken.
pub async fn claim(db: &Db, id: i64, lease_until: Timestamp) -> Result<Option<Vec<u8>>> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar(
            "UPDATE inbound_messages SET status = 'processing', lease_until = $1
             WHERE id = $2 AND (status = 'new' OR (status = 'processing' AND lease_until < $3))
             RETURNING raw",
        )
        .bind(lease_until)
        .bind(id)
        .bind(now())
        .fetch_all(p)
        .await
        .map(super::returned_first)?
    }))
}

pub async fn mark_processed(db: &Db, id: i64) -> Result<()> {
    on_db!(db, p => {
        sqlx::query("UPDATE inbound_messages SET status = 'processed', error = NULL, processed_at = $1, lease_until = NULL WHERE id = $2")
            .bind(now())
            .bind(id)
            .execute(p)
            .await?;
    });
    Ok(())
}

pub async fn quarantine(db: &Db, id: i64, error: &str) -> Result<()> {
    on_db!(db, p => {
        sqlx::query("UPDATE inbound_messages SET status = 'quarantined', error = $1, processed_at = $2, lease_until = NULL WHERE id = $3")
            .bind(error)
            .bind(now())
            .bind(id)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// What the analysis and attribution found, kept with the message.
#[derive(Debug, Clone)]
pub struct Analysed<'a> {
    pub kind: &'a str,
    pub intent: &'a str,
    pub confidence: f32,
    pub language: &'a str,
    pub visible_text: &'a str,
    pub from_addr: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub contact_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub attribution: &'a str,
}

pub async fn record_analysis(db: &Db, id: i64, a: &Analysed<'_>) -> Result<()> {
    on_db!(db, p => {
        sqlx::query(
            "UPDATE inbound_messages SET kind = $1, intent = $2, confidence = $3, language = $4,
                visible_text = $5, from_addr = $6, subject = $7, contact_id = $8, campaign_id = $9,
                attribution = $10 WHERE id = $11",
        )
        .bind(a.kind)
        .bind(a.intent)
        .bind(a.confidence)
        .bind(a.language)
        .bind(a.visible_text)
        .bind(a.from_addr)
        .bind(a.subject)
        .bind(a.contact_id)
        .bind(a.campaign_id)
        .bind(a.attribution)
        .bind(id)
        .execute(p)
        .await?;
    });
    Ok(())
}

/// Messages still to process: new ones, and claims whose lease ran out (at most 500).
pub async fn pending_ids(db: &Db) -> Result<Vec<i64>> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar(
            "SELECT id FROM inbound_messages
             WHERE status = 'new' OR (status = 'processing' AND lease_until < $1) ORDER BY id LIMIT 500",
        )
        .bind(now())
        .fetch_all(p)
        .await?
    }))
}

/// Makes a quarantined message new again; false when `id` is not quarantined.
pub async fn release(db: &Db, id: i64) -> Result<bool> {
    let n = on_db!(db, p => {
        sqlx::query("UPDATE inbound_messages SET status = 'new' WHERE id = $1 AND status = 'quarantined'")
            .bind(id)
            .execute(p)
            .await?
            .rows_affected()
    });
    Ok(n > 0)
}

pub async fn list(db: &Db, status: Option<&str>, limit: i64) -> Result<Vec<InboundRow>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, InboundRow>(
            "SELECT id, source, received_at, status, error, kind, intent, confidence, from_addr, subject,
                    contact_id, campaign_id, attribution
             FROM inbound_messages WHERE ($1 IS NULL OR status = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(status)
        .bind(limit)
        .fetch_all(p)
        .await?
    }))
}

/// The raw bytes of message `id`.
pub async fn raw(db: &Db, id: i64) -> Result<Vec<u8>> {
    let raw: Option<Vec<u8>> = on_db!(db, p => {
        sqlx::query_scalar("SELECT raw FROM inbound_messages WHERE id = $1")
            .bind(id)
            .fetch_optional(p)
            .await?
    });
    raw.ok_or_else(|| StoreError::NotFound(format!("no inbound message {id}")))
}
