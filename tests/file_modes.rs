//! Issue 13, item 10: what netzpost writes to disk is readable by its owner only, whatever the
//! umask (the test process runs with the usual 022, under which the files were 0644).

#[path = "support/e2e.rs"]
mod e2e;

use e2e::{people, Workspace};
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
    let mut other = e2e::Workspace::new();
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
