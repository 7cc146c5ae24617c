//! `netzpost contacts ...`

use super::one_of;
use crate::config::Config;
use crate::domain::{ConsentStatus, RelationForm};
use crate::output::{self, Format};
use crate::store::{self, Db};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

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
        #[arg(long, value_parser = one_of(RelationForm::ALL, RelationForm::as_str))]
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
    /// Everything kept about one person (GDPR Art. 15/20), as JSON: the same as "Meine Daten"
    /// on their preferences page.
    ExportPerson {
        email: String,
        /// Output file (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    pub file: PathBuf,
    /// Subscribe every imported contact to this topic (repeatable).
    #[arg(long)]
    pub topic: Vec<String>,
    /// Consent the contacts gave: `confirmed` only when you hold evidence of it.
    #[arg(long, value_parser = one_of(ConsentStatus::ALL, ConsentStatus::as_str),
          default_value_t = ConsentStatus::Pending)]
    pub consent: ConsentStatus,
    /// Where the contacts come from (default: the file name); kept as evidence.
    #[arg(long)]
    pub source: Option<String>,
    /// Where rejected rows are written (default: FILE.rejects.csv).
    #[arg(long)]
    pub rejects: Option<PathBuf>,
}

pub async fn run(
    cfg: &Config,
    db: &Db,
    cmd: ContactsCmd,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    match cmd {
        ContactsCmd::Import(a) => {
            let report = crate::import::run(
                db,
                &a.file,
                &crate::import::Options {
                    topics: &a.topic,
                    only_topics: None,
                    consent: a.consent,
                    source: a.source.as_deref(),
                    batch_size: cfg.outbound.batch_size as usize,
                    progress: true,
                },
            )
            .await?;
            writeln!(
                out,
                "{}: {} rows, {} new, {} updated, {} rejected",
                a.file.display(),
                report.rows,
                report.created,
                report.updated,
                report.rejected
            )?;
            if a.consent == ConsentStatus::Pending {
                let engine = crate::outbound::sender::Engine::new(
                    db.clone(),
                    std::sync::Arc::new(cfg.clone()),
                )
                .await?;
                let asked =
                    crate::renewal::ask_imported(db, &engine.notifier(), &a.topic, "import")
                        .await?;
                writeln!(
                    out,
                    "{asked} asked by mail to confirm (a reply \"Ja\" or the button in the mail)"
                )?;
            }
            if !report.rejects.is_empty() {
                let path = a.rejects.unwrap_or_else(|| {
                    let mut p = a.file.clone().into_os_string();
                    p.push(".rejects.csv");
                    p.into()
                });
                crate::import::write_rejects(&path, &report.rejects)
                    .with_context(|| format!("writing {}", path.display()))?;
                for r in report.rejects.iter().take(10) {
                    let hint = r.unknown_topic.as_deref().map(super::hints::unknown_topic);
                    match hint {
                        Some(h) => {
                            eprintln!("{}: line {}: {} ({h})", a.file.display(), r.line, r.reason)
                        }
                        None => eprintln!("{}: line {}: {}", a.file.display(), r.line, r.reason),
                    }
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
        ContactsCmd::ExportPerson { email, output } => {
            let c = store::contacts::get(db, &email).await?;
            let lang = crate::domain::Lang::parse(&cfg.default_language)
                .unwrap_or(crate::domain::Lang::En);
            let data = crate::privacy::personal_data(db, c.id, lang).await?;
            let json = serde_json::to_string_pretty(&data)?;
            match output {
                Some(path) => std::fs::write(&path, json + "\n")
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                None => writeln!(out, "{json}")?,
            }
        }
        ContactsCmd::Show { email } => {
            let mut d = store::contacts::detail(db, &email, cfg.silent_after_days).await?;
            // In the configured language (German or English, as the admin pages).
            let lang = crate::domain::Lang::parse(&cfg.default_language)
                .unwrap_or(crate::domain::Lang::En);
            crate::timeline::render(&mut d.timeline, lang);
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
            writeln!(
                out,
                "{email} forgotten: data and timeline removed, address kept only as a hash"
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_detail(out: &mut dyn Write, d: &store::contacts::ContactDetail) -> anyhow::Result<()> {
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
        if let Some(v) = &s.notice_version {
            writeln!(out, "  {:<20} privacy notice version {v}", "")?;
        }
        if let Some(t) = &s.consent_text {
            writeln!(out, "  {:<20} consented to: {t}", "")?;
        }
        if let Some(at) = s.renewal_asked_at {
            writeln!(
                out,
                "  {:<20} asked to renew on {}",
                "",
                at.format("%Y-%m-%d")
            )?;
        }
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
