//! The command line: parses arguments and calls into the library, nothing else. One file per
//! command group, each with its clap `Subcommand` and a `run`; here the top-level parser, the
//! global options, the dispatch and the exit codes.

mod backup;
mod campaigns;
mod consent;
mod contacts;
mod hints;
mod inbound;
mod occasions;
mod report;
mod review;
mod schedules;
mod topics;
mod workspace;
// Public: tests drive these two in-process against their databases.
pub mod admin;
pub mod tokens;

use crate::output::Format;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "netzpost",
    version,
    about = "Mailing and contact activation for network work in a social space",
    long_about = "netzpost keeps silent contacts with their topics and consent, sends topic newsletters \
                  and invitations on schedules, reads the replies and raises contacts into encounters \
                  or cooperation interest."
)]
pub struct Cli {
    /// Configuration file (default: config/netzpost.toml in the current folder); relative paths
    /// in it are relative to its workspace (the folder holding config/).
    #[arg(long, global = true, env = "NETZPOST_CONFIG")]
    pub config: Option<PathBuf>,
    /// How lists are printed.
    #[arg(long, global = true, value_parser = one_of(Format::ALL, Format::as_str),
          default_value = "table")]
    pub format: Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a configuration (with a fresh secret), templates and an empty database into DIR.
    Init {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Apply pending database migrations (also done at every start).
    Migrate,
    /// Contacts: import, list, show, export, forget.
    #[command(subcommand)]
    Contacts(contacts::ContactsCmd),
    /// Topics that contacts consent to.
    #[command(subcommand)]
    Topics(topics::TopicsCmd),
    /// Occasions to invite to (encounters).
    #[command(subcommand)]
    Occasions(occasions::OccasionsCmd),
    /// Campaigns: newsletters, invitations, calls for cooperation.
    #[command(subcommand)]
    Campaigns(campaigns::CampaignsCmd),
    /// Recurring schedules and their next fire times.
    #[command(subcommand)]
    Schedules(schedules::SchedulesCmd),
    /// Inbound mail: replies, bounces, auto-replies.
    #[command(subcommand)]
    Inbound(inbound::InboundCmd),
    /// The review queue: decisions the inbound pipeline was not sure of, and recent ones to undo.
    #[command(subcommand)]
    Review(review::ReviewCmd),
    /// Reports: the activation funnel (as on the dashboard and in the API).
    #[command(subcommand)]
    Report(report::ReportCmd),
    /// Bearer tokens for the admin API (`/api`).
    #[command(subcommand)]
    Tokens(tokens::TokensCmd),
    /// Delete now what the `[retention]` limits no longer keep (the daemon does it daily):
    /// raw inbound messages, delivery rows of finished campaigns, stale review items.
    Retention,
    #[command(subcommand)]
    Consent(consent::ConsentCmd),
    /// Logins for the admin pages (`/admin`).
    #[command(subcommand)]
    Admin(admin::AdminCmd),
    /// Run the daemon: scheduler, sender, inbound sources, web pages and API.
    Serve,
    /// Tell what works and what not: database, sending, replies, web address, public URL, DKIM,
    /// organisation. Sends nothing. Exits 1 when something blocks sending or reading.
    Check,
    /// Write a consistent copy of the SQLite database to FILE, also while `serve` runs.
    /// (PostgreSQL: use pg_dump.)
    Backup {
        /// Where to write the copy; must not exist yet.
        file: PathBuf,
    },
    /// Put a backup made by `netzpost backup` in place of the database (the old one is kept
    /// beside it) and migrate it to this version. Stop `serve` first.
    Restore {
        file: PathBuf,
        /// Restore even though a daemon seemed to run on the database in the last 30 seconds.
        #[arg(long)]
        force: bool,
    },
    /// Build a demo workspace in ./demo with a sample network and show what netzpost does.
    Demo {
        #[arg(long, default_value = "demo")]
        dir: PathBuf,
    },
}

/// A value parser for a library enum given by its values and their names: the names are the
/// possible values (in the help, in errors, with suggestions), as a derived `clap::ValueEnum`
/// would give, while the library types stay free of clap.
fn one_of<T: Copy + Send + Sync + 'static>(
    all: &'static [T],
    name: fn(T) -> &'static str,
) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(all.iter().map(|&v| name(v))).try_map(move |s| {
        all.iter()
            .copied()
            .find(|&v| name(v) == s)
            .ok_or("not a possible value")
    })
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon tells what it does; one-shot commands speak only when something is wrong.
    init_tracing(if matches!(cli.command, Command::Serve) {
        "info,sqlx=warn"
    } else {
        "warn"
    });
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", hints::describe(&e));
            exit_code_of(&e)
        }
    }
}

/// Libraries whose debug output carries credentials: lettre writes every SMTP command at debug
/// (`AUTH PLAIN <base64 of user and password>`), async-imap every IMAP command at trace
/// (`LOGIN "user" "password"`). They are held at warn (all they log above debug) whatever
/// `NETZPOST_LOG` asks for. The modules that log the commands are named too: a directive for a
/// longer target wins, and one for the same target is replaced by the one added last (ours).
const CREDENTIAL_LOGGERS: &[&str] = &[
    "lettre=warn",
    "lettre::transport::smtp::client::async_connection=warn",
    "lettre::transport::smtp::client::connection=warn",
    "lettre::transport::smtp::commands=warn",
    "async_imap=warn",
    "async_imap::imap_stream=warn",
    "imap_proto=warn",
];

