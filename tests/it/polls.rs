//! Date polls (Terminfindung): the invitation lists the candidate dates numbered and carries no
//! calendar entry; replies in German and English naming numbers are read and tallied, unclear
//! ones wait for review; picking a date sends the calendar invitation to those it suits and a
//! short note to the other invited.

use crate::support::forms::{submit, PASSWORD};
use crate::support::mail::subject;
use crate::support::workspace::mails_to;
use crate::support::{Mail, Person, Workspace};

/// `email` replies `text` (with the invitation quoted below it) to the last mail they got.
fn reply(ws: &Workspace, email: &str, text: &str, n: usize) {
    let got = ws
        .outbox_messages()
        .into_iter()
        .rfind(|m| m.envelope_to[0] == email)
        .unwrap_or_else(|| panic!("no mail to {email}"));
    let quoted: String = got
        .text()
        .lines()
        .take(20)
        .map(|l| format!("> {l}\r\n"))
        .collect();
    let raw = format!(
        "From: {email}\r\nTo: {}\r\nSubject: Re: {}\r\nMessage-ID: <poll{n}@nachbarn.example>\r\n\
         In-Reply-To: {}\r\nDate: Mon, 9 Dec 2030 10:15:00 +0100\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\r\n\
         Am 08.12.2030 um 09:00 schrieb Nachbarschaftsnetz:\r\n{quoted}",
        got.header("Reply-To"),
        got.header("Subject"),
        got.header("Message-ID"),
    );
    ws.np(&["inbound", "ingest", "-"])
        .write_stdin(raw)
        .assert()
        .success();
}

/// The mails to `email` about the café (not, say, a request to confirm their consent).
fn about_cafe(ws: &Workspace, email: &str) -> Vec<Mail> {
    mails_to(ws, email)
        .into_iter()
        .filter(|m| subject(m).contains("Café"))
        .collect()
}

/// Twenty people answer, ten in German and ten in English, each differently; what each said
/// is the expected answer beside it.
const ANSWERS: [(&str, &str, &[u8]); 20] = [
    ("de", "1 und 3", &[1, 3]),
    ("de", "alle", &[1, 2, 3]),
    ("de", "keiner", &[]),
    ("de", "Nur 2.", &[2]),
    ("de", "2 geht, 3 nicht", &[2]),
    ("de", "Termin 1 passt mir gut, danke!", &[1]),
    ("de", "Alle außer 2", &[1, 3]),
    ("de", "1, 2\r\n\r\nViele Grüße\r\nLena", &[1, 2]),
    ("de", "Leider keiner davon.", &[]),
    ("de", "3", &[3]),
    ("en", "1 and 3", &[1, 3]),
    ("en", "All of them work for me", &[1, 2, 3]),
    ("en", "none", &[]),
    ("en", "2 works, 1 doesn't", &[2]),
    ("en", "I can do 3 but not 1", &[3]),
    ("en", "all but 2", &[1, 3]),
    ("en", "Option 1 please", &[1]),
    ("en", "1-2", &[1, 2]),
    ("en", "None of them, sorry", &[]),
    ("en", "both 1+3", &[1, 3]),
];

