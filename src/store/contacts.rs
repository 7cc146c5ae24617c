//! Contacts: the people and organisations of the network, with consent per topic.

use super::activities::{Activity, ActivityKind, NewActivity};
use super::relations::Relation;
use super::{now, on_tx, Db, Result, StoreError, Timestamp, Tx};
use crate::domain::{
    ConsentStatus, ContactId, EmailAddress, RelationForm, SuppressionReason, TopicId,
};
use crate::{in_tx, on_db};
// The consent writes live in `store::consents`; named here too, where callers found them.
pub use super::consents::{consent_of, consent_statuses, set_consent, ConsentEvidence};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Contact {
    pub id: ContactId,
    pub email: String,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub language: Option<String>,
    pub attributes: String,
    pub source: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_activity_at: Option<Timestamp>,
    pub last_reply_at: Option<Timestamp>,
}

const COLUMNS: &str = "c.id, c.email, c.name, c.organisation, c.language, c.attributes, c.source, \
                       c.created_at, c.updated_at, c.last_activity_at, c.last_reply_at";

/// The one definition of a silent contact, as an SQL condition on `c` (contacts): confirmed
/// consent for at least one topic (the given one, when `topic` is not NULL), no active encounter,
/// cooperation or group relation, no reply since `cutoff`, and not suppressed.
/// The arguments are the placeholders that hold the topic id (or NULL), now, and the cutoff.
pub fn silent_condition(topic: &str, now: &str, cutoff: &str) -> String {
    format!(
        "(EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = c.id AND s.status = 'confirmed'
                  AND ({topic} IS NULL OR s.topic_id = {topic}))
          AND NOT EXISTS (SELECT 1 FROM relations r WHERE r.contact_id = c.id
                  AND r.status IN ('interested', 'confirmed') AND (r.until IS NULL OR r.until > {now}))
          AND (c.last_reply_at IS NULL OR c.last_reply_at < {cutoff})
          AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.address = c.email_key))"
    )
}

#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub topic_id: Option<TopicId>,
    pub form: Option<RelationForm>,
    pub silent: bool,
    /// Days without a reply that make a contact silent.
    pub silent_after_days: i64,
    pub limit: Option<i64>,
    pub offset: i64,
}

pub async fn list(db: &Db, f: &ContactFilter) -> Result<Vec<Contact>> {
    let at = now();
    let cutoff = at - chrono::Duration::days(f.silent_after_days.max(1));
    let sql = format!(
        "SELECT {COLUMNS} FROM contacts c
         WHERE ($1 IS NULL OR EXISTS (SELECT 1 FROM subscriptions s0 WHERE s0.contact_id = c.id
                    AND s0.topic_id = $1 AND s0.status <> 'unsubscribed'))
           AND ($2 IS NULL OR EXISTS (SELECT 1 FROM relations r0 WHERE r0.contact_id = c.id
                    AND r0.form = $2 AND r0.status IN ('interested', 'confirmed')))
           AND ($3 = 0 OR {silent})
         ORDER BY c.id LIMIT $6 OFFSET $7",
        silent = silent_condition("$1", "$4", "$5")
    );
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(f.topic_id)
            .bind(f.form.map(|x| x.as_str()))
            .bind(i64::from(f.silent))
            .bind(at)
            .bind(cutoff)
            .bind(f.limit.unwrap_or(i64::MAX))
            .bind(f.offset)
            .fetch_all(p)
            .await?
    }))
}

pub async fn find(db: &Db, email: &EmailAddress) -> Result<Option<Contact>> {
    let sql = format!("SELECT {COLUMNS} FROM contacts c WHERE c.email_key = $1");
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql.as_str())).bind(email.key()).fetch_optional(p).await?
    }))
}

pub async fn get(db: &Db, email: &str) -> Result<Contact> {
    let addr = EmailAddress::parse(email)
        .map_err(|e| StoreError::Invalid(format!("{email:?} is not an address: {e}")))?;
    find(db, &addr)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no contact {addr}")))
}

