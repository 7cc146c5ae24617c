//! Topics: what contacts consent to and newsletters are about.

use super::{now, Db, Result, StoreError, Timestamp};
use crate::domain::TopicId;
use crate::on_db;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Topic {
    pub id: TopicId,
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    pub created_at: Timestamp,
    /// When it was archived: no new sends, hidden from the choices; its history stays.
    pub archived_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TopicStats {
    pub id: TopicId,
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    pub archived_at: Option<Timestamp>,
    pub confirmed: i64,
    pub pending: i64,
    pub unsubscribed: i64,
}

/// Topic slugs appear in URLs and CLI arguments: lower-case letters, digits and dashes.
pub fn check_slug(slug: &str) -> Result<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 64
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "invalid name {slug:?}: use lower-case letters, digits, '-' and '_' (at most 64)"
        )))
    }
}

pub async fn add(db: &Db, slug: &str, title: &str, description: Option<&str>) -> Result<Topic> {
    check_slug(slug)?;
    let res = on_db!(db, p => {
        sqlx::query_as::<_, Topic>(
            "INSERT INTO topics (slug, title, description, created_at) VALUES ($1, $2, $3, $4)
             RETURNING id, slug, title, description, created_at, archived_at",
        )
        .bind(slug)
        .bind(title)
        .bind(description)
        .bind(now())
        .fetch_all(p)
        .await
        .and_then(super::returned_one)
    });
    res.map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(format!("topic {slug:?} exists already"))
        }
        _ => e.into(),
    })
}

pub async fn list(db: &Db) -> Result<Vec<TopicStats>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, TopicStats>(
            "SELECT t.id, t.slug, t.title, t.description, t.archived_at,
                COALESCE(SUM(CASE WHEN s.status = 'confirmed' THEN 1 ELSE 0 END), 0) AS confirmed,
                COALESCE(SUM(CASE WHEN s.status = 'pending' THEN 1 ELSE 0 END), 0) AS pending,
                COALESCE(SUM(CASE WHEN s.status = 'unsubscribed' THEN 1 ELSE 0 END), 0) AS unsubscribed
             FROM topics t LEFT JOIN subscriptions s ON s.topic_id = t.id
             GROUP BY t.id, t.slug, t.title, t.description, t.archived_at ORDER BY t.slug",
        )
        .fetch_all(p)
        .await?
    }))
}

pub async fn get(db: &Db, slug: &str) -> Result<Topic> {
    find(db, slug)
        .await?
        .ok_or_else(|| StoreError::UnknownTopic(slug.to_string()))
}

pub async fn find(db: &Db, slug: &str) -> Result<Option<Topic>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, Topic>(
            "SELECT id, slug, title, description, created_at, archived_at FROM topics WHERE slug = $1",
        )
        .bind(slug)
        .fetch_optional(p)
        .await?
    }))
}

pub async fn by_id(db: &Db, id: TopicId) -> Result<Topic> {
    let t = on_db!(db, p => {
        sqlx::query_as::<_, Topic>(
            "SELECT id, slug, title, description, created_at, archived_at FROM topics WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?
    });
    t.ok_or_else(|| StoreError::NotFound(format!("no topic with id {id}")))
}

/// Removes a topic. Refuses while contacts hold consent for it unless `force`: consent records
/// are evidence and should not vanish by accident.
pub async fn remove(db: &Db, slug: &str, force: bool) -> Result<()> {
    let topic = get(db, slug).await?;
    let held: i64 = on_db!(db, p => {
        sqlx::query_scalar("SELECT COUNT(*) FROM subscriptions WHERE topic_id = $1 AND status <> 'unsubscribed'")
            .bind(topic.id)
            .fetch_one(p)
            .await?
    });
    if held > 0 && !force {
        return Err(StoreError::Conflict(format!(
            "topic {slug:?} still has {held} subscriptions"
        )));
    }
    on_db!(db, p => {
        sqlx::query("DELETE FROM topics WHERE id = $1")
            .bind(topic.id)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// Changes a topic's title and description (its name, in links and commands, stays).
pub async fn describe(
    db: &Db,
    slug: &str,
    title: &str,
    description: Option<&str>,
) -> Result<Topic> {
    let title = title.trim();
    if title.is_empty() {
        return Err(StoreError::Invalid("the title cannot be empty".into()));
    }
    let topic = get(db, slug).await?;
    on_db!(db, p => {
        sqlx::query("UPDATE topics SET title = $1, description = $2 WHERE id = $3")
            .bind(title)
            .bind(description.map(str::trim).filter(|d| !d.is_empty()))
            .bind(topic.id)
            .execute(p)
            .await?;
    });
    by_id(db, topic.id).await
}

/// Archives a topic (`archived`) or takes it back into use. An archived topic keeps its consent
/// records, campaigns and timeline entries; it gets no new sends (`campaigns::enqueue` refuses
/// it) and is left out of the choices.
pub async fn set_archived(db: &Db, slug: &str, archived: bool) -> Result<Topic> {
    let topic = get(db, slug).await?;
    let at = archived.then(now);
    on_db!(db, p => {
        sqlx::query("UPDATE topics SET archived_at = $1 WHERE id = $2")
            .bind(at)
            .bind(topic.id)
            .execute(p)
            .await?;
    });
    by_id(db, topic.id).await
}
