//! The admin JSON API under `/api`, for scripts and other tools. Every route except
//! `/api/openapi.json` needs `Authorization: Bearer <token>` with a token from
//! `netzpost tokens create NAME`.

use super::{auth, ApiError, Shared};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
mod campaigns;
mod contacts;
mod inbound;
mod occasions;
mod openapi;
mod reports;
mod review;
mod topics;
pub use campaigns::run_campaign_action;
pub use occasions::{send_occasion_notices, Notices};
pub use openapi::openapi_doc;
pub use review::run_review_action;

type ApiResult = Result<Response, ApiError>;

/// A CSV import may be larger than other API bodies (a few thousand contacts).
const IMPORT_LIMIT: usize = 32 * 1024 * 1024;

/// Who called, for evidence and `decided_by`.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

pub fn routes(state: Shared) -> Router<Shared> {
    let protected = Router::new()
        .route(
            "/contacts",
            get(contacts::contacts_list).post(contacts::contacts_create),
        )
        .route(
            "/contacts/import",
            post(contacts::contacts_import)
                .layer(axum::extract::DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route(
            "/contacts/{email}",
            get(contacts::contact_show)
                .patch(contacts::contact_update)
                .delete(contacts::contact_forget),
        )
        .route("/contacts/{email}/export", get(contacts::contact_export))
        .route(
            "/topics",
            get(topics::topics_list).post(topics::topics_create),
        )
        .route("/occasions", get(occasions::occasions_list))
        .route(
            "/occasions/{slug}",
            get(occasions::occasion_show).patch(occasions::occasion_edit),
        )
        .route("/occasions/{slug}/cancel", post(occasions::occasion_cancel))
        .route(
            "/occasions/{slug}/attendance",
            post(occasions::occasion_attendance),
        )
        .route("/occasions/{slug}/thank", post(occasions::occasion_thank))
        .route("/occasions/{slug}/poll", get(occasions::occasion_poll))
        .route("/occasions/{slug}/pick", post(occasions::occasion_pick))
        .route(
            "/campaigns",
            get(campaigns::campaigns_list).post(campaigns::campaigns_create),
        )
        .route("/campaigns/{name}", get(campaigns::campaign_show))
        .route(
            "/campaigns/{name}/preview",
            get(campaigns::campaign_preview),
        )
        .route(
            "/campaigns/{name}/{action}",
            post(campaigns::campaign_action),
        )
        .route("/review", get(review::review_list))
        .route("/review/{id}/{action}", post(review::review_action))
        .route("/reports/funnel", get(reports::funnel))
        .route(
            "/inbound",
            // The body is read up to `inbound.max_message_bytes` by the handler.
            post(inbound::inbound_post),
        )
        // Inside the token check: the audit log learns the caller from it.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::admin::audit_api,
        ))
        .route_layer(axum::middleware::from_fn_with_state(state, require_token));
    Router::new()
        .route("/openapi.json", get(openapi))
        .merge(protected)
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such endpoint".into()) })
}

async fn require_token(State(st): State<Shared>, mut req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_string);
    let unauthorized = |msg: &str| {
        let mut r = ApiError(StatusCode::UNAUTHORIZED, msg.into()).into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"netzpost\""),
        );
        r
    };
    let Some(token) = given else {
        return unauthorized(
            "missing bearer token: send `Authorization: Bearer <token>` with a token an \
             administrator created for you",
        );
    };
    match auth::check_token(&st.db, &token).await {
        Ok(Some(name)) => {
            req.extensions_mut().insert(Caller(format!("api:{name}")));
            next.run(req).await
        }
        Ok(None) => unauthorized("unknown or revoked token"),
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn ok(v: impl serde::Serialize) -> ApiResult {
    Ok(Json(v).into_response())
}

// ----- OpenAPI -----

async fn openapi(State(st): State<Shared>) -> Response {
    Json(openapi_doc(&st.cfg.http.public_url)).into_response()
}