pub async fn by_id(db: &Db, id: ContactId) -> Result<Contact> {
    let sql = format!("SELECT {COLUMNS} FROM contacts c WHERE c.id = $1");
    let c = on_db!(db, p => sqlx::query_as::<_, Contact>(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await?);
    c.ok_or_else(|| StoreError::NotFound(format!("no contact with id {id}")))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SubscriptionRow {
    pub topic: String,
    pub topic_id: TopicId,
    pub status: crate::domain::ConsentStatus,
    pub method: String,
    pub evidence: Option<String>,
    pub changed_at: Timestamp,
    /// The consent text the person saw (the subscribe page's, in their language).
    pub consent_text: Option<String>,
    /// The privacy notice's version they consented under.
    pub notice_version: Option<String>,
    /// When they were asked whether they still want this topic (unanswered so far).
    pub renewal_asked_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContactDetail {
    pub contact: Contact,
    pub subscriptions: Vec<SubscriptionRow>,
    pub relations: Vec<Relation>,
    /// Wishes not to be invited on a topic before a time, read from replies.
    pub wishes: Vec<super::wishes::WishRow>,
    pub timeline: Vec<Activity>,
    pub silent: bool,
    pub suppressed: bool,
}

pub async fn subscriptions(db: &Db, contact_id: ContactId) -> Result<Vec<SubscriptionRow>> {
    Ok(on_db!(db, p => {
        sqlx::query_as::<_, SubscriptionRow>(
            "SELECT t.slug AS topic, s.topic_id, s.status, s.method, s.evidence, s.changed_at,
                    s.consent_text, s.notice_version, s.renewal_asked_at
             FROM subscriptions s JOIN topics t ON t.id = s.topic_id
             WHERE s.contact_id = $1 ORDER BY t.slug",
        )
        .bind(contact_id)
        .fetch_all(p)
        .await?
    }))
}

pub async fn detail(db: &Db, email: &str, silent_after_days: i64) -> Result<ContactDetail> {
    let contact = get(db, email).await?;
    let subscriptions = subscriptions(db, contact.id).await?;
    let relations = super::relations::for_contact(db, contact.id).await?;
    let wishes = super::wishes::for_contact(db, contact.id).await?;
    let timeline = on_db!(db, p => {
        sqlx::query_as::<_, Activity>(
            "SELECT a.id, a.at, a.kind, a.summary, a.detail, a.campaign_id, k.name AS campaign,
                    a.inbound_id
             FROM activities a LEFT JOIN campaigns k ON k.id = a.campaign_id
             WHERE a.contact_id = $1 ORDER BY a.at, a.id",
        )
        .bind(contact.id)
        .fetch_all(p)
        .await?
    });
    let silent = is_silent(db, contact.id, silent_after_days).await?;
    let suppressed = super::suppressions::is_suppressed(db, &contact.email.to_lowercase()).await?;
    Ok(ContactDetail {
        contact,
        subscriptions,
        relations,
        wishes,
        timeline,
        silent,
        suppressed,
    })
}

pub async fn is_silent(db: &Db, contact_id: ContactId, silent_after_days: i64) -> Result<bool> {
    let at = now();
    let sql = format!(
        "SELECT COUNT(*) FROM contacts c WHERE c.id = $1 AND {}",
        silent_condition("$2", "$3", "$4")
    );
    let n: i64 = on_db!(db, p => {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(contact_id)
            .bind(None::<i64>)
            .bind(at)
            .bind(at - chrono::Duration::days(silent_after_days))
            .fetch_one(p)
            .await?
    });
    Ok(n > 0)
}

/// Erasure (GDPR Art. 17): the contact, its consent, relations and timeline are deleted; the
/// address survives only as a hash in suppressions, so no later import brings it back.
pub async fn forget(db: &Db, email: &str) -> Result<()> {
    let addr = EmailAddress::parse(email)
        .map_err(|e| StoreError::Invalid(format!("{email:?} is not an address: {e}")))?;
    let key = addr.key();
    let hash = addr.key_hash();
    let at = now();
    in_tx!(db, tx => {
        sqlx::query(
            "INSERT INTO suppressions (address_hash, address, reason, note, created_at)
             VALUES ($1, NULL, $2, NULL, $3)
             ON CONFLICT (address_hash) DO UPDATE SET address = NULL, reason = excluded.reason, note = NULL",
        )
        .bind(&hash)
        .bind(SuppressionReason::Forgotten.as_str())
        .bind(at)
        .execute(&mut **tx)
        .await?;
        for sql in crate::store::FORGET_STATEMENTS {
            sqlx::query(*sql).bind(&key).execute(&mut **tx).await?;
        }
    });
    Ok(())
}

/// A row as the importer hands it over: parsed and checked, ready to land.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub email: EmailAddress,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub language: Option<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub topics: Vec<TopicId>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchOutcome {
    pub created: usize,
    pub updated: usize,
}

/// Rows per statement of `import_batch`: each statement carries its rows as one JSON text
/// parameter, so a statement costs the same few bound values whatever its size.
const STATEMENT_ROWS: usize = 10_000;

/// Which contacts of a statement's rows exist already, with their attributes (`$1`: JSON array of
/// keys).
const SQLITE_EXISTING: &str = "SELECT email_key, attributes FROM contacts
     WHERE email_key IN (SELECT value FROM json_each($1))";
pub(super) const PG_EXISTING: &str =
    "SELECT email_key, attributes FROM contacts WHERE email_key = ANY($1::text[])";
/// An imported row whose contact exists (same key) keeps the contact's id and fills in the
/// fields the row has (its attributes come merged, see `merge`). One text for every import
/// statement, SQLite's and PostgreSQL's (`pg_land`), so the rule cannot differ between them.
const CONTACT_CONFLICT: &str = "ON CONFLICT (email_key) DO UPDATE SET
        name = COALESCE(excluded.name, contacts.name),
        organisation = COALESCE(excluded.organisation, contacts.organisation),
        language = COALESCE(excluded.language, contacts.language),
        attributes = excluded.attributes,
        updated_at = excluded.updated_at,
        last_activity_at = excluded.last_activity_at";
/// An import raises a pending consent to confirmed and never revives a withdrawn one. One text
/// for every import statement, as [`CONTACT_CONFLICT`].
const CONSENT_CONFLICT: &str =
    "ON CONFLICT (contact_id, topic_id) DO UPDATE SET status = excluded.status,
        method = excluded.method, evidence = excluded.evidence, changed_at = excluded.changed_at
     WHERE subscriptions.status = 'pending' AND excluded.status = 'confirmed'";
// The rows (`$1`) are a JSON array of `LandRow` arrays: 0 email, 1 key, 2 name, 3 organisation,
// 4 language, 5 attributes (merged JSON text), 6 topic ids, 7 activity detail.
// `WHERE true` keeps SQLite from reading `ON CONFLICT` as a join constraint. `jsonb_each` (not
// `json_each`) parses the text once: its `value` is binary JSON, so `->>` does not parse each
// row's text again per field (that was a quarter of the SQLite import's time).
static SQLITE_CONTACTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO contacts (email, email_key, name, organisation, language,
        attributes, source, created_at, updated_at, last_activity_at)
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, $2, $3, $3, $3
     FROM jsonb_each($1) WHERE true
     {CONTACT_CONFLICT}"
    )
});
static SQLITE_SUBSCRIPTIONS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO subscriptions (contact_id, topic_id, status, method,
        evidence, changed_at, created_at)
     SELECT c.id, t.value, $2, 'import', $3, $4, $4
     FROM jsonb_each($1) AS j JOIN contacts AS c ON c.email_key = j.value ->> 1
        JOIN jsonb_each(j.value, '$[6]') AS t
     WHERE true
     {CONSENT_CONFLICT}"
    )
});
const SQLITE_ACTIVITIES: &str = "INSERT INTO activities (contact_id, at, kind, summary, detail,
        campaign_id, inbound_id)
     SELECT c.id, $2, 'import', '', j.value ->> 7, NULL, NULL
     FROM jsonb_each($1) AS j JOIN contacts AS c ON c.email_key = j.value ->> 1";

