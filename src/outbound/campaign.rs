//! Campaign life cycle: create (templates checked first), send, pause, resume, cancel, preview,
//! test, and recurring schedules.

use crate::config::Config;
use crate::outbound::sender::{
    mail_kind, sender_domain, CampaignCtx, Composer, Notifier, Recipient,
};
use crate::schedule::{CronSpec, ScheduleError};
use crate::store::campaigns::{
    self, Audience, Campaign, CampaignKind, CampaignStatus, Caps, NewCampaign, Translations,
};
use crate::store::{self, Db, Timestamp};
use anyhow::{bail, Context};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct CreateArgs {
    pub name: String,
    pub kind: CampaignKind,
    pub topic: Option<String>,
    pub occasion: Option<String>,
    pub subject: String,
    pub body: String,
    /// The text in further languages (the main text is in `default_language`).
    pub translations: Translations,
    pub audience: Audience,
    pub schedule: Option<String>,
    pub send_at: Option<Timestamp>,
}

/// A campaign that cannot be created as asked, for a reason its caller (a command line, a form)
/// may want to say in its own words.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("an invitation needs an occasion to invite to")]
    NoOccasion,
    #[error("campaign {0:?} needs a topic: only contacts who consented to a topic are mailed")]
    NoTopic(String),
    #[error("schedule {0:?}")]
    Schedule(String, #[source] ScheduleError),
}

pub fn caps(cfg: &Config) -> Caps {
    Caps {
        invitation_every_days: cfg.outbound.invitation_every_days,
        max_messages_per_30_days: cfg.outbound.max_messages_per_30_days,
        silent_after_days: cfg.silent_after_days,
        rest_after_declines: cfg.occasions.rest_after_declines,
        rest_days: cfg.occasions.rest_days,
    }
}

/// Creates a campaign after checking everything that could stop it halfway: topic and occasion
/// exist, the schedule parses, and subject, body and templates render for a sample contact in
/// every language.
pub async fn create(db: &Db, composer: &Composer, a: &CreateArgs) -> anyhow::Result<Campaign> {
    let c = checked(db, composer, a).await?;
    Ok(campaigns::create(db, &c).await?)
}

/// Rewrites a campaign that has not started yet (a draft, or one scheduled once) after the same
/// checks as [`create`]; its name and kind stay.
pub async fn update(db: &Db, composer: &Composer, a: &CreateArgs) -> anyhow::Result<Campaign> {
    let old = campaigns::get(db, &a.name).await?;
    if old.kind != a.kind {
        bail!("campaign {:?} is a {}: its kind stays", a.name, old.kind);
    }
    let c = checked(db, composer, a).await?;
    if !campaigns::update_draft(db, old.id, &c).await? {
        bail!(
            "campaign {:?} is {}: only a campaign not yet sent can be changed",
            a.name,
            old.status
        );
    }
    Ok(campaigns::by_id(db, old.id).await?)
}

/// The ladder step of the audience names an occasion and counts that exist.
async fn check_ladder(db: &Db, a: &CreateArgs) -> anyhow::Result<()> {
    use store::campaigns::Ladder;
    match a.audience.ladder {
        None => {}
        Some(
            Ladder::SaidYes { occasion } | Ladder::Came { occasion } | Ladder::NoShow { occasion },
        ) => {
            store::occasions::by_id(db, occasion).await?;
        }
        Some(Ladder::Regular { topic, min, months }) => {
            store::topics::by_id(db, topic).await?;
            if min < 1 || months < 1 {
                bail!(
                    "campaign {:?}: came at least {min} times in {months} months: both must be 1 or more",
                    a.name
                );
            }
        }
        Some(Ladder::Declined { last }) if last < 1 => {
            bail!(
                "campaign {:?}: declined the last {last} invitations: must be 1 or more",
                a.name
            );
        }
        Some(Ladder::Declined { .. }) => {}
    }
    Ok(())
}

