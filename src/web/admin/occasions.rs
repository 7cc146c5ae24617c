//! Occasions in the admin pages: the list, one occasion with its answers, a new one, a change
//! (through `activation::change_occasion`, whose calendar updates go out here), a cancellation
//! after one question that says who will be told, the list at the door and the answers as CSV.

use super::{admin_of, admin_post, internal, page, redirect, refused, topic_choices, Admin};
use crate::activation::{self, OccasionChange};
use crate::domain::parse_local_time;
use crate::output::csv_cell;
use crate::store::{self, occasions::Occasion};
use crate::web::api::{send_occasion_notices, Notices};
use crate::web::download::csv_file;
use crate::web::Shared;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/occasions", get(occasions))
        .route("/admin/occasions/new", get(new_form).post(create))
        .route("/admin/occasions/{slug}", get(occasion).post(change))
        .route(
            "/admin/occasions/{slug}/cancel",
            get(cancel_ask).post(cancel),
        )
        .route(
            "/admin/occasions/{slug}/seat/{contact}",
            axum::routing::post(seat),
        )
        .route("/admin/occasions/{slug}/rsvps.csv", get(occasion_csv))
        .route("/admin/occasions/{slug}/pick", axum::routing::post(pick))
        .route("/admin/occasions/{slug}/thank", axum::routing::post(thank))
        .route(
            "/admin/occasions/{slug}/door",
            get(occasion_door).post(occasion_door_mark),
        )
}

/// Occasion `slug`, or the page that says it does not exist (or that something failed).
async fn occasion_named(st: &Shared, a: &Admin, slug: &str) -> Result<Occasion, Response> {
    match store::occasions::get(&st.db, slug).await {
        Ok(o) => Ok(o),
        Err(e) if e.is_not_found() => Err(not_found(st, a)),
        Err(e) => Err(internal(st, a.lang, e)),
    }
}

fn not_found(st: &Shared, a: &Admin) -> Response {
    st.pages.message(
        a.lang,
        StatusCode::NOT_FOUND,
        "not_found_title",
        "not_found_text",
    )
}

async fn occasions(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match store::occasions::list(&st.db).await {
        Ok(mut list) => {
            list.retain(|o| a.sees_slug(o.topic.as_deref()));
            page(
                &st,
                &a,
                "web/admin/occasions.html.j2",
                "occasions",
                json!({"occasions": list}),
            )
        }
        Err(e) => internal(&st, a.lang, e),
    }
}

/// The form's values of an occasion: dates and times in the configured zone.
fn values_of(st: &Shared, o: &Occasion) -> HashMap<String, String> {
    let tz = st.cfg.tz().unwrap_or(chrono_tz::Europe::Berlin);
    let start = o.starts_at.with_timezone(&tz);
    let mut v = HashMap::new();
    v.insert("slug".into(), o.slug.clone());
    v.insert("title".into(), o.title.clone());
    v.insert("date".into(), start.format("%Y-%m-%d").to_string());
    v.insert("time".into(), start.format("%H:%M").to_string());
    if let Some(end) = o.ends_at.map(|e| e.with_timezone(&tz)) {
        v.insert("end_date".into(), end.format("%Y-%m-%d").to_string());
        v.insert("end_time".into(), end.format("%H:%M").to_string());
    }
    v.insert("place".into(), o.place.clone().unwrap_or_default());
    v.insert(
        "description".into(),
        o.description.clone().unwrap_or_default(),
    );
    if let Some(c) = o.capacity {
        v.insert("capacity".into(), c.to_string());
    }
    let (reminder, follow_up) = crate::outbound::occasion_mails::days(&st.cfg, o);
    v.insert("reminder_days".into(), reminder.to_string());
    v.insert("follow_up_days".into(), follow_up.to_string());
    v
}

#[derive(Debug, Deserialize, Default)]
struct Done {
    /// How many a thank-you was queued for.
    thanked: Option<u64>,
    changed: Option<String>,
    notified: Option<usize>,
    failed: Option<usize>,
}

