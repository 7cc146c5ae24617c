//! Retention (issue 17): the daily job deletes what the limits say and nothing else, and runs
//! once a day however many daemons share the database.

use crate::support::db::Arg;
use crate::support::{App, Backend};
use chrono::{Duration, Utc};
use netzpost::store;

each_db!(async
    retention_deletes_what_it_should_and_nothing_else,
    a_daily_job_runs_once_a_day_whatever_the_number_of_daemons,
);

/// An inbound message received `days` ago with `status`; returns its id.
async fn message(a: &App, n: i64, days: i64, status: &str, contact: i64) -> i64 {
    let raw = format!("From: r@example.org\r\nMessage-ID: <m{n}@example.org>\r\n\r\nText {n}\r\n");
    a.sql
        .i64(
            "INSERT INTO inbound_messages (dedup_key, raw, source, received_at, status, visible_text, contact_id)
             VALUES ($1, $2, 'test', $3, $4, $5, $6) RETURNING id",
            &[
                format!("mid:m{n}").into(),
                raw.into_bytes().into(),
                (Utc::now() - Duration::days(days)).into(),
                status.into(),
                format!("Text {n}").into(),
                contact.into(),
            ],
        )
        .await
}

/// A pending review decision about message `inbound`, created `days` ago.
async fn decision(a: &App, inbound: i64, days: i64) -> i64 {
    a.sql
        .i64(
            "INSERT INTO decisions (inbound_id, action, status, confidence, reason, plan, created_at)
             VALUES ($1, 'question', 'pending', 0.4, 'unsure', '{\"action\":\"question\"}', $2) RETURNING id",
            &[inbound.into(), Arg::Time(Utc::now() - Duration::days(days))],
        )
        .await
}

async fn raw_len(a: &App, id: i64) -> i64 {
    a.sql
        .i64(
            "SELECT LENGTH(raw) FROM inbound_messages WHERE id = $1",
            &[id.into()],
        )
        .await
}

/// A campaign `name` with status `status` finished `days` ago, delivered to `contacts` with
/// `statuses`.
async fn campaign(
    a: &App,
    topic: i64,
    name: &str,
    status: &str,
    days: i64,
    to: &[(i64, &str)],
) -> i64 {
    let k = netzpost::store::campaigns::create(
        &a.db,
        &netzpost::store::campaigns::NewCampaign {
            name: name.into(),
            kind: netzpost::store::campaigns::CampaignKind::Newsletter,
            topic_id: Some(topic.into()),
            occasion_id: None,
            subject: "Hallo".into(),
            body: "Text".into(),
            translations: Default::default(),
            audience: Default::default(),
            schedule: None,
            send_at: None,
            parent_id: None,
        },
    )
    .await
    .unwrap()
    .id
    .get();
    a.sql
        .exec(
            "UPDATE campaigns SET status = $1, finished_at = $2 WHERE id = $3",
            &[
                status.into(),
                Arg::Time(Utc::now() - Duration::days(days)),
                k.into(),
            ],
        )
        .await;
    for (c, s) in to {
        a.sql
            .exec(
                "INSERT INTO deliveries (campaign_id, contact_id, status, next_attempt_at, created_at)
                 VALUES ($1, $2, $3, $4, $4)",
                &[k.into(), (*c).into(), (*s).into(), Arg::Time(Utc::now() - Duration::days(days + 1))],
            )
            .await;
    }
    k
}