#[test]
fn a_date_poll_answered_by_twenty_replies_in_german_and_english_tallies_right() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "nachbarschaft"]);
    let mut people: Vec<Person> = ANSWERS
        .iter()
        .enumerate()
        .map(|(i, (lang, _, _))| Person::new(&format!("p{i}@nachbarn.example"), "P", lang))
        .collect();
    // Two who will not answer, and one who will write something unclear.
    people.push(Person::new("still@nachbarn.example", "Still", "de"));
    people.push(Person::new("quiet@nachbarn.example", "Quiet", "en"));
    people.push(Person::new("vage@nachbarn.example", "Vage", "de"));
    ws.import_ok(&people, "nachbarschaft", "confirmed");
    // Someone without consent for the topic is neither asked nor told.
    ws.import_ok(
        &[Person::new("ohne@nachbarn.example", "Ohne", "de")],
        "nachbarschaft",
        "pending",
    );
    let added = ws.ok(&[
        "occasions",
        "add",
        "cafe",
        "--title",
        "Café",
        "--date",
        "2030-05-12 15:00 - 17:00",
        "--date",
        "2030-05-14 18:00",
        "--date",
        "2030-05-16 10:00 - 12:00",
        "--topic",
        "nachbarschaft",
    ]);
    assert!(added.contains("date poll of 3 dates"), "{added}");
    ws.ok(&[
        "campaigns",
        "create",
        "einladung",
        "--kind",
        "invitation",
        "--occasion",
        "cafe",
        "--body",
        "Kommen Sie vorbei!",
    ]);
    let sent = ws.ok(&["campaigns", "send", "einladung", "--wait"]);
    assert!(sent.contains("23 sent"), "{sent}");

    // The invitation numbers the dates in the person's language and puts none in a calendar.
    let de = &mails_to(&ws, "p0@nachbarn.example")[0];
    assert_eq!(subject(de), "Terminumfrage: Café");
    assert!(de.calendar.is_none(), "no date is fixed yet");
    let text = de.text();
    assert!(text.contains("1 = "), "{text}");
    assert!(text.contains("3 = "), "{text}");
    assert!(text.contains("„1 und 3“"), "{text}");
    assert!(text.contains("/poll"), "{text}");
    let en = &mails_to(&ws, "p10@nachbarn.example")[0];
    assert_eq!(subject(en), "Finding a date: Café");
    assert!(en.text().contains("\"1 and 3\""), "{}", en.text());
    assert!(about_cafe(&ws, "ohne@nachbarn.example").is_empty());

    for (i, (_, text, _)) in ANSWERS.iter().enumerate() {
        reply(&ws, &format!("p{i}@nachbarn.example"), text, i);
    }
    reply(
        &ws,
        "vage@nachbarn.example",
        "Mal sehen, ich melde mich.",
        99,
    );

    // Each answer as the person meant it.
    for (i, (_, text, want)) in ANSWERS.iter().enumerate() {
        let rows = ws.sql(&format!(
            "SELECT a.position FROM poll_answers a JOIN contacts c ON c.id = a.contact_id
             WHERE c.email = 'p{i}@nachbarn.example' AND a.can = 1 ORDER BY a.position"
        ));
        let got: Vec<u8> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
        assert_eq!(got, *want, "reply {i}: {text:?}");
        let answered = ws.sql_i64(&format!(
            "SELECT COUNT(*) FROM poll_answers a JOIN contacts c ON c.id = a.contact_id
             WHERE c.email = 'p{i}@nachbarn.example'"
        ));
        assert_eq!(answered, 3, "reply {i} answers every date");
    }
    // The unclear one waits for a person and counts nowhere.
    let vage = ws.sql_i64(
        "SELECT COUNT(*) FROM poll_answers a JOIN contacts c ON c.id = a.contact_id
         WHERE c.email = 'vage@nachbarn.example'",
    );
    assert_eq!(vage, 0);
    let pending = ws.ok(&["review", "list", "--format", "json"]);
    assert!(pending.contains("which dates suit is unclear"), "{pending}");

    // The tally: each date, how many it suits and how many not.
    let tally: serde_json::Value =
        serde_json::from_str(&ws.ok(&["occasions", "poll", "cafe", "--format", "json"])).unwrap();
    for n in 1..=3u8 {
        let can = ANSWERS.iter().filter(|(_, _, w)| w.contains(&n)).count();
        let row = &tally[usize::from(n - 1)];
        assert_eq!(row["number"], i64::from(n), "{tally}");
        assert_eq!(row["suits"], can as i64, "date {n}: {tally}");
        assert_eq!(row["does_not"], (20 - can) as i64, "date {n}: {tally}");
    }
    let table = ws.ok(&["occasions", "poll", "cafe"]);
    assert!(table.contains("20 answered"), "{table}");

    // Date 1 is picked: it suits eleven, who get the calendar invitation for that date; the
    // other invited (nine who cannot, three who did not say) a note without one.
    let suits_1: Vec<usize> = (0..20).filter(|&i| ANSWERS[i].2.contains(&1)).collect();
    let before = ws.outbox_count();
    let picked = ws.ok(&["occasions", "pick", "cafe", "1"]);
    assert!(
        picked.contains(&format!("{} with the calendar invitation", suits_1.len())),
        "{picked}"
    );
    assert!(picked.contains("12 told by a short note"), "{picked}");
    assert_eq!(ws.outbox_count(), before + 23);
    let yes = mails_to(&ws, "p0@nachbarn.example").pop().unwrap();
    assert_eq!(subject(&yes), "Der Termin steht: Café");
    let cal = yes.calendar.as_deref().expect("a calendar invitation");
    assert!(cal.contains("METHOD:REQUEST"), "{cal}");
    assert!(
        cal.contains("DTSTART;TZID=Europe/Berlin:20300512T150000"),
        "{cal}"
    );
    assert!(
        cal.contains("DTEND;TZID=Europe/Berlin:20300512T170000"),
        "{cal}"
    );
    let no = mails_to(&ws, "p2@nachbarn.example").pop().unwrap();
    assert!(no.calendar.is_none());
    assert!(no.text().contains("Schade"), "{}", no.text());
    let quiet = mails_to(&ws, "quiet@nachbarn.example").pop().unwrap();
    assert_eq!(subject(&quiet), "The date is fixed: Café");
    assert!(
        quiet.text().contains("or we don't know"),
        "{}",
        quiet.text()
    );
    assert!(about_cafe(&ws, "ohne@nachbarn.example").is_empty());

    // The occasion now has that date, and a second pick is refused.
    let list: serde_json::Value =
        serde_json::from_str(&ws.ok(&["occasions", "list", "--format", "json"])).unwrap();
    assert!(
        list[0]["starts_at"]
            .as_str()
            .unwrap()
            .starts_with("2030-05-12T13:00:00"),
        "{list}"
    );
    let again = ws.run(&["occasions", "pick", "cafe", "2"]);
    assert!(!again.status.success());
    assert!(crate::support::text(&again).contains("picked already"));

    // A "ja" to the note is an ordinary yes now that the date is fixed.
    reply(&ws, "p0@nachbarn.example", "Ja, ich komme!", 100);
    let status = ws.sql(
        "SELECT r.status FROM relations r JOIN contacts c ON c.id = r.contact_id
         WHERE c.email = 'p0@nachbarn.example' AND r.form = 'encounter'",
    );
    assert_eq!(status[0][0], "confirmed");
}

