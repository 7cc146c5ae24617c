//! `netzpost topics ...`

use crate::output::{self, Format};
use crate::store::{self, Db, StoreError};
use clap::Subcommand;
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum TopicsCmd {
    /// Add a topic (NAME: lower-case, digits, dashes).
    Add {
        name: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List topics with their consent counts.
    List,
    /// Remove a topic.
    Remove {
        name: String,
        /// Remove even when contacts hold consent for it.
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(
    db: &Db,
    cmd: TopicsCmd,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match cmd {
        TopicsCmd::Add {
            name,
            title,
            description,
        } => {
            let t = store::topics::add(
                db,
                &name,
                title.as_deref().unwrap_or(&name),
                description.as_deref(),
            )
            .await?;
            writeln!(out, "topic {} added", t.slug)?;
        }
        TopicsCmd::List => {
            let rows = store::topics::list(db).await?;
            output::print(
                out,
                &rows,
                &["slug", "title", "confirmed", "pending", "unsubscribed"],
                format,
            )?;
        }
        TopicsCmd::Remove { name, force } => {
            store::topics::remove(db, &name, force)
                .await
                .map_err(|e| match e {
                    // Refused because contacts hold consent: the flag that removes it anyway.
                    StoreError::Conflict(m) if !force => {
                        anyhow::anyhow!("{m}; use --force to remove it with them")
                    }
                    e => e.into(),
                })?;
            writeln!(out, "topic {name} removed")?;
        }
    }
    Ok(())
}
