//! A campaign's deliveries: the send queue.
//!
//! A campaign's audience is materialised once, in one INSERT ... SELECT, as delivery rows (one per
//! campaign and contact, unique). Senders claim rows in batches under a lease (PostgreSQL: `FOR
//! UPDATE SKIP LOCKED`, so several daemons share the queue), and settle them in batches.

use super::Campaign;
use crate::domain::{CampaignId, ContactId, DeliveryId};
use crate::store::{now, Db, Result, StoreError, Timestamp};
use crate::{in_tx, on_db};

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
    if let Some(at) = crate::store::topics::by_id(db, topic).await?.archived_at {
        return Err(StoreError::Conflict(format!(
            "campaign {:?}: its topic was archived on {}; an archived topic gets no new sends",
            c.name,
            at.format("%Y-%m-%d")
        )));
    }
    let k = crate::store::audience::conditions(db);
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
        crate::store::audience::bind_audience!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), c, caps, at)
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
