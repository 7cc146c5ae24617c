//! Pages for contacts: subscribe (double opt-in), confirm, unsubscribe (RFC 8058 one-click),
//! preferences and RSVP links.
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

use super::{body_bytes, Lang, Shared};
use crate::activation::{self, ActivationError, Cause, Link, SignedUp};
use crate::domain::{CampaignId, ConsentStatus, ContactId, EmailAddress, TopicId};
use crate::outbound::render::MailKind;
use crate::outbound::sender::{sender_domain, CampaignCtx, Recipient};
use crate::store::campaigns::{Campaign, CampaignKind, CampaignStatus};
use crate::store::contacts::Contact;
use crate::store::topics::Topic;
use crate::store::{self, now, StoreError};
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
/// Confirmation mails per recipient address in 24 hours, whoever asks from wherever: the form
/// must not be a way to flood someone's mailbox.
pub const CONFIRM_MAILS_PER_DAY: i64 = 3;
/// RSVP links of an invitation stop working this long after the occasion ended.
pub const RSVP_GRACE_DAYS: i64 = 7;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/s/{topic}", get(subscribe_form).post(subscribe))
        .route("/c/{token}", get(confirm_page).post(confirm))
        .route("/u/{token}", get(unsubscribe_page).post(unsubscribe))
        .route("/p/{token}", get(preferences_page).post(preferences))
        .route("/p/{token}/forget", post(forget))
        .route("/r/{token}/{answer}", get(rsvp_page).post(rsvp))
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

fn lang_of(uri: &Uri, headers: &HeaderMap) -> Lang {
    Lang::from_request(uri.query(), headers)
}

/// The page language on a contact's link (`contact.language` of a page context).
fn contact_lang(uri: &Uri, headers: &HeaderMap, ctx: &serde_json::Value) -> Lang {
    Lang::for_contact(uri.query(), headers, ctx["contact"]["language"].as_str())
}

/// The page with one button that performs what the link is for.
fn action_page(
    st: &Shared,
    lang: Lang,
    uri: &Uri,
    title: &str,
    text: String,
    button: &str,
    hidden: serde_json::Value,
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
        }),
    )
}

// ----- index and subscribe -----

pub async fn index(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let lang = lang_of(&uri, &headers);
    match store::topics::list(&st.db).await {
        Ok(topics) => st.pages.render(
            "web/index.html.j2",
            lang,
            StatusCode::OK,
            json!({"topics": topics, "org": st.cfg.organisation.name, "q": lang.query(uri.query())}),
        ),
        Err(e) => fail_page(&st, lang, e.into()),
    }
}

async fn topic_or_404(st: &Shared, slug: &str) -> Result<Topic, Fail> {
    if store::topics::check_slug(slug).is_err() {
        return Err(Fail::Status(
            StatusCode::NOT_FOUND,
            "not_found_title",
            "not_found_text",
        ));
    }
    match store::topics::find(&st.db, slug).await? {
        Some(t) => Ok(t),
        None => Err(Fail::Status(
            StatusCode::NOT_FOUND,
            "not_found_title",
            "not_found_text",
        )),
    }
}

#[allow(clippy::too_many_arguments)]
fn subscribe_page(
    st: &Shared,
    lang: Lang,
    uri: &Uri,
    topic: &Topic,
    status: StatusCode,
    error: Option<&str>,
    email: &str,
    name: &str,
) -> Response {
    st.pages.render(
        "web/subscribe.html.j2",
        lang,
        status,
        json!({
            "topic": topic,
            "org": st.cfg.organisation.name,
            "action": format!("{}{}", uri.path(), lang.query(uri.query())),
            "error": error.map(|e| st.pages.text(lang, e)),
            "email": email,
            "name": name,
            "languages": language_choices(st),
        }),
    )
}

async fn subscribe_form(
    State(st): State<Shared>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of(&uri, &headers);
    match topic_or_404(&st, &slug).await {
        Ok(t) => subscribe_page(&st, lang, &uri, &t, StatusCode::OK, None, "", ""),
        Err(f) => fail_page(&st, lang, f),
    }
}

