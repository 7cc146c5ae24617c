//! The sending engine: claims due deliveries in batches, renders and composes each message, sends
//! through the transport with bounded concurrency, and settles results in batches.
//!
//! Memory stays flat in the audience size: at most one batch of deliveries is in flight.

use crate::config::{Config, TransportKind};
use crate::domain::{CampaignId, ContactId, DeliveryId};
use crate::outbound::compose::{compose, DkimSigner, Outgoing};
use crate::outbound::ics::{invitation_ics, IcsEvent};
use crate::outbound::render::{MailKind, Renderer};
use crate::store::campaigns::{
    self, Campaign, CampaignKind, CampaignStatus, Claimed, Outcome, Settle, Translations,
};
use crate::store::occasions::Occasion;
use crate::store::topics::Topic;
use crate::store::{self, Db, Timestamp};
use crate::token::{Claims, Purpose, TokenKey};
use crate::transport::{RateLimit, RateLimiter, SendError, Transport, TransportConfig};
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
    /// The campaign's text in further languages, parsed once.
    pub translations: Translations,
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
        let kind = mail_kind(campaign.kind);
        Ok(CampaignCtx {
            translations: campaign.translations(),
            campaign,
            kind,
            topic,
            occasion,
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
        let newsletter = c.campaign.kind == CampaignKind::Newsletter;
        let lang = self.renderer.resolve_lang(
            c.kind,
            r.language.as_deref().unwrap_or(&self.cfg.default_language),
        );
        let (subject, body) = c.text(&lang);
        self.build(
            c,
            r,
            c.kind,
            subject,
            body,
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
    fn outgoing(
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
                tls: s.tls,
                username: s.username.clone(),
                password: s.password.clone(),
                pool_size: s.pool_size.max(1),
                timeout: Duration::from_secs(s.timeout_secs.max(1)),
                hello_name: None,
            }
        }
    }
}

/// Most results recorded in one transaction.
const SETTLE_MAX: usize = 256;
/// How long the recorder waits for more results before it commits a group.
const SETTLE_GATHER: Duration = Duration::from_millis(25);
/// A delivery worker hands on its results in groups of this many (or fewer when idle).
const RESULT_GROUP: usize = 16;
/// How long a claim holds; a sender that died releases its rows after this (or at once, when it
/// restarts on the same host).
const LEASE_SECS: i64 = 120;

/// An append-only file of the deliveries the server accepted and the database has not recorded
/// yet. The gap between the server's 250 and the commit is what a crash would send twice: the
/// line is written (one `write(2)`, no fsync: it survives the death of the process, which is what
/// it guards against) before the result goes to the database, and a restart on this host marks
/// the journalled rows of the dead sender sent instead of queueing them again.
struct Journal {
    file: std::fs::File,
    path: std::path::PathBuf,
    failed: std::sync::atomic::AtomicBool,
}

impl Journal {
    /// The journal file's name without `.sent`: the owner with anything unsafe in a file name
    /// replaced (owners are `host:pid:random`).
    fn stem(owner: &str) -> String {
        owner
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    fn path_for(dir: &Path, owner: &str) -> std::path::PathBuf {
        dir.join(format!("{}.sent", Self::stem(owner)))
    }

    fn open(dir: &Path, owner: &str) -> anyhow::Result<Journal> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| anyhow::anyhow!("outbound.journal_dir {}: {e}", dir.display()))?;
        let path = Self::path_for(dir, owner);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("outbound.journal_dir {}: {e}", path.display()))?;
        Ok(Journal {
            file,
            path,
            failed: false.into(),
        })
    }

    fn record(&self, delivery_id: DeliveryId) {
        use std::io::Write;
        // One short write with O_APPEND: lines of concurrent senders do not interleave.
        if let Err(e) = (&self.file).write_all(format!("{delivery_id}\n").as_bytes()) {
            if !self.failed.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(path = %self.path.display(), "cannot write the send journal ({e}): a crash now may send some messages twice");
            }
        }
    }

    /// Forgets what is recorded in the database now.
    fn clear(&self) {
        if let Err(e) = self.file.set_len(0) {
            tracing::warn!(path = %self.path.display(), "cannot clear the send journal: {e}");
        }
    }

    /// Reads a dead sender's journal: the deliveries it had sent.
    fn read(path: &Path) -> Vec<DeliveryId> {
        std::fs::read_to_string(path)
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }
}

/// What a delivery task needs; shared by the tasks, which run on all worker threads.
struct Worker {
    composer: Arc<Composer>,
    transport: Transport,
    limiter: RateLimiter,
    journal: Journal,
}

