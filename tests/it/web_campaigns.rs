//! The coordinator's workspace over plain HTTP: a campaign written, previewed, tested, sent
//! after a confirmation that names the number, and stopped after one that says what is lost;
//! the review queue as an inbox that answers a reply in its thread and decides as chosen; the
//! funnel with its window; the RSVP page's cooperation click telling the organiser; the
//! organisation's name on public pages.

use crate::support::app::AdminSession;
use crate::support::forms::PASSWORD;
use crate::support::{App, Backend};
use netzpost::domain::{ConsentStatus, SuppressionReason};
use netzpost::store;
use netzpost::token::Purpose;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION};

each_db!(
    async a_campaign_is_written_previewed_tested_sent_and_stopped_in_the_browser,
    the_review_inbox_answers_in_the_thread_and_decides_as_chosen,
    the_funnel_states_its_window_and_a_cooperation_click_tells_the_organiser,
);

async fn signed_in(a: &App) -> AdminSession {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    a.quick_password("admin", PASSWORD).await;
    a.admin_login("admin", PASSWORD).await
}

async fn page(a: &App, s: &AdminSession, path: &str) -> String {
    let r = a.admin_get(&s.cookie, path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

fn post_body(s: &AdminSession, fields: &[(&str, &str)]) -> String {
    let mut f = form_urlencoded::Serializer::new(String::new());
    f.append_pair("csrf", &s.csrf);
    for (k, v) in fields {
        f.append_pair(k, v);
    }
    f.finish()
}

async fn a_campaign_is_written_previewed_tested_sent_and_stopped_in_the_browser(backend: Backend) {
    let a = App::on(backend).await;
    let s = signed_in(&a).await;
    let t = a.topic("nachbarschaft").await;
    // The café and an earlier invitation to it.
    let (earlier, occasion) = a.invitation(t).await;
    for n in 1..=3 {
        a.contact(&format!("ja{n}@example.org"), vec![t]).await;
    }
    a.contact_with("offen@example.org", vec![t], ConsentStatus::Pending)
        .await;
    a.contact("gesperrt@example.org", vec![t]).await;
    store::suppressions::add(
        &a.db,
        "gesperrt@example.org",
        SuppressionReason::HardBounce,
        None,
    )
    .await
    .unwrap();
    // Invited a day ago by the earlier invitation: the gap between invitations holds them back.
    let recent = a.contact("neulich@example.org", vec![t]).await;
    a.sql
        .exec(
            "INSERT INTO deliveries (campaign_id, contact_id, status, next_attempt_at, sent_at, created_at)
             VALUES ($1, $2, 'sent', $3, $3, $3)",
            &[
                earlier.into(),
                recent.into(),
                (chrono::Utc::now() - chrono::Duration::days(1)).into(),
            ],
        )
        .await;

    // The form, and an invitation without its occasion: refused in words, nothing typed lost.
    let form = page(&a, &s, "/admin/campaigns/new").await;
    assert!(
        form.contains("jede Woche") && form.contains("einmal am"),
        "{form}"
    );
    assert!(form.contains("Nachbarschaftscafé"), "{form}");
    let fields = [
        ("name", "einladung-web"),
        ("kind", "invitation"),
        ("topic", ""),
        ("subject", "Kommen Sie ins Café"),
        (
            "body",
            "Liebe Nachbarin, lieber Nachbar,\n\nwir freuen uns auf Sie.",
        ),
        ("audience", "everyone"),
        ("when", "draft"),
    ];
    let r = a
        .admin_post(&s.cookie, "/admin/campaigns/new", &post_body(&s, &fields))
        .await;
    assert_eq!(r.status(), 422);
    let again = r.text().await.unwrap();
    assert!(again.contains("braucht einen Termin"), "{again}");
    assert!(again.contains("Kommen Sie ins Café"), "{again}");
    assert!(again.contains("wir freuen uns auf Sie."), "{again}");
    let occasion_id = occasion.to_string();
    let mut fields = fields.to_vec();
    fields.push(("occasion", &occasion_id));
    // Counting the recipients while writing shows the number and saves nothing.
    let mut counting = fields.clone();
    counting.push(("count", "1"));
    let r = a
        .admin_post(&s.cookie, "/admin/campaigns/new", &post_body(&s, &counting))
        .await;
    assert_eq!(r.status(), 200);
    let counted = r.text().await.unwrap();
    assert!(counted.contains("an 3 Kontakte"), "{counted}");
    assert!(counted.contains("1 gesperrt"), "{counted}");
    assert!(counted.contains("wir freuen uns auf Sie."), "{counted}");
    assert!(store::campaigns::get(&a.db, "einladung-web").await.is_err());
    let r = a
        .admin_post(&s.cookie, "/admin/campaigns/new", &post_body(&s, &fields))
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION], "/admin/campaigns/einladung-web");

    // Its page: the number it will reach and why the others are left out, a preview.
    let r = a
        .admin_get(&s.cookie, "/admin/campaigns/einladung-web")
        .await;
    let csp = r.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    let detail = r.text().await.unwrap();
    assert!(detail.contains("an 3 Kontakte"), "{detail}");
    assert!(detail.contains("3 der 6 Kontakte"), "{detail}");
    assert!(
        detail.contains("1 ohne bestätigte Einwilligung"),
        "{detail}"
    );
    assert!(detail.contains("1 gesperrt"), "{detail}");
    assert!(detail.contains("1 haben zuletzt genug Post"), "{detail}");
    assert!(detail.contains("Einladung zu einem Termin") && detail.contains("Entwurf"));
    assert!(!detail.contains("draft"), "no internal state names");
    assert!(detail.contains("Kommen Sie ins Café"), "{detail}");
    assert!(detail.contains("wir freuen uns auf Sie."), "{detail}");
    assert!(detail.contains("Kalendereintrag"), "{detail}");
    assert!(
        !detail.contains("Content-Transfer-Encoding"),
        "never the encoded source"
    );
    assert!(csp.contains("frame-src 'self'"), "{csp}");
    let src = detail
        .split("class=\"mailhtml\" sandbox src=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .expect("the HTML part in a sandboxed frame")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&");
    let r = a.admin_get(&s.cookie, &src).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .starts_with("sandbox"));
    assert!(r.text().await.unwrap().contains("wir freuen uns auf Sie."));
    let other = page(
        &a,
        &s,
        "/admin/campaigns/einladung-web?to=ja2%40example.org",
    )
    .await;
    assert!(other.contains("ja2@example.org"), "{other}");

    // The command line's preview is readable too; --raw gives the encoded mail.
    let out = a.cli(&[
        "campaigns",
        "preview",
        "einladung-web",
        "--to",
        "ja1@example.org",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Subject:  Kommen Sie ins Café"), "{text}");
    assert!(text.contains("wir freuen uns auf Sie."), "{text}");
    assert!(text.contains("calendar entry"), "{text}");
    assert!(!text.contains("Content-Transfer-Encoding"), "{text}");
    let raw = a.cli(&[
        "campaigns",
        "preview",
        "einladung-web",
        "--to",
        "ja1@example.org",
        "--raw",
    ]);
    assert!(String::from_utf8_lossy(&raw.stdout).contains("MIME-Version: 1.0"));

    // A test to oneself: the address is kept for the next time.
    let r = a
        .admin_post(
            &s.cookie,
            "/admin/campaigns/einladung-web/test",
            &post_body(&s, &[("address", "ich@nordstadt.example")]),
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(a
        .mails()
        .iter()
        .any(|m| m.contains("To: ich@nordstadt.example")));
    let detail = page(&a, &s, "/admin/campaigns/einladung-web?done=test").await;
    assert!(
        detail.contains("value=\"ich@nordstadt.example\""),
        "{detail}"
    );
    assert!(detail.contains("Testnachricht ist unterwegs"), "{detail}");

    // Sending asks once, naming the number; then 3 are queued and the page refreshes itself.
    let confirm = page(&a, &s, "/admin/campaigns/einladung-web/send").await;
    assert!(confirm.contains("Ja, an 3 Kontakte senden"), "{confirm}");
    assert!(
        confirm.contains("1 ohne bestätigte Einwilligung"),
        "{confirm}"
    );
    assert_eq!(
        store::campaigns::get(&a.db, "einladung-web")
            .await
            .unwrap()
            .status
            .as_str(),
        "draft",
        "the confirmation page changes nothing"
    );
    let r = a
        .admin_post(
            &s.cookie,
            "/admin/campaigns/einladung-web/send",
            &post_body(&s, &[]),
        )
        .await;
    assert_eq!(r.status(), 303);
    let c = store::campaigns::get(&a.db, "einladung-web").await.unwrap();
    assert_eq!(c.status.as_str(), "running");
    assert_eq!(
        store::campaigns::progress(&a.db, c.id)
            .await
            .unwrap()
            .queued,
        3
    );
    let running = page(&a, &s, "/admin/campaigns/einladung-web").await;
    assert!(running.contains("http-equiv=\"refresh\""), "{running}");
    assert!(running.contains("an 3 Kontakte versandt"), "{running}");
    assert!(
        running.contains("1 gesperrt"),
        "the reasons stay: {running}"
    );

    // "Abbrechen" is no longer a way to end a campaign; stopping asks once, saying what is lost.
    let r = a
        .admin_post(
            &s.cookie,
            "/admin/campaigns/einladung-web/cancel",
            &post_body(&s, &[]),
        )
        .await;
    assert_eq!(r.status(), 404);
    let confirm = page(&a, &s, "/admin/campaigns/einladung-web/stop").await;
    assert!(
        confirm.contains("3 Nachrichten, die noch nicht versandt sind, werden verworfen"),
        "{confirm}"
    );
    assert!(confirm.contains("Zurück, ohne etwas zu ändern"));
    let r = a
        .admin_post(
            &s.cookie,
            "/admin/campaigns/einladung-web/stop",
            &post_body(&s, &[]),
        )
        .await;
    assert_eq!(r.status(), 303);
    let c = store::campaigns::get(&a.db, "einladung-web").await.unwrap();
    assert_eq!(c.status.as_str(), "cancelled");
    let list = page(&a, &s, "/admin/campaigns").await;
    assert!(
        list.contains("beendet") && list.contains("Entwurf"),
        "{list}"
    );

    // A weekly newsletter from the plain choices becomes its crontab line; a draft can be
    // changed.
    let weekly = [
        ("name", "rundbrief"),
        ("kind", "newsletter"),
        ("topic", &t.to_string()),
        ("subject", "Neues aus der Nordstadt"),
        ("body", "Hallo!"),
        ("when", "weekly"),
        ("weekday", "1"),
        ("time", "09:00"),
    ];
    let r = a
        .admin_post(&s.cookie, "/admin/campaigns/new", &post_body(&s, &weekly))
        .await;
    assert_eq!(r.status(), 303);
    let c = store::campaigns::get(&a.db, "rundbrief").await.unwrap();
    assert_eq!(c.schedule.as_deref(), Some("0 9 * * 1"));
    let detail = page(&a, &s, "/admin/campaigns/rundbrief").await;
    assert!(detail.contains("jeden Montag um 09:00 Uhr"), "{detail}");
    let r = a
        .admin_post(
            &s.cookie,
            "/admin/campaigns/new",
            &post_body(
                &s,
                &[
                    ("name", "entwurf"),
                    ("kind", "newsletter"),
                    ("topic", &t.to_string()),
                    ("body", "Erste Fassung"),
                    ("when", "draft"),
                ],
            ),
        )
        .await;
    assert_eq!(r.status(), 303);
    let edit = page(&a, &s, "/admin/campaigns/entwurf/edit").await;
    assert!(edit.contains("Erste Fassung"), "{edit}");
    let r = a
        .admin_post(
            &s.cookie,
            "/admin/campaigns/entwurf/edit",
            &post_body(
                &s,
                &[
                    ("kind", "newsletter"),
                    ("topic", &t.to_string()),
                    ("body", "Zweite Fassung"),
                    ("when", "draft"),
                ],
            ),
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        store::campaigns::get(&a.db, "entwurf").await.unwrap().body,
        "Zweite Fassung"
    );
    a.stop().await;
}

async fn the_review_inbox_answers_in_the_thread_and_decides_as_chosen(backend: Backend) {
    let a = App::on(backend).await;
    let s = signed_in(&a).await;
    let t = a.topic("nachbarschaft").await;
    let (campaign, _) = a.invitation(t).await;
    let c = a.contact("frage@example.org", vec![t]).await;
    let first = a.pending_decision(c, 1).await;
    let second = a.pending_decision(c, 2).await;
    // The reply answers the invitation (as the inbound side records it).
    a.sql
        .exec(
            "UPDATE decisions SET campaign_id = $1, action = 'question'",
            &[campaign.into()],
        )
        .await;

    let inbox = page(&a, &s, "/admin/review").await;
    assert!(inbox.contains("2 offen"), "the count in the menu: {inbox}");
    assert!(inbox.contains("2 Antworten warten auf Sie."), "{inbox}");
    assert!(
        inbox.contains(&format!("href=\"/admin/contacts/{c}\"")),
        "{inbox}"
    );
    assert!(inbox.contains("hat eine Frage"), "{inbox}");
    assert!(
        inbox.contains("<details>") && inbox.contains("unsure"),
        "{inbox}"
    );
    assert!(
        inbox.contains("Vielleicht, &lt;b&gt;mal&lt;") && !inbox.contains("<b>mal"),
        "{inbox}"
    );

    // Answer the first, and take it as cooperation interest in the same step.
    let r = a
        .admin_post(
            &s.cookie,
            &format!("/admin/review/{first}/answer"),
            &post_body(
                &s,
                &[
                    ("text", "Gern! Wir melden uns mit einem Termin."),
                    ("then", "cooperation"),
                ],
            ),
        )
        .await;
    assert_eq!(r.status(), 303);
    let mails = a.mails();
    let answer = mails
        .iter()
        .find(|m| m.contains("Wir melden uns mit einem Termin."))
        .expect("the answer in the outbox");
    assert!(
        answer.contains("To: Erika Muster <frage@example.org>")
            || answer.contains("frage@example.org")
    );
    assert!(answer.contains("In-Reply-To: <q1@example.org>"), "{answer}");
    assert!(answer.contains("References: <q1@example.org>"), "{answer}");
    assert!(answer.contains("Subject: Re: Einladung"), "{answer}");
    assert!(
        answer.contains("Reply-To:") && answer.contains("antwort+"),
        "{answer}"
    );
    assert!(
        !answer.contains("Auto-Submitted"),
        "a person wrote it: {answer}"
    );
    assert_eq!(
        a.relation(c, "cooperation").await.map(|r| r.0),
        Some("interested".into())
    );
    // Cooperation interest tells the organiser, as a mail reply saying so would.
    assert!(
        a.mails()
            .iter()
            .any(|m| m.contains("To: koordination@nordstadt.example")),
        "organiser told"
    );
    let timeline = store::contacts::detail(&a.db, "frage@example.org", 180)
        .await
        .unwrap()
        .timeline;
    assert!(timeline.iter().any(|x| x.kind == "answer"), "{timeline:?}");
    let contact = page(&a, &s, &format!("/admin/contacts/{c}")).await;
    assert!(
        contact.contains("beantwortet von admin:admin: Gern! Wir melden uns"),
        "{contact}"
    );

    // The second means "no more mail": chosen instead of the proposal.
    let r = a
        .admin_post(
            &s.cookie,
            &format!("/admin/review/{second}/accept"),
            &post_body(&s, &[("as", "unsubscribe")]),
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(a.status(c, t).await.as_deref(), Some("unsubscribed"));

    // Open items first: a new one stands above the two decided.
    let third = a.pending_decision(c, 3).await;
    let inbox = page(&a, &s, "/admin/review").await;
    let at = |id: i64| inbox.find(&format!("id=\"d{id}\"")).expect("item listed");
    assert!(at(third) < at(first) && at(third) < at(second));
    assert!(inbox.contains("1 offen"), "{inbox}");
    assert!(inbox.contains("Zuletzt entschieden"), "{inbox}");

    // An empty answer is refused in words and sends nothing.
    let before = a.mails().len();
    let r = a
        .admin_post(
            &s.cookie,
            &format!("/admin/review/{third}/answer"),
            &post_body(&s, &[("text", "  ")]),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Die Antwort ist leer."));
    assert_eq!(a.mails().len(), before);
    a.stop().await;
}

async fn the_funnel_states_its_window_and_a_cooperation_click_tells_the_organiser(
    backend: Backend,
) {
    let a = App::on(backend).await;
    let s = signed_in(&a).await;
    let t = a.topic("nachbarschaft").await;
    let (campaign, occasion) = a.invitation(t).await;
    let c = a.contact("mitmachen@example.org", vec![t]).await;
    a.contact("still@example.org", vec![t]).await;
    let dash = page(&a, &s, "/admin").await;
    assert!(dash.contains("Noch keine Aussendung verschickt"), "{dash}");
    assert!(dash.contains("Jetzt still: 2"), "{dash}");

    let cfg = a.cfg.clone();
    let k = store::campaigns::by_id(&a.db, campaign.into())
        .await
        .unwrap();
    netzpost::outbound::campaign::start(&a.db, &cfg, &k)
        .await
        .unwrap();
    a.engine.run_until_idle().await.unwrap();
    let token = a.sign(Purpose::Rsvp, campaign, c, occasion, None);
    let (status, _) = a.post_form(&format!("/r/{token}/cooperation"), "").await;
    assert_eq!(status, 200);
    let notice = a
        .mails()
        .into_iter()
        .find(|m| m.contains("To: koordination@nordstadt.example"))
        .expect("the organiser is told of a cooperation click");
    assert!(notice.contains("mitmachen@example.org"), "{notice}");

    let dash = page(&a, &s, "/admin").await;
    assert!(dash.contains("Zeitraum:"), "{dash}");
    assert!(
        !dash.contains("T0") && !dash.contains("Z<"),
        "times are local: {dash}"
    );
    let funnel = &dash[dash
        .find("aria-label=\"Nach Thema")
        .expect("the topic's funnel")..];
    let stage = |label: &str| -> i64 {
        let at = funnel.find(label).unwrap_or_else(|| panic!("{label}"));
        let rest = &funnel[at..];
        let num = rest.split("<strong class=\"num\">").nth(1).unwrap();
        num.split('<').next().unwrap().parse().unwrap()
    };
    assert_eq!(stage("eingeladen"), 2);
    assert_eq!(stage("möchte mitmachen"), 1);
    assert_eq!(stage("hat zugesagt"), 0);
    assert!(dash.contains("Jetzt still: 1"), "{dash}");
    // The command line and the API count the same, with the same window.
    let out = a.cli(&["report", "funnel", "--format", "json"]);
    assert!(out.status.success(), "{out:?}");
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let topic = &cli["topics"][0];
    assert_eq!(
        (&topic["invited"], &topic["cooperation"], &topic["silent"]),
        (&2.into(), &1.into(), &1.into()),
        "{cli}"
    );
    assert!(cli["window"]["since"].is_string(), "{cli}");
    let out = a.cli(&["report", "funnel"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("window: "), "{table}");
    assert!(table.contains("nachbarschaft"), "{table}");
    // A window that leaves the sending out: the topic's stages count nothing in it, on the
    // dashboard, the command line and the API alike; a longer one counts it again.
    let long_ago = chrono::Utc::now() - chrono::Duration::days(100);
    for table in [
        "UPDATE deliveries SET sent_at = $1",
        "UPDATE activities SET at = $1",
        "UPDATE relations SET updated_at = $1",
    ] {
        a.sql
            .exec(table, &[crate::support::db::Arg::Time(long_ago)])
            .await;
    }
    let dash = page(&a, &s, "/admin?days=30").await;
    assert!(dash.contains("<option value=\"30\" selected>"), "{dash}");
    assert!(dash.contains("Zeitraum der Themen:"), "{dash}");
    assert_eq!(stage_in(&dash, "eingeladen"), 0);
    assert_eq!(stage_in(&dash, "möchte mitmachen"), 0);
    assert!(
        dash.contains("Jetzt still: 1"),
        "silent is the state now: {dash}"
    );
    let dash = page(&a, &s, "/admin?days=365").await;
    assert_eq!(stage_in(&dash, "eingeladen"), 2);
    let out = a.cli(&["report", "funnel", "--days", "30", "--format", "json"]);
    assert!(out.status.success(), "{out:?}");
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli["topics"][0]["invited"], 0, "{cli}");
    let api = a.api_caller("bericht").await;
    let funnel: serde_json::Value = api.get_json("/reports/funnel?days=30").await;
    assert_eq!(funnel["topics"][0]["invited"], 0, "{funnel}");
    let funnel: serde_json::Value = api.get_json("/reports/funnel").await;
    assert_eq!(funnel["topics"][0]["invited"], 2, "{funnel}");
    assert_eq!(
        api.status(reqwest::Method::GET, "/reports/funnel?days=0")
            .await,
        400
    );
    // The public pages name the organisation, not the software.
    let (_, public) = a.get("/").await;
    assert!(public.contains("Netzwerk Nordstadt"), "{public}");
    assert!(!public.contains("· netzpost</title>"), "{public}");
    a.stop().await;
}

/// The number of a stage in the dashboard's first topic funnel.
fn stage_in(dash: &str, label: &str) -> i64 {
    let funnel = &dash[dash
        .find("aria-label=\"Nach Thema")
        .expect("the topic's funnel")..];
    let at = funnel.find(label).unwrap_or_else(|| panic!("{label}"));
    let num = funnel[at..].split("<strong class=\"num\">").nth(1).unwrap();
    num.split('<').next().unwrap().parse().unwrap()
}
