//! The IMAP inbound source against a real Dovecot.
//!
//! Each test starts its own Dovecot (as root, from `/usr/sbin/dovecot`) in a fresh temporary
//! directory on a free port, delivers messages by dropping files into the user's maildir `new/`
//! (as an MDA would), and checks the outcome over an independent IMAP connection. The tests are
//! ignored by default; `cargo test -- --ignored` runs them and fails loudly when Dovecot is
//! missing. Install: `apt-get install -y dovecot-imapd` (the tests start it themselves).

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_imap::types::Flag;
use futures::TryStreamExt;
use netzpost::imap::{poll_once, run, ImapConfig, ImapError, ImapTls};

const DOVECOT: &str = "/usr/sbin/dovecot";
const NEEDS: &str = "needs Dovecot: apt-get install dovecot-imapd (run by .ci/run)";
const USER: &str = "netzpost";
const PASSWORD: &str = "geheim-Test-42";
/// Mail processes run as nobody:nogroup: Dovecot refuses mail access as root.
const MAIL_UID: u32 = 65534;
const MAIL_GID: u32 = 65534;
/// `netzpost/verarbeitet` under Dovecot's default maildir delimiter `.`.
const PROCESSED: &str = "netzpost.verarbeitet";

/// A private Dovecot; stopped on drop, also when the test panics.
struct Dovecot {
    dir: tempfile::TempDir,
    conf: PathBuf,
    port: u16,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

impl Dovecot {
    fn start() -> Self {
        Self::start_with("")
    }