async fn occasion(
    State(st): State<Shared>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    done: Query<Done>,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let o = match occasion_named(&st, &a, &slug).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let values = values_of(&st, &o);
    occasion_page(&st, &a, &o, StatusCode::OK, &values, None, &done).await
}

#[allow(clippy::too_many_arguments)]
async fn occasion_page(
    st: &Shared,
    a: &Admin,
    o: &Occasion,
    status: StatusCode,
    values: &HashMap<String, String>,
    error: Option<(&str, String)>,
    done: &Done,
) -> Response {
    let rsvps = match store::report::rsvps(&st.db, o.id).await {
        Ok(r) => r,
        Err(e) => return internal(st, a.lang, e),
    };
    let topic = match o.topic_id {
        Some(t) => store::topics::by_id(&st.db, t).await.ok().map(|t| t.title),
        None => None,
    };
    let poll = if o.poll_dates > 0 {
        let tally = store::polls::tally(&st.db, o.id).await;
        let answered = store::polls::respondents(&st.db, o.id).await;
        match (tally, answered) {
            (Ok(dates), Ok(answered)) => Some(json!({"dates": dates, "answered": answered})),
            (Err(e), _) | (_, Err(e)) => return internal(st, a.lang, e),
        }
    } else {
        None
    };
    let check_in = crate::web::public::check_in_url(&st.cfg, &st.composer.key, o);
    let changed: Vec<String> = done
        .changed
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|c| !c.is_empty())
        .map(|c| st.pages.text(a.lang, &format!("field_{c}")))
        .collect();
    let coming = rsvps
        .iter()
        .filter(|r| r.status.as_str() == "confirmed")
        .count();
    let people: i64 = rsvps
        .iter()
        .filter(|r| r.status.as_str() == "confirmed")
        .map(|r| r.people())
        .sum();
    let mut r = page(
        st,
        a,
        "web/admin/occasion.html.j2",
        "occasions",
        json!({
            "o": o, "topic": topic, "rsvps": rsvps, "check_in": check_in, "v": values,
            "poll": poll, "thanked": done.thanked,
            "past": o.starts_at <= chrono::Utc::now(),
            "zone": st.cfg.time_zone,
            "coming": coming, "people": people,
            "declined": rsvps.iter().filter(|r| r.status.as_str() == "declined").count(),
            "error_field": error.as_ref().map(|e| e.0), "error": error.as_ref().map(|e| &e.1),
            "done": {"changed": changed, "notified": done.notified, "failed": done.failed,
                     "any": done.changed.is_some() || done.notified.is_some()},
        }),
    );
    *r.status_mut() = status;
    r
}

/// What the occasion form says, checked; the error names the field.
struct Form {
    title: String,
    starts_at: store::Timestamp,
    ends_at: Option<store::Timestamp>,
    place: String,
    description: String,
    capacity: Option<i64>,
    /// Days of the reminder and the follow-up (empty: as they are, or the configured ones).
    reminder_days: Option<i64>,
    follow_up_days: Option<i64>,
}

