//! The SMTP transport against a real server (support/smtpd.py, aiosmtpd): a pool that delivers
//! each message once with its bytes intact, greylisting, rejections and 421 classified, a server
//! that is down, slow or restarted.
//!
//! Ignored by default so that `cargo test` passes on a fresh clone; run with
//! `cargo test --test it -- --ignored smtp_transport`. Without python3 and aiosmtpd they fail
//! loudly rather than skip.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::support::{free_port, Smtpd};
use lettre::address::Envelope;
use netzpost::transport::{SendError, TlsMode, Transport, TransportConfig};

/// The transport to `server`, without TLS.
fn config(server: &Smtpd, pool_size: usize, timeout: Duration) -> TransportConfig {
    TransportConfig::Smtp {
        host: "127.0.0.1".into(),
        port: server.port,
        tls: TlsMode::None,
        username: None,
        password: None,
        pool_size,
        timeout,
        hello_name: Some("client.test".into()),
    }
}

fn envelope(to: &[&str]) -> Envelope {
    Envelope::new(
        Some("bounce+t0k3n@sender.example".parse().unwrap()),
        to.iter().map(|a| a.parse().unwrap()).collect(),
    )
    .unwrap()
}

fn message(i: usize) -> Vec<u8> {
    // Lines starting with a dot exercise dot-stuffing; 8-bit text needs 8BITMIME.
    let mut m = format!(
        "From: Netzwerk <news@sender.example>\r\nTo: <r{i}@example.net>\r\n\
         Message-ID: <{i}.delivery@sender.example>\r\nSubject: Einladung {i}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n\
         Grüße an Nr. {i}\r\n.\r\n..two dots\r\n.one dot\r\n"
    )
    .into_bytes();
    m.extend(std::iter::repeat_n(b'x', i % 97));
    m.extend_from_slice(b"\r\n");
    m
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
async fn pool_delivers_200_messages_exactly_once_with_intact_bytes() {
    let server = Smtpd::start(&[]);
    let transport = Transport::connect(&config(&server, 4, Duration::from_secs(10)))
        .await
        .unwrap();
    let sends = (0..200).map(|i| {
        let transport = transport.clone();
        async move {
            let to = format!("r{i}@example.net");
            transport.send(&envelope(&[&to]), &message(i)).await
        }
    });
    for result in futures::future::join_all(sends).await {
        result.unwrap();
    }
    transport.close().await;

    let got: HashSet<Vec<u8>> = server.raw_messages().into_iter().collect();
    let sent: HashSet<Vec<u8>> = (0..200).map(message).collect();
    assert_eq!(
        server.raw_messages().len(),
        200,
        "each message exactly once"
    );
    assert!(got == sent, "received bytes differ from the sent ones");

    let log = server.lines("log.tsv");
    assert_eq!(log.len(), 200);
    let ids: HashSet<&str> = log.iter().map(|l| l.split('\t').nth(1).unwrap()).collect();
    assert_eq!(ids.len(), 200, "no message-id twice");
    let conns = server.lines("connections.log").len();
    assert!((1..=4).contains(&conns), "{conns} sessions for a pool of 4");
}

/// Both ways of sending the envelope: pipelined (as to Postfix) and one
/// command at a time.
const MODES: [&[&str]; 2] = [&[], &["--no-pipelining"]];

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
async fn greylisting_is_temporary_451_then_succeeds_on_the_same_session() {
    for mode in MODES {
        let server = Smtpd::start(&[&["--greylist", "1"], mode].concat());
        let transport = Transport::connect(&config(&server, 1, Duration::from_secs(10)))
            .await
            .unwrap();
        let env = envelope(&["grey@example.net"]);
        let err = transport.send(&env, &message(1)).await.unwrap_err();
        match &err {
            SendError::Temporary {
                code: Some(451),
                message,
            } => {
                assert!(message.contains("451"), "{message}");
                assert!(message.contains("Greylisted"), "{message}");
                assert!(message.contains("RCPT TO:<grey@example.net>"), "{message}");
                assert!(
                    message.contains(&format!("127.0.0.1:{}", server.port)),
                    "{message}"
                );
            }
            other => panic!("{mode:?}: expected Temporary 451, got {other:?}"),
        }
        transport.send(&env, &message(1)).await.unwrap();
        assert_eq!(server.raw_messages(), vec![message(1)]);
        // The rejection was reset with RSET, not by reconnecting.
        assert_eq!(server.lines("connections.log").len(), 1, "{mode:?}");
    }
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
async fn rejected_recipient_is_permanent_550_with_the_server_text() {
    for mode in MODES {
        let server = Smtpd::start(&[&["--fail", "bad@example.net=550"], mode].concat());
        let transport = Transport::connect(&config(&server, 1, Duration::from_secs(10)))
            .await
            .unwrap();
        let err = transport
            .send(&envelope(&["bad@example.net"]), &message(1))
            .await
            .unwrap_err();
        assert!(err.is_permanent(), "{mode:?}: {err:?}");
        assert_eq!(err.code(), Some(550));
        assert!(err.message().contains("5.1.1 Mailbox unavailable"), "{err}");
        assert!(err.message().contains("bad@example.net"), "{err}");
        assert!(err.to_string().contains("550"), "{err}");

        transport
            .send(&envelope(&["ok@example.net"]), &message(2))
            .await
            .unwrap();
        assert_eq!(server.raw_messages(), vec![message(2)]);
        assert_eq!(server.lines("connections.log").len(), 1, "{mode:?}");

        // One bad recipient fails the whole message: nobody gets it (when
        // pipelined, the session is dropped in DATA mode to make sure).
        let err = transport
            .send(
                &envelope(&["ok@example.net", "bad@example.net"]),
                &message(3),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(550), "{mode:?}");
        assert!(err.message().contains("bad@example.net"), "{err}");
        transport
            .send(&envelope(&["ok@example.net"]), &message(4))
            .await
            .unwrap();
        let got: HashSet<Vec<u8>> = server.raw_messages().into_iter().collect();
        assert_eq!(got, HashSet::from([message(2), message(4)]), "{mode:?}");
    }
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
async fn reply_421_closes_the_session_and_the_next_send_reconnects() {
    for mode in MODES {
        reply_421(mode).await;
    }
}

async fn reply_421(mode: &[&str]) {
    let server = Smtpd::start(&[&["--fail-all", "421"], mode].concat());
    let transport = Transport::connect(&config(&server, 1, Duration::from_secs(10)))
        .await
        .unwrap();
    for _ in 0..2 {
        let err = transport
            .send(&envelope(&["a@example.net"]), &message(1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                SendError::Temporary {
                    code: Some(421),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.message().contains("4.3.2"), "{err}");
    }
    // Start-up session (closed by the 421) + one fresh session for the retry.
    assert_eq!(server.lines("connections.log").len(), 2);
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
async fn fail_all_451_and_550_are_classified() {
    for (code, permanent) in [(451, false), (550, true)] {
        let server = Smtpd::start(&["--fail-all", &code.to_string()]);
        let transport = Transport::connect(&config(&server, 2, Duration::from_secs(10)))
            .await
            .unwrap();
        let err = transport
            .send(&envelope(&["a@example.net"]), &message(1))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(code));
        assert_eq!(err.is_permanent(), permanent, "{err:?}");
    }
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
async fn server_down_is_a_connect_error_naming_host_and_port() {
    // A port that was just free: nothing listens there.
    let port = free_port();
    let mut cfg = TransportConfig::smtp("127.0.0.1", port);
    if let TransportConfig::Smtp { tls, timeout, .. } = &mut cfg {
        *tls = TlsMode::None;
        *timeout = Duration::from_secs(2);
    }
    let err = Transport::connect(&cfg).await.unwrap_err();
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
async fn configuration_errors_name_host_and_port() {
    let server = Smtpd::start(&[]);
    let addr = format!("127.0.0.1:{}", server.port);

    let mut cfg = config(&server, 1, Duration::from_secs(5));
    if let TransportConfig::Smtp { username, .. } = &mut cfg {
        *username = Some("user".into());
    }
    let err = Transport::connect(&cfg).await.unwrap_err();
    assert!(err.to_string().contains(&addr), "{err}");
    assert!(err.to_string().contains("password"), "{err}");

    // STARTTLS required but not offered: refuse rather than send in clear.
    let mut cfg = config(&server, 1, Duration::from_secs(5));
    if let TransportConfig::Smtp { tls, .. } = &mut cfg {
        *tls = TlsMode::StartTls;
    }
    let err = Transport::connect(&cfg).await.unwrap_err();
    assert!(err.to_string().contains(&addr), "{err}");
    assert!(err.to_string().contains("STARTTLS"), "{err}");
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
async fn slow_server_gives_temporary_within_bounded_time() {
    let server = Smtpd::start(&["--slow", "5"]);
    let timeout = Duration::from_millis(500);
    let transport = Transport::connect(&config(&server, 1, timeout))
        .await
        .unwrap();
    let start = Instant::now();
    let err = transport
        .send(&envelope(&["a@example.net"]), &message(1))
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(err, SendError::Temporary { code: None, .. }),
        "{err:?}"
    );
    assert!(
        took >= timeout && took < Duration::from_secs(2),
        "took {took:?}"
    );
    assert!(err.message().contains("no answer"), "{err}");
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
async fn send_after_close_is_temporary() {
    let server = Smtpd::start(&[]);
    let transport = Transport::connect(&config(&server, 2, Duration::from_secs(5)))
        .await
        .unwrap();
    transport.close().await;
    let err = transport
        .send(&envelope(&["a@example.net"]), &message(1))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Temporary { .. }), "{err:?}");
    assert!(err.message().contains("closed"), "{err}");
}

#[test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
fn smtpd_stops_on_sigterm() {
    let mut server = Smtpd::start(&[]);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
async fn idle_session_lost_to_a_server_restart_is_replaced_transparently() {
    let mut first = Smtpd::start(&[]);
    let port = first.port;
    let transport = Transport::connect(&config(&first, 1, Duration::from_secs(5)))
        .await
        .unwrap();
    // The start-up session now sits idle in the pool; the server goes away.
    assert!(first.terminate().success());
    let second = Smtpd::start_on(port, &[]);
    transport
        .send(&envelope(&["a@example.net"]), &message(1))
        .await
        .unwrap();
    assert_eq!(second.raw_messages(), vec![message(1)]);
}
