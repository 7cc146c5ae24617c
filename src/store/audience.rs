//! Who a campaign is for, and who of them it may mail: one definition that builds the send
//! queue ([`super::campaigns::enqueue`]) and counts the audience for the pages
//! ([`count`]), so "an 11 Kontakte" on the confirmation is the number queued.
//!
//! The audience is everyone subscribed to the campaign's topic (in any state) who matches the
//! campaign's filters (silent, language, attribute, inactivity, relation form). Of them, a
//! contact is mailed only with confirmed consent, when not suppressed, and within the frequency
//! caps; [`Reach`] counts who falls out for which reason, each contact under the first reason
//! that applies in that order.

use super::campaigns::{Campaign, Caps};
use super::{now, Db, Result, StoreError};
use crate::domain::CampaignId;
use crate::on_db;
use serde::{Deserialize, Serialize};

/// Invitations (to an occasion, not an occasion's own mails) that reached `c`, as deliveries
/// `$d` joined to campaigns `$k`.
macro_rules! invitation_sent {
    ($d:literal, $k:literal) => {
        concat!(
            $d,
            ".contact_id = c.id AND ",
            $d,
            ".status = 'sent' AND ",
            $k,
            ".kind = 'invitation' AND ",
            $k,
            ".occasion_mail IS NULL AND ",
            $k,
            ".occasion_id IS NOT NULL"
        )
    };
}

/// How many invitations in a row, up to the latest, `c` declined: the occasions of invitations
/// after which (the invitation included) none reached them that they did not decline.
fn declined_run() -> String {
    format!(
        "(SELECT COUNT(DISTINCT k5.occasion_id) FROM deliveries d5 JOIN campaigns k5 ON k5.id = d5.campaign_id
          WHERE {sent5} AND NOT EXISTS (SELECT 1 FROM deliveries d6 JOIN campaigns k6 ON k6.id = d6.campaign_id
              WHERE {sent6} AND d6.sent_at >= d5.sent_at
                AND NOT EXISTS (SELECT 1 FROM relations r6 WHERE r6.contact_id = c.id
                    AND r6.form = 'encounter' AND r6.occasion_id = k6.occasion_id
                    AND r6.status = 'declined')))",
        sent5 = invitation_sent!("d5", "k5"),
        sent6 = invitation_sent!("d6", "k6"),
    )
}

/// The SQL conditions on `c` (contacts) with the placeholders `$1` to `$21` that [`bind`]
/// fills.
pub(super) struct Conditions {
    /// Subscribed to the topic in any state and matching the campaign's filters.
    pub base: String,
    pub consent: &'static str,
    pub suppressed: &'static str,
    /// Within the 30-day cap, the gap between invitations, and the contact's own wish to be
    /// asked later.
    pub within_caps: String,
}

