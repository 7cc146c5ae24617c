//! Pure inbound classification: raw bytes in, [`Analysis`] out.
//!
//! No database and no I/O: the daemon and `netzpost inbound explain` call exactly this code.
//! Pipeline: parse (mail-parser) -> kind (bounce / complaint / auto-reply / reply) -> visible
//! text (quotes and signatures off) -> intent (data-driven rules) -> language.

mod bounce;
mod intent;
mod kind;
mod lang;
mod parse;
mod visible;

use serde::{Deserialize, Serialize};

pub use intent::{Rules, RulesError};
pub use visible::visible_text;

/// What kind of message arrived. Only `Reply` may ever change a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Reply,
    AutoReply,
    Bounce,
    Complaint,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Reply => "reply",
            MessageKind::AutoReply => "auto_reply",
            MessageKind::Bounce => "bounce",
            MessageKind::Complaint => "complaint",
        }
    }
}

impl std::fmt::Display for MessageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MessageKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "reply" => Ok(MessageKind::Reply),
            "auto_reply" | "autoreply" => Ok(MessageKind::AutoReply),
            "bounce" => Ok(MessageKind::Bounce),
            "complaint" => Ok(MessageKind::Complaint),
            other => Err(format!("unknown message kind {other:?}")),
        }
    }
}

/// What the person wants, read from their new words only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    Accept,
    Decline,
    Cooperation,
    Unsubscribe,
    Question,
    None,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Accept => "accept",
            Intent::Decline => "decline",
            Intent::Cooperation => "cooperation",
            Intent::Unsubscribe => "unsubscribe",
            Intent::Question => "question",
            Intent::None => "none",
        }
    }
}

impl std::fmt::Display for Intent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Intent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "accept" => Ok(Intent::Accept),
            "decline" => Ok(Intent::Decline),
            "cooperation" => Ok(Intent::Cooperation),
            "unsubscribe" => Ok(Intent::Unsubscribe),
            "question" => Ok(Intent::Question),
            "none" | "" => Ok(Intent::None),
            other => Err(format!("unknown intent {other:?}")),
        }
    }
}

/// One failed recipient named by a bounce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BounceRecipient {
    pub recipient: String,
    /// true = hard failure (5.x.x, "user unknown"); false = delay / temporary failure.
    pub permanent: bool,
    /// RFC 3463 enhanced status code such as "5.1.1", when the bounce names one.
    pub status: Option<String>,
}

/// Everything the caller needs to attribute and apply an inbound message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub kind: MessageKind,
    pub intent: Intent,
    /// 0..1; the caller sends anything below its threshold (default 0.6) to human review.
    pub confidence: f32,
    /// "de", "en" (stopword counts; "de" when nothing decides, the project's home language).
    pub language: String,
    pub bounces: Vec<BounceRecipient>,
    /// The person's new words only (quotes, quote headers, signatures removed).
    pub text: String,
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Lower-cased From address.
    pub from: Option<String>,
    /// To, Cc, Delivered-To, X-Original-To; lower-cased, deduplicated.
    pub recipients: Vec<String>,
    pub subject: Option<String>,
    /// PARTSTAT of a text/calendar METHOD:REPLY part (ACCEPTED, DECLINED, TENTATIVE, ...).
    pub calendar_partstat: Option<String>,
    /// Which rule (or header sign) decided, for `explain` and the review queue.
    pub matched_rule: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error("empty input: no bytes to classify")]
    Empty,
}

/// Bodies larger than this are only looked at up to this many bytes: what a person writes
/// fits easily, and a pasted log or a huge text part must not cost unbounded time.
pub(crate) const MAX_TEXT_BYTES: usize = 256 * 1024;

/// Classifies one raw message (RFC 5322, optionally with an mbox "From " line).
/// Never panics; malformed input yields a best-effort analysis.
pub fn analyze(raw: &[u8], rules: &Rules) -> Result<Analysis, ClassifyError> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ClassifyError::Empty);
    }
    let p = parse::parse(raw);
    let verdict = kind::detect(&p);

    let body = p.body_text();
    let text = visible::visible_text(&body);
    let language = lang::detect(&text, &body, p.subject.as_deref()).to_string();

    let mut bounces = Vec::new();
    let (intent, confidence, matched_rule) = match verdict.kind {
        MessageKind::Reply => {
            let d = intent::decide(
                rules,
                &text,
                p.subject.as_deref(),
                p.calendar_partstat.as_deref(),
            );
            (d.intent, d.confidence, d.rule)
        }
        MessageKind::Bounce => {
            bounces = bounce::recipients(&p);
            (Intent::None, verdict.confidence, Some(verdict.sign))
        }
        MessageKind::AutoReply | MessageKind::Complaint => {
            (Intent::None, verdict.confidence, Some(verdict.sign))
        }
    };

    Ok(Analysis {
        kind: verdict.kind,
        intent,
        confidence: confidence.clamp(0.0, 1.0),
        language,
        bounces,
        text,
        message_id: p.message_id,
        in_reply_to: p.in_reply_to,
        references: p.references,
        from: p.from,
        recipients: p.recipients,
        subject: p.subject,
        calendar_partstat: p.calendar_partstat,
        matched_rule,
    })
}

/// The stable JSON shape printed by `netzpost inbound explain` (exactly these keys).
pub fn explain_json(file: &str, a: &Analysis) -> serde_json::Value {
    serde_json::json!({
        "file": file,
        "kind": a.kind.as_str(),
        "intent": a.intent.as_str(),
        "confidence": a.confidence,
        "language": a.language,
        "bounces": a.bounces.iter().map(|b| serde_json::json!({
            "recipient": b.recipient,
            "permanent": b.permanent,
            "status": b.status,
        })).collect::<Vec<_>>(),
        "text": a.text,
    })
}