/// The queue worker.
pub struct Engine(Arc<Core>);

/// What the engine holds; shared with the task a run is spawned as.
pub struct Core {
    db: Db,
    worker: Arc<Worker>,
    owner: String,
    campaigns: Mutex<HashMap<CampaignId, Arc<CampaignCtx>>>,
    failures_in_a_row: Mutex<HashMap<CampaignId, Streak>>,
}

/// Failures in a row of one campaign.
#[derive(Default)]
struct Streak {
    count: i64,
    last_error: String,
    /// A server refused for good (5xx) within the streak: a person must look.
    permanent: bool,
}

impl std::ops::Deref for Engine {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.0
    }
}

impl Engine {
    /// Sends what is due for up to `budget` (see `Core::send_due`), as a task on the runtime's
    /// workers: called from the thread that drives `block_on`, the pipeline's wake-ups would
    /// otherwise cross three threads instead of two.
    pub async fn run_for(&self, budget: Duration) -> anyhow::Result<usize> {
        let core = self.0.clone();
        tokio::spawn(async move { core.send_due(budget).await })
            .await
            .map_err(|e| anyhow::anyhow!("the send run failed: {e}"))?
    }

    /// Claims and processes one batch. Returns how many deliveries it handled (0: nothing due).
    pub async fn run_batch(&self) -> anyhow::Result<usize> {
        self.run_for(Duration::ZERO).await
    }

    /// Processes batches until nothing is due; marks finished campaigns done.
    pub async fn run_until_idle(&self) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let n = self.run_for(Duration::from_secs(3600)).await?;
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
            hex::encode(rand::random::<[u8; 4]>())
        );
        release_dead_claims(&db, &o.journal_dir).await?;
        let journal = Journal::open(&o.journal_dir, &owner)?;
        Ok(Engine(Arc::new(Core {
            db,
            worker: Arc::new(Worker {
                composer,
                transport,
                limiter,
                journal,
            }),
            owner,
            campaigns: Mutex::new(HashMap::new()),
            failures_in_a_row: Mutex::new(HashMap::new()),
        })))
    }
}

impl Core {
    pub fn composer(&self) -> &Arc<Composer> {
        &self.worker.composer
    }

    pub fn notifier(&self) -> Notifier {
        Notifier::new(self.worker.composer.clone(), self.worker.transport.clone())
    }

    fn cfg(&self) -> &Config {
        &self.worker.composer.cfg
    }