async fn checked(db: &Db, composer: &Composer, a: &CreateArgs) -> anyhow::Result<NewCampaign> {
    let occasion = match &a.occasion {
        Some(o) => Some(store::occasions::get(db, o).await?),
        None => None,
    };
    if a.kind == CampaignKind::Invitation && occasion.is_none() {
        return Err(CreateError::NoOccasion.into());
    }
    let topic_id = match (&a.topic, &occasion) {
        (Some(t), _) => Some(store::topics::get(db, t).await?.id),
        (None, Some(o)) => o.topic_id,
        (None, None) => None,
    };
    let Some(topic_id) = topic_id else {
        return Err(CreateError::NoTopic(a.name.clone()).into());
    };
    if let Some(s) = &a.schedule {
        CronSpec::parse(s).map_err(|e| CreateError::Schedule(s.clone(), e))?;
    }
    check_ladder(db, a).await?;
    // The trial render runs on a blocking thread: it is bounded (fuel and output limit, see
    // `render`), but a template near its limit should not hold an async worker meanwhile.
    let (renderer, kind) = (Arc::clone(&composer.renderer), mail_kind(a.kind));
    let (subject, body) = (a.subject.clone(), a.body.clone());
    tokio::task::spawn_blocking(move || renderer.validate(kind, &subject, &body))
        .await
        .context("template check")?
        .with_context(|| format!("campaign {:?}", a.name))?;
    let languages = composer.renderer.languages();
    for (lang, t) in &a.translations {
        let code = crate::domain::Language::parse(lang)
            .with_context(|| format!("campaign {:?}: text in {lang:?}", a.name))?;
        if code.as_str() != lang {
            bail!(
                "campaign {:?}: write the language of a text as its code ({code}, not {lang:?})",
                a.name
            );
        }
        if lang == composer.renderer.default_lang() {
            bail!(
                "campaign {:?}: the main subject and body are the text in {lang} (default_language); \
                 further languages are for the others",
                a.name
            );
        }
        if !languages.contains(lang) {
            bail!(
                "campaign {:?}: no mail templates in {lang:?} (this installation has: {})",
                a.name,
                languages.join(", ")
            );
        }
        if t.subject.trim().is_empty() && t.body.trim().is_empty() {
            bail!("campaign {:?}: the text in {lang} is empty", a.name);
        }
        composer
            .renderer
            .validate_in(mail_kind(a.kind), lang, &t.subject, &t.body)
            .with_context(|| format!("campaign {:?}, text in {lang}", a.name))?;
    }
    Ok(NewCampaign {
        name: a.name.clone(),
        kind: a.kind,
        topic_id: Some(topic_id),
        occasion_id: occasion.map(|o| o.id),
        subject: a.subject.clone(),
        body: a.body.clone(),
        translations: a.translations.clone(),
        audience: a.audience.clone(),
        schedule: a.schedule.clone(),
        send_at: a.send_at,
        parent_id: None,
    })
}

/// Who the campaign would reach if it were sent now, and why the others would not be mailed.
pub async fn reach(db: &Db, cfg: &Config, c: &Campaign) -> anyhow::Result<store::audience::Reach> {
    Ok(store::audience::count(db, c, caps(cfg)).await?)
}

/// Starts a campaign now: builds its audience as queued deliveries and marks it running.
/// Returns the number of deliveries queued.
pub async fn start(db: &Db, cfg: &Config, c: &Campaign) -> anyhow::Result<u64> {
    if let Some(mail) = &c.occasion_mail {
        bail!(
            "campaign {:?} is the {mail} of an occasion: it reaches its people by itself",
            c.name
        );
    }
    if c.schedule.is_some() {
        bail!(
            "campaign {:?} is a recurring template (schedule {:?}): its runs start by themselves",
            c.name,
            c.schedule.as_deref().unwrap_or_default()
        );
    }
    if !matches!(
        c.status,
        CampaignStatus::Draft | CampaignStatus::Scheduled | CampaignStatus::Running
    ) {
        bail!("campaign {:?} is {}: it cannot be sent", c.name, c.status);
    }
    // Counted before the queue is built, which would count itself against the caps.
    let reach = store::audience::count(db, c, caps(cfg)).await?;
    let n = campaigns::enqueue(db, c, caps(cfg)).await?;
    if c.status != CampaignStatus::Running {
        store::audience::record(db, c.id, &reach).await?;
    }
    campaigns::transition(
        db,
        c.id,
        &[
            CampaignStatus::Draft,
            CampaignStatus::Scheduled,
            CampaignStatus::Running,
        ],
        CampaignStatus::Running,
        None,
    )
    .await?;
    tracing::info!(campaign = %c.name, queued = n, "campaign started");
    Ok(n)
}

pub async fn pause(db: &Db, name: &str) -> anyhow::Result<()> {
    let c = campaigns::get(db, name).await?;
    if !campaigns::transition(
        db,
        c.id,
        &[CampaignStatus::Running, CampaignStatus::Scheduled],
        CampaignStatus::Paused,
        Some("paused by hand"),
    )
    .await?
    {
        bail!(
            "campaign {name:?} is {}: only a running or scheduled campaign can be paused",
            c.status
        );
    }
    Ok(())
}