/// The landing of a batch on PostgreSQL, in one statement: the contacts' RETURNING gives the
/// ids. Contacts from `rows` (a FROM item `j` with id, activity_id, email, email_key, name,
/// organisation, language, attributes and detail) get the ids reserved for them and an existing
/// one keeps its own ([`CONTACT_CONFLICT`]); their consents come from `topics` (FROM items that
/// join `c`, the landed contacts, and give `t.topic`; [`CONSENT_CONFLICT`]); every row gets an
/// `import` activity with the id reserved for it. `with`: table expressions before `c`, each
/// with its comma; `source`, `at`, `consent`: their parameters. Used by [`PG_LAND`] and the
/// staged batch (`import_stage`).
pub(super) fn pg_land(
    with: &str,
    rows: &str,
    topics: &str,
    source: &str,
    at: &str,
    consent: &str,
) -> String {
    format!(
        "WITH {with}c AS (
        INSERT INTO contacts (id, email, email_key, name, organisation, language, attributes,
            source, created_at, updated_at, last_activity_at)
        SELECT id, email, email_key, name, organisation, language, attributes, {source}, {at}, {at}, {at}
        FROM {rows}
        {CONTACT_CONFLICT}
        RETURNING id, email_key
     ), s AS (
        INSERT INTO subscriptions (contact_id, topic_id, status, method, evidence, changed_at, created_at)
        SELECT c.id, t.topic, {consent}, 'import', {source}, {at}, {at}
        FROM {topics}
        {CONSENT_CONFLICT}
     )
     INSERT INTO activities (id, contact_id, at, kind, summary, detail, campaign_id, inbound_id)
     SELECT j.activity_id, c.id, {at}, 'import', '', j.detail, NULL, NULL
     FROM {rows} JOIN c ON c.email_key = j.email_key"
    )
}

