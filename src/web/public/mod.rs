//! Pages for contacts: subscribe (double opt-in), confirm, unsubscribe (RFC 8058 one-click),
//! preferences and RSVP links, and the check-in list of an occasion for helpers at the door.
//!
//! Every link carries a signed token (`crate::token`). A GET only shows a page with one
//! button; the POST of that button acts. Mail scanners that open links therefore change nothing,
//! and a forged (400) or expired (410) token gets a page that says so and changes nothing.
//!
//! How long a link works:
//! - confirm (double opt-in): `CONFIRM_DAYS` after the mail, by the token's own expiry;
//! - preferences: by the token's expiry (the sender signs 400 days);
//! - RSVP yes/no of an invitation: until `RSVP_GRACE_DAYS` after the occasion ended (its
//!   `ends_at`, else 3 hours after the start), whatever the token says, so a link sent half a year
//!   ahead still works and one for a past occasion does not; "cooperation" and RSVP links of
//!   campaigns without an occasion by the token's expiry;
//! - unsubscribe: always. A correctly signed unsubscribe link is honoured however old it is
//!   (RFC 8058 one-click and the law want an opt-out that keeps working; the signature still
//!   proves it came from us), so its expiry is ignored.
//!
//! The link pages are rate-limited per client address in `super` (`http.public_requests_per_minute`);
//! a correctly signed one-click unsubscribe is never refused by that limit.

mod calendar;
mod checkin;
mod poll;
mod preferences;
mod rsvp;
mod subscribe;
mod unsubscribe;

pub use checkin::check_in_url;
pub(crate) use checkin::{door_mark, door_page};
pub use subscribe::index;

use super::{body_bytes, Lang, Shared};
use crate::activation::{self, ActivationError, Cause, Link, SignedUp};
use crate::domain::{CampaignId, ConsentStatus, ContactId, EmailAddress, TopicId};
use crate::outbound::render::MailKind;
use crate::outbound::sender::{sender_domain, CampaignCtx, Recipient};
use crate::store::campaigns::Campaign;
use crate::store::contacts::Contact;
use crate::store::topics::Topic;
use crate::store::{self, StoreError};
use crate::token::{Claims, Purpose, TokenError};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::net::SocketAddr;

/// A confirmation link is valid this long.
const CONFIRM_DAYS: i64 = 7;
pub use crate::activation::CONFIRM_MAILS_PER_DAY;
/// RSVP links of an invitation stop working this long after the occasion ended.
pub const RSVP_GRACE_DAYS: i64 = 7;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/s/{topic}",
            get(subscribe::subscribe_form).post(subscribe::subscribe),
        )
        .route(
            "/c/{token}",
            get(subscribe::confirm_page).post(subscribe::confirm),
        )
        .route(
            "/u/{token}",
            get(unsubscribe::unsubscribe_page).post(unsubscribe::unsubscribe),
        )
        .route(
            "/p/{token}",
            get(preferences::preferences_page).post(preferences::preferences),
        )
        .route("/p/{token}/forget", post(preferences::forget))
        .route("/p/{token}/data", get(preferences::my_data_page))
        .route("/p/{token}/data.json", get(preferences::my_data_json))
        .route("/r/{token}/poll", get(poll::page).post(poll::answer))
        .route("/r/{token}/{answer}", get(rsvp::rsvp_page).post(rsvp::rsvp))
        .route("/calendar", get(calendar::all_page))
        .route("/calendar.ics", get(calendar::all_feed))
        .route("/calendar/{topic}", get(calendar::topic_page))
        .route("/calendar/{topic}/calendar.ics", get(calendar::topic_feed))
        .route(
            "/checkin/{token}",
            get(checkin::check_in_page).post(checkin::check_in),
        )
}

/// What went wrong with a request, as a page.
enum Fail {
    Token(TokenError),
    Status(StatusCode, &'static str, &'static str),
    Internal(anyhow::Error),
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Internal(e.into())
    }
}

impl From<ActivationError> for Fail {
    fn from(e: ActivationError) -> Self {
        Fail::Internal(e.into())
    }
}

impl From<anyhow::Error> for Fail {
    fn from(e: anyhow::Error) -> Self {
        Fail::Internal(e)
    }
}

fn fail_page(st: &Shared, lang: Lang, f: Fail) -> Response {
    match f {
        Fail::Token(TokenError::Expired { .. }) => {
            st.pages
                .message(lang, StatusCode::GONE, "expired_title", "expired_text")
        }
        Fail::Token(e) => {
            tracing::info!("rejected link token: {e}");
            st.pages.message(
                lang,
                StatusCode::BAD_REQUEST,
                "invalid_title",
                "invalid_text",
            )
        }
        Fail::Status(s, title, text) => st.pages.message(lang, s, title, text),
        Fail::Internal(e) => {
            tracing::error!("web: {e:#}");
            st.pages.message(
                lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                "error_title",
                "error_text",
            )
        }
    }
}

