//! The store on both backends: each scenario on a fresh SQLite database in plain `cargo test`
//! and on a fresh PostgreSQL database with `--ignored` (NETZPOST_TEST_POSTGRES_URL).

use crate::support::{Backend, TestDb};
use netzpost::domain::{ConsentStatus, InboundId, RelationForm, RelationStatus};
use netzpost::import;
use netzpost::store::{self, contacts::ContactFilter, Db};
use std::io::Write;

each_db!(async
    a_second_migration_run_is_a_no_op,
    topic_names_are_unique_slugs,
    import_1000_rows_with_20_bad,
    silent_contacts_are_the_confirmed_without_relation_or_recent_reply,
    a_forgotten_address_stays_out_of_later_imports,
    wishes_defer_invitations,
    an_rsvp_twice_is_one_relation_counted_with_its_party,
    replies_bring_party_size_and_wishes,
    a_silent_sender_is_taken_over_once_and_learns_it,
);

async fn a_second_migration_run_is_a_no_op(backend: Backend) {
    let t = TestDb::new(backend).await;
    assert_eq!(
        t.db.migrate().await.unwrap(),
        0,
        "second migration run is a no-op"
    );
}

async fn topic_names_are_unique_slugs(backend: Backend) {
    let t = TestDb::new(backend).await;
    let db = &t.db;
    store::topics::add(db, "kultur", "Kultur im Quartier", None)
        .await
        .unwrap();
    let dup = store::topics::add(db, "kultur", "x", None)
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("exists already"), "{dup}");
    let bad = store::topics::add(db, "Kultur Süd", "x", None)
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("invalid name"), "{bad}");
    store::topics::add(db, "temp", "Temp", None).await.unwrap();
    store::topics::remove(db, "temp", false).await.unwrap();
    let list = store::topics::list(db).await.unwrap();
    assert_eq!(
        list.iter().map(|t| t.slug.as_str()).collect::<Vec<_>>(),
        ["kultur"]
    );
}

/// Writes the 1,000-row file of the issue: 20 rows are bad in four ways, 980 land.
fn thousand_rows() -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    writeln!(f, "E-Mail;Vorname;Nachname;Sprache;Stadtteil").unwrap();
    for i in 0..1000 {
        let line = match (i % 50, (i / 50) % 4) {
            (7, 0) => format!("person{i}(at)example.de;P;{i};de;Nord"),
            (7, 1) => "person0@example.de;Dup;Licate;de;Nord".to_string(),
            (7, 2) => format!("person{i}@example.de;P;{i};Klingonisch;Nord"),
            (7, _) => format!("person{i}@example.de;P;{i}"),
            _ => format!(
                "Person{i}@Example.de;Person;Nr. {i};{};\"Süd; Ost\"",
                if i % 3 == 0 { "en" } else { "de" }
            ),
        };
        writeln!(f, "{line}").unwrap();
    }
    f.flush().unwrap();
    f
}

async fn import_1000_rows_with_20_bad(backend: Backend) {
    let t = TestDb::new(backend).await;
    let db = &t.db;
    store::topics::add(db, "kultur", "Kultur im Quartier", None)
        .await
        .unwrap();
    let file = thousand_rows();
    let opts = import::Options {
        topics: &["kultur".to_string()],
        only_topics: None,
        consent: ConsentStatus::Confirmed,
        source: Some("test"),
        batch_size: 300,
        progress: false,
    };
    let report = import::run(db, file.path(), &opts).await.unwrap();
    assert_eq!(
        (report.created, report.updated, report.rejected),
        (980, 0, 20)
    );
    assert_eq!(store::contacts::count(db).await.unwrap(), 980);
    let reasons: Vec<&str> = report.rejects.iter().map(|r| r.reason.as_str()).collect();
    for want in [
        "invalid address",
        "duplicate of line 2",
        "bad language",
        "broken line",
    ] {
        assert_eq!(
            reasons.iter().filter(|r| r.contains(want)).count(),
            5,
            "{want}: {reasons:?}"
        );
    }
    assert!(report.rejects.iter().all(|r| r.line >= 2 && r.line <= 1001));
    let c = store::contacts::get(db, "person1@example.de")
        .await
        .unwrap();
    assert_eq!(c.email, "Person1@example.de");
    assert_eq!(c.name.as_deref(), Some("Person Nr. 1"));
    assert!(c.attributes.contains("Süd; Ost"), "{}", c.attributes);

    // Re-import updates instead of duplicating, and never revives a withdrawn consent.
    let kultur = store::topics::get(db, "kultur").await.unwrap();
    netzpost::activation::withdraw_consent(
        db,
        c.id,
        Some(kultur.id),
        &netzpost::activation::Cause::Message {
            inbound_id: InboundId(0),
            message_id: "<m1@x>".into(),
            campaign_id: None,
            complaint: false,
        },
    )
    .await
    .unwrap();
    let again = import::run(db, file.path(), &opts).await.unwrap();
    // The unsubscribed contact's row is rejected: an import never renews a withdrawn consent.
    assert_eq!((again.created, again.updated, again.rejected), (0, 979, 21));
    assert_eq!(store::contacts::count(db).await.unwrap(), 980);
    let subs = store::contacts::subscriptions(db, c.id).await.unwrap();
    assert_eq!(subs[0].status.as_str(), "unsubscribed");
}

