//! The activation funnel: silent -> invited -> replied -> encounter / cooperation.

use super::{now, Db, Result};
use crate::on_db;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TopicFunnel {
    pub topic: String,
    pub confirmed: i64,
    pub silent: i64,
    pub encounter: i64,
    pub cooperation: i64,
    pub unsubscribed: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CampaignFunnel {
    pub campaign: String,
    pub kind: String,
    pub invited: i64,
    pub replied: i64,
    pub encounter: i64,
    pub declined: i64,
    pub cooperation: i64,
    pub unsubscribed: i64,
    pub review: i64,
}

pub async fn topics(db: &Db, silent_after_days: i64) -> Result<Vec<TopicFunnel>> {
    let at = now();
    let sql = format!(
        "SELECT t.slug AS topic,
            (SELECT COUNT(*) FROM subscriptions s WHERE s.topic_id = t.id AND s.status = 'confirmed') AS confirmed,
            (SELECT COUNT(*) FROM contacts c WHERE {silent}) AS silent,
            (SELECT COUNT(DISTINCT r.contact_id) FROM relations r LEFT JOIN occasions o ON o.id = r.occasion_id
               WHERE r.form = 'encounter' AND r.status = 'confirmed' AND COALESCE(r.topic_id, o.topic_id) = t.id) AS encounter,
            (SELECT COUNT(DISTINCT r.contact_id) FROM relations r
               WHERE r.form = 'cooperation' AND r.status IN ('interested', 'confirmed') AND r.topic_id = t.id) AS cooperation,
            (SELECT COUNT(*) FROM subscriptions s WHERE s.topic_id = t.id AND s.status = 'unsubscribed') AS unsubscribed
         FROM topics t ORDER BY t.slug",
        silent = super::contacts::silent_condition("t.id", "$1", "$2")
    );
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, TopicFunnel>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(at)
            .bind(at - chrono::Duration::days(silent_after_days))
            .fetch_all(p)
            .await?
    }))
}

pub async fn campaigns(db: &Db) -> Result<Vec<CampaignFunnel>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, CampaignFunnel>(
            "SELECT k.name AS campaign, k.kind,
                (SELECT COUNT(*) FROM deliveries d WHERE d.campaign_id = k.id AND d.status = 'sent') AS invited,
                (SELECT COUNT(DISTINCT a.contact_id) FROM activities a WHERE a.campaign_id = k.id AND a.kind = 'reply') AS replied,
                (SELECT COUNT(DISTINCT x.contact_id) FROM decisions x WHERE x.campaign_id = k.id AND x.status = 'applied' AND x.action = 'encounter') AS encounter,
                (SELECT COUNT(DISTINCT x.contact_id) FROM decisions x WHERE x.campaign_id = k.id AND x.status = 'applied' AND x.action = 'decline') AS declined,
                (SELECT COUNT(DISTINCT x.contact_id) FROM decisions x WHERE x.campaign_id = k.id AND x.status = 'applied' AND x.action = 'cooperation') AS cooperation,
                (SELECT COUNT(DISTINCT x.contact_id) FROM decisions x WHERE x.campaign_id = k.id AND x.status = 'applied' AND x.action = 'unsubscribe') AS unsubscribed,
                (SELECT COUNT(*) FROM decisions x WHERE x.campaign_id = k.id AND x.status = 'pending') AS review
             FROM campaigns k ORDER BY k.id",
        )
        .fetch_all(p)
        .await?
    }))
}
