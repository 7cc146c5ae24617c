//! The first login: `netzpost init` and the first `netzpost serve` print a one-time setup link
//! while no person's login exists (`netzpost admin setup-link` prints a fresh one). Whoever
//! opens it chooses a name and a password and becomes the first administrator, signed in at
//! once. The link works once and for `auth::SETUP_LINK_HOURS`; only its hash is stored.

use super::{cookie, internal, redirect, set_cookie, LOGIN_COOKIE, SESSION_COOKIE};
use crate::store::StoreError;
use crate::web::auth;
use crate::web::{Lang, Shared};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;
use std::collections::HashMap;

pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/admin/setup/{secret}", get(setup_page).post(setup))
}

fn form(
    st: &Shared,
    lang: Lang,
    uri: &Uri,
    status: StatusCode,
    error: Option<String>,
    typed: &HashMap<String, String>,
) -> Response {
    let token = auth::random_hex(24);
    let mut r = st.pages.render(
        "web/admin/setup.html.j2",
        lang,
        status,
        json!({
            "csrf": token,
            "action": format!("{}{}", uri.path(), lang.query(uri.query())),
            "error": error,
            "user": typed.get("user").map(|u| u.trim()).unwrap_or("admin"),
            "min": auth::MIN_PASSWORD_CHARS,
            "org": st.cfg.organisation.name,
        }),
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(st, LOGIN_COOKIE, &token, 3600),
    );
    r
}

fn closed(st: &Shared, lang: Lang) -> Response {
    st.pages.message(
        lang,
        StatusCode::GONE,
        "setup_closed_title",
        "setup_closed_text",
    )
}

async fn setup_page(
    State(st): State<Shared>,
    Path(secret): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = Lang::from_request(uri.query(), &headers).admin();
    match auth::setup_link_open(&st.db, &secret).await {
        Ok(true) => form(&st, lang, &uri, StatusCode::OK, None, &HashMap::new()),
        Ok(false) => closed(&st, lang),
        Err(e) => internal(&st, lang, e),
    }
}

async fn setup(State(st): State<Shared>, Path(secret): Path<String>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let lang = Lang::from_request(parts.uri.query(), &parts.headers).admin();
    let typed = match crate::web::check_post(&st, lang, &parts.headers, body).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let csrf_ok = match (typed.get("csrf"), cookie(&parts.headers, LOGIN_COOKIE)) {
        (Some(a), Some(b)) => auth::constant_time_eq(a.as_bytes(), b.as_bytes()),
        _ => false,
    };
    if !csrf_ok {
        return st
            .pages
            .message(lang, StatusCode::FORBIDDEN, "csrf_title", "csrf_text");
    }
    let user = typed.get("user").map(|u| u.trim()).unwrap_or("");
    let password = typed.get("password").map(String::as_str).unwrap_or("");
    let again = typed
        .get("password_again")
        .map(String::as_str)
        .unwrap_or("");
    let refuse = |text: String| {
        form(
            &st,
            lang,
            &parts.uri,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(text),
            &typed,
        )
    };
    if password != again {
        return refuse(st.pages.text(lang, "setup_passwords_differ"));
    }
    match auth::redeem_setup_link(&st.db, &secret, user, password).await {
        Ok(()) => {}
        Err(StoreError::Invalid(why)) => {
            return refuse(format!("{} {why}", st.pages.text(lang, "setup_invalid")))
        }
        Err(StoreError::Conflict(_)) => return closed(&st, lang),
        Err(e) => return internal(&st, lang, e),
    }
    tracing::info!(%user, "first administrator created through the setup link");
    match super::open_session(&st, &parts, user).await {
        Ok(id) => {
            let mut r = redirect(&format!("/admin{}", lang.query(parts.uri.query())));
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&st, SESSION_COOKIE, &id, 12 * 3600),
            );
            r.headers_mut()
                .append(header::SET_COOKIE, set_cookie(&st, LOGIN_COOKIE, "", 0));
            r
        }
        Err(e) => internal(&st, lang, e),
    }
}
