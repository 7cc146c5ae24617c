//! `/api/contacts`: list, create, show, update, forget and export contacts, and import a CSV.

use super::{ok, ApiResult, Caller};
use crate::domain::{ConsentStatus, EmailAddress, Lang, RelationForm};
use crate::store;
use crate::store::contacts::{ContactFilter, ImportRow};
use crate::web::{auth, ApiError, Shared};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ContactQuery {
    silent: Option<bool>,
    topic: Option<String>,
    form: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

pub(super) async fn contacts_list(
    State(st): State<Shared>,
    Query(q): Query<ContactQuery>,
) -> ApiResult {
    let topic_id = match &q.topic {
        Some(t) => Some(store::topics::get(&st.db, t).await?.id),
        None => None,
    };
    let form = match &q.form {
        Some(f) => Some(
            f.parse::<RelationForm>()
                .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?,
        ),
        None => None,
    };
    let rows = store::contacts::list(
        &st.db,
        &ContactFilter {
            topic_id,
            form,
            silent: q.silent.unwrap_or(false),
            silent_after_days: st.cfg.silent_after_days,
            limit: Some(q.limit.unwrap_or(100).clamp(1, 1000)),
            offset: q.offset.unwrap_or(0).max(0),
        },
    )
    .await?;
    ok(rows)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewContact {
    email: String,
    name: Option<String>,
    organisation: Option<String>,
    language: Option<String>,
    #[serde(default)]
    topics: Vec<String>,
    /// `pending` (default) or `confirmed` (only with evidence of consent).
    consent: Option<ConsentStatus>,
}

pub(super) async fn contacts_create(
    State(st): State<Shared>,
    Extension(caller): Extension<Caller>,
    Json(c): Json<NewContact>,
) -> ApiResult {
    let email = EmailAddress::parse(&c.email).map_err(|e| {
        ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("email {:?}: {e}", c.email),
        )
    })?;
    let language = language_field(c.language.as_deref())?;
    check_names(c.name.as_deref(), c.organisation.as_deref())?;
    if store::suppressions::is_suppressed(&st.db, &email.key()).await? {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "this address is suppressed (bounced, complained or forgotten)".into(),
        ));
    }
    let mut chosen = Vec::new();
    for t in &c.topics {
        chosen.push(store::topics::get(&st.db, t).await?);
    }
    let topics = chosen.iter().map(|t| t.id).collect();
    let consent = initial_consent(c.consent)?;
    let contact = crate::activation::add_contact(
        &st.db,
        &ImportRow {
            email,
            name: c.name,
            organisation: c.organisation,
            language,
            attributes: serde_json::Map::new(),
            topics,
        },
        consent,
        &caller.0,
    )
    .await?;
    if consent == ConsentStatus::Pending {
        if let Some(n) = &st.notifier {
            let by = format!("api:{}", caller.0);
            for topic in &chosen {
                if let Err(e) =
                    crate::renewal::ask_pending(&st.db, n, topic, &[contact.id], &by).await
                {
                    tracing::warn!("API: confirmation request: {e:#}");
                }
            }
        }
    }
    Ok((StatusCode::CREATED, Json(contact)).into_response())
}

/// The consent a new contact starts with: pending unless given as confirmed (only with evidence
/// of consent); never unsubscribed (422).
fn initial_consent(given: Option<ConsentStatus>) -> Result<ConsentStatus, ApiError> {
    let consent = given.unwrap_or(ConsentStatus::Pending);
    if consent == ConsentStatus::Unsubscribed {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "consent must be pending or confirmed".into(),
        ));
    }
    Ok(consent)
}

/// A language as given, checked and written as it is stored (422 when it is none).
fn language_field(language: Option<&str>) -> Result<Option<String>, ApiError> {
    language
        .map(|l| {
            crate::domain::Language::parse(l)
                .map(|l| l.to_string())
                .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
        })
        .transpose()
}

/// A name and an organisation as given, checked as text fields (422 with the reason).
fn check_names(name: Option<&str>, organisation: Option<&str>) -> Result<(), ApiError> {
    for (field, v) in [("name", name), ("organisation", organisation)] {
        if let Some(Err(e)) = v.map(|s| crate::domain::check_text_field(field, s)) {
            return Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, e));
        }
    }
    Ok(())
}

