//! Campaigns and their deliveries: the send queue.
//!
//! A campaign's audience is materialised once, in one INSERT ... SELECT, as delivery rows (one per
//! campaign and contact, unique). Senders claim rows in batches under a lease (PostgreSQL: `FOR
//! UPDATE SKIP LOCKED`, so several daemons share the queue), and settle them in batches.

use super::{now, Db, Result, StoreError, Timestamp};
use crate::domain::{CampaignId, ContactId, DeliveryId, OccasionId, TopicId};
use crate::{in_tx, on_db};
use serde::{Deserialize, Serialize};

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

/// Frequency caps applied to every audience.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub invitation_every_days: i64,
    pub max_messages_per_30_days: i64,
    pub silent_after_days: i64,
    /// Declined this many invitations in a row (0: never), a contact rests from activation
    /// campaigns for `rest_days` after the last of them.
    pub rest_after_declines: i64,
    pub rest_days: i64,
}

/// Materialises the audience of `c` as queued deliveries (idempotent: contacts already queued
/// for this campaign are left alone). Returns the number of rows added. New rows carry no
/// `message_id`: the sender derives it from the secret (`TokenKey::message_id`), which SQL
/// cannot compute; a row that has one (queued by an older version) keeps it.
pub async fn enqueue(db: &Db, c: &Campaign, caps: Caps) -> Result<u64> {
    let topic = c.topic_id.ok_or_else(|| {
        StoreError::Invalid(format!(
            "campaign {:?} has no topic: nobody's consent covers it",
            c.name
        ))
    })?;
    if let Some(at) = super::topics::by_id(db, topic).await?.archived_at {
        return Err(StoreError::Conflict(format!(
            "campaign {:?}: its topic was archived on {}; an archived topic gets no new sends",
            c.name,
            at.format("%Y-%m-%d")
        )));
    }
    let k = super::audience::conditions(db);
    let sql = format!(
        "INSERT INTO deliveries (campaign_id, contact_id, status, attempts, next_attempt_at, message_id, created_at)
         SELECT $1, c.id, 'queued', 0, $2, NULL, $2
         FROM contacts c
         WHERE {base} AND {consent} AND NOT {suppressed} AND {caps}
         ON CONFLICT (campaign_id, contact_id) DO NOTHING",
        base = k.base,
        consent = k.consent,
        suppressed = k.suppressed,
        caps = k.within_caps,
    );
    let at = now();
    let n = on_db!(db, p => {
        super::audience::bind_audience!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), c, caps, at)
            .execute(p)
            .await?
            .rows_affected()
    });
    if let Db::Postgres(p) = db {
        // The claim's plan depends on fresh statistics: right after an import PostgreSQL knows
        // of no subscriptions yet and checks each recipient's consent by scanning the topic's
        // whole index (1.8 ms per message at 30,000 recipients). A sampled ANALYZE costs
        // milliseconds once per campaign.
        sqlx::query("ANALYZE contacts, subscriptions, deliveries")
            .execute(p)
            .await?;
    }
    Ok(n)
}

/// A claimed delivery with what rendering needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: DeliveryId,
    pub campaign_id: CampaignId,
    pub contact_id: ContactId,
    pub attempts: i32,
    pub message_id: Option<String>,
    pub email: String,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub language: Option<String>,
    /// The contact's free attributes (JSON object text), for the form of address.
    pub attributes: String,
    /// Consent still confirmed and the address not suppressed, checked at claim time: an
    /// unsubscribe that arrived after the audience was built takes effect before the send.
    pub eligible: bool,
}