    async fn ctx(&self, campaign_id: CampaignId) -> anyhow::Result<Arc<CampaignCtx>> {
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

    /// Sends what is due, claiming batch after batch until nothing is due or `budget` has passed,
    /// then lets the messages in flight finish and records them. Returns how many deliveries it
    /// handled.
    ///
    /// A pipeline with bounded buffers: a fixed set of delivery workers (tasks on every core, so
    /// rendering and composing use both) takes claimed rows from a queue; the next batch is
    /// claimed while they send; results go in groups through a channel to a recorder that
    /// commits them, so sending never waits for a commit. One task per worker rather than per
    /// message: no per-message spawn, and a worker that finds the next row waiting needs no
    /// wake-up. In memory at any time: one claimed batch, the rows in work, the channel.
    /// Called through [`Engine::run_for`], which runs it as a task.
    async fn send_due(&self, budget: Duration) -> anyhow::Result<usize> {
        let started = std::time::Instant::now();
        let cfg = self.cfg();
        let lease = chrono::Duration::seconds(LEASE_SECS);
        let concurrency = match cfg.outbound.transport {
            TransportKind::Smtp => cfg.outbound.smtp.pool_size.max(1) * 2,
            _ => 8,
        };
        let limit = self.claim_limit();
        let (jobs, queue) = flume::bounded::<(Arc<CampaignCtx>, Claimed)>(limit as usize);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Settle>>(concurrency * 2);
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (queue, tx, w) = (queue.clone(), tx.clone(), self.worker.clone());
            workers.spawn(async move {
                let mut done = Vec::new();
                while let Ok((ctx, d)) = queue.recv_async().await {
                    done.push(deliver(&w, &ctx, d).await);
                    // Results go on in groups, and at once when no row is waiting.
                    if (done.len() >= RESULT_GROUP || queue.is_empty())
                        && tx.send(std::mem::take(&mut done)).await.is_err()
                    {
                        break;
                    }
                }
                if !done.is_empty() {
                    let _ = tx.send(done).await;
                }
            });
        }
        drop((queue, tx));
        let produce = async move {
            let mut handled = 0;
            let mut failure = None;
            'claim: loop {
                let claimed = match campaigns::claim(&self.db, &self.owner, limit, lease).await {
                    Ok(c) => c,
                    Err(e) => {
                        failure = Some(anyhow::Error::from(e));
                        break;
                    }
                };
                if claimed.is_empty() {
                    break;
                }
                handled += claimed.len();
                for d in claimed {
                    let ctx = match self.ctx(d.campaign_id).await {
                        Ok(c) => c,
                        Err(e) => {
                            // Rows already claimed stay under the lease and are claimed again.
                            failure = Some(e);
                            break 'claim;
                        }
                    };
                    if jobs.send_async((ctx, d)).await.is_err() {
                        failure = Some(anyhow::anyhow!("every delivery worker failed"));
                        break 'claim;
                    }
                }
                if started.elapsed() >= budget {
                    break;
                }
            }
            // Whatever happens, the rows handed out finish and are recorded.
            drop(jobs);
            while let Some(r) = workers.join_next().await {
                if let Err(e) = r {
                    tracing::error!("a delivery worker failed: {e}");
                }
            }
            match failure {
                Some(e) => Err(e),
                None => Ok(handled),
            }
        };
        let record = async {
            let mut failure = None;
            while let Some(mut group) = rx.recv().await {
                // Gather for a moment: every commit rewrites the pages it touched (on SQLite
                // whole pages into the WAL), so one commit of 256 costs about what one of 60
                // does. The journal covers the results not yet recorded.
                let deadline = tokio::time::Instant::now() + SETTLE_GATHER;
                while group.len() < SETTLE_MAX {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(more)) => group.extend(more),
                        _ => break,
                    }
                }
                self.settle_until_recorded(&group).await;
                if let Err(e) = self.watch_failures(&group).await {
                    failure.get_or_insert(e);
                }
            }
            failure
        };
        let (handled, failure) = tokio::join!(produce, record);
        // Everything sent in this run is recorded now.
        self.worker.journal.clear();
        if let Some(e) = failure {
            return Err(e);
        }
        handled
    }

    /// How many rows one claim takes: a batch, but no more than the rate limits let go out in
    /// half a lease, so slow sending does not outlive its claim (another sender would take the
    /// rows over and send them again).
    fn claim_limit(&self) -> i64 {
        let o = &self.cfg().outbound;
        let half_lease = (LEASE_SECS / 2) as f64;
        let mut limit = o.batch_size as f64;
        if o.per_second > 0.0 {
            limit = limit.min(o.per_second * half_lease);
        }
        if o.per_hour > 0 {
            limit = limit.min(o.per_hour as f64 * half_lease / 3600.0);
        }
        (limit as i64).max(1)
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

    /// Pauses a campaign after too many failures in a row, with the last error as its reason.
    /// When every failure was temporary (the relay is away), it resumes by itself later.
    async fn watch_failures(&self, results: &[Settle]) -> anyhow::Result<()> {
        let limit = self.cfg().outbound.pause_after_failures;
        let mut to_pause = Vec::new();
        {
            let mut f = self.failures_in_a_row.lock().expect("lock");
            for r in results {
                let entry = f.entry(r.campaign_id).or_default();
                match &r.outcome {
                    Outcome::Sent => *entry = Streak::default(),
                    // A first temporary failure is what greylisting looks like: it counts only
                    // when the same delivery fails again on its retry.
                    Outcome::Retry { .. } if r.attempts <= 1 => {}
                    Outcome::Retry { error, .. } | Outcome::Failed { error } => {
                        entry.count += 1;
                        entry.last_error = error.clone();
                    }
                    Outcome::Bounced { error } => {
                        entry.count += 1;
                        entry.last_error = error.clone();
                        entry.permanent = true;
                    }
                    Outcome::Skipped { .. } => {}
                }
                if limit > 0 && entry.count >= limit {
                    to_pause.push((r.campaign_id, std::mem::take(entry)));
                }
            }
        }
        let resume_after = self.cfg().outbound.resume_after_secs;
        for (id, streak) in to_pause {
            let n = streak.count;
            let error = &streak.last_error;
            let paused = if streak.permanent || resume_after <= 0 {
                let reason = format!("paused after {n} failures in a row; last: {error}");
                campaigns::transition(
                    &self.db,
                    id,
                    &[CampaignStatus::Running],
                    CampaignStatus::Paused,
                    Some(&reason),
                )
                .await?
                .then_some(reason)
            } else {
                let at = chrono::Utc::now() + chrono::Duration::seconds(resume_after);
                let reason = format!(
                    "paused after {n} temporary failures in a row, resumes by itself at {} while the daemon runs; last: {error}",
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                );
                campaigns::pause_until(&self.db, id, &reason, at)
                    .await?
                    .then_some(reason)
            };
            if let Some(reason) = paused {
                tracing::warn!(campaign = id.get(), %reason, "campaign paused");
            }
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.worker.transport.close().await;
    }
}

/// Renders, composes and sends one delivery; the result is recorded by the caller.
async fn deliver(w: &Worker, ctx: &CampaignCtx, d: Claimed) -> Settle {
    let settle = |outcome| Settle {
        attempts: d.attempts,
        delivery_id: d.id,
        campaign_id: d.campaign_id,
        contact_id: d.contact_id,
        email_key: d.email.to_lowercase(),
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
        address: crate::outbound::greeting::address_fields(&d.attributes),
    };
    // Derived, not stored: the same delivery gets the same id on every attempt.
    let message_id = d.message_id.clone().unwrap_or_else(|| {
        w.composer.key.message_id(
            d.campaign_id.get(),
            d.contact_id.get(),
            &sender_domain(&w.composer.cfg),
        )
    });
    let (envelope, bytes) = match w.composer.message(ctx, &recipient, &message_id) {
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
    w.limiter.acquire(&domain).await;
    match w.transport.send(&envelope, &bytes).await {
        Ok(()) => {
            w.journal.record(d.id);
            settle(Outcome::Sent)
        }
        Err(SendError::Permanent { code, message }) => settle(Outcome::Bounced {
            error: format!(
                "{} {message}",
                code.map(|c| c.to_string()).unwrap_or_default()
            )
            .trim()
            .to_string(),
        }),
        Err(e) => {
            let cfg = &w.composer.cfg.outbound;
            let error = e.to_string();
            if i64::from(d.attempts) >= cfg.max_attempts {
                settle(Outcome::Failed { error })
            } else {
                let wait =
                    cfg.retry_base_secs.max(1) * 2i64.pow((d.attempts.max(1) - 1).min(10) as u32);
                let at: Timestamp = chrono::Utc::now() + chrono::Duration::seconds(wait.min(3600));
                settle(Outcome::Retry { at, error })
            }
        }
    }
}

/// Gives back the deliveries that a sender on this host held when it died (its process is gone),
/// so a restart continues at once instead of waiting for the lease to run out. What the dead
/// sender's journal names was accepted by the server: those rows are recorded as sent.
async fn release_dead_claims(db: &Db, journal_dir: &Path) -> anyhow::Result<()> {
    let host = hostname();
    let owners = campaigns::sending_owners(db, &format!("{host}:")).await?;
    // Rows under this process's pid are from an earlier engine of it (or a pid reused after a
    // reboot): this engine has no claims yet, so they are released like a dead sender's.
    let alive = |pid: &str| {
        !pid.is_empty()
            && Path::new("/proc").join(pid).exists()
            && pid != std::process::id().to_string()
    };
    for owner in owners {
        if alive(owner.split(':').nth(1).unwrap_or_default()) {
            continue;
        }
        let journal = Journal::path_for(journal_dir, &owner);
        let sent = Journal::read(&journal);
        let mut recorded = 0;
        for ids in sent.chunks(500) {
            let rows = campaigns::held_by(db, &owner, ids).await?;
            let settles: Vec<Settle> = rows
                .into_iter()
                .map(|h| Settle {
                    attempts: h.attempts,
                    delivery_id: h.id,
                    campaign_id: h.campaign_id,
                    contact_id: h.contact_id,
                    email_key: String::new(),
                    outcome: Outcome::Sent,
                })
                .collect();
            recorded += settles.len();
            campaigns::settle(db, &settles).await?;
        }
        let n = campaigns::release_claims(db, &owner).await?;
        tracing::warn!(owner = %owner, sent = recorded, released = n, "took over the claims of a sender that died: recorded what its journal names as sent, queued the rest");
    }
    // Journals of this host's senders that are gone hold nothing unrecorded any more.
    let prefix = Journal::stem(&format!("{host}:"));
    if let Ok(entries) = std::fs::read_dir(journal_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name
                .strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(".sent"))
            else {
                continue;
            };
            let pid = rest.split('_').next().unwrap_or_default();
            // Another engine of this process may still be writing its journal: keep ours.
            if !alive(pid) && pid != std::process::id().to_string() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "netzpost".into())
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
