//! `netzpost review ...`

use super::inbound::pipeline;
use crate::classify;
use crate::config::Config;
use crate::inbound::apply;
use crate::output::{self, Format};
use crate::store::Db;
use clap::Subcommand;
use std::io::Write;
use std::sync::Arc;

#[derive(Subcommand, Debug)]
pub enum ReviewCmd {
    /// Pending decisions (with --all also applied, rejected and undone ones).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Apply a pending decision, optionally as another intent.
    Accept {
        id: i64,
        /// accept, decline, cooperation, unsubscribe, none
        #[arg(long = "as")]
        as_intent: Option<String>,
    },
    /// Dismiss a pending decision: nothing changes.
    Reject { id: i64 },
    /// Revert an applied decision.
    Undo { id: i64 },
}

pub async fn run(
    cfg: Arc<Config>,
    db: &Db,
    cmd: ReviewCmd,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let who = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    match cmd {
        ReviewCmd::List { all, limit } => {
            let rows = apply::review_list(db, all, limit).await?;
            output::print(
                out,
                &rows,
                &[
                    "id",
                    "status",
                    "action",
                    "confidence",
                    "contact",
                    "from_addr",
                    "subject",
                    "text",
                    "reason",
                ],
                format,
            )?;
        }
        ReviewCmd::Accept { id, as_intent } => {
            let as_intent = as_intent
                .map(|s| s.parse::<classify::Intent>())
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let inb = pipeline(db, cfg).await?;
            let action = apply::review_accept(&inb, id, as_intent, &who).await?;
            writeln!(out, "decision {id} applied: {action}")?;
        }
        ReviewCmd::Reject { id } => {
            apply::review_reject(db, id, &who).await?;
            writeln!(out, "decision {id} rejected: nothing changed")?;
        }
        ReviewCmd::Undo { id } => {
            let undone = apply::review_undo(db, id, &who).await?;
            writeln!(out, "decision {id} undone")?;
            if let (Some(o), false) = (&undone.occasion, undone.moved_up.is_empty()) {
                // The yes taken back freed a place: the first in line is told, as after a
                // decline.
                let engine = crate::outbound::sender::Engine::new(db.clone(), cfg.clone()).await?;
                crate::outbound::occasion::send_moved_up(
                    db,
                    &engine.notifier(),
                    o,
                    &undone.moved_up,
                )
                .await;
                writeln!(
                    out,
                    "{} from the waiting list of {} now have a place and were told so",
                    undone.moved_up.len(),
                    o.slug
                )?;
            }
        }
    }
    Ok(())
}
