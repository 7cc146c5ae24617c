//! Carrying out a plan: relation, consent and suppression changes, each recorded as a decision
//! that names the inbound message and keeps what is needed to undo it.

use super::attribute::{Attribution, Strength};
use super::plan::{Action, Mode, Step};
use super::Inbound;
use crate::classify::{Analysis, MessageKind};
use crate::config::UnsubscribeScope;
use crate::domain::{ConsentStatus, RelationForm, RelationStatus, SuppressionReason};
use crate::outbound::render::MailKind;
use crate::outbound::sender::{Answer, CampaignCtx, Recipient};
use crate::store::activities::NewActivity;
use crate::store::relations::NewRelation;
use crate::store::{self, now, Db, Timestamp};
use crate::{in_tx, on_db, record_activity};
use chrono::TimeZone;
use serde::Serialize;
use serde_json::json;

/// Runs every step of `plan` for inbound message `id`.
pub async fn execute(
    inb: &Inbound,
    id: i64,
    a: &Analysis,
    at: &Attribution,
    plan: &[Step],
) -> anyhow::Result<()> {
    if let Some(contact) = at.contact_id {
        record_message(&inb.db, id, contact, a, at).await?;
    }
    for step in plan {
        let decision = insert_decision(&inb.db, id, at, step).await?;
        if step.mode == Mode::Apply {
            let undo = perform(inb, id, at, &step.action, a).await?;
            finish_decision(&inb.db, decision, "applied", &undo, "netzpost").await?;
        }
    }
    Ok(())
}

/// The message on the contact's timeline, and `last_reply_at` for a person's reply that is
/// proven to come from them.
async fn record_message(
    db: &Db,
    id: i64,
    contact: i64,
    a: &Analysis,
    at: &Attribution,
) -> anyhow::Result<()> {
    let t = now();
    let (kind, summary) = timeline_entry(a, at);
    let proven_reply = proven_reply(a, at);
    in_tx!(db, tx => {
        record_activity!(tx, &NewActivity {
            contact_id: contact,
            at: t,
            kind,
            summary: summary.clone(),
            detail: timeline_detail(id, a, at),
            campaign_id: at.campaign_id,
            inbound_id: Some(id),
        });
        if proven_reply {
            sqlx::query("UPDATE contacts SET last_reply_at = $1 WHERE id = $2")
                .bind(t)
                .bind(contact)
                .execute(&mut **tx)
                .await?;
        }
    });
    Ok(())
}

/// A person's reply proven to come from the contact: it sets `last_reply_at`.
pub(super) fn proven_reply(a: &Analysis, at: &Attribution) -> bool {
    a.kind == MessageKind::Reply && at.strength.proves() && !at.organisation_sender
}

/// Kind and summary of the timeline entry for an inbound message. A mail from the organisation's
/// own address is not the contact's reply (nor counted as one).
pub(super) fn timeline_entry(a: &Analysis, at: &Attribution) -> (&'static str, String) {
    if at.organisation_sender && a.kind == MessageKind::Reply {
        return (
            "organisation_mail",
            format!(
                "Mail der Organisation, nicht angewandt / mail from the organisation, not applied: {}",
                snippet(&a.text)
            ),
        );
    }
    match a.kind {
        MessageKind::Reply => ("reply", format!("Antwort / reply: {}", snippet(&a.text))),
        MessageKind::AutoReply => (
            "auto_reply",
            format!(
                "Abwesenheitsnotiz / auto-reply: {}",
                a.subject.as_deref().unwrap_or("")
            ),
        ),
        MessageKind::Bounce => ("bounce", "Unzustellbar / bounce report".to_string()),
        MessageKind::Complaint => ("complaint", "Beschwerde / complaint".to_string()),
    }
}

pub(super) fn timeline_detail(id: i64, a: &Analysis, at: &Attribution) -> serde_json::Value {
    json!({"inbound_id": id, "intent": a.intent, "confidence": a.confidence, "attribution": at.strength, "message_id": a.message_id})
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
pub(super) fn decision_status(mode: Mode) -> &'static str {
    match mode {
        Mode::Apply | Mode::Review => "pending",
        Mode::Note => "noted",
    }
}

