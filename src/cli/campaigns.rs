//! `netzpost campaigns ...`

use super::one_of;
use crate::config::Config;
use crate::domain::{parse_local_time, CampaignId, RelationForm};
use crate::outbound::campaign::{self, CreateArgs, CreateError};
use crate::outbound::sender::{Composer, Engine};
use crate::output::{self, Format};
use crate::store::campaigns::{self, Audience, CampaignKind, CampaignStatus, Ladder, Translations};
use crate::store::Db;
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Subcommand, Debug)]
pub enum CampaignsCmd {
    /// Create a campaign. Templates are checked now, so nothing fails halfway through a send.
    Create(Box<CreateCampaignArgs>),
    /// List campaigns with their progress.
    List,
    /// One campaign: settings, progress, and why it paused.
    Show { name: String },
    /// Show the message one contact would get: headers, text, and what else it carries.
    Preview {
        name: String,
        /// The contact's address.
        #[arg(long)]
        to: String,
        /// The encoded message as it would be sent (RFC 5322, to save as .eml).
        #[arg(long)]
        raw: bool,
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
    pub kind: Kind,
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
    #[arg(long, value_parser = one_of(RelationForm::ALL, RelationForm::as_str))]
    pub form: Option<RelationForm>,
    /// Only contacts without activity for this many days.
    #[arg(long)]
    pub inactive_days: Option<i64>,
    /// Only contacts whose attribute KEY equals VALUE (KEY=VALUE).
    #[arg(long)]
    pub attribute: Option<String>,
    /// Activation ladder: only contacts who said yes to this occasion.
    #[arg(long, value_name = "OCCASION", group = "ladder")]
    pub said_yes: Option<String>,
    /// Activation ladder: only contacts recorded as having come to this occasion.
    #[arg(long, value_name = "OCCASION", group = "ladder")]
    pub came: Option<String>,
    /// Activation ladder: only contacts who said yes to this occasion but did not come
    /// (recorded so, or nothing recorded once it is over).
    #[arg(long, value_name = "OCCASION", group = "ladder")]
    pub no_show: Option<String>,
    /// Activation ladder: only contacts who came to at least N occasions of the campaign's
    /// topic (or --of-topic) in the last --within-months months and have no cooperation.
    #[arg(long, value_name = "N", group = "ladder")]
    pub came_at_least: Option<i64>,
    /// With --came-at-least: the months looked back (default 12).
    #[arg(
        long,
        value_name = "M",
        requires = "came_at_least",
        default_value_t = 12
    )]
    pub within_months: i64,
    /// With --came-at-least: the topic of the occasions counted (default: the campaign's).
    #[arg(long, value_name = "TOPIC", requires = "came_at_least")]
    pub of_topic: Option<String>,
    /// Activation ladder: only contacts who declined each of the last K invitations that
    /// reached them.
    #[arg(long, value_name = "K", group = "ladder")]
    pub declined_last: Option<i64>,
}

/// The ladder flags of `campaigns create`, before their occasions and topic are looked up.
#[derive(Debug, Default)]
struct LadderArgs {
    said_yes: Option<String>,
    came: Option<String>,
    no_show: Option<String>,
    came_at_least: Option<i64>,
    within_months: i64,
    of_topic: Option<String>,
    declined_last: Option<i64>,
}

impl LadderArgs {
    fn of(a: &CreateCampaignArgs) -> LadderArgs {
        LadderArgs {
            said_yes: a.said_yes.clone(),
            came: a.came.clone(),
            no_show: a.no_show.clone(),
            came_at_least: a.came_at_least,
            within_months: a.within_months,
            of_topic: a.of_topic.clone(),
            declined_last: a.declined_last,
        }
    }

