//! The inbound pipeline: spool (raw bytes first) -> analyse (pure, `crate::classify`) ->
//! attribute (token, In-Reply-To, From) -> plan (pure) -> apply or review.

pub mod answer;
pub mod apply;
pub mod attribute;
pub mod batch;
pub mod maildir;
pub mod plan;

use crate::classify::{self, Analysis, Rules};
use crate::config::Config;
use crate::domain::InboundId;
use crate::outbound::sender::Notifier;
use crate::store::inbound::InboundStatus;
use crate::store::{now, Db};
use crate::token::TokenKey;
use serde::Serialize;
use std::sync::Arc;

/// Everything processing needs; cheap to share.
pub struct Inbound {
    pub db: Db,
    pub cfg: Arc<Config>,
    pub rules: Arc<Rules>,
    pub key: TokenKey,
    /// Sends acknowledgements and notifications; `None` records them as not sent.
    pub notifier: Option<Arc<Notifier>>,
    /// When the daemon read the maildir last (`inbound.poll_secs` apart).
    maildir_polled: std::sync::Mutex<Option<std::time::Instant>>,
}

/// Loads the bundled rules plus the user's file (config `inbound.rules_file`).
pub fn load_rules(cfg: &Config) -> anyhow::Result<Rules> {
    Ok(match &cfg.inbound.rules_file {
        Some(p) => Rules::from_toml_file(p)?,
        None => Rules::builtin(),
    })
}

/// Why a message cannot be taken up again.
#[derive(Debug, thiserror::Error)]
pub enum ReprocessError {
    #[error("inbound message {0} is not quarantined")]
    NotQuarantined(InboundId),
}

#[derive(Debug, Clone, Serialize)]
pub struct Spooled {
    pub id: InboundId,
    pub duplicate: bool,
}

pub use crate::store::inbound::InboundRow;

/// The key that makes a message unique: its Message-ID, or a hash of its bytes.
pub fn dedup_key(raw: &[u8]) -> String {
    header_value(raw, "message-id")
        .map(|v| v.trim().trim_matches(['<', '>']).to_lowercase())
        .filter(|v| !v.is_empty())
        .map(|v| format!("mid:{v}"))
        .unwrap_or_else(|| {
            use sha2::{Digest, Sha256};
            format!("sha256:{}", hex::encode(Sha256::digest(raw)))
        })
}

/// A cheap scan of the header block for one header (unfolded), without a full parse: the spool
/// must work even for bytes that no parser accepts.
fn header_value(raw: &[u8], name: &str) -> Option<String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len().min(64 * 1024));
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut found: Option<String> = None;
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = found.as_mut() {
                v.push_str(line.trim());
            }
            continue;
        }
        if found.is_some() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case(name) {
                found = Some(v.trim().to_string());
            }
        }
    }
    found
}

/// Strips an mbox "From " first line; everything else is kept byte for byte.
pub fn strip_mbox_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        match raw.iter().position(|&b| b == b'\n') {
            Some(i) => &raw[i + 1..],
            None => raw,
        }
    } else {
        raw
    }
}

impl Inbound {
    pub fn new(
        db: Db,
        cfg: Arc<Config>,
        notifier: Option<Arc<Notifier>>,
    ) -> anyhow::Result<Inbound> {
        let key = cfg.token_key()?;
        let rules = load_rules(&cfg)?;
        Ok(Inbound {
            key,
            db,
            cfg,
            rules: Arc::new(rules),
            notifier,
            maildir_polled: std::sync::Mutex::new(None),
        })
    }

    /// Stores the raw bytes unless a message with the same key is stored already.
    pub async fn spool(&self, raw: &[u8], source: &str) -> anyhow::Result<Spooled> {
        let raw = strip_mbox_line(raw);
        let key = dedup_key(raw);
        let (id, duplicate) = crate::store::inbound::spool(&self.db, &key, raw, source).await?;
        Ok(Spooled { id, duplicate })
    }

    /// Spools and processes one message. A duplicate changes nothing.
    pub async fn ingest(&self, raw: &[u8], source: &str) -> anyhow::Result<Spooled> {
        let mut s = self.ingest_many(vec![raw.to_vec()], source).await?;
        s.pop()
            .ok_or_else(|| anyhow::anyhow!("no spool row for the message"))
    }

    /// Analyses a spooled message and applies what it proves. A message that fails analysis is
    /// quarantined with its error; database errors propagate (the message stays `new`).
    pub async fn process(&self, id: InboundId) -> anyhow::Result<()> {
        // Claim it first: with several daemons on one database each message is applied once. A
        // claim whose daemon died expires after its lease and the message is taken again.
        let raw = crate::store::inbound::claim(&self.db, id, now() + batch::lease()).await?;
        let Some(raw) = raw else { return Ok(()) };
        let analysis = match classify::analyze(&raw, &self.rules) {
            Ok(a) => a,
            Err(e) => {
                self.quarantine(id, &e.to_string()).await?;
                return Ok(());
            }
        };
        let mut attribution = attribute::attribute(&self.db, &self.key, &analysis, &raw).await?;
        attribution.organisation_sender =
            attribute::from_organisation(&self.cfg.organisation, analysis.from.as_deref());
        let adopt = self.should_adopt(&analysis, &attribution);
        if !adopt {
            self.record_analysis(id, &analysis, &attribution).await?;
        }
        self.complete(id, &analysis, attribution, adopt).await
    }

