//! What a message should change: a pure function of the analysis and the attribution, so the
//! daemon, `inbound explain` and the tests agree. Anything the message cannot prove, or that the
//! classifier is unsure of, becomes a pending decision for the review queue and changes nothing.

use super::attribute::{Attribution, Strength};
use crate::classify::{Analysis, Intent, MessageKind};
use crate::domain::{OccasionId, TopicId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Coming to the occasion: a confirmed encounter relation.
    Encounter { occasion_id: OccasionId },
    /// Not coming: recorded on the occasion, the contact stays.
    Decline { occasion_id: Option<OccasionId> },
    /// Interest in working together on a topic.
    Cooperation { topic_id: Option<TopicId> },
    /// A yes to the confirmation request for a topic: consent confirmed by reply.
    Confirm { topic_id: TopicId },
    /// Consent withdrawn: for the answered campaign's topic, or all (`topic_id: None`).
    Unsubscribe { topic_id: Option<TopicId> },
    /// A spam complaint: every consent withdrawn.
    Complaint,
    HardBounce {
        address: String,
        status: Option<String>,
    },
    SoftBounce {
        address: String,
        status: Option<String>,
    },
    /// An auto-reply: a timeline note, never an answer.
    AutoReply,
    /// An auto-reply names a successor or a new address: proposed for review only; accepted,
    /// the contact's relations end and the successor is asked to confirm (`activation::hand_over`).
    Successor {
        email: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The topic to ask the successor about: the answered campaign's (else the contact's
        /// first confirmed one, decided on acceptance).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic_id: Option<TopicId>,
    },
    /// An answer to an occasion's date poll: the numbers of the dates that suit (empty: none);
    /// the poll's other dates do not suit.
    PollAnswer {
        occasion_id: OccasionId,
        suits: Vec<u8>,
        /// How many dates the poll offered when the reply was read.
        dates: u8,
    },
    /// A question for a person to answer.
    Question,
    /// Nothing to do but keep the record.
    Note,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Encounter { .. } => "encounter",
            Action::Decline { .. } => "decline",
            Action::Cooperation { .. } => "cooperation",
            Action::Confirm { .. } => "confirm",
            Action::Unsubscribe { .. } => "unsubscribe",
            Action::Complaint => "complaint",
            Action::HardBounce { .. } => "hard_bounce",
            Action::SoftBounce { .. } => "soft_bounce",
            Action::AutoReply => "auto_reply",
            Action::Successor { .. } => "successor",
            Action::PollAnswer { .. } => "poll_answer",
            Action::Question => "question",
            Action::Note => "note",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Change things now.
    Apply,
    /// Wait for a person in the review queue.
    Review,
    /// Only record it.
    Note,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub action: Action,
    pub mode: Mode,
    pub confidence: f32,
    pub reason: String,
}

