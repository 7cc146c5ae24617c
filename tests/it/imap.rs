//! The IMAP inbound source against a real Dovecot.
//!
//! Each test starts its own Dovecot (as root, from `/usr/sbin/dovecot`) in a fresh temporary
//! directory on a free port, delivers messages by dropping files into the user's maildir `new/`
//! (as an MDA would), and checks the outcome over an independent IMAP connection. The tests are
//! ignored by default; `cargo test -- --ignored` runs them and fails loudly when Dovecot is
//! missing. Install: `apt-get install -y dovecot-imapd` (the tests start it themselves).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::dovecot::{Dovecot, PASSWORD, USER};
use crate::support::{angle_addr, free_port, Person, Workspace};
use netzpost::imap::{poll_once, run, ImapConfig, ImapError};
use netzpost::transport::TlsMode;

/// `netzpost/verarbeitet` under Dovecot's default maildir delimiter `.`.
const PROCESSED: &str = "netzpost.verarbeitet";

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
    // `Running` spawns it on the runtime, as the daemon does: `tokio::spawn` proves it is Send.
    let mut running = Running::start(cfg);
    let first = running
        .next_within(20, &dovecot, "the waiting message")
        .await;
    assert!(first == message(1));

    // Now `run` sits in IDLE; deliver after it started.
    tokio::time::sleep(Duration::from_millis(500)).await;
    dovecot.deliver(&message(2));
    let second = running.next_within(20, &dovecot, "new mail").await;
    assert!(second == message(2));
    running.stop().await;
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
    cfg.tls = TlsMode::StartTls;
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

/// End to end through IMAP: an invitation goes out through the file transport,
/// the reply arrives in a real Dovecot mailbox, `netzpost inbound process` reads it over IMAP,
/// the contact is raised, and the message is moved to the processed folder.
#[tokio::test]
#[ignore = "needs Dovecot: apt-get install dovecot-imapd (run by .ci/run)"]
async fn invitation_reply_through_imap_raises_the_contact() {
    let dovecot = Dovecot::start();
    let mut ws = Workspace::new();
    ws.set("NETZPOST_INBOUND__IMAP__HOST", "127.0.0.1")
        .set("NETZPOST_INBOUND__IMAP__PORT", dovecot.port)
        .set("NETZPOST_INBOUND__IMAP__TLS", "none")
        .set("NETZPOST_INBOUND__IMAP__USERNAME", USER)
        .set("NETZPOST_INBOUND__IMAP__PASSWORD", PASSWORD)
        .set("NETZPOST_INBOUND__IMAP__IDLE", "false");
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.import_ok(
        &[Person::new("anna@nachbarn.example", "Anna", "de")],
        "nachbarschaft",
        "confirmed",
    );
    ws.send_cafe_invitation();
    let sent = ws.outbox_messages();
    let reply_to = angle_addr(sent[0].header("Reply-To"));
    dovecot.deliver(
        format!(
            "From: Anna <anna@nachbarn.example>\r\nTo: {reply_to}\r\nSubject: Re: Einladung\r\n\
             Message-ID: <imap-e2e@nachbarn.example>\r\n\r\nJa, ich komme!\r\n"
        )
        .as_bytes(),
    );
    let out = ws.ok(&["inbound", "process"]);
    assert!(out.contains("1 messages taken from IMAP"), "{out}");
    let anna = ws.ok(&["contacts", "show", "anna@nachbarn.example"]);
    assert!(
        anna.contains("encounter    confirmed") && anna.contains("imap-e2e@nachbarn.example"),
        "{anna}"
    );
    assert!(dovecot.contents("INBOX").await.is_empty());
    assert_eq!(dovecot.contents(PROCESSED).await.len(), 1);
}