    /// A reply from nobody we know, and the configuration makes such senders contacts.
    fn should_adopt(&self, a: &Analysis, at: &attribute::Attribution) -> bool {
        at.contact_id.is_none()
            && !at.organisation_sender
            && a.kind == classify::MessageKind::Reply
            && self.cfg.inbound.create_unknown_senders
    }

    /// The rest of processing a claimed message whose analysis is recorded: adopt the sender
    /// (`adopt`), plan, apply, mark processed.
    async fn complete(
        &self,
        id: InboundId,
        analysis: &Analysis,
        mut attribution: attribute::Attribution,
        adopt: bool,
    ) -> anyhow::Result<()> {
        if adopt {
            attribution = self.adopt_sender(analysis, attribution).await?;
            self.record_analysis(id, analysis, &attribution).await?;
        }
        let plan = plan::plan(analysis, &attribution, self.cfg.inbound.review_threshold);
        apply::execute(self, id, analysis, &attribution, &plan).await?;
        crate::store::inbound::mark_processed(&self.db, id).await?;
        Ok(())
    }

    /// `inbound.create_unknown_senders`: a person who writes to us becomes a contact, without
    /// consent for anything (writing is not consenting), so nobody is mailed because of it.
    async fn adopt_sender(
        &self,
        a: &Analysis,
        mut at: attribute::Attribution,
    ) -> anyhow::Result<attribute::Attribution> {
        let Some(from) = a.from.as_deref() else {
            return Ok(at);
        };
        let Ok(email) = crate::domain::EmailAddress::parse(from) else {
            return Ok(at);
        };
        if crate::store::suppressions::is_suppressed(&self.db, &email.key()).await? {
            return Ok(at);
        }
        let row = crate::store::contacts::ImportRow {
            email: email.clone(),
            name: None,
            organisation: None,
            language: Some(a.language.clone()).filter(|l| l.len() == 2),
            attributes: serde_json::Map::new(),
            topics: Vec::new(),
        };
        let c = crate::store::contacts::upsert_one(
            &self.db,
            &row,
            crate::domain::ConsentStatus::Pending,
            "inbound",
        )
        .await?;
        at.contact_id = Some(c.id);
        at.contact_email = Some(c.email);
        at.strength = attribute::Strength::From;
        Ok(at)
    }

    async fn quarantine(&self, id: InboundId, error: &str) -> anyhow::Result<()> {
        tracing::warn!(inbound = id.get(), %error, "message quarantined");
        crate::store::inbound::quarantine(&self.db, id, error).await?;
        Ok(())
    }

    async fn record_analysis(
        &self,
        id: InboundId,
        a: &Analysis,
        at: &attribute::Attribution,
    ) -> anyhow::Result<()> {
        let analysed = crate::store::inbound::Analysed {
            kind: a.kind,
            intent: a.intent,
            confidence: a.confidence,
            language: &a.language,
            visible_text: &a.text,
            from_addr: a.from.as_deref(),
            subject: a.subject.as_deref(),
            contact_id: at.contact_id,
            campaign_id: at.campaign_id,
            attribution: at.strength.as_str(),
        };
        crate::store::inbound::record_analysis(&self.db, id, &analysed).await?;
        Ok(())
    }

    /// Processes every message that is still `new` (after a crash, or spooled by another path).
    pub async fn process_pending(&self) -> anyhow::Result<usize> {
        let ids = crate::store::inbound::pending_ids(&self.db).await?;
        for id in &ids {
            self.process(*id).await?;
        }
        Ok(ids.len())
    }

    /// Processes a quarantined (or any) message again, e.g. after a fix.
    pub async fn reprocess(&self, id: InboundId) -> anyhow::Result<()> {
        if !crate::store::inbound::release(&self.db, id).await? {
            return Err(ReprocessError::NotQuarantined(id).into());
        }
        self.process(id).await
    }

    pub async fn list(
        &self,
        status: Option<InboundStatus>,
        limit: i64,
    ) -> anyhow::Result<Vec<InboundRow>> {
        Ok(crate::store::inbound::list(&self.db, status, limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_key_uses_message_id_or_hash() {
        let a = b"From: a@x.de\r\nMessage-ID:\r\n <Abc@X.de>\r\n\r\nHallo";
        assert_eq!(dedup_key(a), "mid:abc@x.de");
        let b = b"From: a@x.de\n\nHallo";
        assert!(dedup_key(b).starts_with("sha256:"));
        assert_ne!(dedup_key(b), dedup_key(b"From: a@x.de\n\nHallo!"));
    }

    #[test]
    fn mbox_line_is_stripped() {
        assert_eq!(
            strip_mbox_line(b"From a@b Mon Jan 1\nX: y\n\nz"),
            b"X: y\n\nz"
        );
        assert_eq!(strip_mbox_line(b"From: a@b\n\nz"), b"From: a@b\n\nz");
    }
}