pub async fn resume(db: &Db, name: &str) -> anyhow::Result<()> {
    let c = campaigns::get(db, name).await?;
    if !campaigns::transition(
        db,
        c.id,
        &[CampaignStatus::Paused],
        CampaignStatus::Running,
        None,
    )
    .await?
    {
        bail!(
            "campaign {name:?} is {}: only a paused campaign can be resumed",
            c.status
        );
    }
    Ok(())
}

pub async fn cancel(db: &Db, name: &str) -> anyhow::Result<()> {
    let c = campaigns::get(db, name).await?;
    if !campaigns::transition(
        db,
        c.id,
        &[
            CampaignStatus::Draft,
            CampaignStatus::Scheduled,
            CampaignStatus::Running,
            CampaignStatus::Paused,
        ],
        CampaignStatus::Cancelled,
        Some("cancelled by hand"),
    )
    .await?
    {
        bail!("campaign {name:?} is {} already", c.status);
    }
    // Queued rows will never go out: say so on the rows.
    campaigns::skip_queued(db, c.id).await?;
    Ok(())
}

/// The message one contact would get, as raw RFC 5322 text.
pub async fn preview(
    db: &Db,
    composer: &Composer,
    name: &str,
    email: &str,
) -> anyhow::Result<String> {
    let out = preview_parts(db, composer, name, email).await?;
    let (_, bytes) = crate::outbound::compose::compose(&out, composer.dkim.as_ref())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The message one contact would get, before it is encoded: its headers, the text and the HTML
/// as a person reads them.
pub async fn preview_parts(
    db: &Db,
    composer: &Composer,
    name: &str,
    email: &str,
) -> anyhow::Result<crate::outbound::compose::Outgoing> {
    let c = campaigns::get(db, name).await?;
    let contact = store::contacts::get(db, email).await?;
    let ctx = CampaignCtx::load(db, c).await?;
    let r = Recipient::of_contact(&contact);
    composer.message_parts(
        &ctx,
        &r,
        &format!(
            "<preview.{}@{}>",
            ctx.campaign.id,
            sender_domain(&composer.cfg)
        ),
    )
}

/// The preview as plain text for a terminal: the headers a person sees, the text part, and
/// what else the mail carries.
pub fn preview_text(out: &crate::outbound::compose::Outgoing) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let from = format!("{} <{}>", out.from_name, out.from_addr);
    let to = match &out.to_name {
        Some(n) => format!("{n} <{}>", out.to_addr),
        None => out.to_addr.clone(),
    };
    let _ = writeln!(s, "From:     {from}");
    let _ = writeln!(s, "To:       {to}");
    let _ = writeln!(s, "Reply-To: {}", out.reply_to);
    let _ = writeln!(s, "Subject:  {}", out.subject);
    let _ = writeln!(s);
    let _ = writeln!(s, "{}", out.text.trim_end());
    let _ = writeln!(s);
    let mut also = Vec::new();
    if out.html.is_some() {
        also.push("an HTML part with the same text".to_string());
    }
    if out.ics.is_some() {
        also.push("a calendar entry for the occasion".to_string());
    }
    if out.list_unsubscribe_url.is_some() {
        also.push("a one-click unsubscribe header".to_string());
    }
    if !also.is_empty() {
        let _ = writeln!(s, "-- The mail also carries {}.", also.join(", "));
    }
    s
}

/// Sends the campaign's message once to `address` (not a contact; nothing is recorded).
pub async fn test_send(
    db: &Db,
    notifier: &Notifier,
    name: &str,
    address: &str,
    language: Option<String>,
) -> anyhow::Result<()> {
    let c = campaigns::get(db, name).await?;
    let ctx = CampaignCtx::load(db, c).await?;
    let addr = crate::domain::EmailAddress::parse(address)
        .map_err(|e| anyhow::anyhow!("{address:?}: {e}"))?;
    let r = Recipient {
        contact_id: crate::domain::ContactId(0),
        email: addr.to_string(),
        name: None,
        organisation: None,
        language,
        address: serde_json::Map::new(),
    };
    let composer = &notifier.composer;
    let message_id = format!(
        "<test.{}.{}@{}>",
        ctx.campaign.id,
        chrono::Utc::now().timestamp_micros(),
        sender_domain(&composer.cfg)
    );
    let (env, bytes) = composer.message(&ctx, &r, &message_id)?;
    notifier.send_raw(&env, &bytes).await
}

