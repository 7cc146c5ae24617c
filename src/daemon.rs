//! `netzpost serve`: the long-running process.

use crate::config::Config;
use crate::store::Db;

pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    let stop = shutdown_signal();
    let db = Db::open(&cfg.database).await?;
    tracing::info!(database = %crate::store::redact(&cfg.database), "netzpost started");
    stop.await;
    tracing::info!("stopping");
    db.close().await;
    Ok(())
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
