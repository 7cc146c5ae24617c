//! The activation ladder as audiences: said yes to an occasion, came, said yes but did not come,
//! came often without a cooperation, declined the last invitations; and who declined often rests
//! from invitations for a while.

use crate::support::db::{create_postgres_database, Arg};
use crate::support::{App, Backend};
use netzpost::activation::{self, Attendance, Cause};
use netzpost::domain::{ContactId, OccasionId, TopicId};
use netzpost::store;
use netzpost::store::campaigns::{Audience, CampaignKind, Ladder, NewCampaign};

each_db!(async
    ladder_audiences_pick_each_step,
    who_declined_the_last_invitations_rests_before_the_next,
);

fn cause() -> Cause {
    Cause::Admin { by: "test".into() }
}

/// An app whose invitations may follow each other at once (the gap between them is tested
/// elsewhere).
async fn app(backend: Backend) -> App {
    match backend {
        Backend::Sqlite => App::start_with(|c| c.outbound.invitation_every_days = 0).await,
        Backend::Postgres => {
            let url = create_postgres_database().await;
            App::start_with(|c| {
                c.database = url;
                c.outbound.invitation_every_days = 0;
            })
            .await
        }
    }
}

async fn answer(a: &App, contact: i64, o: i64, yes: bool) {
    a.answer(contact, &a.occasion(o).await, yes).await;
}

async fn attended(a: &App, contact: i64, o: i64, came: bool) {
    let o = a.occasion(o).await;
    let what = if came {
        Attendance::Came
    } else {
        Attendance::NoShow
    };
    activation::record_attendance(&a.db, ContactId(contact), &o, what, &cause())
        .await
        .unwrap();
}

/// A campaign of `kind` on `topic` for `audience`, unsent.
async fn campaign(
    a: &App,
    name: &str,
    kind: CampaignKind,
    topic: i64,
    audience: Audience,
) -> store::campaigns::Campaign {
    store::campaigns::create(
        &a.db,
        &NewCampaign {
            name: name.into(),
            kind,
            topic_id: Some(TopicId(topic)),
            occasion_id: None,
            subject: "Weiter?".into(),
            body: "x".into(),
            translations: Default::default(),
            audience,
            schedule: None,
            send_at: None,
            parent_id: None,
        },
    )
    .await
    .unwrap()
}

/// The addresses a call for cooperation for `ladder` on `topic` would mail now, sorted.
async fn who(a: &App, name: &str, topic: i64, ladder: Ladder) -> Vec<String> {
    who_by(a, name, CampaignKind::Cooperation, topic, ladder).await
}

/// The addresses a campaign of `kind` for `ladder` on `topic` would mail now, sorted.
async fn who_by(
    a: &App,
    name: &str,
    kind: CampaignKind,
    topic: i64,
    ladder: Ladder,
) -> Vec<String> {
    let c = campaign(
        a,
        name,
        kind,
        topic,
        Audience {
            ladder: Some(ladder),
            ..Audience::default()
        },
    )
    .await;
    let caps = netzpost::outbound::campaign::caps(&a.cfg);
    store::campaigns::enqueue(&a.db, &c, caps).await.unwrap();
    let mut v = a
        .sql
        .column(
            &format!(
                "SELECT c.email FROM deliveries d JOIN contacts c ON c.id = d.contact_id
                 WHERE d.campaign_id = {}",
                c.id.get()
            ),
            &[],
        )
        .await;
    v.sort();
    v
}

