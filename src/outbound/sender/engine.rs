//! The queue worker: claims due deliveries under a lease, delivers them with bounded
//! concurrency, and settles their results in batches.

use super::journal::{hostname, release_dead_claims, take_over_silent, Journal};
use super::{sender_domain, transport_config, CampaignCtx, Composer, Notifier, Recipient};
use crate::config::{Config, TransportKind};
use crate::domain::CampaignId;
use crate::store::campaigns::{self, CampaignStatus, Claimed, Outcome, Settle};
use crate::store::{Db, Timestamp};
use crate::transport::{RateLimit, RateLimiter, SendError, Transport};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Most results recorded in one transaction.
const SETTLE_MAX: usize = 256;
/// How long the recorder waits for more results before it commits a group.
const SETTLE_GATHER: Duration = Duration::from_millis(25);
/// A delivery worker hands on its results in groups of this many (or fewer when idle).
const RESULT_GROUP: usize = 16;
/// How long a claim holds; a sender that died releases its rows after this (or at once, when it
/// restarts on the same host).
const LEASE_SECS: i64 = 120;
/// How often a sender says it is alive (`store::senders::beat`) and looks for dead ones.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// A sender silent for this long is dead: another takes over its claims. Several beats long, so
/// a busy machine or a slow commit does not make a live sender look dead.
const SENDER_TIMEOUT_SECS: i64 = 10;

/// What a delivery task needs; shared by the tasks, which run on all worker threads.
struct Worker {
    composer: Arc<Composer>,
    transport: Transport,
    limiter: RateLimiter,
    journal: Journal,
    /// PostgreSQL (several daemons, maybe on several hosts): one permit per message sent and not
    /// yet recorded in the database, as many as there are sessions. A sender that takes over
    /// this one's claims after a crash cannot read its journal from another host; what it sends
    /// again is then at most these.
    unrecorded: Option<Arc<Semaphore>>,
    /// Moves on when another sender took over this one's claims (it was thought dead): rows
    /// claimed before are no longer this sender's and are not sent.
    epoch: Arc<AtomicU64>,
}

/// Results of delivery workers on their way to the recorder, with the permits of the sent
/// messages, given back once the results are committed.
type Done = (Vec<Settle>, Vec<OwnedSemaphorePermit>);

/// The queue worker.
pub struct Engine(Arc<Core>);

/// What the engine holds; shared with the task a run is spawned as.
pub struct Core {
    db: Db,
    worker: Arc<Worker>,
    owner: String,
    campaigns: Mutex<HashMap<CampaignId, Arc<CampaignCtx>>>,
    failures_in_a_row: Mutex<HashMap<CampaignId, Streak>>,
    heartbeat: tokio::task::JoinHandle<()>,
    /// Registered in `senders` (at the first claim: an engine that only answers inbound mail
    /// writes nothing there).
    registered: Arc<AtomicBool>,
}

impl Drop for Core {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
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
        let epoch = Arc::new(AtomicU64::new(0));
        let registered = Arc::new(AtomicBool::new(false));
        let heartbeat = tokio::spawn(heartbeat(
            db.clone(),
            owner.clone(),
            o.journal_dir.clone(),
            epoch.clone(),
            registered.clone(),
        ));
        let sessions = match o.transport {
            TransportKind::Smtp => o.smtp.pool_size.max(1),
            _ => FILE_CONCURRENCY,
        };
        Ok(Engine(Arc::new(Core {
            worker: Arc::new(Worker {
                composer,
                transport,
                limiter,
                journal,
                unrecorded: db.is_postgres().then(|| Arc::new(Semaphore::new(sessions))),
                epoch,
            }),
            db,
            owner,
            campaigns: Mutex::new(HashMap::new()),
            failures_in_a_row: Mutex::new(HashMap::new()),
            heartbeat,
            registered,
        })))
    }
}

/// Delivery workers of the file and sendmail transports.
const FILE_CONCURRENCY: usize = 8;

