//! The mails that ask a person for their consent: the confirmation of a sign-up and the
//! renewal request (re-permission). Both carry a confirm link (`/c/TOKEN`, a page whose button
//! confirms) and the same token in their reply address (`antwort+TOKEN@`), so a reply "Ja"
//! confirms as the button does (`inbound::plan`).

use crate::domain::CampaignId;
use crate::outbound::render::MailKind;
use crate::outbound::sender::{sender_domain, CampaignCtx, Notifier, Recipient};
use crate::store::campaigns::{Campaign, CampaignKind, CampaignStatus};
use crate::store::contacts::Contact;
use crate::store::topics::Topic;
use crate::token::{Claims, Purpose};

/// How long a confirmation request's link and reply address confirm.
pub const CONFIRM_DAYS: i64 = 7;

/// One request for consent on `topic` to `contact`.
pub struct ConsentRequest<'a> {
    /// [`MailKind::Confirm`] or [`MailKind::Renewal`].
    pub kind: MailKind,
    pub topic: &'a Topic,
    pub contact: &'a Contact,
    /// The language to write in (else the contact's).
    pub language: Option<&'a str>,
    /// How long the link and the reply address confirm.
    pub valid_days: i64,
    /// More for the template context (e.g. `renewal.until`).
    pub extra: serde_json::Value,
}

/// A campaign frame for system mails outside any campaign (tokens then carry campaign 0).
pub fn frame(topic: &Topic, kind: MailKind) -> CampaignCtx {
    let at = crate::store::now();
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
            occasion_mail: None,
            next_step: None,
        },
        kind,
        topic: topic.clone(),
        occasion: None,
        translations: Default::default(),
        poll: Vec::new(),
    }
}

/// Sends the request through `notifier`.
pub async fn send(notifier: &Notifier, req: &ConsentRequest<'_>) -> anyhow::Result<()> {
    let composer = &notifier.composer;
    let cfg = &composer.cfg;
    let c = req.contact;
    let token = composer.key.sign(&Claims {
        purpose: Purpose::Confirm,
        campaign_id: 0,
        contact_id: c.id.get(),
        extra: req.topic.id.get(),
        expires_at: Some((chrono::Utc::now() + chrono::Duration::days(req.valid_days)).timestamp()),
    });
    let ctx = frame(req.topic, req.kind);
    let mut r = Recipient::of_contact(c);
    if let Some(l) = req.language {
        r.language = Some(l.to_string());
    }
    // Keep the usual links (the composer needs the unsubscribe one) and add the confirm link.
    let mut links = composer.context(&ctx, &r)["links"].clone();
    let base = cfg.http.public_url.trim_end_matches('/');
    links["confirm"] = format!("{base}/c/{token}").into();
    let message_id = composer.key.local_message_id(
        &format!(
            "{}.{}.{}.{}",
            req.kind,
            c.id,
            req.topic.id,
            chrono::Utc::now().timestamp_millis()
        ),
        &sender_domain(cfg),
    );
    let mut extra = serde_json::json!({ "links": links });
    if let (Some(o), serde_json::Value::Object(more)) = (extra.as_object_mut(), &req.extra) {
        o.extend(more.clone());
    }
    // A reply "Ja" confirms as the button does: the reply address carries the same token.
    notifier
        .send_with_reply_token(req.kind, &ctx, &r, extra, &message_id, &token)
        .await
}
