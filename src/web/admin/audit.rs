//! The audit log of the admin pages: every change (a POST) and every export (a CSV download)
//! that succeeded is recorded by one middleware around all admin routes ([`record`]), so no
//! handler can forget it. What an action is called and what it names comes from its path
//! ([`action_of`]); the new thing a "create" made comes from where it redirects to. A handler
//! may add a detail by putting an [`AuditNote`] into its response's extensions.
//!
//! Administrators read it on `/admin/audit` (newest first, in pages) and download it as a CSV
//! for Excel (UTF-8 with BOM, semicolons).

use super::{admin_of, cookie, internal, page, Admin, SESSION_COOKIE};
use crate::output::csv_cell;
use crate::store::{self, audit::NewEntry};
use crate::web::download::{csv_download, excel_writer};
use crate::web::{auth, Lang, Shared};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, Uri};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

/// Entries on one page of the log.
const PER_PAGE: i64 = 50;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/audit", get(list))
        .route("/admin/audit/export.csv", get(export))
}

/// What a handler adds to its entry (put into the response's extensions): the thing it acted on
/// when the path does not name it (kind and name), and a detail.
#[derive(Debug, Clone)]
pub(super) struct AuditNote {
    pub target: Option<(&'static str, String)>,
    pub detail: Option<String>,
}

/// What names the thing an action was done to.
#[derive(Debug, Clone, Copy)]
enum Of {
    Nothing,
    /// The path's segment at this index (after `/admin/`), a thing of this kind.
    Segment(&'static str, usize),
    /// The last path segment of the redirect (`/admin/contacts/42`): the thing a form created.
    Created(&'static str),
    /// What follows this prefix in the redirect's fragment (`#topic-nord`).
    Fragment(&'static str, &'static str),
    /// A review item (segment 1): its contact, looked up after the action.
    Review,
}

/// The admin routes that change something or hand data out: method, path pattern (after
/// `/admin/`; `*` is one segment), the action, what it names, and a segment to keep as its
/// detail.
const ACTIONS: &[(Method, &str, &str, Of, Option<usize>)] = &[
    (Method::POST, "login", "login", Of::Nothing, None),
    (Method::POST, "logout", "logout", Of::Nothing, None),
    (Method::POST, "setup/*", "setup", Of::Nothing, None),
    (
        Method::POST,
        "account/password",
        "password",
        Of::Nothing,
        None,
    ),
    (
        Method::POST,
        "account/sessions/end",
        "session_end",
        Of::Nothing,
        None,
    ),
    (
        Method::POST,
        "topics",
        "topic_create",
        Of::Fragment("topic", "topic-"),
        None,
    ),
    (
        Method::POST,
        "topics/*",
        "topic_describe",
        Of::Segment("topic", 1),
        None,
    ),
    (
        Method::POST,
        "topics/*/archive",
        "topic_archive",
        Of::Segment("topic", 1),
        None,
    ),
    (
        Method::POST,
        "contacts/new",
        "contact_create",
        Of::Created("contact"),
        None,
    ),
    (
        Method::POST,
        "contacts/*/edit",
        "contact_edit",
        Of::Segment("contact", 1),
        None,
    ),
    (
        Method::POST,
        "contacts/*/note",
        "contact_note",
        Of::Segment("contact", 1),
        None,
    ),
    (
        Method::POST,
        "contacts/*/relation",
        "contact_relation",
        Of::Segment("contact", 1),
        None,
    ),
    (
        Method::POST,
        "contacts/*/forget",
        "contact_erase",
        Of::Segment("contact", 1),
        None,
    ),
    (
        Method::GET,
        "contacts/export.csv",
        "contacts_export",
        Of::Nothing,
        None,
    ),
    (Method::POST, "import", "import_upload", Of::Nothing, None),
    (Method::POST, "import/*", "import_run", Of::Nothing, None),
    (
        Method::GET,
        "import/*/rejects.csv",
        "rejects_export",
        Of::Nothing,
        None,
    ),
    (
        Method::POST,
        "campaigns/new",
        "campaign_create",
        Of::Created("campaign"),
        None,
    ),
    (
        Method::POST,
        "campaigns/*/edit",
        "campaign_edit",
        Of::Segment("campaign", 1),
        None,
    ),
    (
        Method::POST,
        "campaigns/*/send",
        "campaign_send",
        Of::Segment("campaign", 1),
        None,
    ),
    (
        Method::POST,
        "campaigns/*/stop",
        "campaign_stop",
        Of::Segment("campaign", 1),
        None,
    ),
    (
        Method::POST,
        "campaigns/*/pause",
        "campaign_pause",
        Of::Segment("campaign", 1),
        None,
    ),
    (
        Method::POST,
        "campaigns/*/resume",
        "campaign_resume",
        Of::Segment("campaign", 1),
        None,
    ),
    (
        Method::POST,
        "campaigns/*/test",
        "campaign_test",
        Of::Segment("campaign", 1),
        None,
    ),
    (
        Method::POST,
        "campaigns/*/schedule",
        "campaign_schedule",
        Of::Segment("campaign", 1),
        None,
    ),
    (
        Method::POST,
        "occasions/new",
        "occasion_create",
        Of::Created("occasion"),
        None,
    ),
    (
        Method::POST,
        "occasions/*",
        "occasion_change",
        Of::Segment("occasion", 1),
        None,
    ),
    (
        Method::POST,
        "occasions/*/cancel",
        "occasion_cancel",
        Of::Segment("occasion", 1),
        None,
    ),
    (
        Method::POST,
        "occasions/*/pick",
        "occasion_pick",
        Of::Segment("occasion", 1),
        None,
    ),
    (
        Method::POST,
        "occasions/*/thank",
        "occasion_thank",
        Of::Segment("occasion", 1),
        None,
    ),
    (
        Method::POST,
        "occasions/*/seat/*",
        "occasion_seat",
        Of::Segment("contact", 3),
        Some(1),
    ),
    (
        Method::POST,
        "occasions/*/door",
        "occasion_attendance",
        Of::Fragment("contact", "c"),
        Some(1),
    ),
    (
        Method::GET,
        "occasions/*/rsvps.csv",
        "rsvps_export",
        Of::Segment("occasion", 1),
        None,
    ),
    (
        Method::POST,
        "review/*/accept",
        "review_accept",
        Of::Review,
        None,
    ),
    (
        Method::POST,
        "review/*/reject",
        "review_reject",
        Of::Review,
        None,
    ),
    (
        Method::POST,
        "review/*/answer",
        "review_answer",
        Of::Review,
        None,
    ),
    (
        Method::POST,
        "review/*/undo",
        "review_undo",
        Of::Review,
        None,
    ),
    (
        Method::POST,
        "users/invite",
        "user_invite",
        Of::Nothing,
        None,
    ),
    (
        Method::POST,
        "users/*/role",
        "user_role",
        Of::Segment("user", 1),
        None,
    ),
    (
        Method::POST,
        "users/*/remove",
        "user_remove",
        Of::Segment("user", 1),
        None,
    ),
    (
        Method::POST,
        "users/*/withdraw",
        "user_withdraw",
        Of::Segment("user", 1),
        None,
    ),
    (
        Method::POST,
        "invitation/*",
        "user_joined",
        Of::Nothing,
        None,
    ),
    (
        Method::GET,
        "audit/export.csv",
        "audit_export",
        Of::Nothing,
        None,
    ),
];

/// The entry a request makes when it succeeds: the action and what it names. A POST to an
/// admin path nobody listed is recorded as `other` with its path, so a new form is never
/// missed; a GET that hands out no data records nothing.
fn action_of(method: &Method, path: &str) -> Option<(&'static str, Of, Option<usize>)> {
    let rest = path.trim_end_matches('/').strip_prefix("/admin/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    let hit = ACTIONS.iter().find(|(m, pattern, ..)| {
        let p: Vec<&str> = pattern.split('/').collect();
        m == method
            && p.len() == parts.len()
            && p.iter().zip(&parts).all(|(p, s)| *p == "*" || p == s)
    });
    match hit {
        Some((_, _, action, of, detail)) => Some((action, *of, *detail)),
        None if method == Method::POST => Some(("other", Of::Nothing, None)),
        None => None,
    }
}

/// Records what a successful admin request did (see the module's comment). The user is the
/// session's before the request, or (signing in, the setup link, an invitation) the one the
/// response opens. A failed record is logged and does not undo the action, which is done by then.
pub(crate) async fn record(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let Some((action, of, detail_at)) = action_of(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_string();
    let before = match cookie(req.headers(), SESSION_COOKIE) {
        Some(id) => auth::session(&st.db, &id).await.ok().flatten(),
        None => None,
    };
    let r = next.run(req).await;
    if r.status().is_client_error() || r.status().is_server_error() {
        return r;
    }
    let user = match before {
        Some(s) => Some(s.user),
        None => match opened_session(&r) {
            Some(id) => auth::session(&st.db, &id)
                .await
                .ok()
                .flatten()
                .map(|s| s.user),
            None => None,
        },
    };
    let Some(user) = user else {
        return r;
    };
    let parts: Vec<&str> = path
        .trim_end_matches('/')
        .trim_start_matches("/admin/")
        .split('/')
        .collect();
    let location = r
        .headers()
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or("");
    let (kind, target): (Option<&str>, Option<String>) = match of {
        Of::Nothing => (None, None),
        Of::Segment(kind, i) => (Some(kind), parts.get(i).map(|s| unescape(s))),
        Of::Created(kind) => (Some(kind), created(location)),
        Of::Fragment(kind, prefix) => (
            Some(kind),
            location
                .split_once('#')
                .and_then(|(_, f)| f.strip_prefix(prefix))
                .map(str::to_string),
        ),
        Of::Review => match parts.get(1).and_then(|id| id.parse::<i64>().ok()) {
            Some(id) => match store::decisions::get(&st.db, id).await {
                Ok(d) => (Some("contact"), d.contact_id.map(|c| c.0.to_string())),
                Err(_) => (None, None),
            },
            None => (None, None),
        },
    };
    let note = r.extensions().get::<AuditNote>().cloned();
    let (kind, target) = match note.as_ref().and_then(|n| n.target.clone()) {
        Some((k, t)) => (Some(k), Some(t)),
        None => (kind, target),
    };
    let note = note.and_then(|n| n.detail);
    let detail = match (action, detail_at) {
        ("other", _) => Some(path.clone()),
        (_, Some(i)) => parts.get(i).map(|s| unescape(s)),
        _ => None,
    };
    let detail = match (detail, note) {
        (Some(d), Some(n)) => Some(format!("{d} · {n}")),
        (d, n) => d.or(n),
    };
    let entry = NewEntry {
        user: &user,
        action,
        target_kind: kind.filter(|_| target.is_some()),
        target: target.as_deref(),
        detail: detail.as_deref(),
    };
    if let Err(e) = store::audit::record(&st.db, &entry).await {
        tracing::error!(%user, action, "audit log: recording failed: {e}");
    }
    r
}

/// Records what a successful call of the JSON API changed or handed out (every method but GET,
/// and a person's export), as `api` with the method and the path; a contact's address in the
/// path is left out, so an erased person's address does not stay here. Mail handed in by a
/// provider's webhook (`/api/inbound`) is no one's action and is not recorded.
pub(crate) async fn record_api(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let export = path.ends_with("/export");
    if (req.method() == Method::GET && !export) || path.ends_with("/inbound") {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let caller = req
        .extensions()
        .get::<crate::web::api::Caller>()
        .map(|c| c.0.clone());
    let r = next.run(req).await;
    let Some(user) = caller else {
        return r;
    };
    if r.status().is_client_error() || r.status().is_server_error() {
        return r;
    }
    let mut parts: Vec<&str> = path.split('/').collect();
    if let Some(i) = parts.iter().position(|p| *p == "contacts") {
        if let Some(next) = parts.get_mut(i + 1) {
            if next.contains('@') || next.contains("%40") {
                *next = "…";
            }
        }
    }
    // (Inside `/api` the router sees the path without it.)
    let shown = parts.join("/");
    let detail = if shown.starts_with("/api/") {
        format!("{method} {shown}")
    } else {
        format!("{method} /api{shown}")
    };
    let action = if export { "api_export" } else { "api" };
    let entry = NewEntry {
        user: &user,
        action,
        target_kind: None,
        target: None,
        detail: Some(&detail),
    };
    if let Err(e) = store::audit::record(&st.db, &entry).await {
        tracing::error!(%user, action, "audit log: recording failed: {e}");
    }
    r
}

/// The session cookie a response sets (signing in), if any.
fn opened_session(r: &Response) -> Option<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.trim().split_once('='))
        .find(|(k, v)| *k == SESSION_COOKIE && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

/// The last path segment of a redirect (`/admin/contacts/42?lang=en#x` -> `42`).
fn created(location: &str) -> Option<String> {
    let path = location.split(['?', '#']).next()?;
    let last = path.trim_end_matches('/').rsplit('/').next()?;
    (!last.is_empty()).then(|| unescape(last))
}

fn unescape(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Where the log's target links to on the admin pages.
fn link(kind: &str, target: &str) -> Option<String> {
    let t = percent_encoding::utf8_percent_encode(target, percent_encoding::NON_ALPHANUMERIC);
    Some(match kind {
        "contact" => format!("/admin/contacts/{t}"),
        "campaign" => format!("/admin/campaigns/{t}"),
        "occasion" => format!("/admin/occasions/{t}"),
        "topic" => format!("/admin/topics#topic-{t}"),
        "user" => "/admin/users".to_string(),
        _ => return None,
    })
}

/// An entry in the reader's words: when, who, what, on what.
fn words(st: &Shared, lang: Lang, e: &store::audit::Entry) -> (String, Option<String>) {
    let what = st.pages.text(lang, &format!("audit_{}", e.action));
    let on = match (&e.target_kind, &e.target) {
        (Some(kind), Some(t)) => Some(format!(
            "{} {t}",
            st.pages.text(lang, &format!("audit_kind_{kind}"))
        )),
        _ => None,
    };
    (what, on)
}

async fn list(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let asked = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse::<i64>().ok());
    let total = match store::audit::count(&st.db).await {
        Ok(n) => n,
        Err(e) => return internal(&st, a.lang, e),
    };
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let pg = asked.unwrap_or(1).clamp(1, pages);
    let rows = match store::audit::page(&st.db, PER_PAGE, (pg - 1) * PER_PAGE).await {
        Ok(r) => r,
        Err(e) => return internal(&st, a.lang, e),
    };
    let entries: Vec<serde_json::Value> = rows
        .iter()
        .map(|e| {
            let (what, on) = words(&st, a.lang, e);
            json!({
                "at": e.at.to_rfc3339(),
                "user": e.user_name,
                "what": what,
                "on": on,
                "link": e.target_kind.as_deref().zip(e.target.as_deref())
                    .and_then(|(k, t)| link(k, t)),
                "detail": e.detail,
            })
        })
        .collect();
    page(
        &st,
        &a,
        "web/admin/audit.html.j2",
        "audit",
        json!({"entries": entries, "total": total, "page": pg, "pages": pages,
               "keep": keep(&a)}),
    )
}

/// The language parameter of `a`'s links, to keep in the pager's links.
fn keep(a: &Admin) -> String {
    a.q.trim_start_matches('?').to_string()
}

async fn export(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let tz = match st.cfg.tz() {
        Ok(tz) => tz,
        Err(e) => return internal(&st, a.lang, e),
    };
    let mut w = excel_writer();
    let head = ["col_when", "col_who", "col_what", "col_on", "col_detail"]
        .map(|k| st.pages.text(a.lang, &format!("audit_{k}")));
    let mut result = w.write_record(&head).map_err(anyhow::Error::from);
    let format = if a.lang == Lang::De {
        "%d.%m.%Y %H:%M:%S"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    // Page through the log, so a long one is never read at once.
    let mut offset = 0;
    while result.is_ok() {
        let rows = match store::audit::page(&st.db, 1000, offset).await {
            Ok(r) => r,
            Err(e) => return internal(&st, a.lang, e),
        };
        if rows.is_empty() {
            break;
        }
        offset += rows.len() as i64;
        for e in &rows {
            let (what, on) = words(&st, a.lang, e);
            let at = e.at.with_timezone(&tz).format(format).to_string();
            result = w
                .write_record([
                    at.as_str(),
                    &csv_cell(&e.user_name),
                    &csv_cell(&what),
                    &csv_cell(on.as_deref().unwrap_or("")),
                    &csv_cell(e.detail.as_deref().unwrap_or("")),
                ])
                .map_err(anyhow::Error::from);
            if result.is_err() {
                break;
            }
        }
    }
    let body = match result.and_then(|_| w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))) {
        Ok(b) => b,
        Err(e) => return internal(&st, a.lang, e),
    };
    csv_download("protokoll.csv", "audit-log.csv", a.lang, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_action_and_its_target() {
        let (a, of, d) = action_of(&Method::POST, "/admin/campaigns/herbst/send").unwrap();
        assert_eq!(a, "campaign_send");
        assert!(matches!(of, Of::Segment("campaign", 1)));
        assert_eq!(d, None);
        let (a, of, d) = action_of(&Method::POST, "/admin/occasions/cafe/seat/12").unwrap();
        assert_eq!(a, "occasion_seat");
        assert!(matches!(of, Of::Segment("contact", 3)));
        assert_eq!(d, Some(1));
        assert_eq!(
            action_of(&Method::POST, "/admin/topics").unwrap().0,
            "topic_create"
        );
        assert_eq!(
            action_of(&Method::POST, "/admin/occasions/cafe").unwrap().0,
            "occasion_change"
        );
        // An unlisted form is still recorded; reading is not.
        assert_eq!(
            action_of(&Method::POST, "/admin/something/new").unwrap().0,
            "other"
        );
        assert!(action_of(&Method::GET, "/admin/contacts/3").is_none());
        assert_eq!(
            action_of(&Method::GET, "/admin/contacts/export.csv")
                .unwrap()
                .0,
            "contacts_export"
        );
        assert!(action_of(&Method::POST, "/api/contacts").is_none());
    }

    #[test]
    fn a_created_thing_is_read_from_the_redirect() {
        assert_eq!(
            created("/admin/contacts/42?lang=en#fields").as_deref(),
            Some("42")
        );
        assert_eq!(
            created("/admin/campaigns/herbst%20fest").as_deref(),
            Some("herbst fest")
        );
        assert_eq!(created(""), None);
    }

    /// Every form of the admin pages has a name in the log (else it would say "other").
    #[test]
    fn every_admin_form_is_a_named_action() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/admin");
        let mut seen = 0;
        for f in std::fs::read_dir(dir).unwrap() {
            let src = std::fs::read_to_string(f.unwrap().path()).unwrap();
            for chunk in src.split(".route(").skip(1) {
                let chunk = chunk.split(".route(").next().unwrap_or(chunk);
                let Some(path) = chunk.split('"').nth(1) else {
                    continue;
                };
                if !path.starts_with("/admin/") {
                    continue;
                }
                let end = chunk.find("\n        .").unwrap_or(chunk.len());
                let route = &chunk[..end];
                let concrete: String = path
                    .split('/')
                    .map(|s| if s.starts_with('{') { "x" } else { s })
                    .collect::<Vec<_>>()
                    .join("/");
                if route.contains("post(") {
                    seen += 1;
                    if concrete.ends_with("/{action}") || path.ends_with("/{action}") {
                        continue; // each action is listed on its own (campaigns, review)
                    }
                    let (a, ..) = action_of(&Method::POST, &concrete).unwrap();
                    assert_ne!(a, "other", "POST {path} has no name in the audit log");
                }
                if path.ends_with(".csv") {
                    let (a, ..) = action_of(&Method::GET, &concrete).unwrap();
                    assert!(a.ends_with("_export"), "GET {path}: {a}");
                }
            }
        }
        assert!(seen > 20, "found only {seen} forms: the scan is broken");
    }
}
