//! Relations beyond the plain contact: encounter (A), cooperation (B), group (D).

use super::activities::{ActivityKind, NewActivity};
use super::{now, on_tx, Db, Result, Timestamp, Tx};
use crate::domain::{
    CampaignId, ContactId, InboundId, OccasionId, RelationForm, RelationStatus, TopicId,
};
use crate::on_db;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Relation {
    pub id: i64,
    pub contact_id: ContactId,
    pub form: RelationForm,
    pub topic_id: Option<TopicId>,
    pub occasion_id: Option<OccasionId>,
    pub status: RelationStatus,
    pub since: Timestamp,
    pub until: Option<Timestamp>,
    pub cause_kind: String,
    pub cause_ref: Option<String>,
    pub note: Option<String>,
    /// How many people an RSVP brings in all, when the reply said (NULL = not said: one).
    pub party_size: Option<i64>,
    /// The group of a group relation (form D); empty for the other forms.
    pub group_name: String,
}

#[derive(Debug, Clone)]
pub struct NewRelation {
    pub contact_id: ContactId,
    pub form: RelationForm,
    pub topic_id: Option<TopicId>,
    pub occasion_id: Option<OccasionId>,
    pub status: RelationStatus,
    pub until: Option<Timestamp>,
    /// What caused it: `message` (an inbound message id), `link`, `person`, `import`.
    pub cause_kind: String,
    pub cause_ref: Option<String>,
    pub note: Option<String>,
    pub inbound_id: Option<InboundId>,
    pub campaign_id: Option<CampaignId>,
    /// The group's name for form group (part of what identifies the relation); empty otherwise.
    pub group_name: String,
}

const COLUMNS: &str = "id, contact_id, form, topic_id, occasion_id, status, since, until, cause_kind, cause_ref, note, party_size, group_name";

/// Sets the relation of `contact` to an occasion or topic: updates the existing one of that form
/// and target, or creates it; records the change on the timeline, all within the caller's
/// transaction. Returns the relation id and the relation as it was before (what an undo
/// restores; none when it is new).
pub async fn set(tx: &mut Tx, r: &NewRelation) -> Result<(i64, Option<Previous>)> {
    let at = now();
    let find = "SELECT id, status, until, party_size FROM relations WHERE contact_id = $1
                AND form = $2 AND COALESCE(occasion_id, 0) = $3 AND COALESCE(topic_id, 0) = $4
                AND group_name = $5";
    let (id, previous) = on_tx!(tx, c => {
        let previous: Option<Previous> = sqlx::query_as(find)
            .bind(r.contact_id)
            .bind(r.form.as_str())
            .bind(r.occasion_id.map_or(0, OccasionId::get))
            .bind(r.topic_id.unwrap_or(TopicId(0)))
            .bind(&r.group_name)
            .fetch_optional(&mut *c)
            .await?;
        let id = match &previous {
            Some(p) => {
                sqlx::query(
                    "UPDATE relations SET status = $1, until = $2, cause_kind = $3, cause_ref = $4,
                        note = $5, updated_at = $6 WHERE id = $7",
                )
                .bind(r.status.as_str())
                .bind(r.until)
                .bind(&r.cause_kind)
                .bind(&r.cause_ref)
                .bind(&r.note)
                .bind(at)
                .bind(p.id)
                .execute(&mut *c)
                .await?;
                p.id
            }
            None => {
                sqlx::query_scalar(
                    "INSERT INTO relations (contact_id, form, topic_id, occasion_id, status, since, until,
                        cause_kind, cause_ref, note, created_at, updated_at, group_name)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $6, $6, $11) RETURNING id",
                )
                .bind(r.contact_id)
                .bind(r.form.as_str())
                .bind(r.topic_id)
                .bind(r.occasion_id)
                .bind(r.status.as_str())
                .bind(at)
                .bind(r.until)
                .bind(&r.cause_kind)
                .bind(&r.cause_ref)
                .bind(&r.note)
                .bind(&r.group_name)
                .fetch_all(&mut *c)
                .await
                .and_then(super::returned_one)?
            }
        };
        (id, previous)
    });
    super::activities::record(
        tx,
        &NewActivity {
            contact_id: r.contact_id,
            at,
            kind: ActivityKind::Relation,
            detail: serde_json::json!({
                "relation_id": id, "form": r.form.as_str(), "status": r.status.as_str(),
                "occasion_id": r.occasion_id, "topic_id": r.topic_id,
                "cause": r.cause_kind, "cause_ref": r.cause_ref,
                "group": (!r.group_name.is_empty()).then_some(&r.group_name),
            }),
            campaign_id: r.campaign_id,
            inbound_id: r.inbound_id,
        },
    )
    .await?;
    Ok((id, previous))
}

pub async fn for_contact(db: &Db, contact_id: ContactId) -> Result<Vec<Relation>> {
    let sql = format!("SELECT {COLUMNS} FROM relations WHERE contact_id = $1 ORDER BY since");
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, Relation>(sqlx::AssertSqlSafe(sql.as_str())).bind(contact_id).fetch_all(p).await?
    }))
}

/// Sets how many people relation `id` (an RSVP) brings in all; `None` = not said.
pub async fn set_party_size(tx: &mut Tx, id: i64, party_size: Option<i64>) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE relations SET party_size = $1 WHERE id = $2")
            .bind(party_size)
            .bind(id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// The contact's encounter with occasion `occasion` (id and status), if any.
pub async fn encounter(
    tx: &mut Tx,
    contact_id: ContactId,
    occasion: OccasionId,
) -> Result<Option<(i64, RelationStatus)>> {
    Ok(on_tx!(tx, c => {
        sqlx::query_as::<_, (i64, RelationStatus)>(
            "SELECT id, status FROM relations WHERE contact_id = $1 AND form = 'encounter'
             AND occasion_id = $2 ORDER BY id LIMIT 1",
        )
        .bind(contact_id)
        .bind(occasion)
        .fetch_optional(&mut *c)
        .await?
    }))
}

/// Sets whether the person of relation `id` came (`came`, `no_show`; `None` = not recorded).
pub async fn set_attendance(tx: &mut Tx, id: i64, attendance: Option<&str>) -> Result<()> {
    let at = attendance.map(|_| now());
    on_tx!(tx, c => {
        sqlx::query("UPDATE relations SET attendance = $1, attendance_at = $2 WHERE id = $3")
            .bind(attendance)
            .bind(at)
            .bind(id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// The relation of one form and target as it is now: what an undo restores.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize, sqlx::FromRow)]
pub struct Previous {
    pub id: i64,
    pub status: RelationStatus,
    pub until: Option<Timestamp>,
    pub party_size: Option<i64>,
}
