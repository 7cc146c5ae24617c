//! The people who share the work as stored: their logins listed with role and topics, and the
//! invitations that make new ones (one-time links; only the hash of a link's secret is stored).
//! The first administrator's setup link is in `auth`.

use super::{now, on_tx, Db, Result, StoreError, Timestamp};
use crate::on_db;
use serde::Serialize;

/// A person's login as listed (never an API token's).
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub name: String,
    pub role: String,
    pub email: Option<String>,
    /// Short names of the topics a coordinator or helper works on.
    pub topics: Vec<String>,
    /// When one of their sessions was last used.
    pub last_seen_at: Option<Timestamp>,
}

/// Every person's login, by name.
pub async fn members(db: &Db) -> Result<Vec<Member>> {
    type Row = (String, String, Option<String>, Option<Timestamp>);
    let rows: Vec<Row> = on_db!(db, p => {
        sqlx::query_as(
            "SELECT u.name, u.role, u.email,
                    (SELECT MAX(COALESCE(s.last_used_at, s.created_at)) FROM admin_sessions s
                     WHERE s.user_name = u.name)
             FROM admin_users u WHERE u.name NOT LIKE 'token:%' ORDER BY u.name",
        )
        .fetch_all(p)
        .await?
    });
    let pairs: Vec<(String, String)> = on_db!(db, p => {
        sqlx::query_as(
            "SELECT a.user_name, t.slug FROM admin_user_topics a JOIN topics t ON t.id = a.topic_id
             ORDER BY t.slug",
        )
        .fetch_all(p)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|(name, role, email, last_seen_at)| Member {
            topics: pairs
                .iter()
                .filter(|(u, _)| *u == name)
                .map(|(_, t)| t.clone())
                .collect(),
            name,
            role,
            email,
            last_seen_at,
        })
        .collect())
}

/// How many logins have the administrator role (API tokens' logins not counted).
pub async fn administrators(db: &Db) -> Result<i64> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM admin_users WHERE role = 'administrator' AND name NOT LIKE 'token:%'",
        )
        .fetch_one(p)
        .await?
    }))
}

/// Whether a login (or an open invitation) has this name.
pub async fn name_taken(db: &Db, user: &str) -> Result<bool> {
    let n: i64 = on_db!(db, p => {
        sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM admin_users WHERE name = $1)
                  + (SELECT COUNT(*) FROM admin_invitations
                     WHERE user_name = $1 AND used_at IS NULL AND expires_at > $2)",
        )
        .bind(user)
        .bind(now())
        .fetch_one(p)
        .await?
    });
    Ok(n > 0)
}

/// An invitation to store: for whom, with which role and topics, by whom, until when.
pub struct NewInvitation<'a> {
    pub token_hash: &'a str,
    pub user: &'a str,
    pub email: Option<&'a str>,
    pub role: &'a str,
    pub topic_ids: &'a [i64],
    pub created_by: &'a str,
    pub expires_at: Timestamp,
}

/// Stores an invitation with its topics, together.
pub async fn invite(db: &Db, i: &NewInvitation<'_>) -> Result<()> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query(
            "INSERT INTO admin_invitations (token_hash, user_name, email, role, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(i.token_hash)
        .bind(i.user)
        .bind(i.email)
        .bind(i.role)
        .bind(i.created_by)
        .bind(now())
        .bind(i.expires_at)
        .execute(&mut *c)
        .await?;
        for id in i.topic_ids {
            sqlx::query("INSERT INTO admin_invitation_topics (token_hash, topic_id) VALUES ($1, $2)")
                .bind(i.token_hash)
                .bind(id)
                .execute(&mut *c)
                .await?;
        }
    });
    tx.commit().await
}

/// An open invitation: for whom, with which role, by whom and until when.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Invitation {
    pub user_name: String,
    pub email: Option<String>,
    pub role: String,
    pub created_by: Option<String>,
    pub expires_at: Timestamp,
}

const OPEN: &str = "user_name IS NOT NULL AND used_at IS NULL AND expires_at > $1";

/// The invitation with this hash, if it still works (unused, not expired).
pub async fn open_invitation(db: &Db, token_hash: &str) -> Result<Option<Invitation>> {
    let sql = format!(
        "SELECT user_name, email, role, created_by, expires_at FROM admin_invitations
         WHERE {OPEN} AND token_hash = $2"
    );
    Ok(on_db!(db, p => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(now())
            .bind(token_hash)
            .fetch_optional(p)
            .await?
    }))
}

/// The invitations that still work, the newest first.
pub async fn open_invitations(db: &Db) -> Result<Vec<Invitation>> {
    let sql = format!(
        "SELECT user_name, email, role, created_by, expires_at FROM admin_invitations
         WHERE {OPEN} ORDER BY created_at DESC"
    );
    Ok(on_db!(db, p => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(now())
            .fetch_all(p)
            .await?
    }))
}

/// Withdraws the open invitations for `user`; returns how many there were.
pub async fn withdraw_invitations(db: &Db, user: &str) -> Result<u64> {
    Ok(on_db!(db, p => {
        sqlx::query(
            "UPDATE admin_invitations SET expires_at = $1
             WHERE user_name = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now())
        .bind(user)
        .execute(p)
        .await?
        .rows_affected()
    }))
}

/// Uses the invitation with this hash: marks it used and creates its login with the password
/// hash, role, address and topics, in one transaction. The login's name, or None (and nothing
/// changed) when the invitation is unknown, used or expired; of two uses at once, one wins. A
/// login of that name made meanwhile is a [`StoreError::Conflict`].
pub async fn redeem_invitation(
    db: &Db,
    token_hash: &str,
    password_hash: &str,
) -> Result<Option<String>> {
    let at = now();
    let mut tx = db.begin().await?;
    let out = on_tx!(&mut tx, c => {
        let marked = sqlx::query(
            "UPDATE admin_invitations SET used_at = $1
             WHERE token_hash = $2 AND user_name IS NOT NULL AND used_at IS NULL AND expires_at > $1",
        )
        .bind(at)
        .bind(token_hash)
        .execute(&mut *c)
        .await?
        .rows_affected();
        if marked != 1 {
            None
        } else {
            let (user, email, role): (String, Option<String>, String) = sqlx::query_as(
                "SELECT user_name, email, role FROM admin_invitations WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_one(&mut *c)
            .await?;
            let made = sqlx::query(
                "INSERT INTO admin_users (name, password_hash, updated_at, role, email)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
            )
            .bind(&user)
            .bind(password_hash)
            .bind(at)
            .bind(&role)
            .bind(&email)
            .execute(&mut *c)
            .await?
            .rows_affected();
            if made != 1 {
                Some(Err(user))
            } else {
                sqlx::query(
                    "INSERT INTO admin_user_topics (user_name, topic_id)
                     SELECT $1, topic_id FROM admin_invitation_topics WHERE token_hash = $2",
                )
                .bind(&user)
                .bind(token_hash)
                .execute(&mut *c)
                .await?;
                Some(Ok(user))
            }
        }
    });
    match out {
        Some(Ok(user)) => {
            tx.commit().await?;
            Ok(Some(user))
        }
        Some(Err(user)) => Err(StoreError::Conflict(format!(
            "a login named {user:?} exists already"
        ))),
        None => Ok(None),
    }
}
