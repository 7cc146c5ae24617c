//! A contact's wish not to be invited on a topic before a time ("gern ab März", "nach den
//! Sommerferien"), read from a reply: one per contact and topic, the latest reply wins.
//! Invitation audiences honour it (see [`deferred_condition`]).

use super::{now, on_tx, Db, Result, Timestamp, Tx};
use crate::domain::{ContactId, InboundId, TopicId};
use crate::on_db;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Wish {
    pub contact_id: ContactId,
    pub topic_id: TopicId,
    /// As read from the reply: "YYYY-MM" or "summer_holidays".
    pub wish: String,
    /// Resolved: the first moment the contact may be invited again.
    pub not_before: Timestamp,
    /// The Message-ID of the reply that said so.
    pub cause_ref: Option<String>,
    pub inbound_id: Option<InboundId>,
    pub created_at: Timestamp,
}

/// A wish with its topic's name, for `contacts show`.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct WishRow {
    pub topic: String,
    pub wish: String,
    pub not_before: Timestamp,
    pub cause_ref: Option<String>,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "contact_id, topic_id, wish, not_before, cause_ref, inbound_id, created_at";

/// The SQL condition "contact `c` has no wish for topic `topic` that is still in the future at
/// `now`" (both placeholders).
pub fn deferred_condition(topic: &str, now: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM wishes w WHERE w.contact_id = c.id AND w.topic_id = {topic}
                 AND w.not_before > {now})"
    )
}

const UPSERT: &str =
    "INSERT INTO wishes (contact_id, topic_id, wish, not_before, cause_ref, inbound_id, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (contact_id, topic_id) DO UPDATE SET wish = excluded.wish,
        not_before = excluded.not_before, cause_ref = excluded.cause_ref,
        inbound_id = excluded.inbound_id, created_at = excluded.created_at";

/// Runs [`UPSERT`] for a wish inside transaction `$tx` (either backend).
macro_rules! upsert {
    ($tx:expr, $w:expr) => {
        sqlx::query(UPSERT)
            .bind($w.contact_id)
            .bind($w.topic_id)
            .bind(&$w.wish)
            .bind($w.not_before)
            .bind(&$w.cause_ref)
            .bind($w.inbound_id)
            .bind($w.created_at)
            .execute(&mut *$tx)
            .await?
    };
}

/// Records `w` (replacing the contact's wish for that topic); returns the one it replaced.
pub async fn set(tx: &mut Tx, w: &Wish) -> Result<Option<Wish>> {
    let select = format!("SELECT {COLUMNS} FROM wishes WHERE contact_id = $1 AND topic_id = $2");
    let prev = on_tx!(tx, c => {
        let prev: Option<Wish> = sqlx::query_as(sqlx::AssertSqlSafe(select.as_str()))
            .bind(w.contact_id)
            .bind(w.topic_id)
            .fetch_optional(&mut *c)
            .await?;
        upsert!(c, w);
        prev
    });
    Ok(prev)
}

/// Puts back what [`set`] replaced: the previous wish, or none.
pub async fn restore(
    tx: &mut Tx,
    contact_id: ContactId,
    topic_id: TopicId,
    prev: Option<&Wish>,
) -> Result<()> {
    on_tx!(tx, c => {
        match prev {
            Some(w) => {
                upsert!(c, w);
            }
            None => {
                sqlx::query("DELETE FROM wishes WHERE contact_id = $1 AND topic_id = $2")
                    .bind(contact_id)
                    .bind(topic_id)
                    .execute(&mut *c)
                    .await?;
            }
        }
    });
    Ok(())
}

/// The contact's wishes, newest first.
pub async fn for_contact(db: &Db, contact_id: ContactId) -> Result<Vec<WishRow>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, WishRow>(
            "SELECT t.slug AS topic, w.wish, w.not_before, w.cause_ref, w.created_at
             FROM wishes w JOIN topics t ON t.id = w.topic_id
             WHERE w.contact_id = $1 ORDER BY w.created_at DESC, t.slug",
        )
        .bind(contact_id)
        .fetch_all(p)
        .await?
    }))
}

/// A wish read now from inbound message `inbound` (Message-ID `cause_ref`).
pub fn new_wish(
    contact_id: ContactId,
    topic_id: TopicId,
    wish: &str,
    not_before: Timestamp,
    cause_ref: Option<String>,
    inbound_id: Option<InboundId>,
) -> Wish {
    Wish {
        contact_id,
        topic_id,
        wish: wish.to_string(),
        not_before,
        cause_ref,
        inbound_id,
        created_at: now(),
    }
}
