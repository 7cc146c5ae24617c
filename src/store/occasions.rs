//! Occasions: encounters to invite to (a café, a round table, a street festival).

use super::{now, Db, Result, StoreError, Timestamp};
use crate::domain::{OccasionId, TopicId};
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
    /// People coming in all: each confirmed RSVP counts its party size, or one.
    pub people: i64,
}

const COLUMNS: &str =
    "id, slug, title, starts_at, ends_at, place, description, capacity, topic_id, created_at";

pub async fn add(db: &Db, o: &NewOccasion) -> Result<Occasion> {
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
    let res = on_db!(db, p => {
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
            .fetch_all(p)
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

/// Occasions with their RSVP counts (confirmed encounters, declines, and people coming).
pub async fn list(db: &Db) -> Result<Vec<OccasionRow>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, OccasionRow>(
            "SELECT o.id, o.slug, o.title, o.starts_at, o.place, o.capacity, t.slug AS topic,
                COALESCE(SUM(CASE WHEN r.status = 'confirmed' THEN 1 ELSE 0 END), 0) AS coming,
                COALESCE(SUM(CASE WHEN r.status = 'declined' THEN 1 ELSE 0 END), 0) AS declined,
                CAST(COALESCE(SUM(CASE WHEN r.status = 'confirmed' THEN COALESCE(r.party_size, 1) ELSE 0 END), 0) AS BIGINT) AS people
             FROM occasions o
             LEFT JOIN topics t ON t.id = o.topic_id
             LEFT JOIN relations r ON r.occasion_id = o.id AND r.form = 'encounter'
             GROUP BY o.id, o.slug, o.title, o.starts_at, o.place, o.capacity, t.slug
             ORDER BY o.starts_at",
        )
        .fetch_all(p)
        .await?
    }))
}
