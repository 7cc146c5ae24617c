//! Retention (docs/privacy.md): once a day the raw bytes of old inbound messages are deleted
//! (their visible text and decisions stay), the delivery rows of campaigns finished long ago
//! become totals per status, and review items nobody took up are closed. Each limit is a
//! config key (`[retention]`). `daily` runs this and the renewal once a day, in one daemon.

use crate::config::Config;
use crate::store::{self, Db};
use serde::Serialize;

/// What one retention run deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Inbound messages whose raw bytes were deleted.
    pub raw_messages_deleted: u64,
    /// Finished campaigns whose delivery rows became totals, and how many rows.
    pub campaigns_aggregated: u64,
    pub delivery_rows_aggregated: u64,
    /// Review items closed unanswered.
    pub reviews_closed: u64,
}

/// Deletes what the `[retention]` limits say is no longer kept, as of `now`. Review items are
/// closed first, so that a message whose item closes loses its raw bytes in the same run when
/// it is old enough.
pub async fn run(db: &Db, cfg: &Config, now: store::Timestamp) -> store::Result<RetentionReport> {
    let r = &cfg.retention;
    let days = chrono::Duration::days;
    let reviews_closed =
        store::retention::close_stale_reviews(db, now - days(r.review_days)).await?;
    let raw_messages_deleted =
        store::retention::delete_raw_inbound(db, now - days(r.inbound_raw_days)).await?;
    let (campaigns_aggregated, delivery_rows_aggregated) =
        store::retention::aggregate_deliveries(db, now - days(r.delivery_rows_days)).await?;
    let report = RetentionReport {
        raw_messages_deleted,
        campaigns_aggregated,
        delivery_rows_aggregated,
        reviews_closed,
    };
    tracing::info!(?report, "retention");
    Ok(report)
}
