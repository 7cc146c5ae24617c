//! Reliability through the real binary. Crashes (SIGKILL at random points of a large
//! campaign), SMTP faults (server down, 421 in a session, TCP resets, a server slower than the
//! timeout), database faults (SQLite written by the CLI and the daemon at once, PostgreSQL
//! restarted mid-campaign). Several daemons on one PostgreSQL: `reliability_daemons`.
//!
//! Every wait has a deadline; every child is killed in a Drop guard; the figures are printed
//! (`-- --nocapture`). Tests needing servers are ignored by default and run in `.ci/run`
//! (`cargo test -- --ignored`); without their server they fail loudly, never skip.

use crate::support::db::{db_i64, fresh_postgres_url};
use crate::support::reliability::{n_from_env, tally, Replies};
use crate::support::{parse_message_id, people, wait_for, Person, Smtpd, Workspace};
use rand::Rng;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::Command;
use std::time::{Duration, Instant};

fn smtp_workspace(port: u16, who: &[Person]) -> Workspace {
    let mut ws = Workspace::new();
    ws.use_smtp(port);
    ws.command_limit = Duration::from_secs(600);
    ws.ok(&["topics", "add", "nachbarschaft"]);
    let t = Instant::now();
    ws.import_ok(who, "nachbarschaft", "confirmed");
    println!("imported {} contacts in {:?}", who.len(), t.elapsed());
    ws
}

