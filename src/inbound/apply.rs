//! Carrying out a plan: relation, consent and suppression changes, each recorded as a decision
//! that names the inbound message and keeps what is needed to undo it.

use super::attribute::{Attribution, Strength};
use super::plan::{Action, Mode, Step};
use super::Inbound;
use crate::activation::{self, Cause, Undo};
use crate::classify::{Analysis, MessageKind};
use crate::config::UnsubscribeScope;
use crate::domain::{CampaignId, ContactId, InboundId, SuppressionReason};
use crate::outbound::render::MailKind;
use crate::outbound::sender::{Answer, CampaignCtx, Recipient};
use crate::store::activities::{ActivityKind, NewActivity};
use crate::store::decisions::{DecisionStatus, NewDecision};
use crate::store::{self, now, Db, Timestamp};
use chrono::TimeZone;
use serde_json::json;

/// Runs every step of `plan` for inbound message `id`. The timeline entry and every decision
/// are written in one transaction, then the `Apply` steps are carried out one by one. A message
/// whose processing was cut off (the daemon killed, its lease run out) is processed again with
/// the same plan: its decisions are found and only the ones not yet applied are carried out, so
/// nothing is decided or recorded twice. (Killed between carrying a step out and marking it
/// applied, that one step runs again; each step is idempotent but may send its
/// acknowledgement twice.)
pub async fn execute(
    inb: &Inbound,
    id: InboundId,
    a: &Analysis,
    at: &Attribution,
    plan: &[Step],
) -> anyhow::Result<()> {
    let mut decided = store::decisions::for_inbound(&inb.db, id).await?;
    let resumed = decided.len() == plan.len()
        && decided
            .iter()
            .zip(plan)
            .all(|((_, action, _), step)| action == step.action.name());
    if !resumed {
        if !decided.is_empty() {
            tracing::warn!(
                inbound = id.get(),
                "earlier decisions differ from the plan: deciding anew"
            );
        }
        decided.clear();
        let mut tx = inb.db.begin().await?;
        if let Some(contact) = at.contact_id {
            record_message(&mut tx, id, contact, a, at).await?;
        }
        for step in plan {
            let d = insert_decision(&mut tx, id, at, step).await?;
            decided.push((d, step.action.name().to_string(), DecisionStatus::Pending));
        }
        tx.commit().await?;
    }
    for ((decision, _, status), step) in decided.iter().zip(plan) {
        if step.mode == Mode::Apply && *status == DecisionStatus::Pending {
            let undo = perform(inb, id, at, &step.action, a).await?;
            store::decisions::finish(
                &inb.db,
                *decision,
                DecisionStatus::Applied,
                &undo.to_json(),
                "netzpost",
            )
            .await?;
        }
    }
    Ok(())
}

/// The message on the contact's timeline, and `last_reply_at` for a person's reply that is
/// proven to come from them.
async fn record_message(
    tx: &mut store::Tx,
    id: InboundId,
    contact: ContactId,
    a: &Analysis,
    at: &Attribution,
) -> anyhow::Result<()> {
    let t = now();
    store::activities::record(
        tx,
        &NewActivity {
            contact_id: contact,
            at: t,
            kind: timeline_kind(a, at),
            detail: timeline_detail(id, a, at),
            campaign_id: at.campaign_id,
            inbound_id: Some(id),
        },
    )
    .await?;
    if proven_reply(a, at) {
        store::contacts::note_reply(tx, contact, t).await?;
    }
    Ok(())
}

/// A person's reply proven to come from the contact: it sets `last_reply_at`.
pub(super) fn proven_reply(a: &Analysis, at: &Attribution) -> bool {
    a.kind == MessageKind::Reply && at.strength.proves() && !at.organisation_sender
}