async fn ladder_audiences_pick_each_step(backend: Backend) {
    let a = app(backend).await;
    let t = a.topic("nachbarschaft").await;
    let other = a.topic("garten").await;
    let now = chrono::Utc::now();
    let (_, o1) = a
        .invitation_at(t, "fest", now - chrono::Duration::days(20))
        .await;
    let (_, o2) = a
        .invitation_at(t, "cafe", now - chrono::Duration::days(10))
        .await;
    let (_, old) = a
        .invitation_at(t, "alt", now - chrono::Duration::days(500))
        .await;
    let (_, g) = a
        .invitation_at(other, "beet", now - chrono::Duration::days(5))
        .await;
    let often = a.contact("often@example.org", vec![t, other]).await;
    let coop = a.contact("coop@example.org", vec![t]).await;
    let once = a.contact("once@example.org", vec![t]).await;
    let unrecorded = a.contact("unrecorded@example.org", vec![t]).await;
    let no = a.contact("no@example.org", vec![t]).await;
    let long_ago = a.contact("longago@example.org", vec![t, other]).await;
    a.contact("quiet@example.org", vec![t]).await;
    for c in [often, coop, once, unrecorded] {
        answer(&a, c, o1, true).await;
    }
    answer(&a, no, o1, false).await;
    for c in [often, coop, once] {
        attended(&a, c, o1, true).await;
    }
    for c in [often, coop] {
        attended(&a, c, o2, true).await;
    }
    answer(&a, once, o2, true).await;
    attended(&a, once, o2, false).await;
    activation::express_cooperation(&a.db, ContactId(coop), Some(TopicId(t)), None, &cause())
        .await
        .unwrap();
    // Came twice too, but once long ago and once to another topic's occasion.
    attended(&a, long_ago, old, true).await;
    attended(&a, long_ago, o1, true).await;
    attended(&a, long_ago, g, true).await;

    let mail = |s: &[&str]| {
        s.iter()
            .map(|n| format!("{n}@example.org"))
            .collect::<Vec<_>>()
    };
    let o = |id| OccasionId(id);
    assert_eq!(
        who(&a, "said-yes", t, Ladder::SaidYes { occasion: o(o1) }).await,
        mail(&["coop", "longago", "often", "once", "unrecorded"])
    );
    assert_eq!(
        who(&a, "came", t, Ladder::Came { occasion: o(o1) }).await,
        mail(&["coop", "longago", "often", "once"])
    );
    // Nothing recorded for the one who said yes, and the occasion is over: did not come.
    assert_eq!(
        who(&a, "no-show-1", t, Ladder::NoShow { occasion: o(o1) }).await,
        mail(&["unrecorded"])
    );
    assert_eq!(
        who(&a, "no-show-2", t, Ladder::NoShow { occasion: o(o2) }).await,
        mail(&["once"])
    );
    // Came twice in the last year, without a cooperation.
    let regular = Ladder::Regular {
        topic: TopicId(t),
        min: 2,
        months: 12,
    };
    assert_eq!(who(&a, "regular", t, regular).await, mail(&["often"]));
    let regular_long = Ladder::Regular {
        topic: TopicId(t),
        min: 2,
        months: 24,
    };
    assert_eq!(
        who(&a, "regular-24", t, regular_long).await,
        mail(&["longago", "often"])
    );
}

async fn who_declined_the_last_invitations_rests_before_the_next(backend: Backend) {
    let a = app(backend).await;
    let t = a.topic("nachbarschaft").await;
    let later = chrono::Utc::now() + chrono::Duration::days(30);
    let mut occasions = Vec::new();
    let d3 = a.contact("d3@example.org", vec![t]).await;
    let d2 = a.contact("d2@example.org", vec![t]).await;
    a.contact("fresh@example.org", vec![t]).await;
    for (i, name) in ["eins", "zwei", "drei"].iter().enumerate() {
        let (c, o) = a
            .invitation_at(t, name, later + chrono::Duration::days(i as i64))
            .await;
        a.send_campaign(c).await;
        // Each invitation reached them on a day of its own, the last one yesterday.
        a.sql
            .exec(
                "UPDATE deliveries SET sent_at = $1 WHERE campaign_id = $2",
                &[
                    Arg::Time(chrono::Utc::now() - chrono::Duration::days(3 - i as i64)),
                    c.into(),
                ],
            )
            .await;
        occasions.push(o);
    }
    for &o in &occasions {
        answer(&a, d3, o, false).await;
    }
    // Declined two, then said yes to the last: no run of declines.
    answer(&a, d2, occasions[0], false).await;
    answer(&a, d2, occasions[1], false).await;
    answer(&a, d2, occasions[2], true).await;

    // A newsletter to them ("we miss you"): an invitation would find them resting, below.
    let news = CampaignKind::Newsletter;
    assert_eq!(
        who_by(&a, "declined-3", news, t, Ladder::Declined { last: 3 }).await,
        vec!["d3@example.org".to_string()]
    );
    assert_eq!(
        who_by(&a, "declined-1", news, t, Ladder::Declined { last: 1 }).await,
        vec!["d3@example.org".to_string()]
    );
    assert!(
        who_by(&a, "declined-4", news, t, Ladder::Declined { last: 4 })
            .await
            .is_empty()
    );

    // The next invitation (to everyone, silent or not) leaves d3 out while they rest
    // (`occasions.rest_after_declines` = 3 for `rest_days` = 90 days by default).
    let everyone = Audience {
        silent: Some(false),
        ..Audience::default()
    };
    let next = campaign(&a, "vier", CampaignKind::Invitation, t, everyone.clone()).await;
    let caps = netzpost::outbound::campaign::caps(&a.cfg);
    let reach = store::audience::count(&a.db, &next, caps).await.unwrap();
    assert_eq!(
        (reach.audience, reach.reached, reach.capped),
        (3, 2, 1),
        "{reach:?}"
    );
    // A newsletter is no invitation: it still reaches them.
    let news = campaign(&a, "brief", CampaignKind::Newsletter, t, everyone.clone()).await;
    let reach = store::audience::count(&a.db, &news, caps).await.unwrap();
    assert_eq!((reach.reached, reach.capped), (3, 0), "{reach:?}");
    // Once the last of those invitations is longer ago than the rest, they are invited again.
    a.sql
        .exec(
            "UPDATE deliveries SET sent_at = $1",
            &[Arg::Time(chrono::Utc::now() - chrono::Duration::days(91))],
        )
        .await;
    let reach = store::audience::count(&a.db, &next, caps).await.unwrap();
    assert_eq!((reach.reached, reach.capped), (3, 0), "{reach:?}");
}
