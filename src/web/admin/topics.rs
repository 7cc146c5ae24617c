//! Topics in the admin pages: the list with their consent counts, a new topic, its title and
//! description changed, archived (no new sends, hidden from the choices, history kept) and taken
//! back into use.

use super::{admin_of, admin_post, internal, page, redirect, Admin};
use crate::store::{self, StoreError};
use crate::web::Shared;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::collections::HashMap;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/topics", get(topics).post(create))
        .route("/admin/topics/{slug}", post(describe))
        .route("/admin/topics/{slug}/archive", post(archive))
}

async fn topics(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    topics_page(&st, &a, StatusCode::OK, &HashMap::new(), None).await
}

/// The page, with what was typed into a form and the error (form, field, text).
async fn topics_page(
    st: &Shared,
    a: &Admin,
    status: StatusCode,
    values: &HashMap<String, String>,
    error: Option<(String, &str, String)>,
) -> Response {
    let list = match store::topics::list(&st.db).await {
        Ok(mut t) => {
            t.retain(|t| a.sees(Some(t.id.0)));
            t
        }
        Err(e) => return internal(st, a.lang, e),
    };
    let (active, archived): (Vec<_>, Vec<_>) =
        list.into_iter().partition(|t| t.archived_at.is_none());
    let mut r = page(
        st,
        a,
        "web/admin/topics.html.j2",
        "topics",
        json!({
            "topics": active, "archived": archived, "v": values,
            "error_form": error.as_ref().map(|e| &e.0), "error_field": error.as_ref().map(|e| e.1),
            "error": error.as_ref().map(|e| &e.2),
        }),
    );
    *r.status_mut() = status;
    r
}

fn text(form: &HashMap<String, String>, key: &str) -> String {
    form.get(key)
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// Title and description, checked: the error names the field.
fn checked(
    st: &Shared,
    a: &Admin,
    form: &HashMap<String, String>,
) -> Result<(String, String), (&'static str, String)> {
    let (title, description) = (text(form, "title"), text(form, "description"));
    if title.is_empty() || crate::domain::check_text_field("title", &title).is_err() {
        return Err(("title", st.pages.text(a.lang, "error_title_missing")));
    }
    if crate::domain::check_note_field("description", &description).is_err() {
        return Err(("description", st.pages.text(a.lang, "error_text_field")));
    }
    Ok((title, description))
}

async fn create(State(st): State<Shared>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    let slug = text(&form, "slug").to_lowercase();
    if store::topics::check_slug(&slug).is_err() {
        let msg = st.pages.text(a.lang, "error_slug");
        return topics_page(&st, &a, invalid, &form, Some(("new".into(), "slug", msg))).await;
    }
    let (title, description) = match checked(&st, &a, &form) {
        Ok(x) => x,
        Err((f, msg)) => {
            return topics_page(&st, &a, invalid, &form, Some(("new".into(), f, msg))).await
        }
    };
    let description = (!description.is_empty()).then_some(description.as_str());
    match store::topics::add(&st.db, &slug, &title, description).await {
        Ok(t) => {
            tracing::info!(user = %a.session.user, topic = %t.slug, "topic added by admin");
            redirect(&format!("/admin/topics{}#topic-{}", a.q, t.slug))
        }
        Err(StoreError::Conflict(_)) => {
            let msg = st.pages.text(a.lang, "error_slug_taken");
            topics_page(
                &st,
                &a,
                StatusCode::CONFLICT,
                &form,
                Some(("new".into(), "slug", msg)),
            )
            .await
        }
        Err(e) => internal(&st, a.lang, e),
    }
}

async fn describe(State(st): State<Shared>, Path(slug): Path<String>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (title, description) = match checked(&st, &a, &form) {
        Ok(x) => x,
        Err((f, msg)) => {
            return topics_page(
                &st,
                &a,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Some((slug, f, msg)),
            )
            .await
        }
    };
    match store::topics::describe(&st.db, &slug, &title, Some(&description)).await {
        Ok(t) => redirect(&format!("/admin/topics{}#topic-{}", a.q, t.slug)),
        Err(e) if e.is_not_found() => st.pages.message(
            a.lang,
            StatusCode::NOT_FOUND,
            "not_found_title",
            "not_found_text",
        ),
        Err(e) => internal(&st, a.lang, e),
    }
}

async fn archive(State(st): State<Shared>, Path(slug): Path<String>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let archived = form.get("archived").map(String::as_str) != Some("0");
    match store::topics::set_archived(&st.db, &slug, archived).await {
        Ok(t) => {
            tracing::info!(user = %a.session.user, topic = %t.slug, archived, "topic archive state set by admin");
            redirect(&format!("/admin/topics{}#topic-{}", a.q, t.slug))
        }
        Err(e) if e.is_not_found() => st.pages.message(
            a.lang,
            StatusCode::NOT_FOUND,
            "not_found_title",
            "not_found_text",
        ),
        Err(e) => internal(&st, a.lang, e),
    }
}
