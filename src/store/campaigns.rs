//! Campaigns: their text, audience and life cycle, and the firings of their schedules. Their
//! deliveries, the send queue, are in [`queue`].

use super::{now, Db, Result, StoreError, Timestamp};
use crate::domain::{CampaignId, OccasionId, TopicId};
use crate::on_db;
use serde::{Deserialize, Serialize};
mod queue;
pub use queue::{claim, enqueue, settle, skip_queued, Caps, Claimed, Held, Outcome, Settle};

crate::domain::text_enum!(
    pub CampaignKind {
        /// A topic newsletter to everyone with confirmed consent for the topic.
        Newsletter => "newsletter",
        /// An invitation to an occasion; by default to the silent contacts of its topic.
        Invitation => "invitation",
        /// A call for cooperation on a topic; by default to its silent contacts.
        Cooperation => "cooperation",
    }
);

crate::domain::text_enum!(
    /// Where a campaign stands.
    pub CampaignStatus {
        /// Written, not yet due.
        Draft => "draft",
        /// Waiting for its `send_at` or its schedule.
        Scheduled => "scheduled",
        /// Its deliveries are being sent.
        Running => "running",
        /// Stopped for now (by a person or a circuit breaker); may resume.
        Paused => "paused",
        /// Every delivery settled.
        Done => "done",
        Cancelled => "cancelled",
    }
);

impl CampaignKind {
    /// Activation mail (as opposed to a newsletter): subject to the invitation frequency cap.
    pub fn is_activation(self) -> bool {
        self != CampaignKind::Newsletter
    }
}

/// Who receives a campaign, beyond consent, suppressions and frequency caps (always applied).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audience {
    /// Only silent contacts (the default for invitations and calls for cooperation).
    pub silent: Option<bool>,
    /// Only contacts with an active relation of this form.
    pub form: Option<crate::domain::RelationForm>,
    pub language: Option<String>,
    /// Only contacts without activity for at least this many days.
    pub inactive_days: Option<i64>,
    /// Only contacts whose free attribute `key` equals `value`.
    pub attribute: Option<(String, String)>,
    /// Only contacts on this step of the activation ladder.
    pub ladder: Option<Ladder>,
}

/// A step of the activation ladder, as an audience: who answered or came to which occasions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Ladder {
    /// Said yes to the occasion (and did not take it back).
    SaidYes { occasion: OccasionId },
    /// Recorded as having come to the occasion.
    Came { occasion: OccasionId },
    /// Said yes, but did not come: recorded as not having come, or nothing recorded once the
    /// occasion is over.
    NoShow { occasion: OccasionId },
    /// Came to at least `min` occasions of `topic` that started in the last `months` months,
    /// and has no cooperation (interested or started).
    Regular {
        topic: TopicId,
        min: i64,
        months: i64,
    },
    /// Declined each of the last `last` invitations that reached them.
    Declined { last: i64 },
}

impl Ladder {
    /// The step's name as the audience JSON has it.
    pub fn step(&self) -> &'static str {
        match self {
            Ladder::SaidYes { .. } => "said_yes",
            Ladder::Came { .. } => "came",
            Ladder::NoShow { .. } => "no_show",
            Ladder::Regular { .. } => "regular",
            Ladder::Declined { .. } => "declined",
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Campaign {
    pub id: CampaignId,
    pub name: String,
    pub kind: CampaignKind,
    pub topic_id: Option<TopicId>,
    pub occasion_id: Option<OccasionId>,
    pub subject: String,
    pub body: String,
    /// JSON object of [`Translations`] (shown as that object, not as text).
    #[serde(serialize_with = "json_text")]
    pub translations: String,
    pub audience: String,
    pub schedule: Option<String>,
    pub send_at: Option<Timestamp>,
    pub parent_id: Option<CampaignId>,
    pub status: CampaignStatus,
    pub status_reason: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Set on an occasion's own mail (`reminder`, `follow_up`, `thanks`): see
    /// `store::occasion_mails`.
    pub occasion_mail: Option<String>,
    /// The next step a thank-you offers: `group`, `cooperation` or `none`.
    pub next_step: Option<String>,
}

impl Campaign {
    pub fn audience(&self) -> Audience {
        serde_json::from_str(&self.audience).unwrap_or_default()
    }

    pub fn translations(&self) -> Translations {
        serde_json::from_str(&self.translations).unwrap_or_default()
    }
}

fn json_text<S: serde::Serializer>(text: &str, s: S) -> std::result::Result<S::Ok, S::Error> {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|_| serde_json::json!({}));
    v.serialize(s)
}

/// A campaign's subject and body in one further language; an empty field falls back to the
/// campaign's main text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignText {
    pub subject: String,
    pub body: String,
}

