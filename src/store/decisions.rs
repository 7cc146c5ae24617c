//! Decisions about inbound messages: what the pipeline planned for a message (applied at once,
//! noted, or waiting for a person in the review queue), with what undoes it.

use super::{now, on_tx, Db, Result, StoreError, Timestamp, Tx};
use crate::domain::{CampaignId, ContactId, InboundId};
use crate::on_db;
use serde::Serialize;

crate::domain::text_enum!(
    /// Where a decision stands.
    pub DecisionStatus {
        /// Waiting for a person in the review queue.
        Pending => "pending",
        Applied => "applied",
        Rejected => "rejected",
        Undone => "undone",
        /// Recorded only: nothing to carry out.
        Noted => "noted",
    }
);

/// A new decision about inbound message `inbound_id`.
#[derive(Debug, Clone)]
pub struct NewDecision<'a> {
    pub inbound_id: InboundId,
    pub contact_id: Option<ContactId>,
    pub campaign_id: Option<CampaignId>,
    /// The action's name (`encounter`, `unsubscribe`, ...).
    pub action: &'a str,
    /// `Pending` or `Noted`.
    pub status: DecisionStatus,
    pub confidence: f32,
    pub reason: &'a str,
    /// The action as JSON, to carry it out later.
    pub plan: String,
}

pub async fn insert(tx: &mut Tx, d: &NewDecision<'_>) -> Result<i64> {
    Ok(on_tx!(tx, p => {
        sqlx::query_scalar(
            "INSERT INTO decisions (inbound_id, contact_id, campaign_id, action, status, confidence, reason, plan, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(d.inbound_id)
        .bind(d.contact_id)
        .bind(d.campaign_id)
        .bind(d.action)
        .bind(d.status)
        .bind(d.confidence)
        .bind(d.reason)
        .bind(&d.plan)
        .bind(now())
        .fetch_all(&mut *p)
        .await
        .and_then(super::returned_one)?
    }))
}

/// The decisions about inbound message `inbound_id` so far, in the order they were made: id,
/// action and status. A message whose processing was cut off (the daemon killed) resumes from
/// these instead of deciding twice.
pub async fn for_inbound(
    db: &Db,
    inbound_id: InboundId,
) -> Result<Vec<(i64, String, DecisionStatus)>> {
    Ok(on_db!(db, p => {
        sqlx::query_as("SELECT id, action, status FROM decisions WHERE inbound_id = $1 ORDER BY id")
            .bind(inbound_id)
            .fetch_all(p)
            .await?
    }))
}

/// Closes decision `id` as `status` (applied, rejected, undone), with how to undo it and who
/// decided.
pub async fn finish(db: &Db, id: i64, status: DecisionStatus, undo: &str, by: &str) -> Result<()> {
    on_db!(db, p => {
        sqlx::query("UPDATE decisions SET status = $1, undo = $2, decided_at = $3, decided_by = $4 WHERE id = $5")
            .bind(status)
            .bind(undo)
            .bind(now())
            .bind(by)
            .bind(id)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// Replaces the planned action of decision `id` (a person accepted it as another intent).
pub async fn replan(db: &Db, id: i64, action: &str, plan: &str) -> Result<()> {
    on_db!(db, p => {
        sqlx::query("UPDATE decisions SET action = $1, plan = $2 WHERE id = $3")
            .bind(action)
            .bind(plan)
            .bind(id)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// A decision as the review queue lists it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DecisionRow {
    pub id: i64,
    pub inbound_id: InboundId,
    pub action: String,
    pub status: DecisionStatus,
    pub confidence: Option<f32>,
    pub reason: String,
    pub contact: Option<String>,
    pub contact_id: Option<ContactId>,
    pub contact_name: Option<String>,
    /// The campaign the reply answers.
    pub campaign: Option<String>,
    pub from_addr: Option<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub created_at: Timestamp,
}

/// Pending decisions, and with `all` also recent applied, rejected and undone ones (after the
/// pending ones: the open items come first).
pub async fn review_list(db: &Db, all: bool, limit: i64) -> Result<Vec<DecisionRow>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, DecisionRow>(
            "SELECT d.id, d.inbound_id, d.action, d.status, d.confidence, d.reason, c.email AS contact,
                    d.contact_id, c.name AS contact_name, k.name AS campaign,
                    m.from_addr, m.subject, m.visible_text AS text, d.created_at
             FROM decisions d JOIN inbound_messages m ON m.id = d.inbound_id
             LEFT JOIN contacts c ON c.id = d.contact_id
             LEFT JOIN campaigns k ON k.id = d.campaign_id
             WHERE d.status = 'pending' OR ($1 = 1 AND d.status <> 'noted')
             ORDER BY CASE WHEN d.status = 'pending' THEN 0 ELSE 1 END, d.id DESC LIMIT $2",
        )
        .bind(i64::from(all))
        .bind(limit)
        .fetch_all(p)
        .await?
    }))
}

/// How many decisions wait for a person.
pub async fn pending_count(db: &Db) -> Result<i64> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar("SELECT COUNT(*) FROM decisions WHERE status = 'pending'")
            .fetch_one(p)
            .await?
    }))
}

/// A decision as stored, to carry it out or undo it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Stored {
    pub inbound_id: InboundId,
    pub contact_id: Option<ContactId>,
    pub campaign_id: Option<CampaignId>,
    pub status: DecisionStatus,
    pub plan: String,
    pub undo: String,
}

pub async fn get(db: &Db, id: i64) -> Result<Stored> {
    let row = on_db!(db, p => {
        sqlx::query_as::<_, Stored>(
            "SELECT inbound_id, contact_id, campaign_id, status, plan, undo FROM decisions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?
    });
    row.ok_or_else(|| StoreError::NotFound(format!("no decision {id}")))
}
