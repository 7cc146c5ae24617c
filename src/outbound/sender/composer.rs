//! What one mail is made of: the campaign's context (loaded once per campaign), the
//! recipient, the tokens and links, rendered and composed into an outgoing message.

use super::sender_domain;
use crate::config::Config;
use crate::domain::ContactId;
use crate::outbound::compose::{compose, DkimSigner, Outgoing};
use crate::outbound::ics::{invitation_ics, IcsEvent, IcsMethod};
use crate::outbound::render::{MailKind, Renderer};
use crate::store::campaigns::{Campaign, CampaignKind, Translations};
use crate::store::occasions::Occasion;
use crate::store::topics::Topic;
use crate::store::{self, Db};
use crate::token::{Claims, Purpose, TokenKey};
use std::sync::Arc;

/// Everything rendering needs about one campaign, loaded once per campaign.
pub struct CampaignCtx {
    pub campaign: Campaign,
    pub kind: MailKind,
    pub topic: Topic,
    pub occasion: Option<Occasion>,
    /// The campaign's text in further languages, parsed once.
    pub translations: Translations,
    /// The candidate dates of the occasion's date poll (empty: none).
    pub poll: Vec<store::polls::PollDate>,
}

impl CampaignCtx {
    pub async fn load(db: &Db, campaign: Campaign) -> store::Result<CampaignCtx> {
        let topic_id = campaign.topic_id.ok_or_else(|| {
            store::StoreError::Invalid(format!("campaign {:?} has no topic", campaign.name))
        })?;
        let topic = store::topics::by_id(db, topic_id).await?;
        let occasion = match campaign.occasion_id {
            Some(id) => Some(store::occasions::by_id(db, id).await?),
            None => None,
        };
        let poll = match &occasion {
            Some(o) if o.poll_dates > 0 => store::polls::dates(db, o.id).await?,
            _ => Vec::new(),
        };
        let kind = match campaign.occasion_mail.as_deref() {
            Some(m) => m.parse::<MailKind>().map_err(store::StoreError::Invalid)?,
            // While its date is being found, the invitation offers the candidates instead.
            None if occasion.as_ref().is_some_and(Occasion::poll_open)
                && campaign.kind == CampaignKind::Invitation =>
            {
                MailKind::PollInvitation
            }
            None => mail_kind(campaign.kind),
        };
        Ok(CampaignCtx {
            translations: campaign.translations(),
            campaign,
            kind,
            topic,
            occasion,
            poll,
        })
    }

    /// Subject and body source for a mail in `lang`: the campaign's text in that language, each
    /// field falling back to the main text when missing or empty.
    pub fn text(&self, lang: &str) -> (&str, &str) {
        let (main_s, main_b) = (self.campaign.subject.as_str(), self.campaign.body.as_str());
        match self.translations.get(lang) {
            Some(t) => (
                if t.subject.trim().is_empty() {
                    main_s
                } else {
                    &t.subject
                },
                if t.body.trim().is_empty() {
                    main_b
                } else {
                    &t.body
                },
            ),
            None => (main_s, main_b),
        }
    }
}

pub fn mail_kind(k: CampaignKind) -> MailKind {
    match k {
        CampaignKind::Newsletter => MailKind::Newsletter,
        CampaignKind::Invitation => MailKind::Invitation,
        CampaignKind::Cooperation => MailKind::Cooperation,
    }
}

/// The recipient as rendering sees it.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub contact_id: ContactId,
    pub email: String,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub language: Option<String>,
    /// The form-of-address fields of the contact's attributes (see `greeting::address_fields`).
    pub address: serde_json::Map<String, serde_json::Value>,
}

impl Recipient {
    /// A contact as a recipient: its form of address read from its attributes.
    pub fn of_contact(c: &crate::store::contacts::Contact) -> Recipient {
        Recipient {
            contact_id: c.id,
            email: c.email.clone(),
            name: c.name.clone(),
            organisation: c.organisation.clone(),
            language: c.language.clone(),
            address: crate::outbound::greeting::address_fields(&c.attributes),
        }
    }
}