/// The neighbourhood of the contact scenarios: on the topic "nachbarschaft", confirmed, two
/// silent contacts, one coming (encounter), one cooperating, one who replied 10 days ago, one
/// bounced (suppressed) and one whose encounter ended three days ago; and one pending contact.
async fn neighbourhood(t: &TestDb) {
    let db = &t.db;
    store::topics::add(db, "nachbarschaft", "Nachbarschaft", None)
        .await
        .unwrap();
    let topic = store::topics::get(db, "nachbarschaft").await.unwrap();
    let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    writeln!(f, "email,name").unwrap();
    for n in [
        "silent1",
        "silent2",
        "coming",
        "cooperating",
        "replied",
        "bounced",
        "ended",
    ] {
        writeln!(f, "{n}@nachbarn.example,{n}").unwrap();
    }
    f.flush().unwrap();
    let opts = import::Options {
        topics: &["nachbarschaft".to_string()],
        only_topics: None,
        consent: ConsentStatus::Confirmed,
        source: None,
        batch_size: 100,
        progress: false,
    };
    import::run(db, f.path(), &opts).await.unwrap();
    // one pending contact: no confirmed consent, never silent
    let mut g = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    writeln!(g, "email\npending@nachbarn.example").unwrap();
    g.flush().unwrap();
    let pending = import::Options {
        consent: ConsentStatus::Pending,
        ..opts
    };
    import::run(db, g.path(), &pending).await.unwrap();

    let id = |email: &'static str| async move { store::contacts::get(db, email).await.unwrap().id };
    let rel = |contact_id, form, status, until| store::relations::NewRelation {
        contact_id,
        form,
        topic_id: Some(topic.id),
        occasion_id: None,
        status,
        until,
        cause_kind: "person".into(),
        cause_ref: Some("test".into()),
        note: None,
        inbound_id: None,
        campaign_id: None,
        group_name: String::new(),
    };
    let past = chrono::Utc::now() - chrono::Duration::days(3);
    own_tx::set_relation(
        db,
        &rel(
            id("coming@nachbarn.example").await,
            RelationForm::Encounter,
            RelationStatus::Confirmed,
            None,
        ),
    )
    .await
    .unwrap();
    own_tx::set_relation(
        db,
        &rel(
            id("cooperating@nachbarn.example").await,
            RelationForm::Cooperation,
            RelationStatus::Interested,
            None,
        ),
    )
    .await
    .unwrap();
    own_tx::set_relation(
        db,
        &rel(
            id("ended@nachbarn.example").await,
            RelationForm::Encounter,
            RelationStatus::Confirmed,
            Some(past),
        ),
    )
    .await
    .unwrap();
    let replied = id("replied@nachbarn.example").await;
    t.sql
        .exec(
            "UPDATE contacts SET last_reply_at = $1 WHERE id = $2",
            &[
                (chrono::Utc::now() - chrono::Duration::days(10)).into(),
                replied.into(),
            ],
        )
        .await;
    store::suppressions::add(
        db,
        "bounced@nachbarn.example",
        netzpost::domain::SuppressionReason::HardBounce,
        None,
    )
    .await
    .unwrap();
}

