//! Consent rows (`subscriptions`): written with their evidence and timeline entry, read inside
//! the deciding transaction, and the renewal requests (re-permission) on them.

use super::activities::{ActivityKind, NewActivity};
use super::{now, on_tx, Db, Result, Timestamp, Tx};
use crate::domain::{CampaignId, ConsentStatus, ContactId, InboundId, TopicId};
use crate::on_db;

/// Where a consent change came from, as stored beside it (`subscriptions.method`,
/// `.evidence`) and on the timeline.
#[derive(Debug, Clone, Copy)]
pub struct ConsentEvidence<'a> {
    pub method: &'a str,
    pub evidence: Option<&'a str>,
    pub inbound_id: Option<InboundId>,
    pub campaign_id: Option<CampaignId>,
    /// What the person consented to: the consent text they saw and the privacy notice's
    /// version. `None` keeps what the consent has (a confirmation keeps the sign-up's text).
    pub consent_text: Option<&'a str>,
    pub notice_version: Option<&'a str>,
}

/// Sets consent for one topic, with its evidence, and records it on the timeline, within the
/// caller's transaction. Any change answers a renewal request (`renewal_asked_at` cleared). The
/// timeline entry keeps the consent text and notice version the consent has after the change.
pub async fn set_consent(
    tx: &mut Tx,
    contact_id: ContactId,
    topic_id: TopicId,
    status: ConsentStatus,
    e: &ConsentEvidence<'_>,
) -> Result<()> {
    let at = now();
    let (text, version): (Option<String>, Option<String>) = on_tx!(tx, c => {
        sqlx::query_as(
            "INSERT INTO subscriptions (contact_id, topic_id, status, method, evidence, changed_at, created_at,
                consent_text, notice_version)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)
             ON CONFLICT (contact_id, topic_id) DO UPDATE SET status = excluded.status,
                method = excluded.method, evidence = excluded.evidence, changed_at = excluded.changed_at,
                consent_text = COALESCE(excluded.consent_text, subscriptions.consent_text),
                notice_version = COALESCE(excluded.notice_version, subscriptions.notice_version),
                renewal_asked_at = NULL
             RETURNING consent_text, notice_version",
        )
        .bind(contact_id)
        .bind(topic_id)
        .bind(status.as_str())
        .bind(e.method)
        .bind(e.evidence)
        .bind(at)
        .bind(e.consent_text)
        .bind(e.notice_version)
        .fetch_one(&mut *c)
        .await?
    });
    let mut detail = serde_json::json!({"topic_id": topic_id, "status": status.as_str(), "method": e.method, "evidence": e.evidence});
    if status != ConsentStatus::Unsubscribed {
        if let Some(t) = text {
            detail["consent_text"] = t.into();
        }
        if let Some(v) = version {
            detail["notice_version"] = v.into();
        }
    }
    super::activities::record(
        tx,
        &NewActivity {
            contact_id,
            at,
            kind: ActivityKind::Consent,
            detail,
            campaign_id: e.campaign_id,
            inbound_id: e.inbound_id,
        },
    )
    .await
}

/// The consent status of each topic the contact has one for, read within the transaction
/// (so a change decided from it is atomic with the reading).
pub async fn consent_statuses(
    tx: &mut Tx,
    contact_id: ContactId,
) -> Result<Vec<(TopicId, ConsentStatus)>> {
    Ok(on_tx!(tx, c => {
        sqlx::query_as("SELECT topic_id, status FROM subscriptions WHERE contact_id = $1 ORDER BY topic_id")
            .bind(contact_id)
            .fetch_all(&mut *c)
            .await?
    }))
}

/// The consent for one topic and whether a renewal request for it is open, read within the
/// transaction; `None`: no consent was ever asked for.
pub async fn consent_of(
    tx: &mut Tx,
    contact_id: ContactId,
    topic_id: TopicId,
) -> Result<Option<(ConsentStatus, bool)>> {
    let row: Option<(ConsentStatus, Option<Timestamp>)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT status, renewal_asked_at FROM subscriptions WHERE contact_id = $1 AND topic_id = $2",
        )
        .bind(contact_id)
        .bind(topic_id)
        .fetch_optional(&mut *c)
        .await?
    });
    Ok(row.map(|(s, asked)| (s, asked.is_some())))
}