// ---------------------------------------------------------------------------------------------
// 1. Crash: SIGKILL five times during a 20,000-recipient campaign.
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
fn crash_five_times_during_a_large_campaign_every_recipient_once_replies_applied_once() {
    let n = n_from_env(20_000);
    const KILLS: usize = 5;
    let sink = Smtpd::start(&[]);
    let who = people("viele", "example.org", n);
    let ws = smtp_workspace(sink.port, &who);
    ws.newsletter("gross", &[]);
    let campaign = ws.sql_i64("SELECT id FROM campaigns WHERE name = 'gross'");
    let started = Instant::now();
    let out = ws.ok(&["campaigns", "send", "gross"]);
    assert!(out.contains(&format!("{n} deliveries queued")), "{out}");

    // Five kill points, at random fractions of the campaign.
    let mut rng = rand::thread_rng();
    let mut points: Vec<usize> = (0..KILLS)
        .map(|_| rng.gen_range(n / 20..n * 9 / 10))
        .collect();
    points.sort();
    println!("kill points (messages accepted by the sink): {points:?}");

    let mut dropped = Replies::new(ws.path().join("var/inbox"), "reply");
    let mut daemon = ws.serve("serve-0");
    for (i, point) in points.iter().enumerate() {
        wait_for(
            &format!("the sink to reach {point} messages"),
            Duration::from_secs(900),
            Duration::from_millis(2),
            || {
                daemon.assert_running();
                (sink.accepted() >= *point).then_some(())
            },
        );
        daemon.kill();
        let at_kill = sink.accepted();
        let p = ws.campaign("gross")["progress"].clone();
        println!(
            "kill {} at {:?}: sink {at_kill}, database {p}",
            i + 1,
            started.elapsed()
        );
        // Replies arrive while the daemon is down: 20 contacts whose delivery is recorded sent.
        let rows = ws.sql(&format!(
            "SELECT c.email, d.contact_id FROM deliveries d JOIN contacts c ON c.id = d.contact_id
             WHERE d.campaign_id = {campaign} AND d.status = 'sent' ORDER BY d.id DESC LIMIT 200"
        ));
        dropped.drop_from(&ws, campaign, &rows, 20);
        daemon = ws.serve(&format!("serve-{}", i + 1));
    }
    let replies = dropped.count;
    let done = wait_for(
        "the campaign to be done after the last restart",
        Duration::from_secs(1200),
        Duration::from_millis(500),
        || {
            daemon.assert_running();
            let c = ws.campaign("gross");
            (c["campaign"]["status"] == "done").then_some(c)
        },
    );
    // Inbound: every reply processed (a message a killed daemon held waits for its lease).
    let processed = wait_for(
        "every reply to be processed",
        Duration::from_secs(420),
        Duration::from_millis(500),
        || {
            daemon.assert_running();
            let p = ws.sql_i64("SELECT COUNT(*) FROM inbound_messages WHERE status = 'processed'");
            (p as usize >= replies).then_some(p)
        },
    );
    let elapsed = started.elapsed();
    // Let the last confirmations go out, then stop cleanly.
    std::thread::sleep(Duration::from_secs(2));
    daemon.terminate(Duration::from_secs(20));

    let t = tally(&sink.log(), campaign);
    println!(
        "CRASH x{KILLS}: {n} recipients, done in {elapsed:?}: {}; sink accepted {} campaign messages \
         for {} recipients, DUPLICATES {} (limit {}), {} other messages (confirmations)",
        done["progress"],
        t.per_rcpt.values().sum::<usize>(),
        t.per_rcpt.len(),
        t.duplicates,
        KILLS * 8,
        t.other
    );
    assert_eq!(done["progress"]["sent"], n as i64, "{done}");
    assert_eq!(
        ws.sql_i64(&format!(
            "SELECT COUNT(*) FROM deliveries WHERE campaign_id = {campaign} AND status <> 'sent'"
        )),
        0
    );
    assert_eq!(
        ws.sql_i64(&format!(
            "SELECT COUNT(DISTINCT contact_id) FROM deliveries WHERE campaign_id = {campaign} AND status = 'sent'"
        )),
        n as i64,
        "every recipient exactly one delivery marked sent"
    );
    assert_eq!(
        ws.sql_i64(&format!(
            "SELECT COUNT(*) FROM activities WHERE kind = 'sent' AND campaign_id = {campaign}"
        )),
        n as i64,
        "one 'sent' on each timeline"
    );
    assert_eq!(t.per_rcpt.len(), n, "every recipient reached");
    // The send journal turns every accepted-but-unrecorded message into a recorded one at the
    // restart; left are messages whose answer was on its way at the kill: one per session (8).
    assert!(
        t.duplicates <= KILLS * 8,
        "{} duplicates > {KILLS} x 8 sessions",
        t.duplicates
    );

    // Each reply applied exactly once: one decision per message, applied, one unsubscribe.
    println!("replies: {replies} dropped, {processed} processed");
    let per_msg = ws.sql(
        "SELECT m.id, COUNT(d.id), SUM(CASE WHEN d.status = 'applied' THEN 1 ELSE 0 END)
         FROM inbound_messages m LEFT JOIN decisions d ON d.inbound_id = m.id GROUP BY m.id",
    );
    assert_eq!(per_msg.len(), replies);
    for r in &per_msg {
        assert_eq!((r[1].as_str(), r[2].as_str()), ("1", "1"), "message {r:?}");
    }
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM subscriptions WHERE status = 'unsubscribed'"),
        replies as i64
    );
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM activities WHERE kind = 'reply'"),
        replies as i64,
        "one reply on each timeline"
    );
    // Confirmations: at most one per person.
    let mut conf: HashMap<String, usize> = HashMap::new();
    for (rcpt, mid) in sink.log() {
        if parse_message_id(&mid).is_none_or(|(c, _, _)| c != campaign) {
            *conf.entry(rcpt).or_default() += 1;
        }
    }
    let twice: Vec<_> = conf.iter().filter(|(_, &k)| k > 1).collect();
    println!(
        "unsubscribe confirmations: {} recipients, {} got more than one",
        conf.len(),
        twice.len()
    );
    assert!(twice.is_empty(), "{twice:?}");
}

// ---------------------------------------------------------------------------------------------
// 2. SMTP faults.
// ---------------------------------------------------------------------------------------------

/// Attempt counts of a campaign's deliveries: attempts -> rows.
fn attempts(ws: &Workspace, campaign: &str) -> BTreeMap<i64, i64> {
    ws.sql(&format!(
        "SELECT d.attempts, COUNT(*) FROM deliveries d JOIN campaigns k ON k.id = d.campaign_id
         WHERE k.name = '{campaign}' GROUP BY d.attempts ORDER BY d.attempts"
    ))
    .into_iter()
    .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
    .collect()
}

