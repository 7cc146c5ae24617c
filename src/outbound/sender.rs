//! The sending engine: claims due deliveries in batches, renders and composes each message, sends
//! through the transport with bounded concurrency, and settles results in batches.
//!
//! Memory stays flat in the audience size: at most one batch of deliveries is in flight.

use crate::config::{Config, TransportKind};
use crate::outbound::compose::{compose, DkimSigner, Outgoing};
use crate::outbound::ics::{invitation_ics, IcsEvent};
use crate::outbound::render::{MailKind, Renderer};
use crate::store::campaigns::{self, Campaign, CampaignKind, Claimed, Outcome, Settle};
use crate::store::occasions::Occasion;
use crate::store::topics::Topic;
use crate::store::{self, Db, Timestamp};
use crate::token::{Claims, Purpose, TokenKey};
use crate::transport::{RateLimit, RateLimiter, SendError, TlsMode, Transport, TransportConfig};
use futures::StreamExt;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything rendering needs about one campaign, loaded once per campaign.
pub struct CampaignCtx {
    pub campaign: Campaign,
    pub kind: MailKind,
    pub topic: Topic,
    pub occasion: Option<Occasion>,
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
        let kind = mail_kind(campaign.kind());
        Ok(CampaignCtx {
            campaign,
            kind,
            topic,
            occasion,
        })
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
    pub contact_id: i64,
    pub email: String,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub language: Option<String>,
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
        if cfg.secret.trim().is_empty() {
            anyhow::bail!(
                "the configuration has no `secret` (run `netzpost init`, or set NETZPOST_SECRET)"
            );
        }
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
            key: TokenKey::new(cfg.secret.as_bytes()),
            cfg,
            renderer: Arc::new(renderer),
            dkim,
        })
    }

    fn token(
        &self,
        purpose: Purpose,
        c: &CampaignCtx,
        contact_id: i64,
        days: Option<i64>,
    ) -> String {
        let extra = c.occasion.as_ref().map_or(c.topic.id, |o| o.id);
        self.key.sign(&Claims {
            purpose,
            campaign_id: c.campaign.id,
            contact_id,
            extra,
            expires_at: days.map(|d| (chrono::Utc::now() + chrono::Duration::days(d)).timestamp()),
        })
    }

    /// The template context for one recipient (documented in `render.rs`).
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
            })
        });
        serde_json::json!({
            "contact": {
                "email": r.email, "name": r.name, "organisation": r.organisation,
                "language": r.language.clone().unwrap_or_else(|| self.cfg.default_language.clone()),
            },
            "topic": {"name": c.topic.slug, "title": c.topic.title},
            "occasion": occasion,
            "organisation": {"name": self.cfg.organisation.name, "address": self.cfg.organisation.address},
            "links": {
                "unsubscribe": format!("{base}/u/{unsub}"),
                "preferences": format!("{base}/p/{prefs}"),
                "rsvp_yes": format!("{base}/r/{rsvp}/yes"),
                "rsvp_no": format!("{base}/r/{rsvp}/no"),
                "rsvp_cooperation": format!("{base}/r/{rsvp}/cooperation"),
            },
        })
    }

    /// Renders and composes the campaign message of `c` for `r`: envelope and bytes.
    pub fn message(
        &self,
        c: &CampaignCtx,
        r: &Recipient,
        message_id: &str,
    ) -> anyhow::Result<(lettre::address::Envelope, Vec<u8>)> {
        let newsletter = c.campaign.kind() == CampaignKind::Newsletter;
        self.build(
            c,
            r,
            c.kind,
            &c.campaign.subject,
            &c.campaign.body,
            serde_json::Value::Null,
            message_id,
            c.occasion.is_some() && !newsletter,
            newsletter,
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
        let ics = c.occasion.as_ref().filter(|_| with_ics).map(|o| {
            invitation_ics(&IcsEvent {
                occasion_id: o.id,
                uid_domain: sender_domain(&self.cfg),
                sequence: 0,
                dtstamp: chrono::Utc::now(),
                starts_at: o.starts_at,
                ends_at: o.ends_at,
                summary: o.title.clone(),
                location: o.place.clone(),
                description: o.description.clone(),
                organizer_name: Some(self.cfg.organisation.name.clone()),
                organizer_addr: reply_to.clone(),
                attendee_name: r.name.clone(),
                attendee_addr: r.email.clone(),
            })
        });
        let list_id =
            with_list_id.then(|| format!("{} <{}.{}>", c.topic.title, c.topic.slug, domain));
        let out = Outgoing {
            from_name: self.cfg.organisation.name.clone(),
            from_addr: self.cfg.organisation.sender.clone(),
            to_name: r.name.clone(),
            to_addr: r.email.clone(),
            reply_to,
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
        };
        Ok(compose(&out, self.dkim.as_ref())?)
    }
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
}