async fn silent_contacts_are_the_confirmed_without_relation_or_recent_reply(backend: Backend) {
    let t = TestDb::new(backend).await;
    neighbourhood(&t).await;
    let db = &t.db;
    let topic = store::topics::get(db, "nachbarschaft").await.unwrap();
    let filter = ContactFilter {
        topic_id: Some(topic.id),
        silent: true,
        silent_after_days: 180,
        ..Default::default()
    };
    let mut silent: Vec<String> = store::contacts::list(db, &filter)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.email)
        .collect();
    silent.sort();
    assert_eq!(
        silent,
        [
            "ended@nachbarn.example",
            "silent1@nachbarn.example",
            "silent2@nachbarn.example"
        ]
    );
    // A shorter window makes the one who replied 10 days ago silent again.
    let short = ContactFilter {
        silent_after_days: 5,
        ..filter.clone()
    };
    assert_eq!(store::contacts::list(db, &short).await.unwrap().len(), 4);
    let enc = ContactFilter {
        form: Some(RelationForm::Encounter),
        ..Default::default()
    };
    let enc: Vec<String> = store::contacts::list(db, &enc)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.email)
        .collect();
    assert_eq!(enc.len(), 2, "{enc:?}");
    let d = store::contacts::detail(db, "coming@nachbarn.example", 180)
        .await
        .unwrap();
    assert!(!d.silent);
    assert_eq!(d.relations.len(), 1);
    assert!(d.timeline.iter().any(|a| a.kind == "relation"));
}

async fn a_forgotten_address_stays_out_of_later_imports(backend: Backend) {
    let t = TestDb::new(backend).await;
    neighbourhood(&t).await;
    let db = &t.db;
    let before = store::contacts::count(db).await.unwrap();
    store::contacts::forget(db, "SILENT1@nachbarn.example")
        .await
        .unwrap();
    assert_eq!(store::contacts::count(db).await.unwrap(), before - 1);
    assert!(store::contacts::get(db, "silent1@nachbarn.example")
        .await
        .is_err());
    let sup = store::suppressions::list(db).await.unwrap();
    let forgotten: Vec<_> = sup
        .iter()
        .filter(|s| s.reason.as_str() == "forgotten")
        .collect();
    assert_eq!(forgotten.len(), 1);
    assert_eq!(forgotten[0].address, None, "only the hash is kept");
    let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    writeln!(f, "email\nsilent1@nachbarn.example\nnew@nachbarn.example").unwrap();
    f.flush().unwrap();
    let opts = import::Options {
        topics: &[],
        only_topics: None,
        consent: ConsentStatus::Pending,
        source: None,
        batch_size: 10,
        progress: false,
    };
    let r = import::run(db, f.path(), &opts).await.unwrap();
    assert_eq!((r.created, r.rejected), (1, 1));
    assert!(r.rejects[0].reason.contains("suppressed"));
}

async fn an_rsvp_twice_is_one_relation_counted_with_its_party(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    neighbourhood(&test_db).await;
    let db = &test_db.db;
    let t = chrono::Utc::now() + chrono::Duration::days(10);
    let o = store::occasions::add(
        db,
        &store::occasions::NewOccasion {
            slug: "cafe".into(),
            title: "Nachbarschaftscafé".into(),
            starts_at: t,
            ends_at: Some(t + chrono::Duration::hours(2)),
            place: Some("Bürgerhaus".into()),
            description: None,
            capacity: Some(30),
            topic_id: None,
        },
    )
    .await
    .unwrap();
    let bad = store::occasions::add(
        db,
        &store::occasions::NewOccasion {
            slug: "rueckwaerts".into(),
            title: "x".into(),
            starts_at: t,
            ends_at: Some(t - chrono::Duration::hours(2)),
            place: None,
            description: None,
            capacity: None,
            topic_id: None,
        },
    )
    .await
    .unwrap_err();
    assert!(bad.to_string().contains("ends before it starts"));
    let c = store::contacts::get(db, "silent2@nachbarn.example")
        .await
        .unwrap();
    let r = store::relations::NewRelation {
        contact_id: c.id,
        form: RelationForm::Encounter,
        topic_id: None,
        occasion_id: Some(o.id),
        status: RelationStatus::Confirmed,
        until: o.ends_at,
        cause_kind: "message".into(),
        cause_ref: Some("<reply@x>".into()),
        note: None,
        inbound_id: None,
        campaign_id: None,
        group_name: String::new(),
    };
    let id1 = own_tx::set_relation(db, &r).await.unwrap();
    let id2 = own_tx::set_relation(db, &r).await.unwrap();
    assert_eq!(id1, id2, "the same RSVP twice updates one relation");
    let list = store::occasions::list(db).await.unwrap();
    assert_eq!(
        (list[0].coming, list[0].declined, list[0].people),
        (1, 0, 1)
    );
    // "wir kommen zu dritt": one yes, three people.
    own_tx::set_party_size(db, id1, Some(3)).await.unwrap();
    let list = store::occasions::list(db).await.unwrap();
    assert_eq!((list[0].coming, list[0].people), (1, 3));
}

