//! The mails that answer inbound messages (RSVP acknowledgements, unsubscribe confirmations,
//! the organiser's notice), threaded to the message they answer.

use super::{CampaignCtx, Composer, Recipient};
use crate::config::Config;
use crate::outbound::compose::{compose, Outgoing};
use crate::outbound::render::MailKind;
use crate::transport::Transport;
use std::sync::Arc;

/// What caused a mail the inbound pipeline sends, and so the headers it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An acknowledgement or confirmation to the contact whose reply caused it: `Auto-Submitted:
    /// auto-replied` (RFC 3834), threaded to that reply (`In-Reply-To`, `References`), and a "Re:"
    /// subject: the reply's own, else the template's.
    Reply {
        message_id: Option<String>,
        references: Vec<String>,
        subject: Option<String>,
    },
    /// A notice to the organisation about a contact: `Auto-Submitted: auto-generated`, no token
    /// (neither in Reply-To nor in the envelope sender) and no List-Unsubscribe, and Reply-To the
    /// contact's own address, so an answer reaches the contact and never netzpost.
    Notice {
        contact_name: Option<String>,
        contact_email: String,
    },
}

impl Answer {
    fn shape(&self, out: &mut Outgoing, cfg: &Config) {
        match self {
            Answer::Reply {
                message_id,
                references,
                subject,
            } => {
                out.auto_submitted = Some("auto-replied");
                let usable = |id: &&String| crate::outbound::compose::usable_message_id(id);
                let parent = message_id.as_ref().filter(usable).cloned();
                out.references = references.iter().filter(usable).cloned().collect();
                if let Some(p) = &parent {
                    out.references.push(p.clone());
                }
                out.in_reply_to = parent;
                out.subject = reply_subject(subject.as_deref(), &out.subject);
            }
            Answer::Notice {
                contact_name,
                contact_email,
            } => {
                out.auto_submitted = Some("auto-generated");
                out.reply_to = contact_email.clone();
                out.reply_to_name = contact_name.clone();
                out.envelope_from = cfg.organisation.sender.clone();
                out.list_unsubscribe_url = None;
                out.list_unsubscribe_mailto = None;
                out.list_id = None;
            }
        }
    }
}

/// "Re: " and the subject of the message answered (its own reply prefixes in several languages
/// taken off first), or `fallback` prefixed when that message had no subject.
pub fn reply_subject(answered: Option<&str>, fallback: &str) -> String {
    static PREFIX: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?i)^\s*((re|aw|antw|sv|vs|odp|ynt|yanıt|отв|від|رد)\s*(\[\d+\])?\s*:\s*)+",
        )
        .expect("regex")
    });
    let base = answered
        .map(|s| PREFIX.replace(s.trim(), "").trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| PREFIX.replace(fallback.trim(), "").trim().to_string());
    format!("Re: {base}")
}

/// A message a person wrote to a contact in answer to theirs.
#[derive(Debug, Clone)]
pub struct Personal<'a> {
    pub to_name: Option<String>,
    pub to_addr: String,
    /// The subject of the message answered ("Re: " is put before it).
    pub subject: Option<String>,
    pub text: &'a str,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub reply_to: String,
    pub message_id: String,
}

/// Sends the mails that answer inbound messages: RSVP acknowledgements, unsubscribe
/// confirmations, and the organiser's notice of cooperation interest.
pub struct Notifier {
    pub composer: Arc<Composer>,
    transport: Transport,
}

impl Notifier {
    pub fn new(composer: Arc<Composer>, transport: Transport) -> Notifier {
        Notifier {
            composer,
            transport,
        }
    }

    /// Sends an already composed message (a campaign's test send).
    pub async fn send_raw(
        &self,
        env: &lettre::address::Envelope,
        bytes: &[u8],
    ) -> anyhow::Result<()> {
        self.transport.send(env, bytes).await?;
        Ok(())
    }

    pub async fn send(
        &self,
        kind: MailKind,
        c: &CampaignCtx,
        to: &Recipient,
        extra: serde_json::Value,
        message_id: &str,
    ) -> anyhow::Result<()> {
        let (env, bytes) = self
            .composer
            .build(c, to, kind, "", "", extra, message_id, false, false)?;
        self.transport.send(&env, &bytes).await?;
        Ok(())
    }

    /// Tells the organiser that contact `c` would like to cooperate, in the frame of campaign
    /// `ctx`, with `said` (their words, or what they clicked) — one notice for a mail reply and
    /// for the RSVP page's cooperation button alike.
    pub async fn cooperation_notice(
        &self,
        ctx: &CampaignCtx,
        c: &crate::store::contacts::Contact,
        said: &str,
        message_id: &str,
    ) -> anyhow::Result<()> {
        let cfg = &self.composer.cfg;
        let extra = serde_json::json!({
            "reply": {"text": said, "received_at": chrono::Utc::now().to_rfc3339()},
            "contact": {"email": c.email, "name": c.name, "organisation": c.organisation, "language": c.language},
        });
        let organiser = Recipient {
            contact_id: crate::domain::ContactId(0),
            email: cfg.organisation.organiser.clone(),
            name: None,
            organisation: None,
            language: Some(cfg.default_language.clone()),
            address: serde_json::Map::new(),
        };
        let notice = Answer::Notice {
            contact_name: c.name.clone(),
            contact_email: c.email.clone(),
        };
        self.send_answer(
            MailKind::NotifyCooperation,
            ctx,
            &organiser,
            extra,
            message_id,
            &notice,
        )
        .await
    }

