//! Admin pages under `/admin`: login (password from `netzpost admin set-password`), dashboard
//! and the shared parts here; the dashboard, campaigns, the review queue, topics, contacts, the
//! CSV import and occasions in their submodules.
//!
//! Sessions are a random cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind HTTPS) whose
//! hash is stored; every form carries the session's CSRF token, and a POST without the right one
//! is refused with 403 before anything else is read. The login form has its own double-submit
//! token, as there is no session yet.

mod account;
mod audit;
pub(crate) use audit::record_api as audit_api;
mod campaigns;
mod contacts;
mod dashboard;
mod import;
mod occasions;
mod password_link;
mod review;
pub mod roles;
mod setup;
mod topics;
mod users;

use super::auth::{self, Session};
use super::{Lang, Shared};
use crate::store;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;

const SESSION_COOKIE: &str = "np_session";
const LOGIN_COOKIE: &str = "np_login";

/// The admin pages; `state` for the audit log's middleware around all of them.
pub fn routes(state: Shared) -> Router<Shared> {
    Router::new()
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .merge(dashboard::routes())
        .merge(campaigns::routes())
        .merge(review::routes())
        .merge(topics::routes())
        .merge(contacts::routes())
        .merge(import::routes())
        .merge(occasions::routes())
        .merge(setup::routes())
        .merge(account::routes())
        .merge(audit::routes())
        .merge(users::routes())
        .layer(axum::middleware::from_fn_with_state(state, audit::record))
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
    /// Replies waiting in the review queue, for the menu.
    review_open: Option<i64>,
    /// The topics this login works on (id and short name); None: all (an administrator).
    topics: Option<Vec<(i64, String)>>,
}

impl Admin {
    /// Whether this login works on the topic `topic` (a thing of no topic is the
    /// administrators').
    fn sees(&self, topic: Option<i64>) -> bool {
        roles::within(self.topic_ids().as_deref(), Some(topic.as_slice()))
    }

    fn topic_ids(&self) -> Option<Vec<i64>> {
        self.topics
            .as_ref()
            .map(|t| t.iter().map(|(id, _)| *id).collect())
    }

    /// Whether this login works on the topic with the short name `slug`.
    fn sees_slug(&self, slug: Option<&str>) -> bool {
        match &self.topics {
            None => true,
            Some(t) => slug.is_some_and(|s| t.iter().any(|(_, mine)| mine == s)),
        }
    }

    /// Whether this login reaches the named thing (for the rows of a list; a failed look-up
    /// hides the row).
    async fn reaches(&self, st: &Shared, n: store::auth::Named<'_>) -> bool {
        let Some(mine) = self.topic_ids() else {
            return true;
        };
        match store::auth::topics_of(&st.db, n).await {
            Ok(its) => roles::within(Some(&mine), Some(its.as_deref().unwrap_or(&[]))),
            Err(e) => {
                tracing::warn!("admin list: the topics of {n:?}: {e}");
                false
            }
        }
    }
}

async fn admin_of(st: &Shared, headers: &HeaderMap, uri: &Uri) -> Result<Admin, Response> {
    admin_for(st, headers, uri, false).await
}

