//! The workspace on disk: files private to their owner whatever the umask, paths in the
//! configuration relative to its workspace wherever netzpost runs, no database made up where
//! there is no workspace, and no write reported done that did not land on a full disk.

use crate::support::mail::reply_from_anna;
use crate::support::{people, Workspace};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn assert_private(path: &Path) {
    let m = mode(path);
    assert_eq!(
        m & 0o077,
        0,
        "{} is {m:o}: others may read it",
        path.display()
    );
}

#[test]
fn config_folders_database_and_outbox_are_private_to_the_owner() {
    let ws = Workspace::new();
    let dir = ws.path();
    assert_eq!(mode(&dir.join("config/netzpost.toml")), 0o600);
    for sub in ["config", "var", "var/outbox", "var/inbox/new"] {
        assert_private(&dir.join(sub));
    }

    // The database `init` made, and one `migrate` makes where none is.
    assert_eq!(mode(&dir.join("var/netzpost.db")), 0o600);
    let mut other = Workspace::new();
    other.set("NETZPOST_DATABASE", "sqlite://var/data/other.db");
    other.ok(&["migrate"]);
    assert_private(&other.path().join("var/data"));
    assert_eq!(mode(&other.path().join("var/data/other.db")), 0o600);

    // An outbox message after a send to the file transport.
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.import_ok(
        &people("nachbar", "example.org", 2),
        "nachbarschaft",
        "confirmed",
    );
    ws.newsletter("modes", &[]);
    ws.ok(&["campaigns", "send", "modes", "--wait"]);
    let emls: Vec<_> = std::fs::read_dir(ws.outbox())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml" || x == "json"))
        .collect();
    assert_eq!(emls.len(), 4, "{emls:?}");
    for p in &emls {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
    for wal in ["var/netzpost.db-wal", "var/netzpost.db-shm"] {
        if dir.join(wal).exists() {
            assert_private(&dir.join(wal));
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir.join("var/journal")) {
        assert_private(&dir.join("var/journal"));
        for e in entries {
            assert_eq!(mode(&e.unwrap().path()), 0o600);
        }
    }
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The README's MTA pipe runs netzpost from another folder with `--config`; the mail
/// lands in the workspace's database, not in a new one under the current folder.
#[test]
fn paths_in_the_config_are_relative_to_its_workspace_wherever_netzpost_runs() {
    let ws = Workspace::new();
    let elsewhere = Workspace::empty();
    let config = ws.path().join("config/netzpost.toml");
    let out = elsewhere.run_with_input(
        &[
            "--config",
            config.to_str().unwrap(),
            "inbound",
            "ingest",
            "-",
        ],
        &reply_from_anna("pipe1", "aus der Pipe", 100),
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
        ws.sql_i64(
            "SELECT COUNT(*) FROM inbound_messages WHERE dedup_key = 'mid:pipe1@nachbarn.example'"
        ),
        1
    );
    // The maildir of the configuration too, read from elsewhere.
    std::fs::write(
        ws.path().join("var/inbox/new/1700000000.m1.host"),
        reply_from_anna("md1", "aus dem Maildir", 100),
    )
    .unwrap();
    let out = elsewhere.run_with_input(
        &["--config", config.to_str().unwrap(), "inbound", "process"],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        ws.sql_i64(
            "SELECT COUNT(*) FROM inbound_messages WHERE dedup_key = 'mid:md1@nachbarn.example'"
        ),
        1
    );
    assert_eq!(files_in(elsewhere.path()), Vec::<String>::new());
}

/// Without a workspace a command says so and exits 78 (EX_CONFIG; `inbound ingest`, which a
/// mail server runs, 75 so that the reply is kept), creating nothing;
/// a workspace whose database is gone is not silently given a new empty one. `init`, `demo`
/// (`cli.rs`) and `inbound explain` (no database) need none.
#[test]
fn a_command_without_a_workspace_exits_78_and_creates_nothing() {
    let empty = Workspace::empty();
    for args in [
        &["topics", "list"][..],
        &["inbound", "ingest", "-"],
        &["inbound", "process"],
        &["serve"],
        &["--config", "nirgends.toml", "contacts", "list"],
    ] {
        let out = empty.run_with_input(args, &reply_from_anna("x", "x", 10));
        let err = String::from_utf8_lossy(&out.stderr);
        // A mail server's pipe keeps the reply and retries (75) rather than bouncing it.
        let want = if args.contains(&"ingest") { 75 } else { 78 };
        assert_eq!(out.status.code(), Some(want), "{args:?}: {err}");
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
        let out = ws.run_with_input(args, &reply_from_anna("y", "y", 10));
        let err = String::from_utf8_lossy(&out.stderr);
        let want = if args.contains(&"ingest") { 75 } else { 78 };
        assert_eq!(out.status.code(), Some(want), "{args:?}: {err}");
        assert!(err.contains("does not exist"), "{args:?}: {err}");
        assert!(!ws.path().join("var/netzpost.db").exists(), "{args:?}");
    }
    // `migrate` is the explicit way to create the database of a configuration.
    assert!(ws.run_with_input(&["migrate"], b"").status.success());
    assert!(ws.run_with_input(&["topics", "list"], b"").status.success());

    let mail = empty.path().join("antwort.eml");
    std::fs::write(&mail, reply_from_anna("z", "Re: Einladung", 10)).unwrap();
    let out = empty.run_with_input(&["inbound", "explain", "antwort.eml"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"intent\":\"accept\""));
}

/// On a disk that runs full, a write that did not land is never reported as done.
/// `inbound ingest` exits 75 (the MTA retries) unless the message is stored; a maildir file leaves
/// `new/` only once its message is stored; `topics add` and `campaigns create` fail with the error
/// unless the row is there. Each process starts with an empty write-ahead log, and each write
/// here is 30-60 KiB: the sweep over limits makes each command fail at different points of its
/// writes (opening, the statement, the commit).
#[test]
fn a_full_disk_never_reports_a_write_that_did_not_land() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "basis"]);
    let (mut failures, mut successes) = (0, 0);
    let long = "Neues aus dem Viertel. ".repeat(1500);
    for kb in (16..=124).step_by(12) {
        let tag = format!("k{kb}");

        let out = ws.run_limited(
            kb,
            &["inbound", "ingest", "-"],
            &reply_from_anna(&tag, &format!("stdin {tag}"), 30_000),
        );
        let stored = ws.sql_i64(&format!(
            "SELECT COUNT(*) FROM inbound_messages WHERE dedup_key = 'mid:{tag}@nachbarn.example'"
        ));
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
        std::fs::write(
            &file,
            reply_from_anna(&format!("md{tag}"), "maildir", 30_000),
        )
        .unwrap();
        ws.run_limited(kb, &["inbound", "process"], b"");
        let stored = ws.sql_i64(&format!("SELECT COUNT(*) FROM inbound_messages WHERE dedup_key = 'mid:md{tag}@nachbarn.example'"),
        );
        assert!(
            file.exists() || stored == 1,
            "limit {kb} KiB: the maildir file left new/ but its message is not stored"
        );
        let _ = std::fs::remove_file(&file);

        let topic = format!("t{kb}");
        let out = ws.run_limited(kb, &["topics", "add", &topic, "--description", &long], b"");
        let stored = ws.sql_i64(&format!(
            "SELECT COUNT(*) FROM topics WHERE slug = '{topic}'"
        ));
        if out.status.success() {
            assert_eq!(stored, 1, "limit {kb} KiB: topics add succeeded, no topic");
        } else {
            assert!(!out.stderr.is_empty(), "a failure says why");
        }

        let campaign = format!("c{kb}");
        let out = ws.run_limited(
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
        let stored = ws.sql_i64(&format!(
            "SELECT COUNT(*) FROM campaigns WHERE name = '{campaign}'"
        ));
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
