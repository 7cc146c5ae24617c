//! Contacts: the people and organisations of the network, with consent per topic.

use super::activities::{Activity, NewActivity};
use super::relations::Relation;
use super::{now, Db, Result, StoreError, Timestamp};
use crate::domain::{ConsentStatus, EmailAddress, RelationForm, SuppressionReason};
use crate::{in_tx, on_db, record_activity};
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Contact {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub language: Option<String>,
    pub attributes: String,
    pub source: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_activity_at: Option<Timestamp>,
    pub last_reply_at: Option<Timestamp>,
}

const COLUMNS: &str = "c.id, c.email, c.name, c.organisation, c.language, c.attributes, c.source, \
                       c.created_at, c.updated_at, c.last_activity_at, c.last_reply_at";

/// The one definition of a silent contact, as an SQL condition on `c` (contacts): confirmed
/// consent for at least one topic (the given one, when `topic` is not NULL), no active encounter,
/// cooperation or group relation, no reply since `cutoff`, and not suppressed.
/// The arguments are the placeholders that hold the topic id (or NULL), now, and the cutoff.
pub fn silent_condition(topic: &str, now: &str, cutoff: &str) -> String {
    format!(
        "(EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = c.id AND s.status = 'confirmed'
                  AND ({topic} IS NULL OR s.topic_id = {topic}))
          AND NOT EXISTS (SELECT 1 FROM relations r WHERE r.contact_id = c.id
                  AND r.status IN ('interested', 'confirmed') AND (r.until IS NULL OR r.until > {now}))
          AND (c.last_reply_at IS NULL OR c.last_reply_at < {cutoff})
          AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.address = c.email_key))"
    )
}

#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub topic_id: Option<i64>,
    pub form: Option<RelationForm>,
    pub silent: bool,
    /// Days without a reply that make a contact silent.
    pub silent_after_days: i64,
    pub limit: Option<i64>,
    pub offset: i64,
}

pub async fn list(db: &Db, f: &ContactFilter) -> Result<Vec<Contact>> {
    let at = now();
    let cutoff = at - chrono::Duration::days(f.silent_after_days.max(1));
    let sql = format!(
        "SELECT {COLUMNS} FROM contacts c
         WHERE ($1 IS NULL OR EXISTS (SELECT 1 FROM subscriptions s0 WHERE s0.contact_id = c.id
                    AND s0.topic_id = $1 AND s0.status <> 'unsubscribed'))
           AND ($2 IS NULL OR EXISTS (SELECT 1 FROM relations r0 WHERE r0.contact_id = c.id
                    AND r0.form = $2 AND r0.status IN ('interested', 'confirmed')))
           AND ($3 = 0 OR {silent})
         ORDER BY c.id LIMIT $6 OFFSET $7",
        silent = silent_condition("$1", "$4", "$5")
    );
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(f.topic_id)
            .bind(f.form.map(|x| x.as_str()))
            .bind(i64::from(f.silent))
            .bind(at)
            .bind(cutoff)
            .bind(f.limit.unwrap_or(i64::MAX))
            .bind(f.offset)
            .fetch_all(p)
            .await?
    }))
}

pub async fn find(db: &Db, email: &EmailAddress) -> Result<Option<Contact>> {
    let sql = format!("SELECT {COLUMNS} FROM contacts c WHERE c.email_key = $1");
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql.as_str())).bind(email.key()).fetch_optional(p).await?
    }))
}

pub async fn get(db: &Db, email: &str) -> Result<Contact> {
    let addr = EmailAddress::parse(email)
        .map_err(|e| StoreError::Invalid(format!("{email:?} is not an address: {e}")))?;
    find(db, &addr)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no contact {addr}")))
}

