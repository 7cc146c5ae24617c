//! The public pages in a real browser (headless Chromium), at 1280 px and at 390 px (a phone):
//! subscribe (the form and its answer), confirm, preferences with "Meine Daten", unsubscribe,
//! the RSVP page and the public calendar, each before and after its button where it has one.
//! Each page fits the window and axe-core (`NETZPOST_TEST_AXE`, see browser_workspace.rs) finds
//! no violation of the WCAG 2 A and AA rules.

use crate::browser_workspace::fits;
use crate::support::browser::Driver;
use crate::support::App;
use netzpost::domain::ConsentStatus;
use netzpost::token::Purpose;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and axe-core: apt-get install chromium chromium-driver; npm install axe-core, NETZPOST_TEST_AXE=.../axe.min.js (run by .ci/run)"]
async fn public_pages_are_accessible_on_a_desktop() {
    public_pages(1280).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and axe-core: apt-get install chromium chromium-driver; npm install axe-core, NETZPOST_TEST_AXE=.../axe.min.js (run by .ci/run)"]
async fn public_pages_are_accessible_on_a_phone() {
    public_pages(390).await;
}

async fn check(b: &Driver, width: u32, what: &str) {
    fits(b, width, what).await;
    b.assert_accessible(&format!("{what} at {width} px")).await;
}

/// Opens `url`, checks it, presses its button, checks the answer (which contains `after`).
async fn page_and_answer(b: &Driver, width: u32, what: &str, url: &str, after: &str) {
    b.goto(url).await;
    b.wait_for("</form>").await;
    check(b, width, what).await;
    b.click("main form button[type=submit]").await;
    b.wait_for(after).await;
    check(b, width, &format!("{what}, answered")).await;
}

async fn public_pages(width: u32) {
    let a = App::start_with(|c| c.http.trusted_proxies.clear()).await;
    let base = a.base.clone();
    let topic = a.topic("nachbarschaft").await;
    let (campaign, occasion) = a.invitation(topic).await;
    let ayse = a.contact("ayse@example.org", vec![topic]).await;
    let neu = a
        .contact_with("neu@example.org", vec![topic], ConsentStatus::Pending)
        .await;
    let b = Driver::start().await;
    b.window(width, 1000).await;

    // Subscribe: the form, then its answer.
    b.goto(&format!("{base}/s/nachbarschaft")).await;
    b.wait_for("id=\"email\"").await;
    check(&b, width, "the subscribe form").await;
    b.type_into("#email", "lea@example.org").await;
    b.click("main form button[type=submit]").await;
    b.wait_for("Bitte prüfen Sie Ihr Postfach").await;
    check(&b, width, "the subscribe form, sent").await;

    let confirm = a.sign(Purpose::Confirm, 0, neu, topic, None);
    page_and_answer(
        &b,
        width,
        "the confirmation",
        &format!("{base}/c/{confirm}"),
        "bestätigt",
    )
    .await;

    let prefs = a.sign(Purpose::Preferences, 0, ayse, 0, None);
    b.goto(&format!("{base}/p/{prefs}")).await;
    b.wait_for("</form>").await;
    check(&b, width, "the preferences").await;
    b.goto(&format!("{base}/p/{prefs}/data")).await;
    b.wait_for("ayse@example.org").await;
    check(&b, width, "Meine Daten").await;

    let rsvp = a.sign(Purpose::Rsvp, campaign, ayse, occasion, None);
    page_and_answer(
        &b,
        width,
        "the RSVP page",
        &format!("{base}/r/{rsvp}/yes"),
        "Nachbarschaftscafé",
    )
    .await;

    b.goto(&format!("{base}/calendar")).await;
    b.wait_for("Nachbarschaftscafé").await;
    check(&b, width, "the calendar").await;

    let unsub = a.sign(Purpose::Unsubscribe, campaign, ayse, 0, None);
    page_and_answer(
        &b,
        width,
        "the unsubscribe page",
        &format!("{base}/u/{unsub}"),
        "abgemeldet",
    )
    .await;
    b.quit().await;
    a.stop().await;
}
