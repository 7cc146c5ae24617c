//! Re-permission: a consent whose contact has been silent for long is asked about once; a yes
//! (the confirm button or a reply "Ja", [`super::confirm_consent`]) renews it, and without an
//! answer in time it is withdrawn ([`expire`]). Which consents are due is the store's
//! (`store::consents::due_for_renewal`); sending the request is `crate::renewal`'s.

use super::{write_consents, Cause, Result};
use crate::domain::{ConsentStatus, ContactId, TopicId};
use crate::store::activities::{ActivityKind, NewActivity};
use crate::store::contacts::ConsentEvidence;
use crate::store::{self, Db, Timestamp};

/// Records that the renewal request for this consent went out (answer by `until`), with its
/// timeline entry. Only a confirmed consent not asked about yet is marked; returns whether it
/// was.
pub async fn asked(
    db: &Db,
    contact_id: ContactId,
    topic: TopicId,
    at: Timestamp,
    until: Timestamp,
) -> Result<bool> {
    let mut tx = db.begin().await?;
    if store::contacts::consent_of(&mut tx, contact_id, topic).await?
        != Some((ConsentStatus::Confirmed, false))
    {
        return Ok(false);
    }
    store::consents::mark_renewal_asked(&mut tx, contact_id, topic, at).await?;
    store::activities::record(
        &mut tx,
        &NewActivity {
            contact_id,
            at,
            kind: ActivityKind::RenewalAsked,
            detail: serde_json::json!({"topic_id": topic, "until": until.to_rfc3339()}),
            campaign_id: None,
            inbound_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Withdraws the consent whose renewal request (sent at `asked_at`) went unanswered. Nothing
/// happens when the person answered meanwhile or the consent changed otherwise; returns
/// whether it was withdrawn.
pub async fn expire(
    db: &Db,
    contact_id: ContactId,
    topic: TopicId,
    asked_at: Timestamp,
) -> Result<bool> {
    let mut tx = db.begin().await?;
    if store::contacts::consent_of(&mut tx, contact_id, topic).await?
        != Some((ConsentStatus::Confirmed, true))
    {
        return Ok(false);
    }
    let cause = Cause::Renewal { asked_at };
    let (_, why) = cause.relation_cause();
    let evidence = ConsentEvidence {
        evidence: Some(&why),
        ..cause.consent_evidence()
    };
    write_consents(
        &mut tx,
        contact_id,
        &[(topic, ConsentStatus::Unsubscribed)],
        &evidence,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Erases a contact that an unanswered renewal request left without any consent
/// (`renewal.after_withdrawal = "forget"`), as "forget me" does: only a hash of the address
/// stays, so no import brings it back.
pub async fn forget(db: &Db, email: &str) -> Result<()> {
    Ok(store::contacts::forget(db, email).await?)
}