    /// The step, with its occasion or topic looked up (`topic`: the campaign's).
    async fn resolve(
        self,
        db: &Db,
        topic: Option<&str>,
        occasion: Option<&str>,
    ) -> anyhow::Result<Option<Ladder>> {
        let occ = |slug: String| async move {
            anyhow::Ok(crate::store::occasions::get(db, &slug).await?.id)
        };
        Ok(Some(if let Some(o) = self.said_yes {
            Ladder::SaidYes {
                occasion: occ(o).await?,
            }
        } else if let Some(o) = self.came {
            Ladder::Came {
                occasion: occ(o).await?,
            }
        } else if let Some(o) = self.no_show {
            Ladder::NoShow {
                occasion: occ(o).await?,
            }
        } else if let Some(min) = self.came_at_least {
            let topic = match (self.of_topic.as_deref(), topic, occasion) {
                (Some(t), _, _) | (None, Some(t), _) => crate::store::topics::get(db, t).await?.id,
                (None, None, Some(o)) => crate::store::occasions::get(db, o)
                    .await?
                    .topic_id
                    .context("--came-at-least: name the topic with --of-topic")?,
                (None, None, None) => {
                    anyhow::bail!("--came-at-least: name the topic with --of-topic")
                }
            };
            Ladder::Regular {
                topic,
                min,
                months: self.within_months,
            }
        } else if let Some(last) = self.declined_last {
            Ladder::Declined { last }
        } else {
            return Ok(None);
        }))
    }
}

/// `--kind`: the campaign kinds, with the help the command line shows for them.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// A topic newsletter to everyone with confirmed consent for the topic.
    Newsletter,
    /// An invitation to an occasion; by default to the silent contacts of its topic.
    Invitation,
    /// A call for cooperation on a topic; by default to its silent contacts.
    Cooperation,
}

impl From<Kind> for CampaignKind {
    fn from(k: Kind) -> CampaignKind {
        match k {
            Kind::Newsletter => CampaignKind::Newsletter,
            Kind::Invitation => CampaignKind::Invitation,
            Kind::Cooperation => CampaignKind::Cooperation,
        }
    }
}