/// Builds contexts, tokens and links; shared by the engine, `campaigns preview` and `test`.
pub struct Composer {
    pub cfg: Arc<Config>,
    pub renderer: Arc<Renderer>,
    pub key: TokenKey,
    pub dkim: Option<DkimSigner>,
}

impl Composer {
    pub fn new(cfg: Arc<Config>) -> anyhow::Result<Composer> {
        let key = cfg.token_key()?;
        let renderer = Renderer::new(cfg.templates_dir.as_deref())?
            .with_default_lang(&cfg.default_language)?
            .with_timezone(cfg.tz().map_err(anyhow::Error::msg)?);
        let dkim = match &cfg.outbound.dkim {
            Some(d) => {
                let pem = std::fs::read_to_string(&d.private_key_file).map_err(|e| {
                    anyhow::anyhow!(
                        "outbound.dkim.private_key_file {}: {e}",
                        d.private_key_file.display()
                    )
                })?;
                Some(DkimSigner::new(&pem, &d.selector, &d.domain)?)
            }
            None => None,
        };
        Ok(Composer {
            key,
            cfg,
            renderer: Arc::new(renderer),
            dkim,
        })
    }

    fn token(
        &self,
        purpose: Purpose,
        c: &CampaignCtx,
        contact_id: ContactId,
        days: Option<i64>,
    ) -> String {
        let extra = c.occasion.as_ref().map_or(c.topic.id.get(), |o| o.id.get());
        self.key.sign(&Claims {
            purpose,
            campaign_id: c.campaign.id.get(),
            contact_id: contact_id.get(),
            extra,
            expires_at: days.map(|d| (chrono::Utc::now() + chrono::Duration::days(d)).timestamp()),
        })
    }

    /// The address a contact's answer to a mail in the frame of `c` comes back to: their reply
    /// token, so the answer is attributed to them and to `c`.
    pub fn reply_address(&self, c: &CampaignCtx, contact_id: ContactId) -> String {
        let tok = self.token(Purpose::Reply, c, contact_id, None);
        format!("antwort+{tok}@{}", self.cfg.organisation.reply_domain)
    }

    /// The template context for one recipient (documented in `outbound::render`).
    pub fn context(&self, c: &CampaignCtx, r: &Recipient) -> serde_json::Value {
        let base = self.cfg.http.public_url.trim_end_matches('/');
        let unsub = self.token(Purpose::Unsubscribe, c, r.contact_id, Some(400));
        let prefs = self.token(Purpose::Preferences, c, r.contact_id, Some(400));
        let rsvp = self.token(Purpose::Rsvp, c, r.contact_id, Some(120));
        let occasion = c.occasion.as_ref().map(|o| {
            serde_json::json!({
                "title": o.title, "starts_at": o.starts_at.to_rfc3339(),
                "ends_at": o.ends_at.map(|t| t.to_rfc3339()), "place": o.place,
                "description": o.description,
                "cancelled": o.cancelled_at.is_some(), "cancel_reason": o.cancel_reason,
                "poll": o.poll_open().then(|| c.poll.iter().map(|d| serde_json::json!({
                    "n": d.position, "starts_at": d.starts_at.to_rfc3339(),
                    "ends_at": d.ends_at.map(|t| t.to_rfc3339()),
                })).collect::<Vec<_>>()),
            })
        });
        let mut contact = serde_json::json!({
            "email": r.email, "name": r.name, "organisation": r.organisation,
            "language": r.language.clone().unwrap_or_else(|| self.cfg.default_language.clone()),
            "salutation": null, "gender": null, "title": null, "first_name": null, "last_name": null,
        });
        if let Some(obj) = contact.as_object_mut() {
            obj.extend(r.address.clone());
        }
        serde_json::json!({
            "contact": contact,
            "topic": {"name": c.topic.slug, "title": c.topic.title},
            "occasion": occasion,
            "organisation": {"name": self.cfg.organisation.name, "address": self.cfg.organisation.address},
            "links": {
                "unsubscribe": format!("{base}/u/{unsub}"),
                "preferences": format!("{base}/p/{prefs}"),
                "rsvp_yes": format!("{base}/r/{rsvp}/yes"),
                "rsvp_no": format!("{base}/r/{rsvp}/no"),
                "rsvp_cooperation": format!("{base}/r/{rsvp}/cooperation"),
                "rsvp_poll": format!("{base}/r/{rsvp}/poll"),
            },
        })
    }

