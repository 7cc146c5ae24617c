//! Occasions: encounters to invite to (a café, a round table, a street festival).

use super::{now, on_tx, Db, Result, StoreError, Timestamp, Tx};
use crate::domain::{CampaignId, ContactId, OccasionId, RelationStatus, TopicId};
use crate::on_db;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Occasion {
    pub id: OccasionId,
    pub slug: String,
    pub title: String,
    pub starts_at: Timestamp,
    pub ends_at: Option<Timestamp>,
    pub place: Option<String>,
    pub description: Option<String>,
    pub capacity: Option<i64>,
    pub topic_id: Option<TopicId>,
    pub created_at: Timestamp,
    /// iCalendar SEQUENCE: raised by each change of time or place (RFC 5546 2.1.4).
    pub sequence: i64,
    pub cancelled_at: Option<Timestamp>,
    pub cancel_reason: Option<String>,
    /// Days before the start the reminder goes out (None: the configured default, 0: none).
    pub reminder_days: Option<i64>,
    /// Days after the invitation the follow-up goes out (None: the configured default, 0: none).
    pub follow_up_days: Option<i64>,
    /// How many candidate dates the occasion offers in its date poll (0: none, a fixed date).
    pub poll_dates: i64,
    /// The candidate the coordinator picked (then `starts_at` and `ends_at` are its times).
    pub picked_date: Option<i64>,
}

impl Occasion {
    /// Whether its date is still being found: candidates offered and none picked yet. Such an
    /// occasion's own start is only candidate 1's, so no mail names it as the date.
    pub fn poll_open(&self) -> bool {
        self.poll_dates > 0 && self.picked_date.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct NewOccasion {
    pub slug: String,
    pub title: String,
    pub starts_at: Timestamp,
    pub ends_at: Option<Timestamp>,
    pub place: Option<String>,
    pub description: Option<String>,
    pub capacity: Option<i64>,
    pub topic_id: Option<TopicId>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OccasionRow {
    pub id: OccasionId,
    pub slug: String,
    pub title: String,
    pub starts_at: Timestamp,
    pub place: Option<String>,
    pub capacity: Option<i64>,
    pub topic: Option<String>,
    pub coming: i64,
    pub declined: i64,
    /// On the waiting list (said yes when the places were taken).
    pub waiting: i64,
    /// People coming in all: each confirmed RSVP counts its party size, or one.
    pub people: i64,
    pub cancelled_at: Option<Timestamp>,
}

pub(super) const COLUMNS: &str =
    "id, slug, title, starts_at, ends_at, place, description, capacity, topic_id, created_at, \
     sequence, cancelled_at, cancel_reason, reminder_days, follow_up_days, \
     (SELECT COUNT(*) FROM occasion_dates d WHERE d.occasion_id = occasions.id) AS poll_dates, \
     picked_date";

/// On `occasions` (unaliased): its date poll is open (candidates, none picked).
pub(super) const POLL_OPEN: &str = "(picked_date IS NULL AND EXISTS \
     (SELECT 1 FROM occasion_dates d WHERE d.occasion_id = occasions.id))";

pub async fn add(db: &Db, o: &NewOccasion) -> Result<Occasion> {
    let mut tx = db.begin().await?;
    let added = add_tx(&mut tx, o).await?;
    tx.commit().await?;
    Ok(added)
}

/// [`add`] within the caller's transaction (a date poll adds its candidates in the same one).
pub async fn add_tx(tx: &mut Tx, o: &NewOccasion) -> Result<Occasion> {
    super::topics::check_slug(&o.slug)?;
    if let Some(end) = o.ends_at {
        if end < o.starts_at {
            return Err(StoreError::Invalid(format!(
                "occasion {:?} ends before it starts",
                o.slug
            )));
        }
    }
    let sql = format!(
        "INSERT INTO occasions (slug, title, starts_at, ends_at, place, description, capacity, topic_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
    );
    let res = on_tx!(tx, p => {
        sqlx::query_as::<_, Occasion>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&o.slug)
            .bind(&o.title)
            .bind(o.starts_at)
            .bind(o.ends_at)
            .bind(&o.place)
            .bind(&o.description)
            .bind(o.capacity)
            .bind(o.topic_id)
            .bind(now())
            .fetch_all(&mut *p)
            .await
            .and_then(super::returned_one)
    });
    res.map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(format!("occasion {:?} exists already", o.slug))
        }
        _ => e.into(),
    })
}