fn read_form(
    st: &Shared,
    a: &Admin,
    f: &HashMap<String, String>,
) -> Result<Form, (&'static str, String)> {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let err = |field: &'static str, key: &str| (field, st.pages.text(a.lang, key));
    let tz = st.cfg.tz().unwrap_or(chrono_tz::Europe::Berlin);
    let title = get("title");
    if title.is_empty() || crate::domain::check_text_field("title", &title).is_err() {
        return Err(err("title", "error_title_missing"));
    }
    let (date, time) = (get("date"), get("time"));
    if date.is_empty() || time.is_empty() {
        return Err(err("date", "error_start_missing"));
    }
    let starts_at =
        parse_local_time(&format!("{date} {time}"), tz).map_err(|_| err("date", "error_time"))?;
    let (end_date, end_time) = (get("end_date"), get("end_time"));
    let ends_at = match (end_date.as_str(), end_time.as_str()) {
        (_, "") => None,
        (d, t) => {
            let d = if d.is_empty() { date.as_str() } else { d };
            let end = parse_local_time(&format!("{d} {t}"), tz)
                .map_err(|_| err("end_time", "error_time"))?;
            if end < starts_at {
                return Err(err("end_time", "error_end_before_start"));
            }
            Some(end)
        }
    };
    let place = get("place");
    let description = get("description");
    if crate::domain::check_text_field("place", &place).is_err()
        || crate::domain::check_note_field("description", &description).is_err()
    {
        return Err(err("place", "error_text_field"));
    }
    let capacity = match get("capacity").as_str() {
        "" => None,
        c => match c.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(err("capacity", "error_capacity")),
        },
    };
    let days = |field: &'static str| match get(field).as_str() {
        "" => Ok(None),
        d => match d.parse::<i64>() {
            Ok(n) if (0..=365).contains(&n) => Ok(Some(n)),
            _ => Err(err(field, "error_days")),
        },
    };
    Ok(Form {
        title,
        starts_at,
        ends_at,
        place,
        description,
        capacity,
        reminder_days: days("reminder_days")?,
        follow_up_days: days("follow_up_days")?,
    })
}

// ----- new -----

async fn new_form(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    new_page(&st, &a, StatusCode::OK, &HashMap::new(), None).await
}

async fn new_page(
    st: &Shared,
    a: &Admin,
    status: StatusCode,
    values: &HashMap<String, String>,
    error: Option<(&str, String)>,
) -> Response {
    let topics = match topic_choices(st, a).await {
        Ok(t) => t,
        Err(e) => return internal(st, a.lang, e),
    };
    let mut r = page(
        st,
        a,
        "web/admin/occasion_new.html.j2",
        "occasions",
        json!({"topics": topics, "v": values, "zone": st.cfg.time_zone, "poll_possible": true,
               "error_field": error.as_ref().map(|e| e.0), "error": error.as_ref().map(|e| &e.1)}),
    );
    *r.status_mut() = status;
    r
}

/// The candidate dates of a date poll, one a line ("2026-12-08 18:00 - 20:00"); none: the
/// occasion has its own date. With them, the form's date and time become the first one's.
fn poll_dates(
    st: &Shared,
    a: &Admin,
    form: &mut HashMap<String, String>,
) -> Result<Vec<store::polls::Candidate>, (&'static str, String)> {
    let tz = st.cfg.tz().unwrap_or(chrono_tz::Europe::Berlin);
    let err = || ("poll_dates", st.pages.text(a.lang, "error_poll_dates"));
    let text = form.get("poll_dates").cloned().unwrap_or_default();
    let dates = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| crate::domain::parse_local_span(l, tz).map_err(|_| err()))
        .collect::<Result<Vec<_>, _>>()?;
    if dates.len() == 1 || dates.len() > store::polls::MAX_DATES {
        return Err(err());
    }
    if let Some((start, end)) = dates.first() {
        let local = |t: &store::Timestamp, f: &str| t.with_timezone(&tz).format(f).to_string();
        form.insert("date".into(), local(start, "%Y-%m-%d"));
        form.insert("time".into(), local(start, "%H:%M"));
        form.insert(
            "end_date".into(),
            end.map(|e| local(&e, "%Y-%m-%d")).unwrap_or_default(),
        );
        form.insert(
            "end_time".into(),
            end.map(|e| local(&e, "%H:%M")).unwrap_or_default(),
        );
    }
    Ok(dates)
}

