//! An occasion's own mails: the reminder goes once to those whose yes stands (also moved up
//! from the waiting list), the follow-up once to the invited who did not answer (consent and
//! caps respected), the thank-you to those who came; on PostgreSQL two daemons queue and send
//! at once and each person still gets one mail.

use crate::support::{App, Backend};
use netzpost::activation::{self, Attendance, Cause};
use netzpost::domain::ContactId;
use netzpost::outbound::occasion_mails::{queue_due, thank};
use netzpost::store::{self, occasion_mails::NextStep, Db};

each_db!(async
    reminder_goes_once_to_those_who_said_yes,
    follow_up_goes_once_to_the_silent_invited_with_consent,
    thanks_go_to_those_who_came,
    api_and_cli_set_the_days_and_thank,
);

fn cause() -> Cause {
    Cause::Admin { by: "test".into() }
}

/// Mails in the outbox to `email` whose text contains `marker`.
fn mails_to(a: &App, email: &str, marker: &str) -> usize {
    a.mails()
        .iter()
        .filter(|m| m.contains(&format!("To: {email}")) || m.contains(&format!("<{email}>")))
        .filter(|m| m.contains(marker))
        .count()
}

async fn reminder_goes_once_to_those_who_said_yes(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let starts = chrono::Utc::now() + chrono::Duration::days(3);
    let people = ["first", "moved", "waits", "silent", "gone", "yes"];
    let (oid, [first, moved, waits, silent, gone, yes]) =
        a.invited(t, "fest", starts, people).await;
    a.sql.exec("UPDATE occasions SET capacity = 3", &[]).await;
    let o = a.occasion(oid).await;
    for c in [first, yes, gone, moved, waits] {
        a.answer(c, &o, true).await;
    }
    // A place comes free: the first in line moves up, the second still waits.
    a.answer(first, &o, false).await;
    a.withdraw_all(gone).await;
    let _ = silent;

    // Three days before: not yet due.
    let now = chrono::Utc::now();
    let q = queue_due(&a.db, &a.cfg, now).await.unwrap();
    assert_eq!(q.reminders, 0);
    // Two days before (the default): yes and moved up; not the declined, the waiting, the
    // silent, nor the one whose consent is gone.
    let due = starts - chrono::Duration::days(2) + chrono::Duration::minutes(1);
    let q = queue_due(&a.db, &a.cfg, due).await.unwrap();
    assert_eq!(q.reminders, 2, "{q:?}");
    a.engine.run_until_idle().await.unwrap();
    for (who, n) in [
        ("yes", 1),
        ("moved", 1),
        ("first", 0),
        ("waits", 0),
        ("silent", 0),
        ("gone", 0),
    ] {
        assert_eq!(
            mails_to(&a, &format!("{who}@example.org"), "Erinnerung"),
            n,
            "{who}"
        );
    }
    let mail = a
        .mails()
        .into_iter()
        .find(|m| m.contains("Erinnerung") && m.contains("yes@example.org"))
        .unwrap();
    assert!(mail.contains("doch nicht kommen"), "{mail}");
    assert!(mail.contains("/no"), "the RSVP no link: {mail}");
    // Again, and later: nobody twice.
    let q = queue_due(&a.db, &a.cfg, due + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(q.reminders, 0);
    a.engine.run_until_idle().await.unwrap();
    assert_eq!(mails_to(&a, "yes@example.org", "Erinnerung"), 1);
    // Off for this occasion: nothing for a new yes.
    store::occasion_mails::set_days(&a.db, o.id, Some(0), None)
        .await
        .unwrap();
    let o = a.occasion(oid).await;
    assert_eq!(o.reminder_days, Some(0));
}

async fn follow_up_goes_once_to_the_silent_invited_with_consent(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let starts = chrono::Utc::now() + chrono::Duration::days(20);
    let people = ["silent", "no", "gone", "later", "late"];
    let (oid, [silent, said_no, gone, later, answers_late]) =
        a.invited(t, "cafe", starts, people).await;
    let _ = silent;
    let o = a.occasion(oid).await;
    a.answer(said_no, &o, false).await;
    a.withdraw_all(gone).await;
    // Asked to be invited again only next year: the follow-up respects it like any invitation.
    a.sql
        .exec(
            "INSERT INTO wishes (contact_id, topic_id, wish, not_before, created_at)
             VALUES ($1, $2, '2099-01', $3, $3)",
            &[later.into(), t.into(), netzpost::store::now().into()],
        )
        .await;
    a.sql
        .exec(
            "UPDATE wishes SET not_before = $1",
            &[(chrono::Utc::now() + chrono::Duration::days(365)).into()],
        )
        .await;

    let now = chrono::Utc::now();
    let q = queue_due(&a.db, &a.cfg, now + chrono::Duration::days(4))
        .await
        .unwrap();
    assert_eq!(q.follow_ups, 0, "not yet five days");
    let q = queue_due(&a.db, &a.cfg, now + chrono::Duration::days(6))
        .await
        .unwrap();
    assert_eq!(q.follow_ups, 2, "{q:?}");
    // An answer between the queuing and the send: the follow-up is no longer sent.
    a.answer(answers_late, &o, true).await;
    a.engine.run_until_idle().await.unwrap();
    assert_eq!(mails_to(&a, "late@example.org", "Noch einmal"), 0);
    assert_eq!(mails_to(&a, "silent@example.org", "Noch einmal"), 1);
    for who in ["no", "gone", "later"] {
        assert_eq!(
            mails_to(&a, &format!("{who}@example.org"), "Noch einmal"),
            0,
            "{who}"
        );
    }
    let q = queue_due(&a.db, &a.cfg, now + chrono::Duration::days(7))
        .await
        .unwrap();
    assert_eq!(q.follow_ups, 0, "once only");
    // A campaign of its own that `campaigns send` refuses (it would mail the whole topic).
    let c =
        store::occasion_mails::existing(&a.db, o.id, store::occasion_mails::OccasionMail::FollowUp)
            .await
            .unwrap()
            .unwrap();
    assert!(netzpost::outbound::campaign::start(&a.db, &a.cfg, &c)
        .await
        .is_err());
}

async fn thanks_go_to_those_who_came(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let starts = chrono::Utc::now() - chrono::Duration::hours(3);
    let (_, oid) = a.invitation_at(t, "fest", starts).await;
    let came = a.contact("came@example.org", vec![t]).await;
    let away = a.contact("away@example.org", vec![t]).await;
    let o = a.occasion(oid).await;
    activation::record_attendance(&a.db, ContactId(came), &o, Attendance::Came, &cause())
        .await
        .unwrap();
    activation::record_attendance(&a.db, ContactId(away), &o, Attendance::NoShow, &cause())
        .await
        .unwrap();
    let n = thank(
        &a.db,
        "fest",
        NextStep::Cooperation,
        "Bis bald!",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    a.engine.run_until_idle().await.unwrap();
    assert_eq!(mails_to(&a, "came@example.org", "Danke"), 1);
    assert_eq!(mails_to(&a, "away@example.org", "Danke"), 0);
    let mail = a
        .mails()
        .into_iter()
        .find(|m| m.contains("came@example.org"))
        .unwrap();
    assert!(mail.contains("Bis bald!"), "{mail}");
    assert!(mail.contains("/cooperation"), "{mail}");
    assert!(
        !mail.contains("text/calendar"),
        "no calendar entry after the occasion"
    );
    // Again: nobody twice.
    let n = thank(&a.db, "fest", NextStep::Cooperation, "", chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(n, 0);
    // Before an occasion there is nobody to thank.
    a.invitation_at(t, "bald", chrono::Utc::now() + chrono::Duration::days(1))
        .await;
    let err = thank(&a.db, "bald", NextStep::None, "", chrono::Utc::now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not taken place"), "{err}");
}

/// Two daemons, each with its own pool and sender, queue and send the reminders of one
/// occasion at the same moment: each person gets one.
#[tokio::test]
#[ignore = "needs PostgreSQL: set NETZPOST_TEST_POSTGRES_URL"]
async fn two_daemons_on_postgres_send_each_reminder_once() {
    let a = App::on(Backend::Postgres).await;
    let t = a.topic("nachbarschaft").await;
    let starts = chrono::Utc::now() + chrono::Duration::days(3);
    let names: [String; 30] = std::array::from_fn(|n| format!("p{n}"));
    let (oid, people) = a
        .invited(t, "fest", starts, names.each_ref().map(String::as_str))
        .await;
    let o = a.occasion(oid).await;
    for &c in &people {
        a.answer(c, &o, true).await;
    }
    let two = Db::connect(&a.cfg.database).await.unwrap();
    let engine2 = netzpost::outbound::sender::Engine::new(two.clone(), a.cfg.clone())
        .await
        .unwrap();
    let due = starts - chrono::Duration::days(2) + chrono::Duration::minutes(1);
    let (q1, q2) = tokio::join!(queue_due(&a.db, &a.cfg, due), queue_due(&two, &a.cfg, due));
    assert_eq!(q1.unwrap().reminders + q2.unwrap().reminders, 30);
    let (s1, s2) = tokio::join!(a.engine.run_until_idle(), engine2.run_until_idle());
    s1.unwrap();
    s2.unwrap();
    for n in 0..30 {
        assert_eq!(
            mails_to(&a, &format!("p{n}@example.org"), "Erinnerung"),
            1,
            "p{n}"
        );
    }
}

async fn api_and_cli_set_the_days_and_thank(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let (_, soon) = a
        .invitation_at(t, "bald", chrono::Utc::now() + chrono::Duration::days(4))
        .await;
    let (_, past) = a
        .invitation_at(t, "vorbei", chrono::Utc::now() - chrono::Duration::hours(2))
        .await;
    let came = a.contact("came@example.org", vec![t]).await;
    let o = a.occasion(past).await;
    activation::record_attendance(&a.db, ContactId(came), &o, Attendance::Came, &cause())
        .await
        .unwrap();
    let api = a.api_caller("coordinator").await;
    let r = api
        .send_json(
            reqwest::Method::PATCH,
            "/occasions/bald",
            serde_json::json!({"reminder_days": 1, "follow_up_days": 0}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let o = a.occasion(soon).await;
    assert_eq!((o.reminder_days, o.follow_up_days), (Some(1), Some(0)));
    let r = api
        .send_json(
            reqwest::Method::PATCH,
            "/occasions/bald",
            serde_json::json!({"reminder_days": -1}),
        )
        .await;
    assert_eq!(r.status(), 422, "negative days are refused");
    // Thanks before the occasion: a conflict that says why.
    let r = api
        .send_json(
            reqwest::Method::POST,
            "/occasions/bald/thank",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("not taken place"));
    let r = api
        .send_json(
            reqwest::Method::POST,
            "/occasions/vorbei/thank",
            serde_json::json!({"next": "gruppe"}),
        )
        .await;
    assert_eq!(r.status(), 422, "an unknown next step");
    let r: serde_json::Value = api
        .send_json(
            reqwest::Method::POST,
            "/occasions/vorbei/thank",
            serde_json::json!({"next": "group", "text": "Bis zum nächsten Mal!"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["queued"], 1, "{r}");
    // The command line: days shown back, a second thank-you reaches nobody new.
    let out = a.cli(&["occasions", "edit", "bald", "--follow-up-days", "3"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.contains("reminder 1 day before, follow-up 3 days after the invitation"),
        "{text}"
    );
    let out = a.cli(&["occasions", "thank", "vorbei", "--next", "none"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("queued for 0"));
    a.engine.run_until_idle().await.unwrap();
    let mail = a
        .mails()
        .into_iter()
        .find(|m| m.contains("came@example.org"))
        .unwrap();
    assert!(mail.contains("Gruppe"), "{mail}");
}

/// The daemon queues a due reminder by itself and sends it.
#[test]
fn the_daemon_sends_a_due_reminder_by_itself() {
    use crate::support::{Person, Workspace};
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "nachbarschaft"]);
    let people = [
        Person::new("ja@nachbarn.example", "Ja", "en"),
        Person::new("still@nachbarn.example", "Still", "de"),
    ];
    ws.import_ok(&people, "nachbarschaft", "confirmed");
    let start = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    ws.ok(&[
        "occasions",
        "add",
        "fest",
        "--title",
        "Hoffest",
        "--start",
        &start,
        "--topic",
        "nachbarschaft",
    ]);
    ws.ok(&[
        "campaigns",
        "create",
        "einladung",
        "--kind",
        "invitation",
        "--occasion",
        "fest",
    ]);
    ws.ok(&["campaigns", "send", "einladung", "--wait"]);
    let invitation = ws
        .outbox_messages()
        .into_iter()
        .find(|m| m.envelope_to[0] == "ja@nachbarn.example")
        .unwrap();
    let raw = format!(
        "From: ja@nachbarn.example\r\nTo: {}\r\nSubject: Re: Einladung\r\nMessage-ID: <r1@nachbarn.example>\r\n\
         Date: Mon, 9 Dec 2030 10:15:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYes, I'll come!\r\n",
        invitation.header("Reply-To")
    );
    ws.np(&["inbound", "ingest", "-"])
        .write_stdin(raw)
        .assert()
        .success();
    // The yes was given before the reminder's moment (two days before the start).
    let url = format!("sqlite://{}", ws.path().join("var/netzpost.db").display());
    crate::support::db::block_on(async {
        crate::support::db::Sql::new(&url)
            .exec(
                "UPDATE relations SET updated_at = $1",
                &[(chrono::Utc::now() - chrono::Duration::days(3)).into()],
            )
            .await
    });
    let mut daemon = ws.serve("serve");
    let reminder = crate::support::wait_for(
        "the reminder",
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(200),
        || {
            daemon.assert_running();
            ws.outbox_messages().into_iter().find(|m| {
                m.envelope_to[0] == "ja@nachbarn.example"
                    && m.text.as_deref().is_some_and(|t| t.contains("reminder"))
            })
        },
    );
    let text = reminder.text.unwrap();
    assert!(text.contains("Hoffest"), "{text}");
    assert!(text.contains("/no"), "{text}");
    assert!(!ws
        .outbox_messages()
        .iter()
        .any(|m| m.envelope_to[0] == "still@nachbarn.example"
            && m.text.as_deref().is_some_and(|t| t.contains("Erinnerung"))));
}
