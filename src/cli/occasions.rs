//! `netzpost occasions ...`

use crate::activation::{self, Attendance, Cause};
use crate::config::Config;
use crate::domain::{parse_local_span, parse_local_time, EmailAddress};
use crate::outbound::sender::Engine;
use crate::output::{self, Format};
use crate::store::{self, Db};
use anyhow::Context;
use clap::Subcommand;
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum OccasionsCmd {
    /// Add an occasion. Times as "2026-12-12 15:00" in the configured time zone, or RFC 3339.
    /// With 2 to 5 --date instead of --start it is a date poll: the invitation lists the dates
    /// numbered and asks which suit ("1 und 3", "alle", "keiner"); see `occasions poll` and
    /// `occasions pick`.
    Add {
        name: String,
        #[arg(long)]
        title: String,
        #[arg(long, required_unless_present = "dates", conflicts_with = "dates")]
        start: Option<String>,
        /// A candidate date of a date poll, as "2026-12-12 15:00" or "2026-12-12 15:00 - 17:00";
        /// give it 2 to 5 times.
        #[arg(long = "date", value_name = "START[ - END]", conflicts_with = "end")]
        dates: Vec<String>,
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
    /// Change an occasion. A new time or place goes to every invited contact who has not
    /// declined, as a mail saying what changed with a calendar update (same UID and ORGANIZER,
    /// SEQUENCE raised); their answers stay as they are. Times as for `add`.
    Edit {
        name: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        end: Option<String>,
        /// The new place ("" for none).
        #[arg(long)]
        place: Option<String>,
        /// The new description ("" for none).
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        capacity: Option<i64>,
        /// Days before the start the reminder goes to everyone who said yes (0 = none; without
        /// it, `occasions.reminder_days` of the configuration).
        #[arg(long, value_name = "N")]
        reminder_days: Option<i64>,
        /// Days after the invitation the one follow-up goes to the invited who have not answered
        /// (0 = none; without it, `occasions.follow_up_days` of the configuration).
        #[arg(long, value_name = "N")]
        follow_up_days: Option<i64>,
    },
    /// Thank everyone recorded as having come (see `attendance`): one mail each, in their
    /// language, sent by the daemon. Again later, it reaches only those recorded since.
    Thank {
        name: String,
        /// The next step the mail offers: group (an invitation to join the group), cooperation
        /// (a call for cooperation with its link) or none (just thanks).
        #[arg(long, default_value = "none", value_name = "group|cooperation|none")]
        next: String,
        /// A few words of your own, printed after the thanks.
        #[arg(long, default_value = "")]
        text: String,
    },
    /// Cancel an occasion: every invited contact who has not declined gets a mail with the
    /// reason and a calendar cancellation (METHOD:CANCEL); their answers are kept.
    Cancel {
        name: String,
        /// Why, in a sentence the invited will read.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Record who came: each --came address has its encounter confirmed as having come; each
    /// --no-show address is recorded as not having come.
    Attendance {
        name: String,
        #[arg(long, num_args = 1.., value_name = "EMAIL")]
        came: Vec<String>,
        #[arg(long = "no-show", num_args = 1.., value_name = "EMAIL")]
        no_show: Vec<String>,
    },
    /// Print the check-in link of an occasion: a signed URL helpers at the door open on a
    /// phone to mark who came, without a login. It works until a day after the occasion.
    CheckinLink { name: String },
    /// The waiting list of an occasion with a capacity, first in line first. A place that comes
    /// free (a decline, a larger --capacity) goes to the first in line automatically.
    Waiting { name: String },
    /// Give a person on the waiting list a place now, whatever the capacity says; they get the
    /// mail with the calendar invitation.
    Seat { name: String, email: String },
    /// The tally of an occasion's date poll: each candidate date with how many said it suits
    /// them and how many said it does not (answers by reply and on the RSVP page).
    Poll { name: String },
    /// Pick date N of an occasion's date poll: it becomes the occasion's date; the invited it
    /// suits get the calendar invitation, the other invited a short note (only those with
    /// consent for the invitation's topic who have not declined).
    Pick {
        name: String,
        /// The number of the date, as in the invitation and `occasions poll`.
        number: i64,
    },
}

/// One line of a poll's tally.
#[derive(serde::Serialize)]
struct PollLine {
    number: i64,
    date: String,
    suits: i64,
    does_not: i64,
    picked: bool,
}

/// "2 days before", "1 day before", or "none" for 0.
fn days_text(days: i64, when: &str) -> String {
    match days {
        0 => "none".into(),
        1 => format!("1 day {when}"),
        n => format!("{n} days {when}"),
    }
}

/// Who is working at the command line, for the timeline.
fn who() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

/// Sends the notices of a change or cancellation and says what happened.
async fn send_notices(
    cfg: &Config,
    db: &Db,
    notice: &activation::OccasionNotice,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if notice.moved_up.is_empty() && notice.notify.is_empty() {
        if notice.cancelled || !notice.changed.is_empty() {
            writeln!(
                out,
                "nobody to notify (no invitation was sent, or all declined)"
            )?;
        }
        return Ok(());
    }
    let engine = Engine::new(db.clone(), std::sync::Arc::new(cfg.clone())).await?;
    if !notice.moved_up.is_empty() {
        let o = &notice.occasion;
        crate::outbound::occasion::send_moved_up(db, &engine.notifier(), o, &notice.moved_up).await;
        writeln!(
            out,
            "{} from the waiting list now have a place and were told so",
            notice.moved_up.len()
        )?;
    }
    if notice.notify.is_empty() {
        return Ok(());
    }
    let sent = crate::outbound::occasion::send_notices(
        db,
        &engine.notifier(),
        &notice.occasion,
        &notice.changed,
        &notice.notify,
    )
    .await?;
    writeln!(
        out,
        "{} invited contact(s) notified{}",
        sent.sent,
        if sent.failed.is_empty() {
            String::new()
        } else {
            format!(", {} failed", sent.failed.len())
        }
    )?;
    for (addr, e) in &sent.failed {
        writeln!(out, "  not sent to {addr}: {e}")?;
    }
    if !sent.failed.is_empty() {
        anyhow::bail!("{} notice(s) could not be sent", sent.failed.len());
    }
    Ok(())
}

pub async fn run(
    cfg: &Config,
    db: &Db,
    cmd: OccasionsCmd,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let tz = cfg.tz().map_err(anyhow::Error::msg)?;
    match cmd {
        OccasionsCmd::Add {
            name,
            title,
            start,
            dates,
            end,
            place,
            description,
            capacity,
            topic,
        } => {
            let topic_id = match topic {
                Some(t) => Some(store::topics::get(db, &t).await?.id),
                None => None,
            };
            let candidates = dates
                .iter()
                .map(|d| parse_local_span(d, tz).with_context(|| format!("--date {d:?}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let (starts_at, ends_at) = match (&start, candidates.first()) {
                (Some(start), _) => (
                    parse_local_time(start, tz).context("--start")?,
                    end.map(|e| parse_local_time(&e, tz).context("--end"))
                        .transpose()?,
                ),
                (None, Some(first)) => *first,
                (None, None) => anyhow::bail!("give --start, or 2 to 5 --date for a date poll"),
            };
            let new = store::occasions::NewOccasion {
                slug: name,
                title,
                starts_at,
                ends_at,
                place,
                description,
                capacity,
                topic_id,
            };
            let o = if candidates.is_empty() {
                store::occasions::add(db, &new).await?
            } else {
                activation::add_poll(db, &new, &candidates).await?
            };
            if candidates.is_empty() {
                writeln!(out, "occasion {} added", o.slug)?;
            } else {
                writeln!(
                    out,
                    "occasion {} added with a date poll of {} dates",
                    o.slug,
                    candidates.len()
                )?;
            }
        }
        OccasionsCmd::Poll { name } => {
            let o = store::occasions::get(db, &name).await?;
            if o.poll_dates == 0 {
                anyhow::bail!("occasion {name} has a fixed date, no date poll");
            }
            let rows: Vec<PollLine> = store::polls::tally(db, o.id)
                .await?
                .into_iter()
                .map(|r| PollLine {
                    number: r.position,
                    date: crate::outbound::render::timespan(
                        r.starts_at,
                        r.ends_at,
                        tz,
                        &cfg.default_language,
                    ),
                    suits: r.can,
                    does_not: r.cannot,
                    picked: o.picked_date == Some(r.position),
                })
                .collect();
            output::print(
                out,
                &rows,
                &["number", "date", "suits", "does_not", "picked"],
                format,
            )?;
            if matches!(format, Format::Table) {
                let answered = store::polls::respondents(db, o.id).await?;
                writeln!(out, "{answered} answered")?;
            }
        }
        OccasionsCmd::Pick { name, number } => {
            let picked = activation::pick_date(db, &name, number, &who()).await?;
            writeln!(
                out,
                "occasion {name}: date {number} picked ({})",
                crate::outbound::render::timespan(
                    picked.date.starts_at,
                    picked.date.ends_at,
                    tz,
                    &cfg.default_language
                )
            )?;
            if picked.can.is_empty() && picked.others.is_empty() {
                writeln!(
                    out,
                    "nobody to tell (no invitation was sent, or all declined)"
                )?;
                return Ok(());
            }
            let engine = Engine::new(db.clone(), std::sync::Arc::new(cfg.clone())).await?;
            let sent = crate::outbound::occasion::send_poll_picked(db, &engine.notifier(), &picked)
                .await?;
            writeln!(
                out,
                "{} with the calendar invitation (the date suits them), {} told by a short note{}",
                picked.can.len(),
                picked.others.len(),
                if sent.failed.is_empty() {
                    String::new()
                } else {
                    format!("; {} failed", sent.failed.len())
                }
            )?;
            for (addr, e) in &sent.failed {
                writeln!(out, "  not sent to {addr}: {e}")?;
            }
            if !sent.failed.is_empty() {
                anyhow::bail!("{} mail(s) could not be sent", sent.failed.len());
            }
        }
        OccasionsCmd::List => {
            let rows = store::occasions::list(db).await?;
            output::print(
                out,
                &rows,
                &[
                    "slug",
                    "title",
                    "starts_at",
                    "place",
                    "topic",
                    "cancelled_at",
                    "capacity",
                    "coming",
                    "declined",
                    "waiting",
                    "people",
                ],
                format,
            )?;
        }
        OccasionsCmd::Edit {
            name,
            title,
            start,
            end,
            place,
            description,
            capacity,
            reminder_days,
            follow_up_days,
        } => {
            if reminder_days.is_some() || follow_up_days.is_some() {
                let o = store::occasions::get(db, &name).await?;
                store::occasion_mails::set_days(db, o.id, reminder_days, follow_up_days).await?;
                let o = store::occasions::get(db, &name).await?;
                let (r, f) = crate::outbound::occasion_mails::days(cfg, &o);
                writeln!(
                    out,
                    "occasion {name}: reminder {}, follow-up {}",
                    days_text(r, "before"),
                    days_text(f, "after the invitation"),
                )?;
                if title.is_none()
                    && start.is_none()
                    && end.is_none()
                    && place.is_none()
                    && description.is_none()
                    && capacity.is_none()
                {
                    return Ok(());
                }
            }
            let change = activation::OccasionChange {
                title,
                starts_at: start
                    .map(|t| parse_local_time(&t, tz).context("--start"))
                    .transpose()?,
                ends_at: end
                    .map(|t| parse_local_time(&t, tz).context("--end"))
                    .transpose()?,
                place,
                description,
                capacity,
            };
            let notice = activation::change_occasion(db, &name, &change, &who()).await?;
            if notice.changed.is_empty() {
                writeln!(out, "occasion {name}: nothing changed")?;
            } else {
                writeln!(
                    out,
                    "occasion {name} changed: {}",
                    notice.changed.join(", ")
                )?;
            }
            send_notices(cfg, db, &notice, out).await?;
        }
        OccasionsCmd::Thank { name, next, text } => {
            let next: store::occasion_mails::NextStep = next
                .parse()
                .map_err(|e: String| anyhow::anyhow!("--next: {e}"))?;
            let n =
                crate::outbound::occasion_mails::thank(db, &name, next, &text, chrono::Utc::now())
                    .await?;
            writeln!(
                out,
                "occasion {name}: thank-you queued for {n} (the daemon sends it; `netzpost send` sends it now)"
            )?;
        }
        OccasionsCmd::Cancel { name, reason } => {
            let notice = activation::cancel_occasion(db, &name, reason, &who()).await?;
            writeln!(out, "occasion {name} cancelled")?;
            send_notices(cfg, db, &notice, out).await?;
        }
        OccasionsCmd::CheckinLink { name } => {
            let o = store::occasions::get(db, &name).await?;
            let key = cfg.token_key()?;
            writeln!(out, "{}", crate::web::public::check_in_url(cfg, &key, &o))?;
        }
        OccasionsCmd::Waiting { name } => {
            let o = store::occasions::get(db, &name).await?;
            let rows = store::occasions::waiting_people(db, o.id).await?;
            output::print(out, &rows, &["email", "name", "party", "since"], format)?;
        }
        OccasionsCmd::Seat { name, email } => {
            let o = store::occasions::get(db, &name).await?;
            let addr = EmailAddress::parse(&email).map_err(|e| anyhow::anyhow!("{email}: {e}"))?;
            let contact = store::contacts::find(db, &addr)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no contact {email}"))?;
            if !activation::seat_by_hand(db, contact.id, &o, &who()).await? {
                anyhow::bail!("{email} is not on the waiting list of {name}");
            }
            let engine = Engine::new(db.clone(), std::sync::Arc::new(cfg.clone())).await?;
            crate::outbound::occasion::send_moved_up(db, &engine.notifier(), &o, &[contact.id])
                .await;
            writeln!(out, "{email} has a place at {name} and was told so")?;
        }
        OccasionsCmd::Attendance {
            name,
            came,
            no_show,
        } => {
            if came.is_empty() && no_show.is_empty() {
                anyhow::bail!("name at least one address with --came or --no-show");
            }
            let o = store::occasions::get(db, &name).await?;
            let cause = Cause::Admin { by: who() };
            let marks = came
                .iter()
                .map(|a| (a, Attendance::Came))
                .chain(no_show.iter().map(|a| (a, Attendance::NoShow)));
            for (addr, attendance) in marks {
                let email =
                    EmailAddress::parse(addr).map_err(|e| anyhow::anyhow!("{addr}: {e}"))?;
                let contact = store::contacts::find(db, &email)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("no contact {addr}"))?;
                activation::record_attendance(db, contact.id, &o, attendance, &cause).await?;
                writeln!(out, "{addr}: {}", attendance.as_str())?;
            }
        }
    }
    Ok(())
}
