//! Initial consent: what the public sign-up form, an import and the admin API's new contact may
//! set. One rule for the three ([`ConsentStatus::request`]): a new consent is recorded as asked,
//! pending may be raised to confirmed, and a consent the person withdrew comes back only by their
//! own confirmed action (the confirmation link), never from here. An import decides for a whole
//! batch at once and lands it in one transaction, where the store writes only what the rule sets.

use super::{set_consents_as, ActivationError, Cause, Consented, Result};
use crate::domain::{ConsentRequest, ConsentStatus, ContactId, EmailAddress, TopicId};
use crate::store::contacts::{BatchOutcome, Contact, ImportRow};
use crate::store::{self, Db, StoreError};
use std::collections::HashMap;

/// Confirmation mails per recipient address in 24 hours, whoever asks from wherever (the form,
/// an import, the API): asking must not be a way to flood someone's mailbox.
pub const CONFIRM_MAILS_PER_DAY: i64 = 3;

/// A sign-up through the public form: consent for one topic, asked for by whoever typed the
/// address (so it is only ever pending until the confirmation link is used).
#[derive(Debug, Clone)]
pub struct SignUp<'a> {
    pub email: &'a EmailAddress,
    /// For a new contact only: a stranger must not rename someone else's contact.
    pub name: Option<&'a str>,
    pub language: &'a str,
    pub topic: TopicId,
    /// What the form saw (its page, the client's address).
    pub evidence: &'a str,
    /// Confirmation mails to one address within 24 hours, at most.
    pub max_mails_per_day: i64,
    /// The consent text the form showed and the privacy notice's version, kept with the consent.
    pub consented: Consented<'a>,
}

/// What became of a sign-up, and whether a confirmation mail is due.
#[derive(Debug)]
pub enum SignedUp {
    /// The address is suppressed: nothing recorded, nothing to send.
    Suppressed,
    /// Consent for the topic is confirmed already: nothing to send.
    Confirmed,
    /// Enough confirmation mails went to the address today: none now.
    Throttled(ContactId),
    /// Send the confirmation mail. The consent is pending now, unless the person withdrew it:
    /// then it stays withdrawn until they press the link's button.
    SendConfirmation(Contact),
}

/// Records a sign-up: the contact (new ones get the name), the confirmation mail noted against
/// the daily limit, and pending consent where the rule allows it.
pub async fn sign_up(db: &Db, s: &SignUp<'_>) -> Result<SignedUp> {
    if store::suppressions::is_suppressed(db, &s.email.key()).await? {
        return Ok(SignedUp::Suppressed);
    }
    let contact = match store::contacts::find(db, s.email).await? {
        Some(c) => c,
        None => {
            // No topics here: the consent is the rule's, below.
            let row = ImportRow {
                email: s.email.clone(),
                name: s.name.filter(|n| !n.is_empty()).map(str::to_string),
                organisation: None,
                language: Some(s.language.to_string()),
                attributes: serde_json::Map::new(),
                topics: Vec::new(),
            };
            store::contacts::upsert_one(db, &row, ConsentStatus::Pending, "web-form").await?
        }
    };
    let current = store::contacts::subscriptions(db, contact.id)
        .await?
        .iter()
        .find(|x| x.topic_id == s.topic)
        .map(|x| x.status);
    if current == Some(ConsentStatus::Confirmed) {
        return Ok(SignedUp::Confirmed);
    }
    if !store::contacts::note_confirmation_mail(
        db,
        contact.id,
        s.topic,
        s.evidence,
        s.max_mails_per_day,
    )
    .await?
    {
        return Ok(SignedUp::Throttled(contact.id));
    }
    match ConsentStatus::request(current, ConsentStatus::Pending) {
        ConsentRequest::Set(status) => {
            let cause = Cause::Form {
                evidence: s.evidence.to_string(),
            };
            set_consents_as(db, contact.id, &[(s.topic, status)], &cause, &s.consented).await?;
        }
        // Pending: the mail again. Withdrawn: only the mail (anyone can type an address into
        // the form).
        ConsentRequest::Keep | ConsentRequest::Withdrawn => {}
    }
    Ok(SignedUp::SendConfirmation(contact))
}

