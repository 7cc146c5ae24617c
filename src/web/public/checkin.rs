//! The check-in list of an occasion for helpers at the door: a signed link per occasion (no
//! login), a list that works on a phone, and one button per person that records they came or
//! did not (through `activation::check_in`). The link works until a day after the occasion.

use super::*;
use crate::activation::Attendance;
use crate::store::occasions::Occasion;
use axum::http::header;
use axum::response::IntoResponse;

/// How long after the occasion's end the check-in link still works (late entries).
pub const CHECK_IN_GRACE_DAYS: i64 = 1;

/// The check-in URL of occasion `o`.
pub fn check_in_url(
    cfg: &crate::config::Config,
    key: &crate::token::TokenKey,
    o: &Occasion,
) -> String {
    let expires = activation::occasion_end(o) + chrono::Duration::days(CHECK_IN_GRACE_DAYS);
    let token = key.sign(&Claims {
        purpose: Purpose::CheckIn,
        campaign_id: 0,
        contact_id: 0,
        extra: o.id.get(),
        expires_at: Some(expires.timestamp()),
    });
    format!(
        "{}/checkin/{token}",
        cfg.http.public_url.trim_end_matches('/')
    )
}

async fn occasion_of(st: &Shared, token: &str) -> Result<Occasion, Fail> {
    let claims = verify(st, token, Purpose::CheckIn)?;
    match store::occasions::by_id(&st.db, crate::domain::OccasionId::from(claims.extra)).await {
        Ok(o) => Ok(o),
        Err(StoreError::NotFound(_)) => {
            Err(Fail::Status(StatusCode::GONE, "gone_title", "gone_text"))
        }
        Err(e) => Err(e.into()),
    }
}

/// The list page; `action` is where its buttons post, `csrf` the admin session's token.
pub(crate) async fn door_page(
    st: &Shared,
    lang: Lang,
    o: &Occasion,
    action: &str,
    csrf: Option<&str>,
    status: StatusCode,
) -> Result<Response, StoreError> {
    let rows = store::occasions::door_list(&st.db, o.id).await?;
    let came = rows
        .iter()
        .filter(|r| r.attendance.as_deref() == Some("came"))
        .count();
    Ok(st.pages.render(
        "web/door.html.j2",
        lang,
        status,
        json!({
            "title": st.pages.text(lang, "door_title"),
            "occasion": occasion_facts(st, lang, o),
            "rows": rows,
            "came": came,
            "action": action,
            "csrf": csrf,
        }),
    ))
}

/// Reads the form of a door button: the contact and what to record.
pub(crate) fn door_mark(
    form: &std::collections::HashMap<String, String>,
) -> Option<(ContactId, Attendance)> {
    let contact = form.get("contact")?.parse::<i64>().ok()?;
    let attendance = form.get("attendance")?.parse::<Attendance>().ok()?;
    Some((ContactId::from(contact), attendance))
}

pub(super) async fn check_in_page(
    State(st): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of(&uri, &headers).admin();
    let r = async {
        let o = occasion_of(&st, &token).await?;
        let action = format!("{}{}", uri.path(), lang.query(uri.query()));
        Ok::<_, Fail>(door_page(&st, lang, &o, &action, None, StatusCode::OK).await?)
    }
    .await;
    r.unwrap_or_else(|f| fail_page(&st, lang, f))
}

pub(super) async fn check_in(
    State(st): State<Shared>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let lang = lang_of(&parts.uri, &parts.headers).admin();
    let form = match crate::web::check_post(&st, lang, &parts.headers, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let r = async {
        let o = occasion_of(&st, &token).await?;
        let (contact, attendance) = door_mark(&form).ok_or(Fail::Status(
            StatusCode::BAD_REQUEST,
            "bad_form_title",
            "bad_form_text",
        ))?;
        match activation::check_in(&st.db, &o, contact, attendance, "check-in link").await {
            Ok(()) => {}
            Err(ActivationError::NotFound(_)) => {
                return Err(Fail::Status(
                    StatusCode::NOT_FOUND,
                    "not_found_title",
                    "not_found_text",
                ))
            }
            Err(e) => return Err(e.into()),
        }
        // Back to the list (POST-redirect-GET), at the person just marked.
        let to = format!(
            "{}{}#c{}",
            parts.uri.path(),
            lang.query(parts.uri.query()),
            contact
        );
        Ok::<_, Fail>((StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response())
    }
    .await;
    r.unwrap_or_else(|f| fail_page(&st, lang, f))
}
