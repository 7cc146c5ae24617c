//! `netzpost occasions ...`

use crate::config::Config;
use crate::domain::parse_local_time;
use crate::output::{self, Format};
use crate::store::{self, Db};
use anyhow::Context;
use clap::Subcommand;
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum OccasionsCmd {
    /// Add an occasion. Times as "2026-12-12 15:00" in the configured time zone, or RFC 3339.
    Add {
        name: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        start: String,
        #[arg(long)]
        end: Option<String>,
        #[arg(long)]
        place: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        capacity: Option<i64>,
        #[arg(long)]
        topic: Option<String>,
    },
    /// List occasions with their RSVP counts.
    List,
}

pub async fn run(
    cfg: &Config,
    db: &Db,
    cmd: OccasionsCmd,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let tz = cfg.tz().map_err(anyhow::Error::msg)?;
    match cmd {
        OccasionsCmd::Add {
            name,
            title,
            start,
            end,
            place,
            description,
            capacity,
            topic,
        } => {
            let topic_id = match topic {
                Some(t) => Some(store::topics::get(db, &t).await?.id),
                None => None,
            };
            let starts_at = parse_local_time(&start, tz).context("--start")?;
            let ends_at = end
                .map(|e| parse_local_time(&e, tz).context("--end"))
                .transpose()?;
            let o = store::occasions::add(
                db,
                &store::occasions::NewOccasion {
                    slug: name,
                    title,
                    starts_at,
                    ends_at,
                    place,
                    description,
                    capacity,
                    topic_id,
                },
            )
            .await?;
            writeln!(out, "occasion {} added", o.slug)?;
        }
        OccasionsCmd::List => {
            let rows = store::occasions::list(db).await?;
            output::print(
                out,
                &rows,
                &[
                    "slug",
                    "title",
                    "starts_at",
                    "place",
                    "topic",
                    "capacity",
                    "coming",
                    "declined",
                    "people",
                ],
                format,
            )?;
        }
    }
    Ok(())
}
