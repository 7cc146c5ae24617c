//! `netzpost serve`: the long-running process.

use crate::config::Config;
use crate::store::Db;

pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    let db = Db::open(&cfg.database).await?;
    tracing::info!(database = %crate::store::redact(&cfg.database), "netzpost started");
    shutdown_signal().await;
    tracing::info!("stopping");
    db.close().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, so systemd and terminals stop the daemon the same clean way.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
