//! Snapshots of an SQLite database while it is in use, putting one back, and how far a database's
//! schema is migrated. PostgreSQL has `pg_dump` and `pg_restore` for the first two.

use super::{Db, Result, StoreError, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};

/// How far a database's schema is: migrations applied, and migrations this program knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaState {
    pub applied: usize,
    pub known: usize,
}

impl SchemaState {
    /// Migrations that `migrate` (or the next start) would apply.
    pub fn pending(&self) -> usize {
        self.known.saturating_sub(self.applied)
    }
}

impl Db {
    /// The schema's state, without changing it. A database that was never migrated has applied
    /// none.
    pub async fn schema_state(&self) -> Result<SchemaState> {
        let known = match self {
            Db::Sqlite(_) => SQLITE_MIGRATIONS.iter().count(),
            Db::Postgres(_) => POSTGRES_MIGRATIONS.iter().count(),
        };
        let applied = match self.applied_migrations().await {
            Ok(n) => n,
            Err(StoreError::Sqlx(sqlx::Error::Database(e)))
                if e.message().contains("_sqlx_migrations") =>
            {
                0
            }
            Err(e) => return Err(e),
        };
        Ok(SchemaState { applied, known })
    }

    /// Writes a consistent copy of the whole SQLite database to `file` (`VACUUM INTO`), while
    /// other connections and processes go on reading and writing: the copy is one transaction's
    /// view. `file` must not exist yet.
    pub async fn snapshot_into(&self, file: &Path) -> Result<()> {
        let Db::Sqlite(pool) = self else {
            return Err(StoreError::Invalid(
                "a PostgreSQL database is backed up with pg_dump (pg_dump -Fc -f netzpost.dump \
                 DATABASE_URL) and put back with pg_restore"
                    .into(),
            ));
        };
        if file.exists() {
            return Err(StoreError::Conflict(format!(
                "{} exists already; a backup never overwrites a file",
                file.display()
            )));
        }
        let name = file
            .to_str()
            .ok_or_else(|| StoreError::Invalid(format!("{}: not a UTF-8 path", file.display())))?;
        sqlx::query("VACUUM INTO $1")
            .bind(name)
            .execute(pool)
            .await?;
        Ok(())
    }
}

/// What a snapshot holds, read before it is put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFacts {
    pub schema: SchemaState,
    pub contacts: i64,
}

/// Reads a snapshot without changing it: that it is an intact SQLite database, netzpost's, and
/// not from a newer netzpost than this one.
pub async fn inspect_snapshot(file: &Path) -> Result<SnapshotFacts> {
    let bad = |why: String| StoreError::Invalid(format!("{}: {why}", file.display()));
    if !file.is_file() {
        return Err(bad("no such file".into()));
    }
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| bad(format!("cannot open it as an SQLite database: {e}")))?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| bad(format!("not an SQLite database: {e}")))?;
    if check != "ok" {
        return Err(bad(format!("damaged: {check}")));
    }
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut conn)
        .await
        .map_err(|_| bad("not a netzpost database (it has no migration table)".into()))?;
    let contacts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts")
        .fetch_one(&mut conn)
        .await
        .map_err(|_| bad("not a netzpost database (it has no contacts table)".into()))?;
    conn.close().await?;
    let schema = SchemaState {
        applied: applied as usize,
        known: SQLITE_MIGRATIONS.iter().count(),
    };
    if schema.applied > schema.known {
        return Err(bad(format!(
            "made by a newer netzpost ({} migrations; this one knows {}): restore it with that \
             version",
            schema.applied, schema.known
        )));
    }
    Ok(SnapshotFacts { schema, contacts })
}

/// Puts the snapshot `from` in the place of the SQLite database `target`, which nothing may have
/// open. The database that was there is kept beside it as `aside` (its write-ahead log folded in
/// first, so it is whole); the snapshot itself is copied, never moved. Returns where the old
/// database went, if there was one.
pub async fn put_in_place(from: &Path, target: &Path, aside: &Path) -> Result<Option<PathBuf>> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        StoreError::Invalid(format!("{what} {}: {e}", p.display()))
    };
    let kept = if target.exists() {
        // Fold the write-ahead log into the file, so the copy kept aside holds everything and no
        // stale log is left to be replayed into the restored database.
        let mut conn = SqliteConnectOptions::new()
            .filename(target)
            .journal_mode(SqliteJournalMode::Wal)
            .connect()
            .await
            .map_err(|e| StoreError::Invalid(format!("{}: {e}", target.display())))?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await?;
        sqlx::query("PRAGMA journal_mode = DELETE")
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        std::fs::rename(target, aside).map_err(|e| io("cannot move aside", target, e))?;
        Some(aside.to_path_buf())
    } else {
        None
    };
    for suffix in ["-wal", "-shm"] {
        let mut side = target.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            std::fs::remove_file(&side).map_err(|e| io("cannot remove", &side, e))?;
        }
    }
    let mut partial = target.as_os_str().to_owned();
    partial.push(".restoring");
    let partial = PathBuf::from(partial);
    std::fs::copy(from, &partial).map_err(|e| io("cannot copy to", &partial, e))?;
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("cannot write", &partial, e))?;
    std::fs::rename(&partial, target).map_err(|e| io("cannot move into place", target, e))?;
    Ok(kept)
}