#[test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
fn smtp_server_down_for_30_seconds_mid_campaign_nothing_lost() {
    let n = 2000;
    let mut sink = Smtpd::start(&[]);
    let who = people("weg", "example.org", n);
    let mut ws = smtp_workspace(sink.port, &who);
    // Back-off 5, 10, 20, 40 s: a 30 s outage fits into the five attempts.
    ws.set("NETZPOST_OUTBOUND__RETRY_BASE_SECS", 5);
    // A pause on temporary failures ends by itself after 20 s: nobody resumes it by hand here.
    ws.set("NETZPOST_OUTBOUND__RESUME_AFTER_SECS", 20);
    ws.newsletter("ausfall", &[]);
    let campaign = ws.sql_i64("SELECT id FROM campaigns WHERE name = 'ausfall'");
    ws.ok(&["campaigns", "send", "ausfall"]);
    let started = Instant::now();
    let mut daemon = ws.serve("serve");
    wait_for(
        "500 messages",
        Duration::from_secs(300),
        Duration::from_millis(5),
        || {
            daemon.assert_running();
            (sink.accepted() >= 500).then_some(())
        },
    );
    sink.down();
    let down_at = sink.accepted();
    println!("sink down at {down_at} ({:?})", started.elapsed());
    let mut paused_reason = None;
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(30) {
        daemon.assert_running();
        let c = ws.campaign("ausfall");
        if c["campaign"]["status"] == "paused" && paused_reason.is_none() {
            paused_reason = c["campaign"]["status_reason"].as_str().map(str::to_owned);
            println!(
                "paused after {:?} of outage: {}",
                down.elapsed(),
                paused_reason.as_deref().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    sink.up();
    println!("sink up again after {:?}", down.elapsed());
    // The campaign paused itself (1,500 rows against a refusing server pass 20 failures in a
    // row), said why and when it goes on; nobody resumes it by hand below, so reaching `done`
    // proves the resume.
    let reason = paused_reason
        .as_deref()
        .expect("the outage pauses the campaign");
    assert!(reason.contains("resumes by itself at"), "{reason}");
    let done = wait_for(
        "the campaign to be done",
        Duration::from_secs(600),
        Duration::from_millis(500),
        || {
            daemon.assert_running();
            let c = ws.campaign("ausfall");
            (c["campaign"]["status"] == "done").then_some(c)
        },
    );
    daemon.terminate(Duration::from_secs(10));
    let t = tally(&sink.log(), campaign);
    let a = attempts(&ws, "ausfall");
    println!(
        "SMTP DOWN 30 s: done after {:?}: {}; attempts {a:?}; sink: {} recipients, {} duplicates, \
         {} connections; paused: {paused_reason:?}",
        started.elapsed(),
        done["progress"],
        t.per_rcpt.len(),
        t.duplicates,
        sink.connections()
    );
    assert_eq!(done["progress"]["sent"], n as i64, "nothing lost: {done}");
    assert_eq!(t.per_rcpt.len(), n);
    assert_eq!(t.duplicates, 0);
    assert!(a.keys().all(|&k| k <= 5), "attempts bounded: {a:?}");
}

#[test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
fn smtp_421_mid_session_and_connection_resets_are_retried_without_loss() {
    let n = 1000;
    let sink = Smtpd::start(&["--421-after", "7", "--reset-every", "13"]);
    let who = people("stoer", "example.org", n);
    let ws = smtp_workspace(sink.port, &who);
    ws.newsletter("stoerung", &[]);
    let campaign = ws.sql_i64("SELECT id FROM campaigns WHERE name = 'stoerung'");
    let started = Instant::now();
    let out = ws.run(&["campaigns", "send", "stoerung", "--wait"]);
    let show = ws.ok(&["campaigns", "show", "stoerung"]);
    let t = tally(&sink.log(), campaign);
    let a = attempts(&ws, "stoerung");
    println!(
        "421 EVERY 7 PER SESSION + RESET EVERY 13th DATA: {:?}, exit {}; faults {:?}, {} connections; \
         attempts {a:?}; {} recipients, {} duplicates\n{show}{}",
        started.elapsed(),
        out.status,
        sink.faults(),
        sink.connections(),
        t.per_rcpt.len(),
        t.duplicates,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
    assert!(show.contains("stoerung (newsletter, done)"), "{show}");
    assert!(show.contains(&format!("{n} sent")), "{show}");
    assert_eq!(t.per_rcpt.len(), n, "nothing lost");
    assert_eq!(t.duplicates, 0, "a reset before the reply stores nothing");
    // Bounded by max_attempts (5); a delivery can meet a fault more than once.
    assert!(a.keys().all(|&k| k <= 5), "attempts bounded: {a:?}");
}

#[test]
#[ignore = "needs python3 with aiosmtpd (pip install aiosmtpd)"]
fn smtp_server_slower_than_the_timeout_retries_bounded_and_explains() {
    // A: every 5th message takes 3 s with a 1 s timeout: retried, all sent. The server stores
    // the slow message after the client gave up, so each timeout can be a duplicate (SMTP
    // cannot tell; RFC 1047): counted and reported.
    let n = 300;
    let sink = Smtpd::start(&["--slow", "3", "--slow-every", "5"]);
    let who = people("lahm", "example.org", n);
    let mut ws = smtp_workspace(sink.port, &who);
    ws.set("NETZPOST_OUTBOUND__SMTP__TIMEOUT_SECS", 1);
    ws.newsletter("lahm", &[]);
    let campaign = ws.sql_i64("SELECT id FROM campaigns WHERE name = 'lahm'");
    let started = Instant::now();
    let out = ws.run(&["campaigns", "send", "lahm", "--wait"]);
    let show = ws.ok(&["campaigns", "show", "lahm"]);
    let t = tally(&sink.log(), campaign);
    let a = attempts(&ws, "lahm");
    let slow = sink.faults().get("slow").copied().unwrap_or(0);
    println!(
        "SLOW EVERY 5th (3 s > timeout 1 s): {:?}, exit {}; {slow} slow answers; attempts {a:?}; \
         {} recipients, {} duplicates\n{show}",
        started.elapsed(),
        out.status,
        t.per_rcpt.len(),
        t.duplicates
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(show.contains(&format!("{n} sent")), "{show}");
    assert_eq!(t.per_rcpt.len(), n);
    assert!(t.duplicates <= slow, "duplicates only from timed-out sends");
    assert!(a.keys().all(|&k| k <= 5), "attempts bounded: {a:?}");

    // B: every message is slow: attempts run out (max 2 here) and the campaign pauses itself
    // saying why.
    let sink = Smtpd::start(&["--slow", "3"]);
    let who = people("zaeh", "example.org", 25);
    let mut ws = smtp_workspace(sink.port, &who);
    ws.set("NETZPOST_OUTBOUND__SMTP__TIMEOUT_SECS", 1)
        .set("NETZPOST_OUTBOUND__MAX_ATTEMPTS", 2);
    ws.newsletter("zaeh", &[]);
    let out = ws.run(&["campaigns", "send", "zaeh", "--wait"]);
    let show = ws.ok(&["campaigns", "show", "zaeh"]);
    let a = attempts(&ws, "zaeh");
    println!(
        "ALL SLOW: exit {}; attempts {a:?}\n{show}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(a.keys().all(|&k| k <= 2), "attempts bounded: {a:?}");
    let reason = show
        .lines()
        .find_map(|l| l.trim().strip_prefix("reason:"))
        .unwrap_or_else(|| panic!("campaigns show does not say why:\n{show}"));
    assert!(
        reason.contains("no answer within") || reason.contains("time"),
        "names the timeout: {reason}"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Database faults.
// ---------------------------------------------------------------------------------------------

/// SQLite (WAL, busy timeout): the CLI imports 20,000 contacts while `serve` sends a campaign
/// into the file outbox on the same database file. Both finish, nothing is lost.
#[test]
fn sqlite_cli_import_while_serve_sends_both_finish_nothing_lost() {
    let n_send = 2000;
    let n_import = n_from_env(20_000);
    let mut ws = Workspace::new();
    ws.command_limit = Duration::from_secs(900);
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.ok(&["topics", "add", "neu"]);
    ws.import_ok(
        &people("leser", "example.org", n_send),
        "nachbarschaft",
        "confirmed",
    );
    ws.newsletter("gleichzeitig", &[]);
    ws.ok(&["campaigns", "send", "gleichzeitig"]);
    let started = Instant::now();
    let mut daemon = ws.serve("serve");
    wait_for(
        "the daemon to start sending",
        Duration::from_secs(120),
        Duration::from_millis(20),
        || {
            daemon.assert_running();
            (ws.outbox_count() > 0).then_some(())
        },
    );
    // The import runs while the daemon claims and settles batches on the same file.
    let t = Instant::now();
    let out = ws.import(&people("neu", "example.net", n_import), "neu", "confirmed");
    let import_took = t.elapsed();
    let outbox_during = ws.outbox_count();
    let done = wait_for(
        "the campaign to be done",
        Duration::from_secs(600),
        Duration::from_millis(250),
        || {
            daemon.assert_running();
            let c = ws.campaign("gleichzeitig");
            (c["campaign"]["status"] == "done").then_some(c)
        },
    );
    daemon.terminate(Duration::from_secs(10));
    let log = daemon.log_text();
    let locked = log.matches("locked").count() + log.matches("busy").count();
    println!(
        "SQLITE BUSY: import of {n_import} took {import_took:?} (exit {}; {outbox_during} mails sent \
         meanwhile); campaign of {n_send} done after {:?}: {}; 'locked'/'busy' in the daemon log: {locked}\n{}",
        out.status,
        started.elapsed(),
        done["progress"],
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "import failed while the daemon ran");
    assert!(
        outbox_during < n_send,
        "the import really overlapped the sending (outbox {outbox_during})"
    );
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM contacts WHERE email LIKE 'neu%@example.net'"),
        n_import as i64
    );
    assert_eq!(done["progress"]["sent"], n_send as i64);
    assert_eq!(ws.outbox_count(), n_send, "one file per recipient");
    let mids: HashSet<String> = ws
        .outbox_messages()
        .iter()
        .map(|m| m.message_id())
        .collect();
    assert_eq!(mids.len(), n_send, "no Message-ID twice");
}

fn restart_postgres() {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("/etc/postgresql (Debian's postgresql-common)")
        .next()
        .expect("a cluster")
        .unwrap()
        .file_name();
    let st = Command::new("pg_ctlcluster")
        .arg("--skip-systemctl-redirect")
        .arg(&version)
        .args(["main", "restart"])
        .status()
        .expect("pg_ctlcluster");
    assert!(st.success(), "pg_ctlcluster restart failed");
}

#[test]
#[ignore = "needs PostgreSQL: set NETZPOST_TEST_POSTGRES_URL; restarts the local server with pg_ctlcluster"]
fn postgres_restarted_mid_campaign_the_daemon_reconnects_and_finishes() {
    let n = 3000;
    let url = fresh_postgres_url();
    let mut ws = Workspace::new();
    ws.set("NETZPOST_DATABASE", &url);
    // Slow enough that the restart (about 3 s) lands in the middle: unthrottled, the 3,000 are
    // written before PostgreSQL is down.
    ws.set("NETZPOST_OUTBOUND__PER_SECOND", 250);
    ws.command_limit = Duration::from_secs(600);
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.import_ok(
        &people("pg", "example.org", n),
        "nachbarschaft",
        "confirmed",
    );
    ws.newsletter("neustart", &[]);
    ws.ok(&["campaigns", "send", "neustart"]);
    let started = Instant::now();
    let mut daemon = ws.serve("serve");
    wait_for(
        "1000 mails in the outbox",
        Duration::from_secs(300),
        Duration::from_millis(10),
        || {
            daemon.assert_running();
            (ws.outbox_count() >= 1000).then_some(())
        },
    );
    let t = Instant::now();
    restart_postgres();
    let at_restart = ws.outbox_count();
    println!(
        "PostgreSQL restarted at {at_restart} mails in {:?}",
        t.elapsed()
    );
    assert!(at_restart < n, "the restart must land mid-campaign");
    let done = wait_for(
        "the campaign to be done after the restart",
        Duration::from_secs(600),
        Duration::from_millis(500),
        || {
            daemon.assert_running();
            let out = ws.run(&["--format", "json", "campaigns", "show", "neustart"]);
            if !out.status.success() {
                return None; // the server is still starting
            }
            let c: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            (c["campaign"]["status"] == "done").then_some(c)
        },
    );
    daemon.terminate(Duration::from_secs(10));
    let mids: Vec<String> = ws
        .outbox_messages()
        .iter()
        .map(|m| m.message_id())
        .collect();
    let unique: HashSet<&String> = mids.iter().collect();
    let log = daemon.log_text();
    println!(
        "PG RESTART: done after {:?}: {}; outbox {} files, {} Message-IDs, {} duplicates; \
         errors in the daemon log: {}",
        started.elapsed(),
        done["progress"],
        mids.len(),
        unique.len(),
        mids.len() - unique.len(),
        log.lines().filter(|l| l.contains("ERROR")).count()
    );
    assert_eq!(done["progress"]["sent"], n as i64);
    assert_eq!(unique.len(), n, "every recipient reached");
    assert!(
        mids.len() - unique.len() <= 48,
        "duplicates within the in-flight window"
    );
    assert_eq!(
        db_i64(
            &url,
            "SELECT COUNT(DISTINCT contact_id) FROM deliveries WHERE status = 'sent'"
        ),
        n as i64
    );
}
