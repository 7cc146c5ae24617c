//! The preferences link: the person's topics and language, and forgetting them altogether.

use super::*;

pub(super) async fn preferences_page(
    State(st): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let ctx = preferences_ctx(&st, &token);
    match open_link(&st, &uri, &headers, ctx, ctx_language).await {
        Ok((ctx, lang)) => render_preferences(&st, lang, &uri, ctx, None),
        Err(r) => r,
    }
}

/// The contact's language in a preferences page's context.
fn ctx_language(ctx: &serde_json::Value) -> Option<&str> {
    ctx["contact"]["language"].as_str()
}

async fn preferences_ctx(st: &Shared, token: &str) -> Result<serde_json::Value, Fail> {
    let (_, c) = signed_contact(st, token, Purpose::Preferences).await?;
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
    ctx["data_link"] = format!("{base}/data{q}").into();
    ctx["saved"] = saved.map(|s| st.pages.text(lang, s)).into();
    ctx["languages"] = language_choices(st);
    st.pages
        .render("web/preferences.html.j2", lang, StatusCode::OK, ctx)
}

pub(super) async fn preferences(
    State(st): State<Shared>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    let (parts, lang, form) = match read_form(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = async {
        let (claims, c) = signed_contact(&st, &token, Purpose::Preferences).await?;
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
    if let Err(f) = r {
        return fail_page(&st, lang, f);
    }
    let ctx = preferences_ctx(&st, &token);
    match open_link(&st, &parts.uri, &parts.headers, ctx, ctx_language).await {
        Ok((ctx, lang)) => render_preferences(&st, lang, &parts.uri, ctx, Some("saved")),
        Err(r) => r,
    }
}

pub(super) async fn forget(
    State(st): State<Shared>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    let (_, lang, form) = match read_form(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = async {
        let (_, c) = signed_contact(&st, &token, Purpose::Preferences).await?;
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

// ----- my data (GDPR Art. 15 and 20) -----

/// The person's own data behind the signed preferences link `token`, in their language (or the
/// one the page asks for), with that language.
async fn personal_data(
    st: &Shared,
    token: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(Lang, crate::privacy::PersonalData), Fail> {
    let (_, c) = signed_contact(st, token, Purpose::Preferences).await?;
    let lang = Lang::for_contact(uri.query(), headers, c.language.as_deref());
    Ok((
        lang,
        crate::privacy::personal_data(&st.db, c.id, lang).await?,
    ))
}

/// "Meine Daten": everything kept about the person, as a readable page. A GET, and it changes
/// nothing; the signed preferences link is the key.
pub(super) async fn my_data_page(
    State(st): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of(&uri, &headers);
    match personal_data(&st, &token, &uri, &headers).await {
        Ok((lang, data)) => {
            let q = lang.query(uri.query());
            let base = uri.path().trim_end_matches("/data");
            st.pages.render(
                "web/mydata.html.j2",
                lang,
                StatusCode::OK,
                json!({
                    "data": data,
                    "json_link": format!("{base}/data.json{q}"),
                    "back": format!("{base}{q}"),
                }),
            )
        }
        Err(f) => fail_page(&st, lang, f),
    }
}

/// The same data as JSON (Art. 20: in a machine-readable form), as a download.
pub(super) async fn my_data_json(
    State(st): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of(&uri, &headers);
    match personal_data(&st, &token, &uri, &headers).await {
        Ok((_, data)) => axum::response::IntoResponse::into_response((
            [
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    "attachment; filename=\"meine-daten.json\"",
                ),
                (axum::http::header::CACHE_CONTROL, "no-store"),
            ],
            axum::Json(data),
        )),
        Err(f) => fail_page(&st, lang, f),
    }
}
