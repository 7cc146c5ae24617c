//! Admin credentials as stored: API tokens, admin logins and their sessions. Only hashes reach
//! this module; making and checking secrets is `web::auth`'s.

use super::{now, on_tx, Db, Result, StoreError, Timestamp};
use crate::on_db;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// Stores a new token under `name`; a name in use is a [`StoreError::Conflict`].
pub async fn insert_token(db: &Db, name: &str, token_hash: &str) -> Result<()> {
    let res = on_db!(db, p => {
        sqlx::query("INSERT INTO api_tokens (name, token_hash, created_at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(token_hash)
            .bind(now())
            .execute(p)
            .await
            .map(|r| r.rows_affected())
    });
    match res {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => Err(StoreError::Conflict(
            format!("a token named {name:?} exists already (revoke it or choose another name)"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Revokes the active token `name` and ends every admin session signed in with it, together.
/// Returns whether there was such a token.
pub async fn revoke_token(db: &Db, name: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    let n = on_tx!(&mut tx, c => {
        let n = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
            .bind(now())
            .bind(name)
            .execute(&mut *c)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM admin_sessions WHERE user_name = $1")
            .bind(token_user(name))
            .execute(&mut *c)
            .await?;
        n
    });
    tx.commit().await?;
    Ok(n > 0)
}

pub async fn list_tokens(db: &Db) -> Result<Vec<ApiToken>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, ApiToken>(
            "SELECT name, created_at, last_used_at, revoked_at FROM api_tokens ORDER BY name",
        )
        .fetch_all(p)
        .await?
    }))
}

/// The name of the active token with this hash, if any; notes its use.
pub async fn use_token(db: &Db, token_hash: &str) -> Result<Option<String>> {
    let name: Option<String> = on_db!(db, p => {
        sqlx::query_scalar("SELECT name FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(token_hash)
            .fetch_optional(p)
            .await?
    });
    if name.is_some() {
        on_db!(db, p => {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2")
                .bind(now())
                .bind(token_hash)
                .execute(p)
                .await?;
        });
    }
    Ok(name)
}

/// The admin login that sessions signed in with token `name` belong to.
pub fn token_user(name: &str) -> String {
    format!("token:{name}")
}

/// Makes sure the login of token `token_name` exists: `token:NAME`, with no password (the stored
/// hash matches nothing), so it exists only for sessions. Returns the login's name.
pub async fn ensure_token_user(db: &Db, token_name: &str) -> Result<String> {
    let user = token_user(token_name);
    on_db!(db, p => {
        sqlx::query(
            "INSERT INTO admin_users (name, password_hash, updated_at) VALUES ($1, 'token-only', $2)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&user)
        .bind(now())
        .execute(p)
        .await?;
    });
    Ok(user)
}

/// Creates or updates an admin login's password hash; every open session of that login ends in
/// the same transaction.
pub async fn set_password_hash(db: &Db, user: &str, password_hash: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query(
            "INSERT INTO admin_users (name, password_hash, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at",
        )
        .bind(user)
        .bind(password_hash)
        .bind(now())
        .execute(&mut *c)
        .await?;
        sqlx::query("DELETE FROM admin_sessions WHERE user_name = $1")
            .bind(user)
            .execute(&mut *c)
            .await?;
    });
    tx.commit().await?;
    Ok(())
}

/// Removes an admin login (never a token's) with its open sessions. Returns whether it existed.
pub async fn remove_user(db: &Db, user: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    let n = on_tx!(&mut tx, c => {
        sqlx::query("DELETE FROM admin_sessions WHERE user_name = $1")
            .bind(user)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM admin_user_topics WHERE user_name = $1")
            .bind(user)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM admin_users WHERE name = $1 AND name NOT LIKE 'token:%'")
            .bind(user)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    tx.commit().await?;
    Ok(n > 0)
}

pub async fn password_hash(db: &Db, user: &str) -> Result<Option<String>> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar("SELECT password_hash FROM admin_users WHERE name = $1")
            .bind(user)
            .fetch_optional(p)
            .await?
    }))
}

