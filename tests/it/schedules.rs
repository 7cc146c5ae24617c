//! Recurring campaigns fire once per slot, coalesce after downtime, and never twice, also when
//! two daemons ask at the same moment: in the library with the time passed in, and through
//! `netzpost serve` at the real cron minute.

use crate::support::{people, wait_for, TestDb, Workspace};
use chrono::TimeZone;
use netzpost::config::Config;
use netzpost::outbound::campaign::{self, CreateArgs};
use netzpost::outbound::sender::Composer;
use netzpost::store::{self, campaigns::Audience, campaigns::CampaignKind};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn berlin(y: i32, m: u32, d: u32, h: u32, min: u32) -> chrono::DateTime<chrono::Utc> {
    chrono_tz::Europe::Berlin
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

#[tokio::test]
async fn weekday_schedule_fires_once_per_slot_and_coalesces_downtime() {
    let t = TestDb::sqlite().await;
    let (db, dir) = (&t.db, tempfile::tempdir().unwrap());
    let mut cfg = Config {
        secret: "schedules-test-secret-schedules-test".into(),
        database: t.url.clone(),
        ..Config::default()
    };
    cfg.outbound.outbox = dir.path().join("outbox");
    let cfg = Arc::new(cfg);
    store::topics::add(db, "kultur", "Kultur", None)
        .await
        .unwrap();
    let composer = Composer::new(cfg.clone()).unwrap();
    let template = campaign::create(
        db,
        &composer,
        &CreateArgs {
            name: "wochenbrief".into(),
            kind: CampaignKind::Newsletter,
            topic: Some("kultur".into()),
            occasion: None,
            subject: "Wochenbrief".into(),
            body: "Neues.".into(),
            translations: Default::default(),
            audience: Audience::default(),
            // 09:00 Monday to Friday, the way people write crontabs.
            schedule: Some("0 9 * * 1-5".into()),
            send_at: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(template.status.as_str(), "scheduled");
    let bad = campaign::create(
        db,
        &composer,
        &CreateArgs {
            name: "kaputt".into(),
            schedule: Some("0 25 * * *".into()),
            ..CreateArgs {
                name: String::new(),
                kind: CampaignKind::Newsletter,
                topic: Some("kultur".into()),
                occasion: None,
                subject: "x".into(),
                body: "x".into(),
                translations: Default::default(),
                audience: Audience::default(),
                schedule: None,
                send_at: None,
            }
        },
    )
    .await
    .unwrap_err();
    assert!(format!("{bad:#}").contains("0 25 * * *"), "{bad:#}");

    // The template was created "now"; pretend the clock is later by moving created_at back.
    t.sql
        .exec(
            "UPDATE campaigns SET created_at = $1",
            &[berlin(2026, 11, 1, 0, 0).into()],
        )
        .await;

    // Monday 2026-11-23, 08:59: nothing due yet.
    let fired = campaign::fire_schedules(db, &cfg, berlin(2026, 11, 23, 8, 59))
        .await
        .unwrap();
    // The slots since 1 November coalesce into one run: the latest (Friday 20 Nov, 09:00).
    assert_eq!(fired, ["wochenbrief-20261120-0900"]);
    // 09:00 Monday: exactly one new run; asking again at the same moment fires nothing.
    let fired = campaign::fire_schedules(db, &cfg, berlin(2026, 11, 23, 9, 0))
        .await
        .unwrap();
    assert_eq!(fired, ["wochenbrief-20261123-0900"]);
    assert!(
        campaign::fire_schedules(db, &cfg, berlin(2026, 11, 23, 9, 0))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        campaign::fire_schedules(db, &cfg, berlin(2026, 11, 23, 17, 0))
            .await
            .unwrap()
            .is_empty()
    );
    // Down from Tuesday 08:00 to Thursday 12:00: one run for Thursday's slot, not three.
    let fired = campaign::fire_schedules(db, &cfg, berlin(2026, 11, 26, 12, 0))
        .await
        .unwrap();
    assert_eq!(fired, ["wochenbrief-20261126-0900"]);
    // Two daemons asking for Friday's slot at once: one run between them.
    let (a, b) = tokio::join!(
        campaign::fire_schedules(db, &cfg, berlin(2026, 11, 27, 9, 0)),
        campaign::fire_schedules(db, &cfg, berlin(2026, 11, 27, 9, 0)),
    );
    assert_eq!(a.unwrap().len() + b.unwrap().len(), 1);
    // Saturday and Sunday have no slot (1-5 is Monday to Friday).
    assert!(
        campaign::fire_schedules(db, &cfg, berlin(2026, 11, 29, 23, 0))
            .await
            .unwrap()
            .is_empty()
    );
    let runs = store::campaigns::list(db).await.unwrap();
    assert_eq!(
        runs.iter()
            .filter(|r| r.name.starts_with("wochenbrief-"))
            .count(),
        4
    );
}

/// Contacts of the scheduled newsletter.
const AUDIENCE: usize = 5;

/// The runs the schedule `minutlich` created so far: (campaign name, slot, status, sent).
fn runs(ws: &Workspace) -> Vec<Vec<String>> {
    ws.sql(
        "SELECT k.name, f.slot, k.status,
            (SELECT COUNT(*) FROM deliveries d WHERE d.campaign_id = k.id AND d.status = 'sent')
         FROM schedule_firings f JOIN campaigns k ON k.id = f.campaign_id
         WHERE f.schedule = 'config:minutlich' ORDER BY f.slot",
    )
}

/// `netzpost serve` on the default config sends a scheduled newsletter into `var/outbox` at its
/// cron time, each minute slot exactly once, even with a second daemon on the same SQLite
/// database.
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