/// The rows come as typed arrays, one per column ($1 to $9; binary parameters, nothing to
/// parse), the subscriptions as pairs of key and topic ($10, $11); `$12` source, `$13` time,
/// `$14` consent.
static PG_LAND: LazyLock<String> = LazyLock::new(|| {
    pg_land(
        "j AS MATERIALIZED (
        SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],
            $6::text[], $7::text[], $8::text[], $9::text[])
            AS u(id, activity_id, email, email_key, name, organisation, language, attributes,
                 detail)
     ), ",
        "j",
        "unnest($10::text[], $11::bigint[]) AS t(email_key, topic)
            JOIN c ON c.email_key = t.email_key",
        "$12",
        "$13",
        "$14",
    )
});

/// Draws `n` ids from the contacts' and `n` from the activities' sequences, each list in
/// increasing order. An `INSERT ... ON CONFLICT` draws a contact id for every row, existing or
/// not, so a batch given these ids leaves the sequences and the ids where landing its rows one by
/// one would.
const PG_RESERVE: &str = "WITH s AS (
        SELECT pg_get_serial_sequence('contacts', 'id')::regclass AS c,
               pg_get_serial_sequence('activities', 'id')::regclass AS a
     ), n AS (SELECT nextval(s.c) AS c, nextval(s.a) AS a FROM s, generate_series(1, $1) AS g)
     SELECT COALESCE(array_agg(c ORDER BY c), '{}'), COALESCE(array_agg(a ORDER BY a), '{}') FROM n";

