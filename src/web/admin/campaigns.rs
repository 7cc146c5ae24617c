//! Campaigns in the browser: the list, writing and changing one, its page (audience with the
//! reasons some are left out, progress, a preview as a chosen contact, a test to oneself,
//! timing), and sending, pausing and stopping. Sending and stopping ask once, on a page of their
//! own that says what will happen; the forms there are the only ones that act.
//!
//! The life cycle is `outbound::campaign`'s (the same the CLI and the API call).

use super::{admin_of, admin_post, internal, page, redirect, refused_text, topic_choices, Admin};
use crate::domain::parse_local_time;
use crate::outbound::campaign::{self, CreateArgs, CreateError};
use crate::store::campaigns::{
    Audience, Campaign, CampaignKind, CampaignStatus, CampaignText, Ladder,
};
use crate::store::{self, contacts::ContactFilter};
use crate::web::{Lang, Shared};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/campaigns", get(list))
        .route("/admin/campaigns/new", get(new_form).post(create))
        .route("/admin/campaigns/{name}", get(show))
        .route("/admin/campaigns/{name}/edit", get(edit_form).post(update))
        .route("/admin/campaigns/{name}/preview", get(preview_html))
        .route("/admin/campaigns/{name}/send", get(confirm_send).post(send))
        .route("/admin/campaigns/{name}/stop", get(confirm_stop).post(stop))
        .route("/admin/campaigns/{name}/{action}", post(action))
}

const WEEKDAYS: [&str; 7] = ["1", "2", "3", "4", "5", "6", "0"];

fn not_found(st: &Shared, lang: Lang) -> Response {
    st.pages.message(
        lang,
        StatusCode::NOT_FOUND,
        "not_found_title",
        "not_found_text",
    )
}

async fn load(st: &Shared, a: &Admin, name: &str) -> Result<Campaign, Response> {
    match store::campaigns::get(&st.db, name).await {
        Ok(c) => Ok(c),
        Err(store::StoreError::UnknownCampaign(_) | store::StoreError::NotFound(_)) => {
            Err(not_found(st, a.lang))
        }
        Err(e) => Err(internal(st, a.lang, e)),
    }
}

/// The library's message for a refused action, in the admin's words where there are some.
fn why(st: &Shared, lang: Lang, e: &anyhow::Error) -> String {
    match e.downcast_ref::<CreateError>() {
        Some(CreateError::NoOccasion) => st.pages.text(lang, "campaign_needs_occasion"),
        Some(CreateError::NoTopic(_)) => st.pages.text(lang, "campaign_needs_topic"),
        Some(CreateError::Schedule(spec, cause)) => format!(
            "{} {spec:?}: {cause}",
            st.pages.text(lang, "campaign_bad_schedule")
        ),
        None => format!("{e:#}"),
    }
}

// ----- the list -----

async fn list(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match store::campaigns::list(&st.db).await {
        Ok(all) => {
            let mut rows = Vec::with_capacity(all.len());
            for r in all {
                if a.reaches(&st, store::auth::Named::Campaign(&r.name)).await {
                    rows.push(r);
                }
            }
            page(
                &st,
                &a,
                "web/admin/campaigns.html.j2",
                "campaigns",
                json!({"campaigns": rows}),
            )
        }
        Err(e) => internal(&st, a.lang, e),
    }
}

// ----- writing -----

/// The form's fields as typed, to show them again with an error (nothing typed is lost).
fn form_values(c: Option<&Campaign>, st: &Shared) -> Value {
    let Some(c) = c else {
        return json!({"kind": "invitation", "audience": "default", "when": "draft",
                      "weekday": "1", "time": "09:00", "texts": {}});
    };
    let aud = c.audience();
    let texts: serde_json::Map<String, Value> = c
        .translations()
        .into_iter()
        .map(|(l, t)| (l, json!({"subject": t.subject, "body": t.body})))
        .collect();
    let (when, weekday, time, cron) = match (&c.schedule, c.send_at) {
        (Some(s), _) => match weekly(s) {
            Some((d, t)) => ("weekly", d, t, s.clone()),
            None => ("cron", "1".into(), "09:00".into(), s.clone()),
        },
        (None, Some(_)) => ("once", "1".into(), "09:00".into(), String::new()),
        (None, None) => ("draft", "1".into(), "09:00".into(), String::new()),
    };
    let tz = st.cfg.tz().ok();
    let send_at = match (c.send_at, tz) {
        (Some(t), Some(tz)) => t.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string(),
        _ => String::new(),
    };
    json!({
        "name": c.name, "kind": c.kind, "topic": c.topic_id, "occasion": c.occasion_id,
        "subject": c.subject, "body": c.body, "texts": texts,
        "audience": match aud.silent { Some(true) => "silent", Some(false) => "everyone", None => "default" },
        "when": when, "send_at": send_at, "weekday": weekday, "time": time, "cron": cron,
        "ladder": ladder_values(aud.ladder),
    })
}

