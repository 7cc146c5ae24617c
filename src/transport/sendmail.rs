//! Local `sendmail`-compatible binary (Postfix, exim, msmtp ...).
//!
//! Called as `command -i -f <from> -- <to>...` with the message on stdin,
//! unchanged (CRLF line endings; the common implementations accept them).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use lettre::address::Envelope;
use tokio::{io::AsyncWriteExt, process::Command};

use super::{SendError, TransportError};

/// A local sendmail that takes longer than this is stuck; better to retry.
const TIMEOUT: Duration = Duration::from_secs(300);

pub(crate) struct SendmailTransport {
    command: PathBuf,
}

impl SendmailTransport {
    pub(crate) fn new(command: &Path) -> Result<SendmailTransport, TransportError> {
        if find_executable(command).is_none() {
            return Err(TransportError::Config(format!(
                "sendmail command {} not found",
                command.display()
            )));
        }
        Ok(SendmailTransport {
            command: command.to_owned(),
        })
    }

    pub(crate) async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        let cmd = self.command.display();
        let mut child = Command::new(&self.command)
            .arg("-i")
            .arg("-f")
            // An empty argument is the null sender (bounces).
            .arg(envelope.from().map(|a| a.to_string()).unwrap_or_default())
            .arg("--")
            .args(envelope.to().iter().map(|a| a.to_string()))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SendError::temporary(format!("cannot start {cmd}: {e}")))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // Feed stdin while collecting stderr, so a chatty child cannot block us.
        let write = async move {
            let r = stdin.write_all(message).await;
            drop(stdin);
            r
        };
        let run = async { tokio::join!(write, child.wait_with_output()) };
        let (written, output) = tokio::time::timeout(TIMEOUT, run).await.map_err(|_| {
            SendError::temporary(format!("{cmd} did not finish within {TIMEOUT:?}"))
        })?;
        let output = output.map_err(|e| SendError::temporary(format!("{cmd}: {e}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(SendError::temporary(format!(
                "{cmd} exited with {}: {}",
                output.status,
                stderr.trim()
            )));
        }
        written.map_err(|e| SendError::temporary(format!("{cmd}: writing the message: {e}")))
    }
}

fn find_executable(command: &Path) -> Option<PathBuf> {
    if command.components().count() > 1 {
        return command.is_file().then(|| command.to_owned());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(command))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::super::{SendError, Transport, TransportConfig};
    use lettre::address::Envelope;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
        let path = dir.join("fake-sendmail");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn passes_arguments_and_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let command = script(
            tmp.path(),
            &format!(
                "printf '%s\\n' \"$@\" > {0}.args; cat > {0}.msg",
                out.display()
            ),
        );
        let t = Transport::connect(&TransportConfig::Sendmail { command })
            .await
            .unwrap();
        let env = Envelope::new(
            Some("b@example.org".parse().unwrap()),
            vec![
                "x@example.net".parse().unwrap(),
                "y@example.net".parse().unwrap(),
            ],
        )
        .unwrap();
        t.send(&env, b"Subject: s\r\n\r\nbody\r\n").await.unwrap();
        let args = std::fs::read_to_string(tmp.path().join("out.args")).unwrap();
        assert_eq!(
            args,
            "-i\n-f\nb@example.org\n--\nx@example.net\ny@example.net\n"
        );
        assert_eq!(
            std::fs::read(tmp.path().join("out.msg")).unwrap(),
            b"Subject: s\r\n\r\nbody\r\n"
        );
    }

    #[tokio::test]
    async fn nonzero_exit_is_temporary_with_stderr() {
        let tmp = tempfile::tempdir().unwrap();
        let command = script(tmp.path(), "cat >/dev/null; echo 'queue full' >&2; exit 75");
        let t = Transport::connect(&TransportConfig::Sendmail { command })
            .await
            .unwrap();
        let env = Envelope::new(None, vec!["x@example.net".parse().unwrap()]).unwrap();
        let err = t.send(&env, b"x\r\n").await.unwrap_err();
        assert!(
            matches!(err, SendError::Temporary { code: None, .. }),
            "{err:?}"
        );
        assert!(err.message().contains("queue full"), "{err}");
    }

    #[tokio::test]
    async fn missing_command_is_a_connect_error() {
        let err = Transport::connect(&TransportConfig::Sendmail {
            command: "/nonexistent/sendmail".into(),
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/sendmail"), "{err}");
    }
}
