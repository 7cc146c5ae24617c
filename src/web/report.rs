//! The activation funnel (silent -> invited -> replied -> encounter / cooperation) per topic and
//! per campaign, recent activations and RSVP lists: what the dashboard and `/api/reports` show.

use crate::on_db;
use crate::store::contacts::silent_condition;
use crate::store::{now, Db, Result, Timestamp};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TopicFunnel {
    pub id: i64,
    pub slug: String,
    pub title: String,
    /// Contacts with confirmed consent for the topic who are silent now.
    pub silent: i64,
    /// Contacts sent an invitation or call for cooperation of this topic.
    pub invited: i64,
    /// Of those, contacts who answered (reply, or RSVP link) such a campaign.
    pub replied: i64,
    /// Contacts with a confirmed encounter at an occasion of this topic.
    pub encounter: i64,
    /// Contacts with cooperation interest (or agreed cooperation) on this topic.
    pub cooperation: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CampaignFunnel {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub topic: Option<String>,
    /// Deliveries built for the campaign (for activation mail: the silent contacts chosen).
    pub audience: i64,
    pub invited: i64,
    pub replied: i64,
    pub encounter: i64,
    pub cooperation: i64,
}

pub async fn topic_funnel(db: &Db, silent_after_days: i64) -> Result<Vec<TopicFunnel>> {
    let at = now();
    let sql = format!(
        "SELECT t.id, t.slug, t.title,
            (SELECT COUNT(*) FROM contacts c WHERE {silent}) AS silent,
            (SELECT COUNT(DISTINCT d.contact_id) FROM deliveries d JOIN campaigns k ON k.id = d.campaign_id
               WHERE k.topic_id = t.id AND k.kind IN ('invitation', 'cooperation') AND d.status = 'sent') AS invited,
            (SELECT COUNT(DISTINCT a.contact_id) FROM activities a JOIN campaigns k ON k.id = a.campaign_id
               WHERE k.topic_id = t.id AND k.kind IN ('invitation', 'cooperation')
                 AND a.kind IN ('reply', 'relation')) AS replied,
            (SELECT COUNT(DISTINCT r.contact_id) FROM relations r LEFT JOIN occasions o ON o.id = r.occasion_id
               WHERE r.form = 'encounter' AND r.status = 'confirmed'
                 AND (r.topic_id = t.id OR o.topic_id = t.id)) AS encounter,
            (SELECT COUNT(DISTINCT r.contact_id) FROM relations r
               WHERE r.form = 'cooperation' AND r.status IN ('interested', 'confirmed')
                 AND r.topic_id = t.id) AS cooperation
         FROM topics t ORDER BY t.slug",
        silent = silent_condition("t.id", "$1", "$2"),
    );
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, TopicFunnel>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(at)
            .bind(at - chrono::Duration::days(silent_after_days.max(1)))
            .fetch_all(p)
            .await?
    }))
}

pub async fn campaign_funnel(db: &Db) -> Result<Vec<CampaignFunnel>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, CampaignFunnel>(
            "SELECT k.id, k.name, k.kind, k.status, t.slug AS topic,
                (SELECT COUNT(*) FROM deliveries d WHERE d.campaign_id = k.id) AS audience,
                (SELECT COUNT(*) FROM deliveries d WHERE d.campaign_id = k.id AND d.status = 'sent') AS invited,
                (SELECT COUNT(DISTINCT a.contact_id) FROM activities a
                   WHERE a.campaign_id = k.id AND a.kind IN ('reply', 'relation')) AS replied,
                (SELECT COUNT(DISTINCT r.contact_id) FROM relations r
                   JOIN deliveries d ON d.contact_id = r.contact_id AND d.campaign_id = k.id
                   WHERE r.form = 'encounter' AND r.status = 'confirmed' AND r.occasion_id = k.occasion_id) AS encounter,
                (SELECT COUNT(DISTINCT r.contact_id) FROM relations r
                   JOIN deliveries d ON d.contact_id = r.contact_id AND d.campaign_id = k.id
                   WHERE r.form = 'cooperation' AND r.status IN ('interested', 'confirmed')
                     AND r.topic_id = k.topic_id) AS cooperation
             FROM campaigns k LEFT JOIN topics t ON t.id = k.topic_id
             WHERE k.schedule IS NULL
             ORDER BY k.id DESC",
        )
        .fetch_all(p)
        .await?
    }))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Activation {
    pub contact_id: i64,
    pub email: String,
    pub name: Option<String>,
    pub form: String,
    pub status: String,
    pub occasion: Option<String>,
    pub topic: Option<String>,
    pub cause_kind: String,
    pub updated_at: Timestamp,
}

/// The latest relations that made contacts active.
pub async fn recent_activations(db: &Db, limit: i64) -> Result<Vec<Activation>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, Activation>(
            "SELECT c.id AS contact_id, c.email, c.name, r.form, r.status, o.title AS occasion,
                    t.title AS topic, r.cause_kind, r.updated_at
             FROM relations r JOIN contacts c ON c.id = r.contact_id
             LEFT JOIN occasions o ON o.id = r.occasion_id
             LEFT JOIN topics t ON t.id = r.topic_id
             WHERE r.status IN ('confirmed', 'interested')
             ORDER BY r.updated_at DESC, r.id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(p)
        .await?
    }))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Rsvp {
    pub email: String,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub status: String,
    pub cause_kind: String,
    pub updated_at: Timestamp,
    /// How many people in all, when the reply said.
    pub party_size: Option<i64>,
}

impl Rsvp {
    /// People this RSVP brings: its party size, or one; none when it is not a yes.
    pub fn people(&self) -> i64 {
        if self.status == "confirmed" {
            self.party_size.unwrap_or(1)
        } else {
            0
        }
    }
}

pub async fn rsvps(db: &Db, occasion_id: i64) -> Result<Vec<Rsvp>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, Rsvp>(
            "SELECT c.email, c.name, c.organisation, r.status, r.cause_kind, r.updated_at, r.party_size
             FROM relations r JOIN contacts c ON c.id = r.contact_id
             WHERE r.form = 'encounter' AND r.occasion_id = $1
             ORDER BY r.status, c.email",
        )
        .bind(occasion_id)
        .fetch_all(p)
        .await?
    }))
}

/// One bar of the SVG chart.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub key: &'static str,
    pub value: i64,
    /// Width in chart units (0-300).
    pub width: i64,
    pub y: i64,
}

/// The stages as bars scaled to the largest value.
pub fn bars(stages: &[(&'static str, i64)]) -> Vec<Bar> {
    let max = stages.iter().map(|s| s.1).max().unwrap_or(0).max(1);
    stages
        .iter()
        .enumerate()
        .map(|(i, (key, value))| Bar {
            key,
            value: *value,
            width: if *value > 0 {
                (value * 300 / max).max(2)
            } else {
                0
            },
            y: i as i64 * 26,
        })
        .collect()
}