fn campaign(
    name: &str,
    topic: netzpost::domain::TopicId,
    silent: bool,
) -> store::campaigns::NewCampaign {
    store::campaigns::NewCampaign {
        name: name.into(),
        kind: store::campaigns::CampaignKind::Cooperation,
        topic_id: Some(topic),
        occasion_id: None,
        subject: "Mitmachen?".into(),
        body: "x".into(),
        audience: store::campaigns::Audience {
            silent: Some(silent),
            ..Default::default()
        },
        schedule: None,
        send_at: None,
        parent_id: None,
        translations: Default::default(),
    }
}

const CAPS: store::campaigns::Caps = store::campaigns::Caps {
    invitation_every_days: 0,
    max_messages_per_30_days: 100,
    silent_after_days: 180,
    rest_after_declines: 0,
    rest_days: 0,
};

async fn queued(t: &TestDb, campaign: i64) -> Vec<String> {
    let mut v = t
        .sql
        .column(
            "SELECT c.email FROM deliveries d JOIN contacts c ON c.id = d.contact_id WHERE d.campaign_id = $1",
            &[campaign.into()],
        )
        .await;
    v.sort();
    v
}

/// A wish "not before" a time on a topic keeps the contact out of that topic's invitations
/// until then; a wish in the past, or on another topic, does not.
async fn wishes_defer_invitations(backend: Backend) {
    let t = TestDb::new(backend).await;
    neighbourhood(&t).await;
    let db = &t.db;
    store::topics::add(db, "kultur", "Kultur im Quartier", None)
        .await
        .unwrap();
    let topic = store::topics::get(db, "nachbarschaft").await.unwrap();
    let other = store::topics::get(db, "kultur").await.unwrap();
    let id = |email: &'static str| async move { store::contacts::get(db, email).await.unwrap().id };
    let (silent2, ended) = (
        id("silent2@nachbarn.example").await,
        id("ended@nachbarn.example").await,
    );
    let later = chrono::Utc::now() + chrono::Duration::days(60);
    let earlier = chrono::Utc::now() - chrono::Duration::days(1);
    let wish = |contact, topic, wish: &str, at| {
        store::wishes::new_wish(contact, topic, wish, at, Some("<w@x>".into()), None)
    };
    assert_eq!(
        own_tx::set_wish(db, &wish(silent2, topic.id, "2099-03", earlier))
            .await
            .unwrap(),
        None
    );
    let prev = own_tx::set_wish(db, &wish(silent2, topic.id, "summer_holidays", later))
        .await
        .unwrap()
        .expect("the first wish is replaced");
    assert_eq!(prev.wish, "2099-03");
    own_tx::set_wish(db, &wish(ended, topic.id, "2020-01", earlier))
        .await
        .unwrap();
    own_tx::set_wish(db, &wish(ended, other.id, "summer_holidays", later))
        .await
        .unwrap();
    let c = store::campaigns::create(db, &campaign("mitmachen", topic.id, true))
        .await
        .unwrap();
    store::campaigns::enqueue(db, &c, CAPS).await.unwrap();
    assert_eq!(
        queued(&t, c.id.get()).await,
        ["ended@nachbarn.example", "silent1@nachbarn.example"]
    );
    let shown = store::contacts::detail(db, "silent2@nachbarn.example", 180)
        .await
        .unwrap();
    assert_eq!(shown.wishes.len(), 1);
    assert_eq!(
        (
            shown.wishes[0].topic.as_str(),
            shown.wishes[0].wish.as_str()
        ),
        ("nachbarschaft", "summer_holidays")
    );
    // Undone: invited again.
    own_tx::restore_wish(db, silent2, topic.id, None)
        .await
        .unwrap();
    store::campaigns::enqueue(db, &c, CAPS).await.unwrap();
    assert_eq!(
        queued(&t, c.id.get()).await,
        [
            "ended@nachbarn.example",
            "silent1@nachbarn.example",
            "silent2@nachbarn.example"
        ]
    );
}

