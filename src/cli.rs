//! The command line: parses arguments and calls into the library, nothing else.

use crate::config::Config;
use crate::domain::{ConsentStatus, RelationForm};
use crate::output::{self, Format};
use crate::store::{self, Db};
use anyhow::{bail, Context};
use chrono::TimeZone;
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
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
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
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
    Contacts(ContactsCmd),
    /// Topics that contacts consent to.
    #[command(subcommand)]
    Topics(TopicsCmd),
    /// Occasions to invite to (encounters).
    #[command(subcommand)]
    Occasions(OccasionsCmd),
    /// Campaigns: newsletters, invitations, calls for cooperation.
    #[command(subcommand)]
    Campaigns(CampaignsCmd),
    /// Recurring schedules and their next fire times.
    #[command(subcommand)]
    Schedules(SchedulesCmd),
    /// Inbound mail: replies, bounces, auto-replies.
    #[command(subcommand)]
    Inbound(InboundCmd),
    /// The review queue: decisions the inbound pipeline was not sure of, and recent ones to undo.
    #[command(subcommand)]
    Review(ReviewCmd),
    /// Bearer tokens for the admin API (`/api`).
    #[command(subcommand)]
    Tokens(crate::cli_web::TokensCmd),
    /// Logins for the admin pages (`/admin`).
    #[command(subcommand)]
    Admin(crate::cli_web::AdminCmd),
    /// Run the daemon: scheduler, sender, inbound sources, web pages and API.
    Serve,
    /// Build a demo workspace in ./demo with a sample network and show what netzpost does.
    Demo {
        #[arg(long, default_value = "demo")]
        dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ContactsCmd {
    /// Import contacts from a CSV file (header row; `;`, `,` or tab; UTF-8 or Windows-1252).
    Import(ImportArgs),
    /// List contacts.
    List {
        /// Only silent contacts (consent, no relation, no recent reply).
        #[arg(long)]
        silent: bool,
        /// Only contacts with consent (pending or confirmed) for this topic.
        #[arg(long)]
        topic: Option<String>,
        /// Only contacts with an active relation of this form.
        #[arg(long, value_enum)]
        form: Option<RelationForm>,
        #[arg(long)]
        limit: Option<i64>,
    },
    /// Everything about one contact, with the timeline.
    Show { email: String },
    /// Export all contacts as CSV (re-importable).
    Export {
        /// Output file (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Erase a contact: data and timeline removed; only a hash stays, so no import brings it back.
    Forget { email: String },
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    pub file: PathBuf,
    /// Subscribe every imported contact to this topic (repeatable).
    #[arg(long)]
    pub topic: Vec<String>,
    /// Consent the contacts gave: `confirmed` only when you hold evidence of it.
    #[arg(long, value_enum, default_value_t = ConsentStatus::Pending)]
    pub consent: ConsentStatus,
    /// Where the contacts come from (default: the file name); kept as evidence.
    #[arg(long)]
    pub source: Option<String>,
    /// Where rejected rows are written (default: FILE.rejects.csv).
    #[arg(long)]
    pub rejects: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum CampaignsCmd {
    /// Create a campaign. Templates are checked now, so nothing fails halfway through a send.
    Create(Box<CreateCampaignArgs>),
    /// List campaigns with their progress.
    List,
    /// One campaign: settings, progress, and why it paused.
    Show { name: String },
    /// Render the message one contact would get.
    Preview {
        name: String,
        /// The contact's address.
        #[arg(long)]
        to: String,
    },
    /// Send the message once to an address (nothing recorded).
    Test {
        name: String,
        address: String,
        #[arg(long)]
        language: Option<String>,
    },
    /// Start sending now.
    Send {
        name: String,
        /// Send in this process and return when done (progress bar on a terminal).
        #[arg(long)]
        wait: bool,
    },
    /// Pause a running campaign.
    Pause { name: String },
    /// Resume a paused campaign.
    Resume { name: String },
    /// Cancel a campaign; queued deliveries are dropped.
    Cancel { name: String },
}

#[derive(Args, Debug)]
pub struct CreateCampaignArgs {
    pub name: String,
    #[arg(long, value_enum)]
    pub kind: crate::store::campaigns::CampaignKind,
    /// Topic whose consent covers the campaign (an invitation may take its occasion's).
    #[arg(long)]
    pub topic: Option<String>,
    /// Occasion an invitation invites to.
    #[arg(long)]
    pub occasion: Option<String>,
    /// Subject (a minijinja template, e.g. "Einladung: {{ occasion.title }}"); empty: the
    /// template's default.
    #[arg(long, default_value = "")]
    pub subject: String,
    /// Body text (minijinja; paragraphs separated by blank lines).
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// Subject in a further language, e.g. `--subject-lang tr="Davet: {{ occasion.title }}"`
    /// (repeatable). Contacts of a language without its own text get the main text.
    #[arg(long = "subject-lang", value_name = "LANG=TEXT")]
    pub subject_lang: Vec<String>,
    /// Body in a further language, e.g. `--body-lang uk="..."` (repeatable).
    #[arg(long = "body-lang", value_name = "LANG=TEXT")]
    pub body_lang: Vec<String>,
    /// Body in a further language from a file, e.g. `--body-file-lang ar=einladung.ar.txt`.
    #[arg(long = "body-file-lang", value_name = "LANG=FILE")]
    pub body_file_lang: Vec<String>,
    /// Recurring: 5-field crontab ("0 9 * * 1" = Mondays 09:00) or @daily, @weekly, @monthly.
    #[arg(long, conflicts_with = "send_at")]
    pub schedule: Option<String>,
    /// One-shot at this time ("2026-12-01 09:00" in the configured zone).
    #[arg(long)]
    pub send_at: Option<String>,
    /// Audience: only silent contacts (default for invitations and cooperation calls).
    #[arg(long, conflicts_with = "everyone")]
    pub silent: bool,
    /// Audience: everyone with consent, silent or not.
    #[arg(long)]
    pub everyone: bool,
    #[arg(long)]
    pub language: Option<String>,
    #[arg(long, value_enum)]
    pub form: Option<RelationForm>,
    /// Only contacts without activity for this many days.
    #[arg(long)]
    pub inactive_days: Option<i64>,
    /// Only contacts whose attribute KEY equals VALUE (KEY=VALUE).
    #[arg(long)]
    pub attribute: Option<String>,
}

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
    Reprocess { id: i64 },
}

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

#[derive(Subcommand, Debug)]
pub enum SchedulesCmd {
    /// Every schedule with its next fire times.
    List {
        #[arg(long, default_value_t = 3)]
        next: usize,
    },
}

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
            eprintln!("error: {e:#}");
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

/// The configuration file in effect: the given one, or config/netzpost.toml when present.
pub fn config_path(given: Option<&Path>) -> Option<PathBuf> {
    match given {
        Some(p) => Some(p.to_path_buf()),
        None => {
            let p = PathBuf::from("config/netzpost.toml");
            p.exists().then_some(p)
        }
    }
}

/// sysexits.h EX_CONFIG: no workspace, or a configuration that cannot be used.
pub const EX_CONFIG: u8 = 78;

/// A command that needs a workspace found none. Nothing is created: a command run from the
/// wrong folder (an MTA pipe, a cron job) must not start an empty database and put mail there.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error(
        "no netzpost workspace: {0} does not exist (create one with `netzpost init DIR`, or name \
         the configuration with --config or NETZPOST_CONFIG)"
    )]
    NoConfig(String),
    #[error(
        "database {0} does not exist (`netzpost init` creates a workspace, `netzpost migrate` \
         the database of an existing configuration)"
    )]
    NoDatabase(String),
}

