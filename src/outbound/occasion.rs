//! Sends an occasion's change or cancellation to the contacts the activation service named
//! (`activation::change_occasion`, `cancel_occasion`): one mail each with the calendar update,
//! in the frame of the first invitation that reached them.

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
