//! A maildir as inbound source: every file in `new/` is spooled and processed, then moved to
//! `cur/` (with the maildir "seen" flag). A file whose spooling fails stays in `new/`.

use super::Inbound;
use std::path::{Path, PathBuf};

/// Creates `new/`, `cur/` and `tmp/` when missing.
pub fn ensure(dir: &Path) -> std::io::Result<()> {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    Ok(())
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
    let mut n = 0;
    for path in files {
        let raw = match std::fs::read(&path) {
            Ok(r) => r,
            // Another daemon sharing this maildir took it first.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                tracing::warn!(file = %path.display(), "cannot read: {e}");
                continue;
            }
        };
        inb.ingest(&raw, "maildir").await?;
        let name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let target = dir.join("cur").join(if name.contains(":2,") {
            name
        } else {
            format!("{name}:2,S")
        });
        match std::fs::rename(&path, &target) {
            Ok(()) => n += 1,
            // Moved by another daemon meanwhile; the spool's dedup kept it to one.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}
