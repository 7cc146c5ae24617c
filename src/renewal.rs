//! Re-permission, as `netzpost consent renew` and the daily job run it: consents whose contact
//! has been silent for `renewal.silent_for_days` get one mail asking whether the person still
//! wants mail on the topic (reply "Ja" or press the button); those unanswered after
//! `renewal.answer_days` are withdrawn; a contact left without any consent by that is erased
//! after `renewal.forget_after_days` or kept, per `renewal.after_withdrawal`. The rules are in
//! `activation::renewal`; this sends the mails and reports. Here too: the first confirmation
//! request to contacts an import or the API left pending (`ask_pending`).

use crate::activation::renewal as rules;
use crate::config::{AfterWithdrawal, Config};
use crate::domain::TopicId;
use crate::outbound::render::MailKind;
use crate::outbound::request::{self, ConsentRequest};
use crate::outbound::sender::Notifier;
use crate::store::{self, Db, Timestamp};
use serde::Serialize;

/// Which consents a run looks at.
#[derive(Debug, Clone, Default)]
pub struct RenewalOptions {
    /// Only this topic's consents (all topics: `None`).
    pub topic: Option<TopicId>,
    /// Instead of `renewal.silent_for_days`.
    pub silent_for_days: Option<i64>,
}

/// One consent in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub email: String,
    pub topic: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RenewalReport {
    /// Asked whether they still want mail on the topic.
    pub asked: Vec<Entry>,
    /// Due, but the request could not be sent (with why): asked again next time.
    pub not_sent: Vec<(Entry, String)>,
    /// No answer in time: consent withdrawn.
    pub withdrawn: Vec<Entry>,
    /// Left without any consent and erased after the grace period.
    pub forgotten: Vec<String>,
}

/// Runs the renewal as of `now`. Without a `notifier` nothing is asked (the due ones are
/// reported as not sent), but expiry and erasure still happen.
pub async fn run(
    db: &Db,
    cfg: &Config,
    notifier: Option<&Notifier>,
    opts: &RenewalOptions,
    now: Timestamp,
) -> anyhow::Result<RenewalReport> {
    let r = &cfg.renewal;
    let days = chrono::Duration::days;
    let mut report = RenewalReport::default();
    // 1. Unanswered in time: withdrawn.
    for due in store::consents::renewals_open(db, Some(now - days(r.answer_days))).await? {
        if opts.topic.is_some_and(|t| t != due.topic_id) {
            continue;
        }
        let asked_at = due.renewal_asked_at.unwrap_or(now);
        if rules::expire(db, due.contact_id, due.topic_id, asked_at).await? {
            report.withdrawn.push(Entry {
                email: due.email,
                topic: due.topic,
            });
        }
    }
    // 2. Left without consent: erased after the grace period, or kept.
    if r.after_withdrawal == AfterWithdrawal::Forget {
        let before = now - days(r.forget_after_days);
        for (_, email) in store::consents::without_consent_after_renewal(db, before).await? {
            rules::forget(db, &email).await?;
            report.forgotten.push(email);
        }
    }
    // 3. Silent for long: asked, one mail per consent.
    let silent_for = opts.silent_for_days.unwrap_or(r.silent_for_days);
    let until = now + days(r.answer_days);
    for due in store::consents::due_for_renewal(db, opts.topic, now - days(silent_for)).await? {
        let entry = Entry {
            email: due.email.clone(),
            topic: due.topic.clone(),
        };
        let Some(notifier) = notifier else {
            report
                .not_sent
                .push((entry, "no mail transport in this process".into()));
            continue;
        };
        let sent = async {
            let contact = store::contacts::by_id(db, due.contact_id).await?;
            let topic = store::topics::by_id(db, due.topic_id).await?;
            request::send(
                notifier,
                &ConsentRequest {
                    kind: MailKind::Renewal,
                    topic: &topic,
                    contact: &contact,
                    language: None,
                    valid_days: r.answer_days,
                    extra: serde_json::json!({"renewal": {"until": until.to_rfc3339()}}),
                },
            )
            .await?;
            // Marked only once the mail is out: silence after a mail that never left must not
            // withdraw anything.
            rules::asked(db, due.contact_id, due.topic_id, now, until).await?;
            anyhow::Ok(())
        }
        .await;
        match sent {
            Ok(()) => report.asked.push(entry),
            Err(e) => report.not_sent.push((entry, format!("{e:#}"))),
        }
    }
    tracing::info!(
        asked = report.asked.len(),
        not_sent = report.not_sent.len(),
        withdrawn = report.withdrawn.len(),
        forgotten = report.forgotten.len(),
        "renewal"
    );
    Ok(report)
}

/// Asks each of `contacts` (left pending on `topic` by an import or the API) to confirm, with
/// the confirmation mail, where `activation::confirmation_due` allows it. Returns how many were
/// sent and how many could not be (logged).
pub async fn ask_pending(
    db: &Db,
    notifier: &Notifier,
    topic: &crate::store::topics::Topic,
    contacts: &[crate::domain::ContactId],
    evidence: &str,
) -> anyhow::Result<(usize, usize)> {
    let (mut sent, mut failed) = (0, 0);
    for &id in contacts {
        let contact = store::contacts::by_id(db, id).await?;
        let max = crate::activation::CONFIRM_MAILS_PER_DAY;
        if !crate::activation::confirmation_due(db, &contact, topic.id, evidence, max).await? {
            continue;
        }
        let req = ConsentRequest {
            kind: MailKind::Confirm,
            topic,
            contact: &contact,
            language: None,
            valid_days: request::CONFIRM_DAYS,
            extra: serde_json::Value::Null,
        };
        match request::send(notifier, &req).await {
            Ok(()) => sent += 1,
            Err(e) => {
                failed += 1;
                tracing::warn!(contact = id.get(), "confirmation request not sent: {e:#}");
            }
        }
    }
    Ok((sent, failed))
}

/// After an import with pending consent: every contact pending on one of `topics` (slugs) who
/// was never asked gets the confirmation request. Returns how many were sent.
pub async fn ask_imported(
    db: &Db,
    notifier: &Notifier,
    topics: &[String],
    by: &str,
) -> anyhow::Result<usize> {
    let mut sent = 0;
    for slug in topics {
        let Some(topic) = store::topics::find(db, slug).await? else {
            continue;
        };
        let ids = store::consents::pending_never_asked(db, topic.id, i64::MAX).await?;
        sent += ask_pending(db, notifier, &topic, &ids, by).await?.0;
    }
    Ok(sent)
}
