//! The RSVP page of a date poll (`/r/TOKEN/poll`, from the poll's invitation): each candidate
//! date with "suits me" / "does not suit me", the person's earlier answers chosen; the POST
//! saves them through `activation::answer_poll`.

use super::*;
use crate::store::occasions::Occasion;

struct PollTarget {
    claims: Claims,
    contact: Contact,
    occasion: Occasion,
}

async fn poll_target(st: &Shared, token: &str) -> Result<PollTarget, Fail> {
    // The token's own expiry (the sender signs RSVP links for months): the poll has no date yet
    // to measure a deadline from.
    let claims = st
        .composer
        .key
        .verify(token, Purpose::Rsvp, chrono::Utc::now().timestamp())
        .map_err(Fail::Token)?;
    let campaign = campaign_of(st, &claims).await?;
    let Some(id) = campaign.occasion_id else {
        return Err(Fail::Status(
            StatusCode::BAD_REQUEST,
            "invalid_title",
            "no_occasion_text",
        ));
    };
    let occasion = store::occasions::by_id(&st.db, id).await?;
    if occasion.poll_dates == 0 {
        return Err(Fail::Status(
            StatusCode::NOT_FOUND,
            "not_found_title",
            "not_found_text",
        ));
    }
    let contact = contact_of(st, &claims).await?;
    Ok(PollTarget {
        claims,
        contact,
        occasion,
    })
}

fn contact_language(t: &PollTarget) -> Option<&str> {
    t.contact.language.as_deref()
}

/// The page: the dates with the person's answers, or that the date is fixed already.
pub(super) async fn page(
    State(st): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let target = poll_target(&st, &token);
    let (t, lang) = match open_link(&st, &uri, &headers, target, contact_language).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !t.occasion.poll_open() {
        return closed(&st, lang, &t.occasion);
    }
    let r = async {
        let dates = store::polls::dates(&st.db, t.occasion.id).await?;
        let mut tx = st.db.begin().await?;
        let answers = store::polls::answers_of(&mut tx, t.occasion.id, t.contact.id).await?;
        Ok::<_, StoreError>((dates, answers))
    }
    .await;
    let (dates, answers) = match r {
        Ok(x) => x,
        Err(e) => return fail_page(&st, lang, e.into()),
    };
    let tz = st.cfg.tz().unwrap_or(chrono_tz::Europe::Berlin);
    let dates: Vec<serde_json::Value> = dates
        .iter()
        .map(|d| {
            json!({
                "n": d.position,
                "when": crate::outbound::render::timespan(d.starts_at, d.ends_at, tz, lang.as_str()),
                "answer": answers.iter().find(|(n, _)| *n == d.position).map(|(_, c)| *c),
            })
        })
        .collect();
    st.pages.render(
        "web/poll.html.j2",
        lang,
        StatusCode::OK,
        json!({
            "title": st.pages.text(lang, "poll_page_title"),
            "occasion": {"title": t.occasion.title, "place": t.occasion.place},
            "dates": dates,
            "action": format!("{}{}", uri.path(), lang.query(uri.query())),
        }),
    )
}

fn closed(st: &Shared, lang: Lang, o: &Occasion) -> Response {
    st.pages.render(
        "web/message.html.j2",
        lang,
        StatusCode::CONFLICT,
        json!({
            "title": o.title,
            "text": st.pages.text(lang, "poll_closed"),
        }),
    )
}

/// Saves the answers the form names (`d1` .. `d5`: `yes` or `no`); dates it leaves out keep
/// their earlier answer.
pub(super) async fn answer(
    State(st): State<Shared>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    let (parts, _, form) = match read_form(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let target = poll_target(&st, &token);
    let (t, lang) = match open_link(&st, &parts.uri, &parts.headers, target, contact_language).await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !t.occasion.poll_open() {
        return closed(&st, lang, &t.occasion);
    }
    let answers: Vec<(i64, bool)> = (1..=t.occasion.poll_dates)
        .filter_map(|n| match form.get(&format!("d{n}")).map(String::as_str) {
            Some("yes") => Some((n, true)),
            Some("no") => Some((n, false)),
            _ => None,
        })
        .collect();
    let cause = Cause::Link {
        link: Link::Rsvp,
        evidence: format!("rsvp:{}:poll", t.claims.campaign_id),
        campaign_id: Some(CampaignId::from(t.claims.campaign_id)),
    };
    match activation::answer_poll(&st.db, t.contact.id, &t.occasion, &answers, &cause).await {
        Ok(_) => st.pages.render(
            "web/message.html.j2",
            lang,
            StatusCode::OK,
            json!({
                "title": t.occasion.title,
                "text": st.pages.text(lang, "poll_saved"),
            }),
        ),
        Err(ActivationError::Conflict(_)) => closed(&st, lang, &t.occasion),
        Err(e) => fail_page(&st, lang, e.into()),
    }
}