pub(super) fn conditions(db: &Db) -> Conditions {
    let attr_expr = if db.is_postgres() {
        "(c.attributes::jsonb ->> $9)"
    } else {
        "json_extract(c.attributes, '$.\"' || $9 || '\"')"
    };
    // Silent as `contacts::silent_condition` has it, less its consent and suppression parts,
    // which are counted as reasons of their own here.
    let base = format!(
        "EXISTS (SELECT 1 FROM subscriptions s0 WHERE s0.contact_id = c.id AND s0.topic_id = $3)
         AND ($8 = 0 OR (NOT EXISTS (SELECT 1 FROM relations r WHERE r.contact_id = c.id
                  AND r.status IN ('interested', 'confirmed') AND (r.until IS NULL OR r.until > $2))
              AND (c.last_reply_at IS NULL OR c.last_reply_at < $14)))
         AND ($9 IS NULL OR {attr_expr} = $10)
         AND ($11 IS NULL OR c.language = $11)
         AND ($12 IS NULL OR c.last_activity_at IS NULL OR c.last_activity_at < $12)
         AND ($13 IS NULL OR EXISTS (SELECT 1 FROM relations r0 WHERE r0.contact_id = c.id
               AND r0.form = $13 AND r0.status IN ('interested', 'confirmed')))
         AND ($15 IS NULL
           OR ($15 = 'said_yes' AND EXISTS (SELECT 1 FROM relations r1 WHERE r1.contact_id = c.id
               AND r1.form = 'encounter' AND r1.occasion_id = $16 AND r1.status = 'confirmed'))
           OR ($15 = 'came' AND EXISTS (SELECT 1 FROM relations r1 WHERE r1.contact_id = c.id
               AND r1.form = 'encounter' AND r1.occasion_id = $16 AND r1.attendance = 'came'))
           OR ($15 = 'no_show' AND EXISTS (SELECT 1 FROM relations r1
               JOIN occasions o1 ON o1.id = r1.occasion_id WHERE r1.contact_id = c.id
               AND r1.form = 'encounter' AND r1.occasion_id = $16 AND r1.status = 'confirmed'
               AND (r1.attendance = 'no_show'
                    OR (r1.attendance IS NULL AND COALESCE(o1.ends_at, o1.starts_at) < $2))))
           OR ($15 = 'regular'
               AND (SELECT COUNT(*) FROM relations r1 JOIN occasions o1 ON o1.id = r1.occasion_id
                    WHERE r1.contact_id = c.id AND r1.form = 'encounter'
                      AND r1.attendance = 'came' AND o1.topic_id = $17 AND o1.starts_at >= $19) >= $18
               AND NOT EXISTS (SELECT 1 FROM relations r2 WHERE r2.contact_id = c.id
                   AND r2.form = 'cooperation' AND r2.status IN ('interested', 'confirmed')))
           OR ($15 = 'declined' AND {run} >= $18))",
        run = declined_run(),
    );
    let within_caps = format!(
        "(SELECT COUNT(*) FROM deliveries d2 WHERE d2.contact_id = c.id AND d2.status = 'sent' AND d2.sent_at > $4) < $5
         AND ($6 = 0 OR NOT EXISTS (SELECT 1 FROM deliveries d3 JOIN campaigns k3 ON k3.id = d3.campaign_id
               WHERE d3.contact_id = c.id AND k3.kind IN ('invitation', 'cooperation') AND k3.id <> $1
                 AND (k3.occasion_mail IS NULL OR k3.occasion_mail = 'follow_up')
                 AND d3.status IN ('sent', 'queued', 'sending') AND d3.created_at > $7))
         AND ($6 = 0 OR {deferred})
         AND ($6 = 0 OR $20 = 0
              OR NOT EXISTS (SELECT 1 FROM relations r8 WHERE r8.contact_id = c.id
                  AND r8.form = 'encounter' AND r8.status = 'declined')
              OR {run} < $20
              OR NOT EXISTS (SELECT 1 FROM deliveries d7 JOIN campaigns k7 ON k7.id = d7.campaign_id
                  WHERE {sent7} AND d7.sent_at > $21))",
        deferred = super::wishes::deferred_condition("$3", "$2"),
        run = declined_run(),
        sent7 = invitation_sent!("d7", "k7"),
    );
    Conditions {
        base,
        consent: "EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = c.id AND s.topic_id = $3 AND s.status = 'confirmed')",
        suppressed: "EXISTS (SELECT 1 FROM suppressions x WHERE x.address = c.email_key)",
        within_caps,
    }
}

