//! The first login: `netzpost init` and the first `netzpost serve` print a one-time setup link
//! while no person's login exists (`netzpost admin setup-link` prints a fresh one). Whoever
//! opens it chooses a name and a password and becomes the first administrator, signed in at
//! once. The link works once and for `auth::SETUP_LINK_HOURS`; only its hash is stored.

use super::internal;
use super::password_link::{new_password, read_post, sign_in, LinkPage};
use crate::web::auth;
use crate::web::{Lang, Shared};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;
use std::collections::HashMap;

pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/admin/setup/{secret}", get(setup_page).post(setup))
}

const PAGE: LinkPage = LinkPage {
    template: "web/admin/setup.html.j2",
    closed_title: "setup_closed_title",
    closed_text: "setup_closed_text",
};

fn form(
    st: &Shared,
    lang: Lang,
    uri: &Uri,
    status: StatusCode,
    error: Option<String>,
    typed: &HashMap<String, String>,
) -> Response {
    let user = typed.get("user").map(|u| u.trim()).unwrap_or("admin");
    PAGE.form(st, lang, uri, status, error, json!({ "user": user }))
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
        Ok(false) => PAGE.closed(&st, lang),
        Err(e) => internal(&st, lang, e),
    }
}

async fn setup(State(st): State<Shared>, Path(secret): Path<String>, req: Request) -> Response {
    let (parts, lang, typed) = match read_post(&st, req).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let user = typed.get("user").map(|u| u.trim()).unwrap_or("");
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
    let password = match new_password(&st, lang, &typed) {
        Ok(p) => p,
        Err(text) => return refuse(text),
    };
    if let Err(e) = auth::redeem_setup_link(&st.db, &secret, user, password).await {
        return PAGE.redeem_failed(&st, lang, e, refuse);
    }
    tracing::info!(%user, "first administrator created through the setup link");
    sign_in(&st, &parts, lang, user).await
}
