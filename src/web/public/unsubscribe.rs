//! The unsubscribe link: a page with one button, and RFC 8058 one-click; honoured however old.

use super::*;

pub(super) async fn unsubscribe_page(
    State(st): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of(&uri, &headers);
    let r = async {
        let (claims, c) = signed_contact(&st, &token, Purpose::Unsubscribe).await?;
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
                None,
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
    match crate::web::content_type(headers).as_str() {
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

pub(super) async fn unsubscribe(
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
    let ct = crate::web::content_type(&parts.headers);
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