/// Binds `$1` to `$21` of [`conditions`] for campaign `$c` with caps `$caps` at time `$at`.
macro_rules! bind_audience {
    ($q:expr, $c:expr, $caps:expr, $at:expr) => {{
        let c: &$crate::store::campaigns::Campaign = $c;
        let caps: $crate::store::campaigns::Caps = $caps;
        let at: $crate::store::Timestamp = $at;
        let aud = c.audience();
        // A step of the ladder names people who answered or came: they are not silent.
        let silent = aud
            .silent
            .unwrap_or(c.kind.is_activation() && aud.ladder.is_none());
        let (attr_key, attr_value) = match &aud.attribute {
            Some((k, v)) => (Some(k.clone()), Some(v.clone())),
            None => (None, None),
        };
        $q.bind(c.id)
            .bind(at)
            .bind(c.topic_id)
            .bind(at - chrono::Duration::days(30))
            .bind(caps.max_messages_per_30_days)
            .bind(i64::from(c.kind.is_activation()))
            .bind(at - chrono::Duration::days(caps.invitation_every_days))
            .bind(i64::from(silent))
            .bind(attr_key)
            .bind(attr_value)
            .bind(aud.language.clone())
            .bind(aud.inactive_days.map(|d| at - chrono::Duration::days(d)))
            .bind(aud.form.map(|f| f.as_str()))
            .bind(at - chrono::Duration::days(caps.silent_after_days))
            .bind(aud.ladder.map(|l| l.step()))
            .bind(match aud.ladder {
                Some(
                    $crate::store::campaigns::Ladder::SaidYes { occasion }
                    | $crate::store::campaigns::Ladder::Came { occasion }
                    | $crate::store::campaigns::Ladder::NoShow { occasion },
                ) => Some(occasion),
                _ => None,
            })
            .bind(match aud.ladder {
                Some($crate::store::campaigns::Ladder::Regular { topic, .. }) => Some(topic),
                _ => None,
            })
            .bind(match aud.ladder {
                Some($crate::store::campaigns::Ladder::Regular { min, .. }) => Some(min),
                Some($crate::store::campaigns::Ladder::Declined { last }) => Some(last),
                _ => None,
            })
            .bind(match aud.ladder {
                Some($crate::store::campaigns::Ladder::Regular { months, .. }) => {
                    at.checked_sub_months(chrono::Months::new(u32::try_from(months).unwrap_or(0)))
                }
                _ => None,
            })
            .bind(caps.rest_after_declines)
            .bind(at - chrono::Duration::days(caps.rest_days))
    }};
}
pub(super) use bind_audience;

/// A campaign's audience and who of it can be mailed, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(default)]
pub struct Reach {
    /// Subscribed to the topic and matching the campaign's filters.
    pub audience: i64,
    /// Of those, who would be mailed now.
    pub reached: i64,
    /// Without confirmed consent for the topic (pending or withdrawn).
    pub no_consent: i64,
    /// On the suppression list (bounced, complained, forgotten).
    pub suppressed: i64,
    /// Mailed often enough lately, or asked to be invited later.
    pub capped: i64,
}

impl Reach {
    /// Those of the audience who are not mailed.
    pub fn left_out(&self) -> i64 {
        self.audience - self.reached
    }
}

/// Counts the audience of `c` as a send now would build it.
pub async fn count(db: &Db, c: &Campaign, caps: Caps) -> Result<Reach> {
    if c.topic_id.is_none() {
        return Err(StoreError::Invalid(format!(
            "campaign {:?} has no topic: nobody's consent covers it",
            c.name
        )));
    }
    let k = conditions(db);
    let sql = format!(
        "SELECT COUNT(*) AS audience,
            COALESCE(SUM(CASE WHEN {consent} AND NOT {suppressed} AND ({caps}) THEN 1 ELSE 0 END), 0) AS reached,
            COALESCE(SUM(CASE WHEN NOT {consent} THEN 1 ELSE 0 END), 0) AS no_consent,
            COALESCE(SUM(CASE WHEN {consent} AND {suppressed} THEN 1 ELSE 0 END), 0) AS suppressed,
            COALESCE(SUM(CASE WHEN {consent} AND NOT {suppressed} AND NOT ({caps}) THEN 1 ELSE 0 END), 0) AS capped
         FROM contacts c WHERE {base}",
        consent = k.consent,
        suppressed = k.suppressed,
        caps = k.within_caps,
        base = k.base,
    );
    let at = now();
    Ok(on_db!(db, p => {
        bind_audience!(sqlx::query_as::<_, Reach>(sqlx::AssertSqlSafe(sql.as_str())), c, caps, at)
            .fetch_one(p)
            .await?
    }))
}

/// Keeps what a campaign's start counted.
pub async fn record(db: &Db, id: CampaignId, reach: &Reach) -> Result<()> {
    let json = serde_json::to_string(reach).expect("counts serialise");
    on_db!(db, p => {
        sqlx::query("UPDATE campaigns SET reach = $1 WHERE id = $2")
            .bind(json)
            .bind(id)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// What the campaign's start counted; None before it started (or when started by an earlier
/// version).
pub async fn recorded(db: &Db, id: CampaignId) -> Result<Option<Reach>> {
    let text: Option<Option<String>> = on_db!(db, p => {
        sqlx::query_scalar("SELECT reach FROM campaigns WHERE id = $1")
            .bind(id)
            .fetch_optional(p)
            .await?
    });
    text.flatten()
        .map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::Invalid(format!("campaign {id}: stored reach {t:?}: {e}")))
        })
        .transpose()
}