/// The steps for one message (usually one; a bounce report may name several recipients).
pub fn plan(a: &Analysis, at: &Attribution, threshold: f32) -> Vec<Step> {
    let step = |action, mode, reason: String| Step {
        action,
        mode,
        confidence: a.confidence,
        reason,
    };
    match a.kind {
        MessageKind::Bounce => {
            let mut steps = Vec::new();
            for b in &a.bounces {
                let action = if b.permanent {
                    Action::HardBounce {
                        address: b.recipient.to_lowercase(),
                        status: b.status.clone(),
                    }
                } else {
                    Action::SoftBounce {
                        address: b.recipient.to_lowercase(),
                        status: b.status.clone(),
                    }
                };
                // A bounce proves itself only with our token; then the failed recipient must be
                // the address that token was sent to.
                let matches = at.strength == Strength::Token
                    && at
                        .contact_email
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(&b.recipient));
                let (mode, reason) = if matches {
                    (
                        Mode::Apply,
                        format!("bounce for {} with a valid token", b.recipient),
                    )
                } else {
                    (
                        Mode::Review,
                        format!(
                            "bounce for {} without a token naming that address",
                            b.recipient
                        ),
                    )
                };
                steps.push(step(action, mode, reason));
            }
            if steps.is_empty() {
                steps.push(step(
                    Action::Note,
                    Mode::Note,
                    "bounce without a failed recipient".into(),
                ));
            }
            steps
        }
        MessageKind::Complaint => {
            if at.strength == Strength::Token {
                vec![step(
                    Action::Complaint,
                    Mode::Apply,
                    "complaint with a valid token".into(),
                )]
            } else if at.contact_id.is_some() {
                vec![step(
                    Action::Complaint,
                    Mode::Review,
                    "complaint without a token".into(),
                )]
            } else {
                vec![step(
                    Action::Note,
                    Mode::Note,
                    "complaint about an unknown recipient".into(),
                )]
            }
        }
        MessageKind::AutoReply => {
            let mut steps = if a.matched_rule.as_deref() == Some("model:auto-reply") {
                // Only the words say "automatic": a person checks that no answer is lost.
                vec![step(
                    Action::Question,
                    Mode::Review,
                    "reads like an automatic reply, but no header says so".into(),
                )]
            } else {
                vec![step(
                    Action::AutoReply,
                    Mode::Note,
                    "auto-reply: noted, never answered".into(),
                )]
            };
            // Nobody is written to because of an auto-reply: a successor is only proposed.
            if let (Some(s), Some(_)) = (&a.successor, at.contact_id) {
                steps.push(step(
                    Action::Successor {
                        email: s.email.clone(),
                        name: s.name.clone(),
                        topic_id: at.topic_id,
                    },
                    Mode::Review,
                    successor_reason(s, a.from.as_deref()),
                ));
            }
            steps
        }
        MessageKind::Reply => {
            if at.organisation_sender {
                return vec![step(
                    Action::Question,
                    Mode::Review,
                    "sent from the organisation's own address".into(),
                )];
            }
            if at.contact_id.is_none() {
                return vec![step(
                    Action::Note,
                    Mode::Note,
                    "reply from an unknown sender".into(),
                )];
            }
            if at.unsubscribe_address && at.strength == Strength::Token {
                return vec![Step {
                    action: Action::Unsubscribe {
                        topic_id: at.topic_id,
                    },
                    mode: Mode::Apply,
                    confidence: 1.0,
                    reason: "mail to the List-Unsubscribe address".into(),
                }];
            }
            if let Some(topic_id) = at.confirm_topic {
                if a.intent == Intent::Accept {
                    let (mode, reason) =
                        proof(a, at, threshold, "a yes to the confirmation request");
                    return vec![step(Action::Confirm { topic_id }, mode, reason)];
                }
                if a.intent != Intent::Unsubscribe {
                    return vec![step(
                        Action::Question,
                        Mode::Review,
                        "answers the confirmation request without a clear yes".into(),
                    )];
                }
            }
            if let (Some(occasion_id), true) = (at.occasion_id, at.poll_dates > 0) {
                if let Some(steps) = poll_steps(a, at, threshold, occasion_id) {
                    return steps;
                }
            }
            let action = match a.intent {
                Intent::Accept => match at.occasion_id {
                    Some(o) => Action::Encounter { occasion_id: o },
                    None => {
                        return vec![step(
                            Action::Question,
                            Mode::Review,
                            "says yes, but answers no invitation to an occasion".into(),
                        )]
                    }
                },
                Intent::Decline => Action::Decline {
                    occasion_id: at.occasion_id,
                },
                Intent::Cooperation => Action::Cooperation {
                    topic_id: at.topic_id,
                },
                Intent::Unsubscribe => Action::Unsubscribe {
                    topic_id: at.topic_id,
                },
                Intent::Question => {
                    return vec![step(
                        Action::Question,
                        Mode::Review,
                        "a question to answer".into(),
                    )]
                }
                Intent::None => {
                    // A missed decline must not be lost: a person reads what the classifier
                    // found nothing in.
                    return vec![step(
                        Action::Question,
                        Mode::Review,
                        "no decision recognised in the reply".into(),
                    )];
                }
            };
            let (mode, reason) = proof(a, at, threshold, &a.intent.to_string());
            let mut steps = vec![step(action, mode, reason)];
            if a.also_question {
                // The answer is applied; the question in it still needs a person.
                steps.push(step(
                    Action::Question,
                    Mode::Review,
                    "a question beside the answer".into(),
                ));
            }
            steps
        }
    }
}