/// Claims up to `limit` due deliveries of running campaigns for `owner` until `lease_until`.
/// Rows whose lease ran out (a sender that died) are claimed again.
pub async fn claim(
    db: &Db,
    owner: &str,
    limit: i64,
    lease: chrono::Duration,
) -> Result<Vec<Claimed>> {
    let at = now();
    let lock = if db.is_postgres() {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let running: Vec<CampaignId> = on_db!(db, p => {
        sqlx::query_scalar("SELECT id FROM campaigns WHERE status = 'running' ORDER BY id")
            .fetch_all(p)
            .await?
    });
    // Each branch walks `deliveries_claim` (status, campaign_id, next_attempt_at) in order and
    // stops after `limit` rows: the cost of a claim does not grow with the queue. One OR over
    // both states with ORDER BY id made every claim sort all due rows (335 ms at 1M rows).
    let claim = |state: &str| {
        let due = if state == "sending" {
            "lease_until < $3"
        } else {
            "next_attempt_at <= $3 ORDER BY next_attempt_at"
        };
        // `= ANY(ARRAY(...))` on PostgreSQL: planned as primary-key lookups whatever the
        // statistics say (as `IN (...)` it hashed a sequential scan of the whole table).
        let (open, close) = if db.is_postgres() {
            ("= ANY(ARRAY(", "))")
        } else {
            ("IN (", ")")
        };
        format!(
            "UPDATE deliveries SET status = 'sending', lease_until = $1, lease_owner = $2, attempts = attempts + 1
             WHERE id {open}SELECT id FROM deliveries
                WHERE status = '{state}' AND campaign_id = $5 AND {due}
                LIMIT $4 {lock}{close}
             RETURNING id, campaign_id, contact_id, attempts, message_id"
        )
    };
    // Consent still confirmed and the address not suppressed, for contact `c` of campaign `k`;
    // for an occasion's own mail also the occasion not cancelled, a reminder's yes still
    // standing and a follow-up still unanswered (a retry may come hours after the queuing).
    const ELIGIBLE: &str = "(EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = c.id AND s.topic_id = k.topic_id AND s.status = 'confirmed')
        AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.address = c.email_key)
        AND (k.occasion_mail IS NULL OR NOT EXISTS (SELECT 1 FROM occasions o
            WHERE o.id = k.occasion_id AND o.cancelled_at IS NOT NULL))
        AND (k.occasion_mail IS NULL OR k.occasion_mail <> 'reminder' OR EXISTS (SELECT 1 FROM relations r
            WHERE r.contact_id = c.id AND r.occasion_id = k.occasion_id AND r.form = 'encounter' AND r.status = 'confirmed'))
        AND (k.occasion_mail IS NULL OR k.occasion_mail <> 'follow_up' OR NOT EXISTS (SELECT 1 FROM relations r
            WHERE r.contact_id = c.id AND r.occasion_id = k.occasion_id))) AS eligible";
    // PostgreSQL: the contact as a LATERAL subquery that cannot be flattened (OFFSET 0), i.e.
    // one primary-key lookup per claimed row. As a plain join, planned with fresh statistics,
    // it hashed the whole contacts table for every claim (docs/performance.md, Send).
    let pg_rows = format!(
        "SELECT d.id, d.campaign_id, d.contact_id, d.attempts, d.message_id,
                c.email, c.name, c.organisation, c.language, c.attributes, c.eligible
         FROM d JOIN campaigns k ON k.id = d.campaign_id
         CROSS JOIN LATERAL (SELECT c.email, c.name, c.organisation, c.language, c.attributes, {ELIGIBLE}
            FROM contacts c WHERE c.id = d.contact_id OFFSET 0) c"
    );
    let branches = [claim("sending"), claim("queued")];
    // PostgreSQL: the update and the read in one statement (no second round trip, and no
    // statement with an id list, which it would parse and plan anew for every batch size).
    // SQLite allows no UPDATE ... RETURNING inside a query: the ids first, then their rows.
    let mut rows: Vec<Claimed> = Vec::new();
    let mut ids: Vec<DeliveryId> = Vec::new();
    for campaign_id in running {
        for update in &branches {
            let left = limit - (rows.len() + ids.len()) as i64;
            if left <= 0 {
                break;
            }
            macro_rules! bound {
                ($q:expr) => {
                    $q.bind(at + lease)
                        .bind(owner)
                        .bind(at)
                        .bind(left)
                        .bind(campaign_id)
                };
            }
            match db {
                Db::Postgres(p) => {
                    let sql = format!("WITH d AS ({update}) {pg_rows}");
                    let q = sqlx::query_as::<_, Claimed>(sqlx::AssertSqlSafe(sql));
                    rows.extend(bound!(q).fetch_all(p).await?);
                }
                Db::Sqlite(p) => {
                    let q =
                        sqlx::query_scalar::<_, DeliveryId>(sqlx::AssertSqlSafe(update.as_str()));
                    ids.extend(bound!(q).fetch_all(p).await?);
                }
            }
        }
    }
    let p = match db {
        Db::Postgres(_) => {
            rows.sort_unstable_by_key(|r| r.id);
            return Ok(rows);
        }
        Db::Sqlite(_) if ids.is_empty() => return Ok(rows),
        Db::Sqlite(p) => p,
    };
    // What rendering needs, the ids as one JSON array: one prepared statement whatever the
    // batch size.
    let sql = format!(
        "SELECT d.id, d.campaign_id, d.contact_id, d.attempts, d.message_id,
                c.email, c.name, c.organisation, c.language, c.attributes, {ELIGIBLE}
         FROM deliveries d JOIN contacts c ON c.id = d.contact_id JOIN campaigns k ON k.id = d.campaign_id
         WHERE d.id IN (SELECT value FROM json_each($1)) ORDER BY d.id"
    );
    let ids = serde_json::to_string(&ids).expect("numbers serialise");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(p)
        .await?)
}

