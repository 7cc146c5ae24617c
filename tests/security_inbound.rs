//! Issue 13, the inbound and workspace items: a full disk, workspaces and paths, message size
//! limits, reference headers, file modes and the CSV importer's hostile input. Everything runs
//! the real binary in a workspace made by `netzpost init`, in plain `cargo test`.

#[path = "support/e2e.rs"]
mod e2e;

use e2e::Workspace;
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs netzpost in `ws` with its files limited to `kb` KiB (RLIMIT_FSIZE, SIGXFSZ ignored):
/// every write beyond that fails as on a full disk, without root or a small file system.
fn run_limited(ws: &Workspace, kb: u64, args: &[&str], stdin: &[u8]) -> Output {
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f "$0" && exec "$@""#)
        .arg(kb.to_string())
        .arg(e2e::bin())
        .args(args)
        .current_dir(ws.path())
        .env_remove("NETZPOST_CONFIG")
        .env("NETZPOST_LOG", "warn")
        .envs(&ws.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("bash runs");
    let mut input = child.stdin.take().unwrap();
    // A command that fails early may not read its input.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().unwrap()
}

fn reply(id: &str, subject: &str, filler: usize) -> Vec<u8> {
    format!(
        "From: Anna <anna@nachbarn.example>\r\nTo: antwort@reply.nordstadt.example\r\n\
         Subject: {subject}\r\nMessage-ID: <{id}@nachbarn.example>\r\n\
         Date: Mon, 7 Dec 2026 10:00:00 +0100\r\n\r\nJa, ich komme gerne.\r\n\r\n{}\r\n",
        "Gruss aus der Nordstadt. ".repeat(filler / 25)
    )
    .into_bytes()
}

fn count(ws: &Workspace, query: &str) -> i64 {
    ws.sql_i64(query)
}

/// Item 2: on a disk that runs full, a write that did not land is never reported as done.
/// `inbound ingest` exits 75 (the MTA retries) unless the message is stored; a maildir file leaves
/// `new/` only once its message is stored; `topics add` and `campaigns create` fail with the error
/// unless the row is there. Each process starts with an empty write-ahead log, and each write
/// here is 30-60 KiB: the sweep over limits makes each command fail at different points of its
/// writes (opening, the statement, the commit); before the fix, all four reported success for
/// lost writes at some of them.
#[test]
fn a_full_disk_never_reports_a_write_that_did_not_land() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "basis"]);
    let (mut failures, mut successes) = (0, 0);
    let long = "Neues aus dem Viertel. ".repeat(1500);
    for kb in (16..=88).step_by(12) {
        let tag = format!("k{kb}");

        let out = run_limited(
            &ws,
            kb,
            &["inbound", "ingest", "-"],
            &reply(&tag, &format!("stdin {tag}"), 30_000),
        );
        let stored = count(
            &ws,
            &format!("SELECT COUNT(*) FROM inbound_messages WHERE dedup_key = 'mid:{tag}@nachbarn.example'"),
        );
        match out.status.code() {
            Some(0) => {
                successes += 1;
                assert_eq!(
                    stored, 1,
                    "limit {kb} KiB: ingest exited 0 but nothing stored"
                );
            }
            Some(75) => failures += 1,
            other => panic!(
                "limit {kb} KiB: ingest exited {other:?}, not 0 or 75: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }

        let file = ws
            .path()
            .join("var/inbox/new")
            .join(format!("1700000000.{tag}.host"));
        std::fs::write(&file, reply(&format!("md{tag}"), "maildir", 30_000)).unwrap();
        run_limited(&ws, kb, &["inbound", "process"], b"");
        let stored = count(
            &ws,
            &format!("SELECT COUNT(*) FROM inbound_messages WHERE dedup_key = 'mid:md{tag}@nachbarn.example'"),
        );
        assert!(
            file.exists() || stored == 1,
            "limit {kb} KiB: the maildir file left new/ but its message is not stored"
        );
        let _ = std::fs::remove_file(&file);

        let topic = format!("t{kb}");
        let out = run_limited(
            &ws,
            kb,
            &["topics", "add", &topic, "--description", &long],
            b"",
        );
        let stored = count(
            &ws,
            &format!("SELECT COUNT(*) FROM topics WHERE slug = '{topic}'"),
        );
        if out.status.success() {
            assert_eq!(stored, 1, "limit {kb} KiB: topics add succeeded, no topic");
        } else {
            assert!(!out.stderr.is_empty(), "a failure says why");
        }

        let campaign = format!("c{kb}");
        let out = run_limited(
            &ws,
            kb,
            &[
                "campaigns",
                "create",
                &campaign,
                "--kind",
                "newsletter",
                "--topic",
                "basis",
                "--subject",
                "Hallo",
                "--body",
                &long,
            ],
            b"",
        );
        let stored = count(
            &ws,
            &format!("SELECT COUNT(*) FROM campaigns WHERE name = '{campaign}'"),
        );
        if out.status.success() {
            assert_eq!(
                stored, 1,
                "limit {kb} KiB: campaigns create succeeded, none stored"
            );
        }
    }
    assert!(
        failures > 0,
        "no limit made ingest fail: the sweep tests nothing"
    );
    assert!(successes > 0, "no limit let ingest succeed");
}