async fn insert_decision(
    db: &Db,
    inbound: i64,
    at: &Attribution,
    step: &Step,
) -> anyhow::Result<i64> {
    let status = decision_status(step.mode);
    Ok(on_db!(db, p => {
        sqlx::query_scalar(
            "INSERT INTO decisions (inbound_id, contact_id, campaign_id, action, status, confidence, reason, plan, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(inbound)
        .bind(at.contact_id)
        .bind(at.campaign_id)
        .bind(step.action.name())
        .bind(status)
        .bind(step.confidence)
        .bind(&step.reason)
        .bind(serde_json::to_string(&step.action)?)
        .bind(now())
        .fetch_all(p)
        .await
        .and_then(crate::store::returned_one)?
    }))
}

async fn finish_decision(
    db: &Db,
    id: i64,
    status: &str,
    undo: &serde_json::Value,
    by: &str,
) -> anyhow::Result<()> {
    on_db!(db, p => {
        sqlx::query("UPDATE decisions SET status = $1, undo = $2, decided_at = $3, decided_by = $4 WHERE id = $5")
            .bind(status)
            .bind(undo.to_string())
            .bind(now())
            .bind(by)
            .bind(id)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// Performs one action, and records a reply's wish not to be invited before a time; returns
/// how to undo both.
async fn perform(
    inb: &Inbound,
    inbound: i64,
    at: &Attribution,
    action: &Action,
    a: &Analysis,
) -> anyhow::Result<serde_json::Value> {
    let mut undo = perform_action(inb, inbound, at, action, a).await?;
    if let Some(w) = record_wish(inb, inbound, at, a).await? {
        if let Some(o) = undo.as_object_mut() {
            o.insert("wish".into(), w);
        }
    }
    Ok(undo)
}

/// A reply's `not_before` as the contact's wish for the answered campaign's topic; returns how
/// to undo it (`None` when there is nothing to record).
async fn record_wish(
    inb: &Inbound,
    inbound: i64,
    at: &Attribution,
    a: &Analysis,
) -> anyhow::Result<Option<serde_json::Value>> {
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
        tracing::warn!(inbound, wish, "unknown not_before wish: not recorded");
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
    let prev = store::wishes::set(&inb.db, &w).await?;
    Ok(Some(
        json!({"contact_id": contact, "topic_id": topic, "prev": prev}),
    ))
}

/// Performs one action; returns how to undo it.
async fn perform_action(
    inb: &Inbound,
    inbound: i64,
    at: &Attribution,
    action: &Action,
    a: &Analysis,
) -> anyhow::Result<serde_json::Value> {
    let db = &inb.db;
    let cause = a
        .message_id
        .clone()
        .unwrap_or_else(|| format!("inbound:{inbound}"));
    let contact = at.contact_id;
    match action {
        Action::Encounter { occasion_id }
        | Action::Decline {
            occasion_id: Some(occasion_id),
        } => {
            let contact = contact.ok_or_else(|| anyhow::anyhow!("no contact"))?;
            let occasion = store::occasions::by_id(db, *occasion_id).await?;
            let accept = matches!(action, Action::Encounter { .. });
            // The relation is kept under the occasion's topic: look it up (and undo it) there.
            let undo = relation_undo(
                db,
                contact,
                RelationForm::Encounter,
                Some(occasion.id),
                occasion.topic_id,
            )
            .await?;
            let relation = store::relations::set(
                db,
                &NewRelation {
                    contact_id: contact,
                    form: RelationForm::Encounter,
                    topic_id: occasion.topic_id,
                    occasion_id: Some(occasion.id),
                    status: if accept {
                        RelationStatus::Confirmed
                    } else {
                        RelationStatus::Declined
                    },
                    until: Some(
                        occasion
                            .ends_at
                            .unwrap_or(occasion.starts_at + chrono::Duration::hours(3)),
                    ),
                    cause_kind: "message".into(),
                    cause_ref: Some(cause),
                    note: Some(snippet(&a.text)),
                    inbound_id: Some(inbound),
                    campaign_id: at.campaign_id,
                },
            )
            .await?;
            if let (true, Some(n)) = (accept, a.party_size) {
                store::relations::set_party_size(db, relation, Some(i64::from(n))).await?;
            }
            if accept && inb.cfg.inbound.send_acknowledgements {
                notify(
                    inb,
                    at,
                    contact,
                    MailKind::RsvpAck,
                    json!({"rsvp": {"answer": "yes"}}),
                    &format!("ack.{inbound}"),
                    a,
                )
                .await;
            }
            Ok(undo)
        }
        Action::Decline { occasion_id: None } => Ok(json!({})),
        Action::Cooperation { topic_id } => {
            let contact = contact.ok_or_else(|| anyhow::anyhow!("no contact"))?;
            let undo =
                relation_undo(db, contact, RelationForm::Cooperation, None, *topic_id).await?;
            store::relations::set(
                db,
                &NewRelation {
                    contact_id: contact,
                    form: RelationForm::Cooperation,
                    topic_id: *topic_id,
                    occasion_id: None,
                    status: RelationStatus::Interested,
                    until: None,
                    cause_kind: "message".into(),
                    cause_ref: Some(cause),
                    note: Some(snippet(&a.text)),
                    inbound_id: Some(inbound),
                    campaign_id: at.campaign_id,
                },
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
            let changed =
                withdraw(db, contact, scope, "reply", &cause, inbound, at.campaign_id).await?;
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
            Ok(json!({"consent": changed}))
        }
        Action::Complaint => {
            let contact = contact.ok_or_else(|| anyhow::anyhow!("no contact"))?;
            let changed = withdraw(
                db,
                contact,
                None,
                "complaint",
                &cause,
                inbound,
                at.campaign_id,
            )
            .await?;
            Ok(json!({"consent": changed}))
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
                    "hard_bounce",
                    format!(
                        "Adresse unzustellbar, gesperrt / address bounced, suppressed ({})",
                        status.as_deref().unwrap_or("?")
                    ),
                    inbound,
                    at.campaign_id,
                )
                .await?;
            }
            Ok(if existed {
                json!({})
            } else {
                json!({"suppression": address})
            })
        }
        Action::SoftBounce { address, status } => {
            let Some(c) = contact else {
                return Ok(json!({}));
            };
            note_activity(
                db,
                c,
                "soft_bounce",
                format!(
                    "vorübergehend unzustellbar / soft bounce ({})",
                    status.as_deref().unwrap_or("?")
                ),
                inbound,
                at.campaign_id,
            )
            .await?;
            let since: Timestamp = now() - chrono::Duration::days(inb.cfg.inbound.soft_bounce_days);
            let n: i64 = on_db!(db, p => {
                sqlx::query_scalar("SELECT COUNT(*) FROM activities WHERE contact_id = $1 AND kind = 'soft_bounce' AND at > $2")
                    .bind(c)
                    .bind(since)
                    .fetch_one(p)
                    .await?
            });
            if n >= inb.cfg.inbound.soft_bounce_limit
                && !store::suppressions::is_suppressed(db, address).await?
            {
                let note = format!(
                    "{n} soft bounces in {} days",
                    inb.cfg.inbound.soft_bounce_days
                );
                store::suppressions::add(db, address, SuppressionReason::SoftBounces, Some(&note))
                    .await?;
                return Ok(json!({"suppression": address}));
            }
            Ok(json!({}))
        }
        Action::AutoReply | Action::Question | Action::Note => Ok(json!({})),
    }
}

async fn note_activity(
    db: &Db,
    contact: i64,
    kind: &str,
    summary: String,
    inbound: i64,
    campaign: Option<i64>,
) -> anyhow::Result<()> {
    let t = now();
    in_tx!(db, tx => {
        record_activity!(tx, &NewActivity { contact_id: contact, at: t, kind, summary: summary.clone(), detail: json!({"inbound_id": inbound}), campaign_id: campaign, inbound_id: Some(inbound) });
    });
    Ok(())
}

/// The state of the relation an action is about to change, to restore it on undo.
async fn relation_undo(
    db: &Db,
    contact: i64,
    form: RelationForm,
    occasion: Option<i64>,
    topic: Option<i64>,
) -> anyhow::Result<serde_json::Value> {
    let prev: Option<(i64, String, Option<Timestamp>, Option<i64>)> = on_db!(db, p => {
        sqlx::query_as(
            "SELECT id, status, until, party_size FROM relations WHERE contact_id = $1 AND form = $2
             AND COALESCE(occasion_id, 0) = $3 AND COALESCE(topic_id, 0) = $4",
        )
        .bind(contact)
        .bind(form.as_str())
        .bind(occasion.unwrap_or(0))
        .bind(topic.unwrap_or(0))
        .fetch_optional(p)
        .await?
    });
    Ok(json!({"relation": {
        "contact_id": contact, "form": form.as_str(), "occasion_id": occasion, "topic_id": topic,
        "prev": prev.map(|(id, status, until, party)| json!({"id": id, "status": status, "until": until, "party_size": party})),
    }}))
}

/// Withdraws consent (one topic, or all); returns the previous status of each changed topic.
async fn withdraw(
    db: &Db,
    contact: i64,
    topic: Option<i64>,
    method: &str,
    cause: &str,
    inbound: i64,
    campaign: Option<i64>,
) -> anyhow::Result<Vec<(i64, String)>> {
    let subs = store::contacts::subscriptions(db, contact).await?;
    let mut changed = Vec::new();
    for s in subs {
        if s.status == "unsubscribed" || topic.is_some_and(|t| t != s.topic_id) {
            continue;
        }
        store::contacts::set_consent(
            db,
            contact,
            s.topic_id,
            ConsentStatus::Unsubscribed,
            method,
            Some(cause),
            Some(inbound),
            campaign,
        )
        .await?;
        changed.push((s.topic_id, s.status));
    }
    Ok(changed)
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
    contact: i64,
    kind: MailKind,
    extra: serde_json::Value,
    tag: &str,
    a: &Analysis,
) {
    if let Err(e) = try_notify(inb, at, contact, kind, extra, tag, To::Contact(a)).await {
        tracing::warn!(%kind, contact, "notification not sent: {e:#}");
    }
}

async fn notify_organiser(
    inb: &Inbound,
    at: &Attribution,
    contact: i64,
    a: &Analysis,
    inbound: i64,
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
        tracing::warn!(contact, "organiser not notified: {e:#}");
    }
}

/// Sends a notification in the frame of the answered campaign. To the organiser, the context
/// still describes the contact, but the notice names no token of the contact (its links are
/// signed for no contact) and is answered to the contact's own address.
async fn try_notify(
    inb: &Inbound,
    at: &Attribution,
    contact: i64,
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
    let message_id = format!("<np.{tag}@{domain}>");
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
            let mut extra = extra;
            if let Some(o) = extra.as_object_mut() {
                o.insert("contact".into(), json!({"email": c.email, "name": c.name, "organisation": c.organisation, "language": c.language}));
            }
            let organiser = Recipient {
                contact_id: 0,
                email: inb.cfg.organisation.organiser.clone(),
                name: None,
                organisation: None,
                language: Some(inb.cfg.default_language.clone()),
                address: serde_json::Map::new(),
            };
            let notice = Answer::Notice {
                contact_name: c.name.clone(),
                contact_email: c.email.clone(),
            };
            notifier
                .send_answer(kind, &ctx, &organiser, extra, &message_id, &notice)
                .await?
        }
    }
    Ok(())
}