async fn create(State(st): State<Shared>, req: Request) -> Response {
    let (a, mut form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    let slug = form
        .get("slug")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_default();
    if store::topics::check_slug(&slug).is_err() {
        let text = st.pages.text(a.lang, "error_slug");
        return new_page(&st, &a, invalid, &form, Some(("slug", text))).await;
    }
    let dates = match poll_dates(&st, &a, &mut form) {
        Ok(d) => d,
        Err(e) => return new_page(&st, &a, invalid, &form, Some(e)).await,
    };
    let f = match read_form(&st, &a, &form) {
        Ok(f) => f,
        Err(e) => return new_page(&st, &a, invalid, &form, Some(e)).await,
    };
    let topic_id = match form
        .get("topic")
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
    {
        Some(t) => match store::topics::get(&st.db, t).await {
            Ok(t) => Some(t.id),
            Err(_) => {
                let text = st.pages.text(a.lang, "error_topic");
                return new_page(&st, &a, invalid, &form, Some(("topic", text))).await;
            }
        },
        None => None,
    };
    let none_if_empty = |s: String| (!s.is_empty()).then_some(s);
    let new = store::occasions::NewOccasion {
        slug: slug.clone(),
        title: f.title,
        starts_at: f.starts_at,
        ends_at: f.ends_at,
        place: none_if_empty(f.place),
        description: none_if_empty(f.description),
        capacity: f.capacity,
        topic_id,
    };
    let added = if dates.is_empty() {
        store::occasions::add(&st.db, &new).await
    } else {
        activation::add_poll(&st.db, &new, &dates)
            .await
            .map_err(|e| match e {
                activation::ActivationError::Conflict(m) => store::StoreError::Conflict(m),
                activation::ActivationError::Invalid(m) => store::StoreError::Invalid(m),
                activation::ActivationError::Store(e) => e,
                e => store::StoreError::Invalid(e.to_string()),
            })
    };
    match added {
        Ok(o) => {
            tracing::info!(user = %a.session.user, occasion = %o.slug, "occasion added by admin");
            if let Err(e) =
                store::occasion_mails::set_days(&st.db, o.id, f.reminder_days, f.follow_up_days)
                    .await
            {
                return internal(&st, a.lang, e);
            }
            redirect(&format!("/admin/occasions/{}{}", o.slug, a.q))
        }
        Err(store::StoreError::Conflict(_)) => {
            let text = st.pages.text(a.lang, "error_slug_taken");
            new_page(&st, &a, StatusCode::CONFLICT, &form, Some(("slug", text))).await
        }
        Err(store::StoreError::Invalid(_)) => {
            let text = st.pages.text(a.lang, "error_end_before_start");
            new_page(&st, &a, invalid, &form, Some(("end_time", text))).await
        }
        Err(e) => internal(&st, a.lang, e),
    }
}

// ----- change -----

/// Sends an occasion's change or cancellation to those activation named; how many got it.
async fn notify(st: &Shared, notice: &activation::OccasionNotice) -> (usize, usize) {
    match send_occasion_notices(st, notice).await {
        Notices::NoneDue => (0, 0),
        Notices::NoTransport => {
            tracing::warn!(occasion = %notice.occasion.slug, "no mail transport here: notices not sent");
            (0, notice.notify.len())
        }
        Notices::Sent(sent) => {
            for (addr, e) in &sent.failed {
                tracing::warn!(occasion = %notice.occasion.slug, %addr, "notice not sent: {e}");
            }
            (sent.sent, sent.failed.len())
        }
        Notices::Failed(e) => {
            tracing::error!(occasion = %notice.occasion.slug, "notices: {e:#}");
            (0, notice.notify.len())
        }
    }
}

async fn change(State(st): State<Shared>, Path(slug): Path<String>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let o = match occasion_named(&st, &a, &slug).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let f = match read_form(&st, &a, &form) {
        Ok(f) => f,
        Err(e) => {
            return occasion_page(
                &st,
                &a,
                &o,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Some(e),
                &Done::default(),
            )
            .await
        }
    };
    if let Err(e) =
        store::occasion_mails::set_days(&st.db, o.id, f.reminder_days, f.follow_up_days).await
    {
        return internal(&st, a.lang, e);
    }
    let c = OccasionChange {
        title: Some(f.title),
        starts_at: Some(f.starts_at),
        ends_at: f.ends_at,
        place: Some(f.place),
        description: Some(f.description),
        capacity: f.capacity,
    };
    let by = format!("admin:{}", a.session.user);
    match activation::change_occasion(&st.db, &slug, &c, &by).await {
        Ok(notice) => {
            let (sent, failed) = notify(&st, &notice).await;
            redirect(&format!(
                "/admin/occasions/{slug}?changed={}&notified={sent}&failed={failed}{}",
                notice.changed.join(","),
                if a.q.is_empty() { "" } else { "&lang=en" }
            ))
        }
        Err(e) => refused(&st, &a, e, &format!("/admin/occasions/{slug}")),
    }
}

// ----- cancel, after one question -----

async fn cancel_ask(
    State(st): State<Shared>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    cancel_page(&st, &a, &slug).await
}

async fn cancel_page(st: &Shared, a: &Admin, slug: &str) -> Response {
    let r = async {
        let o = store::occasions::get(&st.db, slug).await?;
        // Who would be told: read in a transaction that is dropped (rolled back) unused.
        let mut tx = st.db.begin().await?;
        let told = store::occasions::invitees_not_declined(&mut tx, o.id)
            .await?
            .len();
        Ok::<_, store::StoreError>((o, told))
    }
    .await;
    match r {
        Ok((o, told)) => page(
            st,
            a,
            "web/admin/occasion_cancel.html.j2",
            "occasions",
            json!({"o": o, "told": told}),
        ),
        Err(e) if e.is_not_found() => not_found(st, a),
        Err(e) => internal(st, a.lang, e),
    }
}

async fn cancel(State(st): State<Shared>, Path(slug): Path<String>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if form.get("confirm").map(String::as_str) != Some("yes") {
        return cancel_page(&st, &a, &slug).await;
    }
    let reason = form
        .get("reason")
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let by = format!("admin:{}", a.session.user);
    match activation::cancel_occasion(&st.db, &slug, reason, &by).await {
        Ok(notice) => {
            let (sent, failed) = notify(&st, &notice).await;
            redirect(&format!(
                "/admin/occasions/{slug}?changed=cancelled&notified={sent}&failed={failed}{}",
                if a.q.is_empty() { "" } else { "&lang=en" }
            ))
        }
        Err(e) => refused(&st, &a, e, &format!("/admin/occasions/{slug}")),
    }
}

/// Queues the thank-you to everyone recorded as having come, with the next step chosen
/// (`outbound::occasion_mails::thank`, as `occasions thank`).
async fn thank(State(st): State<Shared>, Path(slug): Path<String>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let next = form
        .get("next")
        .and_then(|n| n.parse::<store::occasion_mails::NextStep>().ok())
        .unwrap_or(store::occasion_mails::NextStep::None);
    let text = form.get("text").map(|t| t.trim()).unwrap_or_default();
    match crate::outbound::occasion_mails::thank(&st.db, &slug, next, text, chrono::Utc::now())
        .await
    {
        Ok(n) => redirect(&format!(
            "/admin/occasions/{slug}?thanked={n}{}",
            if a.q.is_empty() { "" } else { "&lang=en" }
        )),
        Err(e) => match e.downcast::<store::StoreError>() {
            Ok(e) => refused(&st, &a, e.into(), &format!("/admin/occasions/{slug}")),
            Err(e) => internal(&st, a.lang, format!("{e:#}")),
        },
    }
}

/// Picks a date of the occasion's poll (`activation::pick_date`) and tells the invited: the
/// calendar invitation to those it suits, a short note to the others.
async fn pick(State(st): State<Shared>, Path(slug): Path<String>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(n) = form.get("date").and_then(|d| d.trim().parse::<i64>().ok()) else {
        return not_found(&st, &a);
    };
    let by = format!("admin:{}", a.session.user);
    match activation::pick_date(&st.db, &slug, n, &by).await {
        Ok(picked) => {
            let (sent, failed) = match &st.notifier {
                Some(notifier) => {
                    match crate::outbound::occasion::send_poll_picked(&st.db, notifier, &picked)
                        .await
                    {
                        Ok(s) => (s.sent, s.failed.len()),
                        Err(e) => {
                            tracing::warn!("picked date not told: {e:#}");
                            (0, picked.can.len() + picked.others.len())
                        }
                    }
                }
                None => (0, picked.can.len() + picked.others.len()),
            };
            redirect(&format!(
                "/admin/occasions/{slug}?changed=start&notified={sent}&failed={failed}{}",
                if a.q.is_empty() { "" } else { "&lang=en" }
            ))
        }
        Err(e) => refused(&st, &a, e, &format!("/admin/occasions/{slug}")),
    }
}

/// Gives a person on the waiting list a place by hand (`activation::seat_by_hand`), and tells
/// them with the calendar invitation.
async fn seat(
    State(st): State<Shared>,
    Path((slug, contact)): Path<(String, i64)>,
    req: Request,
) -> Response {
    let (a, _) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let o = match occasion_named(&st, &a, &slug).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let by = format!("admin:{}", a.session.user);
    let id = crate::domain::ContactId::from(contact);
    match activation::seat_by_hand(&st.db, id, &o, &by).await {
        Ok(true) => {
            if let Some(n) = &st.notifier {
                crate::outbound::occasion::send_moved_up(&st.db, n, &o, &[id]).await;
            }
            redirect(&format!("/admin/occasions/{slug}{}", a.q))
        }
        Ok(false) => not_found(&st, &a),
        Err(e) => refused(&st, &a, e, &format!("/admin/occasions/{slug}")),
    }
}

/// The list at the door, for a signed-in admin (the same page helpers reach by the check-in
/// link).
async fn occasion_door(
    State(st): State<Shared>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let o = match occasion_named(&st, &a, &slug).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let action = format!("/admin/occasions/{}/door{}", o.slug, a.q);
    crate::web::public::door_page(
        &st,
        a.lang,
        &o,
        &action,
        Some(&a.session.csrf),
        StatusCode::OK,
    )
    .await
    .unwrap_or_else(|e| internal(&st, a.lang, e))
}

async fn occasion_door_mark(
    State(st): State<Shared>,
    Path(slug): Path<String>,
    req: Request,
) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some((contact, attendance)) = crate::web::public::door_mark(&form) else {
        return st.pages.message(
            a.lang,
            StatusCode::BAD_REQUEST,
            "bad_form_title",
            "bad_form_text",
        );
    };
    let r = async {
        let o = store::occasions::get(&st.db, &slug).await?;
        let cause = crate::activation::Cause::Admin {
            by: format!("admin:{}", a.session.user),
        };
        crate::activation::record_attendance(&st.db, contact, &o, attendance, &cause).await
    }
    .await;
    match r {
        Ok(()) => redirect(&format!("/admin/occasions/{slug}/door{}#c{contact}", a.q)),
        Err(e) => st.pages.render(
            "web/message.html.j2",
            a.lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"title": st.pages.text(a.lang, "action_failed"), "text": e.to_string()}),
        ),
    }
}

