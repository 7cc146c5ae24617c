//! Admin pages under `/admin`: login (password from `netzpost admin set-password`), dashboard
//! with the activation funnel, campaigns and the review queue here; topics, contacts, the CSV
//! import and occasions in their submodules.
//!
//! Sessions are a random cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind HTTPS) whose
//! hash is stored; every form carries the session's CSRF token, and a POST without the right one
//! is refused with 403 before anything else is read. The login form has its own double-submit
//! token, as there is no session yet.

use super::api::{run_campaign_action, run_review_action};
use super::auth::{self, Session};
use super::{report, Lang, Shared};
use crate::store;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;

mod contacts;
mod import;
mod occasions;
mod topics;

const SESSION_COOKIE: &str = "np_session";
const LOGIN_COOKIE: &str = "np_login";

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin", get(dashboard))
        .route("/admin/", get(dashboard))
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/campaigns", get(campaigns))
        .route("/admin/campaigns/{name}/{action}", post(campaign_action))
        .route("/admin/review", get(review))
        .route("/admin/review/{id}/{action}", post(review_action))
        .merge(topics::routes())
        .merge(contacts::routes())
        .merge(import::routes())
        .merge(occasions::routes())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(st: &Shared, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if st.https() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are hex")
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

/// The signed-in admin of this request.
struct Admin {
    session_id: String,
    session: Session,
    lang: Lang,
    q: &'static str,
}

async fn admin_of(st: &Shared, headers: &HeaderMap, uri: &Uri) -> Result<Admin, Response> {
    let lang = Lang::from_request(uri.query(), headers).admin();
    let q = lang.query(uri.query());
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Err(redirect(&format!("/admin/login{q}")));
    };
    match auth::session(&st.db, &id).await {
        Ok(Some(session)) => Ok(Admin {
            session_id: id,
            session,
            lang,
            q,
        }),
        Ok(None) => Err(redirect(&format!("/admin/login{q}"))),
        Err(e) => {
            tracing::error!("admin session: {e}");
            Err(st.pages.message(
                lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                "error_title",
                "error_text",
            ))
        }
    }
}

/// For POSTs: the admin, the form, and the CSRF check (403 without the right token).
async fn admin_post(
    st: &Shared,
    req: Request,
) -> Result<(Admin, HashMap<String, String>), Response> {
    let (parts, body) = req.into_parts();
    let admin = admin_of(st, &parts.headers, &parts.uri).await?;
    let lang = admin.lang;
    let form = super::check_post(st, lang, &parts.headers, body).await?;
    let ok = form
        .get("csrf")
        .is_some_and(|c| auth::constant_time_eq(c.as_bytes(), admin.session.csrf.as_bytes()));
    if !ok {
        tracing::warn!(user = %admin.session.user, "admin form without a valid CSRF token");
        return Err(st
            .pages
            .message(lang, StatusCode::FORBIDDEN, "csrf_title", "csrf_text"));
    }
    Ok((admin, form))
}

fn page(st: &Shared, a: &Admin, name: &str, nav: &str, mut ctx: serde_json::Value) -> Response {
    ctx["csrf"] = a.session.csrf.clone().into();
    ctx["user"] = a.session.user.clone().into();
    ctx["nav"] = nav.into();
    ctx["q"] = a.q.into();
    ctx["org"] = st.cfg.organisation.name.clone().into();
    st.pages.render(name, a.lang, StatusCode::OK, ctx)
}

/// An action the rules refused, said on a page with a way back to `back`.
fn refused(st: &Shared, a: &Admin, e: crate::activation::ActivationError, back: &str) -> Response {
    use crate::activation::ActivationError as E;
    let status = match &e {
        E::NotFound(_) => StatusCode::NOT_FOUND,
        E::Conflict(_) => StatusCode::CONFLICT,
        E::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        E::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        E::Store(e) => return internal(st, a.lang, e),
    };
    st.pages.render(
        "web/message.html.j2",
        a.lang,
        status,
        json!({"title": st.pages.text(a.lang, "action_failed"), "text": e.to_string(),
               "back": format!("{back}{}", a.q)}),
    )
}

fn internal(st: &Shared, lang: Lang, e: impl std::fmt::Display) -> Response {
    tracing::error!("admin: {e}");
    st.pages.message(
        lang,
        StatusCode::INTERNAL_SERVER_ERROR,
        "error_title",
        "error_text",
    )
}

// ----- login -----

async fn login_page(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let lang = Lang::from_request(uri.query(), &headers).admin();
    login_form(&st, lang, &uri, StatusCode::OK, None)
}

fn login_form(
    st: &Shared,
    lang: Lang,
    uri: &Uri,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let token = auth::random_hex(24);
    let mut r = st.pages.render(
        "web/admin/login.html.j2",
        lang,
        status,
        json!({
            "csrf": token,
            "action": format!("/admin/login{}", lang.query(uri.query())),
            "error": error.map(|e| st.pages.text(lang, e)),
            "org": st.cfg.organisation.name,
        }),
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(st, LOGIN_COOKIE, &token, 3600),
    );
    r
}

