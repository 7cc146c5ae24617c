//! The administrator's commands on a running installation: `netzpost check` tells each broken
//! part in one line, `backup` copies the database under a running `serve`, `restore` puts it
//! back, and a database of the previous release upgrades without losing a row.

use crate::support::db::db_rows;
use crate::support::process::wait_for;
use crate::support::smtpd::{Smtpd, NEEDS_AIOSMTPD};
use crate::support::workspace::{people, text, Workspace};
use std::path::Path;
use std::time::Duration;

/// The lines of `netzpost check` about `part`.
fn lines_about(out: &str, part: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(part.split(' ').next().unwrap()))
        .filter(|l| l.contains(part))
        .map(str::to_string)
        .collect()
}

#[test]
fn check_says_what_works_and_each_broken_part_in_one_line() {
    let mut ws = Workspace::new();
    let out = ws.run(&["check"]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("ok    database"), "{all}");
    assert!(all.contains("ok    sending"), "{all}");
    assert!(all.contains("ok    replies"), "{all}");
    // The workspace's public URL is https; its organisation is still the example's.
    assert!(all.contains("ok    public URL"), "{all}");
    let org = lines_about(&all, "organisation");
    assert_eq!(org.len(), 1, "{all}");
    assert!(org[0].starts_with("note") && org[0].contains("Netzwerk Nordstadt"));

    ws.set("NETZPOST_HTTP__PUBLIC_URL", "http://netz.example.org");
    let out = ws.run(&["check"]);
    let all = text(&out);
    assert!(out.status.success(), "an http link blocks nothing: {all}");
    let url = lines_about(&all, "public URL");
    assert_eq!(url.len(), 1, "{all}");
    assert!(
        url[0].starts_with("note") && url[0].contains("not https"),
        "{all}"
    );

    // A database server that does not answer.
    ws.set(
        "NETZPOST_DATABASE",
        "postgres://netzpost:geheim@127.0.0.1:1/netzpost",
    );
    let out = ws.run(&["check"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let db = lines_about(&all, "database");
    assert_eq!(db.len(), 1, "{all}");
    assert!(
        db[0].starts_with("FAILS") && db[0].contains("127.0.0.1:1"),
        "{all}"
    );
    assert!(
        !all.contains("geheim"),
        "the password is never shown: {all}"
    );
    // The other parts are still told.
    assert!(all.contains("ok    sending"), "{all}");
}

#[test]
fn check_changes_nothing_and_names_a_missing_database() {
    let ws = Workspace::new();
    std::fs::remove_file(ws.path().join("var/netzpost.db")).unwrap();
    let out = ws.run(&["check"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let db = lines_about(&all, "database");
    assert!(
        db[0].starts_with("FAILS") && db[0].contains("does not exist"),
        "{all}"
    );
    assert!(
        !ws.path().join("var/netzpost.db").exists(),
        "check must not create the database"
    );
}

#[test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
fn check_reports_a_wrong_smtp_password_without_sending() {
    let smtpd = Smtpd::start(&["--auth", "netzpost:richtig-und-lang"]);
    let mut ws = Workspace::new();
    ws.use_smtp(smtpd.port)
        .set("NETZPOST_OUTBOUND__SMTP__USERNAME", "netzpost")
        .set("NETZPOST_OUTBOUND__SMTP__PASSWORD", "falsch-und-lang");
    let out = ws.run(&["check"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{NEEDS_AIOSMTPD}: {all}");
    let sending = lines_about(&all, "sending");
    assert_eq!(sending.len(), 1, "{all}");
    assert!(
        sending[0].starts_with("FAILS") && sending[0].contains(&smtpd.port.to_string()),
        "{all}"
    );
    assert!(!all.contains("falsch-und-lang"), "{all}");

    ws.set("NETZPOST_OUTBOUND__SMTP__PASSWORD", "richtig-und-lang");
    let all = text(&ws.run(&["check"]));
    let sending = lines_about(&all, "sending");
    assert!(sending[0].starts_with("ok"), "{all}");
    assert_eq!(smtpd.accepted(), 0, "check sends nothing");
}

fn sqlite_url(file: &Path) -> String {
    format!("sqlite://{}?mode=ro", file.display())
}

#[test]
fn backup_under_a_running_serve_holds_every_contact_and_restore_puts_it_back() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "nachbarschaft"]);
    let crowd = people("nachbar", "nordstadt.example", 400);
    ws.import_ok(&crowd, "nachbarschaft", "confirmed");
    let mut daemon = ws.serve("backup");
    daemon.listening();
    // The daemon says it is alive once its sender has started.
    wait_for(
        "the daemon's heartbeat",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || (ws.sql_i64("SELECT COUNT(*) FROM senders") > 0).then_some(()),
    );

    let snap = ws.path().join("sicherung.db");
    let out = ws.run(&["backup", snap.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("400 contacts"), "{}", text(&out));
    let n = &db_rows(&sqlite_url(&snap), "SELECT COUNT(*) FROM contacts")[0][0];
    assert_eq!(n, "400");
    let again = ws.run(&["backup", snap.to_str().unwrap()]);
    assert!(!again.status.success() && text(&again).contains("exists already"));

    // A contact is forgotten after the backup; restoring while serve runs is refused.
    ws.ok(&["contacts", "forget", &crowd[7].email]);
    assert_eq!(ws.sql_i64("SELECT COUNT(*) FROM contacts"), 399);
    let refused = ws.run(&["restore", snap.to_str().unwrap()]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("stop `netzpost serve`"),
        "{}",
        text(&refused)
    );

    daemon.terminate(Duration::from_secs(20));
    let out = ws.run(&["restore", snap.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(ws.sql_i64("SELECT COUNT(*) FROM contacts"), 400);
    let shown = ws.ok(&["contacts", "show", &crowd[7].email]);
    assert!(shown.contains(&crowd[7].email), "{shown}");
    // The database that was replaced is kept, whole (its log folded in).
    let kept: Vec<_> = std::fs::read_dir(ws.path().join("var"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("before-restore"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let n = &db_rows(
        &sqlite_url(&kept[0].path()),
        "SELECT COUNT(*) FROM contacts",
    )[0][0];
    assert_eq!(n, "399");
}

#[test]
fn restore_refuses_what_is_not_a_netzpost_backup() {
    let ws = Workspace::new();
    let junk = ws.path().join("kontakte.csv");
    std::fs::write(&junk, "email\nanna@example.org\n").unwrap();
    let out = ws.run(&["restore", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("kontakte.csv"), "{}", text(&out));
    assert!(
        ws.path().join("var/netzpost.db").exists(),
        "nothing was replaced"
    );
    assert_eq!(ws.sql_i64("SELECT COUNT(*) FROM topics"), 0);
}

/// Every table of the previous release's database, with its number of rows.
fn table_counts(url: &str) -> Vec<(String, i64)> {
    let tables = db_rows(
        url,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> '_sqlx_migrations' ORDER BY name",
    );
    tables
        .into_iter()
        .map(|t| {
            let n = db_rows(url, &format!("SELECT COUNT(*) FROM \"{}\"", t[0]))[0][0]
                .parse()
                .unwrap();
            (t[0].clone(), n)
        })
        .collect()
}

#[test]
fn a_database_of_the_previous_release_upgrades_without_losing_a_row() {
    let ws = Workspace::new();
    let file = ws.path().join("var/netzpost.db");
    std::fs::remove_file(&file).unwrap();
    let dump = include_str!("../fixtures/upgrade/sqlite-0011.sql");
    crate::support::db::block_on(async {
        use sqlx::{ConnectOptions, Connection};
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            // The dump creates tables in name order: a row may come before its parent's table.
            .foreign_keys(false)
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql(dump).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    });
    let before = table_counts(&sqlite_url(&file));
    assert!(
        before.iter().any(|(t, n)| t == "contacts" && *n == 20),
        "{before:?}"
    );

    let out = ws.run(&["migrate"]);
    assert!(out.status.success(), "{}", text(&out));
    let after = table_counts(&sqlite_url(&file));
    for (table, n) in &before {
        let now = after.iter().find(|(t, _)| t == table).map(|(_, n)| *n);
        assert_eq!(now, Some(*n), "table {table} after the upgrade");
    }
    // The upgraded database works: a contact with its history, the funnel, a new import.
    let anna = ws.ok(&["contacts", "show", "anna.schmidt@nachbarn.example"]);
    assert!(anna.contains("Anna"), "{anna}");
    let check = text(&ws.run(&["check"]));
    assert!(check.contains("schema up to date"), "{check}");
    ws.import_ok(
        &people("neu", "nordstadt.example", 3),
        "nachbarschaft",
        "confirmed",
    );
    assert_eq!(ws.sql_i64("SELECT COUNT(*) FROM contacts"), 23);
}
