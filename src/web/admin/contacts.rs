//! The contacts in the admin pages: the list (search, filters with the number of matches, each
//! contact's state, paging both ways), one person added by hand, a contact's page with its
//! fields, notes, relations recorded by hand and the timeline, erasure after one confirmation,
//! and the export.

use super::{admin_of, admin_post, internal, page, redirect, refused, topic_choices, Admin};
use crate::activation::{self, ActivationError, ByHand, NewPerson};
use crate::domain::{ConsentStatus, ContactId, EmailAddress, Language, RelationForm, TopicId};
use crate::output::csv_cell;
use crate::store::directory::{ContactState, Fields, Search};
use crate::store::{self, topics::TopicStats};
use crate::web::download::{csv_file, excel_writer};
use crate::web::Shared;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

/// Contacts per page of the list.
const PER_PAGE: i64 = 50;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/contacts", get(list))
        .route("/admin/contacts/new", get(new_form).post(create))
        .route("/admin/contacts/export.csv", get(export))
        .route("/admin/contacts/{id}", get(contact))
        .route("/admin/contacts/{id}/edit", post(edit))
        .route("/admin/contacts/{id}/note", post(note))
        .route("/admin/contacts/{id}/relation", post(relation))
        .route("/admin/contacts/{id}/forget", get(forget_ask).post(forget))
}

fn message(st: &Shared, a: &Admin, status: StatusCode, title: &str, text: &str) -> Response {
    st.pages.message(a.lang, status, title, text)
}

// ----- the list -----

#[derive(Debug, Deserialize, Default)]
struct ListQuery {
    q: Option<String>,
    silent: Option<String>,
    topic: Option<String>,
    state: Option<String>,
    form: Option<String>,
    page: Option<i64>,
    #[allow(dead_code)]
    lang: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

async fn list(
    State(st): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let bad = || {
        st.pages.message(
            a.lang,
            StatusCode::BAD_REQUEST,
            "bad_form_title",
            "bad_form_text",
        )
    };
    let Ok(Query(q)) = q else { return bad() };
    let topics = match store::topics::list(&st.db).await {
        Ok(mut t) => {
            t.retain(|t| a.sees(Some(t.id.0)));
            t
        }
        Err(e) => return internal(&st, a.lang, e),
    };
    // A coordinator lists the contacts of one of their topics at a time (the first by default).
    let first_mine = a
        .topics
        .as_ref()
        .map(|t| t.first().map(|(_, slug)| slug.clone()).unwrap_or_default());
    let topic = nonempty(&q.topic).or(first_mine.as_deref().filter(|s| !s.is_empty()));
    let topic_id = topic.and_then(|slug| topics.iter().find(|t| t.slug == slug).map(|t| t.id));
    if topic.is_some() && topic_id.is_none() {
        return message(
            &st,
            &a,
            StatusCode::NOT_FOUND,
            "not_found_title",
            "not_found_text",
        );
    }
    let form = match nonempty(&q.form).map(str::parse::<RelationForm>) {
        Some(Ok(f)) => Some(f),
        Some(Err(_)) => return bad(),
        None => None,
    };
    let state = match nonempty(&q.state).map(str::parse::<ContactState>) {
        Some(Ok(s)) => Some(s),
        Some(Err(_)) => return bad(),
        None => None,
    };
    let silent = nonempty(&q.silent).is_some();
    let text = nonempty(&q.q).map(str::to_string);
    let pg = q.page.unwrap_or(1).max(1);
    let search = Search {
        text: text.clone(),
        topic_id,
        state,
        form,
        silent,
        silent_after_days: st.cfg.silent_after_days,
        limit: PER_PAGE,
        // A page far past the end is empty, never a wrapped-around page 1.
        offset: (pg - 1).saturating_mul(PER_PAGE),
    };
    let offset = search.offset;
    let (rows, total) = match store::directory::search(&st.db, &search).await {
        Ok(r) => r,
        Err(e) => return internal(&st, a.lang, e),
    };
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    // The filters as a query string, for the paging links.
    let mut keep = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("q", text.as_deref()),
        ("topic", topic),
        ("state", state.map(|s| s.as_str())),
        ("form", form.map(|f| f.as_str())),
        ("silent", silent.then_some("1")),
        ("lang", (a.lang == crate::web::Lang::En).then_some("en")),
    ] {
        if let Some(v) = v {
            keep.append_pair(k, v);
        }
    }
    let keep = keep.finish();
    let shown: Vec<&TopicStats> = topics
        .iter()
        .filter(|t| t.archived_at.is_none() || Some(t.id) == topic_id)
        .collect();
    page(
        &st,
        &a,
        "web/admin/contacts.html.j2",
        "contacts",
        json!({
            "contacts": rows, "total": total, "topics": shown,
            "forms": ["encounter", "cooperation", "group"],
            "states": ContactState::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "filter": {"q": text, "silent": silent, "topic": topic,
                       "state": state.map(|s| s.as_str()), "form": form.map(|f| f.as_str())},
            "page": pg, "pages": pages, "keep": keep,
            "first": offset.saturating_add(1), "last": offset.saturating_add(rows.len() as i64),
        }),
    )
}

