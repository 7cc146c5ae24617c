//! An occasion after its invitation: changed, cancelled, and who came. The calendar parts are
//! read by an independent parser (the Python `icalendar` package): an update and a cancellation
//! keep the UID and the ORGANIZER of the invitation and raise the SEQUENCE.

use crate::support::{App, Backend, Mail, Person, Workspace};
use netzpost::store;
use netzpost::token::Purpose;
use std::path::Path;
use std::process::Command;

each_db!(
    attendance_confirms_the_encounter_and_shows_on_the_timeline,
    a_cancelled_occasion_cannot_change_and_unknown_ones_are_named,
);

each_db!(async helpers_check_people_in_by_the_signed_link_and_the_funnel_counts_who_came);

/// Reads each file with Python's `icalendar` and prints one JSON object per file.
const READ_ICS: &str = r#"
import icalendar, json, sys
out = []
for path in sys.argv[1:]:
    cal = icalendar.Calendar.from_ical(open(path, 'rb').read())
    ev = cal.walk('VEVENT')
    assert len(ev) == 1, path
    ev = ev[0]
    zones = cal.walk('VTIMEZONE')
    for z in zones:
        z.to_tz()  # a VTIMEZONE the parser cannot turn into a zone fails here
    start = ev.decoded('DTSTART')
    out.append({
        'method': str(cal.get('METHOD')),
        'uid': str(ev.get('UID')),
        'organizer': str(ev.get('ORGANIZER')),
        'sequence': int(ev.get('SEQUENCE')),
        'status': str(ev.get('STATUS')),
        'start_utc': start.astimezone(__import__('datetime').timezone.utc).strftime('%Y-%m-%d %H:%M'),
        'tzid': ev['DTSTART'].params.get('TZID'),
        'zones': [str(z.get('TZID')) for z in zones],
        'location': str(ev.get('LOCATION')) if ev.get('LOCATION') else None,
        'url': str(ev.get('URL')) if ev.get('URL') else None,
        'description': str(ev.get('DESCRIPTION')) if ev.get('DESCRIPTION') else None,
    })
print(json.dumps(out))
"#;