/// Through the inbound pipeline: a yes that says how many come is counted with its people, a
/// "nach den Sommerferien" is the contact's wish for the answered campaign's topic (resolved by
/// the holiday calendar), and undoing the decision takes both back.
async fn replies_bring_party_size_and_wishes(backend: Backend) {
    use netzpost::inbound::{apply, attribute, plan, Inbound};
    let test_db = TestDb::new(backend).await;
    neighbourhood(&test_db).await;
    let db = &test_db.db;
    let topic = store::topics::get(db, "nachbarschaft").await.unwrap();
    // An earlier wish of the contact, which the reply's wish replaces.
    let ended = store::contacts::get(db, "ended@nachbarn.example")
        .await
        .unwrap();
    own_tx::set_wish(
        db,
        &store::wishes::new_wish(
            ended.id,
            topic.id,
            "2020-01",
            chrono::Utc::now() - chrono::Duration::days(1),
            Some("<w@x>".into()),
            None,
        ),
    )
    .await
    .unwrap();
    let t = chrono::Utc::now() + chrono::Duration::days(20);
    let o = store::occasions::add(
        db,
        &store::occasions::NewOccasion {
            slug: "fest".into(),
            title: "Straßenfest".into(),
            starts_at: t,
            ends_at: None,
            place: None,
            description: None,
            capacity: None,
            topic_id: Some(topic.id),
        },
    )
    .await
    .unwrap();
    let mut k = campaign("fest-einladung", topic.id, false);
    k.kind = store::campaigns::CampaignKind::Invitation;
    k.occasion_id = Some(o.id);
    let k = store::campaigns::create(db, &k).await.unwrap();
    let contact = store::contacts::get(db, "ended@nachbarn.example")
        .await
        .unwrap();
    let mut cfg = netzpost::config::Config::default();
    cfg.holidays.summer_end = vec!["2099-08-14".into()];
    cfg.secret = "store-suite-secret-of-at-least-32-bytes".into();
    let inb = Inbound::new(db.clone(), std::sync::Arc::new(cfg), None).unwrap();
    let raw = b"From: ended@nachbarn.example\r\nTo: antwort+x@reply.nordstadt.example\r\n\
        Subject: Re: Einladung\r\nMessage-ID: <zu-dritt@mail.example>\r\n\r\n\
        Ja, wir kommen gerne zu dritt! Danach bitte erst wieder nach den Sommerferien.\r\n";
    let spooled = inb.spool(raw, "test").await.unwrap();
    let mut a = netzpost::classify::analyze(raw, &inb.rules).unwrap();
    // What the classifier reads from these words (set here: this branch only stores them).
    a.party_size = Some(3);
    a.not_before = Some("summer_holidays".into());
    let at = attribute::Attribution {
        strength: attribute::Strength::Token,
        contact_id: Some(contact.id),
        contact_email: Some(contact.email.clone()),
        campaign_id: Some(k.id),
        topic_id: Some(topic.id),
        occasion_id: Some(o.id),
        unsubscribe_address: false,
        bad_token: None,
        organisation_sender: false,
        confirm_topic: None,
        poll_dates: 0,
    };
    let steps = plan::plan(&a, &at, 0.0);
    assert_eq!(
        steps[0].action,
        plan::Action::Encounter { occasion_id: o.id }
    );
    apply::execute(&inb, spooled.id, &a, &at, &steps)
        .await
        .unwrap();

    let fest = |list: Vec<store::occasions::OccasionRow>| {
        list.into_iter().find(|r| r.slug == "fest").unwrap()
    };
    let row = fest(store::occasions::list(db).await.unwrap());
    assert_eq!((row.coming, row.people), (1, 3));
    let d = store::contacts::detail(db, "ended@nachbarn.example", 180)
        .await
        .unwrap();
    let rsvp = d
        .relations
        .iter()
        .find(|r| r.occasion_id == Some(o.id))
        .unwrap();
    assert_eq!(rsvp.party_size, Some(3));
    let w = d
        .wishes
        .iter()
        .find(|w| w.topic == "nachbarschaft")
        .unwrap();
    assert_eq!(w.wish, "summer_holidays");
    assert_eq!(w.cause_ref.as_deref(), Some("zu-dritt@mail.example"));
    // The day after the configured end, at midnight in Berlin (summer time: UTC+2).
    assert_eq!(w.not_before.to_rfc3339(), "2099-08-14T22:00:00+00:00");
    let c = store::campaigns::create(db, &campaign("herbst", topic.id, false))
        .await
        .unwrap();
    store::campaigns::enqueue(db, &c, CAPS).await.unwrap();
    assert!(
        !queued(&test_db, c.id.get()).await.contains(&contact.email),
        "deferred by the wish"
    );

    let decision = apply::review_list(db, true, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.inbound_id == spooled.id && r.action == "encounter")
        .expect("the applied encounter");
    apply::review_undo(db, decision.id, "test").await.unwrap();
    let row = fest(store::occasions::list(db).await.unwrap());
    assert_eq!((row.coming, row.people), (0, 0));
    let d = store::contacts::detail(db, "ended@nachbarn.example", 180)
        .await
        .unwrap();
    // The wish it replaced is back.
    let w = d
        .wishes
        .iter()
        .find(|w| w.topic == "nachbarschaft")
        .unwrap();
    assert_eq!(w.wish, "2020-01", "{:?}", d.wishes);
}

