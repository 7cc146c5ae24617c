//! The coordinator's view of the contacts: a search with filters and a count, each contact's
//! state in one word, and when the person last did something themselves; and the edits a
//! coordinator makes by hand (fields, notes).

use super::activities::{ActivityKind, NewActivity};
use super::contacts::silent_condition;
use super::{now, on_tx, Db, Result, Timestamp, Tx};
use crate::domain::{ContactId, RelationForm, TopicId};
use crate::on_db;
use serde::Serialize;

crate::domain::text_enum!(
    /// A contact's state in the list, one word, first match wins: the address may not be mailed
    /// at all (`suppressed`); confirmed consent but silent (`silent`); confirmed consent
    /// (`active`); consent asked for, not given yet (`pending`); every consent withdrawn
    /// (`unsubscribed`); no consent ever (`no_consent`).
    pub ContactState {
        Active => "active",
        Silent => "silent",
        Pending => "pending",
        Unsubscribed => "unsubscribed",
        Suppressed => "suppressed",
        NoConsent => "no_consent",
    }
);

/// What the list asks for; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// A part of the name, address or organisation (any case).
    pub text: Option<String>,
    /// Consent (not withdrawn) for this topic.
    pub topic_id: Option<TopicId>,
    pub state: Option<ContactState>,
    /// An active relation of this form.
    pub form: Option<RelationForm>,
    /// Only silent contacts (the same as `state` silent, kept for the links that use it).
    pub silent: bool,
    pub silent_after_days: i64,
    pub limit: i64,
    pub offset: i64,
}

/// A contact as the list shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Listed {
    pub id: ContactId,
    pub email: String,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub language: Option<String>,
    pub state: ContactState,
    /// The last time the person did something themselves: a reply, a click on one of our links
    /// (confirm, preferences, an answer to an invitation), a form, coming to an occasion. Not an
    /// import, a send or a coordinator's edit.
    pub last_seen_at: Option<Timestamp>,
}

/// The person's own doings on the timeline, as an SQL condition on `a` (activities). The detail
/// is compact JSON written by `serde_json` (no spaces), so the patterns match it exactly.
const OWN_DOING: &str = "(a.kind IN ('reply', 'preferences')
    OR (a.kind = 'attendance' AND a.detail LIKE '%\"attendance\":\"came\"%')
    OR (a.kind = 'relation' AND (a.detail LIKE '%\"cause\":\"message\"%'
                                OR a.detail LIKE '%\"cause\":\"link\"%'))
    OR (a.kind = 'consent' AND (a.detail LIKE '%\"method\":\"confirm-link\"%'
                               OR a.detail LIKE '%\"method\":\"link\"%'
                               OR a.detail LIKE '%\"method\":\"preferences\"%'
                               OR a.detail LIKE '%\"method\":\"form\"%'
                               OR a.detail LIKE '%\"method\":\"reply\"%')))";

/// The query behind [`search`] and its count: `$1` topic, `$2` form, `$3` silent only, `$4` now,
/// `$5` the silent cutoff, `$6` text pattern (lower case), `$7` the pattern as typed, `$8` state.
/// `last_seen_at` is read afterwards for the page's contacts only ([`last_seen`]): a lookup per
/// contact that the count and the rows past the page need not pay for.
fn query() -> String {
    format!(
        "SELECT * FROM (
            SELECT c.id, c.email, c.name, c.organisation, c.language,
              CASE
                WHEN EXISTS (SELECT 1 FROM suppressions x WHERE x.address = c.email_key) THEN 'suppressed'
                WHEN {silent_any} THEN 'silent'
                WHEN EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = c.id AND s.status = 'confirmed') THEN 'active'
                WHEN EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = c.id AND s.status = 'pending') THEN 'pending'
                WHEN EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = c.id) THEN 'unsubscribed'
                ELSE 'no_consent'
              END AS state,
              NULL AS last_seen_at, c.email_key
            FROM contacts c
            WHERE ($1 IS NULL OR EXISTS (SELECT 1 FROM subscriptions s0 WHERE s0.contact_id = c.id
                      AND s0.topic_id = $1 AND s0.status <> 'unsubscribed'))
              AND ($2 IS NULL OR EXISTS (SELECT 1 FROM relations r0 WHERE r0.contact_id = c.id
                      AND r0.form = $2 AND r0.status IN ('interested', 'confirmed')))
              AND ($3 = 0 OR {silent_topic})
              AND ($6 IS NULL OR c.email_key LIKE $6 ESCAPE '\\'
                   OR LOWER(COALESCE(c.name, '')) LIKE $6 ESCAPE '\\'
                   OR LOWER(COALESCE(c.organisation, '')) LIKE $6 ESCAPE '\\'
                   OR COALESCE(c.name, '') LIKE $7 ESCAPE '\\'
                   OR COALESCE(c.organisation, '') LIKE $7 ESCAPE '\\')
         ) z WHERE ($8 IS NULL OR z.state = $8)",
        silent_any = silent_condition("NULL", "$4", "$5"),
        silent_topic = silent_condition("$1", "$4", "$5"),
    )
}