/// Ids reserved for the rows of one batch, in file order (see `reserve_ids`).
#[derive(Debug, Clone, Default)]
pub struct ReservedIds {
    pub(super) contacts: Vec<i64>,
    pub(super) activities: Vec<i64>,
}

/// On PostgreSQL, the contact and activity ids for a batch of `n` rows, drawn now: batches that
/// reserve one after the other and then land at the same time (`import_stage`) still give
/// `ORDER BY id` the file order. None on SQLite, whose single writer lands one batch at a time.
pub async fn reserve_ids(db: &Db, n: usize) -> Result<Option<ReservedIds>> {
    match db {
        Db::Postgres(pool) => Ok(Some(reserve_pg(pool, n).await?)),
        Db::Sqlite(_) => Ok(None),
    }
}

async fn reserve_pg<'e>(e: impl sqlx::PgExecutor<'e>, n: usize) -> Result<ReservedIds> {
    let n = i64::try_from(n).map_err(|_| StoreError::Invalid(format!("{n} rows in one batch")))?;
    let (contacts, activities): (Vec<i64>, Vec<i64>) =
        sqlx::query_as(PG_RESERVE).bind(n).fetch_one(e).await?;
    Ok(ReservedIds {
        contacts,
        activities,
    })
}

/// One row of a statement's JSON parameter (serialised as an array; see `SQLITE_CONTACTS`).
#[derive(Serialize)]
struct LandRow<'a>(
    #[serde(serialize_with = "as_display")] &'a EmailAddress,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    &'a [TopicId],
    &'a str,
);

fn as_display<S: serde::Serializer>(v: &&EmailAddress, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(format!("import rows as JSON: {e}")))
}

/// Lands a batch of rows in one transaction with a few statements per 10,000 rows (never one
/// round trip per row): existing contacts are updated (non-empty fields win, attributes merge),
/// consent is raised from pending to confirmed but never revived after an unsubscribe, and every
/// row gets an `import` activity.
pub async fn import_batch(
    db: &Db,
    rows: &[ImportRow],
    consent: ConsentStatus,
    source: &str,
) -> Result<BatchOutcome> {
    match db {
        Db::Postgres(pool) => land_pg(pool, rows, consent, source).await,
        Db::Sqlite(_) => land_sqlite(db, rows, consent, source).await,
    }
}

pub(super) async fn previous_committed(
    after: Option<tokio::sync::oneshot::Receiver<()>>,
) -> Result<()> {
    match after {
        Some(after) => after.await.map_err(|_| {
            StoreError::Conflict(
                "an earlier batch of the import failed: this one is rolled back".into(),
            )
        }),
        None => Ok(()),
    }
}

/// What a statement's rows land with: the attributes (an existing contact's merged with the
/// row's) and whether the contact existed. Existing attributes are merged here, not in SQL: the
/// two engines' JSON functions write different text, and the stored text stays what it always
/// was. `details` gains the activity detail of each set of topics, for a new and for an updated
/// contact (most rows of a file share them).
pub(super) fn merge<'r>(
    chunk: &'r [ImportRow],
    keys: &[String],
    existing: &HashMap<String, String>,
    details: &mut HashMap<(&'r [TopicId], bool), String>,
    consent: ConsentStatus,
    source: &str,
) -> Vec<(String, bool)> {
    let mut out = Vec::with_capacity(chunk.len());
    for (r, key) in chunk.iter().zip(keys) {
        let attributes = match existing.get(key) {
            Some(old) => {
                let mut attrs =
                    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(old)
                        .unwrap_or_default();
                attrs.extend(r.attributes.clone());
                serde_json::Value::Object(attrs).to_string()
            }
            None if r.attributes.is_empty() => "{}".to_string(),
            None => serde_json::Value::Object(r.attributes.clone()).to_string(),
        };
        let existed = existing.contains_key(key);
        if !details.contains_key(&(r.topics.as_slice(), existed)) {
            let detail = serde_json::json!({"source": source, "topics": r.topics, "consent": consent.as_str(), "updated": existed});
            details.insert((&r.topics, existed), detail.to_string());
        }
        out.push((attributes, existed));
    }
    out
}

