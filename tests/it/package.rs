//! The Debian package (`cargo deb`): installed with dpkg, it creates the `netzpost` user, a
//! configuration in /etc/netzpost with a fresh secret readable only by root and that user, the
//! database in /var/lib/netzpost, and a hardened systemd unit; the commands work as the
//! `netzpost` user; a purge removes the configuration and keeps the data.

use crate::support::workspace::text;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const NEEDS: &str = "needs root, dpkg and a package built by `cargo deb` (.ci/run builds it; or \
                     set NETZPOST_TEST_DEB to a .deb)";
const CONF: &str = "/etc/netzpost/netzpost.toml";

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env_remove("NETZPOST_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("{NEEDS}: {program}: {e}"))
}

fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        text(&out)
    );
    text(&out)
}

/// netzpost as the package's user, on the package's configuration.
fn as_netzpost(args: &[&str]) -> Output {
    let mut all = vec![
        "-u",
        "netzpost",
        "--",
        "/usr/bin/netzpost",
        "--config",
        CONF,
    ];
    all.extend_from_slice(args);
    run("runuser", &all)
}

/// The package: NETZPOST_TEST_DEB, or the newest in target/debian.
fn package() -> PathBuf {
    if let Some(p) = std::env::var_os("NETZPOST_TEST_DEB") {
        return PathBuf::from(p);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debian");
    let mut debs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{NEEDS}: {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".deb"))
        .collect();
    debs.sort_by_key(|e| e.metadata().and_then(|m| m.modified()).ok());
    debs.pop()
        .unwrap_or_else(|| panic!("{NEEDS}: no .deb in {}", dir.display()))
        .path()
}

fn purge_leftovers() {
    let _ = run("dpkg", &["--purge", "netzpost"]);
    let _ = std::fs::remove_dir_all("/var/lib/netzpost");
    let _ = run("deluser", &["--system", "netzpost"]);
}

#[test]
#[ignore = "needs root, dpkg and a package built by `cargo deb`"]
fn the_debian_package_installs_runs_as_its_user_and_purges() {
    let deb = package();
    purge_leftovers();
    ok("dpkg", &["-i", deb.to_str().unwrap()]);

    // The configuration: written at install, a fresh secret, 0640 root:netzpost, absolute paths.
    let meta = std::fs::metadata(CONF).expect("the configuration is written at install");
    assert_eq!(meta.mode() & 0o777, 0o640, "{CONF} mode");
    assert_eq!(meta.uid(), 0, "{CONF} owner");
    let group = ok("getent", &["group", "netzpost"]);
    let gid: u32 = group.split(':').nth(2).unwrap().trim().parse().unwrap();
    assert_eq!(meta.gid(), gid, "{CONF} group");
    let conf = std::fs::read_to_string(CONF).unwrap();
    let secret = conf
        .lines()
        .find_map(|l| l.strip_prefix("secret = \""))
        .and_then(|s| s.strip_suffix('"'))
        .expect("a secret line");
    assert!(
        secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit()),
        "{secret}"
    );
    assert!(conf.contains("database = \"sqlite:///var/lib/netzpost/netzpost.db\""));
    assert!(conf.contains("maildir = \"/var/lib/netzpost/inbox\""));

    // The database was made by the install, owned by the service's user.
    let db = std::fs::metadata("/var/lib/netzpost/netzpost.db").expect("database");
    assert_eq!(db.gid(), gid);
    let out = as_netzpost(&["migrate"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("0 migrations applied"),
        "{}",
        text(&out)
    );
    let out = as_netzpost(&["topics", "add", "nachbarschaft"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = as_netzpost(&["contacts", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = as_netzpost(&["check"]);
    assert!(text(&out).contains("ok    database"), "{}", text(&out));
    assert!(
        text(&out).contains("/var/lib/netzpost/outbox"),
        "{}",
        text(&out)
    );

    // The unit: the service's user, its state directory, hardened.
    let unit = [
        "/lib/systemd/system/netzpost.service",
        "/usr/lib/systemd/system/netzpost.service",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .expect("the systemd unit");
    for line in [
        "User=netzpost",
        "StateDirectory=netzpost",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ExecStart=/usr/bin/netzpost serve",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} in the unit");
    }
    assert!(Path::new("/usr/share/netzpost/templates/mail").is_dir());
    let unit_file = [
        "/lib/systemd/system/netzpost.service",
        "/usr/lib/systemd/system/netzpost.service",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .unwrap();
    ok("systemd-analyze", &["verify", unit_file]);
    // systemd's own exposure score, 0 (locked down) to 10 (none): a guard against a unit that
    // loses its hardening.
    let security = ok(
        "systemd-analyze",
        &["security", "--offline=true", unit_file],
    );
    let exposure: f64 = security
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for netzpost.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {security}"));
    assert!(exposure <= 2.5, "exposure {exposure}: {security}");

    // Purge: the configuration (and its secret) goes, the data stays.
    ok("dpkg", &["--purge", "netzpost"]);
    assert!(!Path::new("/usr/bin/netzpost").exists());
    assert!(!Path::new("/etc/netzpost").exists());
    assert!(Path::new("/var/lib/netzpost/netzpost.db").exists());
    purge_leftovers();
}
