//! The admin JSON API under `/api`, for scripts and other tools. Every route except
//! `/api/openapi.json` needs `Authorization: Bearer <token>` with a token from
//! `netzpost tokens create NAME`.

use super::{auth, ApiError, Shared};
use crate::activation;
use crate::domain::{ConsentStatus, EmailAddress, Lang, RelationForm};
use crate::inbound::apply;
use crate::outbound::campaign::{self, CreateArgs};
use crate::store::campaigns::{Audience, CampaignKind, Translations};
use crate::store::contacts::{ContactFilter, ImportRow};
use crate::store::{self, Timestamp};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
mod openapi;
mod reports;
pub use openapi::openapi_doc;

type ApiResult = Result<Response, ApiError>;

/// A CSV import may be larger than other API bodies (a few thousand contacts).
const IMPORT_LIMIT: usize = 32 * 1024 * 1024;

/// Who called, for evidence and `decided_by`.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

pub fn routes(state: Shared) -> Router<Shared> {
    let protected = Router::new()
        .route("/contacts", get(contacts_list).post(contacts_create))
        .route(
            "/contacts/import",
            post(contacts_import).layer(axum::extract::DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route(
            "/contacts/{email}",
            get(contact_show)
                .patch(contact_update)
                .delete(contact_forget),
        )
        .route("/contacts/{email}/export", get(contact_export))
        .route("/topics", get(topics_list).post(topics_create))
        .route("/occasions", get(occasions_list))
        .route("/occasions/{slug}", get(occasion_show).patch(occasion_edit))
        .route("/occasions/{slug}/cancel", post(occasion_cancel))
        .route("/occasions/{slug}/attendance", post(occasion_attendance))
        .route("/occasions/{slug}/thank", post(occasion_thank))
        .route("/occasions/{slug}/poll", get(occasion_poll))
        .route("/occasions/{slug}/pick", post(occasion_pick))
        .route("/campaigns", get(campaigns_list).post(campaigns_create))
        .route("/campaigns/{name}", get(campaign_show))
        .route("/campaigns/{name}/preview", get(campaign_preview))
        .route("/campaigns/{name}/{action}", post(campaign_action))
        .route("/review", get(review_list))
        .route("/review/{id}/{action}", post(review_action))
        .route("/reports/funnel", get(reports::funnel))
        .route(
            "/inbound",
            // The body is read up to `inbound.max_message_bytes` by the handler.
            post(inbound_post),
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

// ----- contacts -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactQuery {
    silent: Option<bool>,
    topic: Option<String>,
    form: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn contacts_list(State(st): State<Shared>, Query(q): Query<ContactQuery>) -> ApiResult {
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
struct NewContact {
    email: String,
    name: Option<String>,
    organisation: Option<String>,
    language: Option<String>,
    #[serde(default)]
    topics: Vec<String>,
    /// `pending` (default) or `confirmed` (only with evidence of consent).
    consent: Option<ConsentStatus>,
}

async fn contacts_create(
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
    let language = match &c.language {
        Some(l) => Some(
            crate::domain::Language::parse(l)
                .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?
                .to_string(),
        ),
        None => None,
    };
    for (field, v) in [("name", &c.name), ("organisation", &c.organisation)] {
        if let Some(Err(e)) = v
            .as_deref()
            .map(|s| crate::domain::check_text_field(field, s))
        {
            return Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, e));
        }
    }
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
    let consent = c.consent.unwrap_or(ConsentStatus::Pending);
    if consent == ConsentStatus::Unsubscribed {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "consent must be pending or confirmed".into(),
        ));
    }
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

async fn contact_show(
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
async fn contact_export(
    State(st): State<Shared>,
    Path(email): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult {
    let c = store::contacts::get(&st.db, &email).await?;
    let lang = Lang::from_request(uri.query(), &headers);
    ok(crate::privacy::personal_data(&st.db, c.id, lang).await?)
}

async fn contact_forget(State(st): State<Shared>, Path(email): Path<String>) -> ApiResult {
    store::contacts::get(&st.db, &email).await?;
    store::contacts::forget(&st.db, &email).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactUpdate {
    name: Option<String>,
    organisation: Option<String>,
    language: Option<String>,
    /// Consent per topic name: `confirmed`, `pending` or `unsubscribed`.
    #[serde(default)]
    consent: std::collections::BTreeMap<String, ConsentStatus>,
}

async fn contact_update(
    State(st): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(email): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Json(u): Json<ContactUpdate>,
) -> ApiResult {
    let c = store::contacts::get(&st.db, &email).await?;
    for (field, v) in [("name", &u.name), ("organisation", &u.organisation)] {
        if let Some(Err(e)) = v
            .as_deref()
            .map(|s| crate::domain::check_text_field(field, s))
        {
            return Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, e));
        }
    }
    let language = match &u.language {
        Some(l) => Some(
            crate::domain::Language::parse(l)
                .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?
                .to_string(),
        ),
        None => None,
    };
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
struct ImportQuery {
    /// Comma-separated topic names every row is subscribed to.
    topic: Option<String>,
    consent: Option<ConsentStatus>,
    source: Option<String>,
}

/// `POST /contacts/import` with a CSV body (as `netzpost contacts import`): good rows land,
/// rejects come back with line and reason.
async fn contacts_import(
    State(st): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ImportQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult {
    let ct = super::content_type(&headers);
    if ct != "text/csv" && ct != "text/plain" {
        return Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the CSV file as text/csv".into(),
        ));
    }
    let consent = q.consent.unwrap_or(ConsentStatus::Pending);
    if consent == ConsentStatus::Unsubscribed {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "consent must be pending or confirmed".into(),
        ));
    }
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

// ----- topics and occasions -----

async fn topics_list(State(st): State<Shared>) -> ApiResult {
    ok(store::topics::list(&st.db).await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTopic {
    name: String,
    title: Option<String>,
    description: Option<String>,
}

async fn topics_create(State(st): State<Shared>, Json(t): Json<NewTopic>) -> ApiResult {
    let topic = store::topics::add(
        &st.db,
        &t.name,
        t.title.as_deref().unwrap_or(&t.name),
        t.description.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(topic)).into_response())
}

async fn occasions_list(State(st): State<Shared>) -> ApiResult {
    ok(store::occasions::list(&st.db).await?)
}

async fn occasion_show(State(st): State<Shared>, Path(slug): Path<String>) -> ApiResult {
    let o = store::occasions::get(&st.db, &slug).await?;
    let rsvps = store::report::rsvps(&st.db, o.id).await?;
    ok(json!({"occasion": o, "rsvps": rsvps}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OccasionEdit {
    title: Option<String>,
    /// RFC 3339, or "2026-12-12 15:00" in the configured zone.
    start: Option<String>,
    end: Option<String>,
    place: Option<String>,
    description: Option<String>,
    capacity: Option<i64>,
    /// Days before the start of the reminder (0 = none).
    reminder_days: Option<i64>,
    /// Days after the invitation of the follow-up (0 = none).
    follow_up_days: Option<i64>,
}

/// Sends the notices of a change or cancellation; a process without a transport reports them
/// as not sent (the change itself stands).
async fn notify_invited(st: &Shared, notice: &activation::OccasionNotice) -> Value {
    if let Some(n) = &st.notifier {
        crate::outbound::occasion::send_moved_up(&st.db, n, &notice.occasion, &notice.moved_up)
            .await;
    }
    if notice.notify.is_empty() {
        return json!({"sent": 0, "failed": []});
    }
    let Some(notifier) = &st.notifier else {
        return json!({"sent": 0, "failed": [], "not_sent": notice.notify.len(),
                      "error": "no transport in this process"});
    };
    match crate::outbound::occasion::send_notices(
        &st.db,
        notifier,
        &notice.occasion,
        &notice.changed,
        &notice.notify,
    )
    .await
    {
        Ok(sent) => json!(sent),
        Err(e) => json!({"sent": 0, "failed": [], "not_sent": notice.notify.len(),
                         "error": format!("{e:#}")}),
    }
}

async fn occasion_edit(
    State(st): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(slug): Path<String>,
    Json(e): Json<OccasionEdit>,
) -> ApiResult {
    let tz = st
        .cfg
        .tz()
        .map_err(|m| ApiError(StatusCode::INTERNAL_SERVER_ERROR, m))?;
    let time = |field: &str, v: Option<String>| {
        v.map(|t| {
            crate::domain::parse_local_time(&t, tz).map_err(|err| {
                ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("{field}: {err}"))
            })
        })
        .transpose()
    };
    if e.reminder_days.is_some() || e.follow_up_days.is_some() {
        let o = store::occasions::get(&st.db, &slug).await?;
        store::occasion_mails::set_days(&st.db, o.id, e.reminder_days, e.follow_up_days).await?;
    }
    let change = activation::OccasionChange {
        title: e.title,
        starts_at: time("start", e.start)?,
        ends_at: time("end", e.end)?,
        place: e.place,
        description: e.description,
        capacity: e.capacity,
    };
    let notice = activation::change_occasion(&st.db, &slug, &change, &caller.0).await?;
    let notified = notify_invited(&st, &notice).await;
    ok(json!({"occasion": notice.occasion, "changed": notice.changed, "notified": notified}))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OccasionCancel {
    reason: Option<String>,
}

async fn occasion_cancel(
    State(st): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(slug): Path<String>,
    body: Option<Json<OccasionCancel>>,
) -> ApiResult {
    let reason = body.map(|Json(b)| b.reason).unwrap_or_default();
    let notice = activation::cancel_occasion(&st.db, &slug, reason, &caller.0).await?;
    let notified = notify_invited(&st, &notice).await;
    ok(json!({"occasion": notice.occasion, "notified": notified}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttendanceBody {
    #[serde(default)]
    came: Vec<String>,
    #[serde(default)]
    no_show: Vec<String>,
}

async fn occasion_attendance(
    State(st): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(slug): Path<String>,
    Json(b): Json<AttendanceBody>,
) -> ApiResult {
    let o = store::occasions::get(&st.db, &slug).await?;
    let cause = activation::Cause::Admin { by: caller.0 };
    let marks = b
        .came
        .iter()
        .map(|a| (a, activation::Attendance::Came))
        .chain(
            b.no_show
                .iter()
                .map(|a| (a, activation::Attendance::NoShow)),
        );
    let mut done = Vec::new();
    for (addr, attendance) in marks {
        let email = EmailAddress::parse(addr)
            .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("{addr}: {e}")))?;
        let contact = store::contacts::find(&st.db, &email)
            .await?
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no contact {addr}")))?;
        activation::record_attendance(&st.db, contact.id, &o, attendance, &cause).await?;
        done.push(json!({"email": addr, "attendance": attendance.as_str()}));
    }
    ok(json!({"occasion": o.slug, "recorded": done}))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ThanksBody {
    next: Option<String>,
    #[serde(default)]
    text: String,
}

async fn occasion_thank(
    State(st): State<Shared>,
    Path(slug): Path<String>,
    body: Option<Json<ThanksBody>>,
) -> ApiResult {
    let b = body.map(|Json(b)| b).unwrap_or_default();
    let next: store::occasion_mails::NextStep = b
        .next
        .as_deref()
        .unwrap_or("none")
        .parse()
        .map_err(|e: String| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("next: {e}")))?;
    let queued =
        crate::outbound::occasion_mails::thank(&st.db, &slug, next, &b.text, chrono::Utc::now())
            .await?;
    ok(json!({"occasion": slug, "next": next.as_str(), "queued": queued}))
}

/// The tally of an occasion's date poll.
async fn occasion_poll(State(st): State<Shared>, Path(slug): Path<String>) -> ApiResult {
    let o = store::occasions::get(&st.db, &slug).await?;
    if o.poll_dates == 0 {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("occasion {slug:?} has a fixed date, no date poll"),
        ));
    }
    let dates = store::polls::tally(&st.db, o.id).await?;
    let answered = store::polls::respondents(&st.db, o.id).await?;
    ok(json!({"occasion": o.slug, "picked": o.picked_date, "answered": answered, "dates": dates}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PickBody {
    /// The number of the candidate date, from 1.
    date: i64,
}

/// Picks a date of the poll and tells the invited (see `activation::pick_date`).
async fn occasion_pick(
    State(st): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(slug): Path<String>,
    Json(b): Json<PickBody>,
) -> ApiResult {
    let picked = activation::pick_date(&st.db, &slug, b.date, &caller.0).await?;
    let notified = match &st.notifier {
        None => json!({"sent": 0, "failed": [],
                       "not_sent": picked.can.len() + picked.others.len(),
                       "error": "no transport in this process"}),
        Some(n) => match crate::outbound::occasion::send_poll_picked(&st.db, n, &picked).await {
            Ok(sent) => json!(sent),
            Err(e) => json!({"sent": 0, "failed": [], "error": format!("{e:#}")}),
        },
    };
    ok(json!({
        "occasion": picked.occasion, "date": picked.date,
        "suits": picked.can.len(), "others": picked.others.len(), "notified": notified,
    }))
}

// ----- campaigns -----

async fn campaigns_list(State(st): State<Shared>) -> ApiResult {
    ok(store::campaigns::list(&st.db).await?)
}

async fn campaign_show(State(st): State<Shared>, Path(name): Path<String>) -> ApiResult {
    let c = store::campaigns::get(&st.db, &name).await?;
    let progress = store::campaigns::progress(&st.db, c.id).await?;
    ok(json!({"campaign": c, "progress": progress, "total": progress.total()}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewQuery {
    to: String,
}

/// The message one contact would get, as raw RFC 5322 text.
async fn campaign_preview(
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
struct NewCampaign {
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

async fn campaigns_create(State(st): State<Shared>, Json(n): Json<NewCampaign>) -> ApiResult {
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
struct ActionQuery {
    /// `test`: where the test message goes.
    address: Option<String>,
    /// `test`: the language to render in.
    language: Option<String>,
    /// `schedule`: when to start (RFC 3339).
    at: Option<String>,
}

async fn campaign_action(
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

// ----- review queue -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewQuery {
    all: Option<bool>,
    limit: Option<i64>,
}

async fn review_list(State(st): State<Shared>, Query(q): Query<ReviewQuery>) -> ApiResult {
    let rows = apply::review_list(
        &st.db,
        q.all.unwrap_or(false),
        q.limit.unwrap_or(100).clamp(1, 1000),
    )
    .await?;
    ok(rows)
}

async fn review_action(
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

// ----- OpenAPI -----

async fn openapi(State(st): State<Shared>) -> Response {
    Json(openapi_doc(&st.cfg.http.public_url)).into_response()
}

// ----- inbound mail from a provider's webhook -----

/// `POST /api/inbound`: one raw RFC 5322 message as the body (`message/rfc822`, `text/plain` or
/// `application/octet-stream`), for providers that deliver inbound mail by webhook. Spooled first
/// and processed like mail from the maildir; the same message twice changes nothing.
async fn inbound_post(
    State(st): State<Shared>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> ApiResult {
    let ct = super::content_type(&headers);
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