/// A session as stored: the id's hash, its login and CSRF token, and when it ends.
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub user: &'a str,
    pub csrf: &'a str,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The browser's User-Agent and the client address, to recognise the session by.
    pub user_agent: Option<&'a str>,
    pub address: Option<&'a str>,
}

/// Stores a session, first dropping the sessions that expired before it began.
pub async fn insert_session(db: &Db, s: &NewSession<'_>) -> Result<()> {
    on_db!(db, p => {
        sqlx::query("DELETE FROM admin_sessions WHERE expires_at < $1").bind(s.created_at).execute(p).await?;
        sqlx::query(
            "INSERT INTO admin_sessions (id_hash, user_name, csrf, created_at, expires_at, user_agent, address, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $4)",
        )
        .bind(s.id_hash)
        .bind(s.user)
        .bind(s.csrf)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.user_agent)
        .bind(s.address)
        .execute(p)
        .await?;
    });
    Ok(())
}

/// The login, CSRF token and the login's role of the live session with this id hash.
pub async fn session(db: &Db, id_hash: &str) -> Result<Option<(String, String, String)>> {
    Ok(on_db!(db, p => {
        // A session signed in with an API token lives only as long as the token (revoking
        // deletes its sessions too; this holds whatever revoked it).
        sqlx::query_as(
            "SELECT s.user_name, s.csrf, u.role FROM admin_sessions s
             JOIN admin_users u ON u.name = s.user_name
             WHERE s.id_hash = $1 AND s.expires_at > $2
               AND (s.user_name NOT LIKE 'token:%' OR EXISTS (
                    SELECT 1 FROM api_tokens t
                    WHERE t.revoked_at IS NULL AND 'token:' || t.name = s.user_name))",
        )
            .bind(id_hash)
            .bind(now())
            .fetch_optional(p)
            .await?
    }))
}

pub async fn delete_session(db: &Db, id_hash: &str) -> Result<()> {
    on_db!(db, p => {
        sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1").bind(id_hash).execute(p).await?;
    });
    Ok(())
}

/// The address of an admin login (where test sends go), if one is set.
pub async fn user_email(db: &Db, user: &str) -> Result<Option<String>> {
    let v: Option<Option<String>> = on_db!(db, p => {
        sqlx::query_scalar("SELECT email FROM admin_users WHERE name = $1")
            .bind(user)
            .fetch_optional(p)
            .await?
    });
    Ok(v.flatten())
}

/// Sets the address of an admin login; false when there is no such login.
pub async fn set_user_email(db: &Db, user: &str, email: &str) -> Result<bool> {
    Ok(on_db!(db, p => {
        sqlx::query("UPDATE admin_users SET email = $1 WHERE name = $2")
            .bind(email)
            .bind(user)
            .execute(p)
            .await?
            .rows_affected()
            > 0
    }))
}

/// Sets the role of an admin login and the topics it works on (their ids), together. Returns
/// whether there is such a login (a token's login keeps its role: tokens act as administrators).
pub async fn set_role(db: &Db, user: &str, role: &str, topic_ids: &[i64]) -> Result<bool> {
    let mut tx = db.begin().await?;
    let n = on_tx!(&mut tx, c => {
        let n = sqlx::query("UPDATE admin_users SET role = $1, updated_at = $2 WHERE name = $3 AND name NOT LIKE 'token:%'")
            .bind(role)
            .bind(now())
            .bind(user)
            .execute(&mut *c)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM admin_user_topics WHERE user_name = $1")
            .bind(user)
            .execute(&mut *c)
            .await?;
        if n > 0 {
            for id in topic_ids {
                sqlx::query("INSERT INTO admin_user_topics (user_name, topic_id) VALUES ($1, $2)")
                    .bind(user)
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
            }
        }
        n
    });
    tx.commit().await?;
    Ok(n > 0)
}