pub async fn by_id(db: &Db, id: i64) -> Result<Contact> {
    let sql = format!("SELECT {COLUMNS} FROM contacts c WHERE c.id = $1");
    let c = on_db!(db, p => sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await?);
    c.ok_or_else(|| StoreError::NotFound(format!("no contact with id {id}")))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SubscriptionRow {
    pub topic: String,
    pub topic_id: i64,
    pub status: String,
    pub method: String,
    pub evidence: Option<String>,
    pub changed_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContactDetail {
    pub contact: Contact,
    pub subscriptions: Vec<SubscriptionRow>,
    pub relations: Vec<Relation>,
    pub timeline: Vec<Activity>,
    pub silent: bool,
    pub suppressed: bool,
}

pub async fn subscriptions(db: &Db, contact_id: i64) -> Result<Vec<SubscriptionRow>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, SubscriptionRow>(
            "SELECT t.slug AS topic, s.topic_id, s.status, s.method, s.evidence, s.changed_at
             FROM subscriptions s JOIN topics t ON t.id = s.topic_id
             WHERE s.contact_id = $1 ORDER BY t.slug",
        )
        .bind(contact_id)
        .fetch_all(p)
        .await?
    }))
}

pub async fn detail(db: &Db, email: &str, silent_after_days: i64) -> Result<ContactDetail> {
    let contact = get(db, email).await?;
    let subscriptions = subscriptions(db, contact.id).await?;
    let relations = super::relations::for_contact(db, contact.id).await?;
    let timeline = on_db!(db, p => {
        sqlx::query_as::<_, Activity>(
            "SELECT id, at, kind, summary, detail, campaign_id, inbound_id FROM activities
             WHERE contact_id = $1 ORDER BY at, id",
        )
        .bind(contact.id)
        .fetch_all(p)
        .await?
    });
    let silent = is_silent(db, contact.id, silent_after_days).await?;
    let suppressed = super::suppressions::is_suppressed(db, &contact.email.to_lowercase()).await?;
    Ok(ContactDetail {
        contact,
        subscriptions,
        relations,
        timeline,
        silent,
        suppressed,
    })
}

pub async fn is_silent(db: &Db, contact_id: i64, silent_after_days: i64) -> Result<bool> {
    let at = now();
    let sql = format!(
        "SELECT COUNT(*) FROM contacts c WHERE c.id = $1 AND {}",
        silent_condition("$2", "$3", "$4")
    );
    let n: i64 = on_db!(db, p => {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(contact_id)
            .bind(None::<i64>)
            .bind(at)
            .bind(at - chrono::Duration::days(silent_after_days))
            .fetch_one(p)
            .await?
    });
    Ok(n > 0)
}

/// Erasure (GDPR Art. 17): the contact, its consent, relations and timeline are deleted; the
/// address survives only as a hash in suppressions, so no later import brings it back.
pub async fn forget(db: &Db, email: &str) -> Result<()> {
    let addr = EmailAddress::parse(email)
        .map_err(|e| StoreError::Invalid(format!("{email:?} is not an address: {e}")))?;
    let key = addr.key();
    let hash = addr.key_hash();
    let at = now();
    in_tx!(db, tx => {
        sqlx::query(
            "INSERT INTO suppressions (address_hash, address, reason, note, created_at)
             VALUES ($1, NULL, $2, NULL, $3)
             ON CONFLICT (address_hash) DO UPDATE SET address = NULL, reason = excluded.reason, note = NULL",
        )
        .bind(&hash)
        .bind(SuppressionReason::Forgotten.as_str())
        .bind(at)
        .execute(&mut **tx)
        .await?;
        for sql in crate::store::FORGET_STATEMENTS {
            sqlx::query(*sql).bind(&key).execute(&mut **tx).await?;
        }
    });
    Ok(())
}

/// A row as the importer hands it over: parsed and checked, ready to land.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub email: EmailAddress,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub language: Option<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub topics: Vec<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchOutcome {
    pub created: usize,
    pub updated: usize,
}

