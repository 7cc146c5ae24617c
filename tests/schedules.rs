//! Recurring campaigns fire once per slot, coalesce after downtime, and never twice, also when
//! two daemons ask at the same moment. Time is passed in, so nothing waits for a clock.

mod common;

use chrono::TimeZone;
use netzpost::config::Config;
use netzpost::outbound::campaign::{self, CreateArgs};
use netzpost::outbound::sender::Composer;
use netzpost::store::{self, campaigns::Audience, campaigns::CampaignKind};
use std::sync::Arc;

fn berlin(y: i32, m: u32, d: u32, h: u32, min: u32) -> chrono::DateTime<chrono::Utc> {
    chrono_tz::Europe::Berlin
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

#[tokio::test]
async fn weekday_schedule_fires_once_per_slot_and_coalesces_downtime() {
    let (db, dir) = common::sqlite().await;
    let mut cfg = Config {
        secret: "schedules-test-secret-schedules-test".into(),
        database: format!("sqlite://{}", dir.path().join("t.db").display()),
        ..Config::default()
    };
    cfg.outbound.outbox = dir.path().join("outbox");
    let cfg = Arc::new(cfg);
    store::topics::add(&db, "kultur", "Kultur", None)
        .await
        .unwrap();
    let composer = Composer::new(cfg.clone()).unwrap();
    let template = campaign::create(
        &db,
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
    assert_eq!(template.status, "scheduled");
    let bad = campaign::create(
        &db,
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
    netzpost::on_db!(&db, p => {
        sqlx::query("UPDATE campaigns SET created_at = $1")
            .bind(berlin(2026, 11, 1, 0, 0))
            .execute(p)
            .await
            .unwrap();
    });

    // Monday 2026-11-23, 08:59: nothing due yet.
    let fired = campaign::fire_schedules(&db, &cfg, berlin(2026, 11, 23, 8, 59))
        .await
        .unwrap();
    // The slots since 1 November coalesce into one run: the latest (Friday 20 Nov, 09:00).
    assert_eq!(fired, ["wochenbrief-20261120-0900"]);
    // 09:00 Monday: exactly one new run; asking again at the same moment fires nothing.
    let fired = campaign::fire_schedules(&db, &cfg, berlin(2026, 11, 23, 9, 0))
        .await
        .unwrap();
    assert_eq!(fired, ["wochenbrief-20261123-0900"]);
    assert!(
        campaign::fire_schedules(&db, &cfg, berlin(2026, 11, 23, 9, 0))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        campaign::fire_schedules(&db, &cfg, berlin(2026, 11, 23, 17, 0))
            .await
            .unwrap()
            .is_empty()
    );
    // Down from Tuesday 08:00 to Thursday 12:00: one run for Thursday's slot, not three.
    let fired = campaign::fire_schedules(&db, &cfg, berlin(2026, 11, 26, 12, 0))
        .await
        .unwrap();
    assert_eq!(fired, ["wochenbrief-20261126-0900"]);
    // Two daemons asking for Friday's slot at once: one run between them.
    let (a, b) = tokio::join!(
        campaign::fire_schedules(&db, &cfg, berlin(2026, 11, 27, 9, 0)),
        campaign::fire_schedules(&db, &cfg, berlin(2026, 11, 27, 9, 0)),
    );
    assert_eq!(a.unwrap().len() + b.unwrap().len(), 1);
    // Saturday and Sunday have no slot (1-5 is Monday to Friday).
    assert!(
        campaign::fire_schedules(&db, &cfg, berlin(2026, 11, 29, 23, 0))
            .await
            .unwrap()
            .is_empty()
    );
    let runs = store::campaigns::list(&db).await.unwrap();
    assert_eq!(
        runs.iter()
            .filter(|r| r.name.starts_with("wochenbrief-"))
            .count(),
        4
    );
}