/// The calendar objects of `mails` as the independent parser reads them; panics loudly when
/// Python or its `icalendar` package is missing.
fn parse_with_icalendar(dir: &Path, mails: &[&Mail]) -> Vec<serde_json::Value> {
    let script = dir.join("read_ics.py");
    std::fs::write(&script, READ_ICS).unwrap();
    let mut files = Vec::new();
    for (i, m) in mails.iter().enumerate() {
        let f = dir.join(format!("cal{i}.ics"));
        std::fs::write(&f, m.calendar.as_deref().expect("a calendar part")).unwrap();
        files.push(f);
    }
    let out = Command::new("python3")
        .arg(&script)
        .args(&files)
        .output()
        .expect("python3 is needed: install it and `pip install icalendar`");
    assert!(
        out.status.success(),
        "the icalendar package refused our calendar (or is missing: pip install icalendar):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn to_of(m: &Mail) -> String {
    m.envelope_to[0].clone()
}

/// Anna, Bob and Cem invited to the café; Cem declines by reply.
fn invited_and_one_declined(ws: &Workspace) -> usize {
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.import_ok(
        &[
            Person::new("anna@nachbarn.example", "Anna", "de"),
            Person::new("bob@nachbarn.example", "Bob", "en"),
            Person::new("cem@nachbarn.example", "Cem", "de"),
        ],
        "nachbarschaft",
        "confirmed",
    );
    let out = ws.send_cafe_invitation();
    assert!(out.contains("3 sent"), "{out}");
    let mails = ws.outbox_messages();
    let cem = mails
        .iter()
        .find(|m| to_of(m) == "cem@nachbarn.example")
        .unwrap();
    let reply = format!(
        "From: cem@nachbarn.example\r\nTo: {}\r\nSubject: Re: Einladung\r\nMessage-ID: <c1@nachbarn.example>\r\n\
         Date: Mon, 9 Dec 2030 10:15:00 +0100\r\n\r\n2\r\n",
        cem.header("Reply-To")
    );
    ws.np(&["inbound", "ingest", "-"])
        .write_stdin(reply)
        .assert()
        .success();
    assert_eq!(
        ws.sql("SELECT r.status FROM relations r JOIN contacts c ON c.id = r.contact_id WHERE c.email = 'cem@nachbarn.example'"),
        vec![vec!["declined".to_string()]]
    );
    ws.outbox_count()
}

#[test]
#[ignore = "needs python icalendar"]
fn update_and_cancel_keep_uid_and_organizer_and_raise_the_sequence() {
    let ws = Workspace::new();
    let before = invited_and_one_declined(&ws);
    let invitations: Vec<Mail> = ws.outbox_messages().into_iter().take(3).collect();

    let out = ws.ok(&[
        "occasions",
        "edit",
        "cafe",
        "--start",
        "2030-05-19 16:00",
        "--place",
        "Bürgerhaus Nord",
    ]);
    assert!(out.contains("changed: start, place"), "{out}");
    assert!(out.contains("2 invited contact(s) notified"), "{out}");
    let all = ws.outbox_messages();
    let updates: Vec<&Mail> = all[before..].iter().collect();
    assert_eq!(updates.len(), 2, "Cem declined and hears nothing");
    assert!(updates.iter().all(|m| to_of(m) != "cem@nachbarn.example"));
    for m in &updates {
        assert!(m.header("Content-Type").starts_with("multipart/mixed"));
        assert!(m
            .content_types
            .iter()
            .any(|c| c == "text/calendar; method=request"));
        assert!(m
            .content_types
            .iter()
            .any(|c| c.starts_with("application/ics")));
        assert!(String::from_utf8_lossy(&m.raw).contains("filename=\"invite.ics\""));
        assert!(m.header("List-Id").contains("nachbarschaft."));
        let text = m.text.as_deref().unwrap();
        assert!(text.contains("Bürgerhaus Nord"), "{text}");
        // What changed, in the contact's language, in the configured zone.
        if to_of(m) == "anna@nachbarn.example" {
            assert!(text.contains("Zeit und Ort haben sich geändert"), "{text}");
            assert!(text.contains("16:00"), "{text}");
        } else {
            assert!(
                text.contains("The time and the place have changed"),
                "{text}"
            );
        }
    }

    let dir = ws.path();
    let first = parse_with_icalendar(dir, &invitations.iter().collect::<Vec<_>>());
    let second = parse_with_icalendar(dir, &updates);
    let invitation_of = |to: &str| {
        let i = invitations.iter().position(|m| to_of(m) == to).unwrap();
        first[i].clone()
    };
    for (m, cal) in updates.iter().zip(&second) {
        let was = invitation_of(&to_of(m));
        assert_eq!(cal["method"], "REQUEST");
        assert_eq!(cal["uid"], was["uid"], "same UID");
        assert_eq!(cal["organizer"], was["organizer"], "same ORGANIZER");
        assert_eq!(was["sequence"], 0);
        assert_eq!(cal["sequence"], 1);
        // 16:00 in Berlin in May is 14:00 UTC; written with its zone.
        assert_eq!(cal["start_utc"], "2030-05-19 14:00");
        assert_eq!(cal["tzid"], "Europe/Berlin");
        assert_eq!(cal["zones"], serde_json::json!(["Europe/Berlin"]));
        assert_eq!(cal["location"], "Bürgerhaus Nord");
        assert!(cal["url"].as_str().unwrap().contains("/r/"), "{cal}");
        assert!(cal["description"].is_string(), "{cal}");
    }

    let n = ws.outbox_count();
    let out = ws.ok(&[
        "occasions",
        "cancel",
        "cafe",
        "--reason",
        "Der Raum ist nicht frei.",
    ]);
    assert!(out.contains("2 invited contact(s) notified"), "{out}");
    let all = ws.outbox_messages();
    let cancels: Vec<&Mail> = all[n..].iter().collect();
    assert_eq!(cancels.len(), 2);
    let third = parse_with_icalendar(dir, &cancels);
    for (m, cal) in cancels.iter().zip(&third) {
        let was = invitation_of(&to_of(m));
        assert!(m
            .content_types
            .iter()
            .any(|c| c == "text/calendar; method=cancel"));
        assert!(m
            .text
            .as_deref()
            .unwrap()
            .contains("Der Raum ist nicht frei."));
        assert_eq!(cal["method"], "CANCEL");
        assert_eq!(cal["status"], "CANCELLED");
        assert_eq!(cal["uid"], was["uid"]);
        assert_eq!(cal["organizer"], was["organizer"]);
        assert_eq!(cal["sequence"], 2);
    }
    // The answers are kept; the timeline shows the change and the cancellation.
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM relations WHERE status = 'declined'"),
        1
    );
    let anna = ws.ok(&["contacts", "show", "anna@nachbarn.example"]);
    assert!(anna.contains("Begegnung geändert: Café"), "{anna}");
    assert!(anna.contains("Begegnung abgesagt: Café"), "{anna}");
    let cem = ws.ok(&["contacts", "show", "cem@nachbarn.example"]);
    assert!(!cem.contains("Begegnung geändert"), "{cem}");
}

fn attendance_confirms_the_encounter_and_shows_on_the_timeline(backend: Backend) {
    let ws = Workspace::on(backend);
    invited_and_one_declined(&ws);
    let out = ws.ok(&[
        "occasions",
        "attendance",
        "cafe",
        "--came",
        "anna@nachbarn.example",
        "cem@nachbarn.example",
        "--no-show",
        "bob@nachbarn.example",
    ]);
    assert!(out.contains("anna@nachbarn.example: came"), "{out}");
    let rows = ws.sql(
        "SELECT c.email, r.status, r.attendance FROM relations r JOIN contacts c ON c.id = r.contact_id
         WHERE r.form = 'encounter' ORDER BY c.email",
    );
    let row = |e: &str, s: &str, a: &str| vec![e.to_string(), s.to_string(), a.to_string()];
    assert_eq!(
        rows,
        vec![
            row("anna@nachbarn.example", "confirmed", "came"),
            // Bob never answered: not having come is recorded as a decline.
            row("bob@nachbarn.example", "declined", "no_show"),
            // Cem had declined but came after all: the encounter is confirmed.
            row("cem@nachbarn.example", "confirmed", "came"),
        ]
    );
    let anna = ws.ok(&["contacts", "show", "anna@nachbarn.example"]);
    assert!(anna.contains("war da"), "{anna}");
    // Recording it again changes nothing more than the time it was recorded.
    ws.ok(&[
        "occasions",
        "attendance",
        "cafe",
        "--came",
        "anna@nachbarn.example",
    ]);
    assert_eq!(
        ws.sql_i64("SELECT COUNT(*) FROM relations WHERE form = 'encounter'"),
        3
    );
    ws.np(&[
        "occasions",
        "attendance",
        "cafe",
        "--came",
        "niemand@nachbarn.example",
    ])
    .assert()
    .failure();
}

