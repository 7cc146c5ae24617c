//! RSVP links of an invitation or a call for cooperation: a page that asks, a POST that answers
//! (through `activation::answer_invitation`), and the acknowledgement mail.

use super::*;

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
    let campaign = campaign_of(st, &claims).await?;
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

pub(super) async fn rsvp_page(
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
                t.occasion.as_ref(),
            )
        }
        Err(f) => fail_page(&st, lang, f),
    }
}

pub(super) async fn rsvp(
    State(st): State<Shared>,
    Path((token, answer)): Path<(String, String)>,
    req: Request,
) -> Response {
    let (parts, lang, _) = match read_form(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = async {
        let t = rsvp_target(&st, &token, &answer).await?;
        let cause = Cause::Link {
            link: Link::Rsvp,
            evidence: format!("rsvp:{}:{}", t.claims.campaign_id, t.answer.as_str()),
            campaign_id: Some(t.campaign.id),
        };
        let mut seat = activation::Seat::NotComing;
        match t.answer {
            Answer::Yes | Answer::No => {
                let o = t.occasion.as_ref().expect("checked in rsvp_target");
                let answered = activation::answer_invitation(
                    &st.db,
                    t.contact.id,
                    o,
                    t.answer == Answer::Yes,
                    None,
                    None,
                    &cause,
                )
                .await?;
                seat = answered.seat;
                if let Some(n) = &st.notifier {
                    crate::outbound::occasion::send_moved_up(&st.db, n, o, &answered.moved_up)
                        .await;
                }
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
                // The organiser hears of it as of a reply by mail that says so.
                if let Err(e) = send_cooperation_notice(&st, &t).await {
                    tracing::warn!(
                        contact = t.contact.id.get(),
                        "organiser not notified of cooperation interest: {e:#}"
                    );
                }
            }
        }
        if t.answer == Answer::Yes && st.cfg.inbound.send_acknowledgements {
            if let Err(e) = send_ack(&st, &t, seat).await {
                tracing::warn!(
                    contact = t.contact.id.get(),
                    "RSVP acknowledgement not sent: {e:#}"
                );
            }
        }
        Ok::<_, Fail>((t, seat))
    }
    .await;
    match r {
        Ok((t, seat)) => {
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
                    "text": match seat {
                        activation::Seat::Waiting { position } => st
                            .pages
                            .text(lang, "rsvp_waiting_done")
                            .replace("{position}", &position.to_string()),
                        _ => st.pages.text(lang, &format!("rsvp_{}_done", t.answer.as_str())),
                    }
                    .replace("{occasion}", &what),
                }),
            )
        }
        Err(f) => fail_page(&st, lang, f),
    }
}

async fn send_cooperation_notice(st: &Shared, t: &RsvpTarget) -> anyhow::Result<()> {
    let Some(notifier) = &st.notifier else {
        anyhow::bail!("no transport in this process");
    };
    let ctx = CampaignCtx::load(&st.db, t.campaign.clone()).await?;
    let message_id = st.composer.key.local_message_id(
        &format!(
            "coop.link.{}.{}.{}",
            t.campaign.id,
            t.contact.id,
            chrono::Utc::now().timestamp_millis()
        ),
        &sender_domain(&st.cfg),
    );
    let lang = crate::domain::Lang::parse(&st.cfg.default_language)
        .unwrap_or(Lang::De)
        .admin();
    let said = st.pages.text(lang, "cooperation_clicked");
    notifier
        .cooperation_notice(&ctx, &t.contact, &said, &message_id)
        .await
}

async fn send_ack(st: &Shared, t: &RsvpTarget, seat: activation::Seat) -> anyhow::Result<()> {
    let Some(notifier) = &st.notifier else {
        return Ok(());
    };
    let ctx = CampaignCtx::load(&st.db, t.campaign.clone()).await?;
    let message_id = st.composer.key.local_message_id(
        &format!(
            "ack.link.{}.{}.{}",
            t.campaign.id,
            t.contact.id,
            chrono::Utc::now().timestamp_millis()
        ),
        &sender_domain(&st.cfg),
    );
    notifier
        .send(
            MailKind::RsvpAck,
            &ctx,
            &recipient(&t.contact, None),
            json!({"rsvp": crate::inbound::apply::rsvp_ack(seat)}),
            &message_id,
        )
        .await
}
