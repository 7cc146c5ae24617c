//! Admin pages under `/admin`: login (password from `netzpost admin set-password`), dashboard
//! with the activation funnel, contacts, campaigns, review queue and occasions.
//!
//! Sessions are a random cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind HTTPS) whose
//! hash is stored; every form carries the session's CSRF token, and a POST without the right one
//! is refused with 403 before anything else is read. The login form has its own double-submit
//! token, as there is no session yet.

use super::api::{run_campaign_action, run_review_action};
use super::auth::{self, Session};
use super::{report, Lang, Shared};
use crate::domain::RelationForm;
use crate::output::csv_cell;
use crate::store::{self, contacts::ContactFilter};
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;

const SESSION_COOKIE: &str = "np_session";
const LOGIN_COOKIE: &str = "np_login";

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin", get(dashboard))
        .route("/admin/", get(dashboard))
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/contacts", get(contacts))
        .route("/admin/contacts/{id}", get(contact))
        .route("/admin/contacts/{id}/forget", post(contact_forget))
        .route("/admin/campaigns", get(campaigns))
        .route("/admin/campaigns/{name}/{action}", post(campaign_action))
        .route("/admin/review", get(review))
        .route("/admin/review/{id}/{action}", post(review_action))
        .route("/admin/occasions", get(occasions))
        .route("/admin/occasions/{slug}/rsvps.csv", get(occasion_csv))
        .route(
            "/admin/occasions/{slug}/door",
            get(occasion_door).post(occasion_door_mark),
        )
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
        // Re-permission: who is due for a renewal request, and whose request is open.
        let cutoff = store::now() - chrono::Duration::days(st.cfg.renewal.silent_for_days);
        let mut renewal = store::consents::renewals_open(&st.db, None).await?;
        renewal.extend(store::consents::due_for_renewal(&st.db, None, cutoff).await?);
        Ok::<_, store::StoreError>((topics, campaigns, recent, renewal))
    }
    .await;
    let (topics, campaigns, recent, renewal) = match data {
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
        json!({"topics": topics, "campaigns": campaigns, "recent": recent, "renewal": renewal}),
    )
}

// ----- contacts -----

#[derive(Debug, Deserialize, Default)]
struct ContactsQuery {
    silent: Option<String>,
    topic: Option<String>,
    form: Option<String>,
    page: Option<i64>,
    #[allow(dead_code)]
    lang: Option<String>,
}

async fn contacts(
    State(st): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    q: Result<Query<ContactsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Ok(Query(q)) = q else {
        return st.pages.message(
            a.lang,
            StatusCode::BAD_REQUEST,
            "bad_form_title",
            "bad_form_text",
        );
    };
    let topics = match store::topics::list(&st.db).await {
        Ok(t) => t,
        Err(e) => return internal(&st, a.lang, e),
    };
    let topic = q.topic.as_deref().filter(|t| !t.is_empty());
    let topic_id = topic.and_then(|slug| topics.iter().find(|t| t.slug == slug).map(|t| t.id));
    if topic.is_some() && topic_id.is_none() {
        return st.pages.message(
            a.lang,
            StatusCode::NOT_FOUND,
            "not_found_title",
            "not_found_text",
        );
    }
    let form = match q.form.as_deref().filter(|f| !f.is_empty()) {
        Some(f) => match f.parse::<RelationForm>() {
            Ok(f) => Some(f),
            Err(_) => {
                return st.pages.message(
                    a.lang,
                    StatusCode::BAD_REQUEST,
                    "bad_form_title",
                    "bad_form_text",
                )
            }
        },
        None => None,
    };
    let silent = q.silent.as_deref().is_some_and(|s| !s.is_empty());
    let per_page = 100;
    let pg = q.page.unwrap_or(0).max(0);
    let rows = match store::contacts::list(
        &st.db,
        &ContactFilter {
            topic_id,
            form,
            silent,
            silent_after_days: st.cfg.silent_after_days,
            limit: Some(per_page + 1),
            // A page far past the end is empty, never a wrapped-around page 1.
            offset: pg.saturating_mul(per_page),
        },
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return internal(&st, a.lang, e),
    };
    let more = rows.len() as i64 > per_page;
    let rows: Vec<_> = rows.into_iter().take(per_page as usize).collect();
    page(
        &st,
        &a,
        "web/admin/contacts.html.j2",
        "contacts",
        json!({
            "contacts": rows, "topics": topics, "forms": ["encounter", "cooperation", "group"],
            "filter": {"silent": silent, "topic": topic, "form": form.map(|f| f.as_str())},
            "page": pg, "more": more,
        }),
    )
}

async fn contact(
    State(st): State<Shared>,
    Path(id): Path<crate::domain::ContactId>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let c = match store::contacts::by_id(&st.db, id).await {
        Ok(c) => c,
        Err(store::StoreError::NotFound(_)) => {
            return st.pages.message(
                a.lang,
                StatusCode::NOT_FOUND,
                "not_found_title",
                "not_found_text",
            )
        }
        Err(e) => return internal(&st, a.lang, e),
    };
    match store::contacts::detail(&st.db, &c.email, st.cfg.silent_after_days).await {
        Ok(mut d) => {
            crate::timeline::render(&mut d.timeline, a.lang);
            page(
                &st,
                &a,
                "web/admin/contact.html.j2",
                "contacts",
                json!({"d": d}),
            )
        }
        Err(e) => internal(&st, a.lang, e),
    }
}

