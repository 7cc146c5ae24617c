//! The activation rules, in one place for every door (the web pages, the admin API, inbound
//! mail, the CLI): consent given and withdrawn, answers to invitations, cooperation interest,
//! and undoing what a misread message changed. Each change is one transaction that also writes
//! its timeline entry, and names its [`Cause`].
//!
//! Invariants kept here:
//! - a withdrawal covers every topic it names or none (one transaction);
//! - an occasion without an end counts as ending [`DEFAULT_OCCASION_HOURS`] after its start, for
//!   the encounter it creates and for the links that answer it;
//! - what an applied change replaced is returned as an [`Undo`], which [`undo`] restores.

use crate::domain::{
    CampaignId, ConsentStatus, ContactId, InboundId, OccasionId, RelationForm, RelationStatus,
    TopicId,
};
use crate::store::contacts::ConsentEvidence;
use crate::store::occasions::Occasion;
use crate::store::relations::NewRelation;
use crate::store::wishes::Wish;
use crate::store::{self, Db, StoreError, Timestamp};
use serde::{Deserialize, Serialize};

mod handover;
mod initial;
mod manual;
mod occasions;
mod places;
mod polls;
pub mod renewal;
pub use handover::{hand_over, HandedOver};
pub use initial::{
    add_contact, confirmation_due, sign_up, ImportConsent, SignUp, SignedUp, CONFIRM_MAILS_PER_DAY,
};
pub use manual::{add_note, add_person, edit_contact, record_by_hand, ByHand, NewPerson};
pub use occasions::{
    cancel_occasion, change_occasion, check_in, record_attendance, Attendance, OccasionChange,
    OccasionNotice,
};
pub use places::{answer_invitation, seat_by_hand, Answered, Seat, WAITING_LIST};
pub use polls::{add_poll, answer_poll, pick_date, Picked, PollUndo};

/// How long an occasion without an end lasts.
pub const DEFAULT_OCCASION_HOURS: i64 = 3;

/// When occasion `o` ends: its end, or [`DEFAULT_OCCASION_HOURS`] after its start.
pub fn occasion_end(o: &Occasion) -> Timestamp {
    o.ends_at
        .unwrap_or(o.starts_at + chrono::Duration::hours(DEFAULT_OCCASION_HOURS))
}

/// What caused a change: kept beside it (consent evidence, the relation's cause) and on the
/// timeline, so every change can be traced to a message, a link, a form or a person.
#[derive(Debug, Clone, PartialEq)]
pub enum Cause {
    /// A message we received. `message_id` is its Message-ID (else `inbound:ID`).
    Message {
        inbound_id: InboundId,
        message_id: String,
        campaign_id: Option<CampaignId>,
        /// A spam complaint rather than the person's reply.
        complaint: bool,
    },
    /// A signed link in one of our mails, used by the person.
    Link {
        link: Link,
        evidence: String,
        campaign_id: Option<CampaignId>,
    },
    /// The anonymous subscribe form (asks for a confirmation, never confirms).
    Form { evidence: String },
    /// A person working in netzpost: the admin API, the review queue, the CLI.
    Admin { by: String },
    /// No answer to the renewal request sent at `asked_at` (re-permission).
    Renewal { asked_at: Timestamp },
    /// A person undoing an applied decision about an inbound message.
    Undo {
        decision_id: i64,
        by: String,
        inbound_id: InboundId,
        campaign_id: Option<CampaignId>,
    },
}

/// Which signed link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Confirm,
    Unsubscribe,
    Preferences,
    Rsvp,
}

/// What a person consented to, stored with the consent: the consent text they saw (the
/// subscribe page's, in their language) and the privacy notice's version (config
/// `privacy.notice_version`). A confirmation or renewal without a text keeps the sign-up's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Consented<'a> {
    pub text: Option<&'a str>,
    pub notice_version: Option<&'a str>,
}

