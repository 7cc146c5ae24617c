//! An import batch on PostgreSQL, landed through a staging table: its rows are streamed in with
//! `COPY` chunk by chunk as the file is read (the client holds one chunk, not the batch), and the
//! batch then lands in one set-based statement for contacts, consents and the timeline.

use super::contacts::{
    merge, pg_land, previous_committed, BatchOutcome, ImportRow, ReservedIds, PG_EXISTING,
};
use super::{now, Db, Result, StoreError, Timestamp};
use crate::domain::{ConsentStatus, TopicId};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

/// Dropped with the transaction, committed or not; each batch has its own connection, so two
/// batches landing at once never share one.
const STAGE: &str = "CREATE TEMPORARY TABLE import_stage (
        id BIGINT NOT NULL,
        activity_id BIGINT NOT NULL,
        email TEXT NOT NULL,
        email_key TEXT NOT NULL,
        name TEXT,
        organisation TEXT,
        language TEXT,
        attributes TEXT NOT NULL,
        detail TEXT NOT NULL,
        topics BIGINT[] NOT NULL
     ) ON COMMIT DROP";

const COPY: &str = "COPY import_stage (id, activity_id, email, email_key, name, organisation,
        language, attributes, detail, topics) FROM STDIN";

/// The staged rows land as `contacts` lands its arrays ([`pg_land`]). `$1` source, `$2` time,
/// `$3` consent.
static LAND: LazyLock<String> = LazyLock::new(|| {
    pg_land(
        "",
        "import_stage AS j",
        "import_stage AS j JOIN c ON c.email_key = j.email_key
            CROSS JOIN unnest(j.topics) AS t(topic)",
        "$1",
        "$2",
        "$3",
    )
});

/// One import batch in its own transaction on PostgreSQL (see the module).
pub struct StagedBatch {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    consent: ConsentStatus,
    source: String,
    at: Timestamp,
    outcome: BatchOutcome,
    /// The COPY text of a chunk, reused.
    buf: String,
}

/// Begins a staged batch; None on SQLite, whose single writer lands whole batches
/// (`contacts::import_batch`).
pub async fn begin(db: &Db, consent: ConsentStatus, source: &str) -> Result<Option<StagedBatch>> {
    let Db::Postgres(pool) = db else {
        return Ok(None);
    };
    let mut tx = pool.begin().await?;
    // The staging table has no statistics, so the landing statement is planned for far more
    // rows than it has: with JIT its compilation cost more than the statement, and its sorts
    // spilled to disk.
    sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
    sqlx::query("SET LOCAL work_mem = '16MB'")
        .execute(&mut *tx)
        .await?;
    sqlx::query(STAGE).execute(&mut *tx).await?;
    Ok(Some(StagedBatch {
        tx,
        consent,
        source: source.to_string(),
        at: now(),
        outcome: BatchOutcome::default(),
        buf: String::new(),
    }))
}

impl StagedBatch {
    /// Stages `rows` with the ids reserved for them (`contacts::reserve_ids`, in file order):
    /// an existing contact's attributes are merged here, as `import_batch` merges them.
    pub async fn stage(&mut self, rows: &[ImportRow], ids: &ReservedIds) -> Result<()> {
        if ids.contacts.len() != rows.len() || ids.activities.len() != rows.len() {
            return Err(StoreError::Invalid(format!(
                "{} ids reserved for {} rows",
                ids.contacts.len(),
                rows.len()
            )));
        }
        if rows.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = rows.iter().map(|r| r.email.key()).collect();
        let existing: HashMap<String, String> = sqlx::query_as::<_, (String, String)>(PG_EXISTING)
            .bind(&keys)
            .fetch_all(&mut *self.tx)
            .await?
            .into_iter()
            .collect();
        let mut details: HashMap<(&[TopicId], bool), String> = HashMap::new();
        let land = merge(
            rows,
            &keys,
            &existing,
            &mut details,
            self.consent,
            &self.source,
        );
        let buf = &mut self.buf;
        buf.clear();
        for (i, ((r, key), (attributes, existed))) in rows.iter().zip(&keys).zip(&land).enumerate()
        {
            let _ = write!(buf, "{}\t{}\t", ids.contacts[i], ids.activities[i]);
            copy_text(buf, Some(&r.email.to_string()));
            copy_text(buf, Some(key));
            copy_text(buf, r.name.as_deref());
            copy_text(buf, r.organisation.as_deref());
            copy_text(buf, r.language.as_deref());
            copy_text(buf, Some(attributes));
            copy_text(buf, Some(&details[&(r.topics.as_slice(), *existed)]));
            buf.push('{');
            for (j, t) in r.topics.iter().enumerate() {
                if j > 0 {
                    buf.push(',');
                }
                let _ = write!(buf, "{}", t.get());
            }
            buf.push_str("}\n");
        }
        let mut copy = self.tx.copy_in_raw(COPY).await?;
        copy.send(self.buf.as_bytes()).await?;
        copy.finish().await?;
        self.outcome.updated += existing.len();
        self.outcome.created += rows.len() - existing.len();
        Ok(())
    }

    /// Lands the staged rows and commits once `after` reports the batch before committed (when
    /// that one failed, this one rolls back: an import leaves a prefix of its batches).
    pub async fn land(
        mut self,
        after: Option<tokio::sync::oneshot::Receiver<()>>,
    ) -> Result<BatchOutcome> {
        sqlx::query(LAND.as_str())
            .bind(&self.source)
            .bind(self.at)
            .bind(self.consent.as_str())
            .execute(&mut *self.tx)
            .await?;
        previous_committed(after).await?;
        self.tx.commit().await?;
        Ok(self.outcome)
    }
}

/// One field of COPY's text format and its tab (`\N` for NULL; backslash, tab and line ends
/// escaped).
fn copy_text(buf: &mut String, value: Option<&str>) {
    let Some(v) = value else {
        buf.push_str("\\N\t");
        return;
    };
    for c in v.chars() {
        match c {
            '\\' => buf.push_str("\\\\"),
            '\t' => buf.push_str("\\t"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            c => buf.push(c),
        }
    }
    buf.push('\t');
}

#[cfg(test)]
mod tests {
    use super::copy_text;

    #[test]
    fn copy_text_escapes_what_the_format_reads() {
        let mut buf = String::new();
        copy_text(&mut buf, Some("a\\b\tc\nd\re ü"));
        copy_text(&mut buf, None);
        assert_eq!(buf, "a\\\\b\\tc\\nd\\re ü\t\\N\t");
    }
}
