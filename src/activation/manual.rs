//! What a coordinator records by hand in the admin pages: a new person with the consent the
//! coordinator states, changed fields, notes, and relations (came to an occasion, member of a
//! named group, a cooperation started or ended). Each names who did it ([`Cause::Admin`]) and
//! lands with its timeline entry in one transaction.

use super::{
    record_attendance, set_relation_of, ActivationError, Attendance, Cause, Result, Target,
};
use crate::domain::{
    ConsentStatus, ContactId, EmailAddress, RelationForm, RelationStatus, TopicId,
};
use crate::store::contacts::{Contact, ImportRow};
use crate::store::directory::Fields;
use crate::store::{self, Db};

/// A person a coordinator adds, with the consent they state for `topics`.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub email: EmailAddress,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub language: Option<String>,
    pub topics: Vec<TopicId>,
    /// Confirmed (the person agreed, `evidence` says how) or pending (asked, not given yet).
    pub consent: ConsentStatus,
    /// How the person agreed ("signed the list at the summer festival"); required for confirmed.
    pub evidence: Option<String>,
}

/// Adds one person. An address that is known already is a conflict (edit that contact instead),
/// a suppressed one too (forgotten, bounced or blocked); confirmed consent needs its evidence;
/// the consent itself follows the import's rule ([`super::add_contact`]).
pub async fn add_person(db: &Db, p: &NewPerson, by: &str) -> Result<Contact> {
    if store::contacts::find(db, &p.email).await?.is_some() {
        return Err(ActivationError::Conflict(format!(
            "{} is a contact already",
            p.email
        )));
    }
    if store::suppressions::is_suppressed(db, &p.email.key()).await? {
        return Err(ActivationError::Conflict(format!(
            "{} may not be mailed (forgotten, bounced or blocked) and is not added again",
            p.email
        )));
    }
    let evidence = p
        .evidence
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    if p.consent == ConsentStatus::Confirmed && !p.topics.is_empty() && evidence.is_none() {
        return Err(ActivationError::Invalid(
            "confirmed consent needs a word on how the person agreed".into(),
        ));
    }
    if p.consent == ConsentStatus::Unsubscribed {
        return Err(ActivationError::Invalid(
            "a new person's consent is confirmed or pending".into(),
        ));
    }
    let row = ImportRow {
        email: p.email.clone(),
        name: p.name.clone(),
        organisation: p.organisation.clone(),
        language: p.language.clone(),
        attributes: serde_json::Map::new(),
        topics: p.topics.clone(),
    };
    // The source is the consent's evidence as well: who entered it, and what they said.
    let source = match evidence {
        Some(e) => format!("{by}: {e}"),
        None => by.to_string(),
    };
    super::add_contact(db, &row, p.consent, &source).await
}

/// Sets a contact's name, organisation and language as given (`None` empties one).
pub async fn edit_contact(db: &Db, id: ContactId, f: &Fields, by: &str) -> Result<()> {
    store::contacts::by_id(db, id).await?;
    let mut tx = db.begin().await?;
    store::directory::set_fields(&mut tx, id, f, by).await?;
    tx.commit().await?;
    Ok(())
}

/// A note on the contact's timeline.
pub async fn add_note(db: &Db, id: ContactId, text: &str, by: &str) -> Result<()> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ActivationError::Invalid("the note is empty".into()));
    }
    store::contacts::by_id(db, id).await?;
    let mut tx = db.begin().await?;
    store::directory::add_note(&mut tx, id, text, by).await?;
    tx.commit().await?;
    Ok(())
}

/// A relation a coordinator records by hand.
#[derive(Debug, Clone)]
pub enum ByHand {
    /// The person came to the occasion (an encounter, A).
    Came { occasion: String },
    /// The person works in a group (D), named, optionally on a topic.
    Group {
        name: String,
        topic: Option<TopicId>,
    },
    /// The person left that group.
    LeftGroup {
        name: String,
        topic: Option<TopicId>,
    },
    /// A cooperation (B) on a topic began.
    CooperationStarted { topic: Option<TopicId> },
    /// The cooperation on a topic ended.
    CooperationEnded { topic: Option<TopicId> },
}

/// Records `what` for contact `id`, by `by`, on the timeline with who did it.
pub async fn record_by_hand(db: &Db, id: ContactId, what: &ByHand, by: &str) -> Result<()> {
    store::contacts::by_id(db, id).await?;
    let cause = Cause::Admin { by: by.to_string() };
    let group = |name: &str| -> Result<String> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ActivationError::Invalid("the group needs a name".into()));
        }
        crate::domain::check_text_field("group", name).map_err(ActivationError::Invalid)?;
        Ok(name.to_string())
    };
    let (target, status, until) = match what {
        ByHand::Came { occasion } => {
            let o = store::occasions::get(db, occasion).await?;
            return record_attendance(db, id, &o, Attendance::Came, &cause).await;
        }
        ByHand::Group { name, topic } => (
            target(RelationForm::Group, *topic, group(name)?),
            RelationStatus::Confirmed,
            None,
        ),
        ByHand::LeftGroup { name, topic } => (
            target(RelationForm::Group, *topic, group(name)?),
            RelationStatus::Ended,
            Some(store::now()),
        ),
        ByHand::CooperationStarted { topic } => (
            target(RelationForm::Cooperation, *topic, String::new()),
            RelationStatus::Confirmed,
            None,
        ),
        ByHand::CooperationEnded { topic } => (
            target(RelationForm::Cooperation, *topic, String::new()),
            RelationStatus::Ended,
            Some(store::now()),
        ),
    };
    if status == RelationStatus::Ended {
        // Only what is going on can end.
        let active = store::relations::for_contact(db, id)
            .await?
            .into_iter()
            .any(|r| {
                r.form == target.form
                    && r.topic_id == target.topic_id
                    && r.occasion_id.is_none()
                    && r.group_name == target.group_name
                    && crate::domain::ACTIVE_RELATION_STATUSES.contains(&r.status)
            });
        if !active {
            return Err(ActivationError::Conflict(match target.form {
                RelationForm::Group => format!("not in the group {:?}", target.group_name),
                _ => "no cooperation going on to end".into(),
            }));
        }
    }
    let mut tx = db.begin().await?;
    set_relation_of(&mut tx, id, target, status, until, None, &cause).await?;
    tx.commit().await?;
    Ok(())
}

fn target(form: RelationForm, topic_id: Option<TopicId>, group_name: String) -> Target {
    Target {
        form,
        topic_id,
        occasion_id: None,
        group_name,
    }
}