pub async fn get(db: &Db, slug: &str) -> Result<Occasion> {
    let sql = format!("SELECT {COLUMNS} FROM occasions WHERE slug = $1");
    let o = on_db!(db, p => sqlx::query_as::<_, Occasion>(sqlx::AssertSqlSafe(sql.as_str())).bind(slug).fetch_optional(p).await?);
    o.ok_or_else(|| StoreError::UnknownOccasion(slug.to_string()))
}

pub async fn by_id(db: &Db, id: OccasionId) -> Result<Occasion> {
    let sql = format!("SELECT {COLUMNS} FROM occasions WHERE id = $1");
    let o = on_db!(db, p => sqlx::query_as::<_, Occasion>(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await?);
    o.ok_or_else(|| StoreError::NotFound(format!("no occasion with id {id}")))
}

/// The occasions of a public calendar: those of `topic` (or all) that end (or, without an end,
/// start) at or after `since`, cancelled ones included, by start; at most `limit`. An occasion
/// whose date poll is open has no date yet and is left out.
pub async fn calendar(
    db: &Db,
    topic: Option<TopicId>,
    since: Timestamp,
    limit: i64,
) -> Result<Vec<Occasion>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM occasions
         WHERE COALESCE(ends_at, starts_at) >= $1 AND ($2 IS NULL OR topic_id = $2)
           AND NOT {POLL_OPEN}
         ORDER BY starts_at, id LIMIT $3"
    );
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, Occasion>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(since)
            .bind(topic)
            .bind(limit)
            .fetch_all(p)
            .await?
    }))
}

/// Occasions with their RSVP counts (confirmed encounters, declines, and people coming).
pub async fn list(db: &Db) -> Result<Vec<OccasionRow>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, OccasionRow>(
            "SELECT o.id, o.slug, o.title, o.starts_at, o.place, o.capacity, t.slug AS topic,
                COALESCE(SUM(CASE WHEN r.status = 'confirmed' THEN 1 ELSE 0 END), 0) AS coming,
                COALESCE(SUM(CASE WHEN r.status = 'declined' THEN 1 ELSE 0 END), 0) AS declined,
                COALESCE(SUM(CASE WHEN r.status = 'waiting' THEN 1 ELSE 0 END), 0) AS waiting,
                CAST(COALESCE(SUM(CASE WHEN r.status = 'confirmed' THEN COALESCE(r.party_size, 1) ELSE 0 END), 0) AS BIGINT) AS people,
                o.cancelled_at
             FROM occasions o
             LEFT JOIN topics t ON t.id = o.topic_id
             LEFT JOIN relations r ON r.occasion_id = o.id AND r.form = 'encounter'
             GROUP BY o.id, o.slug, o.title, o.starts_at, o.place, o.capacity, t.slug, o.cancelled_at
             ORDER BY o.starts_at",
        )
        .fetch_all(p)
        .await?
    }))
}

