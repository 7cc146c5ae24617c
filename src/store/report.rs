//! The activation funnel (silent -> invited -> replied -> encounter / cooperation) per topic and
//! per campaign, recent activations and RSVP lists. The dashboard, `/api/reports/funnel`, the
//! campaigns list and the demo all count from here, so each stage means one thing everywhere:
//!
//! - invited: sent a message of the campaign (for a topic: of its invitations and calls for
//!   cooperation);
//! - replied: answered such a message, by a reply attributed to it or by an RSVP link in it
//!   (timeline entries `reply` or `relation` carrying the campaign);
//! - encounter / declined: a confirmed (declined) encounter at the campaign's occasion (for a
//!   topic: at one of its occasions);
//! - came: of the encounters, those recorded as having come (attendance `came`);
//! - cooperation: interest in, or agreed, cooperation on the topic.
//!
//! A campaign's later stages count only its audience (contacts it has a delivery for): a
//! contact who signed up for the occasion elsewhere is not this campaign's success.

use super::{now, Db, Result, Timestamp};
use crate::domain::{CampaignId, ContactId, OccasionId, RelationForm, RelationStatus, TopicId};
use crate::on_db;
use serde::Serialize;

/// The timeline entries that answer a campaign: a reply attributed to it, or a relation set in
/// answer to it (an RSVP link, or a reply's proposal applied).
const ANSWERS: &str = "a.kind IN ('reply', 'relation')";

/// Contacts who answered campaign `k` (the alias in the enclosing query), as a scalar subquery.
pub(super) fn replied_to_campaign() -> String {
    format!(
        "(SELECT COUNT(DISTINCT a.contact_id) FROM activities a
           WHERE a.campaign_id = k.id AND {ANSWERS})"
    )
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TopicFunnel {
    pub id: TopicId,
    pub slug: String,
    pub title: String,
    /// Contacts with confirmed consent for the topic.
    pub confirmed: i64,
    /// Contacts with confirmed consent for the topic who are silent now.
    pub silent: i64,
    /// Contacts sent an invitation or call for cooperation of this topic.
    pub invited: i64,
    /// Of those, contacts who answered (reply, or RSVP link) such a campaign.
    pub replied: i64,
    /// Contacts with a confirmed encounter at an occasion of this topic.
    pub encounter: i64,
    /// Of those, contacts recorded as having come.
    pub came: i64,
    /// Contacts with cooperation interest (or agreed cooperation) on this topic.
    pub cooperation: i64,
    /// Contacts who withdrew consent for the topic.
    pub unsubscribed: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CampaignFunnel {
    pub id: CampaignId,
    pub name: String,
    pub kind: super::campaigns::CampaignKind,
    pub status: super::campaigns::CampaignStatus,
    pub topic: Option<String>,
    /// Deliveries built for the campaign (for activation mail: the silent contacts chosen).
    pub audience: i64,
    pub invited: i64,
    pub replied: i64,
    pub encounter: i64,
    /// Of the encounters, contacts recorded as having come.
    pub came: i64,
    pub declined: i64,
    pub cooperation: i64,
    /// Of the audience, contacts whose consent for the campaign's topic is withdrawn now.
    pub unsubscribed: i64,
    /// Replies to the campaign waiting for a person's decision.
    pub review: i64,
}

/// The funnel of each topic; with `since`, its stages count only what happened from then on
/// (messages sent, answers given, relations set or changed), "silent" and the consent counts
/// stay the state now.
pub async fn topics(
    db: &Db,
    silent_after_days: i64,
    since: Option<Timestamp>,
) -> Result<Vec<TopicFunnel>> {
    let at = now();
    // No window: from the beginning of time (one query for both, no NULL parameter to type).
    let since = since.unwrap_or(chrono::DateTime::UNIX_EPOCH);
    // An encounter belongs to its occasion's topic; the relation's own topic counts only when
    // the occasion is gone (deleting an occasion keeps its relations).
    let sql = format!(
        "SELECT t.id, t.slug, t.title,
            (SELECT COUNT(*) FROM subscriptions s WHERE s.topic_id = t.id AND s.status = 'confirmed') AS confirmed,
            (SELECT COUNT(*) FROM contacts c WHERE {silent}) AS silent,
            (SELECT COUNT(DISTINCT d.contact_id) FROM deliveries d JOIN campaigns k ON k.id = d.campaign_id
               WHERE k.topic_id = t.id AND k.kind IN ('invitation', 'cooperation') AND d.status = 'sent'
                 AND d.sent_at >= $3) AS invited,
            (SELECT COUNT(DISTINCT a.contact_id) FROM activities a JOIN campaigns k ON k.id = a.campaign_id
               WHERE k.topic_id = t.id AND k.kind IN ('invitation', 'cooperation') AND {ANSWERS}
                 AND a.at >= $3) AS replied,
            (SELECT COUNT(DISTINCT r.contact_id) FROM relations r LEFT JOIN occasions o ON o.id = r.occasion_id
               WHERE r.form = 'encounter' AND r.status = 'confirmed'
                 AND COALESCE(o.topic_id, r.topic_id) = t.id AND r.updated_at >= $3) AS encounter,
            (SELECT COUNT(DISTINCT r.contact_id) FROM relations r LEFT JOIN occasions o ON o.id = r.occasion_id
               WHERE r.form = 'encounter' AND r.status = 'confirmed' AND r.attendance = 'came'
                 AND COALESCE(o.topic_id, r.topic_id) = t.id AND r.updated_at >= $3) AS came,
            (SELECT COUNT(DISTINCT r.contact_id) FROM relations r
               WHERE r.form = 'cooperation' AND r.status IN ('interested', 'confirmed')
                 AND r.topic_id = t.id AND r.updated_at >= $3) AS cooperation,
            (SELECT COUNT(*) FROM subscriptions s WHERE s.topic_id = t.id AND s.status = 'unsubscribed') AS unsubscribed
         FROM topics t ORDER BY t.slug",
        silent = super::contacts::silent_condition("t.id", "$1", "$2"),
    );
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, TopicFunnel>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(at)
            .bind(at - chrono::Duration::days(silent_after_days.max(1)))
            .bind(since)
            .fetch_all(p)
            .await?
    }))
}