/// The campaign's text by language code (besides the main text in `default_language`).
pub type Translations = std::collections::BTreeMap<String, CampaignText>;

pub(super) const COLUMNS: &str =
    "id, name, kind, topic_id, occasion_id, subject, body, translations, audience, schedule, send_at, \
                       parent_id, status, status_reason, created_at, started_at, finished_at, occasion_mail, next_step";

#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub name: String,
    pub kind: CampaignKind,
    pub topic_id: Option<TopicId>,
    pub occasion_id: Option<OccasionId>,
    pub subject: String,
    pub body: String,
    pub translations: Translations,
    pub audience: Audience,
    pub schedule: Option<String>,
    pub send_at: Option<Timestamp>,
    pub parent_id: Option<CampaignId>,
}

pub async fn create(db: &Db, c: &NewCampaign) -> Result<Campaign> {
    super::topics::check_slug(&c.name)?;
    let at = now();
    let status = if c.send_at.is_some() || c.schedule.is_some() {
        "scheduled"
    } else {
        "draft"
    };
    let sql = format!(
        "INSERT INTO campaigns (name, kind, topic_id, occasion_id, subject, body, audience, schedule, send_at,
            parent_id, status, created_at, updated_at, translations)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13) RETURNING {COLUMNS}"
    );
    let audience = serde_json::to_string(&c.audience).expect("audience serialises");
    let translations = serde_json::to_string(&c.translations).expect("texts serialise");
    let res = on_db!(db, p => {
        sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&c.name)
            .bind(c.kind.as_str())
            .bind(c.topic_id)
            .bind(c.occasion_id)
            .bind(&c.subject)
            .bind(&c.body)
            .bind(&audience)
            .bind(&c.schedule)
            .bind(c.send_at)
            .bind(c.parent_id)
            .bind(status)
            .bind(at)
            .bind(&translations)
            .fetch_all(p)
            .await
            .and_then(super::returned_one)
    });
    res.map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(format!("campaign {:?} exists already", c.name))
        }
        _ => e.into(),
    })
}

/// Rewrites a draft's text, topic, occasion, audience and timing (the name and kind stay).
/// Returns false when the campaign is no longer a draft or scheduled one-shot, so it is left
/// alone.
pub async fn update_draft(db: &Db, id: CampaignId, c: &NewCampaign) -> Result<bool> {
    let status = if c.send_at.is_some() || c.schedule.is_some() {
        "scheduled"
    } else {
        "draft"
    };
    let audience = serde_json::to_string(&c.audience).expect("audience serialises");
    let translations = serde_json::to_string(&c.translations).expect("texts serialise");
    Ok(on_db!(db, p => {
        sqlx::query(
            "UPDATE campaigns SET topic_id = $1, occasion_id = $2, subject = $3, body = $4,
                audience = $5, schedule = $6, send_at = $7, status = $8, translations = $9,
                updated_at = $10, status_reason = NULL
             WHERE id = $11 AND status IN ('draft', 'scheduled') AND started_at IS NULL",
        )
        .bind(c.topic_id)
        .bind(c.occasion_id)
        .bind(&c.subject)
        .bind(&c.body)
        .bind(&audience)
        .bind(&c.schedule)
        .bind(c.send_at)
        .bind(status)
        .bind(&translations)
        .bind(now())
        .bind(id)
        .execute(p)
        .await?
        .rows_affected()
            > 0
    }))
}

pub async fn get(db: &Db, name: &str) -> Result<Campaign> {
    let sql = format!("SELECT {COLUMNS} FROM campaigns WHERE name = $1");
    let c = on_db!(db, p => {
        sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql.as_str())).bind(name).fetch_optional(p).await?
    });
    c.ok_or_else(|| StoreError::UnknownCampaign(name.to_string()))
}

pub async fn by_id(db: &Db, id: CampaignId) -> Result<Campaign> {
    let sql = format!("SELECT {COLUMNS} FROM campaigns WHERE id = $1");
    let c = on_db!(db, p => {
        sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await?
    });
    c.ok_or_else(|| StoreError::NotFound(format!("no campaign with id {id}")))
}

