//! `netzpost consent ...`: re-permission (renewal) by hand; and `netzpost retention`: the
//! daily deletion (docs/privacy.md) run now.

use crate::config::Config;
use crate::output::Format;
use crate::store::Db;
use clap::Subcommand;
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum ConsentCmd {}

/// Runs the retention now (the daemon does it daily) and prints what it deleted.
pub async fn retention(
    cfg: &Config,
    db: &Db,
    format: Format,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let r = crate::retention::run(db, cfg, crate::store::now()).await?;
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, &r)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "raw inbound messages deleted: {} (older than {} days)",
            r.raw_messages_deleted, cfg.retention.inbound_raw_days
        )?;
        writeln!(
            out,
            "finished campaigns aggregated: {} ({} delivery rows, finished over {} days ago)",
            r.campaigns_aggregated, r.delivery_rows_aggregated, cfg.retention.delivery_rows_days
        )?;
        writeln!(
            out,
            "review items closed: {} (waiting over {} days)",
            r.reviews_closed, cfg.retention.review_days
        )?;
    }
    Ok(())
}
