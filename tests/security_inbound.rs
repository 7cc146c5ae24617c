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

fn np(dir: &std::path::Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(e2e::bin())
        .args(args)
        .current_dir(dir)
        .env_remove("NETZPOST_CONFIG")
        .env("NETZPOST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Item 11: the README's MTA pipe runs netzpost from another folder with `--config`; the mail
/// lands in the workspace's database, not in a new one under the current folder.
#[test]
fn paths_in_the_config_are_relative_to_its_workspace_wherever_netzpost_runs() {
    let ws = Workspace::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let config = ws.path().join("config/netzpost.toml");
    let out = np(
        elsewhere.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "inbound",
            "ingest",
            "-",
        ],
        &reply("pipe1", "aus der Pipe", 100),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        files_in(elsewhere.path()),
        Vec::<String>::new(),
        "nothing created in the current folder"
    );
    assert_eq!(
        count(
            &ws,
            "SELECT COUNT(*) FROM inbound_messages WHERE dedup_key = 'mid:pipe1@nachbarn.example'"
        ),
        1
    );
    // The maildir of the configuration too, read from elsewhere.
    std::fs::write(
        ws.path().join("var/inbox/new/1700000000.m1.host"),
        reply("md1", "aus dem Maildir", 100),
    )
    .unwrap();
    let out = np(
        elsewhere.path(),
        &["--config", config.to_str().unwrap(), "inbound", "process"],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        count(
            &ws,
            "SELECT COUNT(*) FROM inbound_messages WHERE dedup_key = 'mid:md1@nachbarn.example'"
        ),
        1
    );
    assert_eq!(files_in(elsewhere.path()), Vec::<String>::new());
}

/// Item 11: without a workspace a command says so and exits 78 (EX_CONFIG), creating nothing;
/// a workspace whose database is gone is not silently given a new empty one. `init`, `demo`
/// (tests/cli.rs) and `inbound explain` (no database) work as before.
#[test]
fn a_command_without_a_workspace_exits_78_and_creates_nothing() {
    let empty = tempfile::tempdir().unwrap();
    for args in [
        &["topics", "list"][..],
        &["inbound", "ingest", "-"],
        &["inbound", "process"],
        &["serve"],
        &["--config", "nirgends.toml", "contacts", "list"],
    ] {
        let out = np(empty.path(), args, &reply("x", "x", 10));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{args:?}: {err}");
        assert!(err.contains("netzpost init"), "{args:?}: {err}");
        assert_eq!(files_in(empty.path()), Vec::<String>::new(), "{args:?}");
    }

    let ws = Workspace::new();
    std::fs::remove_file(ws.path().join("var/netzpost.db")).unwrap();
    for args in [
        &["topics", "list"][..],
        &["inbound", "ingest", "-"],
        &["serve"],
    ] {
        let out = np(ws.path(), args, &reply("y", "y", 10));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{args:?}: {err}");
        assert!(err.contains("does not exist"), "{args:?}: {err}");
        assert!(!ws.path().join("var/netzpost.db").exists(), "{args:?}");
    }
    // `migrate` is the explicit way to create the database of a configuration.
    assert!(np(ws.path(), &["migrate"], b"").status.success());
    assert!(np(ws.path(), &["topics", "list"], b"").status.success());

    let mail = empty.path().join("antwort.eml");
    std::fs::write(&mail, reply("z", "Re: Einladung", 10)).unwrap();
    let out = np(empty.path(), &["inbound", "explain", "antwort.eml"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"intent\":\"accept\""));
}

/// Item 13: a message over `inbound.max_message_bytes` (stdin, maildir) is quarantined with the
/// reason and only its first bytes are kept; smaller ones are processed as before.
#[test]
fn a_message_over_max_message_bytes_is_quarantined_with_the_reason() {
    let mut ws = Workspace::new();
    ws.set("NETZPOST_INBOUND__MAX_MESSAGE_BYTES", 20_000);
    let out = np_env(
        &ws,
        &["inbound", "ingest", "-"],
        &reply("gross1", "gross", 100_000),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = np_env(
        &ws,
        &["inbound", "ingest", "-"],
        &reply("klein1", "klein", 1_000),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = ws.path().join("var/inbox/new/1700000000.gross2.host");
    std::fs::write(&file, reply("gross2", "gross", 100_000)).unwrap();
    let out = np_env(&ws, &["inbound", "process"], b"");
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
    let out = np_env(&ws, &["inbound", "quarantine"], b"");
    assert!(String::from_utf8_lossy(&out.stdout).contains("max_message_bytes"));
}

fn np_env(ws: &Workspace, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(e2e::bin())
        .args(args)
        .current_dir(ws.path())
        .env_remove("NETZPOST_CONFIG")
        .env("NETZPOST_LOG", "warn")
        .envs(&ws.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

/// Item 14, through `contacts import` as it was found: a UTF-8 file with one stray Latin-1 byte
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
        count(&ws, "SELECT COUNT(*) FROM contacts WHERE name = 'Jürgen Öztürk' AND organisation = 'Bürgerhaus'"),
        10
    );
    assert_eq!(count(&ws, "SELECT COUNT(*) FROM contacts"), 10);
}

/// Item 9, through `inbound ingest` as it was found: a message with a million `References`
/// (21 MB) is read, its thread cut to the last 50 ids; a genuine id of ours among those last
/// ones still attributes the reply, one pushed out in front of them does not.
#[test]
fn a_million_references_are_cut_to_the_last_fifty() {
    let mut ws = Workspace::new();
    ws.set("NETZPOST_INBOUND__MAX_MESSAGE_BYTES", 30_000_000);
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.import_ok(
        &[e2e::Person::new("anna@nachbarn.example", "Anna", "de")],
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
        let out = np_env(&ws, &["inbound", "ingest", "-"], &message(name, first));
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
