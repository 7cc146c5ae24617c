//! The contact's timeline: every send, reply, bounce, consent and relation change. An entry is
//! stored as its kind and structured detail (JSON); `crate::timeline` describes it in the
//! reader's language when it is shown.

use super::{on_tx, Result, Timestamp, Tx};
use crate::domain::{CampaignId, ContactId, InboundId};
use serde::Serialize;

crate::domain::text_enum!(
    /// What a timeline entry records.
    pub ActivityKind {
        /// Landed by an import or a form (detail: source, topics, consent, updated).
        Import => "import",
        /// Fields changed by a person (detail: the fields, by).
        Updated => "updated",
        /// Consent for a topic changed (detail: topic_id, status, method, evidence).
        Consent => "consent",
        /// A confirmation mail was asked for (detail: topic_id, evidence).
        Confirmation => "confirmation",
        /// The contact, silent for long, was asked whether they still want mail on a topic
        /// (detail: topic_id, until).
        RenewalAsked => "renewal_asked",
        /// The person chose a language (detail: language, method).
        Preferences => "preferences",
        /// A relation was set (detail: form, status, occasion_id, topic_id, cause).
        Relation => "relation",
        /// A campaign's message was accepted by the mail server (detail: delivery_id).
        Sent => "sent",
        /// The mail server refused the message for good (detail: delivery_id, error).
        Bounced => "bounced",
        /// Temporary failures used up the attempts (detail: delivery_id, error).
        Failed => "failed",
        /// Not sent: consent withdrawn or address suppressed meanwhile (detail: delivery_id).
        Skipped => "skipped",
        /// A person's reply (detail: inbound_id, intent, snippet, ...).
        Reply => "reply",
        AutoReply => "auto_reply",
        /// A bounce report about the contact's address.
        Bounce => "bounce",
        Complaint => "complaint",
        /// A mail from the organisation's own address, not the contact's reply (detail: snippet).
        OrganisationMail => "organisation_mail",
        /// The address bounced for good and is suppressed (detail: inbound_id, status).
        HardBounce => "hard_bounce",
        /// The address bounced for now (detail: inbound_id, status).
        SoftBounce => "soft_bounce",
        /// An occasion the contact was invited to changed (detail: occasion_id, title, changed,
        /// sequence, by).
        OccasionChanged => "occasion_changed",
        /// An occasion the contact was invited to was cancelled (detail: occasion_id, title,
        /// reason, by).
        OccasionCancelled => "occasion_cancelled",
        /// Whether the contact came to an occasion (detail: occasion_id, attendance, cause).
        Attendance => "attendance",
        /// A person of the organisation answered the contact's reply from the review queue
        /// (detail: inbound_id, decision_id, snippet, by).
        Answer => "answer",
        /// A coordinator's note (detail: text, by).
        Note => "note",
        /// An answer to an occasion's date poll (detail: occasion_id, title, suits: the numbers
        /// of the dates that suit, cause).
        PollAnswer => "poll_answer",
        /// The date of an occasion the contact was asked about was picked (detail: occasion_id,
        /// title, date: its number, can: whether they had said it suits them, by).
        DatePicked => "date_picked",
    }
);

/// A timeline entry as read.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Activity {
    pub id: i64,
    pub at: Timestamp,
    /// An [`ActivityKind`] (as text: rows of earlier versions are read as they are).
    pub kind: String,
    /// Prose stored by earlier versions (empty in later rows); `crate::timeline::render` puts
    /// the description in the reader's language here, falling back to it.
    pub summary: String,
    pub detail: String,
    pub campaign_id: Option<CampaignId>,
    /// The name of the campaign, when there is one.
    pub campaign: Option<String>,
    pub inbound_id: Option<InboundId>,
}

/// One entry for the timeline; `record` writes it within the caller's transaction, so the change
/// and its record land together or not at all.
#[derive(Debug, Clone)]
pub struct NewActivity {
    pub contact_id: ContactId,
    pub at: Timestamp,
    pub kind: ActivityKind,
    pub detail: serde_json::Value,
    pub campaign_id: Option<CampaignId>,
    pub inbound_id: Option<InboundId>,
}

macro_rules! record_impl {
    ($conn:expr, $a:expr) => {{
        let a = $a;
        sqlx::query(
            "INSERT INTO activities (contact_id, at, kind, summary, detail, campaign_id, inbound_id)
             VALUES ($1, $2, $3, '', $4, $5, $6)",
        )
        .bind(a.contact_id)
        .bind(a.at)
        .bind(a.kind)
        .bind(a.detail.to_string())
        .bind(a.campaign_id)
        .bind(a.inbound_id)
        .execute(&mut *$conn)
        .await?;
        sqlx::query("UPDATE contacts SET last_activity_at = $1 WHERE id = $2")
            .bind(a.at)
            .bind(a.contact_id)
            .execute(&mut *$conn)
            .await?;
    }};
}

/// Lets generic transaction code call one name for both backends.
pub trait Record {
    fn record(&mut self, a: &NewActivity) -> impl std::future::Future<Output = Result<()>> + Send;
}

impl Record for sqlx::SqliteConnection {
    async fn record(&mut self, a: &NewActivity) -> Result<()> {
        record_impl!(self, a);
        Ok(())
    }
}

impl Record for sqlx::PgConnection {
    async fn record(&mut self, a: &NewActivity) -> Result<()> {
        record_impl!(self, a);
        Ok(())
    }
}

/// Writes `a` within the caller's transaction: the change and its timeline entry land together.
pub async fn record(tx: &mut Tx, a: &NewActivity) -> Result<()> {
    on_tx!(tx, c => Record::record(c, a).await)
}

/// How many timeline entries of `kind` the contact has since `since` (soft bounces in a window).
pub async fn count_since(
    db: &super::Db,
    contact_id: ContactId,
    kind: ActivityKind,
    since: Timestamp,
) -> Result<i64> {
    Ok(crate::on_db!(db, p => {
        sqlx::query_scalar("SELECT COUNT(*) FROM activities WHERE contact_id = $1 AND kind = $2 AND at > $3")
            .bind(contact_id)
            .bind(kind)
            .bind(since)
            .fetch_one(p)
            .await?
    }))
}