/// The topics assigned to an admin login: id and short name.
pub async fn user_topics(db: &Db, user: &str) -> Result<Vec<(i64, String)>> {
    Ok(on_db!(db, p => {
        sqlx::query_as(
            "SELECT a.topic_id, t.slug FROM admin_user_topics a JOIN topics t ON t.id = a.topic_id
             WHERE a.user_name = $1 ORDER BY t.slug",
        )
            .bind(user)
            .fetch_all(p)
            .await?
    }))
}

/// Whether any admin login that a person signs in to exists (the logins of API tokens do not
/// count: they have no password).
pub async fn has_people(db: &Db) -> Result<bool> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM admin_users WHERE name NOT LIKE 'token:%'")
            .fetch_one(p)
            .await?
    }) > 0)
}

/// A one-time link as stored: the hash of its secret, whom it is for (`user` None: the setup
/// link of the first administrator) and until when it works.
pub struct NewInvitation<'a> {
    pub token_hash: &'a str,
    pub user: Option<&'a str>,
    pub email: Option<&'a str>,
    pub role: &'a str,
    pub created_by: Option<&'a str>,
    pub expires_at: Timestamp,
}

pub async fn insert_invitation(db: &Db, i: &NewInvitation<'_>) -> Result<()> {
    on_db!(db, p => {
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
        .execute(p)
        .await?;
    });
    Ok(())
}

/// Whether the setup link with this hash works now: unused, not expired, and no person's login
/// exists yet.
pub async fn setup_link_open(db: &Db, token_hash: &str) -> Result<bool> {
    let n: i64 = on_db!(db, p => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM admin_invitations
             WHERE token_hash = $1 AND user_name IS NULL AND used_at IS NULL AND expires_at > $2
               AND NOT EXISTS (SELECT 1 FROM admin_users WHERE name NOT LIKE 'token:%')",
        )
        .bind(token_hash)
        .bind(now())
        .fetch_one(p)
        .await?
    });
    Ok(n > 0)
}

/// Uses the setup link with this hash: marks it used and creates the first administrator, in
/// one transaction. False (and nothing changed) when the link is unknown, used, expired, or a
/// person's login exists already; of two uses at once, one wins (the row is locked by the first).
pub async fn redeem_setup_link(
    db: &Db,
    token_hash: &str,
    user: &str,
    password_hash: &str,
) -> Result<bool> {
    let at = now();
    let mut tx = db.begin().await?;
    let ok = on_tx!(&mut tx, c => {
        let marked = sqlx::query(
            "UPDATE admin_invitations SET used_at = $1
             WHERE token_hash = $2 AND user_name IS NULL AND used_at IS NULL AND expires_at > $1",
        )
        .bind(at)
        .bind(token_hash)
        .execute(&mut *c)
        .await?
        .rows_affected();
        marked == 1
            && sqlx::query(
                "INSERT INTO admin_users (name, password_hash, updated_at, role)
                 SELECT $1, $2, $3, 'administrator'
                 WHERE NOT EXISTS (SELECT 1 FROM admin_users WHERE name NOT LIKE 'token:%')",
            )
            .bind(user)
            .bind(password_hash)
            .bind(at)
            .execute(&mut *c)
            .await?
            .rows_affected()
                == 1
    });
    if ok {
        tx.commit().await?;
    } else {
        drop(tx); // rolls back
    }
    Ok(ok)
}

