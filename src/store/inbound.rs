//! Inbound messages as spooled: raw bytes first, then the analysis and the processing state.
//! Several daemons may share the database: a message is claimed with a lease before it is
//! processed.

use super::{now, Db, Result, StoreError, Timestamp};
use crate::classify::{Intent, MessageKind};
use crate::domain::{CampaignId, ContactId, InboundId, OccasionId, TopicId};
use crate::on_db;
use serde::Serialize;

crate::domain::text_enum!(
    /// Where an inbound message stands.
    pub InboundStatus {
        New => "new",
        /// Claimed by a daemon under a lease.
        Processing => "processing",
        Processed => "processed",
        /// Could not be processed: kept for a person (`inbound retry` releases it).
        Quarantined => "quarantined",
    }
);

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct InboundRow {
    pub id: InboundId,
    pub source: String,
    pub received_at: Timestamp,
    pub status: InboundStatus,
    pub error: Option<String>,
    pub kind: Option<MessageKind>,
    pub intent: Option<Intent>,
    pub confidence: Option<f32>,
    pub from_addr: Option<String>,
    pub subject: Option<String>,
    pub contact_id: Option<ContactId>,
    pub campaign_id: Option<CampaignId>,
    pub attribution: Option<String>,
}

/// Stores the raw bytes under `key` unless a message with that key is stored already. Returns
/// the message's id and whether it was there before.
pub async fn spool(db: &Db, key: &str, raw: &[u8], source: &str) -> Result<(InboundId, bool)> {
    let id: Option<InboundId> = on_db!(db, p => {
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
    let id: InboundId = on_db!(db, p => {
        sqlx::query_scalar("SELECT id FROM inbound_messages WHERE dedup_key = $1")
            .bind(key)
            .fetch_one(p)
            .await?
    });
    Ok((id, true))
}

/// Claims message `id` for processing until `lease_until` when it is new or its earlier
/// claim ran out; returns its raw bytes, or None when it is not to be taken.
pub async fn claim(db: &Db, id: InboundId, lease_until: Timestamp) -> Result<Option<Vec<u8>>> {
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

pub async fn mark_processed(db: &Db, id: InboundId) -> Result<()> {
    on_db!(db, p => {
        sqlx::query("UPDATE inbound_messages SET status = 'processed', error = NULL, processed_at = $1, lease_until = NULL WHERE id = $2")
            .bind(now())
            .bind(id)
            .execute(p)
            .await?;
    });
    Ok(())
}

pub async fn quarantine(db: &Db, id: InboundId, error: &str) -> Result<()> {
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
    pub kind: MessageKind,
    pub intent: Intent,
    pub confidence: f32,
    pub language: &'a str,
    pub visible_text: &'a str,
    pub from_addr: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub contact_id: Option<ContactId>,
    pub campaign_id: Option<CampaignId>,
    pub attribution: &'a str,
}

pub async fn record_analysis(db: &Db, id: InboundId, a: &Analysed<'_>) -> Result<()> {
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
pub async fn pending_ids(db: &Db) -> Result<Vec<InboundId>> {
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
pub async fn release(db: &Db, id: InboundId) -> Result<bool> {
    let n = on_db!(db, p => {
        sqlx::query("UPDATE inbound_messages SET status = 'new' WHERE id = $1 AND status = 'quarantined'")
            .bind(id)
            .execute(p)
            .await?
            .rows_affected()
    });
    Ok(n > 0)
}

pub async fn list(db: &Db, status: Option<InboundStatus>, limit: i64) -> Result<Vec<InboundRow>> {
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
pub async fn raw(db: &Db, id: InboundId) -> Result<Vec<u8>> {
    let raw: Option<Vec<u8>> = on_db!(db, p => {
        sqlx::query_scalar("SELECT raw FROM inbound_messages WHERE id = $1")
            .bind(id)
            .fetch_optional(p)
            .await?
    });
    raw.ok_or_else(|| StoreError::NotFound(format!("no inbound message {id}")))
}

// ----- lookups for attribution -----

/// The address of contact `id`, if it exists.
pub async fn contact_email(db: &Db, id: ContactId) -> Result<Option<String>> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar("SELECT email FROM contacts WHERE id = $1").bind(id).fetch_optional(p).await?
    }))
}

/// Id and address of the contact whose lower-cased address is `key`.
pub async fn contact_by_key(db: &Db, key: &str) -> Result<Option<(ContactId, String)>> {
    Ok(on_db!(db, p => {
        sqlx::query_as("SELECT id, email FROM contacts WHERE email_key = $1")
            .bind(key)
            .fetch_optional(p)
            .await?
    }))
}

/// Id, address and key of each contact among `keys` (lower-cased addresses), 500 per query.
pub async fn contacts_by_keys(db: &Db, keys: &[&str]) -> Result<Vec<(ContactId, String, String)>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(500) {
        let rows: Vec<(ContactId, String, String)> = on_db!(db, p => {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT id, email, email_key FROM contacts WHERE email_key IN (",
            );
            let mut sep = qb.separated(", ");
            for k in chunk {
                sep.push_bind(*k);
            }
            qb.push(")");
            qb.build_query_as().fetch_all(p).await?
        });
        out.extend(rows);
    }
    Ok(out)
}

/// Whether campaign `campaign` was sent to contact `contact`.
pub async fn was_sent(db: &Db, campaign: CampaignId, contact: ContactId) -> Result<bool> {
    let n: i64 = on_db!(db, p => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries WHERE campaign_id = $1 AND contact_id = $2
             AND status = 'sent'",
        )
        .bind(campaign)
        .bind(contact)
        .fetch_one(p)
        .await?
    });
    Ok(n > 0)
}