// ----- the review queue -----

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DecisionRow {
    pub id: i64,
    pub inbound_id: i64,
    pub action: String,
    pub status: String,
    pub confidence: Option<f32>,
    pub reason: String,
    pub contact: Option<String>,
    pub from_addr: Option<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub created_at: Timestamp,
}

/// Pending decisions, and with `all` also recent applied, rejected and undone ones.
pub async fn review_list(db: &Db, all: bool, limit: i64) -> anyhow::Result<Vec<DecisionRow>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, DecisionRow>(
            "SELECT d.id, d.inbound_id, d.action, d.status, d.confidence, d.reason, c.email AS contact,
                    m.from_addr, m.subject, m.visible_text AS text, d.created_at
             FROM decisions d JOIN inbound_messages m ON m.id = d.inbound_id
             LEFT JOIN contacts c ON c.id = d.contact_id
             WHERE d.status = 'pending' OR ($1 = 1 AND d.status <> 'noted')
             ORDER BY d.id DESC LIMIT $2",
        )
        .bind(i64::from(all))
        .bind(limit)
        .fetch_all(p)
        .await?
    }))
}

#[derive(sqlx::FromRow)]
struct Stored {
    inbound_id: i64,
    contact_id: Option<i64>,
    campaign_id: Option<i64>,
    status: String,
    plan: String,
    undo: String,
}

