//! `netzpost demo`: a workspace with a sample network that shows the whole flow on the embedded
//! defaults: import, silent contacts, an invitation into the file outbox, replies through the
//! maildir, contacts raised, the funnel.

use crate::config::Config;
use crate::domain::ConsentStatus;
use crate::inbound::{maildir, Inbound};
use crate::outbound::campaign::{self, CreateArgs};
use crate::outbound::sender::Engine;
use crate::output::{self, Format};
use crate::store::campaigns::{Audience, CampaignKind, CampaignText};
use crate::store::{self, Db};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SAMPLE: &str = include_str!("../examples/sample-network.csv");
const MARKER: &str = ".netzpost-demo";
/// The demo's admin password: the workspace is for looking around, not for real contacts.
const DEMO_PASSWORD: &str = "nordstadt-demo";

/// The sample answers: who writes what.
const REPLIES: &[(&str, &str, &str)] = &[
    ("anna.schmidt@", "", "Liebe Leute,\r\n\r\nja, ich komme gerne! Ich bringe einen Kuchen mit.\r\n\r\nViele Grüße\r\nAnna\r\n\r\nAm Mo., 7. Dez. 2026 um 10:15 Uhr schrieb Netzwerk Nordstadt:\r\n> Bitte antworten Sie mit einem Wort: 1 = ich komme, 2 = ich komme nicht\r\n"),
    ("olga.petrenko@", "", "1\r\n\r\nVon meinem iPhone gesendet\r\n"),
    ("lena.fischer@", "", "Leider kann ich an dem Tag nicht, ich bin verreist. Beim nächsten Mal gerne!\r\n\r\n-----Ursprüngliche Nachricht-----\r\nVon: Netzwerk Nordstadt\r\nBetreff: Einladung\r\n"),
    ("ahmad.karimi@", "", "Hallo,\r\n\r\nwir vom Café International würden gern mit Ihnen zusammenarbeiten, vielleicht bei einem gemeinsamen Projekt im Frühjahr?\r\n\r\nAhmad Karimi\r\n"),
    ("fatma.demir@", "", "Bitte nehmen Sie mich aus dem Verteiler.\r\n"),
    ("tom.richter@", "Auto-Submitted: auto-replied\r\n", "Ich bin bis zum 14. Dezember nicht im Büro. Ich komme am 15. Dezember zurück und melde mich dann.\r\n"),
    ("sam.okafor@", "", "Is the venue wheelchair accessible? Then I might come.\r\n"),
];

/// The demo folder exists and holds something else: the demo replaces only its own folder.
#[derive(Debug, thiserror::Error)]
#[error("{} exists and is not a netzpost demo: choose another folder", .0.display())]
pub struct NotADemo(pub PathBuf);