/// The topic and occasion of campaign `id`; None when there is no such campaign.
pub async fn campaign_target(
    db: &Db,
    id: CampaignId,
) -> Result<Option<(Option<TopicId>, Option<OccasionId>)>> {
    Ok(on_db!(db, p => {
        sqlx::query_as("SELECT topic_id, occasion_id FROM campaigns WHERE id = $1")
            .bind(id)
            .fetch_optional(p)
            .await?
    }))
}

// ----- landing a chunk -----

/// One message of a chunk as it lands (see [`land`]).
pub struct Landing<'a> {
    pub key: &'a str,
    pub raw: &'a [u8],
    /// `Quarantined`, `Processed` or `Processing` (finished after the commit).
    pub status: InboundStatus,
    pub error: Option<&'a str>,
    pub processed_at: Option<Timestamp>,
    pub lease_until: Option<Timestamp>,
    pub analysed: Option<Analysed<'a>>,
    /// Decisions recorded with it (their `inbound_id` is the landed message's).
    pub decisions: Vec<super::decisions::NewDecision<'a>>,
    /// Its entry on the contact's timeline.
    pub timeline: Option<TimelineEntry>,
}

/// A landed message on its contact's timeline; `detail` gets the message's id as `inbound_id`.
pub struct TimelineEntry {
    pub contact_id: ContactId,
    pub kind: super::activities::ActivityKind,
    pub detail: serde_json::Value,
    pub campaign_id: Option<CampaignId>,
    /// A reply proven to come from the contact: sets `last_reply_at`.
    pub proven_reply: bool,
}

