//! Consent rows (`subscriptions`): written with their evidence and timeline entry, read inside
//! the deciding transaction, and the renewal requests (re-permission) on them.

use super::activities::{ActivityKind, NewActivity};
use super::{now, on_tx, Result, Timestamp, Tx};
use crate::domain::{CampaignId, ConsentStatus, ContactId, InboundId, TopicId};

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
