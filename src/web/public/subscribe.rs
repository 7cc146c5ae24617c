//! The double opt-in: the index of topics, the subscribe form (its sign-up decided by
//! `activation::sign_up`) with the confirmation mail, and the confirmation link.

use super::*;

pub async fn index(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let lang = lang_of(&uri, &headers);
    match store::topics::list(&st.db).await {
        Ok(mut topics) => {
            // An archived topic takes no new sign-ups.
            topics.retain(|t| t.archived_at.is_none());
            st.pages.render(
            "web/index.html.j2",
            lang,
            StatusCode::OK,
            json!({"topics": topics, "org": st.cfg.organisation.name, "q": lang.query(uri.query())}),
            )
        }
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
        // An archived topic takes no new sign-ups: as if it were not there.
        Some(t) if t.archived_at.is_none() => Ok(t),
        _ => Err(Fail::Status(
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
            "notice_url": st.cfg.privacy.notice_url,
        }),
    )
}

pub(super) async fn subscribe_form(
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

pub(super) async fn subscribe(
    State(st): State<Shared>,
    Path(slug): Path<String>,
    req: Request,
) -> Response {
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
    let form = match crate::web::check_post(&st, lang, &parts.headers, body).await {
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
    // What the page said about consent, in the language it was shown in: kept with the consent.
    let consent_text = format!(
        "{} {}",
        st.pages.text(lang, "subscribe_text"),
        st.pages.text(lang, "subscribe_privacy")
    );
    let consented = activation::Consented {
        text: Some(&consent_text),
        notice_version: st.cfg.privacy.notice_version.as_deref(),
    };
    match start_opt_in(&st, &topic, &addr, name, &language, &evidence, consented).await {
        Ok(()) => {}
        Err(e) => return fail_page(&st, lang, e),
    }
    // The same answer whether or not the address was known: the form reveals nobody's data.
    st.pages
        .message(lang, StatusCode::OK, "check_mail_title", "check_mail_text")
}

/// Signs the address up (`activation::sign_up` decides what is recorded: never a withdrawn
/// consent renewed) and sends the confirmation mail when one is due.
async fn start_opt_in(
    st: &Shared,
    topic: &Topic,
    addr: &EmailAddress,
    name: &str,
    language: &str,
    evidence: &str,
    consented: activation::Consented<'_>,
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
            consented,
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

async fn send_confirmation(
    st: &Shared,
    topic: &Topic,
    c: &Contact,
    language: &str,
) -> anyhow::Result<()> {
    let Some(notifier) = &st.notifier else {
        anyhow::bail!("no mail transport in this process: cannot send the confirmation");
    };
    let req = crate::outbound::request::ConsentRequest {
        kind: MailKind::Confirm,
        topic,
        contact: c,
        language: Some(language),
        valid_days: CONFIRM_DAYS,
        extra: serde_json::Value::Null,
    };
    crate::outbound::request::send(notifier, &req).await
}

// ----- confirm -----

pub(super) async fn confirm_page(
    State(st): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of(&uri, &headers);
    let r = async {
        let (claims, c) = signed_contact(&st, &token, Purpose::Confirm).await?;
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
                None,
            )
        }
        Err(f) => fail_page(&st, lang, f),
    }
}

pub(super) async fn confirm(
    State(st): State<Shared>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    let (parts, lang, _) = match read_form(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ip = st.client_ip(
        parts.extensions.get::<ConnectInfo<SocketAddr>>(),
        &parts.headers,
    );
    let r = async {
        let (claims, c) = signed_contact(&st, &token, Purpose::Confirm).await?;
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
            true,
            &Cause::Link {
                link: Link::Confirm,
                evidence,
                campaign_id: None,
            },
            &activation::Consented {
                text: None,
                notice_version: st.cfg.privacy.notice_version.as_deref(),
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
