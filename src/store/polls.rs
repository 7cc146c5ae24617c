//! Date polls (Terminfindung): an occasion's candidate dates, the answers of the invited to
//! each, the tally, and the date picked.

use super::{now, on_tx, Db, Result, StoreError, Timestamp, Tx};
use crate::domain::{ContactId, OccasionId};
use crate::on_db;
use serde::Serialize;

/// A candidate date: its start and its end, if it has one.
pub type Candidate = (Timestamp, Option<Timestamp>);

/// The most candidates a poll offers (the invitation numbers them 1 to this).
pub const MAX_DATES: usize = 5;

/// One candidate date of an occasion.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct PollDate {
    /// Its number in the invitation, from 1.
    pub position: i64,
    pub starts_at: Timestamp,
    pub ends_at: Option<Timestamp>,
}

/// One candidate with how many said it suits them and how many said it does not.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct TallyRow {
    pub position: i64,
    pub starts_at: Timestamp,
    pub ends_at: Option<Timestamp>,
    pub can: i64,
    pub cannot: i64,
}

/// Adds occasion `id`'s candidates, numbered from 1 in the order given.
pub async fn add_dates(
    tx: &mut Tx,
    id: OccasionId,
    dates: &[(Timestamp, Option<Timestamp>)],
) -> Result<()> {
    if !(2..=MAX_DATES).contains(&dates.len()) {
        return Err(StoreError::Invalid(format!(
            "a date poll offers 2 to {MAX_DATES} dates, not {}",
            dates.len()
        )));
    }
    for (i, (start, end)) in dates.iter().enumerate() {
        if end.is_some_and(|e| e < *start) {
            return Err(StoreError::Invalid(format!(
                "date {} of the poll ends before it starts",
                i + 1
            )));
        }
        let position = i64::try_from(i + 1).unwrap_or(i64::MAX);
        on_tx!(tx, c => {
            sqlx::query(
                "INSERT INTO occasion_dates (occasion_id, position, starts_at, ends_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(position)
            .bind(*start)
            .bind(*end)
            .execute(&mut *c)
            .await?;
        });
    }
    Ok(())
}

/// Occasion `id`'s candidates by number (none: it has a fixed date).
pub async fn dates(db: &Db, id: OccasionId) -> Result<Vec<PollDate>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, PollDate>(
            "SELECT position, starts_at, ends_at FROM occasion_dates
             WHERE occasion_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(p)
        .await?
    }))
}

/// `contact`'s answers to occasion `id`'s poll: (number, suits them), by number.
pub async fn answers_of(
    tx: &mut Tx,
    id: OccasionId,
    contact: ContactId,
) -> Result<Vec<(i64, bool)>> {
    let rows: Vec<(i64, i64)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT position, can FROM poll_answers
             WHERE occasion_id = $1 AND contact_id = $2 ORDER BY position",
        )
        .bind(id)
        .bind(contact)
        .fetch_all(&mut *c)
        .await?
    });
    Ok(rows.into_iter().map(|(p, c)| (p, c == 1)).collect())
}

/// Replaces `contact`'s answers to occasion `id`'s poll by `answers` (number, suits them); an
/// empty list removes them.
pub async fn set_answers(
    tx: &mut Tx,
    id: OccasionId,
    contact: ContactId,
    answers: &[(i64, bool)],
) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM poll_answers WHERE occasion_id = $1 AND contact_id = $2")
            .bind(id)
            .bind(contact)
            .execute(&mut *c)
            .await?;
    });
    let at = now();
    for (position, can) in answers {
        on_tx!(tx, c => {
            sqlx::query(
                "INSERT INTO poll_answers (occasion_id, contact_id, position, can, answered_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(contact)
            .bind(*position)
            .bind(i64::from(*can))
            .bind(at)
            .execute(&mut *c)
            .await?;
        });
    }
    Ok(())
}