pub async fn run(dir: &Path) -> anyhow::Result<()> {
    crate::install_crypto_provider();
    if dir.exists() {
        if !dir.join(MARKER).exists() {
            return Err(NotADemo(dir.to_path_buf()).into());
        }
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("removing the old demo in {}", dir.display()))?;
    }
    crate::workspace::init(dir).await?;
    std::fs::write(
        dir.join(MARKER),
        "created by `netzpost demo`; the next demo run replaces this folder\n",
    )?;
    let cfg = Arc::new(Config::load(Some(&dir.join("config/netzpost.toml")))?);
    let db = Db::open(&cfg.database).await?;
    let mut out = std::io::stdout().lock();
    use std::io::Write;

    writeln!(out, "netzpost demo in {}\n", dir.display())?;
    for (slug, title) in [
        ("nachbarschaft", "Nachbarschaft Nordstadt"),
        ("kinder-jugend", "Kinder und Jugend"),
        ("senioren", "Älter werden im Quartier"),
    ] {
        store::topics::add(&db, slug, title, None).await?;
    }
    let csv = dir.join("beispielnetzwerk.csv");
    std::fs::write(&csv, SAMPLE)?;
    let report = crate::import::run(
        &db,
        &csv,
        &crate::import::Options {
            topics: &[],
            only_topics: None,
            consent: ConsentStatus::Confirmed,
            source: Some("Beispielnetzwerk (Demo)"),
            batch_size: 500,
            progress: false,
        },
    )
    .await?;
    writeln!(
        out,
        "1. {} contacts imported from {} ({} rejected)",
        report.created,
        csv.display(),
        report.rejected
    )?;

    // Two contacts already work in the round table (a group, form D): they are not silent.
    let nachbarschaft = store::topics::get(&db, "nachbarschaft").await?;
    for email in [
        "qm@quartiersmanagement-nord.example",
        "pfarrbuero@st-josef.example",
    ] {
        let c = store::contacts::get(&db, email).await?;
        crate::activation::join_group(
            &db,
            c.id,
            Some(nachbarschaft.id),
            Some("Runder Tisch Nordstadt".into()),
            &crate::activation::Cause::Admin { by: "demo".into() },
        )
        .await?;
    }
    let silent = store::contacts::list(
        &db,
        &store::contacts::ContactFilter {
            topic_id: Some(nachbarschaft.id),
            silent: true,
            silent_after_days: cfg.silent_after_days,
            ..Default::default()
        },
    )
    .await?;
    writeln!(
        out,
        "2. {} silent contacts for the topic nachbarschaft:",
        silent.len()
    )?;
    output::print(
        &mut out,
        &silent,
        &["email", "name", "organisation", "language"],
        Format::Table,
    )?;

    let tz = cfg.tz().map_err(anyhow::Error::msg)?;
    let start = (chrono::Utc::now() + chrono::Duration::days(14))
        .with_timezone(&tz)
        .date_naive()
        .and_hms_opt(15, 0, 0)
        .expect("valid time");
    let starts_at =
        crate::domain::parse_local_time(&start.format("%Y-%m-%d %H:%M").to_string(), tz)?;
    store::occasions::add(
        &db,
        &store::occasions::NewOccasion {
            slug: "nachbarschaftscafe".into(),
            title: "Nachbarschaftscafé im Bürgerhaus".into(),
            starts_at,
            ends_at: Some(starts_at + chrono::Duration::hours(2)),
            place: Some("Bürgerhaus Nordstadt, Saal 1".into()),
            description: Some("Kaffee, Kuchen und Zeit zum Kennenlernen.".into()),
            capacity: Some(40),
            topic_id: Some(nachbarschaft.id),
        },
    )
    .await?;
    let engine = Engine::new(db.clone(), cfg.clone()).await?;
    let c = campaign::create(&db, engine.composer(), &CreateArgs {
        name: "einladung-cafe".into(),
        kind: CampaignKind::Invitation,
        topic: None,
        occasion: Some("nachbarschaftscafe".into()),
        subject: String::new(),
        body: "wir laden Sie herzlich zu unserem Nachbarschaftscafé ein: Kommen Sie vorbei, lernen Sie Ihre Nachbarinnen und Nachbarn kennen und erzählen Sie uns, was Ihnen im Viertel wichtig ist.".into(),
        // The sample network speaks more than German: the invitation in English and
        // Ukrainian too (the frame, greeting and date come in every contact's language anyway).
        translations: [
            ("en", "We warmly invite you to our neighbourhood café: come along, meet your neighbours and tell us what matters to you in the neighbourhood."),
            ("uk", "Щиро запрошуємо Вас до нашого сусідського кафе: приходьте, знайомтеся із сусідами та розкажіть нам, що для Вас важливо в нашому районі."),
            ("tr", "Sizi mahalle kafemize içtenlikle davet ediyoruz: Uğrayın, komşularınızla tanışın ve mahallede sizin için neyin önemli olduğunu bize anlatın."),
        ]
        .into_iter()
        .map(|(lang, body)| (lang.to_string(), CampaignText { subject: String::new(), body: body.into() }))
        .collect(),
        audience: Audience::default(),
        schedule: None,
        send_at: None,
    })
    .await?;
    campaign::start(&db, &cfg, &c).await?;
    engine.run_until_idle().await?;
    let progress = store::campaigns::progress(&db, c.id).await?;
    writeln!(
        out,
        "\n3. invitation einladung-cafe sent to the silent contacts: {} messages in {}",
        progress.sent,
        cfg.outbound.outbox.display()
    )?;

    // Replies as people would write them, to the Reply-To address of their own invitation.
    let mut dropped = 0;
    for entry in std::fs::read_dir(&cfg.outbound.outbox)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let Some((who, headers, body)) = REPLIES.iter().find(|(who, _, _)| {
            text.contains(&format!("<{who}")) || text.contains(&format!(" {who}"))
        }) else {
            continue;
        };
        let reply_to = text
            .lines()
            .find_map(|l| l.strip_prefix("Reply-To: "))
            .and_then(|v| v.rsplit('<').next())
            .map(|v| v.trim_end_matches('>').to_string())
            .unwrap_or_default();
        let from = format!(
            "{who}{}",
            text.lines()
                .find_map(|l| l.strip_prefix("To: "))
                .and_then(|v| v.rsplit('@').next())
                .unwrap_or("")
                .trim_end_matches('>')
        );
        let mail = format!(
            "From: {from}\r\nTo: {reply_to}\r\nSubject: Re: Einladung\r\nMessage-ID: <demo.{dropped}@nachbarn.example>\r\nDate: {}\r\n{headers}\r\n{body}",
            chrono::Utc::now().to_rfc2822()
        );
        std::fs::write(
            cfg.inbound
                .maildir
                .join("new")
                .join(format!("{dropped}.demo")),
            mail,
        )?;
        dropped += 1;
    }
    let inbound = Inbound::new(db.clone(), cfg.clone(), Some(Arc::new(engine.notifier())))?;
    let n = maildir::poll_once(&inbound, &cfg.inbound.maildir).await?;
    writeln!(
        out,
        "4. {n} replies read from {}:",
        cfg.inbound.maildir.display()
    )?;
    let decisions = crate::inbound::apply::review_list(&db, true, 50).await?;
    output::print(
        &mut out,
        &decisions,
        &["status", "action", "contact", "text"],
        Format::Table,
    )?;

    // The café's life after the replies, as the daemon and a coordinator would live it; the
    // days in between are simulated by the times given.
    let cafe = store::occasions::get(&db, "nachbarschaftscafe").await?;
    let before = cafe.starts_at - chrono::Duration::days(cfg.occasions.reminder_days)
        + chrono::Duration::minutes(1);
    let reminded = crate::outbound::occasion_mails::queue_due(&db, &cfg, before).await?;
    engine.run_until_idle().await?;
    let coming: Vec<_> = store::occasions::door_list(&db, cafe.id)
        .await?
        .into_iter()
        .filter(|r| r.status == Some(crate::domain::RelationStatus::Confirmed))
        .collect();
    let by = crate::activation::Cause::Admin { by: "demo".into() };
    for r in &coming {
        crate::activation::record_attendance(
            &db,
            r.contact_id,
            &cafe,
            crate::activation::Attendance::Came,
            &by,
        )
        .await?;
    }
    let thanked = crate::outbound::occasion_mails::thank(
        &db,
        "nachbarschaftscafe",
        store::occasion_mails::NextStep::Cooperation,
        "Die Fotos vom Nachmittag schicken wir Ihnen bald.",
        cafe.starts_at + chrono::Duration::hours(3),
    )
    .await?;
    engine.run_until_idle().await?;
    writeln!(
        out,
        "\n5. the café's life: {} reminders two days before, {} came, {} thank-you mails with a call for cooperation",
        reminded.reminders,
        coming.len(),
        thanked
    )?;

    writeln!(out, "\n6. the activation funnel")?;
    output::print(
        &mut out,
        &store::report::topics(&db, cfg.silent_after_days, None).await?,
        &[
            "slug",
            "confirmed",
            "silent",
            "invited",
            "replied",
            "encounter",
            "cooperation",
            "unsubscribed",
        ],
        Format::Table,
    )?;
    output::print(
        &mut out,
        &store::report::campaigns(&db).await?,
        &[
            "name",
            "kind",
            "invited",
            "replied",
            "encounter",
            "declined",
            "cooperation",
            "unsubscribed",
            "review",
        ],
        Format::Table,
    )?;
    // A login for the admin pages, so the funnel can be looked at in a browser right away.
    crate::web::auth::set_password(&db, "admin", DEMO_PASSWORD).await?;
    engine.close().await;
    db.close().await;
    writeln!(
        out,
        "\nIn the browser: cd {d} && ../target/debug/netzpost serve\n  then open {url}/admin (user admin, password {DEMO_PASSWORD}) for the funnel,\n  and {url}/ for the public pages (subscribe, preferences, RSVP links from the mails)",
        d = dir.display(),
        url = cfg.http.public_url.trim_end_matches('/'),
    )?;
    writeln!(
        out,
        "\nLook around:\n  cd {d} && ../target/debug/netzpost contacts show anna.schmidt@nachbarn.example\n  cd {d} && ../target/debug/netzpost review list    (the question waits for a person)\n  ls {d}/var/outbox     (invitations, acknowledgements, the organiser's notice, reminders, thanks)",
        d = dir.display()
    )?;
    Ok(())
}
