//! `netzpost schedules list`

use crate::config::Config;
use crate::outbound::campaign;
use crate::output::{self, Format};
use crate::schedule::CronSpec;
use crate::store::campaigns;
use crate::store::Db;
use anyhow::Context;
use clap::Subcommand;
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum SchedulesCmd {
    /// Every schedule with its next fire times.
    List {
        #[arg(long, default_value_t = 3)]
        next: usize,
    },
}

#[derive(serde::Serialize)]
struct ScheduleRow {
    schedule: String,
    campaign: String,
    cron: String,
    time_zone: String,
    last_fired: Option<String>,
    next: String,
}

pub async fn run(
    cfg: &Config,
    db: &Db,
    cmd: SchedulesCmd,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let SchedulesCmd::List { next } = cmd;
    let jobs = campaign::schedule_jobs(db, cfg).await?;
    let now = chrono::Utc::now();
    let mut rows = Vec::new();
    for campaign::ScheduleJob {
        key,
        campaign,
        cron,
        tz: z,
    } in jobs
    {
        let spec = CronSpec::parse(&cron).with_context(|| format!("schedule {key}"))?;
        let last = campaigns::last_firing(db, &key).await?;
        let next: Vec<String> = spec
            .upcoming(now, z, next)
            .into_iter()
            .map(|t| t.with_timezone(&z).format("%Y-%m-%d %H:%M %a").to_string())
            .collect();
        rows.push(ScheduleRow {
            schedule: key,
            campaign,
            cron,
            time_zone: z.to_string(),
            last_fired: last.map(|t| t.with_timezone(&z).format("%Y-%m-%d %H:%M").to_string()),
            next: next.join(", "),
        });
    }
    output::print(
        out,
        &rows,
        &[
            "schedule",
            "campaign",
            "cron",
            "time_zone",
            "last_fired",
            "next",
        ],
        format,
    )
}
