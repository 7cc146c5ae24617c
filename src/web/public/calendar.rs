//! The public calendar: a page per topic (and one for all) listing the coming occasions with the
//! way to sign up for the topic, and an iCalendar feed of the same (`.ics`, subscribable as
//! `webcal://`) for a neighbourhood website or a phone. No personal data in either: no counts, no
//! names, no addresses of anyone invited.

use super::{fail_page, lang_of, occasion_facts, Fail};
use crate::outbound::ics::{published_ics, IcsEvent, IcsMethod};
use crate::outbound::sender::sender_domain;
use crate::store::{self, now, occasions::Occasion, topics::Topic};
use crate::web::Shared;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Past occasions stay in the feed this long (a calendar keeps showing what was), cancelled ones
/// as cancelled.
const FEED_PAST_DAYS: i64 = 90;
/// At most this many occasions on a page or in a feed.
const MOST: i64 = 500;

pub async fn all_page(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    page(&st, None, &headers, &uri).await
}

pub async fn topic_page(
    State(st): State<Shared>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    page(&st, Some(&topic), &headers, &uri).await
}

pub async fn all_feed(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    feed(&st, None, &headers, &uri).await
}

pub async fn topic_feed(
    State(st): State<Shared>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    feed(&st, Some(&topic), &headers, &uri).await
}

async fn topic_of(st: &Shared, slug: Option<&str>) -> Result<Option<Topic>, Fail> {
    let Some(slug) = slug else { return Ok(None) };
    let missing = Fail::Status(StatusCode::NOT_FOUND, "not_found_title", "not_found_text");
    if store::topics::check_slug(slug).is_err() {
        return Err(missing);
    }
    store::topics::find(&st.db, slug)
        .await?
        .map(Some)
        .ok_or(missing)
}

/// The calendar page of `topic` (or of all), or with `feed` its iCalendar feed:
/// `…/calendar`, `…/calendar/TOPIC`, `…/calendar.ics`, `…/calendar/TOPIC/calendar.ics`.
fn calendar_url(st: &Shared, topic: Option<&Topic>, feed: bool) -> String {
    let base = st.cfg.http.public_url.trim_end_matches('/');
    match (topic, feed) {
        (Some(t), true) => format!("{base}/calendar/{}/calendar.ics", t.slug),
        (Some(t), false) => format!("{base}/calendar/{}", t.slug),
        (None, true) => format!("{base}/calendar.ics"),
        (None, false) => format!("{base}/calendar"),
    }
}

async fn page(st: &Shared, slug: Option<&str>, headers: &HeaderMap, uri: &Uri) -> Response {
    let lang = lang_of(uri, headers);
    let data = async {
        let topic = topic_of(st, slug).await?;
        let occasions =
            store::occasions::calendar(&st.db, topic.as_ref().map(|t| t.id), now(), MOST).await?;
        let topics = store::topics::list(&st.db).await?;
        Ok::<_, Fail>((topic, occasions, topics))
    }
    .await;
    let (topic, occasions, topics) = match data {
        Ok(d) => d,
        Err(f) => return fail_page(st, lang, f),
    };
    let q = lang.query(uri.query());
    let items: Vec<serde_json::Value> = occasions
        .iter()
        .map(|o| {
            let sign_up = o
                .topic_id
                .and_then(|id| topics.iter().find(|t| t.id == id))
                .map(|t| json!({"slug": t.slug, "title": t.title}));
            json!({
                "facts": occasion_facts(st, lang, o),
                "description": o.description,
                "sign_up": sign_up,
            })
        })
        .collect();
    let feed = calendar_url(st, topic.as_ref(), true);
    let webcal = feed
        .split_once("://")
        .map(|(_, rest)| format!("webcal://{rest}"))
        .unwrap_or_else(|| feed.clone());
    st.pages.render(
        "web/calendar.html.j2",
        lang,
        StatusCode::OK,
        json!({
            "topic": topic.as_ref().map(|t| json!({"slug": t.slug, "title": t.title})),
            "occasions": items,
            "topics": topics.iter().map(|t| json!({"slug": t.slug, "title": t.title})).collect::<Vec<_>>(),
            "feed": feed,
            "webcal": webcal,
            "org": st.cfg.organisation.name,
            "q": q,
        }),
    )
}

async fn feed(st: &Shared, slug: Option<&str>, headers: &HeaderMap, uri: &Uri) -> Response {
    let lang = lang_of(uri, headers);
    let since = now() - chrono::Duration::days(FEED_PAST_DAYS);
    let data = async {
        let topic = topic_of(st, slug).await?;
        let occasions =
            store::occasions::calendar(&st.db, topic.as_ref().map(|t| t.id), since, MOST).await?;
        Ok::<_, Fail>((topic, occasions))
    }
    .await;
    let (topic, occasions) = match data {
        Ok(d) => d,
        Err(f) => return fail_page(st, lang, f),
    };
    let name = match &topic {
        Some(t) => format!("{}: {}", st.cfg.organisation.name, t.title),
        None => st.cfg.organisation.name.clone(),
    };
    let url = calendar_url(st, topic.as_ref(), false);
    let events: Vec<IcsEvent> = occasions
        .iter()
        .map(|o| published_event(st, o, &url))
        .collect();
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=900"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"calendar.ics\"",
            ),
        ],
        published_ics(&name, &events, st.cfg.tz().ok()),
    )
        .into_response()
}

/// An occasion as the public sees it: no organiser address, no attendee.
fn published_event(st: &Shared, o: &Occasion, url: &str) -> IcsEvent {
    let cancelled = o.cancelled_at.is_some();
    let description = match (&o.description, &o.cancel_reason) {
        (d, Some(reason)) if cancelled => Some(match d {
            Some(d) if !d.trim().is_empty() => format!("{reason}\n\n{d}"),
            _ => reason.clone(),
        }),
        (d, _) => d.clone(),
    };
    IcsEvent {
        method: if cancelled {
            IcsMethod::Cancel
        } else {
            IcsMethod::Request
        },
        occasion_id: o.id,
        uid_domain: sender_domain(&st.cfg),
        sequence: u32::try_from(o.sequence).unwrap_or(0),
        dtstamp: now(),
        starts_at: o.starts_at,
        ends_at: o.ends_at,
        summary: o.title.clone(),
        location: o.place.clone(),
        description,
        organizer_name: None,
        organizer_addr: String::new(),
        attendee_name: None,
        attendee_addr: String::new(),
        url: Some(url.to_string()),
        tz: st.cfg.tz().ok(),
    }
}