impl Cause {
    /// As stored with a consent change (`subscriptions.method` and `.evidence`) and on the
    /// timeline.
    fn consent_evidence(&self) -> ConsentEvidence<'_> {
        let (method, evidence) = match self {
            Cause::Message {
                message_id,
                complaint,
                ..
            } => (
                if *complaint { "complaint" } else { "reply" },
                Some(message_id.as_str()),
            ),
            Cause::Link { link, evidence, .. } => (
                match link {
                    Link::Confirm => "confirm-link",
                    Link::Unsubscribe => "link",
                    Link::Preferences => "preferences",
                    Link::Rsvp => "rsvp-link",
                },
                Some(evidence.as_str()),
            ),
            Cause::Form { evidence } => ("form", Some(evidence.as_str())),
            Cause::Admin { by } => ("admin", Some(by.as_str())),
            Cause::Renewal { .. } => ("renewal", None),
            Cause::Undo { .. } => ("undo", None),
        };
        ConsentEvidence {
            method,
            evidence,
            inbound_id: self.inbound_id(),
            campaign_id: self.campaign_id(),
            consent_text: None,
            notice_version: None,
        }
    }

    fn inbound_id(&self) -> Option<InboundId> {
        match self {
            Cause::Message { inbound_id, .. } | Cause::Undo { inbound_id, .. } => Some(*inbound_id),
            _ => None,
        }
    }

    fn campaign_id(&self) -> Option<CampaignId> {
        match self {
            Cause::Message { campaign_id, .. }
            | Cause::Link { campaign_id, .. }
            | Cause::Undo { campaign_id, .. } => *campaign_id,
            Cause::Form { .. } | Cause::Admin { .. } | Cause::Renewal { .. } => None,
        }
    }

    /// The relation's `cause_kind` and `cause_ref`.
    fn relation_cause(&self) -> (&'static str, String) {
        match self {
            Cause::Message { message_id, .. } => ("message", message_id.clone()),
            Cause::Link { evidence, .. } => ("link", evidence.clone()),
            Cause::Form { evidence } => ("link", evidence.clone()),
            Cause::Admin { by } => ("person", by.clone()),
            Cause::Renewal { asked_at } => (
                "renewal",
                format!(
                    "no answer to the renewal request of {}",
                    asked_at.format("%Y-%m-%d")
                ),
            ),
            Cause::Undo {
                decision_id, by, ..
            } => ("person", format!("undo of decision {decision_id} by {by}")),
        }
    }

    /// Whether this is the person's own confirmed action (a signed link they used): only that
    /// brings back a withdrawn consent.
    fn is_persons_own(&self) -> bool {
        matches!(
            self,
            Cause::Link {
                link: Link::Confirm | Link::Preferences,
                ..
            }
        )
    }
}

/// Why a change was refused; the HTTP layer and the CLI map each kind to their status.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The change contradicts the state (e.g. renewing a withdrawn consent for someone else).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong.
    #[error("{0}")]
    Invalid(String),
    /// A part netzpost needs is not reachable now; trying again later may work.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ActivationError {
    fn from(e: StoreError) -> Self {
        match e {
            e if e.is_not_found() => ActivationError::NotFound(e.to_string()),
            StoreError::Conflict(m) => ActivationError::Conflict(m),
            StoreError::Invalid(m) => ActivationError::Invalid(m),
            e => ActivationError::Store(e),
        }
    }
}

pub type Result<T, E = ActivationError> = std::result::Result<T, E>;

/// What an applied change replaced, to put it back ([`undo`]). Stored as JSON with the decision
/// that applied it; the field names are that stored form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Undo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<RelationUndo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wish: Option<WishUndo>,
    /// Each topic whose consent changed, with its status before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<Vec<(TopicId, ConsentStatus)>>,
    /// An address newly suppressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppression: Option<String>,
    /// Answers to a date poll, with those they replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<PollUndo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationUndo {
    pub contact_id: ContactId,
    pub form: RelationForm,
    pub occasion_id: Option<OccasionId>,
    pub topic_id: Option<TopicId>,
    /// The group of a group relation (empty for the other forms, and in undos stored before).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group_name: String,
    /// The relation before; none: there was none.
    pub prev: Option<store::relations::Previous>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WishUndo {
    pub contact_id: ContactId,
    pub topic_id: TopicId,
    pub prev: Option<Wish>,
}

impl Undo {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an undo record serialises")
    }

    pub fn from_json(s: &str) -> Result<Undo> {
        serde_json::from_str(s)
            .map_err(|e| ActivationError::Invalid(format!("stored undo record unreadable: {e}")))
    }
}

// ----- consent -----