/// A thing an admin URL names, for the check of a login's topics.
#[derive(Debug, Clone, Copy)]
pub enum Named<'a> {
    Campaign(&'a str),
    /// By short name or id.
    Occasion(&'a str),
    Topic(&'a str),
    Contact(i64),
    /// An item of the review queue.
    Decision(i64),
}

/// The topics the named thing belongs to (a campaign by its topic or its occasion's, a contact
/// by subscriptions and relations): None when there is no such thing, an empty list when it
/// belongs to no topic.
pub async fn topics_of(db: &Db, named: Named<'_>) -> Result<Option<Vec<i64>>> {
    let one = |v: Option<Option<i64>>| v.map(|t| t.into_iter().collect::<Vec<i64>>());
    Ok(match named {
        Named::Campaign(name) => one(on_db!(db, p => {
            sqlx::query_scalar(
                "SELECT COALESCE(c.topic_id, o.topic_id) FROM campaigns c
                 LEFT JOIN occasions o ON o.id = c.occasion_id WHERE c.name = $1",
            )
            .bind(name)
            .fetch_optional(p)
            .await?
        })),
        Named::Occasion(slug) => one(on_db!(db, p => {
            // Forms name an occasion by its id, URLs by its short name.
            sqlx::query_scalar("SELECT topic_id FROM occasions WHERE slug = $1 OR CAST(id AS TEXT) = $1")
                .bind(slug)
                .fetch_optional(p)
                .await?
        })),
        Named::Topic(slug) => one(on_db!(db, p => {
            sqlx::query_scalar("SELECT id FROM topics WHERE slug = $1")
                .bind(slug)
                .fetch_optional(p)
                .await?
        })
        .map(Some)),
        Named::Decision(id) => one(on_db!(db, p => {
            sqlx::query_scalar(
                "SELECT COALESCE(c.topic_id, o.topic_id) FROM decisions d
                 LEFT JOIN campaigns c ON c.id = d.campaign_id
                 LEFT JOIN occasions o ON o.id = c.occasion_id WHERE d.id = $1",
            )
            .bind(id)
            .fetch_optional(p)
            .await?
        })),
        Named::Contact(id) => {
            let exists: i64 = on_db!(db, p => {
                sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE id = $1")
                    .bind(id)
                    .fetch_one(p)
                    .await?
            });
            if exists == 0 {
                None
            } else {
                Some(on_db!(db, p => {
                    sqlx::query_scalar(
                        "SELECT topic_id FROM subscriptions WHERE contact_id = $1
                         UNION SELECT topic_id FROM relations WHERE contact_id = $1 AND topic_id IS NOT NULL",
                    )
                    .bind(id)
                    .fetch_all(p)
                    .await?
                }))
            }
        }
    })
}

/// An open session as listed: its id hash (to end it by), whose it is, where and when.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_name: String,
    pub user_agent: Option<String>,
    pub address: Option<String>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// The live sessions of `user`, or of everyone (None), the most recently used first.
pub async fn list_sessions(db: &Db, user: Option<&str>) -> Result<Vec<SessionRow>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, SessionRow>(
            "SELECT id_hash, user_name, user_agent, address, created_at, last_used_at
             FROM admin_sessions WHERE expires_at > $1 AND ($2 IS NULL OR user_name = $2)
             ORDER BY COALESCE(last_used_at, created_at) DESC",
        )
        .bind(now())
        .bind(user)
        .fetch_all(p)
        .await?
    }))
}

/// Notes that a session was used now (at most once a minute, to spare the writes).
pub async fn touch_session(db: &Db, id_hash: &str) -> Result<()> {
    let at = now();
    on_db!(db, p => {
        sqlx::query(
            "UPDATE admin_sessions SET last_used_at = $1
             WHERE id_hash = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(at)
        .bind(id_hash)
        .bind(at - chrono::Duration::minutes(1))
        .execute(p)
        .await?;
    });
    Ok(())
}

/// Ends the session with this id hash if it is `user`'s (any login's with None). Returns
/// whether there was one.
pub async fn end_session_of(db: &Db, id_hash: &str, user: Option<&str>) -> Result<bool> {
    Ok(on_db!(db, p => {
        sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1 AND ($2 IS NULL OR user_name = $2)")
            .bind(id_hash)
            .bind(user)
            .execute(p)
            .await?
            .rows_affected()
    }) > 0)
}