pub(super) async fn contact_show(
    State(st): State<Shared>,
    Path(email): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult {
    ok(contact_detail(&st, &email, Lang::from_request(uri.query(), &headers)).await?)
}

/// A contact with its timeline described in the caller's language.
async fn contact_detail(
    st: &Shared,
    email: &str,
    lang: Lang,
) -> Result<store::contacts::ContactDetail, store::StoreError> {
    let mut d = store::contacts::detail(&st.db, email, st.cfg.silent_after_days).await?;
    crate::timeline::render(&mut d.timeline, lang);
    Ok(d)
}

/// Everything kept about one person (GDPR Art. 15/20), as on their "Meine Daten" page.
pub(super) async fn contact_export(
    State(st): State<Shared>,
    Path(email): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult {
    let c = store::contacts::get(&st.db, &email).await?;
    let lang = Lang::from_request(uri.query(), &headers);
    ok(crate::privacy::personal_data(&st.db, c.id, lang).await?)
}

pub(super) async fn contact_forget(
    State(st): State<Shared>,
    Path(email): Path<String>,
) -> ApiResult {
    store::contacts::get(&st.db, &email).await?;
    store::contacts::forget(&st.db, &email).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ContactUpdate {
    name: Option<String>,
    organisation: Option<String>,
    language: Option<String>,
    /// Consent per topic name: `confirmed`, `pending` or `unsubscribed`.
    #[serde(default)]
    consent: std::collections::BTreeMap<String, ConsentStatus>,
}

pub(super) async fn contact_update(
    State(st): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(email): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Json(u): Json<ContactUpdate>,
) -> ApiResult {
    let c = store::contacts::get(&st.db, &email).await?;
    check_names(u.name.as_deref(), u.organisation.as_deref())?;
    let language = language_field(u.language.as_deref())?;
    // Resolve every topic before changing anything, so a typo changes nothing.
    let mut consent = Vec::new();
    for (topic, status) in &u.consent {
        consent.push((store::topics::get(&st.db, topic).await?.id, *status));
    }
    let mut tx = st.db.begin().await?;
    store::contacts::update_fields(
        &mut tx,
        c.id,
        &store::contacts::FieldChanges {
            name: u.name.as_deref(),
            organisation: u.organisation.as_deref(),
            language: language.as_deref(),
        },
        &caller.0,
    )
    .await?;
    tx.commit().await?;
    crate::activation::set_consents(
        &st.db,
        c.id,
        &consent,
        &crate::activation::Cause::Admin {
            by: caller.0.clone(),
        },
    )
    .await?;
    ok(contact_detail(&st, &email, Lang::from_request(uri.query(), &headers)).await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ImportQuery {
    /// Comma-separated topic names every row is subscribed to.
    topic: Option<String>,
    consent: Option<ConsentStatus>,
    source: Option<String>,
}

/// `POST /contacts/import` with a CSV body (as `netzpost contacts import`): good rows land,
/// rejects come back with line and reason.
pub(super) async fn contacts_import(
    State(st): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ImportQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult {
    let ct = crate::web::content_type(&headers);
    if ct != "text/csv" && ct != "text/plain" {
        return Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the CSV file as text/csv".into(),
        ));
    }
    let consent = initial_consent(q.consent)?;
    let topics: Vec<String> = q
        .topic
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    // The importer reads files (encoding detection and all): hand it one, removed afterwards.
    let path = std::env::temp_dir().join(format!("netzpost-import-{}.csv", auth::random_hex(12)));
    // In the shared temporary folder: created new and readable by us only (0600).
    {
        use tokio::io::AsyncWriteExt;
        let mut f = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .await
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("import: {e}")))?;
        f.write_all(&body)
            .await
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("import: {e}")))?;
        f.flush()
            .await
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("import: {e}")))?;
    }
    let source = q.source.clone().unwrap_or_else(|| caller.0.clone());
    let report = crate::import::run(
        &st.db,
        &path,
        &crate::import::Options {
            topics: &topics,
            only_topics: None,
            consent,
            source: Some(&source),
            batch_size: 500,
            progress: false,
        },
    )
    .await;
    let _ = tokio::fs::remove_file(&path).await;
    match report {
        Ok(r) => ok(r),
        Err(crate::import::ImportError::Store(e)) => Err(e.into()),
        Err(e) => Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            e.to_string().replace(&path.display().to_string(), "upload"),
        )),
    }
}