/// Says every [`HEARTBEAT`] that this sender is alive, and takes over the claims of senders that
/// have been silent for [`SENDER_TIMEOUT_SECS`]. Runs until the engine is dropped.
///
/// Only a sender that has itself beaten without a gap for that long takes anyone over: after the
/// database was away, every sender looks silent until it has beaten again, and a live one must
/// not lose its claims to the first that reconnects.
async fn heartbeat(
    db: Db,
    owner: String,
    journal_dir: std::path::PathBuf,
    epoch: Arc<AtomicU64>,
    registered: Arc<AtomicBool>,
) {
    let timeout = Duration::from_secs(SENDER_TIMEOUT_SECS as u64);
    let mut beating_since: Option<tokio::time::Instant> = None;
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        if !registered.load(Ordering::SeqCst) {
            continue;
        }
        match crate::store::senders::beat(&db, &owner).await {
            Ok(alive) => {
                if !alive {
                    epoch.fetch_add(1, Ordering::SeqCst);
                    tracing::warn!(owner = %owner, "another sender took over this one's claims (it was silent too long): they are not sent here");
                }
                beating_since.get_or_insert_with(tokio::time::Instant::now);
            }
            Err(e) => {
                beating_since = None;
                tracing::warn!("cannot say this sender is alive: {e}");
            }
        }
        if beating_since.is_none_or(|t| t.elapsed() < timeout) {
            continue;
        }
        let since = chrono::Utc::now() - chrono::Duration::seconds(SENDER_TIMEOUT_SECS);
        if let Err(e) = take_over_silent(&db, &journal_dir, since).await {
            tracing::warn!("taking over the claims of a dead sender: {e:#}");
        }
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
        if !self.registered.load(Ordering::SeqCst) {
            crate::store::senders::register_sender(&self.db, &self.owner).await?;
            self.registered.store(true, Ordering::SeqCst);
        }
        let cfg = self.cfg();
        let lease = chrono::Duration::seconds(LEASE_SECS);
        let concurrency = match cfg.outbound.transport {
            TransportKind::Smtp => cfg.outbound.smtp.pool_size.max(1) * 2,
            _ => FILE_CONCURRENCY,
        };
        let limit = self.claim_limit();
        let (jobs, queue) = flume::bounded::<(Arc<CampaignCtx>, Claimed, u64)>(limit as usize);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Done>(concurrency * 2);
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (queue, tx, w) = (queue.clone(), tx.clone(), self.worker.clone());
            workers.spawn(async move {
                let mut done: Done = Default::default();
                while let Ok((ctx, d, epoch)) = queue.recv_async().await {
                    if w.epoch.load(Ordering::SeqCst) != epoch {
                        // Taken over by another sender, which queued it again.
                        continue;
                    }
                    let message = match prepare(&w, &ctx, d) {
                        Ok(m) => m,
                        Err(settle) => {
                            done.0.push(settle);
                            continue;
                        }
                    };
                    w.limiter.acquire(&message.domain).await;
                    if let Some(sem) = &w.unrecorded {
                        let permit = match sem.clone().try_acquire_owned() {
                            Ok(p) => p,
                            Err(_) => {
                                // Every permit is out: the results this worker holds must reach
                                // the recorder, or it would wait for itself.
                                if !done.0.is_empty()
                                    && tx.send(std::mem::take(&mut done)).await.is_err()
                                {
                                    break;
                                }
                                match sem.clone().acquire_owned().await {
                                    Ok(p) => p,
                                    Err(_) => break,
                                }
                            }
                        };
                        done.1.push(permit);
                    }
                    done.0.push(send(&w, message).await);
                    // Results go on in groups, and at once when no row is waiting or when a
                    // permit is held (others may wait for it).
                    if (done.0.len() >= RESULT_GROUP || queue.is_empty() || !done.1.is_empty())
                        && tx.send(std::mem::take(&mut done)).await.is_err()
                    {
                        break;
                    }
                }
                if !done.0.is_empty() {
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
                let epoch = self.worker.epoch.load(Ordering::SeqCst);
                for d in claimed {
                    let ctx = match self.ctx(d.campaign_id).await {
                        Ok(c) => c,
                        Err(e) => {
                            // Rows already claimed stay under the lease and are claimed again.
                            failure = Some(e);
                            break 'claim;
                        }
                    };
                    if jobs.send_async((ctx, d, epoch)).await.is_err() {
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
            let unrecorded = self.worker.unrecorded.as_deref();
            while let Some((mut group, mut permits)) = rx.recv().await {
                // Gather for a moment: every commit rewrites the pages it touched (on SQLite
                // whole pages into the WAL), so one commit of 256 costs about what one of 60
                // does. The journal covers the results not yet recorded. With permits, only
                // what is waiting: the sessions wait for this commit, and what they send
                // meanwhile goes into the next one.
                let deadline = tokio::time::Instant::now() + SETTLE_GATHER;
                while group.len() < SETTLE_MAX {
                    let more = match unrecorded {
                        Some(_) => rx.try_recv().ok(),
                        None => tokio::time::timeout_at(deadline, rx.recv())
                            .await
                            .ok()
                            .flatten(),
                    };
                    let Some((more, p)) = more else { break };
                    group.extend(more);
                    permits.extend(p);
                }
                self.settle_until_recorded(&group).await;
                drop(permits);
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

    /// Closes the transport and leaves the live senders: this sender holds no claims any more.
    pub async fn close(&self) {
        self.heartbeat.abort();
        if self.registered.load(Ordering::SeqCst) {
            if let Err(e) = crate::store::senders::forget_sender(&self.db, &self.owner).await {
                tracing::warn!("cannot remove this sender from the live senders: {e}");
            }
        }
        self.worker.transport.close().await;
    }
}

/// A composed message ready to go, with its delivery.
struct Prepared {
    d: Claimed,
    /// The recipient's domain, for the rate limits.
    domain: String,
    envelope: lettre::address::Envelope,
    bytes: Vec<u8>,
}

fn settle_for(d: &Claimed, outcome: Outcome) -> Settle {
    Settle {
        attempts: d.attempts,
        delivery_id: d.id,
        campaign_id: d.campaign_id,
        contact_id: d.contact_id,
        email_key: d.email.to_lowercase(),
        outcome,
    }
}

/// Renders and composes one delivery; a delivery that cannot go out comes back as its result.
fn prepare(w: &Worker, ctx: &CampaignCtx, d: Claimed) -> Result<Prepared, Settle> {
    let settle = |outcome| Err(settle_for(&d, outcome));
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
    Ok(Prepared {
        d,
        domain,
        envelope,
        bytes,
    })
}

/// Sends a composed message; the result is recorded by the caller.
async fn send(w: &Worker, m: Prepared) -> Settle {
    let d = &m.d;
    let settle = |outcome| settle_for(d, outcome);
    match w.transport.send(&m.envelope, &m.bytes).await {
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
