//! Sends an occasion's change or cancellation to the contacts the activation service named
//! (`activation::change_occasion`, `cancel_occasion`): one mail each with the calendar update,
//! in the frame of the first invitation that reached them.

use crate::domain::ContactId;
use crate::outbound::render::MailKind;
use crate::outbound::sender::{CampaignCtx, Notifier, Recipient};
use crate::store::occasions::{Invitee, Occasion};
use crate::store::{self, Db};
use std::collections::HashMap;

/// What sending the notices did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct NoticesSent {
    pub sent: usize,
    /// Addresses that could not be sent to, with the reason.
    pub failed: Vec<(String, String)>,
}

/// Sends occasion `o`'s notice to each of `to`; `changed` names the fields that changed (empty
/// for a cancellation). A failure for one contact is reported and the others still get theirs.
pub async fn send_notices(
    db: &Db,
    notifier: &Notifier,
    o: &Occasion,
    changed: &[&str],
    to: &[Invitee],
) -> anyhow::Result<NoticesSent> {
    let mut frames: HashMap<crate::domain::CampaignId, CampaignCtx> = HashMap::new();
    let mut out = NoticesSent::default();
    for i in to {
        let frame = match frames.entry(i.campaign_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let campaign = store::campaigns::by_id(db, i.campaign_id).await?;
                e.insert(CampaignCtx::load(db, campaign).await?)
            }
        };
        let frame = &*frame;
        let contact = store::contacts::by_id(db, i.contact_id).await?;
        let r = Recipient::of_contact(&contact);
        let result = async {
            let (env, bytes) = notifier.composer.occasion_notice(frame, o, &r, changed)?;
            notifier.send_raw(&env, &bytes).await
        }
        .await;
        match result {
            Ok(()) => out.sent += 1,
            Err(e) => {
                tracing::warn!(
                    contact = i.contact_id.get(),
                    "occasion notice not sent: {e:#}"
                );
                out.failed.push((contact.email.clone(), format!("{e:#}")));
            }
        }
    }
    Ok(out)
}

/// Tells each contact in `moved` that a place at occasion `o` came free for them: the
/// acknowledgement mail ("moved_up") with the calendar invitation, in the frame of the first
/// invitation that reached them. A failure for one is logged; the others still get theirs.
pub async fn send_moved_up(db: &Db, notifier: &Notifier, o: &Occasion, moved: &[ContactId]) {
    for &contact_id in moved {
        let result = async {
            let Some(campaign) = store::occasions::first_invitation(db, o.id, contact_id).await?
            else {
                anyhow::bail!("no invitation to this occasion reached them");
            };
            let frame = CampaignCtx::load(db, store::campaigns::by_id(db, campaign).await?).await?;
            let contact = store::contacts::by_id(db, contact_id).await?;
            let r = Recipient::of_contact(&contact);
            let message_id = notifier.composer.key.local_message_id(
                &format!(
                    "moved-up.{}.{}.{}",
                    o.id,
                    contact_id,
                    chrono::Utc::now().timestamp_millis()
                ),
                &crate::outbound::sender::sender_domain(&notifier.composer.cfg),
            );
            let (env, bytes) = notifier.composer.build(
                &frame,
                &r,
                MailKind::RsvpAck,
                "",
                "",
                serde_json::json!({"rsvp": {"answer": "moved_up"}}),
                &message_id,
                true,
                false,
            )?;
            notifier.send_raw(&env, &bytes).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(
                contact = contact_id.get(),
                "place from the waiting list not told: {e:#}"
            );
        }
    }
}

/// Tells the invited that occasion `p.occasion`'s date was picked: those it suits get the
/// calendar invitation with the links to say yes or no, the others a short note with the link
/// to come after all; each in the frame of the first invitation that reached them (its reply
/// address is the ORGANIZER their calendar keeps). A failure for one is reported and the others
/// still get theirs.
pub async fn send_poll_picked(
    db: &Db,
    notifier: &Notifier,
    p: &crate::activation::Picked,
) -> anyhow::Result<NoticesSent> {
    let o = &p.occasion;
    let answered: Vec<ContactId> = store::polls::respondent_ids(db, o.id).await?;
    let mut frames: HashMap<crate::domain::CampaignId, CampaignCtx> = HashMap::new();
    let mut out = NoticesSent::default();
    for (i, can) in p
        .can
        .iter()
        .map(|i| (i, true))
        .chain(p.others.iter().map(|i| (i, false)))
    {
        let frame = match frames.entry(i.campaign_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let campaign = store::campaigns::by_id(db, i.campaign_id).await?;
                e.insert(CampaignCtx::load(db, campaign).await?)
            }
        };
        let frame = &*frame;
        let contact = store::contacts::by_id(db, i.contact_id).await?;
        let r = Recipient::of_contact(&contact);
        let result = async {
            let message_id = notifier.composer.key.local_message_id(
                &format!("poll.{}.{}", o.id, i.contact_id),
                &crate::outbound::sender::sender_domain(&notifier.composer.cfg),
            );
            let (env, bytes) = notifier.composer.build(
                frame,
                &r,
                MailKind::PollPicked,
                "",
                "",
                serde_json::json!({"poll": {
                    "can": can, "answered": answered.contains(&i.contact_id),
                }}),
                &message_id,
                can,
                true,
            )?;
            notifier.send_raw(&env, &bytes).await
        }
        .await;
        match result {
            Ok(()) => out.sent += 1,
            Err(e) => {
                tracing::warn!(contact = i.contact_id.get(), "picked date not told: {e:#}");
                out.failed.push((contact.email.clone(), format!("{e:#}")));
            }
        }
    }
    Ok(out)
}