/// The ladder fields of the form for a stored step.
fn ladder_values(l: Option<Ladder>) -> Value {
    match l {
        None => json!({"step": ""}),
        Some(
            Ladder::SaidYes { occasion } | Ladder::Came { occasion } | Ladder::NoShow { occasion },
        ) => {
            json!({"step": l.map(|l| l.step()), "occasion": occasion})
        }
        Some(Ladder::Regular { min, months, .. }) => {
            json!({"step": "regular", "n": min, "months": months})
        }
        Some(Ladder::Declined { last }) => json!({"step": "declined", "n": last}),
    }
}

/// The ladder step the form asks for (`ladder`, `ladder_occasion`, `ladder_n`,
/// `ladder_months`); `topic`: the campaign's, whose occasions a regular came to.
fn read_ladder(
    get: &dyn Fn(&str) -> String,
    topic: Option<crate::domain::TopicId>,
) -> Result<Option<Ladder>, &'static str> {
    let occasion = || {
        get("ladder_occasion")
            .parse::<i64>()
            .map(crate::domain::OccasionId::from)
            .map_err(|_| "ladder_occasion_missing")
    };
    let n = || match get("ladder_n").parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("ladder_n_missing"),
    };
    Ok(Some(match get("ladder").as_str() {
        "" => return Ok(None),
        "said_yes" => Ladder::SaidYes {
            occasion: occasion()?,
        },
        "came" => Ladder::Came {
            occasion: occasion()?,
        },
        "no_show" => Ladder::NoShow {
            occasion: occasion()?,
        },
        "regular" => Ladder::Regular {
            topic: topic.ok_or("ladder_topic_missing")?,
            min: n()?,
            months: match get("ladder_months").parse::<i64>() {
                Ok(m) if m >= 1 => m,
                _ => 12,
            },
        },
        "declined" => Ladder::Declined { last: n()? },
        _ => return Err("ladder_n_missing"),
    }))
}

/// "M H * * D" as the weekday and time it means, when a schedule is that simple.
fn weekly(spec: &str) -> Option<(String, String)> {
    let f: Vec<&str> = spec.split_whitespace().collect();
    if f.len() != 5 || f[2] != "*" || f[3] != "*" || !WEEKDAYS.contains(&f[4]) {
        return None;
    }
    let (m, h) = (f[0].parse::<u32>().ok()?, f[1].parse::<u32>().ok()?);
    (m < 60 && h < 24).then(|| (f[4].to_string(), format!("{h:02}:{m:02}")))
}

async fn form_page(
    st: &Shared,
    a: &Admin,
    editing: Option<&str>,
    values: Value,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let data = async {
        let topics = topic_choices(st, a).await?;
        let occasions = store::occasions::list(&st.db).await?;
        Ok::<_, store::StoreError>((topics, occasions))
    }
    .await;
    let (topics, occasions) = match data {
        Ok(d) => d,
        Err(e) => return internal(st, a.lang, e),
    };
    let default_lang = st.composer.renderer.default_lang().to_string();
    let languages: Vec<String> = st
        .composer
        .renderer
        .languages()
        .into_iter()
        .filter(|l| *l != default_lang)
        .collect();
    let action = match editing {
        Some(n) => format!("/admin/campaigns/{n}/edit{}", a.q),
        None => format!("/admin/campaigns/new{}", a.q),
    };
    let mut r = page(
        st,
        a,
        "web/admin/campaign_form.html.j2",
        "campaigns",
        json!({
            "editing": editing, "v": values, "error": error, "action": action,
            "topics": topics, "occasions": occasions, "languages": languages,
            "default_lang": default_lang, "weekdays": WEEKDAYS,
            "kinds": ["invitation", "newsletter", "cooperation"], "tz": st.cfg.time_zone,
        }),
    );
    *r.status_mut() = status;
    r
}

