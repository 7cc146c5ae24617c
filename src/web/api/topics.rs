//! `/api/topics`: list and create topics.

use super::{ok, ApiResult};
use crate::store;
use crate::web::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

pub(super) async fn topics_list(State(st): State<Shared>) -> ApiResult {
    ok(store::topics::list(&st.db).await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewTopic {
    name: String,
    title: Option<String>,
    description: Option<String>,
}

pub(super) async fn topics_create(State(st): State<Shared>, Json(t): Json<NewTopic>) -> ApiResult {
    let topic = store::topics::add(
        &st.db,
        &t.name,
        t.title.as_deref().unwrap_or(&t.name),
        t.description.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(topic)).into_response())
}
