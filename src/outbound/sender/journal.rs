//! The send journal (what the mail server accepted and the database has not recorded yet) and
//! taking over the claims of a sender that died: on this host at start-up (its process is gone),
//! on any host once it has stopped beating (`take_over_silent`).

use crate::domain::DeliveryId;
use crate::store::campaigns::{self, Outcome, Settle};
use crate::store::Db;
use std::path::Path;

/// An append-only file of the deliveries the server accepted and the database has not recorded
/// yet. The gap between the server's 250 and the commit is what a crash would send twice: the
/// line is written (one `write(2)`, no fsync: it survives the death of the process, which is what
/// it guards against) before the result goes to the database, and a restart on this host marks
/// the journalled rows of the dead sender sent instead of queueing them again.
pub(super) struct Journal {
    file: std::fs::File,
    path: std::path::PathBuf,
    failed: std::sync::atomic::AtomicBool,
}

impl Journal {
    /// The journal file's name without `.sent`: the owner with anything unsafe in a file name
    /// replaced (owners are `host:pid:random`).
    pub(super) fn stem(owner: &str) -> String {
        owner
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    pub(super) fn path_for(dir: &Path, owner: &str) -> std::path::PathBuf {
        dir.join(format!("{}.sent", Self::stem(owner)))
    }

    pub(super) fn open(dir: &Path, owner: &str) -> anyhow::Result<Journal> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| anyhow::anyhow!("outbound.journal_dir {}: {e}", dir.display()))?;
        let path = Self::path_for(dir, owner);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("outbound.journal_dir {}: {e}", path.display()))?;
        Ok(Journal {
            file,
            path,
            failed: false.into(),
        })
    }

    pub(super) fn record(&self, delivery_id: DeliveryId) {
        use std::io::Write;
        // One short write with O_APPEND: lines of concurrent senders do not interleave.
        if let Err(e) = (&self.file).write_all(format!("{delivery_id}\n").as_bytes()) {
            if !self.failed.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(path = %self.path.display(), "cannot write the send journal ({e}): a crash now may send some messages twice");
            }
        }
    }

    /// Forgets what is recorded in the database now.
    pub(super) fn clear(&self) {
        if let Err(e) = self.file.set_len(0) {
            tracing::warn!(path = %self.path.display(), "cannot clear the send journal: {e}");
        }
    }

    /// Reads a dead sender's journal: the deliveries it had sent.
    pub(super) fn read(path: &Path) -> Vec<DeliveryId> {
        std::fs::read_to_string(path)
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }
}

/// Gives back the deliveries that a sender on this host held when it died (its process is gone),
/// so a restart continues at once instead of waiting for the lease to run out. What the dead
/// sender's journal names was accepted by the server: those rows are recorded as sent.
pub(super) async fn release_dead_claims(db: &Db, journal_dir: &Path) -> anyhow::Result<()> {
    let host = hostname();
    let owners = crate::store::senders::sending_owners(db, &format!("{host}:")).await?;
    // Rows under this process's pid are from an earlier engine of it (or a pid reused after a
    // reboot): this engine has no claims yet, so they are released like a dead sender's.
    let alive = |pid: &str| {
        !pid.is_empty()
            && Path::new("/proc").join(pid).exists()
            && pid != std::process::id().to_string()
    };
    for owner in owners {
        if alive(owner.split(':').nth(1).unwrap_or_default()) {
            continue;
        }
        crate::store::senders::forget_sender(db, &owner).await?;
        take_over(db, journal_dir, &owner).await?;
    }
    // Journals of this host's senders that are gone hold nothing unrecorded any more.
    let prefix = Journal::stem(&format!("{host}:"));
    if let Ok(entries) = std::fs::read_dir(journal_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name
                .strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(".sent"))
            else {
                continue;
            };
            let pid = rest.split('_').next().unwrap_or_default();
            // Another engine of this process may still be writing its journal: keep ours.
            if !alive(pid) && pid != std::process::id().to_string() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

/// Takes over the claims of every sender that has not said it is alive since `since` (a
/// daemon killed or cut off, on any host): what the database or, in a shared journal folder, its
/// journal records as accepted is marked sent, the rest goes back to the queue at once.
pub(super) async fn take_over_silent(
    db: &Db,
    journal_dir: &Path,
    since: crate::store::Timestamp,
) -> anyhow::Result<()> {
    for owner in crate::store::senders::silent_senders(db, since).await? {
        // Several senders may find the same dead one: the one that removes its row takes over.
        if crate::store::senders::take_over_sender(db, &owner, since).await? {
            take_over(db, journal_dir, &owner).await?;
        }
    }
    Ok(())
}

/// Records as sent the rows of dead `owner` that its journal names (when it wrote one into
/// `journal_dir`, i.e. on this host and workspace), puts the rest of its claims back in the
/// queue, and removes its journal.
async fn take_over(db: &Db, journal_dir: &Path, owner: &str) -> anyhow::Result<()> {
    let journal = Journal::path_for(journal_dir, owner);
    let sent = Journal::read(&journal);
    let mut recorded = 0;
    for ids in sent.chunks(500) {
        let rows = crate::store::senders::held_by(db, owner, ids).await?;
        let settles: Vec<Settle> = rows
            .into_iter()
            .map(|h| Settle {
                attempts: h.attempts,
                delivery_id: h.id,
                campaign_id: h.campaign_id,
                contact_id: h.contact_id,
                email_key: String::new(),
                outcome: Outcome::Sent,
            })
            .collect();
        recorded += settles.len();
        campaigns::settle(db, &settles).await?;
    }
    let n = crate::store::senders::release_claims(db, owner).await?;
    // Its rows are settled or queued: nothing in the journal is unrecorded any more.
    let _ = std::fs::remove_file(&journal);
    if recorded > 0 || n > 0 {
        tracing::warn!(owner = %owner, sent = recorded, released = n, "took over the claims of a sender that died: recorded what its journal names as sent, queued the rest");
    }
    Ok(())
}

pub(super) fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "netzpost".into())
}