/// What happened to one delivery.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent,
    /// Will be tried again at the given time.
    Retry {
        at: Timestamp,
        error: String,
    },
    /// Temporary failures exhausted the attempts.
    Failed {
        error: String,
    },
    /// The server refused permanently: the address is suppressed.
    Bounced {
        error: String,
    },
    /// Consent withdrawn or address suppressed since the audience was built.
    Skipped {
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct Settle {
    /// Attempts made so far, this one included.
    pub attempts: i32,
    pub delivery_id: DeliveryId,
    pub campaign_id: CampaignId,
    pub contact_id: ContactId,
    pub email_key: String,
    pub outcome: Outcome,
}

/// Settles a batch in one transaction: sent rows with one UPDATE and one multi-row INSERT into the
/// timeline; the rarer failures row by row.
pub async fn settle(db: &Db, batch: &[Settle]) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let at = now();
    let sent: Vec<&Settle> = batch
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Sent))
        .collect();
    in_tx!(db, tx => {
        RecordSent::commit_without_flush(&mut **tx).await?;
        if !sent.is_empty() {
            RecordSent::record_sent(&mut **tx, at, &sent).await?;
        }
        for s in batch {
            let (status, next, error) = match &s.outcome {
                Outcome::Sent => continue,
                Outcome::Retry { at: next, error } => ("queued", Some(*next), error.as_str()),
                Outcome::Failed { error } => ("failed", None, error.as_str()),
                Outcome::Bounced { error } => ("bounced", None, error.as_str()),
                Outcome::Skipped { reason } => ("skipped", None, reason.as_str()),
            };
            sqlx::query(
                "UPDATE deliveries SET status = $1, next_attempt_at = COALESCE($2, next_attempt_at),
                    lease_until = NULL, last_error = $3 WHERE id = $4",
            )
            .bind(status)
            .bind(next)
            .bind(error)
            .bind(s.delivery_id)
            .execute(&mut **tx)
            .await?;
            if matches!(s.outcome, Outcome::Retry { .. }) {
                continue;
            }
            sqlx::query(
                "INSERT INTO activities (contact_id, at, kind, summary, detail, campaign_id, inbound_id)
                 VALUES ($1, $2, $3, '', $4, $5, NULL)",
            )
            .bind(s.contact_id)
            .bind(at)
            .bind(status)
            .bind(serde_json::json!({"delivery_id": s.delivery_id, "error": error}).to_string())
            .bind(s.campaign_id)
            .execute(&mut **tx)
            .await?;
            if matches!(s.outcome, Outcome::Bounced { .. }) {
                sqlx::query(
                    "INSERT INTO suppressions (address_hash, address, reason, note, created_at)
                     VALUES ($1, $2, 'hard_bounce', $3, $4) ON CONFLICT (address_hash) DO NOTHING",
                )
                .bind(crate::domain::key_hash(&s.email_key))
                .bind(&s.email_key)
                .bind(error)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            }
        }
    });
    Ok(())
}

/// The sent rows of a settle: the deliveries marked sent and one timeline entry each, in two
/// statements whatever the batch size.
trait RecordSent {
    /// Lets the commit return before the write-ahead log is on disk, where the database can.
    fn commit_without_flush(&mut self) -> impl std::future::Future<Output = Result<()>> + Send;