/// Lands a chunk in one transaction: one multi-row INSERT of the messages (raw bytes with the
/// analysis; `ON CONFLICT DO NOTHING` makes the insert the claim, so exactly one daemon has each
/// message), their decisions and timeline entries. Returns the ids of the messages inserted by
/// this call, by key (a key missing was stored before). `rows` should be sorted by key: one
/// order for every daemon, so concurrent chunks on PostgreSQL wait instead of deadlocking.
pub async fn land(
    db: &Db,
    source: &str,
    at: Timestamp,
    rows: &[Landing<'_>],
) -> Result<std::collections::HashMap<String, InboundId>> {
    use std::collections::HashMap;
    let mut tx = db.begin().await?;
    let mut ids: HashMap<String, InboundId> = HashMap::with_capacity(rows.len());
    super::on_tx!(&mut tx, c => {
        let mut qb = sqlx::QueryBuilder::new(
            "INSERT INTO inbound_messages (dedup_key, raw, source, received_at, status, error,
                kind, intent, confidence, language, visible_text, from_addr, subject, contact_id,
                campaign_id, attribution, processed_at, lease_until) ",
        );
        qb.push_values(rows, |mut b, r| {
            let a = r.analysed.as_ref();
            b.push_bind(r.key)
                .push_bind(r.raw)
                .push_bind(source)
                .push_bind(at)
                .push_bind(r.status)
                .push_bind(r.error)
                .push_bind(a.map(|a| a.kind))
                .push_bind(a.map(|a| a.intent))
                .push_bind(a.map(|a| a.confidence))
                .push_bind(a.map(|a| a.language))
                .push_bind(a.map(|a| a.visible_text))
                .push_bind(a.and_then(|a| a.from_addr))
                .push_bind(a.and_then(|a| a.subject))
                .push_bind(a.and_then(|a| a.contact_id))
                .push_bind(a.and_then(|a| a.campaign_id))
                .push_bind(a.map(|a| a.attribution))
                .push_bind(r.processed_at)
                .push_bind(r.lease_until);
        });
        qb.push(" ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key");
        for (id, key) in qb.build_query_as::<(InboundId, String)>().fetch_all(&mut *c).await? {
            ids.insert(key, id);
        }

        let decisions: Vec<(InboundId, &super::decisions::NewDecision<'_>)> = rows
            .iter()
            .filter_map(|r| Some((*ids.get(r.key)?, r)))
            .flat_map(|(id, r)| r.decisions.iter().map(move |d| (id, d)))
            .collect();
        for chunk in decisions.chunks(1000) {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO decisions (inbound_id, contact_id, campaign_id, action, status,
                    confidence, reason, plan, created_at) ",
            );
            qb.push_values(chunk, |mut b, (id, d)| {
                b.push_bind(*id)
                    .push_bind(d.contact_id)
                    .push_bind(d.campaign_id)
                    .push_bind(d.action)
                    .push_bind(d.status)
                    .push_bind(d.confidence)
                    .push_bind(d.reason)
                    .push_bind(d.plan.as_str())
                    .push_bind(at);
            });
            qb.build().execute(&mut *c).await?;
        }

        let timeline: Vec<(InboundId, &TimelineEntry)> = rows
            .iter()
            .filter_map(|r| Some((*ids.get(r.key)?, r.timeline.as_ref()?)))
            .collect();
        for chunk in timeline.chunks(1000) {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO activities (contact_id, at, kind, summary, detail, campaign_id, inbound_id) ",
            );
            qb.push_values(chunk, |mut b, (id, e)| {
                let mut detail = e.detail.clone();
                if let Some(o) = detail.as_object_mut() {
                    o.insert("inbound_id".into(), id.get().into());
                }
                b.push_bind(e.contact_id)
                    .push_bind(at)
                    .push_bind(e.kind)
                    .push_bind("")
                    .push_bind(detail.to_string())
                    .push_bind(e.campaign_id)
                    .push_bind(Some(*id));
            });
            qb.build().execute(&mut *c).await?;
            for (column, proven_only) in [("last_activity_at", false), ("last_reply_at", true)] {
                let contacts: Vec<i64> = chunk
                    .iter()
                    .filter(|(_, e)| !proven_only || e.proven_reply)
                    .map(|(_, e)| e.contact_id.get())
                    .collect();
                if contacts.is_empty() {
                    continue;
                }
                let mut qb = sqlx::QueryBuilder::new(format!("UPDATE contacts SET {column} = "));
                qb.push_bind(at).push(" WHERE id IN (");
                let mut sep = qb.separated(", ");
                for id in contacts {
                    sep.push_bind(id);
                }
                qb.push(")");
                qb.build().execute(&mut *c).await?;
            }
        }
    });
    tx.commit().await?;
    Ok(ids)
}

/// The ids of the stored messages among `keys`, by key, 500 per query.
pub async fn ids_by_keys(
    db: &Db,
    keys: &[&str],
) -> Result<std::collections::HashMap<String, InboundId>> {
    let mut out = std::collections::HashMap::new();
    for chunk in keys.chunks(500) {
        let found: Vec<(InboundId, String)> = on_db!(db, p => {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT id, dedup_key FROM inbound_messages WHERE dedup_key IN (",
            );
            let mut sep = qb.separated(", ");
            for k in chunk {
                sep.push_bind(*k);
            }
            qb.push(")");
            qb.build_query_as().fetch_all(p).await?
        });
        out.extend(found.into_iter().map(|(id, k)| (k, id)));
    }
    Ok(out)
}

/// A message the contact sent, as the person's own data shows it: when, what about, their
/// visible words and how it was read (never the raw bytes).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PersonsMessage {
    pub received_at: Timestamp,
    pub subject: Option<String>,
    pub visible_text: Option<String>,
    pub kind: Option<MessageKind>,
    pub intent: Option<Intent>,
}

/// The messages attributed to `contact`, oldest first.
pub async fn for_contact(db: &Db, contact: ContactId) -> Result<Vec<PersonsMessage>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, PersonsMessage>(
            "SELECT received_at, subject, visible_text, kind, intent FROM inbound_messages
             WHERE contact_id = $1 ORDER BY received_at, id",
        )
        .bind(contact)
        .fetch_all(p)
        .await?
    }))
}
