//! Changing and cancelling an occasion, and who came: which contacts hear of a change, what the
//! timeline records, and what attendance does to the encounter.

use super::{set_relation, ActivationError, Cause, Result};
use crate::domain::{ContactId, RelationForm, RelationStatus};
use crate::store::activities::{ActivityKind, NewActivity};
use crate::store::occasions::{Invitee, Occasion};
use crate::store::{self, Db, Timestamp};

/// What a person changes about an occasion; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct OccasionChange {
    pub title: Option<String>,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub place: Option<String>,
    pub description: Option<String>,
    pub capacity: Option<i64>,
}

/// What an occasion change or cancellation did, and to whom the calendar update goes.
#[derive(Debug, Clone)]
pub struct OccasionNotice {
    /// The occasion as it is now (with its raised sequence).
    pub occasion: Occasion,
    /// The fields that changed: `title`, `start`, `end`, `place`, `description`, `capacity`.
    pub changed: Vec<&'static str>,
    /// Invited contacts who have not declined, when the change is one their calendar must know
    /// (time, place, or the cancellation); empty otherwise.
    pub notify: Vec<Invitee>,
    pub cancelled: bool,
    /// Who moved up from the waiting list because the capacity grew (to be told, with the
    /// calendar invitation).
    pub moved_up: Vec<ContactId>,
}

/// Changes occasion `slug`. A change of time or place raises the iCalendar SEQUENCE and is to be
/// sent to every invited contact who has not declined (returned in `notify`, each with a
/// timeline entry written here); RSVPs stay as they are. A cancelled occasion cannot change.
pub async fn change_occasion(
    db: &Db,
    slug: &str,
    change: &OccasionChange,
    by: &str,
) -> Result<OccasionNotice> {
    let id = store::occasions::get(db, slug).await?.id;
    let mut tx = db.begin().await?;
    let before = store::occasions::by_id_tx(&mut tx, id).await?;
    if before.cancelled_at.is_some() {
        return Err(ActivationError::Conflict(format!(
            "occasion {slug:?} is cancelled and cannot change"
        )));
    }
    let mut after = before.clone();
    let mut changed = Vec::new();
    let mut set = |name: &'static str, differs: bool| {
        if differs {
            changed.push(name);
        }
    };
    if let Some(t) = &change.title {
        if t.trim().is_empty() {
            return Err(ActivationError::Invalid("the title cannot be empty".into()));
        }
        set("title", *t != before.title);
        after.title = t.clone();
    }
    if let Some(t) = change.starts_at {
        set("start", t != before.starts_at);
        after.starts_at = t;
    }
    if let Some(t) = change.ends_at {
        set("end", Some(t) != before.ends_at);
        after.ends_at = Some(t);
    }
    let blank = |s: &String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    if let Some(p) = &change.place {
        set("place", blank(p) != before.place);
        after.place = blank(p);
    }
    if let Some(d) = &change.description {
        set("description", blank(d) != before.description);
        after.description = blank(d);
    }
    if let Some(c) = change.capacity {
        if c < 1 {
            return Err(ActivationError::Invalid(
                "the capacity must be at least 1".into(),
            ));
        }
        set("capacity", Some(c) != before.capacity);
        after.capacity = Some(c);
    }
    // RFC 5546 2.1.4: a change of time or place is significant; the description and capacity
    // are not (calendars keep what they have; the title alone is not worth a mail either).
    let significant = changed
        .iter()
        .any(|f| matches!(*f, "start" | "end" | "place"));
    if significant {
        after.sequence += 1;
    }
    store::occasions::update(&mut tx, &after).await?;
    let moved_up = match after.capacity {
        Some(cap) if changed.contains(&"capacity") => {
            store::occasions::lock_places(&mut tx, id).await?;
            super::places::move_up(&mut tx, &after, cap).await?
        }
        _ => Vec::new(),
    };
    let notify = if significant {
        let notify = store::occasions::invitees_not_declined(&mut tx, id).await?;
        let detail = serde_json::json!({
            "occasion_id": id, "title": after.title, "changed": changed,
            "sequence": after.sequence, "by": by,
        });
        record_each(&mut tx, &notify, ActivityKind::OccasionChanged, &detail).await?;
        notify
    } else {
        Vec::new()
    };
    tx.commit().await?;
    Ok(OccasionNotice {
        occasion: after,
        changed,
        notify,
        cancelled: false,
        moved_up,
    })
}