/// Writes the occasion's fields as given (a change of time or place also raises `sequence`, which
/// the caller decides), within the caller's transaction.
pub async fn update(tx: &mut Tx, o: &Occasion) -> Result<()> {
    if let Some(end) = o.ends_at {
        if end < o.starts_at {
            return Err(StoreError::Invalid(format!(
                "occasion {:?} ends before it starts",
                o.slug
            )));
        }
    }
    on_tx!(tx, c => {
        sqlx::query(
            "UPDATE occasions SET title = $1, starts_at = $2, ends_at = $3, place = $4,
                description = $5, capacity = $6, sequence = $7, cancelled_at = $8,
                cancel_reason = $9 WHERE id = $10",
        )
        .bind(&o.title)
        .bind(o.starts_at)
        .bind(o.ends_at)
        .bind(&o.place)
        .bind(&o.description)
        .bind(o.capacity)
        .bind(o.sequence)
        .bind(o.cancelled_at)
        .bind(&o.cancel_reason)
        .bind(o.id)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// The occasion as it is inside `tx` (read again after taking the write lock, so two changes
/// at once each raise the sequence).
pub async fn by_id_tx(tx: &mut Tx, id: OccasionId) -> Result<Occasion> {
    let sql = format!("SELECT {COLUMNS} FROM occasions WHERE id = $1");
    let o = on_tx!(tx, c => sqlx::query_as::<_, Occasion>(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(&mut *c).await?);
    o.ok_or_else(|| StoreError::NotFound(format!("no occasion with id {id}")))
}

/// One contact invited to an occasion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Invitee {
    pub contact_id: ContactId,
    /// The first invitation campaign whose mail reached the contact: an update names the same
    /// delivery (its reply address is the ORGANIZER the contact's calendar keeps).
    pub campaign_id: CampaignId,
}

/// Contacts an invitation to occasion `id` was sent to who have not declined it, each with the
/// first campaign that reached them. Consent holds here too: a contact whose consent for that
/// campaign's topic is no longer confirmed, or whose address is suppressed, is left out.
pub async fn invitees_not_declined(tx: &mut Tx, id: OccasionId) -> Result<Vec<Invitee>> {
    Ok(on_tx!(tx, c => {
        sqlx::query_as::<_, Invitee>(
            "SELECT d.contact_id, MIN(d.campaign_id) AS campaign_id
             FROM deliveries d JOIN campaigns k ON k.id = d.campaign_id
             WHERE k.occasion_id = $1 AND k.kind = 'invitation' AND k.occasion_mail IS NULL
               AND d.status = 'sent'
               AND NOT EXISTS (SELECT 1 FROM relations r WHERE r.contact_id = d.contact_id
                   AND r.form = 'encounter' AND r.occasion_id = $1 AND r.status = 'declined')
               AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = d.contact_id
                   AND s.topic_id = k.topic_id AND s.status = 'confirmed')
               AND NOT EXISTS (SELECT 1 FROM contacts c JOIN suppressions x
                   ON x.address = c.email_key WHERE c.id = d.contact_id)
             GROUP BY d.contact_id ORDER BY d.contact_id",
        )
        .bind(id)
        .fetch_all(&mut *c)
        .await?
    }))
}

/// One person on the list at the door.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DoorRow {
    pub contact_id: ContactId,
    pub email: String,
    pub name: Option<String>,
    /// Their answer, if any.
    pub status: Option<RelationStatus>,
    pub party_size: Option<i64>,
    /// `came`, `no_show`, or none recorded.
    pub attendance: Option<String>,
}

/// Everyone who may turn up at occasion `id`: each contact with an answer to it, and each one
/// an invitation reached; those who said yes first, then those who did not answer, then the
/// others, each by name.
pub async fn door_list(db: &Db, id: OccasionId) -> Result<Vec<DoorRow>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, DoorRow>(
            "SELECT c.id AS contact_id, c.email, c.name, r.status, r.party_size, r.attendance
             FROM contacts c
             LEFT JOIN relations r ON r.contact_id = c.id AND r.form = 'encounter'
                 AND r.occasion_id = $1
             WHERE r.id IS NOT NULL OR EXISTS (SELECT 1 FROM deliveries d
                 JOIN campaigns k ON k.id = d.campaign_id
                 WHERE d.contact_id = c.id AND k.occasion_id = $1 AND d.status = 'sent')
             ORDER BY CASE WHEN r.status = 'confirmed' THEN 0 WHEN r.status IS NULL THEN 1 ELSE 2 END,
                 LOWER(COALESCE(c.name, c.email)), c.id",
        )
        .bind(id)
        .fetch_all(p)
        .await?
    }))
}

