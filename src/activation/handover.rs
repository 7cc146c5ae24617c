//! A contact's successor, proposed from an auto-reply ("Frau X hat die Einrichtung verlassen;
//! Nachfolge: Y") and accepted by a person: the old contact's relations end (kept on the
//! timeline), the successor becomes a contact with the old contact's organisation and pending
//! consent for the old contact's topics. Nothing is sent to the successor before that
//! acceptance; after it, one confirmation request, for the first topic (the caller sends it);
//! the others stay pending until the person confirms them (preferences page), never sent to
//! before.

use super::{initial::add_contact, set_relation, ActivationError, Cause, Result, Undo};
use crate::domain::{ConsentStatus, ContactId, EmailAddress, RelationStatus, TopicId};
use crate::store::contacts::{Contact, ImportRow};
use crate::store::{self, Db};

/// What a hand-over did: the successor and the topics they are pending for, the first being
/// the one the confirmation request asks about.
#[derive(Debug)]
pub struct HandedOver {
    pub successor: Contact,
    pub topics: Vec<TopicId>,
    /// The old contact's relations that ended.
    pub ended: usize,
}

/// Hands contact `old` over to `email` (named `name`): `topic` (the answered campaign's) and the
/// old contact's confirmed topics become the successor's pending consents, `topic` first; the
/// old contact's active relations end. A successor who withdrew consent for one of them refuses
/// the whole hand-over ([`ActivationError::Conflict`]) and nothing changes.
pub async fn hand_over(
    db: &Db,
    old: ContactId,
    email: &str,
    name: Option<&str>,
    topic: Option<TopicId>,
    cause: &Cause,
) -> Result<(HandedOver, Undo)> {
    let before = store::contacts::by_id(db, old).await?;
    let address = EmailAddress::parse(email)
        .map_err(|e| ActivationError::Invalid(format!("successor {email:?}: {e}")))?;
    if address.key() == before.email.to_lowercase() {
        return Err(ActivationError::Invalid(format!(
            "the successor {email} is the contact itself"
        )));
    }
    let confirmed = store::contacts::subscriptions(db, old)
        .await?
        .into_iter()
        .filter(|s| s.status == ConsentStatus::Confirmed)
        .map(|s| s.topic_id);
    let mut topics: Vec<TopicId> = topic.into_iter().collect();
    for t in confirmed {
        if !topics.contains(&t) {
            topics.push(t);
        }
    }
    if topics.is_empty() {
        return Err(ActivationError::Invalid(format!(
            "{} has no topic to hand over: add the successor by hand",
            before.email
        )));
    }
    let row = ImportRow {
        email: address,
        name: name.map(str::to_string),
        organisation: before.organisation.clone(),
        language: before.language.clone(),
        attributes: serde_json::Map::new(),
        topics: topics.clone(),
    };
    let successor = add_contact(
        db,
        &row,
        ConsentStatus::Pending,
        &format!("successor of {}", before.email),
    )
    .await?;
    // The old contact's relations end; each change is on its timeline with this cause.
    let mut tx = db.begin().await?;
    let mut ended = 0;
    for r in store::relations::for_contact(db, old).await? {
        if !matches!(
            r.status,
            RelationStatus::Interested | RelationStatus::Confirmed
        ) {
            continue;
        }
        set_relation(
            &mut tx,
            old,
            r.form,
            r.topic_id,
            r.occasion_id,
            RelationStatus::Ended,
            Some(store::now()),
            Some(format!("handed over to {}", successor.email)),
            cause,
        )
        .await?;
        ended += 1;
    }
    tx.commit().await?;
    Ok((
        HandedOver {
            successor,
            topics,
            ended,
        },
        Undo::default(),
    ))
}