pub async fn run(
    cfg: Arc<Config>,
    db: &Db,
    cmd: CampaignsCmd,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    match cmd {
        CampaignsCmd::Create(a) => {
            let composer = Composer::new(cfg.clone())?;
            let ladder = LadderArgs::of(&a);
            let (topic, occasion) = (a.topic.clone(), a.occasion.clone());
            let mut args = create_args(&cfg, *a)?;
            args.audience.ladder = ladder
                .resolve(db, topic.as_deref(), occasion.as_deref())
                .await?;
            let c = campaign::create(db, &composer, &args)
                .await
                .map_err(flag_hints)?;
            writeln!(out, "campaign {} created ({})", c.name, c.status)?;
        }
        CampaignsCmd::List => {
            let rows = campaigns::list(db).await?;
            output::print(
                out,
                &rows,
                &[
                    "name",
                    "kind",
                    "status",
                    "topic",
                    "occasion",
                    "schedule",
                    "queued",
                    "sent",
                    "failed",
                    "bounced",
                    "replied",
                    "status_reason",
                ],
                format,
            )?;
        }
        CampaignsCmd::Show { name } => {
            let c = campaigns::get(db, &name).await?;
            let p = campaigns::progress(db, c.id).await?;
            if format == Format::Json {
                serde_json::to_writer_pretty(
                    &mut *out,
                    &serde_json::json!({"campaign": c, "progress": p}),
                )?;
                writeln!(out)?;
            } else {
                writeln!(out, "{} ({}, {})", c.name, c.kind, c.status)?;
                if let Some(r) = &c.status_reason {
                    writeln!(out, "  reason:    {r}")?;
                }
                writeln!(out, "  subject:   {}", c.subject)?;
                let texts = c.translations();
                if !texts.is_empty() {
                    let langs: Vec<&str> = texts.keys().map(String::as_str).collect();
                    writeln!(out, "  also in:   {}", langs.join(", "))?;
                }
                writeln!(out, "  audience:  {}", c.audience)?;
                if let Some(s) = &c.schedule {
                    writeln!(out, "  schedule:  {s}")?;
                }
                writeln!(
                    out,
                    "  progress:  {} queued, {} sending, {} sent, {} failed, {} bounced, {} skipped",
                    p.queued, p.sending, p.sent, p.failed, p.bounced, p.skipped
                )?;
            }
        }
        CampaignsCmd::Preview { name, to, raw } => {
            let composer = Composer::new(cfg.clone())?;
            let text = if raw {
                campaign::preview(db, &composer, &name, &to).await?
            } else {
                campaign::preview_text(&campaign::preview_parts(db, &composer, &name, &to).await?)
            };
            write!(out, "{text}")?;
        }
        CampaignsCmd::Test {
            name,
            address,
            language,
        } => {
            let engine = Engine::new(db.clone(), cfg.clone()).await?;
            campaign::test_send(db, &engine.notifier(), &name, &address, language).await?;
            engine.close().await;
            writeln!(out, "test message of {name} sent to {address}")?;
        }
        CampaignsCmd::Send { name, wait } => {
            let c = campaigns::get(db, &name).await?;
            // Check the transport before queueing anything: a wrong SMTP host is an error now.
            let engine = Engine::new(db.clone(), cfg.clone()).await?;
            let n = campaign::start(db, &cfg, &c).await?;
            writeln!(out, "campaign {name}: {n} deliveries queued")?;
            if wait {
                let status = send_and_wait(db, &engine, c.id).await?;
                let p = campaigns::progress(db, c.id).await?;
                writeln!(
                    out,
                    "campaign {name} {status}: {} sent, {} failed, {} bounced, {} skipped",
                    p.sent, p.failed, p.bounced, p.skipped
                )?;
                engine.close().await;
                if status == CampaignStatus::Paused {
                    let c = campaigns::by_id(db, c.id).await?;
                    eprintln!("paused: {}", c.status_reason.unwrap_or_default());
                    return Ok(ExitCode::from(3));
                }
            } else {
                engine.close().await;
                writeln!(out, "`netzpost serve` sends it")?;
            }
        }
        CampaignsCmd::Pause { name } => {
            campaign::pause(db, &name).await?;
            writeln!(out, "campaign {name} paused")?;
        }
        CampaignsCmd::Resume { name } => {
            campaign::resume(db, &name).await?;
            writeln!(out, "campaign {name} resumed")?;
        }
        CampaignsCmd::Cancel { name } => {
            campaign::cancel(db, &name).await?;
            writeln!(out, "campaign {name} cancelled")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the engine in this process until the campaign is no longer running.
async fn send_and_wait(
    db: &Db,
    engine: &Engine,
    campaign_id: CampaignId,
) -> anyhow::Result<CampaignStatus> {
    let total = campaigns::progress(db, campaign_id).await?.total();
    let bar = crate::import::progress_bar(total as u64, true);
    loop {
        // The bar advances by what each batch handled: counting the whole campaign after every
        // batch cost more than the batch itself on large campaigns.
        let handled = engine
            .run_for(std::time::Duration::from_millis(500))
            .await?;
        bar.inc(handled as u64);
        if handled == 0 {
            campaigns::finish_completed(db).await?;
            let c = campaigns::by_id(db, campaign_id).await?;
            if c.status != CampaignStatus::Running {
                bar.finish_and_clear();
                return Ok(c.status);
            }
            // Retries are due later: wait for them.
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}

/// `--subject-lang`, `--body-lang` and `--body-file-lang` (each `LANG=...`) as one text per
/// language; a language name such as `Türkçe` becomes its code.
fn translations(
    subjects: &[String],
    bodies: &[String],
    body_files: &[String],
) -> anyhow::Result<Translations> {
    let mut out = Translations::new();
    let split = |opt: &str, kv: &str| -> anyhow::Result<(String, String)> {
        let (l, v) = kv
            .split_once('=')
            .with_context(|| format!("--{opt} {kv:?}: expected LANG=..."))?;
        let lang = crate::domain::Language::parse(l).with_context(|| format!("--{opt} {kv:?}"))?;
        Ok((lang.to_string(), v.to_string()))
    };
    for kv in subjects {
        let (lang, text) = split("subject-lang", kv)?;
        out.entry(lang).or_default().subject = text;
    }
    for (opt, list) in [("body-lang", bodies), ("body-file-lang", body_files)] {
        for kv in list {
            let (lang, v) = split(opt, kv)?;
            let text = if opt == "body-file-lang" {
                std::fs::read_to_string(&v).with_context(|| format!("--{opt} {lang}={v}"))?
            } else {
                v
            };
            let t = out.entry(lang.clone()).or_default();
            if !t.body.is_empty() {
                anyhow::bail!("--{opt}: two bodies in {lang}");
            }
            t.body = text;
        }
    }
    Ok(out)
}

fn create_args(cfg: &Config, a: CreateCampaignArgs) -> anyhow::Result<CreateArgs> {
    let tz = cfg.tz().map_err(anyhow::Error::msg)?;
    let body = match (a.body, a.body_file) {
        (Some(b), _) => b,
        (None, Some(f)) => {
            std::fs::read_to_string(&f).with_context(|| format!("--body-file {}", f.display()))?
        }
        (None, None) => String::new(),
    };
    let attribute = match a.attribute {
        Some(kv) => {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("--attribute {kv:?}: expected KEY=VALUE"))?;
            Some((k.trim().to_string(), v.trim().to_string()))
        }
        None => None,
    };
    let language = a
        .language
        .map(|l| crate::domain::Language::parse(&l).map(|l| l.to_string()))
        .transpose()
        .context("--language")?;
    let translations = translations(&a.subject_lang, &a.body_lang, &a.body_file_lang)?;
    Ok(CreateArgs {
        name: a.name,
        kind: a.kind.into(),
        topic: a.topic,
        occasion: a.occasion,
        subject: a.subject,
        body,
        translations,
        audience: Audience {
            silent: if a.silent {
                Some(true)
            } else if a.everyone {
                Some(false)
            } else {
                None
            },
            form: a.form,
            language,
            inactive_days: a.inactive_days,
            attribute,
            ladder: None,
        },
        schedule: a.schedule,
        send_at: a
            .send_at
            .map(|t| parse_local_time(&t, tz).context("--send-at"))
            .transpose()?,
    })
}

/// The library says what a campaign lacks; the command line also names the flag that gives it.
fn flag_hints(e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<CreateError>() {
        Some(CreateError::NoOccasion) => {
            anyhow::anyhow!("an invitation needs --occasion (see `netzpost occasions list`)")
        }
        Some(CreateError::NoTopic(name)) => anyhow::anyhow!(
            "campaign {name:?} needs --topic: only contacts who consented to a topic are mailed"
        ),
        Some(CreateError::Schedule(spec, cause)) => {
            anyhow::Error::new(cause.clone()).context(format!("--schedule {spec:?}"))
        }
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_names_what_is_missing_the_command_line_the_flag() {
        let cases = [
            (
                CreateError::NoOccasion,
                "an invitation needs an occasion to invite to",
                "an invitation needs --occasion (see `netzpost occasions list`)",
            ),
            (
                CreateError::NoTopic("nl".into()),
                "campaign \"nl\" needs a topic: only contacts who consented to a topic are mailed",
                "campaign \"nl\" needs --topic: only contacts who consented to a topic are mailed",
            ),
            (
                CreateError::Schedule(
                    "99 * * * *".into(),
                    crate::schedule::CronSpec::parse("99 * * * *").unwrap_err(),
                ),
                "schedule \"99 * * * *\": minute: invalid value '99': 99 is out of range 0-59",
                "--schedule \"99 * * * *\": minute: invalid value '99': 99 is out of range 0-59",
            ),
        ];
        for (e, library, cli) in cases {
            let e = anyhow::Error::from(e);
            assert_eq!(format!("{e:#}"), library);
            assert_eq!(format!("{:#}", flag_hints(e)), cli);
        }
        let other = anyhow::anyhow!("campaign \"nl\" is running already");
        assert_eq!(
            flag_hints(other).to_string(),
            "campaign \"nl\" is running already"
        );
    }
}