/// The workspace's configuration: the given file, or config/netzpost.toml in the current folder;
/// none is an error ([`WorkspaceError::NoConfig`]).
pub fn load_config(given: Option<&Path>) -> anyhow::Result<Config> {
    let path = config_path(given).ok_or_else(|| {
        let dir = std::env::current_dir().unwrap_or_default();
        WorkspaceError::NoConfig(dir.join("config/netzpost.toml").display().to_string())
    })?;
    if !path.exists() {
        return Err(WorkspaceError::NoConfig(path.display().to_string()).into());
    }
    Ok(Config::load(Some(&path))?)
}

/// An SQLite database must exist already: only `init` and `migrate` create one.
pub fn check_database(cfg: &Config) -> Result<(), WorkspaceError> {
    match cfg.sqlite_file() {
        Some(f) if !f.exists() => Err(WorkspaceError::NoDatabase(f.display().to_string())),
        _ => Ok(()),
    }
}

pub async fn open_db(cfg: &Config) -> anyhow::Result<Db> {
    check_database(cfg)?;
    Ok(Db::open(&cfg.database).await?)
}

/// The exit code of a failed command: 78 when the workspace or its configuration is missing or
/// unusable, else 1.
pub fn exit_code_of(e: &anyhow::Error) -> ExitCode {
    if e.downcast_ref::<WorkspaceError>().is_some()
        || e.downcast_ref::<crate::config::ConfigError>().is_some()
    {
        ExitCode::from(EX_CONFIG)
    } else {
        ExitCode::FAILURE
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    crate::install_crypto_provider();
    let mut out = std::io::stdout().lock();
    let format = cli.format;
    match cli.command {
        Command::Init { dir } => {
            init_workspace(&dir).await?;
            println!(
                "netzpost workspace ready in {}. Next: cd {} && netzpost topics add nachbarschaft",
                dir.display(),
                dir.display()
            );
        }
        Command::Demo { dir } => crate::demo::run(&dir).await?,
        Command::Migrate => {
            let cfg = load_config(cli.config.as_deref())?;
            let db = Db::connect(&cfg.database).await?;
            let n = db.migrate().await?;
            println!("{n} migrations applied");
        }
        Command::Serve => {
            let cfg = load_config(cli.config.as_deref())?;
            check_database(&cfg)?;
            crate::daemon::serve(cfg).await?;
        }
        Command::Topics(cmd) => {
            let cfg = load_config(cli.config.as_deref())?;
            let db = open_db(&cfg).await?;
            match cmd {
                TopicsCmd::Add {
                    name,
                    title,
                    description,
                } => {
                    let t = store::topics::add(
                        &db,
                        &name,
                        title.as_deref().unwrap_or(&name),
                        description.as_deref(),
                    )
                    .await?;
                    println!("topic {} added", t.slug);
                }
                TopicsCmd::List => {
                    let rows = store::topics::list(&db).await?;
                    output::print(
                        &mut out,
                        &rows,
                        &["slug", "title", "confirmed", "pending", "unsubscribed"],
                        format,
                    )?;
                }
                TopicsCmd::Remove { name, force } => {
                    store::topics::remove(&db, &name, force).await?;
                    println!("topic {name} removed");
                }
            }
        }
        Command::Occasions(cmd) => {
            let cfg = load_config(cli.config.as_deref())?;
            let db = open_db(&cfg).await?;
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
                        Some(t) => Some(store::topics::get(&db, &t).await?.id),
                        None => None,
                    };
                    let starts_at = parse_time(&start, tz).context("--start")?;
                    let ends_at = end
                        .map(|e| parse_time(&e, tz).context("--end"))
                        .transpose()?;
                    let o = store::occasions::add(
                        &db,
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
                    println!("occasion {} added", o.slug);
                }
                OccasionsCmd::List => {
                    let rows = store::occasions::list(&db).await?;
                    output::print(
                        &mut out,
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
        }
        Command::Campaigns(cmd) => {
            let cfg = load_config(cli.config.as_deref())?;
            let db = open_db(&cfg).await?;
            return crate::cli_campaigns::run(std::sync::Arc::new(cfg), &db, cmd, format, &mut out)
                .await;
        }
        Command::Schedules(SchedulesCmd::List { next }) => {
            let cfg = load_config(cli.config.as_deref())?;
            let db = open_db(&cfg).await?;
            crate::cli_campaigns::schedules(&cfg, &db, next, format, &mut out).await?;
        }
        Command::Inbound(cmd) => {
            return crate::cli_inbound::inbound(cli.config.as_deref(), cmd, format, &mut out).await;
        }
        Command::Tokens(cmd) => {
            let cfg = load_config(cli.config.as_deref())?;
            let db = open_db(&cfg).await?;
            crate::cli_web::run_tokens(&db, cmd, format, &mut out).await?;
        }
        Command::Admin(cmd) => {
            let cfg = load_config(cli.config.as_deref())?;
            let db = open_db(&cfg).await?;
            crate::cli_web::run_admin(&db, cmd, &mut std::io::stdin().lock(), &mut out).await?;
        }
        Command::Review(cmd) => {
            let cfg = load_config(cli.config.as_deref())?;
            let db = open_db(&cfg).await?;
            crate::cli_inbound::review(std::sync::Arc::new(cfg), &db, cmd, format, &mut out)
                .await?;
        }
        Command::Contacts(cmd) => {
            let cfg = load_config(cli.config.as_deref())?;
            let db = open_db(&cfg).await?;
            return contacts(&cfg, &db, cmd, format, &mut out).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn contacts(
    cfg: &Config,
    db: &Db,
    cmd: ContactsCmd,
    format: Format,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<ExitCode> {
    match cmd {
        ContactsCmd::Import(a) => {
            let report = crate::import::run(
                db,
                &a.file,
                &crate::import::Options {
                    topics: &a.topic,
                    consent: a.consent,
                    source: a.source.as_deref(),
                    batch_size: cfg.outbound.batch_size as usize,
                    progress: true,
                },
            )
            .await?;
            println!(
                "{}: {} rows, {} new, {} updated, {} rejected",
                a.file.display(),
                report.rows,
                report.created,
                report.updated,
                report.rejected
            );
            if !report.rejects.is_empty() {
                let path = a.rejects.unwrap_or_else(|| {
                    let mut p = a.file.clone().into_os_string();
                    p.push(".rejects.csv");
                    p.into()
                });
                crate::import::write_rejects(&path, &report.rejects)
                    .with_context(|| format!("writing {}", path.display()))?;
                for r in report.rejects.iter().take(10) {
                    eprintln!("{}: line {}: {}", a.file.display(), r.line, r.reason);
                }
                if report.rejects.len() > 10 {
                    eprintln!("... {} more", report.rejects.len() - 10);
                }
                eprintln!("rejected rows written to {}", path.display());
                // Good rows landed; a non-zero exit still tells scripts that some did not.
                return Ok(ExitCode::from(2));
            }
        }
        ContactsCmd::List {
            silent,
            topic,
            form,
            limit,
        } => {
            let topic_id = match topic {
                Some(t) => Some(store::topics::get(db, &t).await?.id),
                None => None,
            };
            let rows = store::contacts::list(
                db,
                &store::contacts::ContactFilter {
                    topic_id,
                    form,
                    silent,
                    silent_after_days: cfg.silent_after_days,
                    limit,
                    offset: 0,
                },
            )
            .await?;
            output::print(
                out,
                &rows,
                &[
                    "email",
                    "name",
                    "organisation",
                    "language",
                    "last_activity_at",
                ],
                format,
            )?;
        }
        ContactsCmd::Show { email } => {
            let d = store::contacts::detail(db, &email, cfg.silent_after_days).await?;
            if format == Format::Json {
                serde_json::to_writer_pretty(&mut *out, &d)?;
                writeln!(out)?;
            } else {
                print_detail(out, &d)?;
            }
        }
        ContactsCmd::Export { output: path } => {
            let rows = store::contacts::export(db).await?;
            let cols = [
                "email",
                "name",
                "organisation",
                "language",
                "topics",
                "attributes",
                "source",
                "created_at",
            ];
            match path {
                Some(p) => {
                    let mut f = std::fs::File::create(&p)
                        .with_context(|| format!("creating {}", p.display()))?;
                    output::print(&mut f, &rows, &cols, Format::Csv)?;
                    eprintln!("{} contacts written to {}", rows.len(), p.display());
                }
                None => output::print(out, &rows, &cols, Format::Csv)?,
            }
        }
        ContactsCmd::Forget { email } => {
            store::contacts::forget(db, &email).await?;
            println!("{email} forgotten: data and timeline removed, address kept only as a hash");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_detail(
    out: &mut dyn std::io::Write,
    d: &store::contacts::ContactDetail,
) -> anyhow::Result<()> {
    let c = &d.contact;
    writeln!(out, "{}", c.email)?;
    let show = |k: &str, v: &Option<String>| v.as_ref().map(|v| format!("  {k:<13}{v}\n"));
    for line in [
        show("name", &c.name),
        show("organisation", &c.organisation),
        show("language", &c.language),
        show("source", &c.source),
    ]
    .into_iter()
    .flatten()
    {
        write!(out, "{line}")?;
    }
    if c.attributes != "{}" {
        writeln!(out, "  {:<13}{}", "attributes", c.attributes)?;
    }
    let state = match (d.suppressed, d.silent) {
        (true, _) => "suppressed (no more mail: bounced, complaint, blocked)",
        (false, true) => "silent contact",
        (false, false) => "active",
    };
    writeln!(out, "  {:<13}{state}", "state")?;
    writeln!(out, "consent:")?;
    for s in &d.subscriptions {
        writeln!(
            out,
            "  {:<20} {:<12} {} via {}{}",
            s.topic,
            s.status,
            s.changed_at.format("%Y-%m-%d %H:%M"),
            s.method,
            s.evidence
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )?;
    }
    if !d.relations.is_empty() {
        writeln!(out, "relations:")?;
        for r in &d.relations {
            writeln!(
                out,
                "  {:<12} {:<10} since {} caused by {}{}{}",
                r.form,
                r.status,
                r.since.format("%Y-%m-%d %H:%M"),
                r.cause_kind,
                r.cause_ref
                    .as_deref()
                    .map(|e| format!(" {e}"))
                    .unwrap_or_default(),
                r.party_size
                    .map(|n| format!(" ({n} people)"))
                    .unwrap_or_default()
            )?;
        }
    }
    if !d.wishes.is_empty() {
        writeln!(out, "wishes:")?;
        for w in &d.wishes {
            writeln!(
                out,
                "  {:<20} not before {} ({}) said {}{}",
                w.topic,
                w.not_before.format("%Y-%m-%d"),
                w.wish,
                w.created_at.format("%Y-%m-%d %H:%M"),
                w.cause_ref
                    .as_deref()
                    .map(|e| format!(" in {e}"))
                    .unwrap_or_default()
            )?;
        }
    }
    writeln!(out, "timeline:")?;
    for a in &d.timeline {
        writeln!(
            out,
            "  {}  {:<10} {}",
            a.at.format("%Y-%m-%d %H:%M"),
            a.kind,
            a.summary
        )?;
    }
    Ok(())
}

/// "2026-12-12 15:00" (in `tz`) or RFC 3339.
pub fn parse_time(s: &str, tz: chrono_tz::Tz) -> anyhow::Result<store::Timestamp> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    for f in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d.%m.%Y %H:%M"] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return match tz.from_local_datetime(&naive) {
                chrono::LocalResult::Single(t) => Ok(t.with_timezone(&chrono::Utc)),
                chrono::LocalResult::Ambiguous(t, _) => Ok(t.with_timezone(&chrono::Utc)),
                chrono::LocalResult::None => bail!("{s:?} does not exist in {tz} (clock change)"),
            };
        }
    }
    bail!("cannot read the time {s:?}: use \"2026-12-12 15:00\" or RFC 3339")
}

/// `netzpost init`: refuses to overwrite anything.
pub async fn init_workspace(dir: &Path) -> anyhow::Result<()> {
    let config = dir.join("config/netzpost.toml");
    if config.exists() {
        bail!(
            "{} exists already: init does not overwrite (remove it first)",
            config.display()
        );
    }
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    // The configuration holds the secret and `var/` the database and the mail: neither is for
    // other users, whatever the umask (the folders the calls create are 0700, the file 0600).
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut private_dir = std::fs::DirBuilder::new();
    private_dir.recursive(true).mode(0o700);
    for sub in [
        "config",
        "var/outbox",
        "var/inbox/new",
        "var/inbox/cur",
        "var/inbox/tmp",
    ] {
        private_dir
            .create(dir.join(sub))
            .with_context(|| format!("creating {}", dir.join(sub).display()))?;
    }
    let secret = random_secret();
    let text =
        crate::config::EXAMPLE.replacen("secret = \"\"", &format!("secret = \"{secret}\""), 1);
    // Never a workspace without a strong secret, whatever becomes of the example file.
    if !text.contains(&secret) {
        bail!("the configuration template has no `secret = \"\"` line to fill in");
    }
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&config)
            .with_context(|| format!("writing {}", config.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("writing {}", config.display()))?;
    }
    // Its relative paths are relative to the workspace `dir`.
    let cfg = Config::load(Some(&config))?;
    let db = Db::open(&cfg.database).await?;
    db.close().await;
    Ok(())
}

pub fn random_secret() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}
