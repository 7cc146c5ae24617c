//! The review queue as an inbox: the replies netzpost was unsure of, open ones first, each with
//! its visible text, the contact, and what netzpost proposes in plain words (the technical
//! reason behind "Details"). One click decides; a different meaning can be chosen ("accept
//! as", as `netzpost review accept --as`); or a person answers in the reply's thread, and may
//! decide in the same step. The decisions are `inbound::apply`'s, the same the CLI and the API
//! make.

use super::{admin_of, admin_post, internal, page, redirect, refused_text, Admin};
use crate::classify::Intent;
use crate::inbound::answer::{review_answer, AnswerError};
use crate::inbound::apply;
use crate::web::api::run_review_action;
use crate::web::Shared;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::collections::HashMap;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/review", get(review))
        .route("/admin/review/{id}/{action}", post(review_action))
}

/// The meanings a person can choose instead of netzpost's proposal.
const MEANINGS: [&str; 5] = ["accept", "decline", "cooperation", "unsubscribe", "none"];

async fn review(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match apply::review_list(&st.db, true, 200).await {
        Ok(all) => {
            let mut rows = Vec::with_capacity(all.len());
            for d in all {
                if a.reaches(&st, crate::store::auth::Named::Decision(d.id))
                    .await
                {
                    rows.push(d);
                }
            }
            let open = rows
                .iter()
                .filter(|d| d.status.as_str() == "pending")
                .count();
            page(
                &st,
                &a,
                "web/admin/review.html.j2",
                "review",
                json!({"decisions": rows, "open": open, "meanings": MEANINGS,
                       "can_answer": st.notifier.is_some()}),
            )
        }
        Err(e) => internal(&st, a.lang, e),
    }
}

async fn review_action(
    State(st): State<Shared>,
    Path((id, action)): Path<(i64, String)>,
    req: Request,
) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let by = format!("admin:{}", a.session.user);
    match action.as_str() {
        "answer" => answer(&st, &a, id, &form, &by).await,
        "accept" => match form.get("as").map(String::as_str).filter(|s| !s.is_empty()) {
            Some(meaning) => decide_as(&st, &a, id, meaning, &by).await,
            None => decide(&st, &a, id, "accept", &by).await,
        },
        _ => decide(&st, &a, id, &action, &by).await,
    }
}

async fn decide(st: &Shared, a: &Admin, id: i64, action: &str, by: &str) -> Response {
    match run_review_action(st, id, action, by).await {
        Ok(_) => back(a, id),
        Err(e) => refused_text(st, a.lang, e.0, &e.1),
    }
}

async fn decide_as(st: &Shared, a: &Admin, id: i64, meaning: &str, by: &str) -> Response {
    let Ok(intent) = meaning.parse::<Intent>() else {
        return refused_text(
            st,
            a.lang,
            StatusCode::BAD_REQUEST,
            &st.pages.text(a.lang, "review_meaning_unknown"),
        );
    };
    match apply::review_accept(&st.inbound, id, Some(intent), by).await {
        Ok(_) => back(a, id),
        Err(e) => refused_text(st, a.lang, StatusCode::CONFLICT, &format!("{e:#}")),
    }
}

/// Sends the answer, then (when asked) decides: the answer is out even if the decision is
/// refused_text, and the page says so.
async fn answer(
    st: &Shared,
    a: &Admin,
    id: i64,
    form: &HashMap<String, String>,
    by: &str,
) -> Response {
    let text = form.get("text").map(String::as_str).unwrap_or("");
    if let Err(e) = review_answer(&st.inbound, id, text, by).await {
        let msg = match e.downcast_ref::<AnswerError>() {
            Some(AnswerError::Empty) => st.pages.text(a.lang, "answer_empty"),
            Some(AnswerError::NoContact) => st.pages.text(a.lang, "answer_no_contact"),
            Some(AnswerError::NoTransport) => st.pages.text(a.lang, "answer_no_transport"),
            None => format!("{e:#}"),
        };
        return refused_text(st, a.lang, StatusCode::UNPROCESSABLE_ENTITY, &msg);
    }
    match form.get("then").map(String::as_str).unwrap_or("") {
        "" => back(a, id),
        "accept" | "reject" => {
            let then = form["then"].clone();
            decide(st, a, id, &then, by).await
        }
        meaning => decide_as(st, a, id, meaning, by).await,
    }
}

fn back(a: &Admin, id: i64) -> Response {
    redirect(&format!("/admin/review{}#d{id}", a.q))
}
