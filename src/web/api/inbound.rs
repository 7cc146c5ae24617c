//! `POST /api/inbound`: inbound mail from a provider's webhook.

use super::ApiResult;
use crate::web::{ApiError, Shared};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;

/// `POST /api/inbound`: one raw RFC 5322 message as the body (`message/rfc822`, `text/plain` or
/// `application/octet-stream`), for providers that deliver inbound mail by webhook. Spooled first
/// and processed like mail from the maildir; the same message twice changes nothing.
pub(super) async fn inbound_post(
    State(st): State<Shared>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> ApiResult {
    let ct = crate::web::content_type(&headers);
    if !matches!(
        ct.as_str(),
        "message/rfc822" | "text/plain" | "application/octet-stream"
    ) {
        return Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the raw message as message/rfc822".into(),
        ));
    }
    // A message over `inbound.max_message_bytes` is read only up to it and quarantined.
    let max = st.inbound.cfg.inbound.max_message_bytes;
    let mut raw = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        let chunk = chunk
            .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("reading the message: {e}")))?;
        let room = (max + 1).saturating_sub(raw.len());
        raw.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if raw.len() > max {
            break;
        }
    }
    let spooled = st.inbound.ingest(&raw, "http").await.map_err(|e| {
        // The provider retries on a 5xx: nothing is lost while the database is away.
        ApiError(StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}"))
    })?;
    let status = if spooled.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((
        status,
        Json(serde_json::json!({"id": spooled.id, "duplicate": spooled.duplicate})),
    )
        .into_response())
}
