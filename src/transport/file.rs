//! Outbox directory: one file per message, for development and tests.
//!
//! Each message is stored byte for byte as `<unix-nanos>-<counter>.eml`; the
//! envelope, which the message bytes do not carry (the bounce address differs
//! from `From:`), goes to `<unix-nanos>-<counter>.envelope.json` beside it,
//! as `{"from": "..." | null, "to": ["..."]}`. The sidecar is written first
//! and both are renamed into place from dot-prefixed temporary files, so a
//! reader that sees an `.eml` sees it complete with its envelope. No fsync:
//! this transport is not meant for production delivery.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use lettre::address::Envelope;

use super::{SendError, TransportError};

/// Process-wide, so that two transports on one directory never collide.
static COUNTER: AtomicU64 = AtomicU64::new(0);

pub(crate) struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    pub(crate) async fn new(dir: &Path) -> Result<FileTransport, TransportError> {
        tokio::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .await
            .map_err(|error| TransportError::Io {
                path: dir.to_owned(),
                error,
            })?;
        tracing::info!(dir = %dir.display(), "file transport ready");
        Ok(FileTransport {
            dir: dir.to_owned(),
        })
    }

    pub(crate) async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let stem = format!("{nanos}-{}", COUNTER.fetch_add(1, Ordering::Relaxed));
        let sidecar = serde_json::json!({
            "from": envelope.from().map(|a| a.to_string()),
            "to": envelope.to().iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        })
        .to_string();
        let dir = self.dir.clone();
        let message = message.to_vec();
        // One blocking task for all four file operations.
        tokio::task::spawn_blocking(move || {
            write_atomic(&dir, &format!("{stem}.envelope.json"), sidecar.as_bytes())?;
            write_atomic(&dir, &format!("{stem}.eml"), &message)
        })
        .await
        .map_err(|e| SendError::temporary(format!("file transport task failed: {e}")))?
        .map_err(|e| SendError::temporary(format!("{}: {e}", self.dir.display())))
    }
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = dir.join(format!(".{name}.tmp"));
    // The messages carry the contacts' addresses and their tokens: owner only, whatever the umask.
    // A temporary file left by a crash is replaced, not reused with its mode.
    let _ = fs::remove_file(&tmp);
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?
        .write_all(bytes)?;
    fs::rename(&tmp, dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::super::{Transport, TransportConfig};
    use lettre::address::Envelope;

    fn envelope() -> Envelope {
        Envelope::new(
            Some("bounce+tok@example.org".parse().unwrap()),
            vec![
                "a@example.net".parse().unwrap(),
                "b@example.net".parse().unwrap(),
            ],
        )
        .unwrap()
    }

    fn files(dir: &std::path::Path, suffix: &str) -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn creates_dir_and_writes_exact_bytes_with_envelope_sidecar() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("var/outbox");
        let t = Transport::connect(&TransportConfig::File { dir: dir.clone() })
            .await
            .unwrap();
        let msg = b"Subject: hi\r\n\r\n.leading dot\r\n\xc3\xa4 bytes stay as they are\r\n";
        t.send(&envelope(), msg).await.unwrap();

        let emls = files(&dir, ".eml");
        assert_eq!(emls.len(), 1);
        assert_eq!(std::fs::read(&emls[0]).unwrap(), msg);
        let name = emls[0].file_name().unwrap().to_str().unwrap();
        let (nanos, counter) = name.trim_end_matches(".eml").split_once('-').unwrap();
        nanos.parse::<u128>().unwrap();
        counter.parse::<u64>().unwrap();

        let sidecar = emls[0].with_extension("envelope.json");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(sidecar).unwrap()).unwrap();
        assert_eq!(json["from"], "bounce+tok@example.org");
        assert_eq!(
            json["to"],
            serde_json::json!(["a@example.net", "b@example.net"])
        );
        // No temporary files left behind.
        assert!(files(&dir, ".tmp").is_empty());
    }

    #[tokio::test]
    async fn null_sender_and_many_messages_get_distinct_names() {
        let tmp = tempfile::tempdir().unwrap();
        let t = Transport::connect(&TransportConfig::File {
            dir: tmp.path().to_owned(),
        })
        .await
        .unwrap();
        let env = Envelope::new(None, vec!["x@example.net".parse().unwrap()]).unwrap();
        let sends = (0..50).map(|i| {
            let t = t.clone();
            let env = env.clone();
            async move { t.send(&env, format!("n: {i}\r\n").as_bytes()).await }
        });
        for r in futures::future::join_all(sends).await {
            r.unwrap();
        }
        assert_eq!(files(tmp.path(), ".eml").len(), 50);
        let json: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&files(tmp.path(), ".envelope.json")[0]).unwrap(),
        )
        .unwrap();
        assert!(json["from"].is_null());
    }

    #[tokio::test]
    async fn unwritable_dir_is_a_connect_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plain-file");
        std::fs::write(&file, b"").unwrap();
        let err = Transport::connect(&TransportConfig::File {
            dir: file.join("sub"),
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("plain-file"), "{err}");
    }
}