async fn login(State(st): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let lang = Lang::from_request(parts.uri.query(), &parts.headers).admin();
    let ip = st.client_ip(
        parts.extensions.get::<ConnectInfo<SocketAddr>>(),
        &parts.headers,
    );
    if let Some(ip) = ip {
        if !st.login_limiter.allow(ip).await {
            return st.pages.message(
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited_title",
                "login_rate_limited_text",
            );
        }
    }
    let form = match super::check_post(&st, lang, &parts.headers, body).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let expected = cookie(&parts.headers, LOGIN_COOKIE);
    let csrf_ok = match (form.get("csrf"), &expected) {
        (Some(a), Some(b)) => auth::constant_time_eq(a.as_bytes(), b.as_bytes()),
        _ => false,
    };
    if !csrf_ok {
        return st
            .pages
            .message(lang, StatusCode::FORBIDDEN, "csrf_title", "csrf_text");
    }
    let user = form
        .get("user")
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
        .unwrap_or("admin");
    let password = form.get("password").map(String::as_str).unwrap_or("");
    // The password field also takes an API token (`netzpost tokens create NAME`), for people who
    // have a token but no password; the session then carries the token's name.
    let signed_in = match password.strip_prefix("np_") {
        Some(_) => match auth::check_token(&st.db, password).await {
            Ok(Some(name)) => auth::token_login(&st.db, &name).await.map(Some),
            other => other,
        },
        None => auth::check_password(&st.db, user, password)
            .await
            .map(|ok| ok.then(|| user.to_string())),
    };
    match signed_in {
        Ok(Some(user)) => match auth::create_session(&st.db, &user).await {
            Ok(id) => {
                tracing::info!(%user, "admin signed in");
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
        },
        Ok(None) => {
            tracing::warn!(%user, "admin sign-in failed");
            login_form(
                &st,
                lang,
                &parts.uri,
                StatusCode::UNAUTHORIZED,
                Some("login_failed"),
            )
        }
        Err(e) => internal(&st, lang, e),
    }
}

async fn logout(State(st): State<Shared>, req: Request) -> Response {
    let (a, _) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(e) = auth::end_session(&st.db, &a.session_id).await {
        return internal(&st, a.lang, e);
    }
    let mut r = redirect(&format!("/admin/login{}", a.q));
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&st, SESSION_COOKIE, "", 0));
    r
}

// ----- dashboard -----

async fn dashboard(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let data = async {
        let topics = store::report::topics(&st.db, st.cfg.silent_after_days).await?;
        let campaigns = store::report::campaigns(&st.db).await?;
        let recent = store::report::recent_activations(&st.db, 20).await?;
        Ok::<_, store::StoreError>((topics, campaigns, recent))
    }
    .await;
    let (topics, campaigns, recent) = match data {
        Ok(d) => d,
        Err(e) => return internal(&st, a.lang, e),
    };
    let topics: Vec<serde_json::Value> = topics
        .into_iter()
        .map(|t| {
            let bars = report::bars(&[
                ("stage_silent", t.silent),
                ("stage_invited", t.invited),
                ("stage_replied", t.replied),
                ("stage_encounter", t.encounter),
                ("stage_cooperation", t.cooperation),
            ]);
            json!({"funnel": t, "bars": bars})
        })
        .collect();
    let campaigns: Vec<serde_json::Value> = campaigns
        .into_iter()
        .map(|c| {
            let bars = report::bars(&[
                ("stage_audience", c.audience),
                ("stage_invited", c.invited),
                ("stage_replied", c.replied),
                ("stage_encounter", c.encounter),
                ("stage_cooperation", c.cooperation),
            ]);
            json!({"funnel": c, "bars": bars})
        })
        .collect();
    page(
        &st,
        &a,
        "web/admin/dashboard.html.j2",
        "dashboard",
        json!({"topics": topics, "campaigns": campaigns, "recent": recent}),
    )
}

// ----- campaigns -----

async fn campaigns(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match store::campaigns::list(&st.db).await {
        Ok(rows) => page(
            &st,
            &a,
            "web/admin/campaigns.html.j2",
            "campaigns",
            json!({"campaigns": rows}),
        ),
        Err(e) => internal(&st, a.lang, e),
    }
}

async fn campaign_action(
    State(st): State<Shared>,
    Path((name, action)): Path<(String, String)>,
    req: Request,
) -> Response {
    let (a, _) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match run_campaign_action(&st, &name, &action).await {
        Ok(_) => redirect(&format!("/admin/campaigns{}", a.q)),
        Err(e) => st.pages.render(
            "web/message.html.j2",
            a.lang,
            e.0,
            json!({"title": st.pages.text(a.lang, "action_failed"), "text": e.1}),
        ),
    }
}

// ----- review -----

async fn review(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match crate::inbound::apply::review_list(&st.db, true, 200).await {
        Ok(rows) => page(
            &st,
            &a,
            "web/admin/review.html.j2",
            "review",
            json!({"decisions": rows}),
        ),
        Err(e) => internal(&st, a.lang, e),
    }
}

async fn review_action(
    State(st): State<Shared>,
    Path((id, action)): Path<(i64, String)>,
    req: Request,
) -> Response {
    let (a, _) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let by = format!("admin:{}", a.session.user);
    match run_review_action(&st, id, &action, &by).await {
        Ok(_) => redirect(&format!("/admin/review{}", a.q)),
        Err(e) => st.pages.render(
            "web/message.html.j2",
            a.lang,
            e.0,
            json!({"title": st.pages.text(a.lang, "action_failed"), "text": e.1}),
        ),
    }
}
