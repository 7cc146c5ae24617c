//! Date polls (Terminfindung): an occasion offered on 2 to 5 candidate dates, the answers of the
//! invited (by reply or on the RSVP page), and the date the coordinator picks.
//!
//! Invariants: answers are taken only while the poll is open (candidates and none picked); a
//! date is picked once (the occasion's row is held while it is); who is told about the picked
//! date is decided here, with the same consent rule as an occasion's change (invited, confirmed
//! consent for the invitation's topic, not suppressed, not declined).

use super::{Cause, Result, Undo};
use crate::activation::ActivationError;
use crate::domain::{ContactId, OccasionId};
use crate::store::activities::{ActivityKind, NewActivity};
use crate::store::occasions::{Invitee, NewOccasion, Occasion};
use crate::store::polls::PollDate;
use crate::store::{self, Db, Timestamp};
use serde::{Deserialize, Serialize};

/// A contact's poll answers before a change, to put back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollUndo {
    pub contact_id: ContactId,
    pub occasion_id: OccasionId,
    /// (date number, suits them) as they were; empty: no answer.
    pub prev: Vec<(i64, bool)>,
}

/// Adds occasion `new` offered on `dates` (2 to 5, numbered in this order): until one is picked
/// its own start and end are those of the first.
pub async fn add_poll(
    db: &Db,
    new: &NewOccasion,
    dates: &[(Timestamp, Option<Timestamp>)],
) -> Result<Occasion> {
    let Some(&(first_start, first_end)) = dates.first() else {
        return Err(ActivationError::Invalid(
            "a date poll needs candidate dates".into(),
        ));
    };
    let new = NewOccasion {
        starts_at: first_start,
        ends_at: first_end,
        ..new.clone()
    };
    let mut tx = db.begin().await?;
    let o = store::occasions::add_tx(&mut tx, &new).await?;
    store::polls::add_dates(&mut tx, o.id, dates).await?;
    let o = store::occasions::by_id_tx(&mut tx, o.id).await?;
    tx.commit().await?;
    Ok(o)
}

/// Records `contact`'s answer to occasion `o`'s date poll: each `(number, suits them)` given
/// replaces their earlier answer for that date; the other dates keep theirs. A reply names every
/// date (those it names suit, the others do not); a link on the RSVP page names one.
pub async fn answer_poll(
    db: &Db,
    contact: ContactId,
    o: &Occasion,
    answers: &[(i64, bool)],
    cause: &Cause,
) -> Result<Undo> {
    let mut tx = db.begin().await?;
    let o = store::occasions::by_id_tx(&mut tx, o.id).await?;
    if o.cancelled_at.is_some() {
        return Err(ActivationError::Conflict(format!(
            "occasion {:?} was cancelled",
            o.slug
        )));
    }
    if !o.poll_open() {
        return Err(ActivationError::Conflict(format!(
            "occasion {:?} has no open date poll{}",
            o.slug,
            match o.picked_date {
                Some(n) => format!(" (date {n} was picked)"),
                None => String::new(),
            }
        )));
    }
    if let Some((n, _)) = answers.iter().find(|(n, _)| *n < 1 || *n > o.poll_dates) {
        return Err(ActivationError::Invalid(format!(
            "the poll of {:?} has dates 1 to {}, not {n}",
            o.slug, o.poll_dates
        )));
    }
    let prev = store::polls::answers_of(&mut tx, o.id, contact).await?;
    let mut now: Vec<(i64, bool)> = prev
        .iter()
        .filter(|(n, _)| !answers.iter().any(|(m, _)| m == n))
        .copied()
        .chain(answers.iter().copied())
        .collect();
    now.sort_unstable();
    store::polls::set_answers(&mut tx, o.id, contact, &now).await?;
    let suits: Vec<i64> = now.iter().filter(|(_, c)| *c).map(|(n, _)| *n).collect();
    let (cause_kind, cause_ref) = cause.relation_cause();
    store::activities::record(
        &mut tx,
        &NewActivity {
            contact_id: contact,
            at: store::now(),
            kind: ActivityKind::PollAnswer,
            detail: serde_json::json!({
                "occasion_id": o.id, "title": o.title, "suits": suits,
                "cause": cause_kind, "cause_ref": cause_ref,
            }),
            campaign_id: cause.campaign_id(),
            inbound_id: cause.inbound_id(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Undo {
        poll: Some(PollUndo {
            contact_id: contact,
            occasion_id: o.id,
            prev,
        }),
        ..Undo::default()
    })
}

/// What picking a date decided: the occasion with its date, and who is told. Those who said it
/// suits them get the calendar invitation; the other invited (who answered otherwise or not at
/// all) a short note.
#[derive(Debug, Clone)]
pub struct Picked {
    pub occasion: Occasion,
    pub date: PollDate,
    pub can: Vec<Invitee>,
    pub others: Vec<Invitee>,
}

/// The coordinator picks candidate `position` of occasion `slug`: it becomes the occasion's date
/// and the poll closes. Everyone an invitation reached who has not declined and may still be
/// mailed (consent for the invitation's topic, not suppressed) is named in [`Picked`], each
/// with a timeline entry.
pub async fn pick_date(db: &Db, slug: &str, position: i64, by: &str) -> Result<Picked> {
    let o = store::occasions::get(db, slug).await?;
    if o.cancelled_at.is_some() {
        return Err(ActivationError::Conflict(format!(
            "occasion {slug:?} was cancelled"
        )));
    }
    if o.poll_dates == 0 {
        return Err(ActivationError::Conflict(format!(
            "occasion {slug:?} has a fixed date, no date poll"
        )));
    }
    let mut tx = db.begin().await?;
    let date = store::polls::pick(&mut tx, o.id, position).await?;
    let who_can = store::polls::who_can(&mut tx, o.id, position).await?;
    let invitees = store::occasions::invitees_not_declined(&mut tx, o.id).await?;
    let (can, others): (Vec<Invitee>, Vec<Invitee>) = invitees
        .into_iter()
        .partition(|i| who_can.contains(&i.contact_id));
    let occasion = store::occasions::by_id_tx(&mut tx, o.id).await?;
    let at = store::now();
    for (list, suits) in [(&can, true), (&others, false)] {
        for i in list {
            store::activities::record(
                &mut tx,
                &NewActivity {
                    contact_id: i.contact_id,
                    at,
                    kind: ActivityKind::DatePicked,
                    detail: serde_json::json!({
                        "occasion_id": o.id, "title": o.title, "date": position,
                        "can": suits, "by": by,
                    }),
                    campaign_id: Some(i.campaign_id),
                    inbound_id: None,
                },
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(Picked {
        occasion,
        date,
        can,
        others,
    })
}
