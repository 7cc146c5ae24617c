//! `netzpost consent ...`: re-permission (renewal) by hand; and `netzpost retention`: the
//! daily deletion (docs/privacy.md) run now.

use crate::config::Config;
use crate::output::Format;
use crate::store::Db;
use clap::Subcommand;
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum ConsentCmd {
    /// Re-permission now: ask contacts silent for long whether they still want mail on a topic
    /// (one mail; reply "Ja" or press the button), withdraw the consents asked about and not
    /// answered in `renewal.answer_days`, and erase or keep contacts left without consent
    /// (`renewal.after_withdrawal`). Prints what happened.
    Renew {
        /// Only this topic's consents.
        #[arg(long)]
        topic: Option<String>,
        /// Silent for more than this many days (default: `renewal.silent_for_days`).
        #[arg(long = "silent-for", value_name = "DAYS")]
        silent_for: Option<i64>,
    },
    /// Who is due for a renewal request, and whose request is still open (nothing is sent).
    Due {
        #[arg(long)]
        topic: Option<String>,
        #[arg(long = "silent-for", value_name = "DAYS")]
        silent_for: Option<i64>,
    },
}

pub async fn run(
    cfg: std::sync::Arc<Config>,
    db: &Db,
    cmd: ConsentCmd,
    format: Format,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let topic_id = |slug: Option<String>| async move {
        anyhow::Ok(match slug {
            Some(s) => Some(crate::store::topics::get(db, &s).await?.id),
            None => None,
        })
    };
    match cmd {
        ConsentCmd::Renew { topic, silent_for } => {
            if let Some(d) = silent_for.filter(|d| *d < 1) {
                anyhow::bail!("--silent-for {d}: must be at least 1 day");
            }
            let opts = crate::renewal::RenewalOptions {
                topic: topic_id(topic).await?,
                silent_for_days: silent_for,
            };
            let engine = crate::outbound::sender::Engine::new(db.clone(), cfg.clone()).await?;
            let notifier = engine.notifier();
            let report =
                crate::renewal::run(db, &cfg, Some(&notifier), &opts, crate::store::now()).await;
            engine.close().await;
            let report = report?;
            if format == Format::Json {
                serde_json::to_writer_pretty(&mut *out, &report)?;
                writeln!(out)?;
            } else {
                let line = |e: &crate::renewal::Entry| format!("{} ({})", e.email, e.topic);
                writeln!(out, "asked: {}", report.asked.len())?;
                for e in &report.asked {
                    writeln!(out, "  {}", line(e))?;
                }
                writeln!(out, "not sent (asked next time): {}", report.not_sent.len())?;
                for (e, why) in &report.not_sent {
                    writeln!(out, "  {}: {why}", line(e))?;
                }
                writeln!(
                    out,
                    "consent withdrawn, no answer in time: {}",
                    report.withdrawn.len()
                )?;
                for e in &report.withdrawn {
                    writeln!(out, "  {}", line(e))?;
                }
                writeln!(out, "erased, no consent left: {}", report.forgotten.len())?;
                for e in &report.forgotten {
                    writeln!(out, "  {e}")?;
                }
            }
        }
        ConsentCmd::Due { topic, silent_for } => {
            let days = silent_for.unwrap_or(cfg.renewal.silent_for_days);
            let topic = topic_id(topic).await?;
            let now = crate::store::now();
            let mut due = crate::store::consents::due_for_renewal(
                db,
                topic,
                now - chrono::Duration::days(days),
            )
            .await?;
            due.extend(
                crate::store::consents::renewals_open(db, None)
                    .await?
                    .into_iter()
                    .filter(|d| topic.is_none_or(|t| t == d.topic_id)),
            );
            if format == Format::Json {
                serde_json::to_writer_pretty(&mut *out, &due)?;
                writeln!(out)?;
            } else {
                for d in &due {
                    let state = match d.renewal_asked_at {
                        Some(at) => format!("asked {}", at.format("%Y-%m-%d")),
                        None => "due".to_string(),
                    };
                    writeln!(
                        out,
                        "{:<32} {:<20} {:<18} consent since {}",
                        d.email,
                        d.topic,
                        state,
                        d.changed_at.format("%Y-%m-%d")
                    )?;
                }
            }
        }
    }
    Ok(())
}

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