/// The kind of the timeline entry for an inbound message. A mail from the organisation's own
/// address is not the contact's reply (nor counted as one).
pub(super) fn timeline_kind(a: &Analysis, at: &Attribution) -> ActivityKind {
    if at.organisation_sender && a.kind == MessageKind::Reply {
        return ActivityKind::OrganisationMail;
    }
    match a.kind {
        MessageKind::Reply => ActivityKind::Reply,
        MessageKind::AutoReply => ActivityKind::AutoReply,
        MessageKind::Bounce => ActivityKind::Bounce,
        MessageKind::Complaint => ActivityKind::Complaint,
    }
}

/// The detail of the timeline entry for an inbound message: how it was read, and the start of a
/// person's words (a reply's text, an auto-reply's subject) to show.
pub(super) fn timeline_detail(id: InboundId, a: &Analysis, at: &Attribution) -> serde_json::Value {
    let mut d = json!({"inbound_id": id, "intent": a.intent, "confidence": a.confidence, "attribution": at.strength, "message_id": a.message_id});
    match a.kind {
        MessageKind::Reply => d["snippet"] = snippet(&a.text).into(),
        MessageKind::AutoReply => d["subject"] = a.subject.as_deref().unwrap_or("").into(),
        MessageKind::Bounce | MessageKind::Complaint => {}
    }
    d
}

fn snippet(text: &str) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s: String = one.chars().take(120).collect();
    if one.chars().count() > 120 {
        s.push('…');
    }
    s
}

/// A new decision's status: an `Apply` one becomes applied once performed, in the same run.
pub(super) fn decision_status(mode: Mode) -> DecisionStatus {
    match mode {
        Mode::Apply | Mode::Review => DecisionStatus::Pending,
        Mode::Note => DecisionStatus::Noted,
    }
}

async fn insert_decision(
    tx: &mut store::Tx,
    inbound: InboundId,
    at: &Attribution,
    step: &Step,
) -> anyhow::Result<i64> {
    Ok(store::decisions::insert(
        tx,
        &NewDecision {
            inbound_id: inbound,
            contact_id: at.contact_id,
            campaign_id: at.campaign_id,
            action: step.action.name(),
            status: decision_status(step.mode),
            confidence: step.confidence,
            reason: &step.reason,
            plan: serde_json::to_string(&step.action)?,
        },
    )
    .await?)
}

/// Performs one action, and records a reply's wish not to be invited before a time; returns
/// how to undo both.
async fn perform(
    inb: &Inbound,
    inbound: InboundId,
    at: &Attribution,
    action: &Action,
    a: &Analysis,
) -> anyhow::Result<Undo> {
    let mut undo = perform_action(inb, inbound, at, action, a).await?;
    undo.wish = record_wish(inb, inbound, at, a).await?;
    Ok(undo)
}

/// A reply's `not_before` as the contact's wish for the answered campaign's topic; returns how
/// to undo it (`None` when there is nothing to record).
async fn record_wish(
    inb: &Inbound,
    inbound: InboundId,
    at: &Attribution,
    a: &Analysis,
) -> anyhow::Result<Option<activation::WishUndo>> {
    let (Some(wish), Some(contact), Some(topic)) =
        (a.not_before.as_deref(), at.contact_id, at.topic_id)
    else {
        return Ok(None);
    };
    if a.kind != MessageKind::Reply {
        return Ok(None);
    }
    let tz = inb.cfg.tz().map_err(anyhow::Error::msg)?;
    let today = now().with_timezone(&tz).date_naive();
    let Some(day) = crate::domain::not_before_date(wish, today, &inb.cfg.holidays.summer_ends())
    else {
        tracing::warn!(
            inbound = inbound.get(),
            wish,
            "unknown not_before wish: not recorded"
        );
        return Ok(None);
    };
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    let not_before = match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.with_timezone(&chrono::Utc)
        }
        chrono::LocalResult::None => midnight.and_utc(),
    };
    let w = store::wishes::new_wish(
        contact,
        topic,
        wish,
        not_before,
        a.message_id.clone(),
        Some(inbound),
    );
    Ok(Some(activation::record_wish(&inb.db, &w).await?))
}