/// Places at occasion `id`, read for a decision on them: the capacity (none: no limit) and the
/// occasion's row held until the transaction ends on PostgreSQL (`FOR UPDATE`), so two answers
/// to the same occasion decide one after the other (SQLite's `BEGIN IMMEDIATE` does that anyway).
pub async fn lock_places(tx: &mut Tx, id: OccasionId) -> Result<Option<i64>> {
    let capacity: Option<Option<i64>> = match tx {
        Tx::Sqlite(c) => {
            sqlx::query_scalar("SELECT capacity FROM occasions WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut **c)
                .await?
        }
        Tx::Postgres(c) => {
            sqlx::query_scalar("SELECT capacity FROM occasions WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut **c)
                .await?
        }
    };
    capacity.ok_or_else(|| StoreError::NotFound(format!("no occasion with id {id}")))
}

/// People coming to occasion `id` (each yes counts its party size, or one), leaving out
/// `except`'s own answer.
pub async fn places_taken(tx: &mut Tx, id: OccasionId, except: Option<ContactId>) -> Result<i64> {
    Ok(on_tx!(tx, c => {
        sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(COALESCE(party_size, 1)), 0) AS BIGINT) FROM relations
             WHERE occasion_id = $1 AND form = 'encounter' AND status = 'confirmed'
               AND contact_id <> $2",
        )
        .bind(id)
        .bind(except.map_or(0, ContactId::get))
        .fetch_one(&mut *c)
        .await?
    }))
}

/// One person on an occasion's waiting list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Waiting {
    pub contact_id: ContactId,
    /// How many they come with, in all (one when not said).
    pub party: i64,
}

/// The waiting list of occasion `id`, first in line first (by when they were put on it).
pub async fn waiting_list(tx: &mut Tx, id: OccasionId) -> Result<Vec<Waiting>> {
    Ok(on_tx!(tx, c => {
        sqlx::query_as::<_, Waiting>(
            "SELECT contact_id, COALESCE(party_size, 1) AS party FROM relations
             WHERE occasion_id = $1 AND form = 'encounter' AND status = 'waiting'
             ORDER BY updated_at, id",
        )
        .bind(id)
        .fetch_all(&mut *c)
        .await?
    }))
}

/// The first invitation campaign to occasion `id` whose mail reached `contact` (the frame of any
/// later mail about it: its reply address is the ORGANIZER in the contact's calendar).
pub async fn first_invitation(
    db: &Db,
    id: OccasionId,
    contact: ContactId,
) -> Result<Option<CampaignId>> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar(
            "SELECT MIN(d.campaign_id) FROM deliveries d JOIN campaigns k ON k.id = d.campaign_id
             WHERE k.occasion_id = $1 AND k.kind = 'invitation' AND k.occasion_mail IS NULL
               AND d.status = 'sent'
               AND d.contact_id = $2",
        )
        .bind(id)
        .bind(contact)
        .fetch_one(p)
        .await?
    }))
}

/// One person on an occasion's waiting list, as a coordinator sees it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct WaitingPerson {
    pub email: String,
    pub name: Option<String>,
    pub party: i64,
    /// Since when they wait.
    pub since: Timestamp,
}

/// The waiting list of occasion `id` in line order, with names and addresses.
pub async fn waiting_people(db: &Db, id: OccasionId) -> Result<Vec<WaitingPerson>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, WaitingPerson>(
            "SELECT c.email, c.name, COALESCE(r.party_size, 1) AS party, r.updated_at AS since
             FROM relations r JOIN contacts c ON c.id = r.contact_id
             WHERE r.occasion_id = $1 AND r.form = 'encounter' AND r.status = 'waiting'
             ORDER BY r.updated_at, r.id",
        )
        .bind(id)
        .fetch_all(p)
        .await?
    }))
}
