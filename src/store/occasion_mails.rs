//! An occasion's own mails: the reminder before it, the follow-up to those who did not answer
//! the invitation, and the thank-you to those who came.
//!
//! Each is a campaign of the occasion marked with `occasion_mail` (at most one of each per
//! occasion, a unique index), and each recipient a delivery row of it (unique per campaign and
//! contact). Queuing is an `INSERT ... SELECT ... ON CONFLICT DO NOTHING`, so however many
//! daemons queue at once, a contact gets each mail once; the ordinary sender then claims,
//! sends, journals and retries them like any campaign's deliveries.

use super::campaigns::{Campaign, Caps, COLUMNS};
use super::{now, Db, Result, StoreError, Timestamp};
use crate::domain::{OccasionId, TopicId};
use crate::on_db;

crate::domain::text_enum!(
    /// Which of an occasion's own mails.
    pub OccasionMail {
        /// Before the occasion, to everyone who said yes.
        Reminder => "reminder",
        /// Once, to the invited who have not answered.
        FollowUp => "follow_up",
        /// After the occasion, to those who came.
        Thanks => "thanks",
    }
);

crate::domain::text_enum!(
    /// What a thank-you offers next.
    pub NextStep {
        /// An invitation to join a group.
        Group => "group",
        /// A call for cooperation.
        Cooperation => "cooperation",
        /// Just thanks.
        None => "none",
    }
);

/// Consent for the campaign's topic (`$3`) and no suppression, on `c` (contacts).
const MAY_MAIL: &str = "EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = c.id
        AND s.topic_id = $3 AND s.status = 'confirmed')
    AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.address = c.email_key)";

/// The topic whose consent covers mails about occasion `id`: its own, else that of its first
/// invitation.
pub async fn topic_of(db: &Db, id: OccasionId) -> Result<Option<TopicId>> {
    Ok(on_db!(db, p => {
        sqlx::query_scalar(
            "SELECT COALESCE(o.topic_id, (SELECT k.topic_id FROM campaigns k
                 WHERE k.occasion_id = o.id AND k.kind = 'invitation' AND k.occasion_mail IS NULL
                 ORDER BY k.id LIMIT 1))
             FROM occasions o WHERE o.id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?
        .flatten()
    }))
}

/// The campaign of occasion `id`'s `mail`, created (running, with `subject`, `body` and
/// `next_step`) when there is none yet; two callers at once get the same one.
pub async fn campaign(
    db: &Db,
    id: OccasionId,
    topic: TopicId,
    mail: OccasionMail,
    body: &str,
    next_step: Option<NextStep>,
) -> Result<Campaign> {
    let at = now();
    let name = format!("occasion-{id}-{}", mail.as_str().replace('_', "-"));
    on_db!(db, p => {
        sqlx::query(
            "INSERT INTO campaigns (name, kind, topic_id, occasion_id, subject, body, audience,
                status, created_at, updated_at, started_at, translations, occasion_mail, next_step)
             VALUES ($1, 'invitation', $2, $3, '', $4, '{}', 'running', $5, $5, $5, '{}', $6, $7)
             ON CONFLICT DO NOTHING",
        )
        .bind(&name)
        .bind(topic)
        .bind(id)
        .bind(body)
        .bind(at)
        .bind(mail.as_str())
        .bind(next_step.map(|n| n.as_str()))
        .execute(p)
        .await?;
    });
    let sql =
        format!("SELECT {COLUMNS} FROM campaigns WHERE occasion_id = $1 AND occasion_mail = $2");
    let c = on_db!(db, p => {
        sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .bind(mail.as_str())
            .fetch_optional(p)
            .await?
    });
    c.ok_or_else(|| {
        StoreError::Conflict(format!(
            "campaign {name:?} exists already and is not this occasion's {mail}"
        ))
    })
}

/// The campaign of occasion `id`'s `mail`, if it was made.
pub async fn existing(db: &Db, id: OccasionId, mail: OccasionMail) -> Result<Option<Campaign>> {
    let sql =
        format!("SELECT {COLUMNS} FROM campaigns WHERE occasion_id = $1 AND occasion_mail = $2");
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .bind(mail.as_str())
            .fetch_optional(p)
            .await?
    }))
}