#[test]
fn a_poll_answer_by_reply_can_be_undone_from_the_review_list() {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "nachbarschaft"]);
    ws.import_ok(
        &[Person::new("anna@nachbarn.example", "Anna", "de")],
        "nachbarschaft",
        "confirmed",
    );
    ws.ok(&[
        "occasions",
        "add",
        "rat",
        "--title",
        "Rat",
        "--date",
        "2030-06-01 18:00",
        "--date",
        "2030-06-02 18:00",
        "--topic",
        "nachbarschaft",
    ]);
    ws.ok(&[
        "campaigns",
        "create",
        "rat-einladung",
        "--kind",
        "invitation",
        "--occasion",
        "rat",
    ]);
    ws.ok(&["campaigns", "send", "rat-einladung", "--wait"]);
    reply(&ws, "anna@nachbarn.example", "beide", 1);
    let can = "SELECT COUNT(*) FROM poll_answers WHERE can = 1";
    assert_eq!(ws.sql_i64(can), 2);
    let id = ws.sql_i64("SELECT id FROM decisions WHERE action = 'poll_answer'");
    ws.ok(&["review", "undo", &id.to_string()]);
    assert_eq!(ws.sql_i64("SELECT COUNT(*) FROM poll_answers"), 0);
}

each_db!(async a_poll_through_the_rsvp_page_and_the_api);

