//! `netzpost check`, `netzpost backup FILE` and `netzpost restore FILE`: the administrator's
//! commands for a workspace that runs.

use super::workspace::{load_config, open};
use crate::check::Verdict;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// A daemon that said it was alive this recently is taken to be running.
const RUNNING_WITHIN_SECS: i64 = 30;

/// `netzpost check`: one line per part; exit 1 when something blocks sending or reading.
pub async fn check(given: Option<&Path>, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let cfg = load_config(given)?;
    let report = crate::check::run(&cfg).await;
    for f in &report.findings {
        writeln!(out, "{:<5} {:<12} {}", f.verdict.word(), f.part, f.text)?;
    }
    let worst = report.findings.iter().map(|f| f.verdict).max();
    writeln!(
        out,
        "{}",
        match worst {
            Some(Verdict::Blocks) => "Something above stops netzpost from sending or reading mail.",
            Some(Verdict::Attention) =>
                "netzpost can run; the notes above say what people would notice.",
            _ => "Everything works.",
        }
    )?;
    Ok(if report.blocks() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `netzpost backup FILE`: a consistent snapshot of the SQLite database, also while `serve` runs.
pub async fn backup(given: Option<&Path>, file: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let (_, db) = open(given).await?;
    db.snapshot_into(file).await?;
    db.close().await;
    let facts = crate::store::backup::inspect_snapshot(file).await?;
    writeln!(
        out,
        "backup written to {} ({} contacts, schema {} of {} migrations)",
        file.display(),
        facts.contacts,
        facts.schema.applied,
        facts.schema.known
    )?;
    Ok(())
}

/// `netzpost restore FILE`: puts a backup in place of the workspace's SQLite database (kept
/// beside it), then migrates it to this version's schema. Refuses while a daemon runs.
pub async fn restore(
    given: Option<&Path>,
    file: &Path,
    force: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let cfg = load_config(given)?;
    let Some(target) = cfg.sqlite_file() else {
        anyhow::bail!(
            "the database is PostgreSQL: restore a pg_dump with pg_restore (see README, \"Backup\")"
        );
    };
    let facts = crate::store::backup::inspect_snapshot(file).await?;
    if target.exists() && !force {
        let db = crate::store::Db::connect(&cfg.database).await?;
        let since = crate::store::now() - chrono::Duration::seconds(RUNNING_WITHIN_SECS);
        let running = crate::store::senders::live_senders(&db, since)
            .await
            .unwrap_or_default();
        db.close().await;
        if !running.is_empty() {
            anyhow::bail!(
                "netzpost is running on this database ({}): stop `netzpost serve` first (or \
                 --force if it is gone)",
                running.join(", ")
            );
        }
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut aside = target.as_os_str().to_owned();
    aside.push(format!(".before-restore-{stamp}"));
    let kept = crate::store::backup::put_in_place(file, &target, Path::new(&aside)).await?;
    let db = crate::store::Db::connect(&cfg.database).await?;
    let migrated = db.migrate().await?;
    db.close().await;
    writeln!(
        out,
        "restored {} ({} contacts) into {}{}{}",
        file.display(),
        facts.contacts,
        target.display(),
        match migrated {
            0 => String::new(),
            n => format!("; {n} migrations applied"),
        },
        match kept {
            Some(p) => format!("; the database that was there is kept as {}", p.display()),
            None => String::new(),
        }
    )?;
    Ok(())
}
