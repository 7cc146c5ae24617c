//! An occasion's own mails as deliveries: the daemon queues the reminders and follow-ups that
//! are due ([`queue_due`]), a coordinator the thank-you ([`thank`]); the ordinary sender sends
//! them (claim, journal, retries), so each contact gets each at most once, also with several
//! daemons. Who gets which is in `store::occasion_mails`.

use crate::config::Config;
use crate::store::occasion_mails::{self as mails, NextStep, OccasionMail};
use crate::store::occasions::Occasion;
use crate::store::{self, Db, StoreError, Timestamp};
use anyhow::bail;

/// What one round queued.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Queued {
    pub reminders: u64,
    pub follow_ups: u64,
}

/// The days of `o`'s reminder and follow-up: its own, else the configured ones (0 = none).
pub fn days(cfg: &Config, o: &Occasion) -> (i64, i64) {
    (
        o.reminder_days.unwrap_or(cfg.occasions.reminder_days),
        o.follow_up_days.unwrap_or(cfg.occasions.follow_up_days),
    )
}

/// Queues the reminders and follow-ups due at `at` for every occasion still to come and not
/// cancelled. Safe to call from several daemons at once and as often as wanted: a contact
/// already queued is left alone.
pub async fn queue_due(db: &Db, cfg: &Config, at: Timestamp) -> anyhow::Result<Queued> {
    let caps = super::campaign::caps(cfg);
    let mut out = Queued::default();
    for o in mails::upcoming(db, at).await? {
        let (reminder, follow_up) = days(cfg, &o);
        let remind_at = o.starts_at - chrono::Duration::days(reminder);
        let reminder_due = reminder > 0 && at >= remind_at;
        if !reminder_due && follow_up <= 0 {
            continue;
        }
        let Some(topic) = mails::topic_of(db, o.id).await? else {
            continue;
        };
        if reminder_due && mails::anyone_for(db, o.id, OccasionMail::Reminder, remind_at).await? {
            let c = mails::campaign(db, o.id, topic, OccasionMail::Reminder, "", None).await?;
            if is_stopped(&c) {
                continue;
            }
            let n = mails::queue_reminder(db, &c, remind_at).await?;
            if n > 0 {
                mails::reopen(db, c.id).await?;
                tracing::info!(occasion = %o.slug, queued = n, "reminders queued");
            }
            out.reminders += n;
        }
        // No follow-up once the reminders are out: the occasion is too near to ask again.
        let sent_by = at - chrono::Duration::days(follow_up);
        if follow_up > 0
            && !reminder_due
            && mails::anyone_for(db, o.id, OccasionMail::FollowUp, sent_by).await?
        {
            let c = mails::campaign(db, o.id, topic, OccasionMail::FollowUp, "", None).await?;
            if is_stopped(&c) {
                continue;
            }
            let n = mails::queue_follow_up(db, &c, sent_by, caps).await?;
            if n > 0 {
                mails::reopen(db, c.id).await?;
                tracing::info!(occasion = %o.slug, queued = n, "follow-ups queued");
            }
            out.follow_ups += n;
        }
    }
    Ok(out)
}

/// A coordinator paused or cancelled this mail's campaign: it queues nobody more.
fn is_stopped(c: &store::campaigns::Campaign) -> bool {
    use store::campaigns::CampaignStatus;
    matches!(c.status, CampaignStatus::Paused | CampaignStatus::Cancelled)
}

/// Queues the thank-you of occasion `slug` for everyone recorded as having come, with the next
/// step `next` and the coordinator's own `text` (may be empty). Calling it again after more
/// attendance was recorded reaches the newly recorded only; the next step and text are those of
/// the first call. Returns how many were queued.
pub async fn thank(
    db: &Db,
    slug: &str,
    next: NextStep,
    text: &str,
    at: Timestamp,
) -> anyhow::Result<u64> {
    let o = store::occasions::get(db, slug).await?;
    if o.cancelled_at.is_some() {
        return Err(StoreError::Conflict(format!(
            "occasion {slug:?} was cancelled: there is nobody to thank"
        ))
        .into());
    }
    if o.starts_at > at {
        return Err(StoreError::Conflict(format!(
            "occasion {slug:?} has not taken place yet (it starts {}): thank those who came afterwards",
            o.starts_at.to_rfc3339()
        ))
        .into());
    }
    let Some(topic) = mails::topic_of(db, o.id).await? else {
        bail!("occasion {slug:?} has no topic and no invitation: nobody's consent covers a mail about it");
    };
    crate::domain::check_note_field("the thank-you text", text).map_err(anyhow::Error::msg)?;
    let c = mails::campaign(db, o.id, topic, OccasionMail::Thanks, text, Some(next)).await?;
    if is_stopped(&c) {
        bail!(
            "the thank-you of occasion {slug:?} was stopped ({})",
            c.status
        );
    }
    let n = mails::queue_thanks(db, &c).await?;
    if n > 0 {
        mails::reopen(db, c.id).await?;
    }
    Ok(n)
}