pub fn sender_domain(cfg: &Config) -> String {
    cfg.organisation
        .sender
        .rsplit('@')
        .next()
        .unwrap_or("localhost")
        .to_string()
}

pub fn transport_config(cfg: &Config) -> TransportConfig {
    match cfg.outbound.transport {
        TransportKind::File => TransportConfig::File {
            dir: cfg.outbound.outbox.clone(),
        },
        TransportKind::Sendmail => TransportConfig::Sendmail {
            command: cfg.outbound.sendmail_command.clone(),
        },
        TransportKind::Smtp => {
            let s = &cfg.outbound.smtp;
            TransportConfig::Smtp {
                host: s.host.clone(),
                port: s.port,
                tls: match s.tls {
                    crate::config::SmtpTls::None => TlsMode::None,
                    crate::config::SmtpTls::Starttls => TlsMode::StartTls,
                    crate::config::SmtpTls::Tls => TlsMode::Tls,
                },
                username: s.username.clone(),
                password: s.password.clone(),
                pool_size: s.pool_size.max(1),
                timeout: Duration::from_secs(s.timeout_secs.max(1)),
                hello_name: None,
            }
        }
    }
}

/// How many results are recorded together (one transaction).
const SETTLE_EVERY: usize = 32;
/// How long a claim holds; a sender that died releases its rows after this (or at once, when it
/// restarts on the same host).
const LEASE_SECS: i64 = 120;

/// The queue worker.
pub struct Engine {
    db: Db,
    composer: Arc<Composer>,
    transport: Transport,
    limiter: RateLimiter,
    owner: String,
    campaigns: Mutex<HashMap<i64, Arc<CampaignCtx>>>,
    failures_in_a_row: Mutex<HashMap<i64, (i64, String)>>,
}

impl Engine {
    pub async fn new(db: Db, cfg: Arc<Config>) -> anyhow::Result<Engine> {
        let composer = Arc::new(Composer::new(cfg.clone())?);
        let transport = Transport::connect(&transport_config(&cfg)).await?;
        let o = &cfg.outbound;
        let positive = |x: f64| (x > 0.0).then_some(x);
        let nonzero = |x: u64| (x > 0).then_some(x);
        let limiter = RateLimiter::new(RateLimit {
            per_second: positive(o.per_second),
            per_hour: nonzero(o.per_hour),
            per_domain_per_second: positive(o.per_domain_per_second),
            per_domain_per_hour: nonzero(o.per_domain_per_hour),
        });
        let owner = format!(
            "{}:{}:{}",
            hostname(),
            std::process::id(),
            crate::cli::random_secret().get(..8).unwrap_or_default()
        );
        release_dead_claims(&db).await?;
        Ok(Engine {
            db,
            composer,
            transport,
            limiter,
            owner,
            campaigns: Mutex::new(HashMap::new()),
            failures_in_a_row: Mutex::new(HashMap::new()),
        })
    }

    pub fn composer(&self) -> &Arc<Composer> {
        &self.composer
    }