/// Lands a batch of rows in one transaction with a handful of statements (never one round trip
/// per row): existing contacts are updated (non-empty fields win, attributes merge), consent is
/// raised from pending to confirmed but never revived after an unsubscribe.
pub async fn import_batch(
    db: &Db,
    rows: &[ImportRow],
    consent: ConsentStatus,
    source: &str,
) -> Result<BatchOutcome> {
    if rows.is_empty() {
        return Ok(BatchOutcome::default());
    }
    let at = now();
    let keys: Vec<String> = rows.iter().map(|r| r.email.key()).collect();
    let outcome = in_tx!(db, tx => {
        // Existing attributes, to merge in Rust (the JSON functions of the two engines differ).
        let mut qb = sqlx::QueryBuilder::new("SELECT email_key, attributes FROM contacts WHERE email_key IN (");
        let mut sep = qb.separated(", ");
        for k in &keys {
            sep.push_bind(k);
        }
        qb.push(")");
        let existing: HashMap<String, String> = qb
            .build_query_as::<(String, String)>()
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();

        let mut qb = sqlx::QueryBuilder::new(
            "INSERT INTO contacts (email, email_key, name, organisation, language, attributes, source, created_at, updated_at) ",
        );
        qb.push_values(rows.iter().zip(&keys), |mut b, (r, key)| {
            let mut attrs = existing
                .get(key)
                .and_then(|s| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(s).ok())
                .unwrap_or_default();
            attrs.extend(r.attributes.clone());
            b.push_bind(r.email.to_string())
                .push_bind(key)
                .push_bind(r.name.clone())
                .push_bind(r.organisation.clone())
                .push_bind(r.language.clone())
                .push_bind(serde_json::Value::Object(attrs).to_string())
                .push_bind(source)
                .push_bind(at)
                .push_bind(at);
        });
        qb.push(
            " ON CONFLICT (email_key) DO UPDATE SET
                name = COALESCE(excluded.name, contacts.name),
                organisation = COALESCE(excluded.organisation, contacts.organisation),
                language = COALESCE(excluded.language, contacts.language),
                attributes = excluded.attributes,
                updated_at = excluded.updated_at
              RETURNING id, email_key",
        );
        let ids: HashMap<String, i64> = qb
            .build_query_as::<(i64, String)>()
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(|(id, k)| (k, id))
            .collect();

        let subs: Vec<(i64, i64)> = rows
            .iter()
            .zip(&keys)
            .flat_map(|(r, k)| { let id = ids[k]; r.topics.iter().map(move |t| (id, *t)) })
            .collect();
        for chunk in subs.chunks(1000) {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO subscriptions (contact_id, topic_id, status, method, evidence, changed_at, created_at) ",
            );
            qb.push_values(chunk, |mut b, (c, t)| {
                b.push_bind(*c)
                    .push_bind(*t)
                    .push_bind(consent.as_str())
                    .push_bind("import")
                    .push_bind(source)
                    .push_bind(at)
                    .push_bind(at);
            });
            qb.push(
                " ON CONFLICT (contact_id, topic_id) DO UPDATE SET status = excluded.status,
                    method = excluded.method, evidence = excluded.evidence, changed_at = excluded.changed_at
                  WHERE subscriptions.status = 'pending' AND excluded.status = 'confirmed'",
            );
            qb.build().execute(&mut **tx).await?;
        }

        let mut qb = sqlx::QueryBuilder::new(
            "INSERT INTO activities (contact_id, at, kind, summary, detail, campaign_id, inbound_id) ",
        );
        qb.push_values(rows.iter().zip(&keys), |mut b, (r, k)| {
            let new = !existing.contains_key(k);
            let summary = if new { format!("importiert / imported from {source}") } else { format!("aktualisiert / updated from {source}") };
            b.push_bind(ids[k])
                .push_bind(at)
                .push_bind("import")
                .push_bind(summary)
                .push_bind(serde_json::json!({"source": source, "topics": r.topics, "consent": consent.as_str()}).to_string())
                .push_bind(None::<i64>)
                .push_bind(None::<i64>);
        });
        qb.build().execute(&mut **tx).await?;
        let mut qb = sqlx::QueryBuilder::new("UPDATE contacts SET last_activity_at = ");
        qb.push_bind(at).push(" WHERE email_key IN (");
        let mut sep = qb.separated(", ");
        for k in &keys {
            sep.push_bind(k);
        }
        qb.push(")");
        qb.build().execute(&mut **tx).await?;

        let updated = keys.iter().filter(|k| existing.contains_key(*k)).count();
        BatchOutcome { created: keys.len() - updated, updated }
    });
    Ok(outcome)
}