    fn record_sent(
        &mut self,
        at: Timestamp,
        sent: &[&Settle],
    ) -> impl std::future::Future<Output = Result<()>> + Send;
}

impl RecordSent for sqlx::SqliteConnection {
    async fn commit_without_flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// Rows as one JSON array each: the same two prepared statements for every batch (a list of
    /// binds is a new statement, prepared anew, for every batch size; binding 1,800 values
    /// one by one was a quarter of the SQLite thread's time).
    async fn record_sent(&mut self, at: Timestamp, sent: &[&Settle]) -> Result<()> {
        let ids = serde_json::to_string(&sent.iter().map(|s| s.delivery_id).collect::<Vec<_>>())
            .expect("numbers serialise");
        sqlx::query(
            "UPDATE deliveries SET status = 'sent', lease_until = NULL, last_error = NULL, sent_at = $1
             WHERE id IN (SELECT value FROM json_each($2))",
        )
        .bind(at)
        .bind(&ids)
        .execute(&mut *self)
        .await?;
        let rows = serde_json::to_string(
            &sent
                .iter()
                .map(|s| (s.contact_id, sent_detail(s.delivery_id), s.campaign_id))
                .collect::<Vec<_>>(),
        )
        .expect("rows serialise");
        sqlx::query(
            "INSERT INTO activities (contact_id, at, kind, summary, detail, campaign_id, inbound_id)
             SELECT j.value ->> 0, $1, 'sent', '', j.value ->> 1, j.value ->> 2, NULL
             FROM json_each($2) j",
        )
        .bind(at)
        .bind(&rows)
        .execute(&mut *self)
        .await?;
        Ok(())
    }
}

impl RecordSent for sqlx::PgConnection {
    /// On PostgreSQL each sender waits for the commit of its results before its next message
    /// (what another daemon would send again after a crash is what is not recorded). An
    /// asynchronous commit is visible to every other connection at once and lost only if the
    /// database server itself crashes within a moment of it: those deliveries return to their
    /// lease and are sent again, none is lost and the timeline stays in step with them.
    async fn commit_without_flush(&mut self) -> Result<()> {
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    /// Rows as arrays: the same two prepared statements for every batch (a list of binds is a
    /// new statement, parsed and planned anew, for every batch size).
    async fn record_sent(&mut self, at: Timestamp, sent: &[&Settle]) -> Result<()> {
        let ids: Vec<i64> = sent.iter().map(|s| s.delivery_id.get()).collect();
        sqlx::query(
            "UPDATE deliveries SET status = 'sent', lease_until = NULL, last_error = NULL, sent_at = $1
             WHERE id = ANY($2)",
        )
        .bind(at)
        .bind(&ids)
        .execute(&mut *self)
        .await?;
        sqlx::query(
            "INSERT INTO activities (contact_id, at, kind, summary, detail, campaign_id, inbound_id)
             SELECT u.contact_id, $1, 'sent', '', u.detail, u.campaign_id, NULL
             FROM unnest($2::bigint[], $3::text[], $4::bigint[]) AS u(contact_id, detail, campaign_id)",
        )
        .bind(at)
        .bind(sent.iter().map(|s| s.contact_id.get()).collect::<Vec<i64>>())
        .bind(sent.iter().map(|s| sent_detail(s.delivery_id)).collect::<Vec<String>>())
        .bind(sent.iter().map(|s| s.campaign_id.get()).collect::<Vec<i64>>())
        .execute(&mut *self)
        .await?;
        Ok(())
    }
}

fn sent_detail(delivery_id: DeliveryId) -> String {
    serde_json::json!({ "delivery_id": delivery_id }).to_string()
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

/// A delivery being sent.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Held {
    pub id: DeliveryId,
    pub campaign_id: CampaignId,
    pub contact_id: ContactId,
    pub attempts: i32,
}

/// Marks the campaign's queued deliveries as skipped because it was cancelled.
pub async fn skip_queued(db: &Db, campaign_id: CampaignId) -> Result<()> {
    on_db!(db, p => {
        sqlx::query("UPDATE deliveries SET status = 'skipped', last_error = 'campaign cancelled' WHERE campaign_id = $1 AND status = 'queued'")
            .bind(campaign_id)
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