async fn retention_deletes_what_it_should_and_nothing_else(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let c1 = a.contact("eins@example.org", vec![t]).await;
    let c2 = a.contact("zwei@example.org", vec![t]).await;
    let c3 = a.contact("drei@example.org", vec![t]).await;
    // Defaults: raw 90 days, reviews 60 days, delivery rows 180 days after the campaign ended.
    let old = message(&a, 1, 100, "processed", c1).await;
    let recent = message(&a, 2, 10, "processed", c1).await;
    let in_flight = message(&a, 3, 100, "new", c1).await;
    let waiting = message(&a, 4, 100, "processed", c2).await;
    let quarantined = message(&a, 5, 95, "quarantined", c2).await;
    let stale_review_msg = message(&a, 6, 100, "processed", c3).await;
    let waiting_review = decision(&a, waiting, 5).await;
    let stale_review = decision(&a, stale_review_msg, 70).await;
    let finished_long_ago = campaign(
        &a,
        t,
        "alt",
        "done",
        200,
        &[(c1, "sent"), (c2, "sent"), (c3, "failed")],
    )
    .await;
    let finished_lately = campaign(&a, t, "neu", "done", 10, &[(c1, "sent")]).await;
    let running = campaign(&a, t, "laeuft", "running", 300, &[(c2, "queued")]).await;
    let raw_before = raw_len(&a, recent).await;
    assert!(raw_before > 0);

    let report = netzpost::retention::run(&a.db, &a.cfg, Utc::now())
        .await
        .unwrap();
    assert_eq!(report.reviews_closed, 1, "{report:?}");
    assert_eq!(report.raw_messages_deleted, 3, "{report:?}");
    assert_eq!(report.campaigns_aggregated, 1, "{report:?}");
    assert_eq!(report.delivery_rows_aggregated, 3, "{report:?}");

    // Raw bytes: gone for the old processed and quarantined ones and the one whose review
    // closed; kept for the recent one, the one in flight and the one waiting for review.
    for gone in [old, quarantined, stale_review_msg] {
        assert_eq!(raw_len(&a, gone).await, 0, "message {gone}");
    }
    for kept in [recent, in_flight, waiting] {
        assert!(raw_len(&a, kept).await > 0, "message {kept}");
    }
    // The visible text stays.
    let text = a
        .sql
        .column(
            "SELECT visible_text FROM inbound_messages WHERE id = $1",
            &[old.into()],
        )
        .await;
    assert_eq!(text, ["Text 1"]);
    let statuses = a
        .sql
        .rows(
            "SELECT id, status, COALESCE(decided_by, '') FROM decisions ORDER BY id",
            &[],
        )
        .await;
    assert_eq!(
        statuses,
        [
            vec![waiting_review.to_string(), "pending".into(), "".into()],
            vec![
                stale_review.to_string(),
                "rejected".into(),
                "retention".into()
            ],
        ]
    );
    // Deliveries: the old campaign's rows became totals, which its progress still counts.
    let rows = |k: i64| {
        let sql = a.sql.clone();
        async move {
            sql.i64(
                "SELECT COUNT(*) FROM deliveries WHERE campaign_id = $1",
                &[k.into()],
            )
            .await
        }
    };
    assert_eq!(rows(finished_long_ago).await, 0);
    assert_eq!(rows(finished_lately).await, 1);
    assert_eq!(rows(running).await, 1);
    let p = store::campaigns::progress(&a.db, finished_long_ago.into())
        .await
        .unwrap();
    assert_eq!((p.sent, p.failed), (2, 1));
    let listed = store::campaigns::list(&a.db).await.unwrap();
    let alt = listed.iter().find(|k| k.name == "alt").unwrap();
    assert_eq!((alt.sent, alt.failed), (2, 1));
    // Contacts, consents and the timeline are not retention's business.
    assert_eq!(a.sql.i64("SELECT COUNT(*) FROM contacts", &[]).await, 3);
    assert_eq!(a.status(c1, t).await.as_deref(), Some("confirmed"));

    // A second run finds nothing more to do.
    let again = netzpost::retention::run(&a.db, &a.cfg, Utc::now())
        .await
        .unwrap();
    assert_eq!(again, Default::default());
}

async fn a_daily_job_runs_once_a_day_whatever_the_number_of_daemons(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let c = a.contact("eins@example.org", vec![t]).await;
    let old = message(&a, 1, 100, "processed", c).await;
    // Three daemons at once.
    let (r1, r2, r3) = tokio::join!(
        netzpost::daily::run_due(&a.db, &a.cfg, None),
        netzpost::daily::run_due(&a.db, &a.cfg, None),
        netzpost::daily::run_due(&a.db, &a.cfg, None),
    );
    r1.unwrap();
    r2.unwrap();
    r3.unwrap();
    assert_eq!(raw_len(&a, old).await, 0);
    let runs = a.sql.rows("SELECT job, report FROM daily_runs", &[]).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0][0], "retention");
    assert!(
        runs[0][1].contains("\"raw_messages_deleted\":1"),
        "{runs:?}"
    );
    // Later the same day: nothing runs again, even with a new old message.
    let later = message(&a, 2, 100, "processed", c).await;
    netzpost::daily::run_due(&a.db, &a.cfg, None).await.unwrap();
    assert!(raw_len(&a, later).await > 0, "tomorrow's work");
}