/// Occasions not cancelled that start after `at`, for the reminders and follow-ups to look at;
/// not those whose date poll is open (their start is only the first candidate's).
pub async fn upcoming(db: &Db, at: Timestamp) -> Result<Vec<super::occasions::Occasion>> {
    let sql = format!(
        "SELECT {} FROM occasions WHERE starts_at > $1 AND cancelled_at IS NULL AND NOT {}
         ORDER BY starts_at, id",
        super::occasions::COLUMNS,
        super::occasions::POLL_OPEN
    );
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, super::occasions::Occasion>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(at)
            .fetch_all(p)
            .await?
    }))
}

/// Sets occasion `id`'s reminder and follow-up days (`None` leaves one as it is).
pub async fn set_days(
    db: &Db,
    id: OccasionId,
    reminder_days: Option<i64>,
    follow_up_days: Option<i64>,
) -> Result<()> {
    for d in [reminder_days, follow_up_days].into_iter().flatten() {
        if d < 0 {
            return Err(StoreError::Invalid(format!(
                "{d} days: the days must be 0 (no such mail) or more"
            )));
        }
    }
    on_db!(db, p => {
        sqlx::query(
            "UPDATE occasions SET reminder_days = COALESCE($1, reminder_days),
                follow_up_days = COALESCE($2, follow_up_days) WHERE id = $3",
        )
        .bind(reminder_days)
        .bind(follow_up_days)
        .bind(id)
        .execute(p)
        .await?;
    });
    Ok(())
}

/// Queues the reminder campaign `c` of occasion `c.occasion_id` for everyone whose yes to it
/// stands (`confirmed`, also those moved up from the waiting list) and was given by `said_by`
/// (a later yes has just had its acknowledgement), with consent for the topic and not
/// suppressed. Returns the rows added.
pub async fn queue_reminder(db: &Db, c: &Campaign, said_by: Timestamp) -> Result<u64> {
    let sql = format!(
        "INSERT INTO deliveries (campaign_id, contact_id, status, attempts, next_attempt_at, message_id, created_at)
         SELECT $1, c.id, 'queued', 0, $2, NULL, $2
         FROM contacts c
         WHERE EXISTS (SELECT 1 FROM relations r WHERE r.contact_id = c.id AND r.form = 'encounter'
                 AND r.occasion_id = $4 AND r.status = 'confirmed' AND r.updated_at <= $5)
           AND {MAY_MAIL}
         ON CONFLICT (campaign_id, contact_id) DO NOTHING"
    );
    let at = now();
    Ok(on_db!(db, p => {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(c.id)
            .bind(at)
            .bind(c.topic_id)
            .bind(c.occasion_id)
            .bind(said_by)
            .execute(p)
            .await?
            .rows_affected()
    }))
}

/// Queues the follow-up campaign `c` for each contact an invitation to its occasion reached at
/// or before `sent_by` who has not answered (no answer to the occasion, no reply since), with
/// consent and not suppressed, within the frequency caps: fewer than
/// `caps.max_messages_per_30_days` mails sent in the last 30 days, no invitation or call to
/// anything else within `caps.invitation_every_days`, and no wish to be asked later on the
/// topic. Returns the rows added.
pub async fn queue_follow_up(db: &Db, c: &Campaign, sent_by: Timestamp, caps: Caps) -> Result<u64> {
    let sql = format!(
        "INSERT INTO deliveries (campaign_id, contact_id, status, attempts, next_attempt_at, message_id, created_at)
         SELECT $1, c.id, 'queued', 0, $2, NULL, $2
         FROM contacts c
         WHERE EXISTS (SELECT 1 FROM deliveries d JOIN campaigns k ON k.id = d.campaign_id
                 WHERE d.contact_id = c.id AND k.occasion_id = $4 AND k.kind = 'invitation'
                   AND k.occasion_mail IS NULL AND d.status = 'sent' AND d.sent_at <= $5
                   AND (c.last_reply_at IS NULL OR c.last_reply_at < d.sent_at))
           AND NOT EXISTS (SELECT 1 FROM relations r WHERE r.contact_id = c.id AND r.occasion_id = $4)
           AND {MAY_MAIL}
           AND (SELECT COUNT(*) FROM deliveries d2 WHERE d2.contact_id = c.id AND d2.status = 'sent'
                 AND d2.sent_at > $6) < $7
           AND NOT EXISTS (SELECT 1 FROM deliveries d3 JOIN campaigns k3 ON k3.id = d3.campaign_id
                 WHERE d3.contact_id = c.id AND k3.kind IN ('invitation', 'cooperation')
                   AND (k3.occasion_id IS NULL OR k3.occasion_id <> $4)
                   AND (k3.occasion_mail IS NULL OR k3.occasion_mail = 'follow_up')
                   AND d3.status IN ('sent', 'queued', 'sending') AND d3.created_at > $8)
           AND {deferred}
         ON CONFLICT (campaign_id, contact_id) DO NOTHING",
        deferred = super::wishes::deferred_condition("$3", "$2"),
    );
    let at = now();
    Ok(on_db!(db, p => {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(c.id)
            .bind(at)
            .bind(c.topic_id)
            .bind(c.occasion_id)
            .bind(sent_by)
            .bind(at - chrono::Duration::days(30))
            .bind(caps.max_messages_per_30_days)
            .bind(at - chrono::Duration::days(caps.invitation_every_days))
            .execute(p)
            .await?
            .rows_affected()
    }))
}

