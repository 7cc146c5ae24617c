//! `netzpost campaigns ...` and `netzpost schedules list`.

use crate::cli::{parse_time, CampaignsCmd, CreateCampaignArgs};
use crate::config::Config;
use crate::outbound::campaign::{self, CreateArgs};
use crate::outbound::sender::{Composer, Engine};
use crate::output::{self, Format};
use crate::schedule::CronSpec;
use crate::store::campaigns::{self, Audience, Translations};
use crate::store::Db;
use anyhow::Context;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

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
            let args = create_args(&cfg, *a)?;
            let c = campaign::create(db, &composer, &args).await?;
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
        CampaignsCmd::Preview { name, to } => {
            let composer = Composer::new(cfg.clone())?;
            write!(
                out,
                "{}",
                campaign::preview(db, &composer, &name, &to).await?
            )?;
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
                if status == "paused" {
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
pub async fn send_and_wait(db: &Db, engine: &Engine, campaign_id: i64) -> anyhow::Result<String> {
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
            if c.status != "running" {
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
        kind: a.kind,
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
        },
        schedule: a.schedule,
        send_at: a
            .send_at
            .map(|t| parse_time(&t, tz).context("--send-at"))
            .transpose()?,
    })
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

pub async fn schedules(
    cfg: &Config,
    db: &Db,
    next: usize,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
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