    /// `extra` is appended to the configuration.
    fn start_with(extra: &str) -> Self {
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

    fn wait_ready(&mut self) {
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
    fn stop(&mut self) {
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
    fn spawn(&mut self) {
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

    fn logs(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("dovecot.log"), read("stderr.log"))
    }

    fn config(&self) -> ImapConfig {
        ImapConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: ImapTls::None,
            username: USER.into(),
            password: PASSWORD.into(),
            mailbox: "INBOX".into(),
            processed_folder: "netzpost/verarbeitet".into(),
            idle: true,
            poll_secs: 1,
        }
    }

    /// Delivers like an MDA: write into tmp/, rename into new/ (Dovecot notices via inotify).
    fn deliver(&self, raw: &[u8]) {
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
    async fn contents(&self, folder: &str) -> Vec<(Vec<u8>, bool)> {
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
    async fn wait_inbox_empty(&self) {
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

/// A small message with CRLF line ends (IMAP's canonical form, so the bytes come back unchanged).
fn message(n: usize) -> Vec<u8> {
    format!(
        "From: Kontakt {n} <kontakt{n}@example.org>\r\n\
         To: antwort+tok{n}@netzpost.example\r\n\
         Subject: Re: Einladung Nr. {n}\r\n\
         Message-ID: <reply-{n}@example.org>\r\n\
         Date: Mon, 3 Mar 2025 10:0{n}:00 +0100\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         Ich komme gern, Nachricht {n}. Grüße\r\n"
    )
    .into_bytes()
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

#[tokio::test]
#[ignore = "needs Dovecot: apt-get install dovecot-imapd (run by .ci/run)"]
async fn three_messages_are_handled_in_order_and_moved() {
    init_tracing();
    let dovecot = Dovecot::start();
    let sent: Vec<Vec<u8>> = (1..=3).map(message).collect();
    for m in &sent {
        dovecot.deliver(m);
    }

    let mut got = Vec::new();
    let n = poll_once(&dovecot.config(), |raw| {
        got.push(raw);
        async { Ok(()) }
    })
    .await
    .unwrap_or_else(|e| panic!("poll_once: {e}\n{}", dovecot.logs()));

    assert_eq!(n, 3);
    assert!(got == sent, "handler got other bytes or another order");
    assert!(
        dovecot.contents("INBOX").await.is_empty(),
        "INBOX not empty"
    );
    let processed = dovecot.contents(PROCESSED).await;
    let bodies: Vec<_> = processed.iter().map(|(b, _)| b.clone()).collect();
    assert!(bodies == sent, "processed folder differs");
    // BODY.PEEK: fetching did not mark them read.
    assert!(processed.iter().all(|(_, seen)| !seen), "\\Seen was set");

    // Nothing left: a second pass handles nothing.
    let n = poll_once(&dovecot.config(), |_| async {
        anyhow::bail!("nothing expected")
    })
    .await
    .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
#[ignore = "needs Dovecot: apt-get install dovecot-imapd (run by .ci/run)"]
async fn a_failed_message_stays_and_is_retried() {
    init_tracing();
    let dovecot = Dovecot::start();
    let sent: Vec<Vec<u8>> = (1..=3).map(message).collect();
    for m in &sent {
        dovecot.deliver(m);
    }
    let failing = sent[1].clone();

    let n = poll_once(&dovecot.config(), |raw| {
        let fail = raw == failing;
        async move {
            if fail {
                anyhow::bail!("store unavailable")
            }
            Ok(())
        }
    })
    .await
    .unwrap();
    assert_eq!(n, 2);
    let inbox = dovecot.contents("INBOX").await;
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].0 == failing, "the wrong message stayed");
    let processed: Vec<_> = dovecot
        .contents(PROCESSED)
        .await
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    assert!(processed == vec![sent[0].clone(), sent[2].clone()]);

    let mut retried = Vec::new();
    let n = poll_once(&dovecot.config(), |raw| {
        retried.push(raw);
        async { Ok(()) }
    })
    .await
    .unwrap();
    assert_eq!(n, 1);
    assert!(
        retried == vec![failing],
        "the retry did not get the same bytes"
    );
    assert!(dovecot.contents("INBOX").await.is_empty());
    assert_eq!(dovecot.contents(PROCESSED).await.len(), 3);
}

#[tokio::test]
#[ignore = "needs Dovecot: apt-get install dovecot-imapd (run by .ci/run)"]
async fn wrong_password_and_closed_port_give_precise_errors() {
    init_tracing();
    let dovecot = Dovecot::start();
    dovecot.deliver(&message(1));

    let mut cfg = dovecot.config();
    cfg.password = "falsch-Passwort-99".into();
    let err = poll_once(&cfg, |_| async { Ok(()) })
        .await
        .expect_err("wrong password must fail");
    match &err {
        ImapError::Auth { user, .. } => assert_eq!(user, USER),
        other => panic!("expected ImapError::Auth, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(USER), "{text}");
    assert!(!text.contains("falsch-Passwort-99"), "{text}");
    assert_eq!(dovecot.contents("INBOX").await.len(), 1, "nothing moved");

    let mut cfg = dovecot.config();
    cfg.port = free_port(); // nobody listens there
    let err = poll_once(&cfg, |_| async { Ok(()) })
        .await
        .expect_err("closed port must fail");
    match &err {
        ImapError::Connect { host, port, .. } => {
            assert_eq!(host, "127.0.0.1");
            assert_eq!(*port, cfg.port);
        }
        other => panic!("expected ImapError::Connect, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{}", cfg.port)), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
}

fn assert_send<T: Send>(_: &T) {}

// Multi-threaded: the test thread blocks (deliver, stop) while `run` must keep going.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Dovecot: apt-get install dovecot-imapd (run by .ci/run)"]
async fn run_with_idle_picks_up_new_mail_and_stops() {
    init_tracing();
    let dovecot = Dovecot::start();
    dovecot.deliver(&message(1));

    let mut cfg = dovecot.config();
    cfg.idle = true;
    // Polling alone would take an hour: only IDLE can bring the second message in time.
    cfg.poll_secs = 3600;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let runner = run(
        cfg,
        move |raw| {
            let tx = tx.clone();
            async move {
                tx.send(raw)?;
                Ok(())
            }
        },
        async {
            let _ = stop_rx.await;
        },
    );
    // The daemon spawns it on the runtime.
    assert_send(&runner);
    let runner = tokio::spawn(runner);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let first = tokio::time::timeout_at(deadline, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("the waiting message did not arrive\n{}", dovecot.logs()))
        .unwrap();
    assert!(first == message(1));

    // Now `run` sits in IDLE; deliver after it started.
    tokio::time::sleep(Duration::from_millis(500)).await;
    dovecot.deliver(&message(2));
    let second = tokio::time::timeout_at(
        tokio::time::Instant::now() + Duration::from_secs(20),
        rx.recv(),
    )
    .await
    .unwrap_or_else(|_| panic!("new mail not picked up within 20 s\n{}", dovecot.logs()))
    .unwrap();
    assert!(second == message(2));

    stop_tx.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), runner)
        .await
        .expect("run did not return after stop")
        .expect("run panicked");
    result.expect("run returned an error");
    assert!(dovecot.contents("INBOX").await.is_empty());
    assert_eq!(dovecot.contents(PROCESSED).await.len(), 2);
}

#[tokio::test]
#[ignore = "needs Dovecot: apt-get install dovecot-imapd (run by .ci/run)"]
async fn a_20_mb_message_passes_intact() {
    init_tracing();
    let dovecot = Dovecot::start();
    let mut raw = b"From: gross@example.org\r\nTo: antwort@netzpost.example\r\n\
Subject: Anhang\r\nMessage-ID: <big@example.org>\r\nMIME-Version: 1.0\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    // Varied 76-character base64 lines, so a shifted or dropped chunk would show.
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0usize;
    while raw.len() < 20 * 1024 * 1024 {
        for _ in 0..76 {
            raw.push(B64[(i * 7 + i / 64) % 64]);
            i += 1;
        }
        raw.extend_from_slice(b"\r\n");
    }
    dovecot.deliver(&raw);

    let started = Instant::now();
    let mut got = Vec::new();
    let n = poll_once(&dovecot.config(), |bytes| {
        got.push(bytes);
        async { Ok(()) }
    })
    .await
    .unwrap();
    eprintln!("20 MB message fetched and moved in {:?}", started.elapsed());
    assert_eq!(n, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].len(), raw.len());
    assert!(got[0] == raw, "the 20 MB message changed on the way");
    assert!(dovecot.contents("INBOX").await.is_empty());
}

#[tokio::test]
#[ignore = "needs Dovecot: apt-get install dovecot-imapd (run by .ci/run)"]
async fn without_move_copy_store_expunge_and_umlaut_folder() {
    init_tracing();
    // A server without MOVE: COPY + STORE \Deleted + UID EXPUNGE. And a folder name that needs
    // modified UTF-7.
    let dovecot = Dovecot::start_with("imap_capability = IMAP4rev1 IDLE UIDPLUS LITERAL+");
    let sent: Vec<Vec<u8>> = (1..=2).map(message).collect();
    for m in &sent {
        dovecot.deliver(m);
    }
    let mut cfg = dovecot.config();
    cfg.processed_folder = "netzpost/Rückläufer".into();
    let n = poll_once(&cfg, |_| async { Ok(()) }).await.unwrap();
    assert_eq!(n, 2);
    assert!(dovecot.contents("INBOX").await.is_empty(), "not expunged");
    let processed: Vec<_> = dovecot
        .contents("netzpost.R&APw-ckl&AOQ-ufer")
        .await
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    assert!(processed == sent);
}

/// `run` on its own task, its handler feeding a channel.
struct Running {
    rx: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), ImapError>>,
}

impl Running {
    fn start(cfg: ImapConfig) -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(
            cfg,
            move |raw| {
                let tx = tx.clone();
                async move {
                    tx.send(raw)?;
                    Ok(())
                }
            },
            async {
                let _ = stop_rx.await;
            },
        ));
        Running { rx, stop, task }
    }

    async fn next_within(&mut self, secs: u64, dovecot: &Dovecot, what: &str) -> Vec<u8> {
        tokio::time::timeout(Duration::from_secs(secs), self.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("{what}: nothing within {secs} s\n{}", dovecot.logs()))
            .expect("run ended early")
    }

    /// Resolves the stop future; `run` must return Ok soon after.
    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("run did not return after stop")
            .expect("run panicked")
            .expect("run returned an error");
    }
}

// Multi-threaded: the test thread blocks (deliver, stop) while `run` must keep going.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Dovecot: apt-get install dovecot-imapd (run by .ci/run)"]
async fn run_without_idle_polls() {
    init_tracing();
    let dovecot = Dovecot::start();
    let mut cfg = dovecot.config();
    cfg.idle = false;
    cfg.poll_secs = 1;
    let mut running = Running::start(cfg);
    tokio::time::sleep(Duration::from_millis(500)).await;
    dovecot.deliver(&message(1));
    let got = running.next_within(20, &dovecot, "polling").await;
    assert!(got == message(1));
    running.stop().await;
    assert_eq!(dovecot.contents(PROCESSED).await.len(), 1);
}

// Multi-threaded: the test thread blocks (deliver, stop) while `run` must keep going.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Dovecot: apt-get install dovecot-imapd (run by .ci/run)"]
async fn run_reconnects_after_the_server_restarts() {
    init_tracing();
    let mut dovecot = Dovecot::start();
    let mut running = Running::start(dovecot.config());
    dovecot.deliver(&message(1));
    let got = running
        .next_within(20, &dovecot, "before the restart")
        .await;
    assert!(got == message(1));

    // Let the move of message 1 finish, or the kick below could make it a (legitimate) duplicate.
    dovecot.wait_inbox_empty().await;
    // The IDLE connection dies with the server (kicked, then the server is down for 2 s):
    // `run` must come back on its own.
    dovecot.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    dovecot.spawn();
    dovecot.deliver(&message(2));
    let got = running.next_within(30, &dovecot, "after the restart").await;
    assert!(got == message(2));
    running.stop().await;
}

#[tokio::test]
#[ignore = "needs Dovecot: apt-get install dovecot-imapd (run by .ci/run)"]
async fn starttls_with_an_untrusted_certificate_is_refused() {
    init_tracing();
    // Generated before Dovecot starts; openssl comes with dovecot-core.
    let certs = tempfile::tempdir().unwrap();
    let (key, cert) = (certs.path().join("key.pem"), certs.path().join("cert.pem"));
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl (a dependency of dovecot-core) is missing");
    assert!(status.success(), "openssl req failed");
    let dovecot = Dovecot::start_with(&format!(
        "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
        cert.display(),
        key.display()
    ));
    dovecot.deliver(&message(1));
    let mut cfg = dovecot.config();
    cfg.tls = ImapTls::StartTls;
    let err = poll_once(&cfg, |_| async { Ok(()) })
        .await
        .expect_err("a self-signed certificate must not be trusted");
    let text = err.to_string();
    assert!(
        matches!(err, ImapError::Connect { .. }) && text.contains("TLS handshake failed"),
        "{text}"
    );
    assert!(
        text.contains(&format!("127.0.0.1:{}", dovecot.port)),
        "{text}"
    );
    assert_eq!(dovecot.contents("INBOX").await.len(), 1);
}

/// Issue 4's end-to-end path through IMAP: an invitation goes out through the file transport,
/// the reply arrives in a real Dovecot mailbox, `netzpost inbound process` reads it over IMAP,
/// the contact is raised, and the message is moved to the processed folder.
#[tokio::test]
#[ignore = "needs Dovecot: apt-get install dovecot-imapd (run by .ci/run)"]
async fn invitation_reply_through_imap_raises_the_contact() {
    let dovecot = Dovecot::start();
    let ws = tempfile::tempdir().unwrap();
    let d = ws.path();
    let np = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_netzpost"))
            .current_dir(d)
            .env_remove("NETZPOST_CONFIG")
            .env("NETZPOST_LOG", "warn")
            .env("NETZPOST_INBOUND__IMAP__HOST", "127.0.0.1")
            .env("NETZPOST_INBOUND__IMAP__PORT", dovecot.port.to_string())
            .env("NETZPOST_INBOUND__IMAP__TLS", "none")
            .env("NETZPOST_INBOUND__IMAP__USERNAME", USER)
            .env("NETZPOST_INBOUND__IMAP__PASSWORD", PASSWORD)
            .env("NETZPOST_INBOUND__IMAP__IDLE", "false")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    np(&["init"]);
    np(&["topics", "add", "nachbarschaft"]);
    fs::write(d.join("k.csv"), "email,name\nanna@nachbarn.example,Anna\n").unwrap();
    let _ = Command::new(env!("CARGO_BIN_EXE_netzpost"))
        .current_dir(d)
        .args([
            "contacts",
            "import",
            "k.csv",
            "--topic",
            "nachbarschaft",
            "--consent",
            "confirmed",
        ])
        .status();
    np(&[
        "occasions",
        "add",
        "cafe",
        "--title",
        "Café",
        "--start",
        "2030-05-12 15:00",
        "--topic",
        "nachbarschaft",
    ]);
    np(&[
        "campaigns",
        "create",
        "einladung",
        "--kind",
        "invitation",
        "--occasion",
        "cafe",
    ]);
    np(&["campaigns", "send", "einladung", "--wait"]);
    let sent = fs::read_dir(d.join("var/outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "eml"))
        .unwrap();
    let text = fs::read_to_string(sent).unwrap();
    let reply_to = text
        .lines()
        .find_map(|l| l.strip_prefix("Reply-To: "))
        .and_then(|v| v.rsplit('<').next())
        .unwrap()
        .trim_end_matches('>')
        .to_string();
    dovecot.deliver(
        format!(
            "From: Anna <anna@nachbarn.example>\r\nTo: {reply_to}\r\nSubject: Re: Einladung\r\n\
             Message-ID: <imap-e2e@nachbarn.example>\r\n\r\nJa, ich komme!\r\n"
        )
        .as_bytes(),
    );
    let out = np(&["inbound", "process"]);
    assert!(out.contains("1 messages taken from IMAP"), "{out}");
    let anna = np(&["contacts", "show", "anna@nachbarn.example"]);
    assert!(
        anna.contains("encounter    confirmed") && anna.contains("imap-e2e@nachbarn.example"),
        "{anna}"
    );
    assert!(dovecot.contents("INBOX").await.is_empty());
    assert_eq!(dovecot.contents(PROCESSED).await.len(), 1);
}
