//! The daily jobs of `netzpost serve`: retention (`crate::retention`) and, when enabled, the
//! renewal of consent (`activation::renewal`). Each daemon tries them once per local day; the
//! store's claim row (`daily_runs`, one per job and day) lets exactly one of several daemons on
//! one database run each. A daemon that dies during a run leaves that day's run unfinished: the
//! jobs only delete or ask what is due, so the next day's run takes up the rest.

use crate::config::Config;
use crate::outbound::sender::Notifier;
use crate::store::{self, Db};

/// Runs each daily job not yet run today (in the configured time zone) by any daemon. The
/// renewal runs only with `renewal.enabled`, and asks only with a `notifier`.
pub async fn run_due(db: &Db, cfg: &Config, notifier: Option<&Notifier>) -> anyhow::Result<()> {
    let tz = cfg.tz().map_err(anyhow::Error::msg)?;
    let now = store::now();
    let day = now.with_timezone(&tz).date_naive().to_string();
    if store::retention::claim_daily(db, "retention", &day).await? {
        let report = crate::retention::run(db, cfg, now).await?;
        store::retention::finish_daily(db, "retention", &day, &serde_json::to_string(&report)?)
            .await?;
    }
    if cfg.renewal.enabled && store::retention::claim_daily(db, "renewal", &day).await? {
        let opts = crate::renewal::RenewalOptions::default();
        let report = crate::renewal::run(db, cfg, notifier, &opts, now).await?;
        store::retention::finish_daily(db, "renewal", &day, &serde_json::to_string(&report)?)
            .await?;
    }
    Ok(())
}
