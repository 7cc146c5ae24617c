//! The people who share the work (administrators only): their logins listed with role and
//! topics, a role or the topics changed, a login removed (asked once; its sessions end), and
//! new people invited by a one-time link that the page shows (and mails, when a mail transport
//! is set up and an address was given). Whoever opens the link chooses a password and is signed
//! in with the role and topics of the invitation.

use super::audit::AuditNote;
use super::password_link::{new_password, read_post, sign_in, LinkPage};
use super::{admin_of, admin_post, internal, page, redirect, topic_choices, Admin};
use crate::store::{self, StoreError};
use crate::web::auth::{self, Role};
use crate::web::{Lang, Shared};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::collections::HashMap;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/users", get(users))
        .route("/admin/users/invite", post(invite))
        .route("/admin/users/{name}/role", post(role))
        .route("/admin/users/{name}/remove", get(remove_ask).post(remove))
        .route("/admin/users/{name}/withdraw", post(withdraw))
        .route(
            "/admin/invitation/{secret}",
            get(invitation_page).post(accept),
        )
}

async fn users(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let done = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "done")
        .and_then(|(_, v)| match v.as_ref() {
            "role" => Some("users_done_role"),
            "removed" => Some("users_done_removed"),
            "withdrawn" => Some("users_done_withdrawn"),
            _ => None,
        })
        .map(|k| st.pages.text(a.lang, k));
    users_page(
        &st,
        &a,
        StatusCode::OK,
        Extra {
            done,
            ..Extra::default()
        },
    )
    .await
}

/// What the list page says besides the list.
#[derive(Default)]
struct Extra {
    done: Option<String>,
    /// An error, and the form it belongs to (`invite` or a login's name).
    error: Option<(String, String)>,
    /// What was typed into the invitation form (kept after an error).
    typed: HashMap<String, String>,
    /// A new invitation: its name, link, and whether it was mailed.
    invited: Option<serde_json::Value>,
}

async fn users_page(st: &Shared, a: &Admin, status: StatusCode, x: Extra) -> Response {
    let (members, invitations, topics) = match tokio::try_join!(
        store::team::members(&st.db),
        store::team::open_invitations(&st.db),
        topic_choices(st, a),
    ) {
        Ok(x) => x,
        Err(e) => return internal(st, a.lang, e),
    };
    let members: Vec<serde_json::Value> = members
        .iter()
        .map(|m| {
            json!({
                "name": m.name, "role": m.role, "email": m.email, "topics": m.topics,
                "me": m.name == a.session.user,
                "last_seen_at": m.last_seen_at.map(|t| t.to_rfc3339()),
            })
        })
        .collect();
    let invitations: Vec<serde_json::Value> = invitations
        .iter()
        .map(|i| {
            json!({"name": i.user_name, "role": i.role, "email": i.email, "by": i.created_by,
                   "expires_at": i.expires_at.to_rfc3339()})
        })
        .collect();
    let topics: Vec<serde_json::Value> = topics
        .iter()
        .map(|t| json!({"id": t.id.0, "slug": t.slug, "title": t.title}))
        .collect();
    let mut r = page(
        st,
        a,
        "web/admin/users.html.j2",
        "users",
        json!({
            "members": members, "invitations": invitations, "topics": topics,
            "roles": Role::ALL.map(Role::as_str), "done": x.done,
            "error": x.error.as_ref().map(|e| &e.1), "error_form": x.error.as_ref().map(|e| &e.0),
            "typed": x.typed, "invited": x.invited, "days": auth::INVITATION_DAYS,
        }),
    );
    *r.status_mut() = status;
    r
}

/// The role and topic ids a form chose (`role`, and `topic_ID` for each topic ticked).
fn chosen(form: &HashMap<String, String>) -> (Option<Role>, Vec<i64>) {
    let role = form.get("role").and_then(|r| Role::parse(r));
    let mut ids: Vec<i64> = form
        .keys()
        .filter_map(|k| k.strip_prefix("topic_")?.parse().ok())
        .collect();
    ids.sort_unstable();
    (role, ids)
}

/// A refusal said in the page's words: `key`'s text and, when the store said why, that too.
fn why(st: &Shared, lang: Lang, key: &str, e: &StoreError) -> String {
    match e {
        StoreError::Invalid(w) | StoreError::Conflict(w) => {
            format!("{} ({w})", st.pages.text(lang, key))
        }
        _ => st.pages.text(lang, key),
    }
}

