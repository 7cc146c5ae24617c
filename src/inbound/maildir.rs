//! A maildir as inbound source: every file in `new/` is spooled and processed, then moved to
//! `cur/` (with the maildir "seen" flag). A file whose spooling fails stays in `new/`.
//!
//! Files are taken in chunks (see [`super::batch`]): the next chunk is read and classified on
//! the blocking threads while the current one is written to the database.

use super::batch::{self, CHUNK, CHUNK_BYTES};
use super::Inbound;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Creates `new/`, `cur/` and `tmp/` when missing.
pub fn ensure(dir: &Path) -> std::io::Result<()> {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    Ok(())
}

/// Reads the next chunk of files from `files` (advancing it); files that are gone were taken
/// by another daemon sharing this maildir.
fn read_chunk(
    files: &mut std::slice::Iter<'_, PathBuf>,
    max_bytes: usize,
) -> (Vec<PathBuf>, Vec<Vec<u8>>) {
    let mut paths = Vec::new();
    let mut raws = Vec::new();
    let mut bytes = 0;
    while paths.len() < CHUNK && bytes < CHUNK_BYTES {
        let Some(path) = files.next() else { break };
        // A file over the limit is read only up to it and quarantined as oversized.
        match std::fs::File::open(path).and_then(|f| batch::read_limited(f, max_bytes, false)) {
            Ok(r) => {
                bytes += r.len();
                paths.push(path.clone());
                raws.push(r);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(file = %path.display(), "cannot read: {e}"),
        }
    }
    (paths, raws)
}

/// [`poll_once`] unless the last poll was less than `every` ago (config `inbound.poll_secs`;
/// the daemon ticks every second). Returns how many were taken.
pub async fn poll_due(inb: &Inbound, dir: &Path, every: Duration) -> anyhow::Result<usize> {
    {
        let mut last = inb.maildir_polled.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < every) {
            return Ok(0);
        }
        *last = Some(Instant::now());
    }
    poll_once(inb, dir).await
}

/// Processes every message waiting in `dir/new`. Returns how many were taken.
pub async fn poll_once(inb: &Inbound, dir: &Path) -> anyhow::Result<usize> {
    ensure(dir)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("new"))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    // Maildir names start with the delivery time: sorting keeps arrival order.
    files.sort();
    let mut files = files.iter();
    let mut n = 0;
    let (mut paths, raws) = read_chunk(&mut files, inb.cfg.inbound.max_message_bytes);
    let mut classifying = inb.spawn_prepare(raws);
    while !paths.is_empty() {
        let prepared = batch::join_prepared(classifying).await?;
        // Read and classify the next chunk while this one is written.
        let (next_paths, next_raws) = read_chunk(&mut files, inb.cfg.inbound.max_message_bytes);
        classifying = inb.spawn_prepare(next_raws);
        inb.land_prepared(&prepared, "maildir").await?;
        // Only after the commit: a file still in new/ is a message not yet safely stored.
        for path in &paths {
            let name = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let target = dir.join("cur").join(if name.contains(":2,") {
                name
            } else {
                format!("{name}:2,S")
            });
            match std::fs::rename(path, &target) {
                Ok(()) => n += 1,
                // Moved by another daemon meanwhile; the spool's dedup kept it to one.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        paths = next_paths;
    }
    Ok(n)
}