/// The same poll on each database: answers on the RSVP page (GET shows, POST saves), the tally
/// and the pick through the API, a second pick refused.
async fn a_poll_through_the_rsvp_page_and_the_api(backend: crate::support::Backend) {
    use netzpost::domain::TopicId;
    use netzpost::store;
    let a = crate::support::App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let anna = a.contact("anna@example.org", vec![t]).await;
    let bob = a.contact("bob@example.org", vec![t]).await;
    let day = |d: i64| chrono::Utc::now() + chrono::Duration::days(d);
    let o = a
        .poll(
            t,
            day(10),
            &[
                (day(10), None),
                (day(11), Some(day(11) + chrono::Duration::hours(2))),
            ],
        )
        .await;
    assert!(o.poll_open());
    let c = store::campaigns::create(
        &a.db,
        &store::campaigns::NewCampaign {
            name: "rat-einladung".into(),
            kind: store::campaigns::CampaignKind::Invitation,
            topic_id: Some(TopicId(t)),
            occasion_id: Some(o.id),
            subject: String::new(),
            body: String::new(),
            translations: Default::default(),
            audience: Default::default(),
            schedule: None,
            send_at: None,
            parent_id: None,
        },
    )
    .await
    .unwrap();
    a.send_campaign(c.id.get()).await;
    let mail = a
        .mails()
        .into_iter()
        .find(|m| m.contains("anna@example.org"))
        .unwrap();
    assert!(
        !mail.contains("text/calendar"),
        "no date to put in a calendar yet"
    );
    let link = crate::support::app::link_in(&mail, &format!("{}/r/", a.base));
    assert!(link.ends_with("/poll"), "{link}");
    let path = link.trim_start_matches(&a.base).to_string();
    let (status, page) = a.get(&path).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("name=\"d1\"") && page.contains("name=\"d2\""),
        "{page}"
    );
    // A GET changes nothing.
    assert_eq!(store::polls::respondents(&a.db, o.id).await.unwrap(), 0);
    let (status, page) = a.post_form(&path, "d1=no&d2=yes").await;
    assert_eq!(status, 200, "{page}");
    // Bob answers by the same service (as a reply would).
    netzpost::activation::answer_poll(
        &a.db,
        netzpost::domain::ContactId(bob),
        &o,
        &[(1, true), (2, true)],
        &netzpost::activation::Cause::Admin { by: "test".into() },
    )
    .await
    .unwrap();
    let (_, page) = a.get(&path).await;
    assert!(
        page.contains("value=\"yes\" checked"),
        "the answer is shown again: {page}"
    );

    let api = a.api_caller("coordinator").await;
    let tally = api.get_json("/occasions/rat/poll").await;
    assert_eq!(tally["answered"], 2, "{tally}");
    assert_eq!(tally["dates"][0]["can"], 1, "{tally}");
    assert_eq!(tally["dates"][0]["cannot"], 1, "{tally}");
    assert_eq!(tally["dates"][1]["can"], 2, "{tally}");
    let pick = |date: i64| {
        let body = serde_json::json!({ "date": date });
        api.send_json(reqwest::Method::POST, "/occasions/rat/pick", body)
    };
    let r = pick(2).await;
    assert_eq!(r.status(), 200);
    let picked: serde_json::Value = r.json().await.unwrap();
    assert_eq!(picked["suits"], 2, "{picked}");
    assert_eq!(picked["notified"]["sent"], 2, "{picked}");
    let o = store::occasions::get(&a.db, "rat").await.unwrap();
    assert_eq!(o.picked_date, Some(2));
    assert!(!o.poll_open());
    assert!(o.ends_at.is_some());
    let r = pick(1).await;
    assert_eq!(r.status(), 409);
    // The page now says the date is fixed, and takes no answer.
    let (status, _) = a.post_form(&path, "d1=yes").await;
    assert_eq!(status, 409);
    let _ = anna;
}

