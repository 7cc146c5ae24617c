//! A private, real Dovecot (dovecot-imapd) for the tests: started as root from
//! `/usr/sbin/dovecot` in a fresh temporary directory on a free port, with one user (`USER`,
//! `PASSWORD`) and a maildir; stopped on drop. Panics loudly when Dovecot is missing.

use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_imap::types::Flag;
use futures::TryStreamExt;
use netzpost::imap::ImapConfig;
use netzpost::transport::TlsMode;

use super::free_port;

pub const DOVECOT: &str = "/usr/sbin/dovecot";
pub const NEEDS: &str = "needs Dovecot: apt-get install dovecot-imapd (run by .ci/run)";
pub const USER: &str = "netzpost";
pub const PASSWORD: &str = "geheim-Test-42";
/// Mail processes run as nobody:nogroup: Dovecot refuses mail access as root.
pub const MAIL_UID: u32 = 65534;
pub const MAIL_GID: u32 = 65534;

/// A private Dovecot; stopped on drop, also when the test panics.
pub struct Dovecot {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Dovecot {
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// `extra` is appended to the configuration.
    pub fn start_with(extra: &str) -> Self {
        assert!(
            Path::new(DOVECOT).exists(),
            "{DOVECOT} is missing: this test {NEEDS}"
        );
        let dir = tempfile::Builder::new()
            .prefix("netzpost-dovecot-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path();
        // The mail process (nobody) must pass through the temp dir to its maildir.
        fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["run", "state", "mail"] {
            fs::create_dir(root.join(sub)).unwrap();
        }
        std::os::unix::fs::chown(root.join("mail"), Some(MAIL_UID), Some(MAIL_GID)).unwrap();
        let port = free_port();
        let r = root.display();
        fs::write(
            root.join("passwd"),
            format!("{USER}:{{PLAIN}}{PASSWORD}:{MAIL_UID}:{MAIL_GID}::{r}/mail/{USER}::\n"),
        )
        .unwrap();
        let conf = root.join("dovecot.conf");
        fs::write(
            &conf,
            format!(
                r#"base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
instance_name = netzpost-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{r}/mail/%u
namespace inbox {{
  inbox = yes
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {r}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
{extra}
"#
            ),
        )
        .unwrap();
        let mut dovecot = Dovecot {
            dir,
            conf,
            port,
            child: None,
        };
        dovecot.spawn();
        dovecot
    }

    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                panic!("dovecot exited with {status}:\n{}", self.logs());
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "dovecot did not answer on port {} within 15 s:\n{}",
            self.port,
            self.logs()
        );
    }

    /// Stops Dovecot; `dovecot stop` ends the master and all its children, a plain kill would
    /// orphan them.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Kicked first: a logged-in imap process would otherwise linger for seconds after its
        // master is gone (and keep serving its connection).
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .args(["kick", USER])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = Command::new(DOVECOT)
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts Dovecot (again) with the written configuration and waits for the port.
    pub fn spawn(&mut self) {
        let stderr = fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("stderr.log"))
            .unwrap();
        let child = Command::new(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {DOVECOT}: {e}; this test {NEEDS}"));
        self.child = Some(child);
        self.wait_ready();
    }

    pub fn logs(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("dovecot.log"), read("stderr.log"))
    }

    pub fn config(&self) -> ImapConfig {
        ImapConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: TlsMode::None,
            username: USER.into(),
            password: PASSWORD.into(),
            mailbox: "INBOX".into(),
            processed_folder: "netzpost/verarbeitet".into(),
            idle: true,
            poll_secs: 1,
            max_message_bytes: netzpost::config::DEFAULT_MAX_MESSAGE_BYTES,
        }
    }

    /// Delivers like an MDA: write into tmp/, rename into new/ (Dovecot notices via inotify).
    pub fn deliver(&self, raw: &[u8]) {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let maildir = self.dir.path().join("mail").join(USER);
        for sub in ["", "cur", "new", "tmp"] {
            let d = maildir.join(sub);
            if !d.exists() {
                fs::create_dir(&d).unwrap();
                std::os::unix::fs::chown(&d, Some(MAIL_UID), Some(MAIL_GID)).unwrap();
            }
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        // Dovecot orders new files by the time in their names: seconds, then microseconds.
        let name = format!(
            "{}.M{}P{}Q{}.netzpost-test",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let tmp = maildir.join("tmp").join(&name);
        fs::write(&tmp, raw).unwrap();
        // Owned by the mail user, or Dovecot could not hard-link it into another folder.
        std::os::unix::fs::chown(&tmp, Some(MAIL_UID), Some(MAIL_GID)).unwrap();
        fs::rename(&tmp, maildir.join("new").join(&name)).unwrap();
        // Distinct timestamps keep the delivery order unambiguous.
        std::thread::sleep(Duration::from_millis(2));
    }

    /// Messages in `folder` (server spelling) in UID order, with whether they carry \Seen, read
    /// over a separate connection with EXAMINE so nothing changes.
    pub async fn contents(&self, folder: &str) -> Vec<(Vec<u8>, bool)> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap().expect("greeting");
        let mut session = client
            .login(USER, PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .expect("login");
        let mailbox = session.examine(folder).await.unwrap_or_else(|e| {
            panic!("examine {folder}: {e}\n{}", self.logs());
        });
        let mut out = Vec::new();
        if mailbox.exists > 0 {
            let mut fetches: Vec<_> = session
                .uid_fetch("1:*", "(UID FLAGS BODY.PEEK[])")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            fetches.sort_by_key(|f| f.uid);
            for f in &fetches {
                let seen = f.flags().any(|fl| fl == Flag::Seen);
                out.push((f.body().expect("body").to_vec(), seen));
            }
        }
        session.logout().await.ok();
        out
    }
}

impl Dovecot {
    pub async fn wait_inbox_empty(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.contents("INBOX").await.is_empty() {
            assert!(Instant::now() < deadline, "INBOX not emptied within 20 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}