async fn invite(State(st): State<Shared>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let name = form
        .get("user")
        .map(|u| u.trim().to_lowercase())
        .unwrap_or_default();
    let email = form
        .get("email")
        .map(|e| e.trim())
        .filter(|e| !e.is_empty());
    let (role, ids) = chosen(&form);
    let refuse = |text: String| Extra {
        error: Some(("invite".into(), text)),
        typed: form.clone(),
        ..Extra::default()
    };
    let Some(role) = role else {
        let x = refuse(st.pages.text(a.lang, "users_role_missing"));
        return users_page(&st, &a, StatusCode::UNPROCESSABLE_ENTITY, x).await;
    };
    // The reasons in the reader's words (the library checks the same again).
    let wrong = if store::topics::check_slug(&name).is_err() {
        Some("users_name_invalid")
    } else if email.is_some_and(|e| crate::domain::EmailAddress::parse(e).is_err()) {
        Some("users_email_invalid")
    } else if role != Role::Administrator && ids.is_empty() {
        Some("users_topics_missing")
    } else {
        None
    };
    if let Some(key) = wrong {
        let x = refuse(st.pages.text(a.lang, key));
        return users_page(&st, &a, StatusCode::UNPROCESSABLE_ENTITY, x).await;
    }
    let secret = match auth::invite(&st.db, &a.session.user, &name, email, role, &ids).await {
        Ok(s) => s,
        Err(StoreError::Conflict(_)) => {
            let x = refuse(st.pages.text(a.lang, "users_name_taken"));
            return users_page(&st, &a, StatusCode::UNPROCESSABLE_ENTITY, x).await;
        }
        Err(e @ StoreError::Invalid(_)) => {
            let x = refuse(why(&st, a.lang, "users_invite_refused", &e));
            return users_page(&st, &a, StatusCode::UNPROCESSABLE_ENTITY, x).await;
        }
        Err(e) => return internal(&st, a.lang, e),
    };
    let link = format!(
        "{}/admin/invitation/{secret}",
        st.cfg.http.public_url.trim_end_matches('/')
    );
    let mailed = match (email, &st.notifier) {
        (Some(to), Some(n)) => {
            let subject = st
                .pages
                .text(a.lang, "invite_mail_subject")
                .replace("{org}", &st.cfg.organisation.name);
            let text = st
                .pages
                .text(a.lang, "invite_mail_text")
                .replace("{by}", &a.session.user)
                .replace("{org}", &st.cfg.organisation.name)
                .replace("{user}", &name)
                .replace("{link}", &link)
                .replace("{days}", &auth::INVITATION_DAYS.to_string());
            match n.send_to_team(to, None, &subject, &text).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(user = %name, "invitation: mailing the link failed: {e:#}");
                    false
                }
            }
        }
        _ => false,
    };
    tracing::info!(by = %a.session.user, user = %name, role = role.as_str(), mailed, "person invited");
    let x = Extra {
        invited: Some(json!({"name": name, "link": link, "mailed": mailed, "email": email})),
        ..Extra::default()
    };
    let mut r = users_page(&st, &a, StatusCode::OK, x).await;
    r.extensions_mut().insert(AuditNote {
        target: Some(("user", name.clone())),
        detail: Some(role.as_str().to_string()),
    });
    crate::web::no_store(r)
}

async fn role(State(st): State<Shared>, Path(name): Path<String>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (role, ids) = chosen(&form);
    let refuse = |key: &str| Extra {
        error: Some((name.clone(), st.pages.text(a.lang, key))),
        ..Extra::default()
    };
    let Some(role) = role else {
        let x = refuse("users_role_missing");
        return users_page(&st, &a, StatusCode::UNPROCESSABLE_ENTITY, x).await;
    };
    if role != Role::Administrator && ids.is_empty() {
        let x = refuse("users_topics_missing");
        return users_page(&st, &a, StatusCode::UNPROCESSABLE_ENTITY, x).await;
    }
    // Somebody must be left who can manage the people.
    if name == a.session.user && role != Role::Administrator {
        match store::team::administrators(&st.db).await {
            Ok(n) if n <= 1 => {
                let x = refuse("users_last_administrator");
                return users_page(&st, &a, StatusCode::CONFLICT, x).await;
            }
            Ok(_) => {}
            Err(e) => return internal(&st, a.lang, e),
        }
    }
    let ids = if role == Role::Administrator {
        vec![]
    } else {
        ids
    };
    match store::auth::set_role(&st.db, &name, role.as_str(), &ids).await {
        Ok(true) => {}
        Ok(false) => return gone(&st, &a),
        Err(e) => return internal(&st, a.lang, e),
    }
    tracing::info!(by = %a.session.user, user = %name, role = role.as_str(), "role changed");
    let mut r = redirect(&format!("/admin/users{}", with(a.q, "done=role")));
    r.extensions_mut().insert(AuditNote {
        target: None,
        detail: Some(role.as_str().to_string()),
    });
    r
}

