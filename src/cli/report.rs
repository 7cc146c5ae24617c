//! `netzpost report ...`: the activation funnel as the dashboard and `/api/reports/funnel` show
//! it (`store::report`: people, not messages, over the window stated; "silent" is the state now).

use crate::output::{self, Format};
use crate::store::{self, Db};
use clap::Subcommand;
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum ReportCmd {
    /// The funnel per topic and per campaign: invited -> replied -> said yes -> came ->
    /// cooperation, with "silent now" beside it.
    Funnel {
        /// Count the topics' stages over the last DAYS days only (campaigns stay whole).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=36_500))]
        days: Option<i64>,
    },
}

pub async fn run(
    db: &Db,
    silent_after_days: i64,
    cmd: ReportCmd,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match cmd {
        ReportCmd::Funnel { days } => {
            let since = days.map(|d| store::now() - chrono::Duration::days(d));
            let window = store::report::window(db, since).await?;
            let topics = store::report::topics(db, silent_after_days, since).await?;
            let campaigns = store::report::campaigns(db).await?;
            if format == Format::Json {
                let v =
                    serde_json::json!({"window": window, "topics": topics, "campaigns": campaigns});
                writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
                return Ok(());
            }
            match window.since {
                Some(since) => writeln!(
                    out,
                    "window: {} to {} ({}); silent: now",
                    since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    window
                        .until
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    match days {
                        Some(d) => format!("the last {d} days for topics; campaigns whole"),
                        None => "since the first message sent".into(),
                    }
                )?,
                None => writeln!(out, "window: no message sent yet; silent: now")?,
            }
            writeln!(out)?;
            output::print(
                out,
                &topics,
                &[
                    "slug",
                    "silent",
                    "invited",
                    "replied",
                    "encounter",
                    "came",
                    "cooperation",
                    "unsubscribed",
                ],
                format,
            )?;
            writeln!(out)?;
            output::print(
                out,
                &campaigns,
                &[
                    "name",
                    "status",
                    "audience",
                    "invited",
                    "replied",
                    "encounter",
                    "came",
                    "cooperation",
                    "review",
                ],
                format,
            )?;
        }
    }
    Ok(())
}