fn verify(st: &Shared, token: &str, purpose: Purpose) -> Result<Claims, Fail> {
    if token.len() > 200 {
        return Err(Fail::Token(TokenError::Malformed));
    }
    let key = &st.composer.key;
    match purpose {
        // An opt-out keeps working for as long as the mail exists (see the module comment).
        Purpose::Unsubscribe => key.verify_any_age(token, purpose),
        _ => key.verify(token, purpose, chrono::Utc::now().timestamp()),
    }
    .map_err(Fail::Token)
}

async fn contact_of(st: &Shared, claims: &Claims) -> Result<Contact, Fail> {
    match store::contacts::by_id(&st.db, ContactId::from(claims.contact_id)).await {
        Ok(c) => Ok(c),
        // Forgotten (or never existed behind a valid signature): nothing to act on.
        Err(StoreError::NotFound(_)) => {
            Err(Fail::Status(StatusCode::GONE, "gone_title", "gone_text"))
        }
        Err(e) => Err(e.into()),
    }
}

/// The campaign whose mail carried the link (gone once the campaign is deleted).
async fn campaign_of(st: &Shared, claims: &Claims) -> Result<Campaign, Fail> {
    match store::campaigns::by_id(&st.db, CampaignId::from(claims.campaign_id)).await {
        Ok(c) => Ok(c),
        Err(StoreError::NotFound(_)) => {
            Err(Fail::Status(StatusCode::GONE, "gone_title", "gone_text"))
        }
        Err(e) => Err(e.into()),
    }
}

/// The claims of a signed link for `purpose` and the contact it is for.
async fn signed_contact(
    st: &Shared,
    token: &str,
    purpose: Purpose,
) -> Result<(Claims, Contact), Fail> {
    let claims = verify(st, token, purpose)?;
    let contact = contact_of(st, &claims).await?;
    Ok((claims, contact))
}

/// What a contact's link is for (`target`, which checks the token), and the page language:
/// the contact's (`language` of the target) unless the request asks for one. When `target`
/// fails, the page that says why, in the language the request asks for.
async fn open_link<T>(
    st: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    target: impl std::future::Future<Output = Result<T, Fail>>,
    language: impl FnOnce(&T) -> Option<&str>,
) -> Result<(T, Lang), Response> {
    match target.await {
        Ok(t) => {
            let lang = Lang::for_contact(uri.query(), headers, language(&t));
            Ok((t, lang))
        }
        Err(f) => Err(fail_page(st, lang_of(uri, headers), f)),
    }
}

/// A form's POST to a link page: its request, the language the request asks for and its
/// fields; else the page to answer with.
async fn read_form(
    st: &Shared,
    req: Request,
) -> Result<
    (
        axum::http::request::Parts,
        Lang,
        std::collections::HashMap<String, String>,
    ),
    Response,
> {
    let (parts, body) = req.into_parts();
    let lang = lang_of(&parts.uri, &parts.headers);
    let form = crate::web::check_post(st, lang, &parts.headers, body).await?;
    Ok((parts, lang, form))
}

fn lang_of(uri: &Uri, headers: &HeaderMap) -> Lang {
    Lang::from_request(uri.query(), headers)
}

/// The page with one button that performs what the link is for.
#[allow(clippy::too_many_arguments)]
fn action_page(
    st: &Shared,
    lang: Lang,
    uri: &Uri,
    title: &str,
    text: String,
    button: &str,
    hidden: serde_json::Value,
    occasion: Option<&store::occasions::Occasion>,
) -> Response {
    let action = format!("{}{}", uri.path(), lang.query(uri.query()));
    st.pages.render(
        "web/action.html.j2",
        lang,
        StatusCode::OK,
        json!({
            "title": st.pages.text(lang, title),
            "text": text,
            "button": st.pages.text(lang, button),
            "action": action,
            "hidden": hidden,
            "occasion": occasion.map(|o| occasion_facts(st, lang, o)),
        }),
    )
}

/// What a page shows about an occasion: when (in the configured zone and the reader's
/// language), where, and whether it is cancelled.
fn occasion_facts(st: &Shared, lang: Lang, o: &store::occasions::Occasion) -> serde_json::Value {
    let tz = st.cfg.tz().unwrap_or(chrono_tz::Europe::Berlin);
    json!({
        "title": o.title,
        "when": crate::outbound::render::timespan(o.starts_at, o.ends_at, tz, lang.as_str()),
        "place": o.place,
        "cancelled": o.cancelled_at.is_some(),
        "cancel_reason": o.cancel_reason,
    })
}

fn recipient(c: &Contact, language: Option<&str>) -> Recipient {
    let mut r = Recipient::of_contact(c);
    if let Some(l) = language {
        r.language = Some(l.to_string());
    }
    r
}

/// The languages this installation has mail templates for, as choices for a language field.
fn language_choices(st: &Shared) -> serde_json::Value {
    st.composer
        .renderer
        .languages()
        .iter()
        .map(|code| json!({"code": code, "name": crate::domain::Language::native_name(code)}))
        .collect()
}

/// `value` as one of the installation's languages (a code or a name such as "Türkçe").
fn installation_language(st: &Shared, value: &str) -> Option<String> {
    let code = crate::domain::Language::parse(value).ok()?.to_string();
    st.composer
        .renderer
        .languages()
        .contains(&code)
        .then_some(code)
}
