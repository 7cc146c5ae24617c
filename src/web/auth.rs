//! Credentials of the admin side: API bearer tokens, admin passwords and sessions.
//!
//! Every secret is stored as a hash only. API tokens and session ids are 256-bit random values,
//! so one SHA-256 is enough; passwords are low-entropy and get salted PBKDF2-HMAC-SHA256 with
//! many iterations (built on the `hmac`/`sha2` crates we already have, no extra dependency).

use crate::store::{self, now, Db, StoreError};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
const PBKDF2_ITERATIONS: u32 = 600_000;
const SESSION_HOURS: i64 = 12;

pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Compares without an early exit, so timing tells nothing about where two secrets differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// PBKDF2 (RFC 8018) with HMAC-SHA256, one 32-byte block.
fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let prf = Hmac::<Sha256>::new_from_slice(password).expect("HMAC accepts any key length");
    let mut mac = prf.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut u: [u8; 32] = mac.finalize().into_bytes().into();
    let mut out = u;
    for _ in 1..iterations {
        let mut mac = prf.clone();
        mac.update(&u);
        u = mac.finalize().into_bytes().into();
        for (o, x) in out.iter_mut().zip(u.iter()) {
            *o ^= x;
        }
    }
    out
}

pub fn hash_password(password: &str) -> String {
    hash_password_with(password, PBKDF2_ITERATIONS)
}

fn hash_password_with(password: &str, iterations: u32) -> String {
    let salt = random_hex(16);
    let hash = pbkdf2_sha256(password.as_bytes(), salt.as_bytes(), iterations);
    format!("pbkdf2-sha256${iterations}${salt}${}", hex::encode(hash))
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(iter), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Ok(iter), Ok(expected)) = (iter.parse::<u32>(), hex::decode(hash)) else {
        return false;
    };
    if iter == 0 {
        return false;
    }
    let got = pbkdf2_sha256(password.as_bytes(), salt.as_bytes(), iter);
    constant_time_eq(&got, &expected)
}

// ----- API tokens -----

pub use crate::store::auth::ApiToken;

/// Creates a token named `name`; returns the secret, which is shown once and never stored.
pub async fn create_token(db: &Db, name: &str) -> Result<String, StoreError> {
    crate::store::topics::check_slug(name)?;
    let secret = format!("np_{}", random_hex(32));
    store::auth::insert_token(db, name, &sha256_hex(&secret)).await?;
    Ok(secret)
}

/// Revokes a token and ends every admin session signed in with it.
pub async fn revoke_token(db: &Db, name: &str) -> Result<(), StoreError> {
    if !store::auth::revoke_token(db, name).await? {
        return Err(StoreError::UnknownToken(name.to_string()));
    }
    Ok(())
}

pub async fn list_tokens(db: &Db) -> Result<Vec<ApiToken>, StoreError> {
    store::auth::list_tokens(db).await
}

/// The name of the active token with this secret, if any; notes its use.
pub async fn check_token(db: &Db, secret: &str) -> Result<Option<String>, StoreError> {
    store::auth::use_token(db, &sha256_hex(secret)).await
}

// ----- admin users and sessions -----

/// The login that a session signed in with an API token belongs to: `token:NAME`, with no
/// password, so it exists only for sessions.
pub async fn token_login(db: &Db, token_name: &str) -> Result<String, StoreError> {
    store::auth::ensure_token_user(db, token_name).await
}

/// Shortest accepted admin password, in characters (not counting surrounding whitespace).
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Why a password is refused, or None.
pub fn weak_password(password: &str) -> Option<String> {
    let n = password.trim().chars().count();
    if n == 0 {
        Some("the password is empty or only spaces".into())
    } else if n < MIN_PASSWORD_CHARS {
        Some(format!(
            "the password needs at least {MIN_PASSWORD_CHARS} characters besides leading and \
             trailing spaces (it has {n})"
        ))
    } else {
        None
    }
}

/// Sets an admin login's password; a new password ends every open session of that login.
pub async fn set_password(db: &Db, user: &str, password: &str) -> Result<(), StoreError> {
    if let Some(why) = weak_password(password) {
        return Err(StoreError::Invalid(why));
    }
    store::auth::set_password_hash(db, user, &hash_password(password)).await
}

/// Removes an admin login; its open sessions end with it.
pub async fn remove_user(db: &Db, user: &str) -> Result<(), StoreError> {
    if !store::auth::remove_user(db, user).await? {
        return Err(StoreError::NotFound(format!(
            "no admin login named {user:?}"
        )));
    }
    Ok(())
}

/// Gives an admin login a role and the topics it works on (slugs; administrators need none).
pub async fn set_role(
    db: &Db,
    user: &str,
    role: Role,
    topics: &[String],
) -> Result<(), StoreError> {
    let mut ids = Vec::with_capacity(topics.len());
    for slug in topics {
        ids.push(store::topics::get(db, slug).await?.id.0);
    }
    if !store::auth::set_role(db, user, role.as_str(), &ids).await? {
        return Err(StoreError::NotFound(format!(
            "no admin login named {user:?} (create it with `netzpost admin set-password {user}`)"
        )));
    }
    Ok(())
}

