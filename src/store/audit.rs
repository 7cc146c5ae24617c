//! The audit log: who changed what on the admin pages, and when. One row per action, never
//! changed afterwards; what an action is called and what it names is decided by the web layer
//! (`web::admin::audit`), the store keeps the words as given.

use super::{now, on_tx, Db, Result, Timestamp, Tx};
use crate::on_db;
use serde::Serialize;

/// An entry to record.
#[derive(Debug, Clone, Default)]
pub struct NewEntry<'a> {
    /// The login that acted (`token:NAME` for an API token's).
    pub user: &'a str,
    /// What was done, as a key (`campaign.send`, `contact.note`, ...).
    pub action: &'a str,
    /// What kind of thing it was done to (`contact`, `campaign`, ...), and which one.
    pub target_kind: Option<&'a str>,
    pub target: Option<&'a str>,
    /// A short addition (the review decision taken, a user's new role, ...).
    pub detail: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub at: Timestamp,
    pub user_name: String,
    pub action: String,
    pub target_kind: Option<String>,
    pub target: Option<String>,
    pub detail: Option<String>,
}

const INSERT: &str = "INSERT INTO admin_audit (at, user_name, action, target_kind, target, detail)
     VALUES ($1, $2, $3, $4, $5, $6)";

/// Records `e` as done now, inside `tx`.
pub async fn record_in(tx: &mut Tx, e: &NewEntry<'_>) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(INSERT)
            .bind(now())
            .bind(e.user)
            .bind(e.action)
            .bind(e.target_kind)
            .bind(e.target)
            .bind(e.detail)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Records `e` as done now, on its own.
pub async fn record(db: &Db, e: &NewEntry<'_>) -> Result<()> {
    let mut tx = db.begin().await?;
    record_in(&mut tx, e).await?;
    tx.commit().await
}

/// How many entries there are.
pub async fn count(db: &Db) -> Result<i64> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar("SELECT COUNT(*) FROM admin_audit")
            .fetch_one(p)
            .await?
    }))
}

/// Up to `limit` entries, newest first, after skipping the `offset` newest.
pub async fn page(db: &Db, limit: i64, offset: i64) -> Result<Vec<Entry>> {
    Ok(on_db!(db, p => {
        sqlx::query_as(
            "SELECT id, at, user_name, action, target_kind, target, detail FROM admin_audit
             ORDER BY id DESC LIMIT $1 OFFSET $2",
        )
        .bind(limit.max(0))
        .bind(offset.max(0))
        .fetch_all(p)
        .await?
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_come_back_newest_first_in_pages() {
        let db = Db::open("sqlite::memory:").await.unwrap();
        for (i, action) in ["topic.create", "contact.note", "campaign.send"]
            .iter()
            .enumerate()
        {
            let target = i.to_string();
            record(
                &db,
                &NewEntry {
                    user: "anna",
                    action,
                    target_kind: Some("contact"),
                    target: Some(&target),
                    detail: None,
                },
            )
            .await
            .unwrap();
        }
        assert_eq!(count(&db).await.unwrap(), 3);
        let first = page(&db, 2, 0).await.unwrap();
        let actions: Vec<&str> = first.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["campaign.send", "contact.note"]);
        let rest = page(&db, 2, 2).await.unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].action, "topic.create");
        assert_eq!(rest[0].user_name, "anna");
        assert_eq!(rest[0].target.as_deref(), Some("0"));
        assert!(rest[0].at <= first[0].at);
    }
}
