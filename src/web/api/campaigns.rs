//! `/api/campaigns`: list, create, show, preview, and the actions (send, pause, resume, cancel,
//! test, schedule).

use super::{ok, ApiResult};
use crate::outbound::campaign::{self, CreateArgs};
use crate::store::campaigns::{Audience, CampaignKind, Translations};
use crate::store::{self, Timestamp};
use crate::web::{ApiError, Shared};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) async fn campaigns_list(State(st): State<Shared>) -> ApiResult {
    ok(store::campaigns::list(&st.db).await?)
}

pub(super) async fn campaign_show(State(st): State<Shared>, Path(name): Path<String>) -> ApiResult {
    let c = store::campaigns::get(&st.db, &name).await?;
    let progress = store::campaigns::progress(&st.db, c.id).await?;
    ok(json!({"campaign": c, "progress": progress, "total": progress.total()}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PreviewQuery {
    to: String,
}

/// The message one contact would get, as raw RFC 5322 text.
pub(super) async fn campaign_preview(
    State(st): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> ApiResult {
    store::campaigns::get(&st.db, &name).await?;
    store::contacts::get(&st.db, &q.to).await?;
    let text = campaign::preview(&st.db, &st.composer, &name, &q.to).await?;
    Ok(([(header::CONTENT_TYPE, "message/rfc822")], text).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewCampaign {
    name: String,
    kind: CampaignKind,
    topic: Option<String>,
    occasion: Option<String>,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    /// `{"tr": {"subject": "...", "body": "..."}, ...}`: the text in further languages.
    #[serde(default)]
    translations: Translations,
    #[serde(default)]
    audience: Audience,
    schedule: Option<String>,
    send_at: Option<Timestamp>,
}

pub(super) async fn campaigns_create(
    State(st): State<Shared>,
    Json(n): Json<NewCampaign>,
) -> ApiResult {
    let c = campaign::create(
        &st.db,
        &st.composer,
        &CreateArgs {
            name: n.name,
            kind: n.kind,
            topic: n.topic,
            occasion: n.occasion,
            subject: n.subject,
            body: n.body,
            translations: n.translations,
            audience: n.audience,
            schedule: n.schedule,
            send_at: n.send_at,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ActionQuery {
    /// `test`: where the test message goes.
    address: Option<String>,
    /// `test`: the language to render in.
    language: Option<String>,
    /// `schedule`: when to start (RFC 3339).
    at: Option<String>,
}

pub(super) async fn campaign_action(
    State(st): State<Shared>,
    Path((name, action)): Path<(String, String)>,
    Query(q): Query<ActionQuery>,
) -> ApiResult {
    let bad = |m: String| ApiError(StatusCode::UNPROCESSABLE_ENTITY, m);
    match action.as_str() {
        "test" => {
            let address = q
                .address
                .ok_or_else(|| bad("test needs ?address=".into()))?;
            let notifier = st.notifier.as_ref().ok_or_else(|| {
                ApiError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no transport in this process".into(),
                )
            })?;
            // A mail server that is down is not the caller's fault (503), a missing campaign
            // is 404, a bad address 422: see `From<anyhow::Error> for ApiError`.
            campaign::test_send(&st.db, notifier, &name, &address, q.language).await?;
            ok(json!({"campaign": name, "test_sent_to": address}))
        }
        "schedule" => {
            let at =
                q.at.ok_or_else(|| bad("schedule needs ?at=RFC3339".into()))?;
            let when = chrono::DateTime::parse_from_rfc3339(&at)
                .map_err(|e| bad(format!("at={at:?}: {e}")))?
                .with_timezone(&chrono::Utc);
            campaign::schedule_at(&st.db, &name, when)
                .await
                .map_err(|e| ApiError(StatusCode::CONFLICT, format!("{e:#}")))?;
            ok(json!({"campaign": name, "status": "scheduled", "send_at": when}))
        }
        _ => ok(run_campaign_action(&st, &name, &action).await?),
    }
}

/// Shared by the API and the admin pages.
pub async fn run_campaign_action(st: &Shared, name: &str, action: &str) -> Result<Value, ApiError> {
    match action {
        "send" => {
            let c = store::campaigns::get(&st.db, name).await?;
            let n = campaign::start(&st.db, &st.cfg, &c).await?;
            Ok(json!({"campaign": name, "status": "running", "queued": n}))
        }
        "pause" => {
            campaign::pause(&st.db, name).await?;
            Ok(json!({"campaign": name, "status": "paused"}))
        }
        "resume" => {
            campaign::resume(&st.db, name).await?;
            Ok(json!({"campaign": name, "status": "running"}))
        }
        "cancel" => {
            campaign::cancel(&st.db, name).await?;
            Ok(json!({"campaign": name, "status": "cancelled"}))
        }
        _ => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("unknown action {action:?} (send, pause, resume, cancel, test, schedule)"),
        )),
    }
}
