//! The coordinator's day in a real browser (headless Chromium), at 1280 and at 390 px: write an
//! invitation, preview it, send it after the confirmation that names the number; a contact
//! clicks "I would like to take part" and the funnel changes; a question in the review queue is
//! answered from the inbox. On a phone no page is wider than the screen.

use crate::support::app::link_in;
use crate::support::browser::Driver;
use crate::support::App;
use netzpost::store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and axe-core: apt-get install chromium chromium-driver; npm install axe-core, NETZPOST_TEST_AXE=.../axe.min.js (run by .ci/run)"]
async fn write_preview_send_answer_and_see_the_funnel_at_1280_px() {
    coordinator_day(1280).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and axe-core: apt-get install chromium chromium-driver; npm install axe-core, NETZPOST_TEST_AXE=.../axe.min.js (run by .ci/run)"]
async fn write_preview_send_answer_and_see_the_funnel_at_390_px() {
    coordinator_day(390).await;
}

/// Whether the page fits the window (at 390 px nothing may stick out sideways) and axe-core
/// finds no WCAG 2 A or AA violation on it.
async fn fits(b: &Driver, width: i64, what: &str) {
    let w = b.scroll_width().await;
    if w > width {
        // Name the elements that stick out, to say where to look.
        let wide = b
            .execute(&format!(
                "return [...document.querySelectorAll('body *')]
                   .filter(e => e.getBoundingClientRect().right > {width})
                   .slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));"
            ))
            .await;
        panic!("{what}: {w} px wide in a {width} px window: {wide}");
    }
    b.assert_accessible(&format!("{what} at {width} px")).await;
}

async fn coordinator_day(width: u32) {
    let a = App::start_with(|c| c.http.trusted_proxies.clear()).await;
    let base = a.base.clone();
    let t = a.topic("nachbarschaft").await;
    let (_, occasion) = a.invitation(t).await;
    for who in ["amira", "jonas", "fatma"] {
        a.contact(&format!("{who}@example.org"), vec![t]).await;
    }
    a.quick_password("admin", "browser-test-passwort").await;

    let b = Driver::start().await;
    b.set_width(width).await;
    let width = i64::from(width);
    b.goto(&format!("{base}/admin")).await;
    b.type_into("#password", "browser-test-passwort").await;
    b.click("button[type=submit]").await;
    b.wait_for("Aktivierung stiller Kontakte").await;
    fits(&b, width, "dashboard").await;

    // Write the invitation.
    b.goto(&format!("{base}/admin/campaigns/new")).await;
    b.wait_for("Neue Aussendung schreiben").await;
    fits(&b, width, "campaign form").await;
    b.type_into("#name", "einladung-browser").await;
    b.click("#kind-invitation").await;
    b.click(&format!("#occasion option[value='{occasion}']"))
        .await;
    b.type_into("#subject", "Kaffee und Kuchen im Stadtteilladen")
        .await;
    b.type_into("#body", "Liebe Nachbarn,\n\nkommen Sie vorbei!")
        .await;
    b.click("button.primary").await;
    // Its page: the number, and the preview as the first contact sees it.
    let detail = b.wait_for("an 3 Kontakte").await;
    assert!(detail.contains("Kaffee und Kuchen im Stadtteilladen"));
    assert!(detail.contains("class=\"mailhtml\""), "the HTML part shown");
    fits(&b, width, "campaign page").await;
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    if width == 1280 {
        b.screenshot(&docs.join("screenshot-campaign.png")).await;
    }

    // Send: asked once, with the number.
    b.click("a[href='/admin/campaigns/einladung-browser/send']")
        .await;
    b.wait_for("Ja, an 3 Kontakte senden").await;
    fits(&b, width, "send confirmation").await;
    b.click("button.primary").await;
    b.wait_for("Die Aussendung wird jetzt versandt.").await;
    a.engine.run_until_idle().await.unwrap();
    let invitation = a
        .mails()
        .into_iter()
        .find(|m| m.contains("amira@example.org") && m.contains("/r/"))
        .expect("the invitation in the outbox");

    // Amira would like to take part: the funnel shows it.
    let rsvp = link_in(&invitation, &format!("{base}/r/"));
    let coop = format!(
        "{}/cooperation",
        rsvp.trim_end_matches(|ch: char| ch != '/')
            .trim_end_matches('/')
    );
    b.goto(&coop).await;
    b.click("button[type=submit]").await;
    b.wait_for("Danke").await;
    b.goto(&format!("{base}/admin")).await;
    let dash = b.wait_for("Zeitraum:").await;
    let funnel = &dash[dash.find("aria-label=\"Nach Thema").unwrap()..];
    let coop_at = funnel.find("möchte mitmachen").unwrap();
    let n: i64 = funnel[coop_at..]
        .split("<strong class=\"num\">")
        .nth(1)
        .and_then(|x| x.split('<').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(n, 1, "the cooperation click counts");
    fits(&b, width, "dashboard with a funnel").await;
    if width == 390 {
        b.screenshot(&docs.join("screenshot-dashboard-phone.png"))
            .await;
    }

    // Jonas asks a question; it is answered from the inbox.
    let jonas = store::contacts::get(&a.db, "jonas@example.org")
        .await
        .unwrap();
    let d = a.pending_decision(jonas.id, 1).await;
    a.sql
        .exec(
            "UPDATE decisions SET action = 'question', campaign_id = (SELECT id FROM campaigns WHERE name = 'einladung-browser') WHERE id = $1",
            &[d.into()],
        )
        .await;
    b.goto(&format!("{base}/admin/review")).await;
    b.wait_for("hat eine Frage").await;
    fits(&b, width, "review inbox").await;
    b.type_into(&format!("#text-{d}"), "Ja, Kinder sind willkommen!")
        .await;
    b.click(&format!(
        "form[action='/admin/review/{d}/answer'] button.primary"
    ))
    .await;
    // The menu says "Zu prüfen" on the page before the answer as well: wait for the mail.
    let answer = crate::support::process::wait_for(
        "the answer in the outbox",
        std::time::Duration::from_secs(20),
        std::time::Duration::from_millis(100),
        || {
            a.mails()
                .into_iter()
                .find(|m| m.contains("Kinder sind willkommen"))
        },
    );
    assert!(answer.contains("In-Reply-To: <q1@example.org>"), "{answer}");
    if width == 390 {
        b.screenshot(&docs.join("screenshot-review-phone.png"))
            .await;
    }
    b.quit().await;
    a.stop().await;
}