/// Queues the thank-you campaign `c` for everyone recorded as having come to its occasion, with
/// consent and not suppressed. Returns the rows added.
pub async fn queue_thanks(db: &Db, c: &Campaign) -> Result<u64> {
    let sql = format!(
        "INSERT INTO deliveries (campaign_id, contact_id, status, attempts, next_attempt_at, message_id, created_at)
         SELECT $1, c.id, 'queued', 0, $2, NULL, $2
         FROM contacts c
         WHERE EXISTS (SELECT 1 FROM relations r WHERE r.contact_id = c.id AND r.form = 'encounter'
                 AND r.occasion_id = $4 AND r.attendance = 'came')
           AND {MAY_MAIL}
         ON CONFLICT (campaign_id, contact_id) DO NOTHING"
    );
    let at = now();
    Ok(on_db!(db, p => {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(c.id)
            .bind(at)
            .bind(c.topic_id)
            .bind(c.occasion_id)
            .execute(p)
            .await?
            .rows_affected()
    }))
}

/// Runs campaign `id` again when the sender had finished it (a later yes, a later attendance):
/// deliveries are claimed from running campaigns only.
pub async fn reopen(db: &Db, id: crate::domain::CampaignId) -> Result<()> {
    on_db!(db, p => {
        sqlx::query(
            "UPDATE campaigns SET status = 'running', finished_at = NULL
             WHERE id = $1 AND status = 'done'",
        )
        .bind(id)
        .execute(p)
        .await?;
    });
    Ok(())
}

/// Whether occasion `id` has anyone its `mail` could go to at all (a yes; an invitation sent
/// by `by`), so that no empty campaign is made for every occasion to come.
pub async fn anyone_for(
    db: &Db,
    id: OccasionId,
    mail: OccasionMail,
    by: Timestamp,
) -> Result<bool> {
    let sql = match mail {
        OccasionMail::Reminder => {
            "SELECT COUNT(*) FROM relations WHERE occasion_id = $1 AND form = 'encounter'
               AND status = 'confirmed' AND updated_at <= $2"
        }
        OccasionMail::FollowUp => {
            "SELECT COUNT(*) FROM deliveries d JOIN campaigns k ON k.id = d.campaign_id
             WHERE k.occasion_id = $1 AND k.kind = 'invitation' AND k.occasion_mail IS NULL
               AND d.status = 'sent' AND d.sent_at <= $2"
        }
        OccasionMail::Thanks => {
            "SELECT COUNT(*) FROM relations WHERE occasion_id = $1 AND form = 'encounter'
               AND attendance = 'came' AND updated_at <= $2"
        }
    };
    let n: i64 = on_db!(db, p => {
        sqlx::query_scalar(sql)
            .bind(id)
            .bind(by)
            .fetch_one(p)
            .await?
    });
    Ok(n > 0)
}
