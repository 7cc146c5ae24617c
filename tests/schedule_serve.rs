//! Issue 3, "done when": `netzpost serve` on the default config sends a scheduled newsletter into
//! `var/outbox` at its cron time, each minute slot exactly once, even with a second daemon on the
//! same SQLite database.

#[path = "support/e2e.rs"]
mod e2e;

use e2e::{people, wait_for, Workspace};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const AUDIENCE: usize = 5;

/// The runs the schedule created so far: (campaign name, slot, status, sent).
fn runs(ws: &Workspace) -> Vec<Vec<String>> {
    ws.sql(
        "SELECT k.name, f.slot, k.status,
            (SELECT COUNT(*) FROM deliveries d WHERE d.campaign_id = k.id AND d.status = 'sent')
         FROM schedule_firings f JOIN campaigns k ON k.id = f.campaign_id
         WHERE f.schedule = 'config:minutlich' ORDER BY f.slot",
    )
}

#[test]
#[ignore = "slow: waits for a cron minute (run by .ci/run)"]
fn serve_fires_a_cron_schedule_once_per_minute_slot_even_with_two_daemons() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "hof", "--title", "Hofgemeinschaft"]);
    ws.import_ok(&people("hof", "example.org", AUDIENCE), "hof", "confirmed");
    ws.ok(&[
        "campaigns",
        "create",
        "hofbrief",
        "--kind",
        "newsletter",
        "--topic",
        "hof",
        "--body",
        "Neues vom Hof.",
    ]);
    ws.append_config(
        "[[schedule]]\nname = \"minutlich\"\ncampaign = \"hofbrief\"\ncron = \"* * * * *\"\n",
    );

    // The next fire times are whole minutes, one apart.
    let list = ws.ok(&["--format", "json", "schedules", "list", "--next", "3"]);
    println!("{list}");
    let rows: serde_json::Value = serde_json::from_str(&list).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["schedule"] == "config:minutlich")
        .unwrap_or_else(|| panic!("schedule not listed: {list}"));
    assert_eq!(row["campaign"], "hofbrief");
    assert_eq!(row["cron"], "* * * * *");
    let next: Vec<chrono::NaiveDateTime> = row["next"]
        .as_str()
        .unwrap()
        .split(", ")
        .map(|t| {
            chrono::NaiveDateTime::parse_from_str(&t[..16], "%Y-%m-%d %H:%M")
                .unwrap_or_else(|e| panic!("{t}: {e}"))
        })
        .collect();
    assert_eq!(next.len(), 3, "{row}");
    assert!(next
        .windows(2)
        .all(|w| w[1] - w[0] == chrono::Duration::minutes(1)));

    // The first daemon: a run lands in the outbox within about a minute.
    let started = Instant::now();
    let mut first = ws.serve("serve-a");
    wait_for(
        "the first scheduled run in var/outbox",
        Duration::from_secs(75),
        Duration::from_millis(200),
        || {
            first.assert_running();
            (ws.outbox_count() >= AUDIENCE).then_some(())
        },
    );
    println!("first run in the outbox after {:?}", started.elapsed());
    let r = runs(&ws);
    assert_eq!(r.len(), 1, "{r:?}");

    // A second daemon on the same database does not fire that slot again; the next slot fires
    // once, in whichever daemon gets it.
    let mut second = ws.serve("serve-b");
    let both = wait_for(
        "the second minute slot to be sent",
        Duration::from_secs(75),
        Duration::from_millis(200),
        || {
            first.assert_running();
            second.assert_running();
            let r = runs(&ws);
            (r.len() >= 2 && r.iter().all(|x| x[2] == "done")).then_some(r)
        },
    );
    println!("second run done after {:?}: {both:?}", started.elapsed());
    // Stop both cleanly, so anything still in progress shows up in the counts below.
    assert!(first
        .terminate(Duration::from_secs(15))
        .is_some_and(|s| s.success()));
    assert!(second
        .terminate(Duration::from_secs(15))
        .is_some_and(|s| s.success()));

    let r = runs(&ws);
    println!("runs: {r:?}");
    assert_eq!(r.len(), 2, "two slots, two runs: {r:?}");
    let slots: HashSet<&str> = r.iter().map(|x| x[1].as_str()).collect();
    assert_eq!(slots.len(), 2);
    for x in &r {
        assert!(x[0].starts_with("hofbrief-"), "{x:?}");
        assert_eq!(x[2], "done");
        assert_eq!(x[3], AUDIENCE.to_string(), "{x:?}");
    }
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM campaigns WHERE parent_id IS NOT NULL"),
        2
    );
    assert_eq!(ws.outbox_count(), 2 * AUDIENCE, "each slot sent once");
    let mids: HashSet<String> = ws
        .outbox_messages()
        .iter()
        .map(|m| m.message_id())
        .collect();
    assert_eq!(mids.len(), 2 * AUDIENCE);
    // The template itself is never sent, and schedules list shows the last firing.
    let show = ws.campaign("hofbrief");
    assert_eq!(show["progress"]["sent"], 0);
    let list = ws.ok(&["--format", "json", "schedules", "list"]);
    assert!(list.contains("last_fired"), "{list}");
    let rows: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert!(!rows[0]["last_fired"].is_null(), "{list}");
}