/// The cause of a change made because of inbound message `inbound`.
fn message_cause(inbound: InboundId, at: &Attribution, a: &Analysis, complaint: bool) -> Cause {
    Cause::Message {
        inbound_id: inbound,
        message_id: a
            .message_id
            .clone()
            .unwrap_or_else(|| format!("inbound:{inbound}")),
        campaign_id: at.campaign_id,
        complaint,
    }
}

/// What the acknowledgement of a yes says: coming, or the place on the waiting list.
pub(crate) fn rsvp_ack(seat: activation::Seat) -> serde_json::Value {
    match seat {
        activation::Seat::Waiting { position } => {
            json!({"answer": "waiting", "position": position})
        }
        _ => json!({"answer": "yes"}),
    }
}

/// Performs one action; returns how to undo it.
async fn perform_action(
    inb: &Inbound,
    inbound: InboundId,
    at: &Attribution,
    action: &Action,
    a: &Analysis,
) -> anyhow::Result<Undo> {
    let db = &inb.db;
    let cause = message_cause(inbound, at, a, false);
    let contact = at.contact_id;
    match action {
        Action::Encounter { occasion_id }
        | Action::Decline {
            occasion_id: Some(occasion_id),
        } => {
            let contact = contact.ok_or_else(|| anyhow::anyhow!("no contact"))?;
            let occasion = store::occasions::by_id(db, *occasion_id).await?;
            let accept = matches!(action, Action::Encounter { .. });
            let answered = activation::answer_invitation(
                db,
                contact,
                &occasion,
                accept,
                a.party_size,
                Some(snippet(&a.text)),
                &cause,
            )
            .await?;
            if accept && inb.cfg.inbound.send_acknowledgements {
                notify(
                    inb,
                    at,
                    contact,
                    MailKind::RsvpAck,
                    json!({"rsvp": rsvp_ack(answered.seat)}),
                    &format!("ack.{inbound}"),
                    a,
                )
                .await;
            }
            if let Some(n) = &inb.notifier {
                crate::outbound::occasion::send_moved_up(db, n, &occasion, &answered.moved_up)
                    .await;
            }
            Ok(answered.undo)
        }
        Action::Decline { occasion_id: None } => Ok(Undo::default()),
        Action::Confirm { topic_id } => {
            let contact = contact.ok_or_else(|| anyhow::anyhow!("no contact"))?;
            // Proven by the confirmation mail's own token only when the attribution found it
            // (a person accepting it from the review queue confirms like an admin would).
            let own = at.confirm_topic == Some(*topic_id);
            let consented = activation::Consented {
                text: None,
                notice_version: inb.cfg.privacy.notice_version.as_deref(),
            };
            let changed =
                activation::confirm_consent(db, contact, *topic_id, own, &cause, &consented)
                    .await?;
            Ok(Undo {
                consent: Some(changed),
                ..Undo::default()
            })
        }
        Action::Cooperation { topic_id } => {
            let contact = contact.ok_or_else(|| anyhow::anyhow!("no contact"))?;
            let undo = activation::express_cooperation(
                db,
                contact,
                *topic_id,
                Some(snippet(&a.text)),
                &cause,
            )
            .await?;
            notify_organiser(inb, at, contact, a, inbound).await;
            Ok(undo)
        }
        Action::Unsubscribe { topic_id } => {
            let contact = contact.ok_or_else(|| anyhow::anyhow!("no contact"))?;
            let scope = match (inb.cfg.inbound.unsubscribe_scope, topic_id) {
                (UnsubscribeScope::Topic, Some(t)) => Some(*t),
                _ => None,
            };
            let changed = activation::withdraw_consent(db, contact, scope, &cause).await?;
            if !changed.is_empty() && inb.cfg.inbound.send_acknowledgements {
                notify(
                    inb,
                    at,
                    contact,
                    MailKind::Unsubscribed,
                    json!({}),
                    &format!("unsub.{inbound}"),
                    a,
                )
                .await;
            }
            Ok(Undo {
                consent: Some(changed),
                ..Undo::default()
            })
        }
        Action::Complaint => {
            let contact = contact.ok_or_else(|| anyhow::anyhow!("no contact"))?;
            let cause = message_cause(inbound, at, a, true);
            let changed = activation::withdraw_consent(db, contact, None, &cause).await?;
            Ok(Undo {
                consent: Some(changed),
                ..Undo::default()
            })
        }
        Action::HardBounce { address, status } => {
            let note = format!(
                "bounce {} (inbound {inbound})",
                status.as_deref().unwrap_or("")
            );
            let existed = store::suppressions::is_suppressed(db, address).await?;
            store::suppressions::add(db, address, SuppressionReason::HardBounce, Some(&note))
                .await?;
            if let Some(c) = contact {
                note_activity(
                    db,
                    c,
                    ActivityKind::HardBounce,
                    status.as_deref(),
                    inbound,
                    at.campaign_id,
                )
                .await?;
            }
            Ok(Undo {
                suppression: (!existed).then(|| address.clone()),
                ..Undo::default()
            })
        }
        Action::SoftBounce { address, status } => {
            let Some(c) = contact else {
                return Ok(Undo::default());
            };
            note_activity(
                db,
                c,
                ActivityKind::SoftBounce,
                status.as_deref(),
                inbound,
                at.campaign_id,
            )
            .await?;
            let since: Timestamp = now() - chrono::Duration::days(inb.cfg.inbound.soft_bounce_days);
            let n = store::activities::count_since(db, c, ActivityKind::SoftBounce, since).await?;
            if n >= inb.cfg.inbound.soft_bounce_limit
                && !store::suppressions::is_suppressed(db, address).await?
            {
                let note = format!(
                    "{n} soft bounces in {} days",
                    inb.cfg.inbound.soft_bounce_days
                );
                store::suppressions::add(db, address, SuppressionReason::SoftBounces, Some(&note))
                    .await?;
                return Ok(Undo {
                    suppression: Some(address.clone()),
                    ..Undo::default()
                });
            }
            Ok(Undo::default())
        }
        Action::Successor {
            email,
            name,
            topic_id,
        } => {
            let contact = contact.ok_or_else(|| anyhow::anyhow!("no contact"))?;
            let (done, undo) =
                activation::hand_over(db, contact, email, name.as_deref(), *topic_id, &cause)
                    .await?;
            ask_successor(inb, &done).await;
            Ok(undo)
        }
        Action::PollAnswer {
            occasion_id,
            suits,
            dates,
        } => {
            let contact = contact.ok_or_else(|| anyhow::anyhow!("no contact"))?;
            let occasion = store::occasions::by_id(db, *occasion_id).await?;
            // Every date the poll offered is answered: those named suit, the others do not.
            let answers: Vec<(i64, bool)> = (1..=*dates)
                .map(|n| (i64::from(n), suits.contains(&n)))
                .collect();
            Ok(activation::answer_poll(db, contact, &occasion, &answers, &cause).await?)
        }
        Action::AutoReply | Action::Question | Action::Note => Ok(Undo::default()),
    }
}