/// Withdraws the contact's consent for `topic`, or for every topic (`None`), in one
/// transaction. Returns each topic changed with its status before (empty: nothing was given).
pub async fn withdraw_consent(
    db: &Db,
    contact_id: ContactId,
    topic: Option<TopicId>,
    cause: &Cause,
) -> Result<Vec<(TopicId, ConsentStatus)>> {
    let mut tx = db.begin().await?;
    let changed: Vec<(TopicId, ConsentStatus)> =
        store::contacts::consent_statuses(&mut tx, contact_id)
            .await?
            .into_iter()
            .filter(|&(t, status)| {
                status != ConsentStatus::Unsubscribed && topic.is_none_or(|want| want == t)
            })
            .collect();
    let to: Vec<(TopicId, ConsentStatus)> = changed
        .iter()
        .map(|&(t, _)| (t, ConsentStatus::Unsubscribed))
        .collect();
    write_consents(&mut tx, contact_id, &to, &cause.consent_evidence()).await?;
    tx.commit().await?;
    Ok(changed)
}

/// Sets consent for several topics at once (the preferences page, an admin): all or nothing.
/// A withdrawn consent comes back only by the person's own confirmed action (a signed link);
/// for any other cause such a topic is refused with [`ActivationError::Conflict`] and nothing
/// changes. Topics already in the wanted state are left alone. Returns the topics changed with
/// their status before.
pub async fn set_consents(
    db: &Db,
    contact_id: ContactId,
    wanted: &[(TopicId, ConsentStatus)],
    cause: &Cause,
) -> Result<Vec<(TopicId, Option<ConsentStatus>)>> {
    set_consents_as(db, contact_id, wanted, cause, &Consented::default()).await
}

/// [`set_consents`], storing what the person consented to with each change.
pub async fn set_consents_as(
    db: &Db,
    contact_id: ContactId,
    wanted: &[(TopicId, ConsentStatus)],
    cause: &Cause,
    consented: &Consented<'_>,
) -> Result<Vec<(TopicId, Option<ConsentStatus>)>> {
    let mut tx = db.begin().await?;
    let now: std::collections::HashMap<TopicId, ConsentStatus> =
        store::contacts::consent_statuses(&mut tx, contact_id)
            .await?
            .into_iter()
            .collect();
    let mut changed = Vec::new();
    let mut to = Vec::new();
    for &(topic, status) in wanted {
        let before = now.get(&topic).copied();
        if before == Some(status) {
            continue;
        }
        if before == Some(ConsentStatus::Unsubscribed) && !cause.is_persons_own() {
            return Err(ActivationError::Conflict(format!(
                "consent for topic {topic} was withdrawn by the person: only they can give it again (subscribe form and confirmation link)"
            )));
        }
        to.push((topic, status));
        changed.push((topic, before));
    }
    let evidence = ConsentEvidence {
        consent_text: consented.text,
        notice_version: consented.notice_version,
        ..cause.consent_evidence()
    };
    write_consents(&mut tx, contact_id, &to, &evidence).await?;
    tx.commit().await?;
    Ok(changed)
}

/// The person confirms consent for `topic`: the confirmation link's button, or a yes by reply
/// to the confirmation or renewal mail (`cause` names the link or the message). `own` says it
/// is the person's own confirmed action (a signed link they used, or a reply with the mail's own
/// token from the address confirmed): only then may it bring back a consent they withdrew. A
/// consent confirmed already is confirmed again, with this evidence, only when a renewal
/// request is open (the yes renews it); otherwise nothing changes (a second click). Returns
/// the topic with its status before when there was one (empty also when nothing changed; a
/// topic without any consent yet is confirmed only by the person's own action).
pub async fn confirm_consent(
    db: &Db,
    contact_id: ContactId,
    topic: TopicId,
    own: bool,
    cause: &Cause,
    consented: &Consented<'_>,
) -> Result<Vec<(TopicId, ConsentStatus)>> {
    let mut tx = db.begin().await?;
    let before = store::contacts::consent_of(&mut tx, contact_id, topic).await?;
    match before {
        None if !own => return Ok(Vec::new()),
        Some((ConsentStatus::Confirmed, false)) => return Ok(Vec::new()),
        Some((ConsentStatus::Unsubscribed, _)) if !own => {
            return Err(ActivationError::Conflict(format!(
                "consent for topic {topic} was withdrawn by the person: only they can give it again (subscribe form and confirmation link or reply)"
            )))
        }
        _ => {}
    }
    let evidence = ConsentEvidence {
        consent_text: consented.text,
        notice_version: consented.notice_version,
        ..cause.consent_evidence()
    };
    write_consents(
        &mut tx,
        contact_id,
        &[(topic, ConsentStatus::Confirmed)],
        &evidence,
    )
    .await?;
    tx.commit().await?;
    Ok(before.map(|(b, _)| (topic, b)).into_iter().collect())
}

