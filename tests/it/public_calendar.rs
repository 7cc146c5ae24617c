//! The public calendar: a page per topic and one for all with the coming occasions, and the
//! iCalendar feed of the same (METHOD:PUBLISH), cancelled occasions kept as CANCELLED, no
//! personal data in either. The feed is read by an independent parser (Python `icalendar`).

use crate::support::{App, Backend};
use chrono::{Duration, Utc};
use netzpost::domain::TopicId;
use netzpost::store;
use netzpost::store::occasions::NewOccasion;
use std::process::Command;

each_db!(async calendar_pages_and_feeds_show_the_topics_occasions_and_nothing_personal);

async fn occasion(a: &App, slug: &str, title: &str, topic: i64, in_days: i64, hours: Option<i64>) {
    let starts_at = Utc::now() + Duration::days(in_days);
    store::occasions::add(
        &a.db,
        &NewOccasion {
            slug: slug.into(),
            title: title.into(),
            starts_at,
            ends_at: hours.map(|h| starts_at + Duration::hours(h)),
            place: Some(format!("Ort von {title}")),
            description: Some(format!("Worum es bei {title} geht")),
            capacity: Some(12),
            topic_id: Some(TopicId(topic)),
        },
    )
    .await
    .unwrap();
}

/// The VEVENT blocks of a feed, unfolded.
fn events(ics: &str) -> Vec<String> {
    let unfolded = ics.replace("\r\n ", "");
    unfolded
        .split("BEGIN:VEVENT")
        .skip(1)
        .map(|e| e.split("END:VEVENT").next().unwrap().to_string())
        .collect()
}

async fn calendar_pages_and_feeds_show_the_topics_occasions_and_nothing_personal(backend: Backend) {
    let a = App::on(backend).await;
    let nachbarschaft = a.topic("nachbarschaft").await;
    let sport = a.topic("sport").await;
    occasion(&a, "cafe", "Nachbarschaftscafé", nachbarschaft, 10, Some(2)).await;
    occasion(&a, "flohmarkt", "Flohmarkt", nachbarschaft, 20, None).await;
    occasion(&a, "lauftreff", "Lauftreff", sport, 5, Some(1)).await;
    // Long past: on neither the page nor in the feed. Last week: in the feed only.
    occasion(&a, "alt", "Sommerfest 2025", nachbarschaft, -400, Some(4)).await;
    occasion(&a, "neulich", "Letzte Woche", nachbarschaft, -7, Some(2)).await;
    netzpost::activation::cancel_occasion(
        &a.db,
        "flohmarkt",
        Some("Der Platz ist gesperrt.".into()),
        "test",
    )
    .await
    .unwrap();
    // Someone invited and answering: their address must show nowhere.
    let anna = a
        .contact("anna@nachbarn.example", vec![nachbarschaft])
        .await;
    assert!(anna > 0);

    let (status, page) = a.get("/calendar/nachbarschaft?lang=de").await;
    assert_eq!(status, 200, "{page}");
    // Attribute values come HTML-escaped (`/` as `&#x2f;`); a browser reads them decoded.
    let page = page.replace("&#x2f;", "/");
    assert!(
        page.contains("Nachbarschaftscafé") && page.contains("Flohmarkt"),
        "{page}"
    );
    assert!(
        !page.contains("Lauftreff"),
        "another topic's occasion: {page}"
    );
    assert!(
        !page.contains("Sommerfest") && !page.contains("Letzte Woche"),
        "{page}"
    );
    assert!(page.contains("Abgesagt") && page.contains("Der Platz ist gesperrt."));
    // German dates in the configured zone, the sign-up and the feed.
    let cafe_day = (Utc::now() + Duration::days(10))
        .with_timezone(&chrono_tz::Europe::Berlin)
        .format("%-d.")
        .to_string();
    assert!(page.contains(&cafe_day) && page.contains(" Uhr"), "{page}");
    assert!(page.contains("href=\"/s/nachbarschaft?lang=de\""), "{page}");
    assert!(page.contains("webcal://") && page.contains("/calendar/nachbarschaft/calendar.ics"));
    assert!(!page.contains("anna@"), "{page}");

    let (status, all) = a.get("/calendar?lang=en").await;
    assert_eq!(status, 200);
    assert!(
        all.contains("Lauftreff") && all.contains("Nachbarschaftscafé"),
        "{all}"
    );
    assert!(all.contains("Cancelled"), "{all}");
    assert_eq!(a.get("/calendar/gibtsnicht").await.0, 404);
    assert_eq!(a.get("/calendar/gibtsnicht/calendar.ics").await.0, 404);

    let r = a
        .http
        .get(a.url("/calendar/nachbarschaft/calendar.ics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let ics = r.text().await.unwrap();
    assert!(ics.contains("METHOD:PUBLISH"), "{ics}");
    for forbidden in ["ATTENDEE", "ORGANIZER", "mailto:", "anna@"] {
        assert!(!ics.contains(forbidden), "{forbidden} in the feed: {ics}");
    }
    let evs = events(&ics);
    let summaries: Vec<&str> = evs
        .iter()
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("SUMMARY:")))
        .collect();
    assert_eq!(
        summaries,
        ["Letzte Woche", "Nachbarschaftscafé", "Flohmarkt"],
        "{ics}"
    );
    let floh = evs
        .iter()
        .find(|e| e.contains("SUMMARY:Flohmarkt"))
        .unwrap();
    assert!(
        floh.contains("STATUS:CANCELLED") && floh.contains("SEQUENCE:1"),
        "{floh}"
    );
    let cafe = evs
        .iter()
        .find(|e| e.contains("Nachbarschaftscafé"))
        .unwrap();
    assert!(cafe.contains("STATUS:CONFIRMED") && cafe.contains("DTSTART;TZID=Europe/Berlin:"));
    assert!(ics.contains("BEGIN:VTIMEZONE"), "{ics}");

    let (_, all_ics) = a.get("/calendar.ics").await;
    assert_eq!(events(&all_ics).len(), 4, "{all_ics}");
    a.stop().await;
}