/// The steps for a reply to an invitation whose occasion has an open date poll: the numbers it
/// names (`classify::poll`) are its answer, ahead of what the words would mean to an ordinary
/// invitation ("1" is a date here, not a yes). None: it is no answer to the poll but a
/// withdrawal, a refusal or a question, planned as usual.
fn poll_steps(
    a: &Analysis,
    at: &Attribution,
    threshold: f32,
    occasion_id: OccasionId,
) -> Option<Vec<Step>> {
    // A sure wish to unsubscribe is one ("keine Mails mehr" must not read as "no date suits");
    // an unsure one yields to clear numbers.
    if a.intent == Intent::Unsubscribe && a.confidence >= threshold {
        return None;
    }
    match crate::classify::poll::read(&a.text, at.poll_dates) {
        Some(suits) => {
            // The numbers are read for certain; the attribution still has to prove the sender.
            let (mode, reason) = proof_at(a, at, threshold, "an answer to the date poll", 1.0);
            let mut steps = vec![Step {
                action: Action::PollAnswer {
                    occasion_id,
                    suits,
                    dates: at.poll_dates,
                },
                mode,
                confidence: 1.0,
                reason,
            }];
            if a.also_question {
                steps.push(Step {
                    action: Action::Question,
                    mode: Mode::Review,
                    confidence: a.confidence,
                    reason: "a question beside the answer".into(),
                });
            }
            Some(steps)
        }
        None if matches!(
            a.intent,
            Intent::Decline | Intent::Question | Intent::Cooperation
        ) =>
        {
            None
        }
        None => Some(vec![Step {
            action: Action::Question,
            mode: Mode::Review,
            confidence: a.confidence,
            reason: "answers the date poll, but which dates suit is unclear".into(),
        }]),
    }
}

/// Whether a reply's decision is applied now or waits for a person, and why: applied only when
/// the attribution proves the sender, a token's reply comes from the very address it was sent
/// to, and the classifier is sure enough.
fn proof(a: &Analysis, at: &Attribution, threshold: f32, what: &str) -> (Mode, String) {
    proof_at(a, at, threshold, what, a.confidence)
}

/// [`proof`] with the certainty of the reading given.
fn proof_at(
    a: &Analysis,
    at: &Attribution,
    threshold: f32,
    what: &str,
    confidence: f32,
) -> (Mode, String) {
    let from_other = at.strength == Strength::Token
        && !matches!(
            (a.from.as_deref(), at.contact_email.as_deref()),
            (Some(f), Some(c)) if f.eq_ignore_ascii_case(c)
        );
    if !at.strength.proves() {
        (
            Mode::Review,
            format!("{what} attributed only by the From address"),
        )
    } else if from_other {
        (
            Mode::Review,
            format!(
                "{what} sent from {}, not from the contact the reply address names",
                a.from.as_deref().unwrap_or("an unknown address")
            ),
        )
    } else if confidence < threshold {
        (
            Mode::Review,
            format!("{what} with confidence {confidence:.2} below {threshold:.2}"),
        )
    } else {
        (
            Mode::Apply,
            format!(
                "{what} ({}), attributed by {}",
                a.matched_rule.as_deref().unwrap_or("rule"),
                at.strength.as_str()
            ),
        )
    }
}

/// The proposal as the review queue shows it: "Frau X hat die Einrichtung verlassen;
/// Nachfolge: Y <y@...>", or the new address.
fn successor_reason(s: &crate::classify::successor::Successor, from: Option<&str>) -> String {
    let who = s
        .left
        .clone()
        .or_else(|| from.map(str::to_string))
        .unwrap_or_else(|| "Der Kontakt".into());
    let to = match &s.name {
        Some(n) => format!("{n} <{}>", s.email),
        None => s.email.clone(),
    };
    if s.new_address {
        format!("{who} hat eine neue Adresse: {to}")
    } else {
        format!("{who} hat die Einrichtung verlassen; Nachfolge: {to}")
    }
}