// ----- renewal (re-permission) -----

/// A confirmed consent due for a renewal request.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct RenewalDue {
    pub contact_id: ContactId,
    pub email: String,
    pub topic_id: TopicId,
    pub topic: String,
    /// When the consent last changed (was given or renewed).
    pub changed_at: Timestamp,
    pub last_reply_at: Option<Timestamp>,
    /// When the renewal request went out; `None`: not asked yet.
    pub renewal_asked_at: Option<Timestamp>,
}

const DUE_COLUMNS: &str = "s.contact_id, c.email, s.topic_id, t.slug AS topic, s.changed_at,
    c.last_reply_at, s.renewal_asked_at
    FROM subscriptions s JOIN contacts c ON c.id = s.contact_id JOIN topics t ON t.id = s.topic_id";

/// Confirmed consents (for `topic`, or all) not asked about yet whose contact is silent (the
/// one definition, `contacts::silent_condition`) since `cutoff` and that did not change since:
/// they are due for a renewal request.
pub async fn due_for_renewal(
    db: &Db,
    topic: Option<TopicId>,
    cutoff: Timestamp,
) -> Result<Vec<RenewalDue>> {
    let sql = format!(
        "SELECT {DUE_COLUMNS}
         WHERE s.status = 'confirmed' AND s.renewal_asked_at IS NULL AND s.changed_at < $1
           AND ($3 IS NULL OR s.topic_id = $3)
           AND {silent}
         ORDER BY c.email, t.slug",
        silent = super::contacts::silent_condition("s.topic_id", "$2", "$1"),
    );
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, RenewalDue>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(cutoff)
            .bind(now())
            .bind(topic)
            .fetch_all(p)
            .await?
    }))
}

/// Renewal requests sent and not answered (the consent still confirmed), oldest first; with
/// `asked_before`, only those sent before it (their time to answer is up).
pub async fn renewals_open(db: &Db, asked_before: Option<Timestamp>) -> Result<Vec<RenewalDue>> {
    let sql = format!(
        "SELECT {DUE_COLUMNS}
         WHERE s.status = 'confirmed' AND s.renewal_asked_at IS NOT NULL
           AND ($1 IS NULL OR s.renewal_asked_at < $1)
         ORDER BY s.renewal_asked_at, c.email"
    );
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, RenewalDue>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(asked_before)
            .fetch_all(p)
            .await?
    }))
}

/// Notes that the renewal request for this consent went out at `at`.
pub async fn mark_renewal_asked(
    tx: &mut Tx,
    contact_id: ContactId,
    topic_id: TopicId,
    at: Timestamp,
) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "UPDATE subscriptions SET renewal_asked_at = $1 WHERE contact_id = $2 AND topic_id = $3",
        )
        .bind(at)
        .bind(contact_id)
        .bind(topic_id)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// Contacts left without any consent (none pending or confirmed) whose consent an unanswered
/// renewal request ended, with no consent change since `before`: (id, address).
pub async fn without_consent_after_renewal(
    db: &Db,
    before: Timestamp,
) -> Result<Vec<(ContactId, String)>> {
    Ok(on_db!(db, p => {
        sqlx::query_as(
            "SELECT c.id, c.email FROM contacts c
             WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = c.id
                           AND s.status = 'unsubscribed' AND s.method = 'renewal')
               AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = c.id
                           AND (s.status IN ('pending', 'confirmed') OR s.changed_at >= $1))
             ORDER BY c.email",
        )
        .bind(before)
        .fetch_all(p)
        .await?
    }))
}

/// Contacts whose consent for `topic` is pending and who were never sent a confirmation mail
/// (an import or the API put them there), not suppressed; at most `limit`.
pub async fn pending_never_asked(db: &Db, topic: TopicId, limit: i64) -> Result<Vec<ContactId>> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar(
            "SELECT c.id FROM contacts c JOIN subscriptions s ON s.contact_id = c.id
             WHERE s.topic_id = $1 AND s.status = 'pending'
               AND NOT EXISTS (SELECT 1 FROM activities a
                               WHERE a.contact_id = c.id AND a.kind = 'confirmation')
               AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.address = c.email_key)
             ORDER BY c.id LIMIT $2",
        )
        .bind(topic)
        .bind(limit)
        .fetch_all(p)
        .await?
    }))
}
