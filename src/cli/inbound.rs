//! `netzpost inbound ...`

use super::workspace::{config_path, load_config, open_db};
use crate::classify;
use crate::config::Config;
use crate::domain::InboundId;
use crate::inbound::batch::read_limited;
use crate::inbound::{maildir, Inbound};
use crate::outbound::sender::Engine;
use crate::output::{self, Format};
use crate::store::inbound::InboundStatus;
use crate::store::Db;
use clap::Subcommand;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Subcommand, Debug)]
pub enum InboundCmd {
    /// Classify files without a database or side effects: one JSON object per line and file.
    Explain {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Take one message from a file or standard input (for an MTA pipe). Exit codes follow
    /// sysexits: 75 (temporary failure) makes the MTA retry.
    Ingest {
        #[arg(default_value = "-")]
        file: String,
    },
    /// Process the maildir inbox once (what `serve` does continuously).
    Process,
    /// Recent inbound messages.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Messages that could not be processed, with their error.
    Quarantine,
    /// Process a quarantined message again (after a fix).
    Reprocess { id: InboundId },
}

/// sysexits.h codes an MTA understands.
const EX_NOINPUT: u8 = 66;
const EX_TEMPFAIL: u8 = 75;

/// The inbound pipeline with a transport for acknowledgements (none when it cannot connect:
/// reading replies must not depend on the SMTP server being up).
pub(super) async fn pipeline(db: &Db, cfg: Arc<Config>) -> anyhow::Result<Inbound> {
    let notifier = match Engine::new(db.clone(), cfg.clone()).await {
        Ok(e) => Some(Arc::new(e.notifier())),
        Err(e) => {
            tracing::warn!("acknowledgements will not be sent: {e:#}");
            None
        }
    };
    Inbound::new(db.clone(), cfg, notifier)
}

pub async fn run(
    config: Option<&Path>,
    cmd: InboundCmd,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    if let InboundCmd::Explain { files } = &cmd {
        // No database and no workspace needed: a configuration only adds the user's rules.
        let cfg = Config::load(config_path(config).as_deref())?;
        let rules = crate::inbound::load_rules(&cfg)?;
        let mut failed = false;
        for f in files {
            let name = f.display().to_string();
            let line = match std::fs::read(f) {
                Ok(raw) => match classify::analyze(crate::inbound::strip_mbox_line(&raw), &rules) {
                    Ok(a) => classify::explain_json(&name, &a),
                    Err(e) => serde_json::json!({"file": name, "error": e.to_string()}),
                },
                Err(e) => {
                    failed = true;
                    serde_json::json!({"file": name, "error": e.to_string()})
                }
            };
            writeln!(out, "{line}")?;
        }
        return Ok(if failed {
            ExitCode::from(EX_NOINPUT)
        } else {
            ExitCode::SUCCESS
        });
    }
    if let InboundCmd::Ingest { file } = &cmd {
        return Ok(ingest(config, file).await);
    }
    let cfg = Arc::new(load_config(config)?);
    let db = open_db(&cfg).await?;
    match cmd {
        InboundCmd::Explain { .. } | InboundCmd::Ingest { .. } => unreachable!("handled above"),
        InboundCmd::Process => {
            let inb = pipeline(&db, cfg.clone()).await?;
            let n = maildir::poll_once(&inb, &cfg.inbound.maildir).await?;
            if let Some(i) = &cfg.inbound.imap {
                let inb = &inb;
                let imap = crate::imap::ImapConfig {
                    max_message_bytes: cfg.inbound.max_message_bytes,
                    ..i.to_imap_config()
                };
                let m = crate::imap::poll_once(&imap, |raw| async move {
                    inb.ingest(&raw, "imap").await.map(|_| ())
                })
                .await?;
                writeln!(
                    out,
                    "{m} messages taken from IMAP {}:{} {}",
                    i.host, i.port, i.mailbox
                )?;
            }
            let pending = inb.process_pending().await?;
            writeln!(
                out,
                "{n} messages taken from {}, {pending} pending processed",
                cfg.inbound.maildir.display()
            )?;
        }
        InboundCmd::List { limit } => {
            let inb = Inbound::new(db.clone(), cfg, None)?;
            let rows = inb.list(None, limit).await?;
            output::print(
                out,
                &rows,
                &[
                    "id",
                    "received_at",
                    "status",
                    "kind",
                    "intent",
                    "confidence",
                    "attribution",
                    "from_addr",
                    "subject",
                ],
                format,
            )?;
        }
        InboundCmd::Quarantine => {
            let inb = Inbound::new(db.clone(), cfg, None)?;
            let rows = inb.list(Some(InboundStatus::Quarantined), 1000).await?;
            output::print(
                out,
                &rows,
                &["id", "received_at", "source", "error"],
                format,
            )?;
        }
        InboundCmd::Reprocess { id } => {
            let inb = pipeline(&db, cfg).await?;
            inb.reprocess(id).await?;
            writeln!(out, "inbound message {id} processed")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `inbound ingest`: never panics, answers in sysexits so the MTA knows whether to retry.
/// `inbound ingest` is what a mail server's pipe runs: every failure that is not the
/// message's own (an unreadable file named on the command line) exits 75, so the server keeps
/// the message and tries again. A broken or missing configuration is the administrator's to
/// fix; a permanent exit code would bounce the person's reply back to them and lose it.
async fn ingest(config: Option<&Path>, file: &str) -> ExitCode {
    let cfg = match load_config(config) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("error: {}", super::hints::describe(&e));
            return ExitCode::from(EX_TEMPFAIL);
        }
    };
    // At most `inbound.max_message_bytes` + 1 bytes are kept: a larger message is quarantined.
    let max = cfg.inbound.max_message_bytes;
    let raw = if file == "-" {
        match read_limited(std::io::stdin().lock(), max, true) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: reading standard input: {e}");
                return ExitCode::from(EX_TEMPFAIL);
            }
        }
    } else {
        match std::fs::File::open(file).and_then(|f| read_limited(f, max, false)) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {file}: {e}");
                return ExitCode::from(EX_NOINPUT);
            }
        }
    };
    let result = async {
        let db = open_db(&cfg).await?;
        let inb = pipeline(&db, cfg.clone()).await?;
        let s = inb
            .ingest(&raw, if file == "-" { "stdin" } else { "file" })
            .await?;
        db.close().await;
        anyhow::Ok(s)
    }
    .await;
    match result {
        Ok(s) => {
            println!(
                "inbound message {}{}",
                s.id,
                if s.duplicate {
                    " (duplicate, unchanged)"
                } else {
                    ""
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Stored or not, the MTA keeps the message and tries again: nothing is lost.
            eprintln!("error: {}", super::hints::describe(&e));
            ExitCode::from(EX_TEMPFAIL)
        }
    }
}