async fn contact_forget(
    State(st): State<Shared>,
    Path(id): Path<crate::domain::ContactId>,
    req: Request,
) -> Response {
    let (a, _) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = async {
        let c = store::contacts::by_id(&st.db, id).await?;
        store::contacts::forget(&st.db, &c.email).await
    }
    .await;
    match r {
        Ok(()) => {
            tracing::info!(user = %a.session.user, contact = id.get(), "contact forgotten by admin");
            redirect(&format!("/admin/contacts{}", a.q))
        }
        Err(store::StoreError::NotFound(_)) => st.pages.message(
            a.lang,
            StatusCode::NOT_FOUND,
            "not_found_title",
            "not_found_text",
        ),
        Err(e) => internal(&st, a.lang, e),
    }
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

// ----- occasions -----

async fn occasions(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let r = async {
        let mut out = Vec::new();
        for o in store::occasions::list(&st.db).await? {
            let rsvps = store::report::rsvps(&st.db, o.id).await?;
            let full = store::occasions::by_id(&st.db, o.id).await?;
            let check_in = super::public::check_in_url(&st.cfg, &st.composer.key, &full);
            out.push(json!({"o": o, "rsvps": rsvps, "check_in": check_in}));
        }
        Ok::<_, store::StoreError>(out)
    }
    .await;
    match r {
        Ok(list) => page(
            &st,
            &a,
            "web/admin/occasions.html.j2",
            "occasions",
            json!({"occasions": list}),
        ),
        Err(e) => internal(&st, a.lang, e),
    }
}

/// The list at the door, for a signed-in admin (the same page helpers reach by the check-in
/// link).
async fn occasion_door(
    State(st): State<Shared>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let o = match store::occasions::get(&st.db, &slug).await {
        Ok(o) => o,
        Err(store::StoreError::UnknownOccasion(_)) => {
            return st.pages.message(
                a.lang,
                StatusCode::NOT_FOUND,
                "not_found_title",
                "not_found_text",
            )
        }
        Err(e) => return internal(&st, a.lang, e),
    };
    let action = format!("/admin/occasions/{}/door{}", o.slug, a.q);
    super::public::door_page(
        &st,
        a.lang,
        &o,
        &action,
        Some(&a.session.csrf),
        StatusCode::OK,
    )
    .await
    .unwrap_or_else(|e| internal(&st, a.lang, e))
}

async fn occasion_door_mark(
    State(st): State<Shared>,
    Path(slug): Path<String>,
    req: Request,
) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some((contact, attendance)) = super::public::door_mark(&form) else {
        return st.pages.message(
            a.lang,
            StatusCode::BAD_REQUEST,
            "bad_form_title",
            "bad_form_text",
        );
    };
    let r = async {
        let o = store::occasions::get(&st.db, &slug).await?;
        let cause = crate::activation::Cause::Admin {
            by: format!("admin:{}", a.session.user),
        };
        crate::activation::record_attendance(&st.db, contact, &o, attendance, &cause).await
    }
    .await;
    match r {
        Ok(()) => redirect(&format!("/admin/occasions/{slug}/door{}#c{contact}", a.q)),
        Err(e) => st.pages.render(
            "web/message.html.j2",
            a.lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"title": st.pages.text(a.lang, "action_failed"), "text": e.to_string()}),
        ),
    }
}

async fn occasion_csv(
    State(st): State<Shared>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let o = match store::occasions::get(&st.db, &slug).await {
        Ok(o) => o,
        Err(store::StoreError::UnknownOccasion(_)) => {
            return st.pages.message(
                a.lang,
                StatusCode::NOT_FOUND,
                "not_found_title",
                "not_found_text",
            )
        }
        Err(e) => return internal(&st, a.lang, e),
    };
    let rows = match store::report::rsvps(&st.db, o.id).await {
        Ok(r) => r,
        Err(e) => return internal(&st, a.lang, e),
    };
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    let head = [
        "email",
        "name",
        "organisation",
        "status",
        "via",
        "updated_at",
        "people",
    ];
    let mut result = w.write_record(head);
    for r in &rows {
        if result.is_err() {
            break;
        }
        result = w.write_record([
            csv_cell(&r.email).into_owned(),
            csv_cell(r.name.as_deref().unwrap_or("")).into_owned(),
            csv_cell(r.organisation.as_deref().unwrap_or("")).into_owned(),
            r.status.to_string(),
            csv_cell(&r.cause_kind).into_owned(),
            r.updated_at.to_rfc3339(),
            r.people().to_string(),
        ]);
    }
    let bytes = match result
        .map_err(anyhow::Error::from)
        .and_then(|_| w.into_inner().map_err(|e| anyhow::anyhow!("{e}")))
    {
        Ok(b) => b,
        Err(e) => return internal(&st, a.lang, e),
    };
    // A BOM so that German Excel opens the UTF-8 file with the umlauts intact.
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend(bytes);
    super::no_store(
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"rsvps-{}.csv\"", o.slug),
                ),
            ],
            body,
        )
            .into_response(),
    )
}
