//! Places at an occasion: an answer to an invitation takes a place while there is one (counting
//! the party size a reply named), else puts the person on the waiting list; a place that comes
//! free (a decline, a larger capacity) goes to the first in line, automatically.
//!
//! Invariants: the people coming never exceed the capacity because of a yes or a move-up (a
//! lower capacity set by a person may leave more); the waiting list is served strictly in order
//! (a newcomer does not overtake someone waiting whose party does not fit yet); every decision
//! on the places of one occasion holds its row (`store::occasions::lock_places`), so concurrent
//! answers in several daemons move each waiting person up once.

use super::{occasion_end, set_relation, Cause, Result, Undo};
use crate::domain::{ContactId, RelationForm, RelationStatus};
use crate::store::occasions::Occasion;
use crate::store::{self, Db, Tx};

/// Where an answer to an invitation put the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seat {
    Coming,
    /// On the waiting list, at this place in line (1 is next).
    Waiting {
        position: usize,
    },
    NotComing,
}

/// What an answer did: how to undo it, where it put the person, and who moved up from the
/// waiting list because of it (each is to be told, with the calendar invitation).
#[derive(Debug, Clone)]
pub struct Answered {
    pub undo: Undo,
    pub seat: Seat,
    pub moved_up: Vec<ContactId>,
}

/// The name recorded as the cause of a move-up from the waiting list.
pub const WAITING_LIST: &str = "waiting list";

/// An answer to an invitation to occasion `o`: yes (`accept`) or no, with the party size the
/// person named (kept on a yes). A yes takes a place if one is free for the whole party and
/// nobody is waiting, else goes on the waiting list; a yes from someone who is coming or
/// waiting already keeps their place. A no frees places for those waiting.
pub async fn answer_invitation(
    db: &Db,
    contact_id: ContactId,
    o: &Occasion,
    accept: bool,
    party_size: Option<u32>,
    note: Option<String>,
    cause: &Cause,
) -> Result<Answered> {
    let mut tx = db.begin().await?;
    let capacity = store::occasions::lock_places(&mut tx, o.id).await?;
    let waiting = store::occasions::waiting_list(&mut tx, o.id).await?;
    let now = store::relations::encounter(&mut tx, contact_id, o.id).await?;
    let already = now.map(|(_, status)| status);
    if accept && already == Some(RelationStatus::Waiting) {
        // Answering yes again keeps their place in line.
        let position = waiting
            .iter()
            .position(|w| w.contact_id == contact_id)
            .map_or(waiting.len(), |i| i + 1);
        return Ok(Answered {
            undo: Undo::default(),
            seat: Seat::Waiting { position },
            moved_up: Vec::new(),
        });
    }
    let party = party_size.map_or(1, i64::from);
    let status = match (accept, capacity) {
        (false, _) => RelationStatus::Declined,
        (true, None) => RelationStatus::Confirmed,
        (true, Some(_)) if already == Some(RelationStatus::Confirmed) => RelationStatus::Confirmed,
        (true, Some(cap)) => {
            let taken = store::occasions::places_taken(&mut tx, o.id, Some(contact_id)).await?;
            if waiting.is_empty() && taken + party <= cap {
                RelationStatus::Confirmed
            } else {
                RelationStatus::Waiting
            }
        }
    };
    let (undo, id) = set_relation(
        &mut tx,
        contact_id,
        RelationForm::Encounter,
        o.topic_id,
        Some(o.id),
        status,
        Some(occasion_end(o)),
        note,
        cause,
    )
    .await?;
    if let (true, Some(n)) = (accept, party_size) {
        store::relations::set_party_size(&mut tx, id, Some(i64::from(n))).await?;
    }
    let moved_up = match capacity {
        Some(cap) => move_up(&mut tx, o, cap).await?,
        None => Vec::new(),
    };
    let seat = match status {
        RelationStatus::Confirmed => Seat::Coming,
        // The newest on the list is last in line (the list is ordered by when people joined).
        RelationStatus::Waiting => Seat::Waiting {
            position: waiting.len() + 1,
        },
        _ => Seat::NotComing,
    };
    tx.commit().await?;
    Ok(Answered {
        undo,
        seat,
        moved_up,
    })
}

/// Gives free places at `o` (capacity `cap`) to the waiting list, first in line first, stopping
/// at the first party that does not fit. Returns who moved up.
pub(crate) async fn move_up(tx: &mut Tx, o: &Occasion, cap: i64) -> Result<Vec<ContactId>> {
    let mut free = cap - store::occasions::places_taken(tx, o.id, None).await?;
    let mut moved = Vec::new();
    for w in store::occasions::waiting_list(tx, o.id).await? {
        if w.party > free {
            break;
        }
        give_place(tx, w.contact_id, o, WAITING_LIST).await?;
        free -= w.party;
        moved.push(w.contact_id);
    }
    Ok(moved)
}

/// Moves `contact_id` from the waiting list of `o` to the people coming, whatever the places say
/// (a coordinator's decision). Returns false when they were not waiting.
pub async fn seat_by_hand(db: &Db, contact_id: ContactId, o: &Occasion, by: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    store::occasions::lock_places(&mut tx, o.id).await?;
    let waiting = store::occasions::waiting_list(&mut tx, o.id).await?;
    if !waiting.iter().any(|w| w.contact_id == contact_id) {
        return Ok(false);
    }
    give_place(&mut tx, contact_id, o, by).await?;
    tx.commit().await?;
    Ok(true)
}

/// `contact_id` waited and now comes to `o`, given the place by `by` (a person, or
/// [`WAITING_LIST`] when a place came free).
async fn give_place(tx: &mut Tx, contact_id: ContactId, o: &Occasion, by: &str) -> Result<()> {
    set_relation(
        tx,
        contact_id,
        RelationForm::Encounter,
        o.topic_id,
        Some(o.id),
        RelationStatus::Confirmed,
        Some(occasion_end(o)),
        None,
        &Cause::Admin { by: by.into() },
    )
    .await?;
    Ok(())
}