    pub fn notifier(&self) -> Notifier {
        Notifier::new(self.composer.clone(), self.transport.clone())
    }

    fn cfg(&self) -> &Config {
        &self.composer.cfg
    }

    async fn ctx(&self, campaign_id: i64) -> anyhow::Result<Arc<CampaignCtx>> {
        if let Some(c) = self.campaigns.lock().expect("lock").get(&campaign_id) {
            return Ok(c.clone());
        }
        let campaign = campaigns::by_id(&self.db, campaign_id).await?;
        let ctx = Arc::new(CampaignCtx::load(&self.db, campaign).await?);
        self.campaigns
            .lock()
            .expect("lock")
            .insert(campaign_id, ctx.clone());
        Ok(ctx)
    }

    /// Claims and processes one batch. Returns how many deliveries it handled (0: nothing due).
    pub async fn run_batch(&self) -> anyhow::Result<usize> {
        let cfg = self.cfg();
        let lease = chrono::Duration::seconds(LEASE_SECS);
        let claimed =
            campaigns::claim(&self.db, &self.owner, cfg.outbound.batch_size, lease).await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let n = claimed.len();
        let concurrency = match cfg.outbound.transport {
            TransportKind::Smtp => cfg.outbound.smtp.pool_size.max(1) * 2,
            _ => 8,
        };
        let mut ctxs = HashMap::new();
        for c in &claimed {
            if let std::collections::hash_map::Entry::Vacant(e) = ctxs.entry(c.campaign_id) {
                e.insert(self.ctx(c.campaign_id).await?);
            }
        }
        // Results are settled in small groups as they complete, not once per batch: a crash
        // between sending and recording can repeat at most the messages in flight.
        let mut results = futures::stream::iter(claimed)
            .map(|d| {
                let ctx = ctxs[&d.campaign_id].clone();
                async move { self.deliver(&ctx, d).await }
            })
            .buffer_unordered(concurrency)
            .chunks(SETTLE_EVERY.max(concurrency));
        while let Some(done) = results.next().await {
            self.settle_until_recorded(&done).await;
            self.watch_failures(&done).await?;
        }
        Ok(n)
    }