/// `%text%` for LIKE, its own `%`, `_` and `\` taken literally.
fn pattern(text: &str) -> String {
    let mut p = String::from("%");
    for ch in text.trim().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// One page of the contacts that match `s` (by address), and how many match in all.
pub async fn search(db: &Db, s: &Search) -> Result<(Vec<Listed>, i64)> {
    let at = now();
    let cutoff = at - chrono::Duration::days(s.silent_after_days.max(1));
    let text = s.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let typed = text.map(pattern);
    let lower = text.map(|t| pattern(&t.to_lowercase()));
    let base = query();
    // By the unique index of the address: the page's rows come in its order.
    let page_sql = format!("{base} ORDER BY z.email_key LIMIT $9 OFFSET $10");
    let count_sql = format!("SELECT COUNT(*) FROM ({base}) n");
    // PostgreSQL cannot tell the type of a parameter that is only compared with NULL.
    let topic = s.topic_id.map(TopicId::get);
    let form = s.form.map(|f| f.as_str());
    let state = s.state.map(|x| x.as_str());
    let silent = i64::from(s.silent);
    let rows = on_db!(db, p => {
        sqlx::query_as::<_, Listed>(sqlx::AssertSqlSafe(page_sql.as_str()))
            .bind(topic).bind(form).bind(silent).bind(at).bind(cutoff)
            .bind(&lower).bind(&typed).bind(state)
            .bind(s.limit).bind(s.offset)
            .fetch_all(p)
            .await?
    });
    let total: i64 = on_db!(db, p => {
        sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.as_str()))
            .bind(topic).bind(form).bind(silent).bind(at).bind(cutoff)
            .bind(&lower).bind(&typed).bind(state)
            .fetch_one(p)
            .await?
    });
    let mut rows = rows;
    let seen = last_seen(db, &rows.iter().map(|r| r.id).collect::<Vec<_>>()).await?;
    for r in &mut rows {
        r.last_seen_at = seen
            .iter()
            .find(|(id, _)| *id == r.id)
            .and_then(|(_, at)| *at);
    }
    Ok((rows, total))
}

/// When each of `ids` (a page: a few dozen) last did something themselves.
async fn last_seen(db: &Db, ids: &[ContactId]) -> Result<Vec<(ContactId, Option<Timestamp>)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT c.id, (SELECT MAX(a.at) FROM activities a WHERE a.contact_id = c.id AND {OWN_DOING})
         FROM contacts c WHERE c.id IN ({})",
        marks.join(", ")
    );
    Ok(on_db!(db, p => {
        let mut q = sqlx::query_as::<_, (ContactId, Option<Timestamp>)>(sqlx::AssertSqlSafe(sql.as_str()));
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(p).await?
    }))
}

/// A contact's own fields as a coordinator sets them: `None` empties a field.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub language: Option<String>,
}

/// Sets the contact's fields as given and puts who did it on the timeline, within `tx`.
pub async fn set_fields(tx: &mut Tx, id: ContactId, f: &Fields, by: &str) -> Result<()> {
    let at = now();
    on_tx!(tx, c => {
        sqlx::query("UPDATE contacts SET name = $1, organisation = $2, language = $3, updated_at = $4 WHERE id = $5")
            .bind(&f.name)
            .bind(&f.organisation)
            .bind(&f.language)
            .bind(at)
            .bind(id)
            .execute(&mut *c)
            .await?;
    });
    super::activities::record(
        tx,
        &NewActivity {
            contact_id: id,
            at,
            kind: ActivityKind::Updated,
            detail: serde_json::json!({
                "name": f.name, "organisation": f.organisation, "language": f.language, "by": by,
            }),
            campaign_id: None,
            inbound_id: None,
        },
    )
    .await
}

/// A coordinator's note on the contact's timeline.
pub async fn add_note(tx: &mut Tx, id: ContactId, text: &str, by: &str) -> Result<()> {
    super::activities::record(
        tx,
        &NewActivity {
            contact_id: id,
            at: now(),
            kind: ActivityKind::Note,
            detail: serde_json::json!({"text": text, "by": by}),
            campaign_id: None,
            inbound_id: None,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(pattern(" Müller "), "%Müller%");
        assert_eq!(pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