async fn land_sqlite(
    db: &Db,
    rows: &[ImportRow],
    consent: ConsentStatus,
    source: &str,
) -> Result<BatchOutcome> {
    if rows.is_empty() {
        return Ok(BatchOutcome::default());
    }
    let at = now();
    let mut details: HashMap<(&[TopicId], bool), String> = HashMap::new();
    let outcome = in_tx!(db, tx => {
        // A transaction of thousands of rows outgrows SQLite's default 2 MB page cache: dirty
        // pages spill to the WAL and are read back (250,000 pread/pwrite calls per 200,000
        // rows). The connection's own setting returns afterwards.
        let cache: Option<i64> = if rows.len() < 1000 {
            None
        } else {
            let old: i64 = sqlx::query_scalar("PRAGMA cache_size").fetch_one(&mut **tx).await?;
            sqlx::query("PRAGMA cache_size = -65536").execute(&mut **tx).await?;
            Some(old)
        };
        let mut outcome = BatchOutcome::default();
        for chunk in rows.chunks(STATEMENT_ROWS) {
            let keys: Vec<String> = chunk.iter().map(|r| r.email.key()).collect();
            let existing: HashMap<String, String> = sqlx::query_as::<_, (String, String)>(SQLITE_EXISTING)
                .bind(to_json(&keys)?)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .collect();
            let land = merge(chunk, &keys, &existing, &mut details, consent, source);
            let json = to_json(
                &chunk
                    .iter()
                    .zip(&keys)
                    .zip(&land)
                    .map(|((r, key), (attributes, existed))| {
                        LandRow(
                            &r.email,
                            key,
                            r.name.as_deref(),
                            r.organisation.as_deref(),
                            r.language.as_deref(),
                            attributes,
                            &r.topics,
                            &details[&(r.topics.as_slice(), *existed)],
                        )
                    })
                    .collect::<Vec<_>>(),
            )?;
            drop(land);
            sqlx::query(SQLITE_CONTACTS.as_str()).bind(&json).bind(source).bind(at).execute(&mut **tx).await?;
            if chunk.iter().any(|r| !r.topics.is_empty()) {
                sqlx::query(SQLITE_SUBSCRIPTIONS.as_str())
                    .bind(&json)
                    .bind(consent.as_str())
                    .bind(source)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
            }
            sqlx::query(SQLITE_ACTIVITIES)
                .bind(&json)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            outcome.updated += existing.len();
            outcome.created += chunk.len() - existing.len();
        }
        if let Some(old) = cache {
            sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = {old}")))
                .execute(&mut **tx)
                .await?;
        }
        outcome
    });
    Ok(outcome)
}