/// The signed-in admin, if their role allows this request (else 403 with a page that says so).
async fn admin_for(
    st: &Shared,
    headers: &HeaderMap,
    uri: &Uri,
    post: bool,
) -> Result<Admin, Response> {
    let lang = Lang::from_request(uri.query(), headers).admin();
    let q = lang.query(uri.query());
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Err(redirect(&format!("/admin/login{q}")));
    };
    match auth::session(&st.db, &id).await {
        Ok(Some(session)) => {
            if let Err(e) = store::auth::touch_session(&st.db, &auth::session_key(&id)).await {
                tracing::warn!("admin session: noting its use: {e}");
            }
            if !roles::may(session.role, post, uri.path()) {
                tracing::warn!(user = %session.user, role = session.role.as_str(),
                    path = uri.path(), post, "admin request beyond the role refused");
                return Err(st.pages.message(
                    lang,
                    StatusCode::FORBIDDEN,
                    "forbidden_title",
                    "forbidden_text",
                ));
            }
            let topics = match scope(st, &session, uri.path()).await {
                Ok(Some(topics)) => topics,
                Ok(None) => {
                    tracing::warn!(user = %session.user, path = uri.path(),
                        "admin request outside the login's topics refused");
                    return Err(st.pages.message(
                        lang,
                        StatusCode::FORBIDDEN,
                        "forbidden_title",
                        "forbidden_topic_text",
                    ));
                }
                Err(e) => return Err(internal(st, lang, e)),
            };
            let review_open = match store::decisions::pending_count(&st.db).await {
                Ok(n) => Some(n),
                Err(e) => {
                    tracing::warn!("admin menu: counting the review queue: {e}");
                    None
                }
            };
            Ok(Admin {
                session_id: id,
                session,
                lang,
                q,
                review_open,
                topics,
            })
        }
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

/// The topics of a login that is not an administrator's (Some(None) for an administrator), or
/// None when the thing the path names belongs to none of them.
#[allow(clippy::type_complexity)]
async fn scope(
    st: &Shared,
    session: &Session,
    path: &str,
) -> Result<Option<Option<Vec<(i64, String)>>>, store::StoreError> {
    if session.role == auth::Role::Administrator {
        return Ok(Some(None));
    }
    let mine = store::auth::user_topics(&st.db, &session.user).await?;
    let ids: Vec<i64> = mine.iter().map(|(id, _)| *id).collect();
    let its = match roles::named(path) {
        Some(n) => store::auth::topics_of(&st.db, n).await?,
        None => None,
    };
    Ok(roles::within(Some(&ids), its.as_deref()).then_some(Some(mine)))
}

/// For POSTs: the admin, the form, and the CSRF check (403 without the right token).
async fn admin_post(
    st: &Shared,
    req: Request,
) -> Result<(Admin, HashMap<String, String>), Response> {
    let (parts, body) = req.into_parts();
    let admin = admin_for(st, &parts.headers, &parts.uri, true).await?;
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
    // A form that names a topic or occasion (a new campaign, occasion, person or relation)
    // names one of a coordinator's own.
    if let Some(mine) = &admin.topics {
        let mut outside = form.iter().any(|(k, v)| {
            let v = v.trim();
            let not_mine = |v: &str| {
                !mine
                    .iter()
                    .any(|(id, slug)| slug == v || id.to_string() == v)
            };
            (k == "topic" && !v.is_empty() && not_mine(v))
                || k.strip_prefix("topic_").is_some_and(not_mine)
        });
        if let Some(o) = form
            .get("occasion")
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
        {
            outside = outside || !admin.reaches(st, store::auth::Named::Occasion(o)).await;
        }
        if outside {
            tracing::warn!(user = %admin.session.user, "admin form naming another topic refused");
            return Err(st.pages.message(
                lang,
                StatusCode::FORBIDDEN,
                "forbidden_title",
                "forbidden_topic_text",
            ));
        }
    }
    Ok((admin, form))
}

/// An admin page; the menu shows how many replies wait in the review queue.
fn page(st: &Shared, a: &Admin, name: &str, nav: &str, mut ctx: serde_json::Value) -> Response {
    ctx["review_open"] = a.review_open.into();
    ctx["csrf"] = a.session.csrf.clone().into();
    ctx["user"] = a.session.user.clone().into();
    ctx["role"] = a.session.role.as_str().into();
    ctx["can"] = json!(roles::Can::of(a.session.role));
    ctx["nav"] = nav.into();
    ctx["q"] = a.q.into();
    ctx["org"] = st.cfg.organisation.name.clone().into();
    st.pages.render(name, a.lang, StatusCode::OK, ctx)
}

/// A page that says why an action could not be done (in the words of `text`).
fn refused_text(st: &Shared, lang: Lang, status: StatusCode, text: &str) -> Response {
    st.pages.render(
        "web/message.html.j2",
        lang,
        status,
        json!({"title": st.pages.text(lang, "action_failed"), "text": text}),
    )
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

/// The topics a form offers this login: not archived, and for a coordinator or helper only
/// their own (the server refuses the others anyway; the choice should not offer them).
async fn topic_choices(
    st: &Shared,
    a: &Admin,
) -> Result<Vec<store::topics::TopicStats>, store::StoreError> {
    Ok(store::topics::list(&st.db)
        .await?
        .into_iter()
        .filter(|t| t.archived_at.is_none() && a.sees(Some(t.id.0)))
        .collect())
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
    sign_in_form(
        st,
        "web/admin/login.html.j2",
        lang,
        status,
        json!({
            "action": format!("/admin/login{}", lang.query(uri.query())),
            "error": error.map(|e| st.pages.text(lang, e)),
            "org": st.cfg.organisation.name,
        }),
    )
}

/// A page with a form that signs in (the login, a setup link, an invitation): `ctx` and a fresh
/// CSRF token, which the login cookie carries too.
fn sign_in_form(
    st: &Shared,
    template: &str,
    lang: Lang,
    status: StatusCode,
    mut ctx: serde_json::Value,
) -> Response {
    let token = auth::random_hex(24);
    ctx["csrf"] = json!(token);
    let mut r = st.pages.render(template, lang, status, ctx);
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(st, LOGIN_COOKIE, &token, 3600),
    );
    r
}

/// The fields of a POST from a [`sign_in_form`] whose CSRF token is the login cookie's; else
/// the page to answer with.
async fn sign_in_post(
    st: &Shared,
    lang: Lang,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<HashMap<String, String>, Response> {
    let form = super::check_post(st, lang, headers, body).await?;
    let csrf_ok = match (form.get("csrf"), cookie(headers, LOGIN_COOKIE)) {
        (Some(a), Some(b)) => auth::constant_time_eq(a.as_bytes(), b.as_bytes()),
        _ => false,
    };
    if !csrf_ok {
        return Err(st
            .pages
            .message(lang, StatusCode::FORBIDDEN, "csrf_title", "csrf_text"));
    }
    Ok(form)
}

/// Signed in with session `id`: on to the dashboard, with the session cookie set and the login
/// cookie cleared.
fn session_started(st: &Shared, lang: Lang, uri: &Uri, id: &str) -> Response {
    let mut r = redirect(&format!("/admin{}", lang.query(uri.query())));
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(st, SESSION_COOKIE, id, 12 * 3600),
    );
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(st, LOGIN_COOKIE, "", 0));
    r
}