/// Writes each `(topic, status)` with its evidence, inside `tx`.
async fn write_consents(
    tx: &mut store::Tx,
    contact_id: ContactId,
    to: &[(TopicId, ConsentStatus)],
    evidence: &ConsentEvidence<'_>,
) -> Result<()> {
    for &(topic, status) in to {
        store::contacts::set_consent(tx, contact_id, topic, status, evidence).await?;
    }
    Ok(())
}

/// The person chose the language of their mails (preferences page).
pub async fn set_language(
    db: &Db,
    contact_id: ContactId,
    language: &str,
    cause: &Cause,
) -> Result<()> {
    let mut tx = db.begin().await?;
    store::contacts::set_language(&mut tx, contact_id, language).await?;
    let e = cause.consent_evidence();
    store::activities::record(
        &mut tx,
        &store::activities::NewActivity {
            contact_id,
            at: store::now(),
            kind: store::activities::ActivityKind::Preferences,
            detail: serde_json::json!({"language": language, "method": e.method}),
            campaign_id: e.campaign_id,
            inbound_id: e.inbound_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ----- relations -----

/// Interest in cooperating on `topic` (a reply or the link of a call for cooperation).
pub async fn express_cooperation(
    db: &Db,
    contact_id: ContactId,
    topic: Option<TopicId>,
    note: Option<String>,
    cause: &Cause,
) -> Result<Undo> {
    let mut tx = db.begin().await?;
    let (undo, _) = set_relation(
        &mut tx,
        contact_id,
        RelationForm::Cooperation,
        topic,
        None,
        RelationStatus::Interested,
        None,
        note,
        cause,
    )
    .await?;
    tx.commit().await?;
    Ok(undo)
}

/// A contact works in a group on `topic` (a round table, a working group): a confirmed
/// relation of form group, set by a person.
pub async fn join_group(
    db: &Db,
    contact_id: ContactId,
    topic: Option<TopicId>,
    note: Option<String>,
    cause: &Cause,
) -> Result<Undo> {
    let mut tx = db.begin().await?;
    let (undo, _) = set_relation(
        &mut tx,
        contact_id,
        RelationForm::Group,
        topic,
        None,
        RelationStatus::Confirmed,
        None,
        note,
        cause,
    )
    .await?;
    tx.commit().await?;
    Ok(undo)
}

/// Sets a relation inside `tx` and returns its undo and id.
#[allow(clippy::too_many_arguments)]
async fn set_relation(
    tx: &mut store::Tx,
    contact_id: ContactId,
    form: RelationForm,
    topic_id: Option<TopicId>,
    occasion_id: Option<OccasionId>,
    status: RelationStatus,
    until: Option<Timestamp>,
    note: Option<String>,
    cause: &Cause,
) -> Result<(Undo, i64)> {
    let target = Target {
        form,
        topic_id,
        occasion_id,
        group_name: String::new(),
    };
    set_relation_of(tx, contact_id, target, status, until, note, cause).await
}

/// What a relation is to: its form, topic, occasion and (form group) the group's name.
#[derive(Debug, Clone)]
struct Target {
    form: RelationForm,
    topic_id: Option<TopicId>,
    occasion_id: Option<OccasionId>,
    group_name: String,
}

/// [`set_relation`] for any target, a named group too.
async fn set_relation_of(
    tx: &mut store::Tx,
    contact_id: ContactId,
    target: Target,
    status: RelationStatus,
    until: Option<Timestamp>,
    note: Option<String>,
    cause: &Cause,
) -> Result<(Undo, i64)> {
    let Target {
        form,
        topic_id,
        occasion_id,
        group_name,
    } = target;
    let (cause_kind, cause_ref) = cause.relation_cause();
    let (id, prev) = store::relations::set(
        tx,
        &NewRelation {
            contact_id,
            form,
            topic_id,
            occasion_id,
            status,
            until,
            cause_kind: cause_kind.into(),
            cause_ref: Some(cause_ref),
            note,
            inbound_id: cause.inbound_id(),
            campaign_id: cause.campaign_id(),
            group_name: group_name.clone(),
        },
    )
    .await?;
    Ok((
        Undo {
            relation: Some(RelationUndo {
                contact_id,
                form,
                occasion_id,
                topic_id,
                group_name,
                prev,
            }),
            ..Undo::default()
        },
        id,
    ))
}

/// Records the contact's wish not to be invited on `w.topic_id` before `w.not_before`;
/// returns what it replaced.
pub async fn record_wish(db: &Db, w: &Wish) -> Result<WishUndo> {
    let mut tx = db.begin().await?;
    let prev = store::wishes::set(&mut tx, w).await?;
    tx.commit().await?;
    Ok(WishUndo {
        contact_id: w.contact_id,
        topic_id: w.topic_id,
        prev,
    })
}

// ----- undo -----

/// Puts back what an applied change replaced: the relation as it was (or marks it undone when
/// there was none), the wish, each consent, and lifts a suppression it added. One transaction
/// for the relation, wish and consent; the suppression after it.
pub async fn undo(
    db: &Db,
    contact_id: Option<ContactId>,
    u: &Undo,
    cause: &Cause,
) -> Result<Undone> {
    let mut tx = db.begin().await?;
    let mut undone = Undone::default();
    // An answer to an occasion with places: its row is held while they are decided, and a
    // place the undo frees goes to the waiting list as a decline's would.
    let places = match &u.relation {
        Some(RelationUndo {
            form: RelationForm::Encounter,
            occasion_id: Some(id),
            ..
        }) => match store::occasions::lock_places(&mut tx, *id).await? {
            Some(cap) => Some((store::occasions::by_id_tx(&mut tx, *id).await?, cap)),
            None => None,
        },
        _ => None,
    };
    if let Some(r) = &u.relation {
        let (status, until, party_size) = match &r.prev {
            Some(p) => (p.status, p.until, p.party_size),
            None => (RelationStatus::Undone, None, None),
        };
        let (cause_kind, cause_ref) = cause.relation_cause();
        let (id, _) = store::relations::set(
            &mut tx,
            &NewRelation {
                contact_id: r.contact_id,
                form: r.form,
                topic_id: r.topic_id,
                occasion_id: r.occasion_id,
                status,
                until,
                cause_kind: cause_kind.into(),
                cause_ref: Some(cause_ref),
                note: None,
                inbound_id: cause.inbound_id(),
                campaign_id: cause.campaign_id(),
                group_name: r.group_name.clone(),
            },
        )
        .await?;
        store::relations::set_party_size(&mut tx, id, party_size).await?;
    }
    if let Some((o, cap)) = places {
        undone.moved_up = places::move_up(&mut tx, &o, cap).await?;
        undone.occasion = Some(o);
    }
    if let Some(w) = &u.wish {
        store::wishes::restore(&mut tx, w.contact_id, w.topic_id, w.prev.as_ref()).await?;
    }
    if let (Some(list), Some(contact)) = (&u.consent, contact_id) {
        // The consent's evidence names the undo and who did it (the relation's cause text).
        let (_, cause_ref) = cause.relation_cause();
        let evidence = ConsentEvidence {
            evidence: Some(cause_ref.as_str()),
            ..cause.consent_evidence()
        };
        write_consents(&mut tx, contact, list, &evidence).await?;
    }
    if let Some(p) = &u.poll {
        store::polls::set_answers(&mut tx, p.occasion_id, p.contact_id, &p.prev).await?;
    }
    tx.commit().await?;
    if let Some(addr) = &u.suppression {
        store::suppressions::remove(db, addr).await?;
    }
    Ok(undone)
}

/// What an [`undo`] set in motion beyond putting things back: a yes taken back freed places,
/// and these people moved up from the occasion's waiting list (each is to be told, with the
/// calendar invitation).
#[derive(Debug, Clone, Default)]
pub struct Undone {
    pub occasion: Option<Occasion>,
    pub moved_up: Vec<ContactId>,
}