/// How long a setup link works.
pub const SETUP_LINK_HOURS: i64 = 24;

/// A fresh setup link's secret (for `/admin/setup/SECRET`), valid for [`SETUP_LINK_HOURS`] and
/// once, while no person's login exists; None when one exists (nothing to set up).
pub async fn new_setup_link(db: &Db) -> Result<Option<String>, StoreError> {
    if store::auth::has_people(db).await? {
        return Ok(None);
    }
    let secret = random_hex(32);
    store::auth::insert_invitation(
        db,
        &store::auth::NewInvitation {
            token_hash: &sha256_hex(&secret),
            user: None,
            email: None,
            role: Role::Administrator.as_str(),
            created_by: None,
            expires_at: now() + chrono::Duration::hours(SETUP_LINK_HOURS),
        },
    )
    .await?;
    Ok(Some(secret))
}

/// A fresh setup link under `public_url` (see [`new_setup_link`]); None when a person's login
/// exists.
pub async fn setup_url(db: &Db, public_url: &str) -> Result<Option<String>, StoreError> {
    Ok(new_setup_link(db)
        .await?
        .map(|s| format!("{}/admin/setup/{s}", public_url.trim_end_matches('/'))))
}

/// Whether the setup link with this secret works now.
pub async fn setup_link_open(db: &Db, secret: &str) -> Result<bool, StoreError> {
    store::auth::setup_link_open(db, &sha256_hex(secret)).await
}

/// Uses a setup link: creates the first administrator `user` with `password`. A weak password
/// or a bad name is [`StoreError::Invalid`] (the link stays usable); a used, expired or unknown
/// link, or one used after a person's login exists, is [`StoreError::Conflict`].
pub async fn redeem_setup_link(
    db: &Db,
    secret: &str,
    user: &str,
    password: &str,
) -> Result<(), StoreError> {
    crate::store::topics::check_slug(user).map_err(|_| {
        StoreError::Invalid(format!(
            "the user name {user:?} may have only lower-case letters, digits, '-' and '_'"
        ))
    })?;
    if let Some(why) = weak_password(password) {
        return Err(StoreError::Invalid(why));
    }
    let closed = || {
        StoreError::Conflict(
            "this setup link was used already or has expired, or an administrator exists".into(),
        )
    };
    // Hashing takes a while: not for a link that is closed anyway (the store checks again, in
    // the transaction that uses it).
    if !setup_link_open(db, secret).await? {
        return Err(closed());
    }
    if !store::auth::redeem_setup_link(db, &sha256_hex(secret), user, &hash_password(password))
        .await?
    {
        return Err(closed());
    }
    Ok(())
}

/// How long an invitation's link works.
pub const INVITATION_DAYS: i64 = 7;

/// An invitation for `user` (a new login's name) with `role` and the topics it works on (ids;
/// a coordinator or helper needs one at least), made by `by`. Returns the link's secret (for
/// `/admin/invitation/SECRET`), valid for [`INVITATION_DAYS`] and once. A bad name or address is
/// [`StoreError::Invalid`], a name in use (or invited already) [`StoreError::Conflict`].
pub async fn invite(
    db: &Db,
    by: &str,
    user: &str,
    email: Option<&str>,
    role: Role,
    topic_ids: &[i64],
) -> Result<String, StoreError> {
    crate::store::topics::check_slug(user).map_err(|_| {
        StoreError::Invalid(format!(
            "the user name {user:?} may have only lower-case letters, digits, '-' and '_'"
        ))
    })?;
    let email = match email.map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => Some(
            crate::domain::EmailAddress::parse(e)
                .map_err(|why| StoreError::Invalid(format!("the address {e:?}: {why}")))?
                .to_string(),
        ),
        None => None,
    };
    if role != Role::Administrator && topic_ids.is_empty() {
        return Err(StoreError::Invalid(
            "a coordinator or helper needs at least one topic".into(),
        ));
    }
    if store::team::name_taken(db, user).await? {
        return Err(StoreError::Conflict(format!(
            "a login named {user:?} exists already or is invited"
        )));
    }
    let secret = random_hex(32);
    store::team::invite(
        db,
        &store::team::NewInvitation {
            token_hash: &sha256_hex(&secret),
            user,
            email: email.as_deref(),
            role: role.as_str(),
            topic_ids: if role == Role::Administrator {
                &[]
            } else {
                topic_ids
            },
            created_by: by,
            expires_at: now() + chrono::Duration::days(INVITATION_DAYS),
        },
    )
    .await?;
    Ok(secret)
}

/// The invitation with this secret, if it still works.
pub async fn open_invitation(
    db: &Db,
    secret: &str,
) -> Result<Option<store::team::Invitation>, StoreError> {
    store::team::open_invitation(db, &sha256_hex(secret)).await
}