/// Reads a feed with Python's `icalendar` (every VTIMEZONE turned into a zone) and prints its
/// events as JSON.
const READ_FEED: &str = r#"
import icalendar, json, sys
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
for z in cal.walk('VTIMEZONE'):
    z.to_tz()
out = []
for ev in cal.walk('VEVENT'):
    start = ev.decoded('DTSTART')
    out.append({
        'summary': str(ev.get('SUMMARY')),
        'status': str(ev.get('STATUS')),
        'uid': str(ev.get('UID')),
        'utc_offset_known': start.utcoffset() is not None,
        'attendees': len(ev.get('ATTENDEE', [])) if isinstance(ev.get('ATTENDEE'), list) else (1 if ev.get('ATTENDEE') else 0),
    })
print(json.dumps({'method': str(cal.get('METHOD')), 'events': out}))
"#;

#[tokio::test]
#[ignore = "needs python3 with icalendar (pip install icalendar)"]
async fn the_feed_is_read_by_an_independent_parser() {
    let a = App::start().await;
    let t = a.topic("nachbarschaft").await;
    occasion(
        &a,
        "cafe",
        "Nachbarschaftscafé; mit Kuchen, Kaffee",
        t,
        10,
        Some(2),
    )
    .await;
    occasion(&a, "fest", "Sommerfest", t, 200, Some(5)).await;
    netzpost::activation::cancel_occasion(&a.db, "fest", None, "test")
        .await
        .unwrap();
    let (_, ics) = a.get("/calendar/nachbarschaft/calendar.ics").await;
    let file = a.dir.path().join("feed.ics");
    std::fs::write(&file, &ics).unwrap();
    let script = a.dir.path().join("read_feed.py");
    std::fs::write(&script, READ_FEED).unwrap();
    let out = Command::new("python3")
        .arg(&script)
        .arg(&file)
        .output()
        .expect("python3 is needed: install it and `pip install icalendar`");
    assert!(
        out.status.success(),
        "the icalendar package refused the feed (or is missing: pip install icalendar):\n{}\n{ics}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(read["method"], "PUBLISH");
    let evs = read["events"].as_array().unwrap();
    assert_eq!(evs.len(), 2, "{read}");
    assert_eq!(evs[0]["summary"], "Nachbarschaftscafé; mit Kuchen, Kaffee");
    assert_eq!(evs[0]["status"], "CONFIRMED");
    assert_eq!(evs[1]["status"], "CANCELLED");
    assert!(evs
        .iter()
        .all(|e| e["utc_offset_known"] == true && e["attendees"] == 0));
    assert_ne!(evs[0]["uid"], evs[1]["uid"]);
    a.stop().await;
}