    /// The calendar object of occasion `o` for `r`: ORGANIZER the reply address `organizer`
    /// (that of the first invitation to reach `r`, kept for updates), URL the RSVP page, times
    /// in the configured zone, SEQUENCE the occasion's.
    fn ics(
        &self,
        o: &Occasion,
        r: &Recipient,
        method: IcsMethod,
        organizer: &str,
        ctx: &serde_json::Value,
    ) -> String {
        let url = ctx["links"]["rsvp_yes"].as_str().map(str::to_string);
        // Calendars show DESCRIPTION as the event's text; without one of the occasion's own the
        // RSVP page is the most useful thing to show.
        let description = o
            .description
            .clone()
            .filter(|d| !d.trim().is_empty())
            .or_else(|| url.clone());
        invitation_ics(&IcsEvent {
            method,
            occasion_id: o.id,
            uid_domain: sender_domain(&self.cfg),
            sequence: u32::try_from(o.sequence).unwrap_or(0),
            dtstamp: chrono::Utc::now(),
            starts_at: o.starts_at,
            ends_at: o.ends_at,
            summary: o.title.clone(),
            location: o.place.clone(),
            description,
            organizer_name: Some(self.cfg.organisation.name.clone()),
            organizer_addr: organizer.to_string(),
            attendee_name: r.name.clone(),
            attendee_addr: r.email.clone(),
            url,
            tz: self.cfg.tz().ok(),
        })
    }

    /// The mail telling `r` that occasion `o` changed or is cancelled, in the frame of the first
    /// invitation campaign `c` that reached them (its reply address stays the ORGANIZER, its
    /// links stay valid), with the calendar update (`METHOD:REQUEST`, SEQUENCE raised) or
    /// cancellation (`METHOD:CANCEL`). `changed` names the fields that changed.
    pub fn occasion_notice(
        &self,
        c: &CampaignCtx,
        o: &Occasion,
        r: &Recipient,
        changed: &[&str],
    ) -> anyhow::Result<(lettre::address::Envelope, Vec<u8>)> {
        let cancelled = o.cancelled_at.is_some();
        let mut frame = CampaignCtx {
            campaign: c.campaign.clone(),
            kind: MailKind::OccasionChange,
            topic: c.topic.clone(),
            occasion: Some(o.clone()),
            translations: Translations::default(),
            poll: c.poll.clone(),
        };
        frame.campaign.kind = CampaignKind::Invitation;
        let extra = serde_json::json!({"change": {
            "cancelled": cancelled, "reason": o.cancel_reason,
            "time": changed.iter().any(|f| matches!(*f, "start" | "end")),
            "place": changed.contains(&"place"),
        }});
        let message_id = self.key.local_message_id(
            &format!("occ.{}.{}.{}", o.id, o.sequence, r.contact_id),
            &sender_domain(&self.cfg),
        );
        let mut out = self.outgoing(
            &frame,
            r,
            MailKind::OccasionChange,
            "",
            "",
            extra,
            &message_id,
            false,
            true,
        )?;
        let ctx = self.context(&frame, r);
        let method = if cancelled {
            IcsMethod::Cancel
        } else {
            IcsMethod::Request
        };
        out.ics = Some(self.ics(o, r, method, &out.reply_to, &ctx));
        Ok(compose(&out, self.dkim.as_ref())?)
    }

    /// Renders and composes the campaign message of `c` for `r`: envelope and bytes.
    pub fn message(
        &self,
        c: &CampaignCtx,
        r: &Recipient,
        message_id: &str,
    ) -> anyhow::Result<(lettre::address::Envelope, Vec<u8>)> {
        let out = self.message_parts(c, r, message_id)?;
        Ok(compose(&out, self.dkim.as_ref())?)
    }

