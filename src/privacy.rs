//! A person's own data (GDPR Art. 15 and 20): everything netzpost keeps about one contact, in
//! one structure that the preferences page (as JSON and as a readable page), `netzpost contacts
//! export-person` and the API all give out. Only this contact's rows: its fields, its consents
//! with their evidence, its relations, wishes, date poll answers, the messages it sent (their visible words, never
//! the raw bytes) and its timeline described in the reader's language.

use crate::domain::{ContactId, Lang};
use crate::store::contacts::SubscriptionRow;
use crate::store::inbound::PersonsMessage;
use crate::store::relations::Relation;
use crate::store::wishes::WishRow;
use crate::store::{self, Db, Timestamp};
use serde::Serialize;

/// What netzpost keeps about one person.
#[derive(Debug, Clone, Serialize)]
pub struct PersonalData {
    pub exported_at: Timestamp,
    pub contact: ContactData,
    /// Consent per topic, with how and when it was given or withdrawn, the consent text and
    /// the privacy notice's version.
    pub consents: Vec<SubscriptionRow>,
    pub relations: Vec<RelationData>,
    pub wishes: Vec<WishRow>,
    /// Which dates of an occasion's date poll suit them, as they answered.
    pub poll_answers: Vec<store::polls::ContactAnswer>,
    pub messages: Vec<PersonsMessage>,
    pub timeline: Vec<TimelineEntry>,
    /// The address is on the list of addresses never to be mailed.
    pub suppressed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContactData {
    pub email: String,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub language: Option<String>,
    /// The free columns an import or the API gave.
    pub attributes: serde_json::Value,
    /// Where the contact came from (an import file, the web form, the API).
    pub source: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_reply_at: Option<Timestamp>,
}

/// A relation, with the topic and occasion named.
#[derive(Debug, Clone, Serialize)]
pub struct RelationData {
    pub form: String,
    pub status: String,
    pub topic: Option<String>,
    pub occasion: Option<String>,
    pub since: Timestamp,
    pub until: Option<Timestamp>,
    pub cause: String,
    pub note: Option<String>,
    pub party_size: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub kind: String,
    pub description: String,
    pub campaign: Option<String>,
}

/// Everything kept about contact `id`, the timeline described in `lang`.
pub async fn personal_data(db: &Db, id: ContactId, lang: Lang) -> store::Result<PersonalData> {
    let c = store::contacts::by_id(db, id).await?;
    // `detail` reads the contact's own rows only (each query filters by its id).
    let mut d = store::contacts::detail(db, &c.email, 0).await?;
    crate::timeline::render(&mut d.timeline, lang);
    let topics = store::topics::list(db).await?;
    let occasions = store::occasions::list(db).await?;
    let topic_name = |t: Option<crate::domain::TopicId>| {
        t.and_then(|t| topics.iter().find(|x| x.id == t))
            .map(|x| x.title.clone())
    };
    let occasion_name = |o: Option<crate::domain::OccasionId>| {
        o.and_then(|o| occasions.iter().find(|x| x.id == o))
            .map(|x| x.title.clone())
    };
    let relations = d
        .relations
        .iter()
        .map(|r: &Relation| RelationData {
            form: r.form.to_string(),
            status: r.status.to_string(),
            topic: topic_name(r.topic_id),
            occasion: occasion_name(r.occasion_id),
            since: r.since,
            until: r.until,
            cause: r.cause_kind.clone(),
            note: r.note.clone(),
            party_size: r.party_size,
        })
        .collect();
    let messages = store::inbound::for_contact(db, id).await?;
    let poll_answers = store::polls::of_contact(db, id).await?;
    Ok(PersonalData {
        exported_at: store::now(),
        contact: ContactData {
            attributes: serde_json::from_str(&c.attributes)
                .unwrap_or(serde_json::Value::Object(Default::default())),
            email: c.email,
            name: c.name,
            organisation: c.organisation,
            language: c.language,
            source: c.source,
            created_at: c.created_at,
            updated_at: c.updated_at,
            last_reply_at: c.last_reply_at,
        },
        consents: d.subscriptions,
        relations,
        wishes: d.wishes,
        poll_answers,
        messages,
        timeline: d
            .timeline
            .into_iter()
            .map(|a| TimelineEntry {
                at: a.at,
                kind: a.kind,
                description: a.summary,
                campaign: a.campaign,
            })
            .collect(),
        suppressed: d.suppressed,
    })
}