async fn subscribe(State(st): State<Shared>, Path(slug): Path<String>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let lang = lang_of(&parts.uri, &parts.headers);
    let topic = match topic_or_404(&st, &slug).await {
        Ok(t) => t,
        Err(f) => return fail_page(&st, lang, f),
    };
    let ip = st.client_ip(
        parts.extensions.get::<ConnectInfo<SocketAddr>>(),
        &parts.headers,
    );
    if let Some(ip) = ip {
        if !st.subscribe_limiter.allow(ip).await {
            return st.pages.message(
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited_title",
                "rate_limited_text",
            );
        }
    }
    let form = match super::check_post(&st, lang, &parts.headers, body).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let email = form.get("email").map(|s| s.trim()).unwrap_or("");
    let name = form.get("name").map(|s| s.trim()).unwrap_or("");
    // Bots fill every field; people do not see this one.
    if form.get("website").is_some_and(|w| !w.is_empty()) {
        tracing::info!(topic = %slug, "subscribe: honeypot filled, ignored");
        return st
            .pages
            .message(lang, StatusCode::OK, "check_mail_title", "check_mail_text");
    }
    let addr = match EmailAddress::parse(email) {
        Ok(a) if email.len() <= 254 => a,
        _ => {
            return subscribe_page(
                &st,
                lang,
                &parts.uri,
                &topic,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("error_email"),
                email,
                name,
            )
        }
    };
    if crate::domain::check_text_field("name", name).is_err() {
        return subscribe_page(
            &st,
            lang,
            &parts.uri,
            &topic,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("error_name"),
            email,
            name,
        );
    }
    let language = form
        .get("language")
        .and_then(|l| installation_language(&st, l))
        .unwrap_or_else(|| lang.as_str().to_string());
    let evidence = format!(
        "web form /s/{slug} from {}",
        ip.map_or("?".to_string(), |i| i.to_string())
    );
    match start_opt_in(&st, &topic, &addr, name, &language, &evidence).await {
        Ok(()) => {}
        Err(e) => return fail_page(&st, lang, e),
    }
    // The same answer whether or not the address was known: the form reveals nobody's data.
    st.pages
        .message(lang, StatusCode::OK, "check_mail_title", "check_mail_text")
}

/// Records pending consent (unless confirmed already, or withdrawn: an opt-out is never undone
/// here) and sends the confirmation mail.
async fn start_opt_in(
    st: &Shared,
    topic: &Topic,
    addr: &EmailAddress,
    name: &str,
    language: &str,
    evidence: &str,
) -> Result<(), Fail> {
    let signed = activation::sign_up(
        &st.db,
        &activation::SignUp {
            email: addr,
            name: Some(name),
            language,
            topic: topic.id,
            evidence,
            max_mails_per_day: CONFIRM_MAILS_PER_DAY,
        },
    )
    .await?;
    match signed {
        SignedUp::SendConfirmation(contact) => {
            send_confirmation(st, topic, &contact, language).await?
        }
        SignedUp::Suppressed => tracing::info!("subscribe: suppressed address, nothing sent"),
        SignedUp::Throttled(contact) => tracing::info!(
            contact = contact.get(),
            "subscribe: {CONFIRM_MAILS_PER_DAY} confirmation mails to this address today, none sent"
        ),
        SignedUp::Confirmed => {}
    }
    Ok(())
}