fn init_tracing(default: &str) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("NETZPOST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    for d in CREDENTIAL_LOGGERS {
        filter = filter.add_directive(d.parse().expect("a valid directive"));
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// sysexits.h EX_CONFIG: no workspace, or a configuration that cannot be used.
const EX_CONFIG: u8 = 78;

/// sysexits.h EX_TEMPFAIL: a part that is down now (a mail server); trying again may work.
const EX_TEMPFAIL: u8 = 75;

/// The exit code of a failed command: 78 when the workspace or its configuration is missing or
/// unusable, 75 when a mail server could not take a message now, else 1.
fn exit_code_of(e: &anyhow::Error) -> ExitCode {
    let temporary = e.chain().any(|c| {
        c.downcast_ref::<crate::transport::SendError>()
            .is_some_and(|s| !s.is_permanent())
            || c.downcast_ref::<crate::transport::TransportError>()
                .is_some()
            || matches!(
                c.downcast_ref::<crate::activation::ActivationError>(),
                Some(crate::activation::ActivationError::Unavailable(_))
            )
    });
    if temporary {
        return ExitCode::from(EX_TEMPFAIL);
    }
    if e.downcast_ref::<workspace::WorkspaceError>().is_some()
        || e.downcast_ref::<crate::config::ConfigError>().is_some()
        || matches!(
            e.downcast_ref::<crate::workspace::InitError>(),
            Some(crate::workspace::InitError::Config(_))
        )
    {
        ExitCode::from(EX_CONFIG)
    } else {
        ExitCode::FAILURE
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    crate::install_crypto_provider();
    let mut out = std::io::stdout().lock();
    let (config, format) = (cli.config.as_deref(), cli.format);
    match cli.command {
        Command::Init { dir } => workspace::init(&dir, &mut out).await?,
        Command::Demo { dir } => workspace::demo(&dir).await?,
        Command::Migrate => workspace::migrate(config, &mut out).await?,
        Command::Serve => workspace::serve(config).await?,
        Command::Check => return backup::check(config, &mut out).await,
        Command::Backup { file } => backup::backup(config, &file, &mut out).await?,
        Command::Restore { file, force } => backup::restore(config, &file, force, &mut out).await?,
        Command::Contacts(cmd) => {
            let (cfg, db) = workspace::open(config).await?;
            return contacts::run(&cfg, &db, cmd, format, &mut out).await;
        }
        Command::Topics(cmd) => {
            let (_, db) = workspace::open(config).await?;
            topics::run(&db, cmd, format, &mut out).await?;
        }
        Command::Occasions(cmd) => {
            let (cfg, db) = workspace::open(config).await?;
            occasions::run(&cfg, &db, cmd, format, &mut out).await?;
        }
        Command::Campaigns(cmd) => {
            let (cfg, db) = workspace::open(config).await?;
            return campaigns::run(std::sync::Arc::new(cfg), &db, cmd, format, &mut out).await;
        }
        Command::Schedules(cmd) => {
            let (cfg, db) = workspace::open(config).await?;
            schedules::run(&cfg, &db, cmd, format, &mut out).await?;
        }
        Command::Inbound(cmd) => return inbound::run(config, cmd, format, &mut out).await,
        Command::Consent(cmd) => {
            let (cfg, db) = workspace::open(config).await?;
            consent::run(std::sync::Arc::new(cfg), &db, cmd, format, &mut out).await?;
        }
        Command::Retention => {
            let (cfg, db) = workspace::open(config).await?;
            consent::retention(&cfg, &db, format, &mut out).await?;
        }
        Command::Review(cmd) => {
            let (cfg, db) = workspace::open(config).await?;
            review::run(std::sync::Arc::new(cfg), &db, cmd, format, &mut out).await?;
        }
        Command::Report(cmd) => {
            let (cfg, db) = workspace::open(config).await?;
            report::run(&db, cfg.silent_after_days, cmd, format, &mut out).await?;
        }
        Command::Tokens(cmd) => {
            let (_, db) = workspace::open(config).await?;
            tokens::run(&db, cmd, format, &mut out).await?;
        }
        Command::Admin(cmd) => {
            let (cfg, db) = workspace::open(config).await?;
            admin::run(&cfg, &db, cmd, &mut std::io::stdin().lock(), &mut out).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod exit_code_tests {
    use super::*;

    #[test]
    fn a_mail_server_down_exits_75_a_refusal_1() {
        let down = anyhow::Error::new(crate::transport::SendError::Temporary {
            code: None,
            message: "connection refused".into(),
        })
        .context("test send");
        assert_eq!(exit_code_of(&down), ExitCode::from(EX_TEMPFAIL));
        let refused = anyhow::Error::new(crate::transport::SendError::Permanent {
            code: Some(550),
            message: "no such user".into(),
        });
        assert_eq!(exit_code_of(&refused), ExitCode::FAILURE);
        let unavailable: anyhow::Error =
            crate::activation::ActivationError::Unavailable("relay".into()).into();
        assert_eq!(exit_code_of(&unavailable), ExitCode::from(EX_TEMPFAIL));
    }
}