/// Every campaign but recurring templates (their runs are campaigns of their own), newest first.
pub async fn campaigns(db: &Db) -> Result<Vec<CampaignFunnel>> {
    let sql = format!(
        "SELECT k.id, k.name, k.kind, k.status, t.slug AS topic,
            (SELECT COUNT(*) FROM deliveries d WHERE d.campaign_id = k.id) AS audience,
            (SELECT COUNT(*) FROM deliveries d WHERE d.campaign_id = k.id AND d.status = 'sent') AS invited,
            {replied} AS replied,
            (SELECT COUNT(DISTINCT r.contact_id) FROM relations r
               JOIN deliveries d ON d.contact_id = r.contact_id AND d.campaign_id = k.id
               WHERE r.form = 'encounter' AND r.status = 'confirmed' AND r.occasion_id = k.occasion_id) AS encounter,
            (SELECT COUNT(DISTINCT r.contact_id) FROM relations r
               JOIN deliveries d ON d.contact_id = r.contact_id AND d.campaign_id = k.id
               WHERE r.form = 'encounter' AND r.status = 'confirmed' AND r.attendance = 'came'
                 AND r.occasion_id = k.occasion_id) AS came,
            (SELECT COUNT(DISTINCT r.contact_id) FROM relations r
               JOIN deliveries d ON d.contact_id = r.contact_id AND d.campaign_id = k.id
               WHERE r.form = 'encounter' AND r.status = 'declined' AND r.occasion_id = k.occasion_id) AS declined,
            (SELECT COUNT(DISTINCT r.contact_id) FROM relations r
               JOIN deliveries d ON d.contact_id = r.contact_id AND d.campaign_id = k.id
               WHERE r.form = 'cooperation' AND r.status IN ('interested', 'confirmed')
                 AND r.topic_id = k.topic_id) AS cooperation,
            (SELECT COUNT(*) FROM subscriptions s
               JOIN deliveries d ON d.contact_id = s.contact_id AND d.campaign_id = k.id
               WHERE s.topic_id = k.topic_id AND s.status = 'unsubscribed') AS unsubscribed,
            (SELECT COUNT(*) FROM decisions x WHERE x.campaign_id = k.id AND x.status = 'pending') AS review
         FROM campaigns k LEFT JOIN topics t ON t.id = k.topic_id
         WHERE k.schedule IS NULL
         ORDER BY k.id DESC",
        replied = replied_to_campaign(),
    );
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, CampaignFunnel>(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(p)
            .await?
    }))
}

