//! The contact's timeline: every send, reply, bounce, consent and relation change.

use super::{on_tx, Result, Timestamp, Tx};
use crate::domain::{CampaignId, ContactId, InboundId};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Activity {
    pub id: i64,
    pub at: Timestamp,
    pub kind: String,
    pub summary: String,
    pub detail: String,
    pub campaign_id: Option<CampaignId>,
    pub inbound_id: Option<InboundId>,
}

/// One entry for the timeline; `record` writes it within the caller's transaction, so the change
/// and its record land together or not at all.
#[derive(Debug, Clone)]
pub struct NewActivity<'a> {
    pub contact_id: ContactId,
    pub at: Timestamp,
    pub kind: &'a str,
    pub summary: String,
    pub detail: serde_json::Value,
    pub campaign_id: Option<CampaignId>,
    pub inbound_id: Option<InboundId>,
}

macro_rules! record_impl {
    ($conn:expr, $a:expr) => {{
        let a = $a;
        sqlx::query(
            "INSERT INTO activities (contact_id, at, kind, summary, detail, campaign_id, inbound_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(a.contact_id)
        .bind(a.at)
        .bind(a.kind)
        .bind(&a.summary)
        .bind(a.detail.to_string())
        .bind(a.campaign_id)
        .bind(a.inbound_id)
        .execute(&mut *$conn)
        .await?;
        sqlx::query("UPDATE contacts SET last_activity_at = $1 WHERE id = $2")
            .bind(a.at)
            .bind(a.contact_id)
            .execute(&mut *$conn)
            .await?;
    }};
}

/// Lets generic transaction code call one name for both backends.
pub trait Record {
    fn record(
        &mut self,
        a: &NewActivity<'_>,
    ) -> impl std::future::Future<Output = Result<()>> + Send;
}

impl Record for sqlx::SqliteConnection {
    async fn record(&mut self, a: &NewActivity<'_>) -> Result<()> {
        record_impl!(self, a);
        Ok(())
    }
}

impl Record for sqlx::PgConnection {
    async fn record(&mut self, a: &NewActivity<'_>) -> Result<()> {
        record_impl!(self, a);
        Ok(())
    }
}

/// Writes `a` within the caller's transaction: the change and its timeline entry land together.
pub async fn record(tx: &mut Tx, a: &NewActivity<'_>) -> Result<()> {
    on_tx!(tx, c => Record::record(c, a).await)
}

/// How many timeline entries of `kind` the contact has since `since` (soft bounces in a window).
pub async fn count_since(
    db: &super::Db,
    contact_id: ContactId,
    kind: &str,
    since: Timestamp,
) -> Result<i64> {
    Ok(crate::on_db!(db, p => {
        sqlx::query_scalar("SELECT COUNT(*) FROM activities WHERE contact_id = $1 AND kind = $2 AND at > $3")
            .bind(contact_id)
            .bind(kind)
            .bind(since)
            .fetch_one(p)
            .await?
    }))
}
