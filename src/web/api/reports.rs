//! `GET /api/reports/funnel`: the activation funnel as the dashboard and `netzpost report funnel`
//! show it (`store::report`).

use super::{ok, ApiResult};
use crate::store;
use crate::web::{ApiError, Shared};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use serde_json::json;

/// `?days=N`: the topics' funnel over the last N days (else since the first message sent).
pub(super) async fn funnel(State(st): State<Shared>, uri: Uri) -> ApiResult {
    let days = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "days")
        .map(|(_, v)| v.parse::<i64>().ok().filter(|d| (1..=36_500).contains(d)));
    let since = match days {
        None => None,
        Some(Some(d)) => Some(store::now() - chrono::Duration::days(d)),
        Some(None) => {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "days: a whole number of days from 1 to 36500".into(),
            ))
        }
    };
    let window = store::report::window(&st.db, since).await?;
    let topics = store::report::topics(&st.db, st.cfg.silent_after_days, since).await?;
    let campaigns = store::report::campaigns(&st.db).await?;
    ok(json!({"window": window, "topics": topics, "campaigns": campaigns}))
}