async fn new_form(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    form_page(&st, &a, None, form_values(None, &st), None, StatusCode::OK).await
}

async fn edit_form(
    State(st): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let c = match load(&st, &a, &name).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let values = form_values(Some(&c), &st);
    form_page(&st, &a, Some(&c.name), values, None, StatusCode::OK).await
}

/// The form as the values to show again, and what it asks for (or what is wrong with it).
fn read_form(
    st: &Shared,
    lang: Lang,
    f: &HashMap<String, String>,
    topics: &[store::topics::TopicStats],
    occasions: &[store::occasions::OccasionRow],
) -> (Value, Result<CreateArgs, String>) {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let raw = |k: &str| f.get(k).cloned().unwrap_or_default();
    let mut texts = serde_json::Map::new();
    let mut translations = store::campaigns::Translations::new();
    for l in st.composer.renderer.languages() {
        let (s, b) = (get(&format!("subject_{l}")), raw(&format!("body_{l}")));
        if !s.is_empty() || !b.trim().is_empty() {
            texts.insert(l.clone(), json!({"subject": s, "body": b}));
            translations.insert(
                l,
                CampaignText {
                    subject: s,
                    body: b,
                },
            );
        }
    }
    let values = json!({
        "name": get("name"), "kind": get("kind"), "topic": get("topic").parse::<i64>().ok(),
        "occasion": get("occasion").parse::<i64>().ok(), "subject": get("subject"),
        "body": raw("body"), "texts": texts, "audience": get("audience"), "when": get("when"),
        "ladder": {"step": get("ladder"), "occasion": get("ladder_occasion").parse::<i64>().ok(),
                   "n": get("ladder_n").parse::<i64>().ok(), "months": get("ladder_months").parse::<i64>().ok()},
        "send_at": get("send_at"), "weekday": get("weekday"), "time": get("time"), "cron": get("cron"),
    });
    let t = |k: &str| st.pages.text(lang, k);
    let args = (|| {
        let name = get("name");
        if name.is_empty() {
            return Err(t("campaign_name_missing"));
        }
        let kind: CampaignKind = get("kind")
            .parse()
            .map_err(|_| t("campaign_kind_missing"))?;
        let topic = match get("topic").as_str() {
            "" => None,
            id => Some(
                topics
                    .iter()
                    .find(|x| x.id.get().to_string() == id)
                    .ok_or_else(|| t("campaign_topic_unknown"))?
                    .slug
                    .clone(),
            ),
        };
        let occasion = match get("occasion").as_str() {
            "" => None,
            id => Some(
                occasions
                    .iter()
                    .find(|x| x.id.get().to_string() == id)
                    .ok_or_else(|| t("campaign_occasion_unknown"))?
                    .slug
                    .clone(),
            ),
        };
        let tz = st.cfg.tz().map_err(|e| e.to_string())?;
        let (schedule, send_at) = match get("when").as_str() {
            "once" => {
                let at = get("send_at");
                let at = parse_local_time(&at, tz)
                    .map_err(|e| format!("{}: {e}", t("campaign_send_at")))?;
                if at <= chrono::Utc::now() {
                    return Err(t("campaign_send_at_past"));
                }
                (None, Some(at))
            }
            "weekly" => {
                let day = get("weekday");
                let (h, m) = get("time")
                    .split_once(':')
                    .and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)))
                    .filter(|(h, m)| *h < 24 && *m < 60)
                    .ok_or_else(|| t("campaign_time_unreadable"))?;
                if !WEEKDAYS.contains(&day.as_str()) {
                    return Err(t("campaign_weekday_missing"));
                }
                (Some(format!("{m} {h} * * {day}")), None)
            }
            "cron" => (Some(get("cron")), None),
            _ => (None, None),
        };
        let ladder_topic = get("topic")
            .parse::<i64>()
            .ok()
            .map(crate::domain::TopicId::from)
            .or_else(|| {
                let o = occasions
                    .iter()
                    .find(|x| x.id.get().to_string() == get("occasion"))?;
                let slug = o.topic.as_ref()?;
                topics.iter().find(|x| &x.slug == slug).map(|x| x.id)
            });
        let ladder = read_ladder(&get, ladder_topic).map_err(t)?;
        let silent = match get("audience").as_str() {
            "silent" => Some(true),
            "everyone" => Some(false),
            _ => None,
        };
        let default_lang = st.composer.renderer.default_lang().to_string();
        let mut translations = translations.clone();
        translations.remove(&default_lang);
        Ok(CreateArgs {
            name,
            kind,
            topic,
            occasion,
            subject: get("subject"),
            body: raw("body").replace("\r\n", "\n"),
            translations,
            audience: Audience {
                silent,
                ladder,
                ..Audience::default()
            },
            schedule,
            send_at,
        })
    })();
    (values, args)
}

