//! `/api/occasions`: list and show occasions, and an occasion's changes, attendance, thanks
//! and date poll.

use super::{ok, ApiResult, Caller};
use crate::activation;
use crate::domain::EmailAddress;
use crate::store;
use crate::web::{ApiError, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) async fn occasions_list(State(st): State<Shared>) -> ApiResult {
    ok(store::occasions::list(&st.db).await?)
}

pub(super) async fn occasion_show(State(st): State<Shared>, Path(slug): Path<String>) -> ApiResult {
    let o = store::occasions::get(&st.db, &slug).await?;
    let rsvps = store::report::rsvps(&st.db, o.id).await?;
    ok(json!({"occasion": o, "rsvps": rsvps}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OccasionEdit {
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

/// What became of the notices of an occasion's change or cancellation.
pub enum Notices {
    /// Nobody to tell.
    NoneDue,
    /// None sent: this process has no mail transport.
    NoTransport,
    Sent(crate::outbound::occasion::NoticesSent),
    Failed(anyhow::Error),
}

/// Tells the first waiting that they moved up, then sends a change or cancellation to those
/// activation named; the change itself stands whatever becomes of them. Shared by the API and
/// the admin pages.
pub async fn send_occasion_notices(st: &Shared, notice: &activation::OccasionNotice) -> Notices {
    if let Some(n) = &st.notifier {
        crate::outbound::occasion::send_moved_up(&st.db, n, &notice.occasion, &notice.moved_up)
            .await;
    }
    if notice.notify.is_empty() {
        return Notices::NoneDue;
    }
    let Some(notifier) = &st.notifier else {
        return Notices::NoTransport;
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
        Ok(sent) => Notices::Sent(sent),
        Err(e) => Notices::Failed(e),
    }
}

/// The notices of a change or cancellation as the API reports them; a process without a
/// transport reports them as not sent.
async fn notify_invited(st: &Shared, notice: &activation::OccasionNotice) -> Value {
    match send_occasion_notices(st, notice).await {
        Notices::NoneDue => json!({"sent": 0, "failed": []}),
        Notices::NoTransport => json!({"sent": 0, "failed": [], "not_sent": notice.notify.len(),
                                      "error": "no transport in this process"}),
        Notices::Sent(sent) => json!(sent),
        Notices::Failed(e) => json!({"sent": 0, "failed": [], "not_sent": notice.notify.len(),
                                     "error": format!("{e:#}")}),
    }
}

pub(super) async fn occasion_edit(
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
pub(super) struct OccasionCancel {
    reason: Option<String>,
}

pub(super) async fn occasion_cancel(
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
pub(super) struct AttendanceBody {
    #[serde(default)]
    came: Vec<String>,
    #[serde(default)]
    no_show: Vec<String>,
}

pub(super) async fn occasion_attendance(
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
pub(super) struct ThanksBody {
    next: Option<String>,
    #[serde(default)]
    text: String,
}

pub(super) async fn occasion_thank(
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
pub(super) async fn occasion_poll(State(st): State<Shared>, Path(slug): Path<String>) -> ApiResult {
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
pub(super) struct PickBody {
    /// The number of the candidate date, from 1.
    date: i64,
}

/// Picks a date of the poll and tells the invited (see `activation::pick_date`).
pub(super) async fn occasion_pick(
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
