//! `netzpost serve`: the long-running process.

use crate::config::Config;
use crate::outbound::{campaign, sender::Engine};
use crate::store::Db;
use std::sync::Arc;
use std::time::Duration;

pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    let stop = shutdown_signal();
    let cfg = Arc::new(cfg);
    let db = Db::open(&cfg.database).await?;
    // Connects to the SMTP server now: a wrong host or password stops the start, with its name.
    let engine = Engine::new(db.clone(), cfg.clone()).await?;
    let inbound = Arc::new(crate::inbound::Inbound::new(
        db.clone(),
        cfg.clone(),
        Some(Arc::new(engine.notifier())),
    )?);
    crate::inbound::maildir::ensure(&cfg.inbound.maildir)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let imap = cfg.inbound.imap.as_ref().map(|i| {
        let inbound = inbound.clone();
        let mut rx = stop_rx.clone();
        tokio::spawn(crate::imap::run(
            crate::imap::ImapConfig {
                max_message_bytes: cfg.inbound.max_message_bytes,
                ..i.to_imap_config()
            },
            move |raw: Vec<u8>| {
                let inbound = inbound.clone();
                async move { inbound.ingest(&raw, "imap").await.map(|_| ()) }
            },
            async move {
                let _ = rx.changed().await;
            },
        ))
    });
    let web_state =
        crate::web::AppState::new(db.clone(), cfg.clone(), Some(Arc::new(engine.notifier())))?;
    let web = {
        let mut rx = stop_rx.clone();
        crate::web::start(web_state, &cfg.http.listen, async move {
            let _ = rx.changed().await;
        })
        .await?
    };
    // Nobody can sign in yet: the first administrator comes through a one-time link.
    match crate::web::auth::setup_url(&db, &cfg.http.public_url).await {
        Ok(Some(link)) => {
            tracing::warn!(%link, "no admin login yet: open the setup link within {} hours to \
                create the first administrator (it works once; `netzpost admin setup-link` \
                prints a fresh one)", crate::web::auth::SETUP_LINK_HOURS);
            println!("First login: {link}");
        }
        Ok(None) => {}
        Err(e) => tracing::error!("setup link: {e}"),
    }
    // Inbound mail is read in its own task: a message that takes long to read (a hostile
    // References header, a slow lock) never holds up the sending, and the other way round.
    let reading = tokio::spawn(read_loop(inbound.clone(), cfg.clone(), stop_rx.clone()));
    tracing::info!(database = %crate::store::redact(&cfg.database), "netzpost started");
    tokio::pin!(stop);
    // The local day whose daily jobs this daemon has seen to (`daily`: one daemon runs each).
    let mut daily_done: Option<chrono::NaiveDate> = None;
    let daily_notifier = engine.notifier();
    let mut occasion_mails_at: Option<std::time::Instant> = None;
    loop {
        let today = chrono::Utc::now()
            .with_timezone(&cfg.tz().map_err(anyhow::Error::msg)?)
            .date_naive();
        if daily_done != Some(today) {
            // Once a day even when it fails: what it missed is still due tomorrow.
            if let Err(e) = crate::daily::run_due(&db, &cfg, Some(&daily_notifier)).await {
                tracing::error!("daily jobs: {e:#}");
            }
            daily_done = Some(today);
        }
        let worked = tokio::select! {
            _ = &mut stop => break,
            r = tick(&db, &cfg, &engine, &mut occasion_mails_at) => r,
        };
        let idle = match worked {
            Ok(n) => n == 0,
            Err(e) => {
                tracing::error!("{e:#}");
                true
            }
        };
        if idle {
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    if let Err(e) = reading.await {
        tracing::error!("inbound task: {e}");
    }
    match web.handle.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("web server: {e}"),
        Err(e) => tracing::error!("web server task: {e}"),
    }
    if let Some(task) = imap {
        match task.await {
            Ok(Err(e)) => tracing::warn!("IMAP: {e}"),
            Err(e) => tracing::warn!("IMAP task: {e}"),
            Ok(Ok(())) => {}
        }
    }
    engine.close().await;
    db.close().await;
    Ok(())
}

/// Reads inbound mail until `stop` turns true: the maildir every `inbound.poll_secs`, and
/// messages left half-done by a daemon that died. A round is never cut off in the middle (its
/// chunk commits or rolls back whole); the stop is seen between rounds.
async fn read_loop(
    inbound: Arc<crate::inbound::Inbound>,
    cfg: Arc<Config>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let every = Duration::from_secs(cfg.inbound.poll_secs);
    while !*stop.borrow() {
        let round = async {
            anyhow::Ok(
                crate::inbound::maildir::poll_due(&inbound, &cfg.inbound.maildir, every).await?
                    + inbound.process_pending().await?,
            )
        };
        let idle = match round.await {
            Ok(n) => n == 0,
            Err(e) => {
                tracing::error!("inbound: {e:#}");
                true
            }
        };
        if idle {
            tokio::select! {
                _ = stop.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

/// One round of the sending work. Returns how much it did (0: idle).
async fn tick(
    db: &Db,
    cfg: &Arc<Config>,
    engine: &Engine,
    occasion_mails_at: &mut Option<std::time::Instant>,
) -> anyhow::Result<usize> {
    let started = campaign::fire_schedules(db, cfg, chrono::Utc::now()).await?;
    // Reminders and follow-ups are due by the day: looking once a minute is soon enough.
    if occasion_mails_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
        *occasion_mails_at = Some(std::time::Instant::now());
        crate::outbound::occasion_mails::queue_due(db, cfg, chrono::Utc::now()).await?;
    }
    for name in &started {
        tracing::info!(campaign = %name, "campaign run started");
    }
    for name in crate::store::campaigns::resume_due(db).await? {
        tracing::info!(campaign = %name, "campaign resumed by itself after its pause");
    }
    let sent = engine.run_for(Duration::from_secs(1)).await?;
    if sent == 0 {
        for name in crate::store::campaigns::finish_completed(db).await? {
            tracing::info!(campaign = %name, "campaign done");
        }
    }
    Ok(sent + started.len())
}

/// Resolves on Ctrl-C or SIGTERM, so systemd and terminals stop the daemon the same clean way.
/// The handlers are installed when this is called, not when it is first polled: a SIGTERM that
/// arrives during start-up must not kill the process uncleanly.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {}
                _ = wait(int) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