/// Uses an invitation: creates its login with `password`; returns the login's name. A weak
/// password is [`StoreError::Invalid`] (the link stays usable); a used, expired or unknown link
/// is [`StoreError::Conflict`].
pub async fn redeem_invitation(
    db: &Db,
    secret: &str,
    password: &str,
) -> Result<String, StoreError> {
    if let Some(why) = weak_password(password) {
        return Err(StoreError::Invalid(why));
    }
    let closed = || StoreError::Conflict("this invitation was used already or has expired".into());
    // Hashing takes a while: not for a link that is closed anyway.
    if open_invitation(db, secret).await?.is_none() {
        return Err(closed());
    }
    store::team::redeem_invitation(db, &sha256_hex(secret), &hash_password(password))
        .await?
        .ok_or_else(closed)
}

pub async fn check_password(db: &Db, user: &str, password: &str) -> Result<bool, StoreError> {
    let stored = store::auth::password_hash(db, user).await?;
    let ok = match &stored {
        Some(h) => verify_password(password, h),
        None => {
            // Same work for unknown users, so timing does not reveal names.
            let _ = pbkdf2_sha256(password.as_bytes(), b"x", PBKDF2_ITERATIONS);
            false
        }
    };
    Ok(ok)
}

/// What an admin login may do. Administrators everything; coordinators everything for the
/// topics assigned to them; helpers answer the review queue and record attendance (no export,
/// no erasure, no sending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Administrator,
    Coordinator,
    Helper,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Administrator, Role::Coordinator, Role::Helper];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Coordinator => "coordinator",
            Role::Helper => "helper",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub csrf: String,
    pub role: Role,
}

/// Opens a session, noting the browser's User-Agent and the client address; returns the cookie
/// value.
pub async fn create_session(
    db: &Db,
    user: &str,
    user_agent: Option<&str>,
    address: Option<&str>,
) -> Result<String, StoreError> {
    let id = random_hex(32);
    let at = now();
    store::auth::insert_session(
        db,
        &store::auth::NewSession {
            id_hash: &sha256_hex(&id),
            user,
            csrf: &random_hex(24),
            created_at: at,
            expires_at: at + chrono::Duration::hours(SESSION_HOURS),
            // A User-Agent can be long; what says the browser and device is at its start.
            user_agent: user_agent.map(|u| {
                let end = u.char_indices().nth(300).map_or(u.len(), |(i, _)| i);
                &u[..end]
            }),
            address,
        },
    )
    .await?;
    Ok(id)
}

pub async fn session(db: &Db, id: &str) -> Result<Option<Session>, StoreError> {
    let row = store::auth::session(db, &sha256_hex(id)).await?;
    Ok(row.map(|(user, csrf, role)| Session {
        user,
        csrf,
        // The column allows only the three (a CHECK); anything else would grant nothing.
        role: Role::parse(&role).unwrap_or(Role::Helper),
    }))
}

/// The session id's hash, by which a listed session is named.
pub fn session_key(id: &str) -> String {
    sha256_hex(id)
}

/// The browser and device a User-Agent names, in plain words ("Firefox on Windows"); None when
/// it names none that we know.
pub fn device(user_agent: &str) -> Option<String> {
    let ua = user_agent;
    let browser = if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("OPR/") {
        "Opera"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") || ua.contains("CriOS/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else {
        ""
    };
    let system = if ua.contains("Android") {
        "Android"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        "macOS"
    } else if ua.contains("Linux") || ua.contains("X11") {
        "Linux"
    } else {
        ""
    };
    match (browser, system) {
        ("", "") => None,
        (b, "") => Some(b.to_string()),
        ("", s) => Some(s.to_string()),
        (b, s) => Some(format!("{b} · {s}")),
    }
}

pub async fn end_session(db: &Db, id: &str) -> Result<(), StoreError> {
    store::auth::delete_session(db, &sha256_hex(id)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf2_matches_rfc7914_vector() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1), first 32 bytes.
        let got = pbkdf2_sha256(b"passwd", b"salt", 1);
        assert_eq!(
            hex::encode(got),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn devices_in_plain_words() {
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0";
        assert_eq!(device(firefox).as_deref(), Some("Firefox · Windows"));
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
        assert_eq!(device(iphone).as_deref(), Some("Safari · iOS"));
        let android = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) \
                       Chrome/119.0 Mobile Safari/537.36";
        assert_eq!(device(android).as_deref(), Some("Chrome · Android"));
        assert_eq!(device("curl/8.4.0"), None);
    }

    #[test]
    fn passwords_verify() {
        let h = hash_password_with("richtig-langes-passwort", 1000);
        assert!(verify_password("richtig-langes-passwort", &h));
        assert!(!verify_password("falsch", &h));
        assert!(!verify_password("x", "garbage"));
        assert!(!verify_password("x", "pbkdf2-sha256$0$aa$bb"));
    }
}