/// Sets consent for one topic, with evidence, and records it. Used by replies, links and admins.
#[allow(clippy::too_many_arguments)]
pub async fn set_consent(
    db: &Db,
    contact_id: i64,
    topic_id: i64,
    status: ConsentStatus,
    method: &str,
    evidence: Option<&str>,
    inbound_id: Option<i64>,
    campaign_id: Option<i64>,
) -> Result<()> {
    let at = now();
    in_tx!(db, tx => {
        sqlx::query(
            "INSERT INTO subscriptions (contact_id, topic_id, status, method, evidence, changed_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (contact_id, topic_id) DO UPDATE SET status = excluded.status,
                method = excluded.method, evidence = excluded.evidence, changed_at = excluded.changed_at",
        )
        .bind(contact_id)
        .bind(topic_id)
        .bind(status.as_str())
        .bind(method)
        .bind(evidence)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        record_activity!(tx, &NewActivity {
            contact_id,
            at,
            kind: "consent",
            summary: format!("Einwilligung / consent: {status}"),
            detail: serde_json::json!({"topic_id": topic_id, "status": status.as_str(), "method": method, "evidence": evidence}),
            campaign_id,
            inbound_id,
        });
    });
    Ok(())
}

/// Adds or updates one contact (API, public forms, tests).
pub async fn upsert_one(
    db: &Db,
    row: &ImportRow,
    consent: ConsentStatus,
    source: &str,
) -> Result<Contact> {
    import_batch(db, std::slice::from_ref(row), consent, source).await?;
    find(db, &row.email)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("contact {} vanished", row.email)))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ExportRow {
    pub email: String,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub language: Option<String>,
    pub topics: Option<String>,
    pub attributes: String,
    pub source: Option<String>,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct ExportBase {
    id: i64,
    email: String,
    name: Option<String>,
    organisation: Option<String>,
    language: Option<String>,
    attributes: String,
    source: Option<String>,
    created_at: Timestamp,
}

/// Every contact with its confirmed topics, for `contacts export` (re-importable).
pub async fn export(db: &Db) -> Result<Vec<ExportRow>> {
    let rows: Vec<ExportBase> = on_db!(db, p => {
        sqlx::query_as::<_, ExportBase>(
            "SELECT id, email, name, organisation, language, attributes, source, created_at FROM contacts ORDER BY id",
        )
        .fetch_all(p)
        .await?
    });
    let subs: Vec<(i64, String)> = on_db!(db, p => {
        sqlx::query_as(
            "SELECT s.contact_id, t.slug FROM subscriptions s JOIN topics t ON t.id = s.topic_id
             WHERE s.status = 'confirmed' ORDER BY t.slug",
        )
        .fetch_all(p)
        .await?
    });
    let mut topics: HashMap<i64, Vec<String>> = HashMap::new();
    for (c, t) in subs {
        topics.entry(c).or_default().push(t);
    }
    Ok(rows
        .into_iter()
        .map(|r| ExportRow {
            topics: topics.remove(&r.id).map(|v| v.join(",")),
            email: r.email,
            name: r.name,
            organisation: r.organisation,
            language: r.language,
            attributes: r.attributes,
            source: r.source,
            created_at: r.created_at,
        })
        .collect())
}

pub async fn count(db: &Db) -> Result<i64> {
    Ok(on_db!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM contacts").fetch_one(p).await?))
}