/// The window the funnel's running totals cover: from the first message sent to now. The
/// silent count is not a running total but the state now.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// When the first campaign message went out; None before any did.
    pub since: Option<Timestamp>,
    pub until: Timestamp,
}

/// The window of [`topics`] with the same `since`: from then, or from the first message sent
/// when that was later (or no window was asked for).
pub async fn window(db: &Db, since: Option<Timestamp>) -> Result<Window> {
    let first: Option<Timestamp> = on_db!(db, p => {
        sqlx::query_scalar("SELECT MIN(sent_at) FROM deliveries WHERE status = 'sent'")
            .fetch_one(p)
            .await?
    });
    Ok(Window {
        since: match (first, since) {
            (Some(f), Some(s)) => Some(f.max(s)),
            (f, None) => f,
            (None, Some(s)) => Some(s),
        },
        until: now(),
    })
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Activation {
    pub contact_id: ContactId,
    pub email: String,
    pub name: Option<String>,
    pub form: RelationForm,
    pub status: RelationStatus,
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
    pub contact_id: ContactId,
    pub email: String,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub status: RelationStatus,
    pub cause_kind: String,
    pub updated_at: Timestamp,
    /// How many people in all, when the reply said.
    pub party_size: Option<i64>,
    /// `came`, `no_show`, or none recorded.
    pub attendance: Option<String>,
}

impl Rsvp {
    /// People this RSVP brings: its party size, or one; none when it is not a yes.
    pub fn people(&self) -> i64 {
        if self.status == RelationStatus::Confirmed {
            self.party_size.unwrap_or(1)
        } else {
            0
        }
    }
}

pub async fn rsvps(db: &Db, occasion_id: OccasionId) -> Result<Vec<Rsvp>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, Rsvp>(
            "SELECT c.id AS contact_id, c.email, c.name, c.organisation, r.status, r.cause_kind,
                r.updated_at, r.party_size, r.attendance
             FROM relations r JOIN contacts c ON c.id = r.contact_id
             WHERE r.form = 'encounter' AND r.occasion_id = $1
             ORDER BY r.status, c.email",
        )
        .bind(occasion_id)
        .fetch_all(p)
        .await?
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::activities::{self, ActivityKind, NewActivity};
    use crate::store::{campaigns, testing};

    async fn exec(db: &Db, sql: &str) -> i64 {
        on_db!(db, p => {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("{sql} RETURNING id")))
                .bind(now())
                .fetch_all(p)
                .await
                .unwrap()[0]
        })
    }

    /// A timeline entry as the inbound side and the RSVP links write it.
    async fn answer(db: &Db, contact_id: i64, kind: ActivityKind, campaign_id: Option<CampaignId>) {
        let mut tx = db.begin().await.unwrap();
        let a = NewActivity {
            contact_id: ContactId(contact_id),
            at: now(),
            kind,
            detail: serde_json::json!({}),
            campaign_id,
            inbound_id: None,
        };
        activities::record(&mut tx, &a).await.unwrap();
        tx.commit().await.unwrap();
    }

    /// One invitation sent to four contacts: one replies by mail, one answers by the RSVP link
    /// (an encounter), one replies and says no, one stays quiet; a fifth, not invited, writes
    /// and signs up for the occasion elsewhere. The dashboard's funnels, the campaigns list and
    /// the API all read "replied" as 3.
    async fn funnels_agree_on_replied(db: Db) {
        let topic = exec(&db, "INSERT INTO topics (slug, title, created_at) VALUES ('nachbarschaft', 'Nachbarschaft', $1)").await;
        let occasion = exec(&db, &format!(
            "INSERT INTO occasions (slug, title, starts_at, topic_id, created_at) VALUES ('cafe', 'Café', $1, {topic}, $1)"
        ))
        .await;
        let campaign = exec(&db, &format!(
            "INSERT INTO campaigns (name, kind, topic_id, occasion_id, subject, body, status, created_at, updated_at)
             VALUES ('einladung', 'invitation', {topic}, {occasion}, 'S', 'B', 'done', $1, $1)"
        ))
        .await;
        let mut ids = Vec::new();
        for name in ["mail", "link", "nein", "still", "fremd"] {
            ids.push(
                exec(
                    &db,
                    &format!(
                        "INSERT INTO contacts (email, email_key, created_at, updated_at)
                     VALUES ('{name}@example.org', '{name}@example.org', $1, $1)"
                    ),
                )
                .await,
            );
        }
        let (mail, link, nein, still, fremd) = (ids[0], ids[1], ids[2], ids[3], ids[4]);
        for c in [mail, link, nein, still] {
            exec(&db, &format!(
                "INSERT INTO deliveries (campaign_id, contact_id, status, next_attempt_at, sent_at, created_at)
                 VALUES ({campaign}, {c}, 'sent', $1, $1, $1)"
            ))
            .await;
        }
        answer(&db, mail, ActivityKind::Reply, Some(CampaignId(campaign))).await;
        for (c, status) in [
            (link, "confirmed"),
            (nein, "declined"),
            (fremd, "confirmed"),
        ] {
            exec(&db, &format!(
                "INSERT INTO relations (contact_id, form, topic_id, occasion_id, status, since, cause_kind, created_at, updated_at)
                 VALUES ({c}, 'encounter', {topic}, {occasion}, '{status}', $1, 'link', $1, $1)"
            ))
            .await;
        }
        answer(
            &db,
            link,
            ActivityKind::Relation,
            Some(CampaignId(campaign)),
        )
        .await;
        answer(&db, nein, ActivityKind::Reply, Some(CampaignId(campaign))).await;
        answer(
            &db,
            nein,
            ActivityKind::Relation,
            Some(CampaignId(campaign)),
        )
        .await;
        // Not answers to the campaign: a reply attributed to none, a send.
        answer(&db, fremd, ActivityKind::Reply, None).await;
        answer(&db, still, ActivityKind::Sent, Some(CampaignId(campaign))).await;

        let k = campaigns(&db).await.unwrap();
        assert_eq!(k.len(), 1);
        let k = &k[0];
        assert_eq!(
            (k.audience, k.invited, k.replied, k.encounter, k.declined),
            (4, 4, 3, 1, 1),
            "{k:?}"
        );
        let t = topics(&db, 30, None).await.unwrap();
        assert_eq!(t.len(), 1);
        // The topic's encounters count the one who signed up elsewhere too.
        assert_eq!(
            (t[0].invited, t[0].replied, t[0].encounter),
            (4, 3, 2),
            "{:?}",
            t[0]
        );
        let list = campaigns::list(&db).await.unwrap();
        assert_eq!(list[0].replied, k.replied);
    }

    #[tokio::test]
    async fn funnels_agree_on_replied_sqlite() {
        funnels_agree_on_replied(Db::open("sqlite::memory:").await.unwrap()).await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: set NETZPOST_TEST_POSTGRES_URL"]
    async fn funnels_agree_on_replied_postgres() {
        funnels_agree_on_replied(testing::fresh_postgres().await).await;
    }
}