pub async fn with_status(db: &Db, status: CampaignStatus) -> Result<Vec<Campaign>> {
    let sql = format!("SELECT {COLUMNS} FROM campaigns WHERE status = $1 ORDER BY id");
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql.as_str())).bind(status).fetch_all(p).await?
    }))
}

#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow)]
pub struct Progress {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub bounced: i64,
    pub skipped: i64,
}

impl Progress {
    pub fn total(&self) -> i64 {
        self.queued + self.sending + self.sent + self.failed + self.bounced + self.skipped
    }
    pub fn open(&self) -> i64 {
        self.queued + self.sending
    }
}

pub async fn progress(db: &Db, campaign_id: CampaignId) -> Result<Progress> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, Progress>(
            "SELECT
                CAST(COALESCE(SUM(CASE WHEN status = 'queued' THEN n ELSE 0 END), 0) AS BIGINT) AS queued,
                CAST(COALESCE(SUM(CASE WHEN status = 'sending' THEN n ELSE 0 END), 0) AS BIGINT) AS sending,
                CAST(COALESCE(SUM(CASE WHEN status = 'sent' THEN n ELSE 0 END), 0) AS BIGINT) AS sent,
                CAST(COALESCE(SUM(CASE WHEN status = 'failed' THEN n ELSE 0 END), 0) AS BIGINT) AS failed,
                CAST(COALESCE(SUM(CASE WHEN status = 'bounced' THEN n ELSE 0 END), 0) AS BIGINT) AS bounced,
                CAST(COALESCE(SUM(CASE WHEN status = 'skipped' THEN n ELSE 0 END), 0) AS BIGINT) AS skipped
             FROM (SELECT status, 1 AS n FROM deliveries WHERE campaign_id = $1
                   UNION ALL
                   -- the rows retention turned into totals (store::retention)
                   SELECT status, count AS n FROM delivery_totals WHERE campaign_id = $1) d",
        )
        .bind(campaign_id)
        .fetch_one(p)
        .await?
    }))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CampaignRow {
    pub name: String,
    pub kind: CampaignKind,
    pub status: CampaignStatus,
    pub topic: Option<String>,
    pub occasion: Option<String>,
    pub schedule: Option<String>,
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
    pub bounced: i64,
    pub replied: i64,
    pub status_reason: Option<String>,
}

/// Every campaign with its deliveries by status; `replied` counts as the funnel does
/// ([`super::report`]).
pub async fn list(db: &Db) -> Result<Vec<CampaignRow>> {
    let sql = format!(
        "SELECT k.name, k.kind, k.status, t.slug AS topic, o.slug AS occasion, k.schedule,
            COALESCE(SUM(CASE WHEN d.status IN ('queued', 'sending') THEN 1 ELSE 0 END), 0) AS queued,
            COALESCE(SUM(CASE WHEN d.status = 'sent' THEN 1 ELSE 0 END), 0)
              + COALESCE((SELECT CAST(SUM(x.count) AS BIGINT) FROM delivery_totals x WHERE x.campaign_id = k.id AND x.status = 'sent'), 0) AS sent,
            COALESCE(SUM(CASE WHEN d.status = 'failed' THEN 1 ELSE 0 END), 0)
              + COALESCE((SELECT CAST(SUM(x.count) AS BIGINT) FROM delivery_totals x WHERE x.campaign_id = k.id AND x.status = 'failed'), 0) AS failed,
            COALESCE(SUM(CASE WHEN d.status = 'bounced' THEN 1 ELSE 0 END), 0)
              + COALESCE((SELECT CAST(SUM(x.count) AS BIGINT) FROM delivery_totals x WHERE x.campaign_id = k.id AND x.status = 'bounced'), 0) AS bounced,
            {replied} AS replied,
            k.status_reason
         FROM campaigns k
         LEFT JOIN topics t ON t.id = k.topic_id
         LEFT JOIN occasions o ON o.id = k.occasion_id
         LEFT JOIN deliveries d ON d.campaign_id = k.id
         GROUP BY k.id, k.name, k.kind, k.status, t.slug, o.slug, k.schedule, k.status_reason
         ORDER BY k.id",
        replied = super::report::replied_to_campaign(),
    );
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, CampaignRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(p)
            .await?
    }))
}

