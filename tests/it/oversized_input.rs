//! Input beyond the limits: a message over `inbound.max_message_bytes` is quarantined with the
//! reason, CSV fields are capped and NUL bytes refused per row (the encoding decided by
//! evidence), and a million References are cut to the last fifty.

use crate::support::mail::reply_from_anna;
use crate::support::{Person, Workspace};

/// A message over `inbound.max_message_bytes` (stdin, maildir) is quarantined with the
/// reason and only its first bytes are kept; smaller ones are processed as before.
#[test]
fn a_message_over_max_message_bytes_is_quarantined_with_the_reason() {
    let mut ws = Workspace::new();
    ws.set("NETZPOST_INBOUND__MAX_MESSAGE_BYTES", 20_000);
    let out = ws.run_with_input(
        &["inbound", "ingest", "-"],
        &reply_from_anna("gross1", "gross", 100_000),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ws.run_with_input(
        &["inbound", "ingest", "-"],
        &reply_from_anna("klein1", "klein", 1_000),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = ws.path().join("var/inbox/new/1700000000.gross2.host");
    std::fs::write(&file, reply_from_anna("gross2", "gross", 100_000)).unwrap();
    let out = ws.run_with_input(&["inbound", "process"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!file.exists(), "the quarantined file leaves new/");

    let rows = ws.sql(
        "SELECT dedup_key, status, COALESCE(error, ''), LENGTH(raw) FROM inbound_messages ORDER BY id",
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    for r in &rows {
        let big = r[0].contains("gross");
        if big {
            assert_eq!(r[1], "quarantined", "{r:?}");
            assert!(
                r[2].contains("inbound.max_message_bytes (20000 bytes)"),
                "{r:?}"
            );
            assert!(r[3].parse::<usize>().unwrap() <= 20_000, "{r:?}");
        } else {
            assert_eq!(r[1], "processed", "{r:?}");
        }
    }
    let out = ws.run_with_input(&["inbound", "quarantine"], b"");
    assert!(String::from_utf8_lossy(&out.stdout).contains("max_message_bytes"));
}

/// Through `contacts import`: a UTF-8 file with one stray Latin-1 byte
/// keeps its umlauts and rejects only that row; a 20 MB name and a NUL byte are rejected per row
/// with what and where; the good rows land and the exit status (2) says some did not.
#[test]
fn csv_import_caps_fields_rejects_nul_and_decides_the_encoding_by_evidence() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "basis"]);
    let mut data = "email;name;Organisation\n".as_bytes().to_vec();
    for i in 0..10 {
        data.extend_from_slice(format!("j{i}@example.de;Jürgen Öztürk;Bürgerhaus\n").as_bytes());
    }
    data.extend_from_slice(b"latin@example.de;M\xfcller;Verein\n");
    data.extend_from_slice(format!("huge@example.de;{};Verein\n", "x".repeat(20 << 20)).as_bytes());
    data.extend_from_slice(b"nul@example.de;An\x00na;Verein\n");
    let file = ws.path().join("kontakte.csv");
    std::fs::write(&file, &data).unwrap();
    let out = ws.run(&[
        "contacts",
        "import",
        file.to_str().unwrap(),
        "--topic",
        "basis",
        "--consent",
        "confirmed",
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stdout.contains("13 rows, 10 new, 0 updated, 3 rejected"),
        "{stdout}"
    );
    assert!(
        stderr.contains("line 12: column \"name\" holds bytes that are not UTF-8"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 13: name is longer than 200 characters"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 14: name contains a NUL byte"),
        "{stderr}"
    );
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM contacts WHERE name = 'Jürgen Öztürk' AND organisation = 'Bürgerhaus'"),
        10
    );
    assert_eq!(ws.sql_i64("SELECT COUNT(*) FROM contacts"), 10);
}

/// Through `inbound ingest`: a message with a million `References`
/// (21 MB) is read, its thread cut to the last 50 ids; a genuine id of ours among those last
/// ones still attributes the reply, one pushed out in front of them does not.
#[test]
fn a_million_references_are_cut_to_the_last_fifty() {
    let mut ws = Workspace::new();
    ws.set("NETZPOST_INBOUND__MAX_MESSAGE_BYTES", 30_000_000);
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.import_ok(
        &[Person::new("anna@nachbarn.example", "Anna", "de")],
        "nachbarschaft",
        "confirmed",
    );
    ws.newsletter("brief", &[]);
    ws.ok(&["campaigns", "send", "brief", "--wait"]);
    let ours = ws.outbox_messages()[0].message_id();
    let message = |name: &str, first: bool| {
        let mut refs = String::new();
        if first {
            refs.push_str(&format!(" <{ours}>"));
        }
        for i in 0..1_000_000 {
            refs.push_str(&format!(" <r{i}@x.example>"));
        }
        if !first {
            refs.push_str(&format!(" <{ours}>"));
        }
        format!(
            "From: Anna <anna@nachbarn.example>\r\nTo: antwort@reply.nordstadt.example\r\n\
             Subject: Re: brief\r\nMessage-ID: <{name}@nachbarn.example>\r\nReferences:{refs}\r\n\
             Date: Mon, 7 Dec 2026 10:00:00 +0100\r\n\r\nDanke, gut zu wissen.\r\n"
        )
        .into_bytes()
    };
    for (name, first) in [("front", true), ("back", false)] {
        let out = ws.run_with_input(&["inbound", "ingest", "-"], &message(name, first));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rows = ws.sql("SELECT dedup_key, status, attribution FROM inbound_messages ORDER BY id");
    assert_eq!(
        rows,
        [
            ["mid:front@nachbarn.example", "processed", "from"],
            ["mid:back@nachbarn.example", "processed", "in_reply_to"],
        ],
    );
}