/// A migration that fails half-way leaves nothing of itself behind (each runs in a transaction),
/// and the start refuses to go on.
#[tokio::test]
async fn failing_migration_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("m");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(
        migrations.join("0001_ok.sql"),
        "CREATE TABLE eins (id INTEGER);",
    )
    .unwrap();
    std::fs::write(
        migrations.join("0002_broken.sql"),
        "CREATE TABLE zwei (id INTEGER);\nINSERT INTO gibt_es_nicht VALUES (1);",
    )
    .unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let Db::Sqlite(pool) = Db::connect(&url).await.unwrap() else {
        unreachable!()
    };
    let migrator = sqlx::migrate::Migrator::new(migrations.as_path())
        .await
        .unwrap();
    let err = migrator.run(&pool).await.unwrap_err();
    assert!(err.to_string().contains("gibt_es_nicht"), "{err}");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('eins', 'zwei')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        tables,
        ["eins"],
        "the broken migration's first statement was rolled back"
    );
}

/// Store writes that take a transaction, each in its own.
mod own_tx {
    use netzpost::store::relations::NewRelation;
    use netzpost::store::wishes::{self, Wish};
    use netzpost::store::{relations, Db, Result};

    pub async fn set_relation(db: &Db, r: &NewRelation) -> Result<i64> {
        let mut tx = db.begin().await?;
        let (id, _) = relations::set(&mut tx, r).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn set_party_size(db: &Db, id: i64, n: Option<i64>) -> Result<()> {
        let mut tx = db.begin().await?;
        relations::set_party_size(&mut tx, id, n).await?;
        tx.commit().await
    }

    pub async fn set_wish(db: &Db, w: &Wish) -> Result<Option<Wish>> {
        let mut tx = db.begin().await?;
        let prev = wishes::set(&mut tx, w).await?;
        tx.commit().await?;
        Ok(prev)
    }

    pub async fn restore_wish(
        db: &Db,
        c: netzpost::domain::ContactId,
        t: netzpost::domain::TopicId,
        prev: Option<&Wish>,
    ) -> Result<()> {
        let mut tx = db.begin().await?;
        wishes::restore(&mut tx, c, t, prev).await?;
        tx.commit().await
    }
}

/// The senders' heartbeat rows: a sender silent since a moment is found, only one of several
/// takers removes it, a live one is not taken, and the one taken over learns it on its next beat.
async fn a_silent_sender_is_taken_over_once_and_learns_it(backend: Backend) {
    use store::senders::{beat, register_sender, silent_senders, take_over_sender};
    let t = TestDb::new(backend).await;
    let db = &t.db;
    register_sender(db, "host:1:a").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let since = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    register_sender(db, "host:2:b").await.unwrap();
    assert_eq!(silent_senders(db, since).await.unwrap(), vec!["host:1:a"]);
    assert!(
        !take_over_sender(db, "host:2:b", since).await.unwrap(),
        "alive"
    );
    assert!(take_over_sender(db, "host:1:a", since).await.unwrap());
    assert!(
        !take_over_sender(db, "host:1:a", since).await.unwrap(),
        "taken over once"
    );
    assert!(beat(db, "host:2:b").await.unwrap());
    assert!(
        !beat(db, "host:1:a").await.unwrap(),
        "it learns it was taken over"
    );
    assert!(
        beat(db, "host:1:a").await.unwrap(),
        "and is registered again"
    );
}