/// Moves a campaign to `status` (with a reason people can read), only from one of `from`.
/// Returns whether it moved.
pub async fn transition(
    db: &Db,
    id: CampaignId,
    from: &[CampaignStatus],
    status: CampaignStatus,
    reason: Option<&str>,
) -> Result<bool> {
    let at = now();
    let list = from
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE campaigns SET status = $1, status_reason = $2, updated_at = $3, resume_at = NULL,
            started_at = CASE WHEN $1 = 'running' AND started_at IS NULL THEN $3 ELSE started_at END,
            finished_at = CASE WHEN $1 IN ('done', 'cancelled') THEN $3 ELSE finished_at END
         WHERE id = $4 AND status IN ({list})"
    );
    let n = on_db!(db, p => {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(status)
            .bind(reason)
            .bind(at)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected()
    });
    Ok(n > 0)
}

/// Pauses a running campaign that cannot proceed for now (temporary failures: the relay is away)
/// until `resume_at`, when [`resume_due`] lets it run again. Returns whether it paused.
pub async fn pause_until(
    db: &Db,
    id: CampaignId,
    reason: &str,
    resume_at: Timestamp,
) -> Result<bool> {
    let n = on_db!(db, p => {
        sqlx::query(
            "UPDATE campaigns SET status = 'paused', status_reason = $1, updated_at = $2, resume_at = $3
             WHERE id = $4 AND status = 'running'",
        )
        .bind(reason)
        .bind(now())
        .bind(resume_at)
        .bind(id)
        .execute(p)
        .await?
        .rows_affected()
    });
    Ok(n > 0)
}

/// Lets campaigns that paused themselves run again once their time has come. A campaign paused
/// by a person has no `resume_at` and stays paused. Returns the names.
pub async fn resume_due(db: &Db) -> Result<Vec<String>> {
    let at = now();
    Ok(on_db!(db, p => {
        sqlx::query_scalar(
            "UPDATE campaigns SET status = 'running', updated_at = $1, resume_at = NULL,
                status_reason = 'resumed by itself after: ' || COALESCE(status_reason, '')
             WHERE status = 'paused' AND resume_at IS NOT NULL AND resume_at <= $1
             RETURNING name",
        )
        .bind(at)
        .fetch_all(p)
        .await?
    }))
}

/// Marks running campaigns without open deliveries as done. Returns their names.
pub async fn finish_completed(db: &Db) -> Result<Vec<String>> {
    let at = now();
    Ok(on_db!(db, p => {
        sqlx::query_scalar(
            "UPDATE campaigns SET status = 'done', finished_at = $1, updated_at = $1
             WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM deliveries d
                WHERE d.campaign_id = campaigns.id AND d.status IN ('queued', 'sending'))
             RETURNING name",
        )
        .bind(at)
        .fetch_all(p)
        .await?
    }))
}

/// Records a schedule firing; false when this slot fired already (here or in another daemon).
pub async fn record_firing(db: &Db, schedule: &str, slot: Timestamp) -> Result<bool> {
    let n = on_db!(db, p => {
        sqlx::query(
            "INSERT INTO schedule_firings (schedule, slot, fired_at) VALUES ($1, $2, $3)
             ON CONFLICT (schedule, slot) DO NOTHING",
        )
        .bind(schedule)
        .bind(slot)
        .bind(now())
        .execute(p)
        .await?
        .rows_affected()
    });
    Ok(n > 0)
}

pub async fn last_firing(db: &Db, schedule: &str) -> Result<Option<Timestamp>> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar("SELECT MAX(slot) FROM schedule_firings WHERE schedule = $1")
            .bind(schedule)
            .fetch_one(p)
            .await?
    }))
}

pub async fn set_firing_campaign(
    db: &Db,
    schedule: &str,
    slot: Timestamp,
    campaign_id: CampaignId,
) -> Result<()> {
    on_db!(db, p => {
        sqlx::query("UPDATE schedule_firings SET campaign_id = $1 WHERE schedule = $2 AND slot = $3")
            .bind(campaign_id)
            .bind(schedule)
            .bind(slot)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// Gives a draft (or an already scheduled) campaign a one-shot start time. Returns whether the
/// campaign was in such a state.
pub async fn schedule_once(db: &Db, id: CampaignId, at: Timestamp) -> Result<bool> {
    let n = on_db!(db, p => {
        sqlx::query("UPDATE campaigns SET send_at = $1, status = 'scheduled', updated_at = $2 WHERE id = $3 AND status IN ('draft', 'scheduled')")
            .bind(at)
            .bind(now())
            .bind(id)
            .execute(p)
            .await?
            .rows_affected()
    });
    Ok(n > 0)
}