// ----- one person added by hand -----

async fn new_form(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    person_form(&st, &a, StatusCode::OK, &HashMap::new(), None).await
}

/// The form for a new person, with what was typed and the error (which field, what is wrong).
async fn person_form(
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
    let chosen: Vec<&str> = topics
        .iter()
        .filter(|t| values.contains_key(&format!("topic_{}", t.slug)))
        .map(|t| t.slug.as_str())
        .collect();
    let mut r = page(
        st,
        a,
        "web/admin/contact_new.html.j2",
        "contacts",
        json!({
            "topics": topics, "chosen": chosen, "v": values,
            // Only the link the handler set (a form field of that name is no link).
            "exists_link": values.get("exists_link").filter(|l| l.starts_with("/admin/contacts/")
                && l[16..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'?' || b == b'=')),
            "error_field": error.as_ref().map(|e| e.0), "error": error.as_ref().map(|e| &e.1),
        }),
    );
    *r.status_mut() = status;
    r
}

fn field(form: &HashMap<String, String>, name: &str) -> Option<String> {
    form.get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Name, organisation and language from a form, each checked; the error names the field.
fn fields_of(
    st: &Shared,
    a: &Admin,
    form: &HashMap<String, String>,
) -> Result<Fields, (&'static str, String)> {
    let mut f = Fields {
        name: field(form, "name"),
        organisation: field(form, "organisation"),
        language: None,
    };
    for (key, value) in [("name", &f.name), ("organisation", &f.organisation)] {
        if let Some(v) = value {
            if crate::domain::check_text_field(key, v).is_err() {
                return Err((key, st.pages.text(a.lang, "error_text_field")));
            }
        }
    }
    if let Some(l) = field(form, "language") {
        match Language::parse(&l) {
            Ok(l) => f.language = Some(l.to_string()),
            Err(_) => return Err(("language", st.pages.text(a.lang, "error_language"))),
        }
    }
    Ok(f)
}

async fn create(State(st): State<Shared>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    let email = match field(&form, "email").map(|e| EmailAddress::parse(&e)) {
        Some(Ok(e)) => e,
        Some(Err(_)) => {
            let text = st.pages.text(a.lang, "error_email");
            return person_form(&st, &a, invalid, &form, Some(("email", text))).await;
        }
        None => {
            let text = st.pages.text(a.lang, "error_email_missing");
            return person_form(&st, &a, invalid, &form, Some(("email", text))).await;
        }
    };
    let fields = match fields_of(&st, &a, &form) {
        Ok(f) => f,
        Err((k, text)) => return person_form(&st, &a, invalid, &form, Some((k, text))).await,
    };
    let topics = match topic_choices(&st, &a).await {
        Ok(t) => t,
        Err(e) => return internal(&st, a.lang, e),
    };
    let chosen: Vec<TopicId> = topics
        .iter()
        .filter(|t| form.contains_key(&format!("topic_{}", t.slug)))
        .map(|t| t.id)
        .collect();
    let consent = match form.get("consent").map(String::as_str) {
        Some("confirmed") => ConsentStatus::Confirmed,
        _ => ConsentStatus::Pending,
    };
    let evidence = field(&form, "evidence");
    if consent == ConsentStatus::Confirmed && !chosen.is_empty() && evidence.is_none() {
        let text = st.pages.text(a.lang, "error_evidence");
        return person_form(&st, &a, invalid, &form, Some(("evidence", text))).await;
    }
    let by = format!("admin:{}", a.session.user);
    let person = NewPerson {
        email,
        name: fields.name,
        organisation: fields.organisation,
        language: fields.language,
        topics: chosen,
        consent,
        evidence,
    };
    match activation::add_person(&st.db, &person, &by).await {
        Ok(c) => {
            tracing::info!(user = %a.session.user, contact = c.id.get(), "contact added by admin");
            redirect(&format!("/admin/contacts/{}{}", c.id, a.q))
        }
        Err(ActivationError::Conflict(_)) => {
            let known = store::contacts::find(&st.db, &person.email)
                .await
                .ok()
                .flatten();
            let mut values = form.clone();
            let text = match known {
                Some(c) => {
                    values.insert(
                        "exists_link".into(),
                        format!("/admin/contacts/{}{}", c.id, a.q),
                    );
                    st.pages.text(a.lang, "error_contact_exists")
                }
                None => st.pages.text(a.lang, "error_suppressed"),
            };
            person_form(
                &st,
                &a,
                StatusCode::CONFLICT,
                &values,
                Some(("email", text)),
            )
            .await
        }
        Err(e) => refused(&st, &a, e, "/admin/contacts/new"),
    }
}

// ----- one contact -----

async fn contact(
    State(st): State<Shared>,
    Path(id): Path<ContactId>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    contact_page(&st, &a, id, StatusCode::OK, None).await
}

async fn contact_page(
    st: &Shared,
    a: &Admin,
    id: ContactId,
    status: StatusCode,
    error: Option<(&str, String)>,
) -> Response {
    let c = match store::contacts::by_id(&st.db, id).await {
        Ok(c) => c,
        Err(e) if e.is_not_found() => {
            return message(
                st,
                a,
                StatusCode::NOT_FOUND,
                "not_found_title",
                "not_found_text",
            )
        }
        Err(e) => return internal(st, a.lang, e),
    };
    let data = async {
        let d = store::contacts::detail(&st.db, &c.email, st.cfg.silent_after_days).await?;
        let topics = store::topics::list(&st.db).await?;
        let occasions = store::occasions::list(&st.db).await?;
        Ok::<_, store::StoreError>((d, topics, occasions))
    }
    .await;
    let (mut d, topics, occasions) = match data {
        Ok(x) => x,
        Err(e) => return internal(st, a.lang, e),
    };
    crate::timeline::render(&mut d.timeline, a.lang);
    // Newest first: what happened last is what a coordinator looks for.
    d.timeline.reverse();
    let state = if d.suppressed {
        "suppressed"
    } else if d.silent {
        "silent"
    } else if d
        .subscriptions
        .iter()
        .any(|s| s.status == ConsentStatus::Confirmed)
    {
        "active"
    } else if d
        .subscriptions
        .iter()
        .any(|s| s.status == ConsentStatus::Pending)
    {
        "pending"
    } else if d.subscriptions.is_empty() {
        "no_consent"
    } else {
        "unsubscribed"
    };
    let title = |tid: Option<TopicId>| {
        tid.and_then(|t| topics.iter().find(|x| x.id == t))
            .map(|t| t.title.clone())
    };
    let relations: Vec<_> = d
        .relations
        .iter()
        .map(|r| {
            let occasion = r
                .occasion_id
                .and_then(|o| occasions.iter().find(|x| x.id == o))
                .map(|o| o.title.clone());
            json!({"r": r, "topic": title(r.topic_id), "occasion": occasion})
        })
        .collect();
    let in_use: Vec<&TopicStats> = topics.iter().filter(|t| t.archived_at.is_none()).collect();
    let open: Vec<_> = occasions
        .iter()
        .filter(|o| o.cancelled_at.is_none())
        .collect();
    let mut r = page(
        st,
        a,
        "web/admin/contact.html.j2",
        "contacts",
        json!({
            "d": d, "state": state, "relations": relations, "topics": in_use,
            "occasions": open, "error_field": error.as_ref().map(|e| e.0),
            "error": error.as_ref().map(|e| &e.1),
        }),
    );
    *r.status_mut() = status;
    r
}

async fn edit(State(st): State<Shared>, Path(id): Path<ContactId>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let f = match fields_of(&st, &a, &form) {
        Ok(f) => f,
        Err((k, text)) => {
            return contact_page(
                &st,
                &a,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some((k, text)),
            )
            .await
        }
    };
    let by = format!("admin:{}", a.session.user);
    match activation::edit_contact(&st.db, id, &f, &by).await {
        Ok(()) => redirect(&format!("/admin/contacts/{id}{}#fields", a.q)),
        Err(e) => refused(&st, &a, e, &format!("/admin/contacts/{id}")),
    }
}

async fn note(State(st): State<Shared>, Path(id): Path<ContactId>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let text = form.get("note").map(|t| t.trim()).unwrap_or("");
    if text.is_empty() || crate::domain::check_note_field("note", text).is_err() {
        let msg = st.pages.text(a.lang, "error_note");
        return contact_page(
            &st,
            &a,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(("note", msg)),
        )
        .await;
    }
    let by = format!("admin:{}", a.session.user);
    match activation::add_note(&st.db, id, text, &by).await {
        Ok(()) => redirect(&format!("/admin/contacts/{id}{}#timeline", a.q)),
        Err(e) => refused(&st, &a, e, &format!("/admin/contacts/{id}")),
    }
}

async fn relation(State(st): State<Shared>, Path(id): Path<ContactId>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let topic = match field(&form, "topic") {
        Some(slug) => match store::topics::get(&st.db, &slug).await {
            Ok(t) => Some(t.id),
            Err(e) if e.is_not_found() => {
                let msg = st.pages.text(a.lang, "error_topic");
                return contact_page(
                    &st,
                    &a,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(("relation", msg)),
                )
                .await;
            }
            Err(e) => return internal(&st, a.lang, e),
        },
        None => None,
    };
    let group = field(&form, "group").unwrap_or_default();
    let what = match form.get("what").map(String::as_str) {
        Some("came") => match field(&form, "occasion") {
            Some(occasion) => ByHand::Came { occasion },
            None => {
                let msg = st.pages.text(a.lang, "error_occasion");
                return contact_page(
                    &st,
                    &a,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(("relation", msg)),
                )
                .await;
            }
        },
        Some("group") | Some("left_group") if group.is_empty() => {
            let msg = st.pages.text(a.lang, "error_group");
            return contact_page(
                &st,
                &a,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(("relation", msg)),
            )
            .await;
        }
        Some("group") => ByHand::Group { name: group, topic },
        Some("left_group") => ByHand::LeftGroup { name: group, topic },
        Some("cooperation_started") => ByHand::CooperationStarted { topic },
        Some("cooperation_ended") => ByHand::CooperationEnded { topic },
        _ => {
            return message(
                &st,
                &a,
                StatusCode::BAD_REQUEST,
                "bad_form_title",
                "bad_form_text",
            )
        }
    };
    let by = format!("admin:{}", a.session.user);
    match activation::record_by_hand(&st.db, id, &what, &by).await {
        Ok(()) => redirect(&format!("/admin/contacts/{id}{}#relations", a.q)),
        Err(ActivationError::Conflict(_)) => {
            let msg = st.pages.text(a.lang, "error_nothing_to_end");
            contact_page(&st, &a, id, StatusCode::CONFLICT, Some(("relation", msg))).await
        }
        Err(e) => refused(&st, &a, e, &format!("/admin/contacts/{id}")),
    }
}

// ----- erasure, after one question -----

async fn forget_ask(
    State(st): State<Shared>,
    Path(id): Path<ContactId>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    forget_page(&st, &a, id).await
}

async fn forget_page(st: &Shared, a: &Admin, id: ContactId) -> Response {
    match store::contacts::by_id(&st.db, id).await {
        Ok(c) => page(
            st,
            a,
            "web/admin/forget.html.j2",
            "contacts",
            json!({"c": c}),
        ),
        Err(e) if e.is_not_found() => message(
            st,
            a,
            StatusCode::NOT_FOUND,
            "not_found_title",
            "not_found_text",
        ),
        Err(e) => internal(st, a.lang, e),
    }
}

async fn forget(State(st): State<Shared>, Path(id): Path<ContactId>, req: Request) -> Response {
    let (a, form) = match admin_post(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    // Erasure cannot be undone: only the confirmation page's button (which says so) erases.
    if form.get("confirm").map(String::as_str) != Some("yes") {
        return forget_page(&st, &a, id).await;
    }
    let r = async {
        let c = store::contacts::by_id(&st.db, id).await?;
        store::contacts::forget(&st.db, &c.email).await
    }
    .await;
    match r {
        Ok(()) => {
            tracing::info!(user = %a.session.user, contact = id.get(), "contact forgotten by admin");
            redirect(&format!("/admin/contacts{}", a.q))
        }
        Err(e) if e.is_not_found() => message(
            &st,
            &a,
            StatusCode::NOT_FOUND,
            "not_found_title",
            "not_found_text",
        ),
        Err(e) => internal(&st, a.lang, e),
    }
}

// ----- export -----

#[derive(Debug, Deserialize, Default)]
struct ExportQuery {
    dialect: Option<String>,
}

/// All contacts as CSV: `excel` (semicolons, UTF-8 with BOM, for German Excel) or `standard`
/// (commas, UTF-8, exactly what `netzpost contacts export` writes, re-importable).
async fn export(
    State(st): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    q: Query<ExportQuery>,
) -> Response {
    let a = match admin_of(&st, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let rows = match store::contacts::export(&st.db).await {
        // A coordinator exports the contacts of their topics.
        Ok(mut r) => {
            r.retain(|c| {
                a.topics.is_none()
                    || c.topics
                        .as_deref()
                        .unwrap_or("")
                        .split([',', ' ', ';'])
                        .any(|s| !s.is_empty() && a.sees_slug(Some(s)))
            });
            r
        }
        Err(e) => return internal(&st, a.lang, e),
    };
    let cols = [
        "email",
        "name",
        "organisation",
        "language",
        "topics",
        "attributes",
        "source",
        "created_at",
    ];
    let excel = q.dialect.as_deref() != Some("standard");
    let body = if excel {
        let mut w = excel_writer();
        let mut result = w.write_record(cols);
        for r in &rows {
            if result.is_err() {
                break;
            }
            result = w.write_record([
                csv_cell(&r.email).as_ref(),
                &csv_cell(r.name.as_deref().unwrap_or("")),
                &csv_cell(r.organisation.as_deref().unwrap_or("")),
                r.language.as_deref().unwrap_or(""),
                &csv_cell(r.topics.as_deref().unwrap_or("")),
                &csv_cell(&r.attributes),
                &csv_cell(r.source.as_deref().unwrap_or("")),
                &r.created_at.to_rfc3339(),
            ]);
        }
        match result
            .map_err(anyhow::Error::from)
            .and_then(|_| w.into_inner().map_err(|e| anyhow::anyhow!("{e}")))
        {
            Ok(b) => b,
            Err(e) => return internal(&st, a.lang, e),
        }
    } else {
        let mut out = Vec::new();
        if let Err(e) = crate::output::print(&mut out, &rows, &cols, crate::output::Format::Csv) {
            return internal(&st, a.lang, e);
        }
        out
    };
    csv_file("kontakte.csv", body)
}