async fn login(State(st): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let lang = Lang::from_request(parts.uri.query(), &parts.headers).admin();
    let ip = st.client_ip(
        parts.extensions.get::<ConnectInfo<SocketAddr>>(),
        &parts.headers,
    );
    // Only failed sign-ins count toward the limit (a person who signs in often is no guesser);
    // once it is full, even the right password waits, or guessing would go on unhindered.
    if let Some(ip) = ip {
        if st.login_limiter.is_full(ip).await {
            return st.pages.message(
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited_title",
                "login_rate_limited_text",
            );
        }
    }
    let form = match sign_in_post(&st, lang, &parts.headers, body).await {
        Ok(f) => f,
        Err(page) => return page,
    };
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
        Ok(Some(user)) => match open_session(&st, &parts, &user).await {
            Ok(id) => {
                tracing::info!(%user, "admin signed in");
                session_started(&st, lang, &parts.uri, &id)
            }
            Err(e) => internal(&st, lang, e),
        },
        Ok(None) => {
            tracing::warn!(%user, "admin sign-in failed");
            if let Some(ip) = ip {
                st.login_limiter.allow(ip).await;
            }
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

/// Opens a session for `user` from the browser of this request.
async fn open_session(
    st: &Shared,
    parts: &axum::http::request::Parts,
    user: &str,
) -> Result<String, store::StoreError> {
    let ip = st.client_ip(
        parts.extensions.get::<ConnectInfo<SocketAddr>>(),
        &parts.headers,
    );
    let ua = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    auth::create_session(&st.db, user, ua, ip.map(|i| i.to_string()).as_deref()).await
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
