//! One's own login: the password changed (the old one asked first; every other session ends),
//! and the open sessions with browser, device, address and last use, each to end. An
//! administrator sees and ends everyone's sessions here too.

use super::{admin_of, admin_post, internal, page, redirect, set_cookie, Admin, SESSION_COOKIE};
use crate::store;
use crate::web::auth::{self, Role};
use crate::web::Shared;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/account", get(account))
        .route("/admin/account/password", post(password))
        .route("/admin/account/sessions/end", post(end_session))
}

async fn account(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    // After a change, the page says what was done (`?done=password` or `?done=session`).
    let done = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "done")
        .and_then(|(_, v)| match v.as_ref() {
            "password" => Some("account_done_password"),
            "session" => Some("account_done_session"),
            _ => None,
        });
    account_page(&st, &a, StatusCode::OK, None, done).await
}

async fn account_page(
    st: &Shared,
    a: &Admin,
    status: StatusCode,
    error: Option<String>,
    done: Option<&str>,
) -> Response {
    let everyone = a.session.role == Role::Administrator;
    let user = (!everyone).then_some(a.session.user.as_str());
    let rows = match store::auth::list_sessions(&st.db, user).await {
        Ok(r) => r,
        Err(e) => return internal(st, a.lang, e),
    };
    let this = auth::session_key(&a.session_id);
    let sessions: Vec<serde_json::Value> = rows
        .iter()
        .map(|s| {
            json!({
                "key": s.id_hash,
                "user": s.user_name,
                "mine": s.user_name == a.session.user,
                "this": s.id_hash == this,
                "device": s.user_agent.as_deref().and_then(auth::device),
                "address": s.address,
                "created_at": s.created_at.to_rfc3339(),
                "last_used_at": s.last_used_at.map(|t| t.to_rfc3339()),
            })
        })
        .collect();
    let mut r = page(
        st,
        a,
        "web/admin/account.html.j2",
        "account",
        json!({"sessions": sessions, "everyone": everyone, "error": error,
               "done": done.map(|d| st.pages.text(a.lang, d)),
               "min": auth::MIN_PASSWORD_CHARS}),
    );
    *r.status_mut() = status;
    r
}

async fn password(State(st): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let (a, form) = match admin_post(&st, Request::from_parts(parts.clone(), body)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let refuse = |key: &str, extra: String| {
        let text = format!("{} {extra}", st.pages.text(a.lang, key));
        account_page(
            &st,
            &a,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(text.trim().to_string()),
            None,
        )
    };
    if a.session.user.starts_with("token:") {
        return refuse("account_token_login", String::new()).await;
    }
    match auth::check_password(&st.db, &a.session.user, field("current")).await {
        Ok(true) => {}
        Ok(false) => return refuse("account_current_wrong", String::new()).await,
        Err(e) => return internal(&st, a.lang, e),
    }
    if field("password") != field("password_again") {
        return refuse("setup_passwords_differ", String::new()).await;
    }
    match auth::set_password(&st.db, &a.session.user, field("password")).await {
        Ok(()) => {}
        Err(store::StoreError::Invalid(why)) => return refuse("setup_invalid", why).await,
        Err(e) => return internal(&st, a.lang, e),
    }
    tracing::info!(user = %a.session.user, "admin changed their password; their sessions ended");
    // Every session of the login ended with the old password; this browser gets a new one.
    match super::open_session(&st, &parts, &a.session.user).await {
        Ok(id) => {
            let mut r = redirect(&format!("/admin/account{}", with(a.q, "done=password")));
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&st, SESSION_COOKIE, &id, 12 * 3600),
            );
            r
        }
        Err(e) => internal(&st, a.lang, e),
    }
}

/// `q` (empty or `?lang=..`) with one more parameter.
fn with(q: &str, param: &str) -> String {
    if q.is_empty() {
        format!("?{param}")
    } else {
        format!("{q}&{param}")
    }
}

async fn end_session(State(st): State<Shared>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let key = form.get("session").map(|s| s.trim()).unwrap_or("");
    let whose = (a.session.role != Role::Administrator).then_some(a.session.user.as_str());
    match store::auth::end_session_of(&st.db, key, whose).await {
        Ok(true) => {}
        Ok(false) => {
            return st.pages.message(
                a.lang,
                StatusCode::NOT_FOUND,
                "not_found_title",
                "account_session_gone",
            )
        }
        Err(e) => return internal(&st, a.lang, e),
    }
    tracing::info!(user = %a.session.user, "admin ended a session");
    if key == auth::session_key(&a.session_id) {
        let mut r = redirect(&format!("/admin/login{}", a.q));
        r.headers_mut()
            .append(header::SET_COOKIE, set_cookie(&st, SESSION_COOKIE, "", 0));
        return r;
    }
    redirect(&format!("/admin/account{}", with(a.q, "done=session")))
}