async fn occasion_csv(
    State(st): State<Shared>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let o = match occasion_named(&st, &a, &slug).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let rows = match store::report::rsvps(&st.db, o.id).await {
        Ok(r) => r,
        Err(e) => return internal(&st, a.lang, e),
    };
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    let head = [
        "email",
        "name",
        "organisation",
        "status",
        "via",
        "updated_at",
        "people",
    ];
    let mut result = w.write_record(head);
    for r in &rows {
        if result.is_err() {
            break;
        }
        result = w.write_record([
            csv_cell(&r.email).into_owned(),
            csv_cell(r.name.as_deref().unwrap_or("")).into_owned(),
            csv_cell(r.organisation.as_deref().unwrap_or("")).into_owned(),
            r.status.to_string(),
            csv_cell(&r.cause_kind).into_owned(),
            r.updated_at.to_rfc3339(),
            r.people().to_string(),
        ]);
    }
    let bytes = match result
        .map_err(anyhow::Error::from)
        .and_then(|_| w.into_inner().map_err(|e| anyhow::anyhow!("{e}")))
    {
        Ok(b) => b,
        Err(e) => return internal(&st, a.lang, e),
    };
    // A BOM so that German Excel opens the UTF-8 file with the umlauts intact.
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend(bytes);
    csv_file(&format!("rsvps-{}.csv", o.slug), body)
}