fn a_cancelled_occasion_cannot_change_and_unknown_ones_are_named(backend: Backend) {
    let ws = Workspace::on(backend);
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.ok(&[
        "occasions",
        "add",
        "cafe",
        "--title",
        "Café",
        "--start",
        "2030-05-12 15:00",
    ]);
    // Nobody invited yet: the change is saved and nobody is mailed.
    let out = ws.ok(&[
        "occasions",
        "edit",
        "cafe",
        "--title",
        "Café am Markt",
        "--capacity",
        "20",
    ]);
    assert!(out.contains("changed: title, capacity"), "{out}");
    let out = ws.ok(&["occasions", "cancel", "cafe"]);
    assert!(out.contains("nobody to notify"), "{out}");
    assert_eq!(ws.outbox_count(), 0);
    let err = ws
        .np(&["occasions", "edit", "cafe", "--place", "Markt"])
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&err.get_output().stderr).into_owned();
    assert!(stderr.contains("cancelled"), "{stderr}");
    ws.np(&["occasions", "cancel", "cafe"]).assert().failure();
    let err = ws
        .np(&["occasions", "edit", "nirgends", "--title", "X"])
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&err.get_output().stderr).into_owned();
    assert!(stderr.contains("nirgends"), "{stderr}");
    let list = ws.ok(&["occasions", "list", "--format", "json"]);
    assert!(list.contains("Café am Markt"), "{list}");
    assert!(list.contains("cancelled_at"), "{list}");
}

#[test]
fn each_occasion_command_has_help() {
    let ws = Workspace::new();
    for cmd in ["add", "list", "edit", "cancel", "attendance"] {
        let out = ws.ok(&["occasions", cmd, "--help"]);
        assert!(out.contains("Usage:"), "{cmd}: {out}");
    }
}

async fn helpers_check_people_in_by_the_signed_link_and_the_funnel_counts_who_came(
    backend: Backend,
) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let c = a.contact("gast@example.org", vec![t]).await;
    let other = a.contact("fremd@example.org", vec![t]).await;
    let (campaign, occasion) = a.invitation(t).await;
    let rsvp = a.sign(Purpose::Rsvp, campaign, c, occasion, None);
    a.post_form(&format!("/r/{rsvp}/yes"), "").await;
    let o = store::occasions::by_id(&a.db, occasion.into())
        .await
        .unwrap();
    let url = netzpost::web::public::check_in_url(&a.cfg, &a.key, &o);
    let path = url.strip_prefix(&a.base).unwrap().to_string();
    // The list: who said yes, with one button each; a GET changes nothing.
    let (s, page) = a.get(&path).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("gast@example.org"), "{page}");
    assert!(
        !page.contains("fremd@example.org"),
        "not invited, not listed"
    );
    assert!(
        page.contains("name=\"attendance\" value=\"came\""),
        "{page}"
    );
    assert!(page.contains("width=device-width"), "made for a phone");
    let (s, _) = a
        .post_form(&path, &format!("contact={c}&attendance=came"))
        .await;
    assert_eq!(s, 303, "back to the list");
    let (_, page) = a.get(&path).await;
    assert!(
        page.contains("value=\"no_show\""),
        "now it can be taken back: {page}"
    );
    assert_eq!(
        a.sql
            .column(
                &format!(
                    "SELECT attendance FROM relations WHERE contact_id = {c} AND form = 'encounter'"
                ),
                &[]
            )
            .await,
        vec!["came".to_string()]
    );
    // Someone not on the list cannot be marked through the link.
    let (s, _) = a
        .post_form(&path, &format!("contact={other}&attendance=came"))
        .await;
    assert_eq!(s, 404);
    // A forged link shows nothing.
    let (s, _) = a.get("/checkin/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").await;
    assert_eq!(s, 400);
    // The funnel counts who came, per topic and per campaign.
    let topics = store::report::topics(&a.db, 180, None).await.unwrap();
    assert_eq!((topics[0].encounter, topics[0].came), (1, 1));
    let timeline = store::contacts::detail(&a.db, "gast@example.org", 180)
        .await
        .unwrap()
        .timeline;
    assert!(timeline.iter().any(|x| x.kind == "attendance"));
}