    /// Records results, retrying while the database is away: these messages are sent, and
    /// dropping their results would send them again when the lease runs out.
    async fn settle_until_recorded(&self, done: &[Settle]) {
        let mut wait = Duration::from_millis(200);
        loop {
            match campaigns::settle(&self.db, done).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!("recording {} results failed, retrying: {e}", done.len());
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn deliver(&self, ctx: &CampaignCtx, d: Claimed) -> Settle {
        let settle = |outcome| Settle {
            attempts: d.attempts,
            delivery_id: d.id,
            campaign_id: d.campaign_id,
            contact_id: d.contact_id,
            email_key: d.email.to_lowercase(),
            summary: format!("gesendet / sent: {}", ctx.campaign.name),
            outcome,
        };
        if !d.eligible {
            return settle(Outcome::Skipped {
                reason: "consent withdrawn or address suppressed before sending".into(),
            });
        }
        let recipient = Recipient {
            contact_id: d.contact_id,
            email: d.email.clone(),
            name: d.name.clone(),
            organisation: d.organisation.clone(),
            language: d.language.clone(),
        };
        let message_id = d.message_id.clone().unwrap_or_else(|| {
            format!(
                "<np.{}.{}@{}>",
                d.campaign_id,
                d.contact_id,
                sender_domain(self.cfg())
            )
        });
        let (envelope, bytes) = match self.composer.message(ctx, &recipient, &message_id) {
            Ok(m) => m,
            // Validation at creation should make this impossible; if it happens, the row fails
            // on its own instead of stopping everyone else's mail.
            Err(e) => {
                return settle(Outcome::Failed {
                    error: format!("composing: {e:#}"),
                })
            }
        };
        let domain = d
            .email
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .to_lowercase();
        self.limiter.acquire(&domain).await;
        match self.transport.send(&envelope, &bytes).await {
            Ok(()) => settle(Outcome::Sent),
            Err(SendError::Permanent { code, message }) => settle(Outcome::Bounced {
                error: format!(
                    "{} {message}",
                    code.map(|c| c.to_string()).unwrap_or_default()
                )
                .trim()
                .to_string(),
            }),
            Err(e) => {
                let cfg = &self.cfg().outbound;
                let error = e.to_string();
                if i64::from(d.attempts) >= cfg.max_attempts {
                    settle(Outcome::Failed { error })
                } else {
                    let wait = cfg.retry_base_secs.max(1)
                        * 2i64.pow((d.attempts.max(1) - 1).min(10) as u32);
                    let at: Timestamp =
                        chrono::Utc::now() + chrono::Duration::seconds(wait.min(3600));
                    settle(Outcome::Retry { at, error })
                }
            }
        }
    }

    /// Pauses a campaign after too many failures in a row, with the last error as its reason.
    async fn watch_failures(&self, results: &[Settle]) -> anyhow::Result<()> {
        let limit = self.cfg().outbound.pause_after_failures;
        let mut to_pause = Vec::new();
        {
            let mut f = self.failures_in_a_row.lock().expect("lock");
            for r in results {
                let entry = f.entry(r.campaign_id).or_insert((0, String::new()));
                match &r.outcome {
                    Outcome::Sent => *entry = (0, String::new()),
                    // A first temporary failure is what greylisting looks like: it counts only
                    // when the same delivery fails again on its retry.
                    Outcome::Retry { .. } if r.attempts <= 1 => {}
                    Outcome::Retry { error, .. }
                    | Outcome::Failed { error }
                    | Outcome::Bounced { error } => {
                        *entry = (entry.0 + 1, error.clone());
                    }
                    Outcome::Skipped { .. } => {}
                }
                if limit > 0 && entry.0 >= limit {
                    to_pause.push((r.campaign_id, entry.1.clone(), entry.0));
                    *entry = (0, String::new());
                }
            }
        }
        for (id, error, n) in to_pause {
            let reason = format!("paused after {n} failures in a row; last: {error}");
            if campaigns::transition(&self.db, id, &["running"], "paused", Some(&reason)).await? {
                tracing::warn!(campaign = id, %reason, "campaign paused");
            }
        }
        Ok(())
    }

    /// Processes batches until nothing is due; marks finished campaigns done.
    pub async fn run_until_idle(&self) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let n = self.run_batch().await?;
            total += n;
            if n == 0 {
                break;
            }
        }
        for name in campaigns::finish_completed(&self.db).await? {
            tracing::info!(campaign = %name, "campaign done");
        }
        Ok(total)
    }

    pub async fn close(&self) {
        self.transport.close().await;
    }
}

/// Gives back the deliveries that a sender on this host held when it died (its process is gone),
/// so a restart continues at once instead of waiting for the lease to run out.
async fn release_dead_claims(db: &Db) -> anyhow::Result<()> {
    let host = hostname();
    let owners: Vec<String> = crate::on_db!(db, p => {
        sqlx::query_scalar("SELECT DISTINCT lease_owner FROM deliveries WHERE status = 'sending' AND lease_owner LIKE $1")
            .bind(format!("{host}:%"))
            .fetch_all(p)
            .await?
    });
    for owner in owners {
        let pid = owner.split(':').nth(1).unwrap_or_default();
        let alive = !pid.is_empty()
            && Path::new("/proc").join(pid).exists()
            && pid != std::process::id().to_string();
        if alive {
            continue;
        }
        let n = crate::on_db!(db, p => {
            sqlx::query("UPDATE deliveries SET status = 'queued', lease_until = NULL, lease_owner = NULL WHERE status = 'sending' AND lease_owner = $1")
                .bind(&owner)
                .execute(p)
                .await?
                .rows_affected()
        });
        tracing::warn!(owner = %owner, deliveries = n, "released the claims of a sender that died");
    }
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "netzpost".into())
}