/// The consent an import asks for, decided batch by batch: a row that would renew a consent its
/// person withdrew is refused whole (its contact stays as it is); the others land, and the
/// store's landing writes only what the rule sets (a new consent, or pending raised to
/// confirmed), so nothing it lands revives a withdrawal either.
#[derive(Debug)]
pub struct ImportConsent {
    wanted: ConsentStatus,
    /// Per address key, the topics whose consent the person withdrew: read once, at the start,
    /// and only when the rule could refuse something.
    withdrawn: HashMap<String, Vec<TopicId>>,
}

impl ImportConsent {
    pub async fn load(db: &Db, wanted: ConsentStatus) -> Result<ImportConsent, StoreError> {
        let withdrawn = match ConsentStatus::request(Some(ConsentStatus::Unsubscribed), wanted) {
            ConsentRequest::Withdrawn => store::contacts::unsubscribed_topics(db).await?,
            _ => HashMap::new(),
        };
        Ok(ImportConsent { wanted, withdrawn })
    }

    /// The rows of `batch` that would renew a consent their person withdrew: each row's index,
    /// with the first such topic.
    pub fn refused(&self, batch: &[ImportRow]) -> Vec<(usize, TopicId)> {
        if self.withdrawn.is_empty() {
            return Vec::new();
        }
        batch
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let gone = self.withdrawn.get(&r.email.key())?;
                r.topics.iter().find(|t| gone.contains(t)).map(|&t| (i, t))
            })
            .collect()
    }

    /// Lands `rows` (the refused ones taken out) in one transaction.
    pub async fn land(
        &self,
        db: &Db,
        rows: &[ImportRow],
        source: &str,
    ) -> Result<BatchOutcome, StoreError> {
        store::contacts::import_batch(db, rows, self.wanted, source).await
    }

    /// A batch staged chunk by chunk and landed at once (PostgreSQL; None on SQLite), with the
    /// consent this import asks for.
    pub async fn begin_staged(
        &self,
        db: &Db,
        source: &str,
    ) -> Result<Option<store::import_stage::StagedBatch>, StoreError> {
        store::import_stage::begin(db, self.wanted, source).await
    }
}

/// A contact from the admin API, with consent `wanted` for `row.topics`: an import of one row.
/// A topic whose consent the person withdrew refuses it ([`ActivationError::Conflict`]) and
/// nothing changes.
pub async fn add_contact(
    db: &Db,
    row: &ImportRow,
    wanted: ConsentStatus,
    source: &str,
) -> Result<Contact> {
    if let Some(c) = store::contacts::find(db, &row.email).await? {
        let subs = store::contacts::subscriptions(db, c.id).await?;
        for s in subs.iter().filter(|s| row.topics.contains(&s.topic_id)) {
            if ConsentStatus::request(Some(s.status), wanted) == ConsentRequest::Withdrawn {
                return Err(ActivationError::Conflict(format!(
                    "consent for topic {:?} was withdrawn by the person: only they can give it again (subscribe form and confirmation link)",
                    s.topic
                )));
            }
        }
    }
    Ok(store::contacts::upsert_one(db, row, wanted, source).await?)
}

/// Whether a confirmation request for `topic` may go to `contact` now: their consent for it is
/// pending (not withdrawn, not confirmed), their address is not suppressed, and fewer than
/// `max_per_day` such mails went to them in 24 hours; when it may, the mail is noted (timeline,
/// daily limit) before it is sent. For contacts an import or the API left pending.
pub async fn confirmation_due(
    db: &Db,
    contact: &Contact,
    topic: TopicId,
    evidence: &str,
    max_per_day: i64,
) -> Result<bool> {
    let key = EmailAddress::parse(&contact.email)
        .map(|e| e.key())
        .unwrap_or_else(|_| contact.email.to_lowercase());
    if store::suppressions::is_suppressed(db, &key).await? {
        return Ok(false);
    }
    let pending = store::contacts::subscriptions(db, contact.id)
        .await?
        .iter()
        .any(|s| s.topic_id == topic && s.status == ConsentStatus::Pending);
    if !pending {
        return Ok(false);
    }
    Ok(
        store::contacts::note_confirmation_mail(db, contact.id, topic, evidence, max_per_day)
            .await?,
    )
}