/// The admin occasion page: the tally with a button per date that picks it; the reminder and
/// follow-up days in the form; "Danke senden" once the occasion has begun.
#[tokio::test]
async fn the_admin_page_shows_the_tally_picks_a_date_sets_the_days_and_thanks() {
    use netzpost::store;
    let a = crate::support::App::start().await;
    let t = a.topic("nachbarschaft").await;
    let anna = a.contact("anna@example.org", vec![t]).await;
    let day = |d: i64| chrono::Utc::now() + chrono::Duration::days(d);
    let o = a
        .poll(t, day(10), &[(day(10), None), (day(12), None)])
        .await;
    let cause = netzpost::activation::Cause::Admin { by: "test".into() };
    netzpost::activation::answer_poll(
        &a.db,
        netzpost::domain::ContactId(anna),
        &o,
        &[(1, false), (2, true)],
        &cause,
    )
    .await
    .unwrap();
    a.quick_password("admin", PASSWORD).await;
    let s = a.admin_login("admin", PASSWORD).await;
    let page = a.admin_text(&s.cookie, "/admin/occasions/rat").await;
    assert!(page.contains("Terminumfrage"), "{page}");
    assert!(page.contains("1 haben geantwortet."), "{page}");
    assert!(page.contains("Diesen Termin nehmen"), "{page}");
    // The days in force are in the form (the configured ones: 2 and 5).
    assert!(
        page.contains("name=\"reminder_days\" min=\"0\" max=\"365\" value=\"2\""),
        "{page}"
    );
    // Not begun yet: no thanks.
    assert!(!page.contains("Danke senden"), "{page}");

    let r = submit(
        &a,
        &s.cookie,
        &s.csrf,
        "/admin/occasions/rat/pick",
        &[("date", "2")],
    )
    .await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let o = store::occasions::get(&a.db, "rat").await.unwrap();
    assert_eq!(o.picked_date, Some(2));
    let page = a.admin_text(&s.cookie, "/admin/occasions/rat").await;
    assert!(page.contains("Termin 2 steht fest."), "{page}");
    assert!(!page.contains("Diesen Termin nehmen"), "{page}");

    // The form sets the days of the reminder and the follow-up.
    let tz = chrono_tz::Europe::Berlin;
    let start = o.starts_at.with_timezone(&tz);
    let form = format!(
        "csrf={}&title=Runder+Tisch&date={}&time={}&reminder_days=1&follow_up_days=0",
        s.csrf,
        start.format("%Y-%m-%d"),
        start.format("%H%%3A%M"),
    );
    let r = a.admin_post(&s.cookie, "/admin/occasions/rat", &form).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let o = store::occasions::get(&a.db, "rat").await.unwrap();
    assert_eq!((o.reminder_days, o.follow_up_days), (Some(1), Some(0)));

    // Once it has begun, the thanks go to those who came, with the next step chosen.
    a.sql
        .exec(
            "UPDATE occasions SET starts_at = $1 WHERE slug = 'rat'",
            &[crate::support::db::Arg::Time(day(-1))],
        )
        .await;
    let o = store::occasions::get(&a.db, "rat").await.unwrap();
    netzpost::activation::record_attendance(
        &a.db,
        netzpost::domain::ContactId(anna),
        &o,
        netzpost::activation::Attendance::Came,
        &cause,
    )
    .await
    .unwrap();
    let page = a.admin_text(&s.cookie, "/admin/occasions/rat").await;
    assert!(page.contains("Danke senden"), "{page}");
    let thank = [("next", "cooperation"), ("text", "Bis bald")];
    let r = submit(&a, &s.cookie, &s.csrf, "/admin/occasions/rat/thank", &thank).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let thanks =
        store::occasion_mails::existing(&a.db, o.id, store::occasion_mails::OccasionMail::Thanks)
            .await
            .unwrap()
            .expect("the thank-you campaign");
    assert_eq!(thanks.next_step.as_deref(), Some("cooperation"));
    assert_eq!(thanks.body, "Bis bald");
    a.stop().await;
}

/// A coordinator starts a date poll from the admin form: the candidate dates one a line.
#[tokio::test]
async fn the_admin_form_adds_an_occasion_with_a_date_poll() {
    let a = crate::support::App::start().await;
    a.topic("nachbarschaft").await;
    a.quick_password("admin", PASSWORD).await;
    let s = a.admin_login("admin", PASSWORD).await;
    let form = |dates: &str| {
        format!(
            "csrf={}&slug=rat&title=Runder+Tisch&date=&time=&topic=nachbarschaft&poll_dates={}",
            s.csrf,
            dates
                .replace(' ', "+")
                .replace(':', "%3A")
                .replace('\n', "%0A")
        )
    };
    // One date is no poll.
    let r = a
        .admin_post(&s.cookie, "/admin/occasions/new", &form("2030-12-08 18:00"))
        .await;
    assert_eq!(r.status(), 422);
    let r = a
        .admin_post(
            &s.cookie,
            "/admin/occasions/new",
            &form("2030-12-08 18:00 - 20:00\n2030-12-10 18:00\n\n2030-12-12 10:00"),
        )
        .await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let o = netzpost::store::occasions::get(&a.db, "rat").await.unwrap();
    assert_eq!(o.poll_dates, 3);
    assert!(o.poll_open());
    let dates = netzpost::store::polls::dates(&a.db, o.id).await.unwrap();
    assert_eq!(dates[0].starts_at, o.starts_at);
    assert!(dates[0].ends_at.is_some() && dates[1].ends_at.is_none());
    a.stop().await;
}
