//! `/api/review`: the review queue and its answers (accept, reject, undo).

use super::{ok, ApiResult, Caller};
use crate::inbound::apply;
use crate::web::{ApiError, Shared};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReviewQuery {
    all: Option<bool>,
    limit: Option<i64>,
}

pub(super) async fn review_list(
    State(st): State<Shared>,
    Query(q): Query<ReviewQuery>,
) -> ApiResult {
    let rows = apply::review_list(
        &st.db,
        q.all.unwrap_or(false),
        q.limit.unwrap_or(100).clamp(1, 1000),
    )
    .await?;
    ok(rows)
}

pub(super) async fn review_action(
    State(st): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((id, action)): Path<(i64, String)>,
) -> ApiResult {
    ok(run_review_action(&st, id, &action, &caller.0).await?)
}

pub async fn run_review_action(
    st: &Shared,
    id: i64,
    action: &str,
    by: &str,
) -> Result<Value, ApiError> {
    let r = match action {
        "accept" => apply::review_accept(&st.inbound, id, None, by)
            .await
            .map(|a| json!({"decision": id, "status": "applied", "action": a})),
        "reject" => apply::review_reject(&st.db, id, by)
            .await
            .map(|_| json!({"decision": id, "status": "rejected"})),
        "undo" => match apply::review_undo(&st.db, id, by).await {
            Ok(undone) => {
                // A yes taken back freed a place: the first in line is told, as after a decline.
                if let (Some(n), Some(o)) = (&st.notifier, &undone.occasion) {
                    crate::outbound::occasion::send_moved_up(&st.db, n, o, &undone.moved_up).await;
                }
                Ok(json!({"decision": id, "status": "undone", "moved_up": undone.moved_up.len()}))
            }
            Err(e) => Err(e),
        },
        _ => {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("unknown action {action:?} (accept, reject, undo)"),
            ))
        }
    };
    r.map_err(|e| {
        let msg = format!("{e:#}");
        if msg.starts_with("no decision") {
            ApiError(StatusCode::NOT_FOUND, msg)
        } else {
            ApiError(StatusCode::CONFLICT, msg)
        }
    })
}