/// The one confirmation request to an accepted successor (a failure is logged: the successor
/// stays pending, and can be asked again through the subscribe form).
async fn ask_successor(inb: &Inbound, done: &activation::HandedOver) {
    let sent = async {
        let Some(notifier) = &inb.notifier else {
            anyhow::bail!("no transport in this process")
        };
        let Some(&first) = done.topics.first() else {
            anyhow::bail!("no topic handed over")
        };
        let topic = store::topics::by_id(&inb.db, first).await?;
        let req = crate::outbound::request::ConsentRequest {
            kind: MailKind::Confirm,
            topic: &topic,
            contact: &done.successor,
            language: None,
            valid_days: crate::outbound::request::CONFIRM_DAYS,
            extra: serde_json::Value::Null,
        };
        crate::outbound::request::send(notifier, &req).await
    }
    .await;
    if let Err(e) = sent {
        tracing::warn!(
            contact = done.successor.id.get(),
            "confirmation request to the successor not sent: {e:#}"
        );
    }
}

/// A bounce on the contact's timeline, with the status code the report gave.
async fn note_activity(
    db: &Db,
    contact: ContactId,
    kind: ActivityKind,
    status: Option<&str>,
    inbound: InboundId,
    campaign: Option<CampaignId>,
) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    store::activities::record(
        &mut tx,
        &NewActivity {
            contact_id: contact,
            at: now(),
            kind,
            detail: json!({"inbound_id": inbound, "status": status}),
            campaign_id: campaign,
            inbound_id: Some(inbound),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Who a notification goes to.
enum To<'a> {
    /// The contact, as an answer to their message.
    Contact(&'a Analysis),
    /// The organiser, about the contact.
    Organiser,
}

/// An acknowledgement or confirmation to the contact, as an answer to their message `a`.
async fn notify(
    inb: &Inbound,
    at: &Attribution,
    contact: ContactId,
    kind: MailKind,
    extra: serde_json::Value,
    tag: &str,
    a: &Analysis,
) {
    if let Err(e) = try_notify(inb, at, contact, kind, extra, tag, To::Contact(a)).await {
        tracing::warn!(%kind, contact = contact.get(), "notification not sent: {e:#}");
    }
}

async fn notify_organiser(
    inb: &Inbound,
    at: &Attribution,
    contact: ContactId,
    a: &Analysis,
    inbound: InboundId,
) {
    let extra = json!({"reply": {"text": a.text, "received_at": now().to_rfc3339()}});
    if let Err(e) = try_notify(
        inb,
        at,
        contact,
        MailKind::NotifyCooperation,
        extra,
        &format!("coop.{inbound}"),
        To::Organiser,
    )
    .await
    {
        tracing::warn!(contact = contact.get(), "organiser not notified: {e:#}");
    }
}

/// Sends a notification in the frame of the answered campaign. To the organiser, the context
/// still describes the contact, but the notice names no token of the contact (its links are
/// signed for no contact) and is answered to the contact's own address.
async fn try_notify(
    inb: &Inbound,
    at: &Attribution,
    contact: ContactId,
    kind: MailKind,
    extra: serde_json::Value,
    tag: &str,
    to: To<'_>,
) -> anyhow::Result<()> {
    let Some(notifier) = &inb.notifier else {
        anyhow::bail!("no transport in this process")
    };
    let Some(campaign_id) = at.campaign_id else {
        anyhow::bail!("no campaign to answer")
    };
    let campaign = store::campaigns::by_id(&inb.db, campaign_id).await?;
    let ctx = CampaignCtx::load(&inb.db, campaign).await?;
    let c = store::contacts::by_id(&inb.db, contact).await?;
    let domain = crate::outbound::sender::sender_domain(&inb.cfg);
    let message_id = notifier.composer.key.local_message_id(tag, &domain);
    match to {
        To::Contact(a) => {
            let recipient = Recipient::of_contact(&c);
            let answer = Answer::Reply {
                message_id: a.message_id.clone(),
                references: a.references.clone(),
                subject: a.subject.clone(),
            };
            notifier
                .send_answer(kind, &ctx, &recipient, extra, &message_id, &answer)
                .await?
        }
        To::Organiser => {
            let said = extra["reply"]["text"].as_str().unwrap_or_default();
            notifier
                .cooperation_notice(&ctx, &c, said, &message_id)
                .await?
        }
    }
    Ok(())
}

// ----- the review queue -----

pub use crate::store::decisions::DecisionRow;

/// Pending decisions, and with `all` also recent applied, rejected and undone ones.
pub async fn review_list(db: &Db, all: bool, limit: i64) -> anyhow::Result<Vec<DecisionRow>> {
    Ok(store::decisions::review_list(db, all, limit).await?)
}

async fn load_decision(db: &Db, id: i64) -> anyhow::Result<store::decisions::Stored> {
    Ok(store::decisions::get(db, id).await?)
}

/// A person accepts a pending decision (optionally as another intent), and it is applied.
pub async fn review_accept(
    inb: &Inbound,
    id: i64,
    as_intent: Option<crate::classify::Intent>,
    by: &str,
) -> anyhow::Result<String> {
    use crate::classify::Intent;
    let d = load_decision(&inb.db, id).await?;
    if d.status != DecisionStatus::Pending {
        anyhow::bail!("decision {id} is {}, not pending", d.status);
    }
    let mut at = Attribution {
        strength: Strength::Token,
        contact_id: d.contact_id,
        contact_email: None,
        campaign_id: None,
        topic_id: None,
        occasion_id: None,
        unsubscribe_address: false,
        bad_token: None,
        organisation_sender: false,
        confirm_topic: None,
        poll_dates: 0,
    };
    if let Some(c) = d.campaign_id {
        let k = store::campaigns::by_id(&inb.db, c).await?;
        at.campaign_id = Some(c);
        at.topic_id = k.topic_id;
        at.occasion_id = k.occasion_id;
        at.poll_dates = super::attribute::poll_dates(&inb.db, k.occasion_id).await?;
    }
    let action: Action = match as_intent {
        None => serde_json::from_str(&d.plan)?,
        Some(Intent::Accept) => Action::Encounter {
            occasion_id: at.occasion_id.ok_or_else(|| {
                anyhow::anyhow!("the message answers no invitation to an occasion")
            })?,
        },
        Some(Intent::Decline) => Action::Decline {
            occasion_id: at.occasion_id,
        },
        Some(Intent::Cooperation) => Action::Cooperation {
            topic_id: at.topic_id,
        },
        Some(Intent::Unsubscribe) => Action::Unsubscribe {
            topic_id: at.topic_id,
        },
        Some(Intent::Question) | Some(Intent::None) => Action::Note,
    };
    let raw = store::inbound::raw(&inb.db, d.inbound_id).await?;
    let analysis = crate::classify::analyze(&raw, &inb.rules)?;
    let undo = perform(inb, d.inbound_id, &at, &action, &analysis).await?;
    store::decisions::replan(&inb.db, id, action.name(), &serde_json::to_string(&action)?).await?;
    store::decisions::finish(&inb.db, id, DecisionStatus::Applied, &undo.to_json(), by).await?;
    Ok(action.name().to_string())
}

pub async fn review_reject(db: &Db, id: i64, by: &str) -> anyhow::Result<()> {
    let d = load_decision(db, id).await?;
    if d.status != DecisionStatus::Pending {
        anyhow::bail!("decision {id} is {}, not pending", d.status);
    }
    Ok(store::decisions::finish(db, id, DecisionStatus::Rejected, "{}", by).await?)
}

/// Reverts an applied decision: the relation, consent and suppression as they were before.
pub async fn review_undo(db: &Db, id: i64, by: &str) -> anyhow::Result<activation::Undone> {
    let d = load_decision(db, id).await?;
    if d.status != DecisionStatus::Applied {
        anyhow::bail!(
            "decision {id} is {}, only an applied decision can be undone",
            d.status
        );
    }
    let undo = Undo::from_json(&d.undo)?;
    let cause = Cause::Undo {
        decision_id: id,
        by: by.to_string(),
        inbound_id: d.inbound_id,
        campaign_id: d.campaign_id,
    };
    let undone = activation::undo(db, d.contact_id, &undo, &cause).await?;
    store::decisions::finish(db, id, DecisionStatus::Undone, &d.undo, by).await?;
    Ok(undone)
}