    /// Sends what a person of the organisation wrote to a contact, answering their message:
    /// from the organisation, in the thread of that message (`In-Reply-To`, `References`),
    /// with `reply_to` (the contact's reply address) so their answer comes back. Written by a
    /// person: no `Auto-Submitted`, no list headers.
    pub async fn send_personal(&self, p: &Personal<'_>) -> anyhow::Result<()> {
        let cfg = &self.composer.cfg;
        let usable = |id: &&String| crate::outbound::compose::usable_message_id(id);
        let parent = p.in_reply_to.as_ref().filter(usable).cloned();
        let mut references: Vec<String> = p.references.iter().filter(usable).cloned().collect();
        if let Some(id) = &parent {
            references.push(id.clone());
        }
        let out = Outgoing {
            from_name: cfg.organisation.name.clone(),
            from_addr: cfg.organisation.sender.clone(),
            to_name: p.to_name.clone(),
            to_addr: p.to_addr.clone(),
            reply_to: p.reply_to.clone(),
            reply_to_name: None,
            envelope_from: cfg.organisation.sender.clone(),
            message_id: p.message_id.clone(),
            subject: reply_subject(p.subject.as_deref(), &cfg.organisation.name),
            text: p.text.to_string(),
            html: None,
            list_unsubscribe_url: None,
            list_unsubscribe_mailto: None,
            list_id: None,
            ics: None,
            date: chrono::Utc::now(),
            auto_submitted: None,
            in_reply_to: parent,
            references,
        };
        let (env, bytes) = compose(&out, self.composer.dkim.as_ref())?;
        self.transport.send(&env, &bytes).await?;
        Ok(())
    }

    /// Sends a short plain mail from the organisation to a person of its team (the link of an
    /// invitation): not an answer, no list headers; replies go to the organiser.
    pub async fn send_to_team(
        &self,
        to_addr: &str,
        to_name: Option<String>,
        subject: &str,
        text: &str,
    ) -> anyhow::Result<()> {
        let cfg = &self.composer.cfg;
        let message_id = self.composer.key.local_message_id(
            &format!("team.{}", chrono::Utc::now().timestamp_micros()),
            &super::sender_domain(cfg),
        );
        let out = Outgoing {
            from_name: cfg.organisation.name.clone(),
            from_addr: cfg.organisation.sender.clone(),
            to_name,
            to_addr: to_addr.to_string(),
            reply_to: cfg.organisation.organiser.clone(),
            reply_to_name: None,
            envelope_from: cfg.organisation.sender.clone(),
            message_id,
            subject: subject.to_string(),
            text: text.to_string(),
            html: None,
            list_unsubscribe_url: None,
            list_unsubscribe_mailto: None,
            list_id: None,
            ics: None,
            date: chrono::Utc::now(),
            auto_submitted: None,
            in_reply_to: None,
            references: Vec::new(),
        };
        let (env, bytes) = compose(&out, self.composer.dkim.as_ref())?;
        self.transport.send(&env, &bytes).await?;
        Ok(())
    }

    /// Sends a mail whose reply address carries `reply_token` instead of the usual reply token
    /// (`antwort+TOKEN@`): the confirmation request's own confirm token, so that a reply "Ja"
    /// names what it confirms.
    pub async fn send_with_reply_token(
        &self,
        kind: MailKind,
        c: &CampaignCtx,
        to: &Recipient,
        extra: serde_json::Value,
        message_id: &str,
        reply_token: &str,
    ) -> anyhow::Result<()> {
        let mut out = self
            .composer
            .outgoing(c, to, kind, "", "", extra, message_id, false, false)?;
        out.reply_to = format!(
            "antwort+{reply_token}@{}",
            self.composer.cfg.organisation.reply_domain
        );
        let (env, bytes) = compose(&out, self.composer.dkim.as_ref())?;
        self.transport.send(&env, &bytes).await?;
        Ok(())
    }

    /// Sends a mail caused by an inbound message, with the headers `answer` calls for.
    pub async fn send_answer(
        &self,
        kind: MailKind,
        c: &CampaignCtx,
        to: &Recipient,
        extra: serde_json::Value,
        message_id: &str,
        answer: &Answer,
    ) -> anyhow::Result<()> {
        let mut out = self
            .composer
            .outgoing(c, to, kind, "", "", extra, message_id, false, false)?;
        answer.shape(&mut out, &self.composer.cfg);
        let (env, bytes) = compose(&out, self.composer.dkim.as_ref())?;
        self.transport.send(&env, &bytes).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_subjects_get_one_re() {
        let s = |a: Option<&str>| reply_subject(a, "Anmeldung bestätigt: Café");
        assert_eq!(s(Some("Einladung: Café")), "Re: Einladung: Café");
        assert_eq!(s(Some("Re: Einladung")), "Re: Einladung");
        assert_eq!(s(Some("AW: RE: Einladung")), "Re: Einladung");
        assert_eq!(s(Some("Odp: Zaproszenie")), "Re: Zaproszenie");
        assert_eq!(s(None), "Re: Anmeldung bestätigt: Café");
        assert_eq!(s(Some("  Re:  ")), "Re: Anmeldung bestätigt: Café");
    }
}
