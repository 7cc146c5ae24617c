//! Answering a reply from the review queue: a person's own words, sent from the organisation
//! in the thread of the reply (`In-Reply-To`, `References`), with the contact's reply address
//! as `Reply-To` so their answer comes back and is attributed; recorded on the timeline.

use super::Inbound;
use crate::outbound::sender::{sender_domain, CampaignCtx, Personal};
use crate::store::activities::{ActivityKind, NewActivity};
use crate::store::{self, now};
use serde_json::json;

/// Why an answer cannot be sent, for the caller to say in its own words.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("the answer is empty")]
    Empty,
    #[error("the reply comes from no known contact: answer it from your mail program")]
    NoContact,
    #[error("this process sends no mail (no transport)")]
    NoTransport,
}

/// Sends `text` to the contact whose reply decision `id` is about. The decision itself stays
/// as it is (the caller decides it too, if asked).
pub async fn review_answer(inb: &Inbound, id: i64, text: &str, by: &str) -> anyhow::Result<()> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AnswerError::Empty.into());
    }
    let d = store::decisions::get(&inb.db, id).await?;
    let contact_id = d.contact_id.ok_or(AnswerError::NoContact)?;
    let notifier = inb.notifier.as_ref().ok_or(AnswerError::NoTransport)?;
    let c = store::contacts::by_id(&inb.db, contact_id).await?;
    let raw = store::inbound::raw(&inb.db, d.inbound_id).await?;
    let a = crate::classify::analyze(&raw, &inb.rules)?;
    // In the frame of the campaign the reply answered, the contact's reply token; without one,
    // the organisation's own address (the answer then is read there, not attributed).
    let reply_to = match d.campaign_id {
        Some(k) => {
            let ctx =
                CampaignCtx::load(&inb.db, store::campaigns::by_id(&inb.db, k).await?).await?;
            notifier.composer.reply_address(&ctx, contact_id)
        }
        None => inb.cfg.organisation.sender.clone(),
    };
    let message_id = notifier.composer.key.local_message_id(
        &format!("answer.{id}.{}", chrono::Utc::now().timestamp_micros()),
        &sender_domain(&inb.cfg),
    );
    notifier
        .send_personal(&Personal {
            to_name: c.name.clone(),
            to_addr: c.email.clone(),
            subject: a.subject.clone(),
            text,
            in_reply_to: a.message_id.clone(),
            references: a.references.clone(),
            reply_to,
            message_id,
        })
        .await?;
    let snippet: String = text.chars().take(300).collect();
    let mut tx = inb.db.begin().await?;
    store::activities::record(
        &mut tx,
        &NewActivity {
            contact_id,
            at: now(),
            kind: ActivityKind::Answer,
            detail: json!({"inbound_id": d.inbound_id, "decision_id": id, "snippet": snippet, "by": by}),
            campaign_id: d.campaign_id,
            inbound_id: Some(d.inbound_id),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(decision = id, contact = contact_id.get(), %by, "reply answered from the review queue");
    Ok(())
}