    /// The campaign message of `c` for `r` before it is encoded: what a preview shows.
    pub fn message_parts(
        &self,
        c: &CampaignCtx,
        r: &Recipient,
        message_id: &str,
    ) -> anyhow::Result<Outgoing> {
        let newsletter = c.campaign.kind == CampaignKind::Newsletter;
        let lang = self.renderer.resolve_lang(
            c.kind,
            r.language.as_deref().unwrap_or(&self.cfg.default_language),
        );
        let (subject, body) = c.text(&lang);
        // A thank-you comes after the occasion: no calendar entry, and its next step. A poll's
        // invitation has no date yet to put in a calendar.
        let thanks = c.kind == MailKind::Thanks;
        let no_date = c.kind == MailKind::PollInvitation;
        let extra = if thanks {
            serde_json::json!({"next": {"step": c.campaign.next_step.as_deref().unwrap_or("none")}})
        } else {
            serde_json::Value::Null
        };
        self.outgoing(
            c,
            r,
            c.kind,
            subject,
            body,
            extra,
            message_id,
            c.occasion.is_some() && !newsletter && !thanks && !no_date,
            true,
        )
    }

    /// Renders `kind` for `r` in the frame of campaign `c` (links and tokens name its delivery),
    /// with `extra` merged into the template context.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        &self,
        c: &CampaignCtx,
        r: &Recipient,
        kind: MailKind,
        subject: &str,
        body: &str,
        extra: serde_json::Value,
        message_id: &str,
        with_ics: bool,
        with_list_id: bool,
    ) -> anyhow::Result<(lettre::address::Envelope, Vec<u8>)> {
        let out = self.outgoing(
            c,
            r,
            kind,
            subject,
            body,
            extra,
            message_id,
            with_ics,
            with_list_id,
        )?;
        Ok(compose(&out, self.dkim.as_ref())?)
    }

    /// [`Composer::build`] up to the message to compose.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn outgoing(
        &self,
        c: &CampaignCtx,
        r: &Recipient,
        kind: MailKind,
        subject: &str,
        body: &str,
        extra: serde_json::Value,
        message_id: &str,
        with_ics: bool,
        with_list_id: bool,
    ) -> anyhow::Result<Outgoing> {
        let lang = r.language.as_deref().unwrap_or(&self.cfg.default_language);
        let mut ctx = self.context(c, r);
        if let (Some(obj), serde_json::Value::Object(more)) = (ctx.as_object_mut(), extra) {
            obj.extend(more);
        }
        let rendered = self.renderer.render(kind, lang, subject, body, &ctx)?;
        let reply_tok = self.token(Purpose::Reply, c, r.contact_id, None);
        let bounce_tok = self.token(Purpose::Bounce, c, r.contact_id, None);
        let domain = &self.cfg.organisation.reply_domain;
        let reply_to = format!("antwort+{reply_tok}@{domain}");
        let ics = c
            .occasion
            .as_ref()
            .filter(|_| with_ics)
            .map(|o| self.ics(o, r, IcsMethod::Request, &reply_to, &ctx));
        let list_id =
            with_list_id.then(|| format!("{} <{}.{}>", c.topic.title, c.topic.slug, domain));
        let out = Outgoing {
            from_name: self.cfg.organisation.name.clone(),
            from_addr: self.cfg.organisation.sender.clone(),
            to_name: r.name.clone(),
            to_addr: r.email.clone(),
            reply_to,
            reply_to_name: None,
            envelope_from: format!("bounce+{bounce_tok}@{domain}"),
            message_id: message_id.to_string(),
            subject: rendered.subject,
            text: rendered.text,
            html: Some(rendered.html),
            list_unsubscribe_url: Some(
                ctx["links"]["unsubscribe"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ),
            list_unsubscribe_mailto: Some(format!(
                "mailto:abmelden+{}@{domain}",
                self.token(Purpose::Unsubscribe, c, r.contact_id, None)
            )),
            list_id,
            ics,
            date: chrono::Utc::now(),
            auto_submitted: None,
            in_reply_to: None,
            references: Vec::new(),
        };
        Ok(out)
    }
}