/// Each candidate of occasion `id` with its counts, by number.
pub async fn tally(db: &Db, id: OccasionId) -> Result<Vec<TallyRow>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, TallyRow>(
            "SELECT d.position, d.starts_at, d.ends_at,
                CAST(COALESCE(SUM(CASE WHEN a.can = 1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS can,
                CAST(COALESCE(SUM(CASE WHEN a.can = 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS cannot
             FROM occasion_dates d
             LEFT JOIN poll_answers a ON a.occasion_id = d.occasion_id AND a.position = d.position
             WHERE d.occasion_id = $1
             GROUP BY d.position, d.starts_at, d.ends_at ORDER BY d.position",
        )
        .bind(id)
        .fetch_all(p)
        .await?
    }))
}

/// How many contacts answered occasion `id`'s poll.
pub async fn respondents(db: &Db, id: OccasionId) -> Result<i64> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar(
            "SELECT COUNT(DISTINCT contact_id) FROM poll_answers WHERE occasion_id = $1",
        )
        .bind(id)
        .fetch_one(p)
        .await?
    }))
}

/// Makes candidate `position` occasion `id`'s date: its start and end, and the poll closed.
/// The occasion's row is held for the rest of `tx` (PostgreSQL `FOR UPDATE`; SQLite's
/// `BEGIN IMMEDIATE` does that anyway), so of two picks at once the second finds it picked and
/// gets a conflict.
pub async fn pick(tx: &mut Tx, id: OccasionId, position: i64) -> Result<PollDate> {
    let picked: Option<Option<i64>> = match tx {
        Tx::Sqlite(c) => {
            sqlx::query_scalar("SELECT picked_date FROM occasions WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut **c)
                .await?
        }
        Tx::Postgres(c) => {
            sqlx::query_scalar("SELECT picked_date FROM occasions WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut **c)
                .await?
        }
    };
    match picked {
        None => return Err(StoreError::NotFound(format!("no occasion with id {id}"))),
        Some(Some(n)) => {
            return Err(StoreError::Conflict(format!(
                "the date of this occasion was picked already (date {n})"
            )))
        }
        Some(None) => {}
    }
    let date: Option<PollDate> = on_tx!(tx, c => {
        sqlx::query_as::<_, PollDate>(
            "SELECT position, starts_at, ends_at FROM occasion_dates
             WHERE occasion_id = $1 AND position = $2",
        )
        .bind(id)
        .bind(position)
        .fetch_optional(&mut *c)
        .await?
    });
    let date = date
        .ok_or_else(|| StoreError::Invalid(format!("the poll has no date {position} to pick")))?;
    on_tx!(tx, c => {
        sqlx::query(
            "UPDATE occasions SET picked_date = $1, starts_at = $2, ends_at = $3 WHERE id = $4",
        )
        .bind(position)
        .bind(date.starts_at)
        .bind(date.ends_at)
        .bind(id)
        .execute(&mut *c)
        .await?;
    });
    Ok(date)
}

/// Contacts who said candidate `position` of occasion `id` suits them.
pub async fn who_can(tx: &mut Tx, id: OccasionId, position: i64) -> Result<Vec<ContactId>> {
    Ok(on_tx!(tx, c => {
        sqlx::query_scalar(
            "SELECT contact_id FROM poll_answers
             WHERE occasion_id = $1 AND position = $2 AND can = 1 ORDER BY contact_id",
        )
        .bind(id)
        .bind(position)
        .fetch_all(&mut *c)
        .await?
    }))
}

/// The contacts who answered occasion `id`'s poll.
pub async fn respondent_ids(db: &Db, id: OccasionId) -> Result<Vec<ContactId>> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar(
            "SELECT DISTINCT contact_id FROM poll_answers WHERE occasion_id = $1 ORDER BY contact_id",
        )
        .bind(id)
        .fetch_all(p)
        .await?
    }))
}

/// One of a contact's answers to a date poll, for their own data.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ContactAnswer {
    pub occasion: String,
    /// The date's number in the poll.
    pub date: i64,
    pub starts_at: Timestamp,
    pub suits: bool,
    pub answered_at: Timestamp,
}

/// Every poll answer of `contact`, by occasion and date.
pub async fn of_contact(db: &Db, contact: ContactId) -> Result<Vec<ContactAnswer>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, ContactAnswer>(
            "SELECT o.title AS occasion, a.position AS date, d.starts_at,
                CASE WHEN a.can = 1 THEN TRUE ELSE FALSE END AS suits, a.answered_at
             FROM poll_answers a
             JOIN occasions o ON o.id = a.occasion_id
             JOIN occasion_dates d ON d.occasion_id = a.occasion_id AND d.position = a.position
             WHERE a.contact_id = $1 ORDER BY o.id, a.position",
        )
        .bind(contact)
        .fetch_all(p)
        .await?
    }))
}