async fn load_decision(db: &Db, id: i64) -> anyhow::Result<Stored> {
    let row = on_db!(db, p => {
        sqlx::query_as::<_, Stored>(
            "SELECT inbound_id, contact_id, campaign_id, status, plan, undo FROM decisions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?
    });
    row.ok_or_else(|| anyhow::anyhow!("no decision {id} (see `netzpost review list`)"))
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
    if d.status != "pending" {
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
    };
    if let Some(c) = d.campaign_id {
        let k = store::campaigns::by_id(&inb.db, c).await?;
        at.campaign_id = Some(c);
        at.topic_id = k.topic_id;
        at.occasion_id = k.occasion_id;
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
    let raw: Vec<u8> = on_db!(&inb.db, p => {
        sqlx::query_scalar("SELECT raw FROM inbound_messages WHERE id = $1").bind(d.inbound_id).fetch_one(p).await?
    });
    let analysis = crate::classify::analyze(&raw, &inb.rules)?;
    let undo = perform(inb, d.inbound_id, &at, &action, &analysis).await?;
    on_db!(&inb.db, p => {
        sqlx::query("UPDATE decisions SET action = $1, plan = $2 WHERE id = $3")
            .bind(action.name())
            .bind(serde_json::to_string(&action)?)
            .bind(id)
            .execute(p)
            .await?;
    });
    finish_decision(&inb.db, id, "applied", &undo, by).await?;
    Ok(action.name().to_string())
}

pub async fn review_reject(db: &Db, id: i64, by: &str) -> anyhow::Result<()> {
    let d = load_decision(db, id).await?;
    if d.status != "pending" {
        anyhow::bail!("decision {id} is {}, not pending", d.status);
    }
    finish_decision(db, id, "rejected", &json!({}), by).await
}

/// Reverts an applied decision: the relation, consent and suppression as they were before.
pub async fn review_undo(db: &Db, id: i64, by: &str) -> anyhow::Result<()> {
    let d = load_decision(db, id).await?;
    if d.status != "applied" {
        anyhow::bail!(
            "decision {id} is {}, only an applied decision can be undone",
            d.status
        );
    }
    let undo: serde_json::Value = serde_json::from_str(&d.undo)?;
    let cause = format!("undo of decision {id} by {by}");
    if let Some(r) = undo.get("relation") {
        let contact = r["contact_id"].as_i64().unwrap_or_default();
        let form = r["form"].as_str().unwrap_or("encounter").to_string();
        let occasion = r["occasion_id"].as_i64();
        let topic = r["topic_id"].as_i64();
        let (status, until, party_size) = match r.get("prev").filter(|p| !p.is_null()) {
            Some(p) => (
                p["status"].as_str().unwrap_or("undone").to_string(),
                p["until"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&chrono::Utc)),
                p["party_size"].as_i64(),
            ),
            None => ("undone".to_string(), None, None),
        };
        let form: RelationForm = form.parse().map_err(anyhow::Error::msg)?;
        let status: RelationStatus = status.parse().map_err(anyhow::Error::msg)?;
        let relation = store::relations::set(
            db,
            &NewRelation {
                contact_id: contact,
                form,
                topic_id: topic,
                occasion_id: occasion,
                status,
                until,
                cause_kind: "person".into(),
                cause_ref: Some(cause.clone()),
                note: None,
                inbound_id: Some(d.inbound_id),
                campaign_id: d.campaign_id,
            },
        )
        .await?;
        store::relations::set_party_size(db, relation, party_size).await?;
    }
    if let Some(w) = undo.get("wish") {
        let prev: Option<store::wishes::Wish> = serde_json::from_value(w["prev"].clone())?;
        store::wishes::restore(
            db,
            w["contact_id"].as_i64().unwrap_or_default(),
            w["topic_id"].as_i64().unwrap_or_default(),
            prev.as_ref(),
        )
        .await?;
    }
    if let (Some(list), Some(contact)) =
        (undo.get("consent").and_then(|c| c.as_array()), d.contact_id)
    {
        for item in list {
            let topic = item[0].as_i64().unwrap_or_default();
            let status: ConsentStatus = item[1]
                .as_str()
                .unwrap_or("pending")
                .parse()
                .map_err(anyhow::Error::msg)?;
            store::contacts::set_consent(
                db,
                contact,
                topic,
                status,
                "undo",
                Some(&cause),
                Some(d.inbound_id),
                d.campaign_id,
            )
            .await?;
        }
    }
    if let Some(addr) = undo.get("suppression").and_then(|s| s.as_str()) {
        on_db!(db, p => {
            sqlx::query("DELETE FROM suppressions WHERE address_hash = $1")
                .bind(crate::domain::key_hash(addr))
                .execute(p)
                .await?;
        });
    }
    finish_decision(db, id, "undone", &undo, by).await
}