/// A campaign frame for system mails outside any campaign (tokens then carry campaign 0).
fn frame(topic: &Topic) -> CampaignCtx {
    let at = now();
    CampaignCtx {
        campaign: Campaign {
            id: CampaignId(0),
            name: "web".into(),
            kind: CampaignKind::Newsletter,
            topic_id: Some(topic.id),
            occasion_id: None,
            subject: String::new(),
            body: String::new(),
            translations: "{}".into(),
            audience: "{}".into(),
            schedule: None,
            send_at: None,
            parent_id: None,
            status: CampaignStatus::Running,
            status_reason: None,
            created_at: at,
            started_at: None,
            finished_at: None,
        },
        kind: MailKind::Confirm,
        topic: topic.clone(),
        occasion: None,
        translations: Default::default(),
    }
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

async fn send_confirmation(
    st: &Shared,
    topic: &Topic,
    c: &Contact,
    language: &str,
) -> anyhow::Result<()> {
    let Some(notifier) = &st.notifier else {
        anyhow::bail!("no mail transport in this process: cannot send the confirmation");
    };
    let token = st.composer.key.sign(&Claims {
        purpose: Purpose::Confirm,
        campaign_id: 0,
        contact_id: c.id.get(),
        extra: topic.id.get(),
        expires_at: Some((chrono::Utc::now() + chrono::Duration::days(CONFIRM_DAYS)).timestamp()),
    });
    let ctx = frame(topic);
    let r = recipient(c, Some(language));
    // Keep the usual links (the composer needs the unsubscribe one) and add the confirm link.
    let mut links = st.composer.context(&ctx, &r)["links"].clone();
    let base = st.cfg.http.public_url.trim_end_matches('/');
    links["confirm"] = format!("{base}/c/{token}").into();
    let message_id = format!(
        "<np.confirm.{}.{}.{}@{}>",
        c.id,
        topic.id,
        chrono::Utc::now().timestamp_millis(),
        sender_domain(&st.cfg)
    );
    notifier
        .send(
            MailKind::Confirm,
            &ctx,
            &r,
            json!({ "links": links }),
            &message_id,
        )
        .await?;
    Ok(())
}

// ----- confirm -----

async fn confirm_page(
    State(st): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of(&uri, &headers);
    let r = async {
        let claims = verify(&st, &token, Purpose::Confirm)?;
        let c = contact_of(&st, &claims).await?;
        let topic = store::topics::by_id(&st.db, TopicId::from(claims.extra)).await?;
        Ok::<_, Fail>((topic, c.language))
    }
    .await;
    match r {
        Ok((topic, contact_lang)) => {
            let lang = Lang::for_contact(uri.query(), &headers, contact_lang.as_deref());
            action_page(
                &st,
                lang,
                &uri,
                "confirm_title",
                st.pages
                    .text(lang, "confirm_text")
                    .replace("{topic}", &topic.title),
                "confirm_button",
                json!({}),
            )
        }
        Err(f) => fail_page(&st, lang, f),
    }
}

async fn confirm(State(st): State<Shared>, Path(token): Path<String>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let lang = lang_of(&parts.uri, &parts.headers);
    if let Err(r) = super::check_post(&st, lang, &parts.headers, body).await {
        return r;
    }
    let ip = st.client_ip(
        parts.extensions.get::<ConnectInfo<SocketAddr>>(),
        &parts.headers,
    );
    let r = async {
        let claims = verify(&st, &token, Purpose::Confirm)?;
        let c = contact_of(&st, &claims).await?;
        let topic = store::topics::by_id(&st.db, TopicId::from(claims.extra)).await?;
        // Idempotent: a second click changes nothing and says the same.
        let evidence = format!(
            "confirm link from {}",
            ip.map_or("?".to_string(), |i| i.to_string())
        );
        activation::confirm_consent(
            &st.db,
            c.id,
            topic.id,
            &Cause::Link {
                link: Link::Confirm,
                evidence,
                campaign_id: None,
            },
        )
        .await?;
        Ok::<_, Fail>(topic)
    }
    .await;
    match r {
        Ok(topic) => st.pages.render(
            "web/message.html.j2",
            lang,
            StatusCode::OK,
            json!({
                "title": st.pages.text(lang, "confirmed_title"),
                "text": st.pages.text(lang, "confirmed_text").replace("{topic}", &topic.title),
            }),
        ),
        Err(f) => fail_page(&st, lang, f),
    }
}

// ----- unsubscribe -----

async fn unsubscribe_page(
    State(st): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of(&uri, &headers);
    let r = async {
        let claims = verify(&st, &token, Purpose::Unsubscribe)?;
        let c = contact_of(&st, &claims).await?;
        let topic = unsubscribe_topic(&st, &claims).await?;
        Ok::<_, Fail>((topic, c.language))
    }
    .await;
    match r {
        Ok((topic, contact_lang)) => {
            let lang = Lang::for_contact(uri.query(), &headers, contact_lang.as_deref());
            let text = match &topic {
                Some(t) => st
                    .pages
                    .text(lang, "unsubscribe_text")
                    .replace("{topic}", &t.title),
                None => st.pages.text(lang, "unsubscribe_all_text"),
            };
            action_page(
                &st,
                lang,
                &uri,
                "unsubscribe_title",
                text,
                "unsubscribe_button",
                json!({"List-Unsubscribe": "One-Click"}),
            )
        }
        Err(f) => fail_page(&st, lang, f),
    }
}

/// The topic a link unsubscribes from: the campaign's; for system mails (campaign 0) the topic
/// in the token; `None` (= all topics) when the campaign is gone.
async fn unsubscribe_topic(st: &Shared, claims: &Claims) -> Result<Option<Topic>, Fail> {
    if claims.campaign_id == 0 {
        return match store::topics::by_id(&st.db, TopicId::from(claims.extra)).await {
            Ok(t) => Ok(Some(t)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        };
    }
    match store::campaigns::by_id(&st.db, CampaignId::from(claims.campaign_id)).await {
        Ok(c) => match c.topic_id {
            Some(t) => Ok(store::topics::by_id(&st.db, t).await.ok()),
            None => Ok(None),
        },
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// RFC 8058: the body holds `List-Unsubscribe=One-Click`, URL-encoded or as multipart form data.
fn is_one_click(headers: &HeaderMap, body: &[u8]) -> bool {
    let ct_full = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match super::content_type(headers).as_str() {
        "application/x-www-form-urlencoded" => {
            form_urlencoded::parse(body).any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click")
        }
        "multipart/form-data" => {
            let Some(boundary) = ct_full.split(';').find_map(|p| {
                p.trim()
                    .strip_prefix("boundary=")
                    .map(|b| b.trim_matches('"').to_string())
            }) else {
                return false;
            };
            let text = String::from_utf8_lossy(body);
            text.split(&format!("--{boundary}")).any(|part| {
                let Some((head, value)) = part
                    .split_once("\r\n\r\n")
                    .or_else(|| part.split_once("\n\n"))
                else {
                    return false;
                };
                head.to_ascii_lowercase()
                    .contains("name=\"list-unsubscribe\"")
                    && value.trim() == "One-Click"
            })
        }
        _ => false,
    }
}

async fn unsubscribe(
    State(st): State<Shared>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let lang = lang_of(&parts.uri, &parts.headers);
    let bytes = match body_bytes(body).await {
        Ok(b) => b,
        Err(s) => {
            return st
                .pages
                .message(lang, s, "bad_form_title", "too_large_text")
        }
    };
    let ct = super::content_type(&parts.headers);
    if ct != "application/x-www-form-urlencoded" && ct != "multipart/form-data" {
        return st.pages.message(
            lang,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_form_title",
            "bad_form_text",
        );
    }
    if !is_one_click(&parts.headers, &bytes) {
        return st.pages.message(
            lang,
            StatusCode::BAD_REQUEST,
            "bad_form_title",
            "bad_form_text",
        );
    }
    let r = async {
        let claims = verify(&st, &token, Purpose::Unsubscribe)?;
        let c = match store::contacts::by_id(&st.db, ContactId::from(claims.contact_id)).await {
            Ok(c) => c,
            // Forgotten already: nothing left to unsubscribe, and that is success.
            Err(StoreError::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let topic = unsubscribe_topic(&st, &claims).await?;
        let campaign = (claims.campaign_id > 0).then_some(CampaignId::from(claims.campaign_id));
        let changed = !activation::withdraw_consent(
            &st.db,
            c.id,
            topic.map(|t| t.id),
            &Cause::Link {
                link: Link::Unsubscribe,
                evidence: "unsubscribe link (RFC 8058)".into(),
                campaign_id: campaign,
            },
        )
        .await?
        .is_empty();
        Ok::<_, Fail>(changed)
    }
    .await;
    match r {
        Ok(changed) => {
            tracing::info!(changed, "unsubscribe link");
            st.pages.message(
                lang,
                StatusCode::OK,
                "unsubscribed_title",
                "unsubscribed_text",
            )
        }
        Err(f) => fail_page(&st, lang, f),
    }
}

// ----- preferences -----

async fn preferences_page(
    State(st): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of(&uri, &headers);
    match preferences_ctx(&st, &token).await {
        Ok(ctx) => {
            let lang = contact_lang(&uri, &headers, &ctx);
            render_preferences(&st, lang, &uri, ctx, None)
        }
        Err(f) => fail_page(&st, lang, f),
    }
}

async fn preferences_ctx(st: &Shared, token: &str) -> Result<serde_json::Value, Fail> {
    let claims = verify(st, token, Purpose::Preferences)?;
    let c = contact_of(st, &claims).await?;
    let subs = store::contacts::subscriptions(&st.db, c.id).await?;
    let topics = store::topics::list(&st.db).await?;
    let rows: Vec<serde_json::Value> = topics
        .iter()
        .map(|t| {
            let status = subs
                .iter()
                .find(|s| s.topic_id == t.id)
                .map(|s| s.status.as_str())
                .unwrap_or("none");
            json!({"id": t.id, "slug": t.slug, "title": t.title, "on": status == "confirmed", "status": status})
        })
        .collect();
    Ok(json!({
        "contact": {"email": c.email, "name": c.name, "language": c.language, "id": c.id},
        "topics": rows,
        "org": st.cfg.organisation.name,
    }))
}

fn render_preferences(
    st: &Shared,
    lang: Lang,
    uri: &Uri,
    mut ctx: serde_json::Value,
    saved: Option<&str>,
) -> Response {
    let q = lang.query(uri.query());
    let base = uri.path().trim_end_matches("/forget");
    ctx["action"] = format!("{base}{q}").into();
    ctx["forget_action"] = format!("{base}/forget{q}").into();
    ctx["saved"] = saved.map(|s| st.pages.text(lang, s)).into();
    ctx["languages"] = language_choices(st);
    st.pages
        .render("web/preferences.html.j2", lang, StatusCode::OK, ctx)
}

async fn preferences(
    State(st): State<Shared>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let lang = lang_of(&parts.uri, &parts.headers);
    let form = match super::check_post(&st, lang, &parts.headers, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let r = async {
        let claims = verify(&st, &token, Purpose::Preferences)?;
        let c = contact_of(&st, &claims).await?;
        let new_lang = match form.get("language").map(|s| s.as_str()) {
            None | Some("") => None,
            Some(l) => Some(installation_language(&st, l).ok_or(Fail::Status(
                StatusCode::BAD_REQUEST,
                "bad_form_title",
                "bad_form_text",
            ))?),
        };
        let subs = store::contacts::subscriptions(&st.db, c.id).await?;
        let campaign = (claims.campaign_id > 0).then_some(CampaignId::from(claims.campaign_id));
        let mut wanted = Vec::new();
        for t in store::topics::list(&st.db).await? {
            let want = form.contains_key(&format!("topic_{}", t.id));
            let status = subs
                .iter()
                .find(|s| s.topic_id == t.id)
                .map(|s| s.status.as_str());
            let target = match (want, status) {
                (true, Some("confirmed")) => None,
                (true, _) => Some(ConsentStatus::Confirmed),
                (false, Some("confirmed") | Some("pending")) => Some(ConsentStatus::Unsubscribed),
                (false, _) => None,
            };
            if let Some(target) = target {
                wanted.push((t.id, target));
            }
        }
        // All topics at once: the page's choice lands whole or not at all.
        activation::set_consents(
            &st.db,
            c.id,
            &wanted,
            &Cause::Link {
                link: Link::Preferences,
                evidence: "preferences page (signed link)".into(),
                campaign_id: campaign,
            },
        )
        .await?;
        if let Some(l) = new_lang.filter(|l| c.language.as_deref() != Some(l.as_str())) {
            activation::set_language(
                &st.db,
                c.id,
                &l,
                &Cause::Link {
                    link: Link::Preferences,
                    evidence: "preferences page (signed link)".into(),
                    campaign_id: None,
                },
            )
            .await?;
        }
        Ok::<_, Fail>(())
    }
    .await;
    match r {
        Ok(()) => match preferences_ctx(&st, &token).await {
            Ok(ctx) => {
                let lang = contact_lang(&parts.uri, &parts.headers, &ctx);
                render_preferences(&st, lang, &parts.uri, ctx, Some("saved"))
            }
            Err(f) => fail_page(&st, lang, f),
        },
        Err(f) => fail_page(&st, lang, f),
    }
}

async fn forget(State(st): State<Shared>, Path(token): Path<String>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let lang = lang_of(&parts.uri, &parts.headers);
    let form = match super::check_post(&st, lang, &parts.headers, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let r = async {
        let claims = verify(&st, &token, Purpose::Preferences)?;
        let c = contact_of(&st, &claims).await?;
        if form.get("confirm").map(|s| s.as_str()) != Some("yes") {
            return Err(Fail::Status(
                StatusCode::BAD_REQUEST,
                "forget_unconfirmed_title",
                "forget_unconfirmed_text",
            ));
        }
        store::contacts::forget(&st.db, &c.email).await?;
        Ok::<_, Fail>(())
    }
    .await;
    match r {
        Ok(()) => st
            .pages
            .message(lang, StatusCode::OK, "forgotten_title", "forgotten_text"),
        Err(f) => fail_page(&st, lang, f),
    }
}

// ----- RSVP -----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Yes,
    No,
    Cooperation,
}

impl Answer {
    fn parse(s: &str) -> Option<Answer> {
        match s {
            "yes" => Some(Answer::Yes),
            "no" => Some(Answer::No),
            "cooperation" => Some(Answer::Cooperation),
            _ => None,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Answer::Yes => "yes",
            Answer::No => "no",
            Answer::Cooperation => "cooperation",
        }
    }
}

struct RsvpTarget {
    claims: Claims,
    contact: Contact,
    campaign: Campaign,
    answer: Answer,
    occasion: Option<store::occasions::Occasion>,
}

async fn rsvp_target(st: &Shared, token: &str, answer: &str) -> Result<RsvpTarget, Fail> {
    let answer = Answer::parse(answer).ok_or(Fail::Status(
        StatusCode::NOT_FOUND,
        "not_found_title",
        "not_found_text",
    ))?;
    // The signature first; the expiry below, once the occasion is known.
    let claims = st
        .composer
        .key
        .verify_any_age(token, Purpose::Rsvp)
        .map_err(Fail::Token)?;
    let campaign = match store::campaigns::by_id(&st.db, CampaignId::from(claims.campaign_id)).await
    {
        Ok(c) => c,
        Err(StoreError::NotFound(_)) => {
            return Err(Fail::Status(StatusCode::GONE, "gone_title", "gone_text"))
        }
        Err(e) => return Err(e.into()),
    };
    let occasion = match campaign.occasion_id {
        Some(id) => Some(store::occasions::by_id(&st.db, id).await?),
        None => None,
    };
    let deadline = match (&occasion, answer) {
        (Some(o), Answer::Yes | Answer::No) => Some(rsvp_deadline(o)),
        _ => claims.expires_at,
    };
    if let Some(at) = deadline {
        if chrono::Utc::now().timestamp() >= at {
            return Err(Fail::Token(TokenError::Expired { expired_at: at }));
        }
    }
    let contact = contact_of(st, &claims).await?;
    if answer != Answer::Cooperation && occasion.is_none() {
        return Err(Fail::Status(
            StatusCode::BAD_REQUEST,
            "invalid_title",
            "no_occasion_text",
        ));
    }
    Ok(RsvpTarget {
        claims,
        contact,
        campaign,
        answer,
        occasion,
    })
}

/// Unix time at which yes/no links of an invitation to `o` stop working.
fn rsvp_deadline(o: &store::occasions::Occasion) -> i64 {
    (activation::occasion_end(o) + chrono::Duration::days(RSVP_GRACE_DAYS)).timestamp()
}

async fn rsvp_page(
    State(st): State<Shared>,
    Path((token, answer)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of(&uri, &headers);
    match rsvp_target(&st, &token, &answer).await {
        Ok(t) => {
            let lang = Lang::for_contact(uri.query(), &headers, t.contact.language.as_deref());
            let what = t
                .occasion
                .as_ref()
                .map(|o| o.title.clone())
                .unwrap_or_default();
            let key = format!("rsvp_{}_text", t.answer.as_str());
            action_page(
                &st,
                lang,
                &uri,
                "rsvp_title",
                st.pages.text(lang, &key).replace("{occasion}", &what),
                &format!("rsvp_{}_button", t.answer.as_str()),
                json!({}),
            )
        }
        Err(f) => fail_page(&st, lang, f),
    }
}

async fn rsvp(
    State(st): State<Shared>,
    Path((token, answer)): Path<(String, String)>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let lang = lang_of(&parts.uri, &parts.headers);
    if let Err(r) = super::check_post(&st, lang, &parts.headers, body).await {
        return r;
    }
    let r = async {
        let t = rsvp_target(&st, &token, &answer).await?;
        let cause = Cause::Link {
            link: Link::Rsvp,
            evidence: format!("rsvp:{}:{}", t.claims.campaign_id, t.answer.as_str()),
            campaign_id: Some(t.campaign.id),
        };
        match t.answer {
            Answer::Yes | Answer::No => {
                let o = t.occasion.as_ref().expect("checked in rsvp_target");
                activation::answer_invitation(
                    &st.db,
                    t.contact.id,
                    o,
                    t.answer == Answer::Yes,
                    None,
                    None,
                    &cause,
                )
                .await?;
            }
            Answer::Cooperation => {
                activation::express_cooperation(
                    &st.db,
                    t.contact.id,
                    t.campaign.topic_id,
                    None,
                    &cause,
                )
                .await?;
            }
        }
        if t.answer == Answer::Yes && st.cfg.inbound.send_acknowledgements {
            if let Err(e) = send_ack(&st, &t).await {
                tracing::warn!(
                    contact = t.contact.id.get(),
                    "RSVP acknowledgement not sent: {e:#}"
                );
            }
        }
        Ok::<_, Fail>(t)
    }
    .await;
    match r {
        Ok(t) => {
            let lang = Lang::for_contact(
                parts.uri.query(),
                &parts.headers,
                t.contact.language.as_deref(),
            );
            let what = t.occasion.map(|o| o.title).unwrap_or_default();
            st.pages.render(
                "web/message.html.j2",
                lang,
                StatusCode::OK,
                json!({
                    "title": st.pages.text(lang, "rsvp_done_title"),
                    "text": st.pages
                        .text(lang, &format!("rsvp_{}_done", t.answer.as_str()))
                        .replace("{occasion}", &what),
                }),
            )
        }
        Err(f) => fail_page(&st, lang, f),
    }
}

async fn send_ack(st: &Shared, t: &RsvpTarget) -> anyhow::Result<()> {
    let Some(notifier) = &st.notifier else {
        return Ok(());
    };
    let ctx = CampaignCtx::load(&st.db, t.campaign.clone()).await?;
    let message_id = format!(
        "<np.ack.link.{}.{}.{}@{}>",
        t.campaign.id,
        t.contact.id,
        chrono::Utc::now().timestamp_millis(),
        sender_domain(&st.cfg)
    );
    notifier
        .send(
            MailKind::RsvpAck,
            &ctx,
            &recipient(&t.contact, None),
            json!({"rsvp": {"answer": "yes"}}),
            &message_id,
        )
        .await
}
