//! Builds the RFC 5322 message for one delivery with lettre, optionally DKIM-signed.
//!
//! Every header value that comes from users or contacts (names, subject, list id) goes through
//! [`header_text`], which turns CR, LF and other controls into spaces, so no value can start a
//! header of its own. Values with a fixed syntax (URLs, Message-ID) are checked and refused.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use lettre::address::{Address, Envelope};
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;
use std::time::SystemTime;

/// One message ready to be composed. Addresses are plain `local@domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub from_name: String,
    pub from_addr: String,
    pub to_name: Option<String>,
    pub to_addr: String,
    /// `antwort+<token>@...`; shown with `from_name`.
    pub reply_to: String,
    /// SMTP MAIL FROM (`bounce+<token>@...`), not a header.
    pub envelope_from: String,
    /// Deterministic per delivery; `<...>` added when missing.
    pub message_id: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// HTTPS one-click URL (RFC 8058); an `http:` URL is listed but gets no One-Click header.
    pub list_unsubscribe_url: Option<String>,
    /// Address or `mailto:` URI.
    pub list_unsubscribe_mailto: Option<String>,
    /// e.g. `Nachbarschaft Nord <nachbarschaft.netz.example.org>` or just the id.
    pub list_id: Option<String>,
    /// iCalendar `METHOD:REQUEST` object (see [`crate::outbound::ics`]).
    pub ics: Option<String>,
    pub date: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("{field}: invalid address '{value}': {source}")]
    Address {
        field: &'static str,
        value: String,
        source: lettre::address::AddressError,
    },
    #[error("{field}: unusable value '{value}': {reason}")]
    Header {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("envelope: {0}")]
    Envelope(lettre::error::Error),
    #[error("message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("DKIM key: {0}")]
    DkimKey(String),
}

// lettre reports builder failures with its own error type.
impl From<lettre::message::EmailError> for ComposeError {
    fn from(e: lettre::message::EmailError) -> Self {
        ComposeError::DkimKey(String::new()).with_build(e)
    }
}

impl ComposeError {
    fn with_build(self, e: lettre::message::EmailError) -> Self {
        let _ = self;
        ComposeError::Message(e.to_string())
    }
}