async fn land_pg(
    pool: &sqlx::PgPool,
    rows: &[ImportRow],
    consent: ConsentStatus,
    source: &str,
) -> Result<BatchOutcome> {
    if rows.is_empty() {
        return Ok(BatchOutcome::default());
    }
    let at = now();
    let mut details: HashMap<(&[TopicId], bool), String> = HashMap::new();
    let mut tx = pool.begin().await?;
    let ids = reserve_pg(&mut *tx, rows.len()).await?;
    let mut outcome = BatchOutcome::default();
    for (i, chunk) in rows.chunks(STATEMENT_ROWS).enumerate() {
        let ids_at = i * STATEMENT_ROWS..i * STATEMENT_ROWS + chunk.len();
        let keys: Vec<String> = chunk.iter().map(|r| r.email.key()).collect();
        let existing: HashMap<String, String> = sqlx::query_as::<_, (String, String)>(PG_EXISTING)
            .bind(&keys)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
        let (attributes, existed): (Vec<String>, Vec<bool>) =
            merge(chunk, &keys, &existing, &mut details, consent, source)
                .into_iter()
                .unzip();
        let (mut sub_keys, mut sub_topics) = (Vec::new(), Vec::new());
        for (r, key) in chunk.iter().zip(&keys) {
            for &t in &r.topics {
                sub_keys.push(key.as_str());
                sub_topics.push(t.get());
            }
        }
        sqlx::query(PG_LAND.as_str())
            .bind(&ids.contacts[ids_at.clone()])
            .bind(&ids.activities[ids_at])
            .bind(
                chunk
                    .iter()
                    .map(|r| r.email.to_string())
                    .collect::<Vec<_>>(),
            )
            .bind(&keys)
            .bind(chunk.iter().map(|r| r.name.as_deref()).collect::<Vec<_>>())
            .bind(
                chunk
                    .iter()
                    .map(|r| r.organisation.as_deref())
                    .collect::<Vec<_>>(),
            )
            .bind(
                chunk
                    .iter()
                    .map(|r| r.language.as_deref())
                    .collect::<Vec<_>>(),
            )
            .bind(&attributes)
            .bind(
                chunk
                    .iter()
                    .zip(&existed)
                    .map(|(r, e)| details[&(r.topics.as_slice(), *e)].as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(&sub_keys)
            .bind(&sub_topics)
            .bind(source)
            .bind(at)
            .bind(consent.as_str())
            .execute(&mut *tx)
            .await?;
        outcome.updated += existing.len();
        outcome.created += chunk.len() - existing.len();
    }
    tx.commit().await?;
    Ok(outcome)
}

/// Sets the contact's `last_reply_at`: a reply proven to come from them.
pub async fn note_reply(tx: &mut Tx, contact_id: ContactId, at: Timestamp) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE contacts SET last_reply_at = $1 WHERE id = $2")
            .bind(at)
            .bind(contact_id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Sets the contact's language, within the caller's transaction.
pub async fn set_language(tx: &mut Tx, contact_id: ContactId, language: &str) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE contacts SET language = $1, updated_at = $2 WHERE id = $3")
            .bind(language)
            .bind(now())
            .bind(contact_id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// The topics each contact has unsubscribed from, by lower-cased address: small enough to hold
/// during an import, which must not raise them.
pub async fn unsubscribed_topics(db: &Db) -> Result<HashMap<String, Vec<TopicId>>> {
    let rows: Vec<(String, TopicId)> = on_db!(db, p => {
        sqlx::query_as(
            "SELECT c.email_key, s.topic_id FROM subscriptions s JOIN contacts c ON c.id = s.contact_id
             WHERE s.status = 'unsubscribed'",
        )
        .fetch_all(p)
        .await?
    });
    let mut out: HashMap<String, Vec<TopicId>> = HashMap::new();
    for (key, topic) in rows {
        out.entry(key).or_default().push(topic);
    }
    Ok(out)
}

/// Notes a confirmation mail to the contact on its timeline, unless `max` were noted within the
/// last 24 hours: then nothing is written and the answer is false. The contact's row is updated
/// first (to itself), which locks it on both databases, so two requests at once cannot both take
/// the last one.
pub async fn note_confirmation_mail(
    db: &Db,
    contact_id: ContactId,
    topic_id: TopicId,
    evidence: &str,
    max: i64,
) -> Result<bool> {
    let at = now();
    let noted = in_tx!(db, tx => {
        sqlx::query("UPDATE contacts SET last_activity_at = last_activity_at WHERE id = $1")
            .bind(contact_id)
            .execute(&mut **tx)
            .await?;
        let sent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM activities WHERE contact_id = $1 AND kind = 'confirmation' AND at > $2",
        )
        .bind(contact_id)
        .bind(at - chrono::Duration::hours(24))
        .fetch_one(&mut **tx)
        .await?;
        if sent < max {
            // On the timeline, but not the person's activity (anyone can ask for the mail):
            // `last_activity_at` stays.
            sqlx::query(
                "INSERT INTO activities (contact_id, at, kind, summary, detail) VALUES ($1, $2, 'confirmation', '', $3)",
            )
            .bind(contact_id)
            .bind(at)
            .bind(serde_json::json!({"topic_id": topic_id, "evidence": evidence}).to_string())
            .execute(&mut **tx)
            .await?;
        }
        sent < max
    });
    Ok(noted)
}

/// Adds or updates one contact (API, public forms, tests).
pub async fn upsert_one(
    db: &Db,
    row: &ImportRow,
    consent: ConsentStatus,
    source: &str,
) -> Result<Contact> {
    import_batch(db, std::slice::from_ref(row), consent, source).await?;
    find(db, &row.email)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("contact {} vanished", row.email)))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ExportRow {
    pub email: String,
    pub name: Option<String>,
    pub organisation: Option<String>,
    pub language: Option<String>,
    pub topics: Option<String>,
    pub attributes: String,
    pub source: Option<String>,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct ExportBase {
    id: ContactId,
    email: String,
    name: Option<String>,
    organisation: Option<String>,
    language: Option<String>,
    attributes: String,
    source: Option<String>,
    created_at: Timestamp,
}

/// Every contact with its confirmed topics, for `contacts export` (re-importable).
pub async fn export(db: &Db) -> Result<Vec<ExportRow>> {
    let rows: Vec<ExportBase> = on_db!(db, p => {
        sqlx::query_as::<_, ExportBase>(
            "SELECT id, email, name, organisation, language, attributes, source, created_at FROM contacts ORDER BY id",
        )
        .fetch_all(p)
        .await?
    });
    let subs: Vec<(ContactId, String)> = on_db!(db, p => {
        sqlx::query_as(
            "SELECT s.contact_id, t.slug FROM subscriptions s JOIN topics t ON t.id = s.topic_id
             WHERE s.status = 'confirmed' ORDER BY t.slug",
        )
        .fetch_all(p)
        .await?
    });
    let mut topics: HashMap<ContactId, Vec<String>> = HashMap::new();
    for (c, t) in subs {
        topics.entry(c).or_default().push(t);
    }
    Ok(rows
        .into_iter()
        .map(|r| ExportRow {
            topics: topics.remove(&r.id).map(|v| v.join(",")),
            email: r.email,
            name: r.name,
            organisation: r.organisation,
            language: r.language,
            attributes: r.attributes,
            source: r.source,
            created_at: r.created_at,
        })
        .collect())
}

pub async fn count(db: &Db) -> Result<i64> {
    Ok(on_db!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM contacts").fetch_one(p).await?))
}

/// New values for a contact's own fields; `None` keeps a field as it is.
#[derive(Debug, Clone, Default)]
pub struct FieldChanges<'a> {
    pub name: Option<&'a str>,
    pub organisation: Option<&'a str>,
    pub language: Option<&'a str>,
}

/// Changes a contact's fields and puts who changed them on the timeline, within the caller's
/// transaction.
pub async fn update_fields(
    tx: &mut super::Tx,
    contact_id: ContactId,
    f: &FieldChanges<'_>,
    by: &str,
) -> Result<()> {
    let at = now();
    super::on_tx!(&mut *tx, c => {
        sqlx::query(
            "UPDATE contacts SET name = COALESCE($1, name), organisation = COALESCE($2, organisation),
                language = COALESCE($3, language), updated_at = $4 WHERE id = $5",
        )
        .bind(f.name)
        .bind(f.organisation)
        .bind(f.language)
        .bind(at)
        .bind(contact_id)
        .execute(&mut *c)
        .await?;
    });
    super::activities::record(
        tx,
        &NewActivity {
            contact_id,
            at,
            kind: ActivityKind::Updated,
            detail: serde_json::json!({"name": f.name, "organisation": f.organisation, "language": f.language, "by": by}),
            campaign_id: None,
            inbound_id: None,
        },
    )
    .await
}
