//! Retention: what is deleted once it is no longer needed (docs/privacy.md), and the claim of
//! a daily job's run, so that with several daemons on one database each job runs once a day.

use super::{now, Db, Result, Timestamp};
use crate::{in_tx, on_db};

/// Claims job `job` for `day` (the local date, `YYYY-MM-DD`): true for the one caller that
/// inserted the row, false for every other daemon (and for a second call).
pub async fn claim_daily(db: &Db, job: &str, day: &str) -> Result<bool> {
    let n = on_db!(db, p => {
        sqlx::query(
            "INSERT INTO daily_runs (job, day, started_at) VALUES ($1, $2, $3)
             ON CONFLICT (job, day) DO NOTHING",
        )
        .bind(job)
        .bind(day)
        .bind(now())
        .execute(p)
        .await?
        .rows_affected()
    });
    Ok(n > 0)
}

/// Keeps what a daily run did (JSON), beside its claim.
pub async fn finish_daily(db: &Db, job: &str, day: &str, report: &str) -> Result<()> {
    on_db!(db, p => {
        sqlx::query("UPDATE daily_runs SET report = $1 WHERE job = $2 AND day = $3")
            .bind(report)
            .bind(job)
            .bind(day)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// Deletes the raw bytes of inbound messages received before `before` (the row, its visible
/// text, analysis and decisions stay). Messages still in flight (new, being processed) and
/// those with a decision waiting in the review queue keep theirs: accepting a decision reads
/// the message again. Returns how many.
pub async fn delete_raw_inbound(db: &Db, before: Timestamp) -> Result<u64> {
    Ok(on_db!(db, p => {
        sqlx::query(
            "UPDATE inbound_messages SET raw = $1, raw_deleted_at = $2
             WHERE received_at < $3 AND raw_deleted_at IS NULL
               AND status IN ('processed', 'quarantined')
               AND NOT EXISTS (SELECT 1 FROM decisions d
                               WHERE d.inbound_id = inbound_messages.id AND d.status = 'pending')",
        )
        .bind(Vec::<u8>::new())
        .bind(now())
        .bind(before)
        .execute(p)
        .await?
        .rows_affected()
    }))
}

/// Closes review items that waited since before `before`: rejected by `retention`, changing
/// nothing. Returns how many.
pub async fn close_stale_reviews(db: &Db, before: Timestamp) -> Result<u64> {
    Ok(on_db!(db, p => {
        sqlx::query(
            "UPDATE decisions SET status = 'rejected', decided_at = $1, decided_by = 'retention'
             WHERE status = 'pending' AND created_at < $2",
        )
        .bind(now())
        .bind(before)
        .execute(p)
        .await?
        .rows_affected()
    }))
}

/// Turns the delivery rows of campaigns that finished (done or cancelled) before `before` into
/// totals per status (`delivery_totals`), in one transaction per call. Returns the campaigns
/// and the rows.
pub async fn aggregate_deliveries(db: &Db, before: Timestamp) -> Result<(u64, u64)> {
    const FINISHED: &str = "SELECT k.id FROM campaigns k
        WHERE k.status IN ('done', 'cancelled') AND k.finished_at < $1
          AND EXISTS (SELECT 1 FROM deliveries d WHERE d.campaign_id = k.id)";
    let campaigns_sql = format!("SELECT COUNT(*) FROM ({FINISHED}) f");
    let totals_sql = format!(
        "INSERT INTO delivery_totals (campaign_id, status, count)
         SELECT campaign_id, status, COUNT(*) FROM deliveries
         WHERE campaign_id IN ({FINISHED}) GROUP BY campaign_id, status
         ON CONFLICT (campaign_id, status) DO UPDATE SET count = delivery_totals.count + excluded.count"
    );
    let delete_sql = format!("DELETE FROM deliveries WHERE campaign_id IN ({FINISHED})");
    Ok(in_tx!(db, tx => {
        let campaigns: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(campaigns_sql.as_str()))
            .bind(before)
            .fetch_one(&mut **tx)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(totals_sql.as_str()))
            .bind(before)
            .execute(&mut **tx)
            .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(delete_sql.as_str()))
            .bind(before)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        (campaigns as u64, rows)
    }))
}