async fn create(State(st): State<Shared>, req: Request) -> Response {
    save(st, req, None).await
}

async fn update(State(st): State<Shared>, Path(name): Path<String>, req: Request) -> Response {
    save(st, req, Some(name)).await
}

async fn save(st: Shared, req: Request, editing: Option<String>) -> Response {
    let (a, mut form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some(n) = &editing {
        form.insert("name".into(), n.clone());
    }
    let lists = async {
        Ok::<_, store::StoreError>((
            store::topics::list(&st.db).await?,
            store::occasions::list(&st.db).await?,
        ))
    }
    .await;
    let (topics, occasions) = match lists {
        Ok(l) => l,
        Err(e) => return internal(&st, a.lang, e),
    };
    let (values, args) = read_form(&st, a.lang, &form, &topics, &occasions);
    let args = match args {
        Ok(x) => x,
        Err(msg) => {
            return form_page(
                &st,
                &a,
                editing.as_deref(),
                values,
                Some(msg),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    if form.contains_key("count") {
        // "Count the recipients": the form again with the number, nothing saved.
        let mut values = values;
        let draft = draft_of(&args, &topics, &occasions);
        match campaign::reach(&st.db, &st.cfg, &draft).await {
            Ok(r) => values["count"] = json!({"reach": r, "left_out": r.left_out()}),
            Err(e) => {
                let msg = why(&st, a.lang, &e);
                return form_page(
                    &st,
                    &a,
                    editing.as_deref(),
                    values,
                    Some(msg),
                    StatusCode::OK,
                )
                .await;
            }
        }
        return form_page(&st, &a, editing.as_deref(), values, None, StatusCode::OK).await;
    }
    let r = match &editing {
        Some(_) => campaign::update(&st.db, &st.composer, &args).await,
        None => campaign::create(&st.db, &st.composer, &args).await,
    };
    match r {
        Ok(c) => {
            tracing::info!(user = %a.session.user, campaign = %c.name, "campaign saved in the admin pages");
            redirect(&format!("/admin/campaigns/{}{}", c.name, a.q))
        }
        Err(e) => {
            let msg = match e.downcast_ref::<store::StoreError>() {
                Some(store::StoreError::Conflict(_)) => st.pages.text(a.lang, "campaign_exists"),
                _ => why(&st, a.lang, &e),
            };
            form_page(
                &st,
                &a,
                editing.as_deref(),
                values,
                Some(msg),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// The campaign the form describes, unsaved, to count its audience.
fn draft_of(
    args: &CreateArgs,
    topics: &[store::topics::TopicStats],
    occasions: &[store::occasions::OccasionRow],
) -> Campaign {
    let occasion = args
        .occasion
        .as_ref()
        .and_then(|o| occasions.iter().find(|x| &x.slug == o));
    let topic = args
        .topic
        .clone()
        .or_else(|| occasion.and_then(|o| o.topic.clone()));
    let now = chrono::Utc::now();
    Campaign {
        id: crate::domain::CampaignId(0),
        name: args.name.clone(),
        kind: args.kind,
        topic_id: topic.and_then(|t| topics.iter().find(|x| x.slug == t).map(|x| x.id)),
        occasion_id: occasion.map(|o| o.id),
        subject: args.subject.clone(),
        body: args.body.clone(),
        translations: "{}".into(),
        audience: serde_json::to_string(&args.audience).unwrap_or_else(|_| "{}".into()),
        schedule: None,
        send_at: None,
        parent_id: None,
        status: CampaignStatus::Draft,
        status_reason: None,
        created_at: now,
        started_at: None,
        finished_at: None,
        occasion_mail: None,
        next_step: None,
    }
}

// ----- one campaign -----

#[derive(Debug, Deserialize, Default)]
struct ShowQuery {
    /// Preview as this contact.
    to: Option<String>,
    /// The action just done, to say so.
    done: Option<String>,
    #[allow(dead_code)]
    lang: Option<String>,
}

/// The audience now (before the start) or as counted at the start, and the progress.
async fn figures(st: &Shared, c: &Campaign) -> anyhow::Result<Value> {
    let progress = store::campaigns::progress(&st.db, c.id).await?;
    let started = c.started_at.is_some() || progress.total() > 0;
    let reach = if started {
        store::audience::recorded(&st.db, c.id).await?
    } else if c.schedule.is_none() {
        Some(campaign::reach(&st.db, &st.cfg, c).await?)
    } else {
        None
    };
    Ok(json!({
        "progress": progress, "open": progress.open(), "total": progress.total(),
        "started": started,
        "reach": reach, "left_out": reach.map(|r| r.left_out()),
    }))
}

async fn show(
    State(st): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    q: Result<Query<ShowQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let c = match load(&st, &a, &name).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let figures = match figures(&st, &c).await {
        Ok(f) => f,
        Err(e) => return internal(&st, a.lang, e),
    };
    let extra = async {
        let topic = match c.topic_id {
            Some(t) => store::topics::list(&st.db)
                .await?
                .into_iter()
                .find(|x| x.id == t),
            None => None,
        };
        let occasion = match c.occasion_id {
            Some(o) => Some(store::occasions::by_id(&st.db, o).await?),
            None => None,
        };
        // Contacts to preview as: some of the topic's, the first one chosen by default.
        let sample = store::contacts::list(
            &st.db,
            &ContactFilter {
                topic_id: c.topic_id,
                silent_after_days: st.cfg.silent_after_days,
                limit: Some(20),
                ..ContactFilter::default()
            },
        )
        .await?;
        let email = store::auth::user_email(&st.db, &a.session.user).await?;
        Ok::<_, store::StoreError>((topic, occasion, sample, email))
    }
    .await;
    let (topic, occasion, sample, my_email) = match extra {
        Ok(x) => x,
        Err(e) => return internal(&st, a.lang, e),
    };
    let to =
        q.to.filter(|t| !t.trim().is_empty())
            .or_else(|| sample.first().map(|s| s.email.clone()));
    let preview = match &to {
        Some(to) => match campaign::preview_parts(&st.db, &st.composer, &c.name, to).await {
            Ok(p) => json!({
                "to": to, "from": format!("{} <{}>", p.from_name, p.from_addr),
                "subject": p.subject, "text": p.text, "has_html": p.html.is_some(),
                "has_calendar": p.ics.is_some(),
                "src": format!(
                    "/admin/campaigns/{}/preview?{}",
                    c.name,
                    form_urlencoded::Serializer::new(String::new()).append_pair("to", to).finish()
                ),
            }),
            Err(e) => json!({"to": to, "error": why(&st, a.lang, &e)}),
        },
        None => Value::Null,
    };
    let samples: Vec<&str> = sample.iter().map(|s| s.email.as_str()).collect();
    let mut r = page(
        &st,
        &a,
        "web/admin/campaign.html.j2",
        "campaigns",
        json!({
            "c": c, "f": figures, "topic": topic, "occasion": occasion, "preview": preview,
            "samples": samples, "my_email": my_email,
            "refresh": c.status == CampaignStatus::Running,
            "done": q.done,
            "weekly": c.schedule.as_deref().and_then(weekly),
        }),
    );
    // The preview's HTML is shown in a sandboxed frame of this site (see `preview_html`).
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    r
}

/// The HTML part of the preview, on its own: framed by the campaign's page, sandboxed (no
/// scripts, no forms, no navigation of the page around it), with the mail's own styles.
async fn preview_html(
    State(st): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    q: Result<Query<ShowQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(to) = q.ok().and_then(|Query(q)| q.to) else {
        return not_found(&st, a.lang);
    };
    match campaign::preview_parts(&st.db, &st.composer, &name, &to).await {
        Ok(p) => crate::web::no_store(
            (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                    (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
                    (
                        header::CONTENT_SECURITY_POLICY,
                        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; frame-ancestors 'self'",
                    ),
                    (header::REFERRER_POLICY, "no-referrer"),
                ],
                p.html.unwrap_or_default(),
            )
                .into_response(),
        ),
        Err(e) => refused_text(&st, a.lang, StatusCode::NOT_FOUND, &why(&st, a.lang, &e)),
    }
}

// ----- asking once -----

async fn confirm(st: Shared, name: String, headers: HeaderMap, uri: Uri, what: &str) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let c = match load(&st, &a, &name).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let figures = match figures(&st, &c).await {
        Ok(f) => f,
        Err(e) => return internal(&st, a.lang, e),
    };
    page(
        &st,
        &a,
        "web/admin/campaign_confirm.html.j2",
        "campaigns",
        json!({"c": c, "f": figures, "what": what}),
    )
}

async fn confirm_send(
    State(st): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    confirm(st, name, headers, uri, "send").await
}

async fn confirm_stop(
    State(st): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    confirm(st, name, headers, uri, "stop").await
}

// ----- acting -----

async fn send(State(st): State<Shared>, Path(name): Path<String>, req: Request) -> Response {
    let (a, _) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = async {
        let c = store::campaigns::get(&st.db, &name).await?;
        campaign::start(&st.db, &st.cfg, &c).await
    }
    .await;
    done(&st, &a, &name, "send", r.map(|_| ()))
}

async fn stop(State(st): State<Shared>, Path(name): Path<String>, req: Request) -> Response {
    let (a, _) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = campaign::cancel(&st.db, &name).await;
    done(&st, &a, &name, "stop", r)
}

/// Pause, resume, a test to oneself, and timing.
async fn action(
    State(st): State<Shared>,
    Path((name, action)): Path<(String, String)>,
    req: Request,
) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = match action.as_str() {
        "pause" => campaign::pause(&st.db, &name).await,
        "resume" => campaign::resume(&st.db, &name).await,
        "test" => test(&st, &a, &name, &form).await,
        "schedule" => {
            let at = form.get("send_at").map(|s| s.trim()).unwrap_or("");
            match st
                .cfg
                .tz()
                .map_err(anyhow::Error::msg)
                .and_then(|tz| Ok(parse_local_time(at, tz)?))
            {
                Ok(t) if t > chrono::Utc::now() => campaign::schedule_at(&st.db, &name, t).await,
                Ok(_) => Err(anyhow::anyhow!(st
                    .pages
                    .text(a.lang, "campaign_send_at_past"))),
                Err(e) => Err(anyhow::anyhow!(
                    "{}: {e:#}",
                    st.pages.text(a.lang, "campaign_send_at")
                )),
            }
        }
        _ => return not_found(&st, a.lang),
    };
    done(&st, &a, &name, &action, r)
}

/// A test send to the signed-in person's address (kept as theirs for the next time).
async fn test(
    st: &Shared,
    a: &Admin,
    name: &str,
    form: &HashMap<String, String>,
) -> anyhow::Result<()> {
    let address = form.get("address").map(|s| s.trim()).unwrap_or("");
    let address = crate::domain::EmailAddress::parse(address).map_err(|e| {
        anyhow::anyhow!("{} {address:?}: {e}", st.pages.text(a.lang, "test_address"))
    })?;
    let Some(notifier) = &st.notifier else {
        anyhow::bail!(st.pages.text(a.lang, "test_no_transport"));
    };
    let language = form
        .get("language")
        .filter(|l| !l.is_empty())
        .map(|l| l.to_string());
    let address = address.to_string();
    campaign::test_send(&st.db, notifier, name, &address, language).await?;
    store::auth::set_user_email(&st.db, &a.session.user, &address).await?;
    Ok(())
}

fn done(st: &Shared, a: &Admin, name: &str, what: &str, r: anyhow::Result<()>) -> Response {
    match r {
        Ok(()) => {
            tracing::info!(user = %a.session.user, campaign = %name, what, "campaign action in the admin pages");
            let sep = if a.q.is_empty() { '?' } else { '&' };
            redirect(&format!("/admin/campaigns/{name}{}{sep}done={what}", a.q))
        }
        Err(e) => match e.downcast_ref::<store::StoreError>() {
            Some(store::StoreError::UnknownCampaign(_) | store::StoreError::NotFound(_)) => {
                not_found(st, a.lang)
            }
            _ => refused_text(
                st,
                a.lang,
                StatusCode::UNPROCESSABLE_ENTITY,
                &why(st, a.lang, &e),
            ),
        },
    }
}