fn gone(st: &Shared, a: &Admin) -> Response {
    st.pages.message(
        a.lang,
        StatusCode::NOT_FOUND,
        "not_found_title",
        "users_gone",
    )
}

/// `q` (empty or `?lang=..`) with one more parameter.
fn with(q: &str, param: &str) -> String {
    if q.is_empty() {
        format!("?{param}")
    } else {
        format!("{q}&{param}")
    }
}

async fn remove_ask(
    State(st): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let members = match store::team::members(&st.db).await {
        Ok(m) => m,
        Err(e) => return internal(&st, a.lang, e),
    };
    let Some(m) = members.into_iter().find(|m| m.name == name) else {
        return gone(&st, &a);
    };
    page(
        &st,
        &a,
        "web/admin/user_remove.html.j2",
        "users",
        json!({"m": m, "me": m.name == a.session.user}),
    )
}

async fn remove(State(st): State<Shared>, Path(name): Path<String>, req: Request) -> Response {
    let (a, _) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if name == a.session.user {
        let x = Extra {
            error: Some((name.clone(), st.pages.text(a.lang, "users_not_yourself"))),
            ..Extra::default()
        };
        return users_page(&st, &a, StatusCode::CONFLICT, x).await;
    }
    match store::auth::remove_user(&st.db, &name).await {
        Ok(true) => {}
        Ok(false) => return gone(&st, &a),
        Err(e) => return internal(&st, a.lang, e),
    }
    tracing::info!(by = %a.session.user, user = %name, "login removed; its sessions ended");
    redirect(&format!("/admin/users{}", with(a.q, "done=removed")))
}

async fn withdraw(State(st): State<Shared>, Path(name): Path<String>, req: Request) -> Response {
    let (a, _) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match store::team::withdraw_invitations(&st.db, &name).await {
        Ok(0) => gone(&st, &a),
        Ok(_) => redirect(&format!("/admin/users{}", with(a.q, "done=withdrawn"))),
        Err(e) => internal(&st, a.lang, e),
    }
}

// ----- the invitation's link -----

const INVITATION: LinkPage = LinkPage {
    template: "web/admin/invitation.html.j2",
    closed_title: "invitation_closed_title",
    closed_text: "invitation_closed_text",
};

fn invitation_form(
    st: &Shared,
    lang: Lang,
    uri: &Uri,
    status: StatusCode,
    inv: &store::team::Invitation,
    error: Option<String>,
) -> Response {
    INVITATION.form(
        st,
        lang,
        uri,
        status,
        error,
        json!({"user": inv.user_name, "role": inv.role, "by": inv.created_by}),
    )
}

async fn invitation_page(
    State(st): State<Shared>,
    Path(secret): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = Lang::from_request(uri.query(), &headers).admin();
    match auth::open_invitation(&st.db, &secret).await {
        Ok(Some(inv)) => invitation_form(&st, lang, &uri, StatusCode::OK, &inv, None),
        Ok(None) => INVITATION.closed(&st, lang),
        Err(e) => internal(&st, lang, e),
    }
}

async fn accept(State(st): State<Shared>, Path(secret): Path<String>, req: Request) -> Response {
    let (parts, lang, typed) = match read_post(&st, req).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let inv = match auth::open_invitation(&st.db, &secret).await {
        Ok(Some(inv)) => inv,
        Ok(None) => return INVITATION.closed(&st, lang),
        Err(e) => return internal(&st, lang, e),
    };
    let refuse = |text: String| {
        invitation_form(
            &st,
            lang,
            &parts.uri,
            StatusCode::UNPROCESSABLE_ENTITY,
            &inv,
            Some(text),
        )
    };
    let password = match new_password(&st, lang, &typed) {
        Ok(p) => p,
        Err(text) => return refuse(text),
    };
    let user = match auth::redeem_invitation(&st.db, &secret, password).await {
        Ok(u) => u,
        Err(e) => return INVITATION.redeem_failed(&st, lang, e, refuse),
    };
    tracing::info!(%user, "invitation accepted");
    sign_in(&st, &parts, lang, &user).await
}