/// Sets a one-shot start time on a draft (or re-times a scheduled) campaign.
pub async fn schedule_at(db: &Db, name: &str, at: Timestamp) -> anyhow::Result<()> {
    let c = campaigns::get(db, name).await?;
    if c.schedule.is_some() {
        bail!(
            "campaign {name:?} is recurring (schedule {:?})",
            c.schedule.unwrap_or_default()
        );
    }
    if !campaigns::schedule_once(db, c.id, at).await? {
        bail!(
            "campaign {name:?} is {}: only a draft can be scheduled",
            c.status
        );
    }
    Ok(())
}

/// One recurring schedule: `key` names its firings, `campaign` is the template it runs.
pub struct ScheduleJob {
    pub key: String,
    pub campaign: String,
    pub cron: String,
    pub tz: chrono_tz::Tz,
}

/// Every recurring schedule: campaigns created with a schedule, and `[[schedule]]` entries.
pub async fn schedule_jobs(db: &Db, cfg: &Config) -> anyhow::Result<Vec<ScheduleJob>> {
    let tz = cfg.tz().map_err(anyhow::Error::msg)?;
    let mut jobs = Vec::new();
    for c in campaigns::with_status(db, CampaignStatus::Scheduled).await? {
        if let Some(cron) = c.schedule {
            jobs.push(ScheduleJob {
                key: format!("campaign:{}", c.name),
                campaign: c.name,
                cron,
                tz,
            });
        }
    }
    for s in &cfg.schedules {
        jobs.push(ScheduleJob {
            key: format!("config:{}", s.name),
            campaign: s.campaign.clone(),
            cron: s.cron.clone(),
            tz: s
                .time_zone
                .as_deref()
                .and_then(|t| t.parse().ok())
                .unwrap_or(tz),
        });
    }
    Ok(jobs)
}

/// Fires due schedules: recurring campaigns (a `schedule` on the campaign) and the `[[schedule]]`
/// entries of the configuration. Each slot fires at most once (a unique row per slot); after
/// downtime the missed slots fire once together. Returns the runs started.
pub async fn fire_schedules(
    db: &Db,
    cfg: &Arc<Config>,
    now: Timestamp,
) -> anyhow::Result<Vec<String>> {
    let jobs = schedule_jobs(db, cfg).await?;
    let mut started = Vec::new();
    for ScheduleJob {
        key,
        campaign,
        cron,
        tz,
    } in jobs
    {
        let spec = CronSpec::parse(&cron).with_context(|| format!("schedule {key}: {cron:?}"))?;
        let template = campaigns::get(db, &campaign)
            .await
            .with_context(|| format!("schedule {key}"))?;
        let last = campaigns::last_firing(db, &key).await?;
        let Some(slot) = spec.due(last, template.created_at, now, tz) else {
            continue;
        };
        if !campaigns::record_firing(db, &key, slot).await? {
            continue; // another daemon fired it
        }
        let run_name = format!(
            "{}-{}",
            template.name,
            slot.with_timezone(&tz).format("%Y%m%d-%H%M")
        );
        let run = campaigns::create(
            db,
            &NewCampaign {
                name: run_name.clone(),
                kind: template.kind,
                topic_id: template.topic_id,
                occasion_id: template.occasion_id,
                subject: template.subject.clone(),
                body: template.body.clone(),
                translations: template.translations(),
                audience: template.audience(),
                schedule: None,
                send_at: None,
                parent_id: Some(template.id),
            },
        )
        .await?;
        campaigns::set_firing_campaign(db, &key, slot, run.id).await?;
        start(db, cfg, &run).await?;
        started.push(run_name);
    }
    // One-shot campaigns whose time has come.
    for c in campaigns::with_status(db, CampaignStatus::Scheduled).await? {
        // Only the daemon that records this start (a unique row, like a cron slot) starts it. The
        // status moves to running only after the audience is queued: a running campaign without
        // deliveries would be marked done by another daemon in between.
        let Some(at) = c.send_at.filter(|t| c.schedule.is_none() && *t <= now) else {
            continue;
        };
        if campaigns::record_firing(db, &format!("send_at:{}", c.id), at).await? {
            start(db, cfg, &c).await?;
            started.push(c.name);
        }
    }
    Ok(started)
}