/// Cancels occasion `slug` with an optional reason: raises the SEQUENCE, keeps every RSVP, and
/// returns the invited contacts who have not declined (each with a timeline entry) for the
/// `METHOD:CANCEL` mail. Cancelling twice is a conflict.
pub async fn cancel_occasion(
    db: &Db,
    slug: &str,
    reason: Option<String>,
    by: &str,
) -> Result<OccasionNotice> {
    let id = store::occasions::get(db, slug).await?.id;
    let mut tx = db.begin().await?;
    let mut o = store::occasions::by_id_tx(&mut tx, id).await?;
    if o.cancelled_at.is_some() {
        return Err(ActivationError::Conflict(format!(
            "occasion {slug:?} is cancelled already"
        )));
    }
    o.sequence += 1;
    o.cancelled_at = Some(store::now());
    o.cancel_reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    store::occasions::update(&mut tx, &o).await?;
    let notify = store::occasions::invitees_not_declined(&mut tx, id).await?;
    let detail = serde_json::json!({
        "occasion_id": id, "title": o.title, "reason": o.cancel_reason, "by": by,
    });
    record_each(&mut tx, &notify, ActivityKind::OccasionCancelled, &detail).await?;
    tx.commit().await?;
    Ok(OccasionNotice {
        occasion: o,
        changed: Vec::new(),
        notify,
        cancelled: true,
        moved_up: Vec::new(),
    })
}

async fn record_each(
    tx: &mut store::Tx,
    who: &[Invitee],
    kind: ActivityKind,
    detail: &serde_json::Value,
) -> Result<()> {
    let at = store::now();
    for i in who {
        store::activities::record(
            tx,
            &NewActivity {
                contact_id: i.contact_id,
                at,
                kind,
                detail: detail.clone(),
                campaign_id: Some(i.campaign_id),
                inbound_id: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// Whether a contact came to an occasion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attendance {
    Came,
    NoShow,
}

impl Attendance {
    pub fn as_str(self) -> &'static str {
        match self {
            Attendance::Came => "came",
            Attendance::NoShow => "no_show",
        }
    }
}

/// Records whether the contact came to occasion `o`. "Came" makes the encounter confirmed (also
/// for someone who had not answered or had declined: they were there); "did not come" keeps the
/// answer as it was (a contact without one is recorded as declined). Each with its timeline
/// entry, in one transaction.
pub async fn record_attendance(
    db: &Db,
    contact_id: ContactId,
    o: &Occasion,
    attendance: Attendance,
    cause: &Cause,
) -> Result<()> {
    let mut tx = db.begin().await?;
    let current = store::relations::encounter(&mut tx, contact_id, o.id).await?;
    let relation_id = match (attendance, current) {
        (Attendance::NoShow, Some((id, _))) => id,
        (Attendance::Came, Some((id, RelationStatus::Confirmed))) => id,
        (a, _) => {
            let status = match a {
                Attendance::Came => RelationStatus::Confirmed,
                Attendance::NoShow => RelationStatus::Declined,
            };
            set_relation(
                &mut tx,
                contact_id,
                RelationForm::Encounter,
                o.topic_id,
                Some(o.id),
                status,
                Some(super::occasion_end(o)),
                None,
                cause,
            )
            .await?
            .1
        }
    };
    store::relations::set_attendance(&mut tx, relation_id, Some(attendance.as_str())).await?;
    let (cause_kind, cause_ref) = cause.relation_cause();
    store::activities::record(
        &mut tx,
        &NewActivity {
            contact_id,
            at: store::now(),
            kind: ActivityKind::Attendance,
            detail: serde_json::json!({
                "occasion_id": o.id, "attendance": attendance.as_str(),
                "cause": cause_kind, "cause_ref": cause_ref,
            }),
            campaign_id: cause.campaign_id(),
            inbound_id: cause.inbound_id(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A helper at the door marks a contact through the occasion's check-in link: only someone on
/// the occasion's list (invited, or with an answer) can be marked this way; anyone else is
/// [`ActivationError::NotFound`]. The rest is [`record_attendance`].
pub async fn check_in(
    db: &Db,
    o: &Occasion,
    contact_id: ContactId,
    attendance: Attendance,
    helper: &str,
) -> Result<()> {
    let listed = store::occasions::door_list(db, o.id)
        .await?
        .iter()
        .any(|r| r.contact_id == contact_id);
    if !listed {
        return Err(ActivationError::NotFound(format!(
            "contact {contact_id} is not on the list of {:?}",
            o.slug
        )));
    }
    record_attendance(
        db,
        contact_id,
        o,
        attendance,
        &Cause::Admin {
            by: helper.to_string(),
        },
    )
    .await
}

impl std::str::FromStr for Attendance {
    type Err = ActivationError;
    fn from_str(s: &str) -> Result<Attendance> {
        match s {
            "came" => Ok(Attendance::Came),
            "no_show" => Ok(Attendance::NoShow),
            _ => Err(ActivationError::Invalid(format!(
                "attendance is came or no_show, not {s:?}"
            ))),
        }
    }
}
