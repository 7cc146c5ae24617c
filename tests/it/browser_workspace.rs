//! The coordinator's workspace in a real browser (headless Chromium), at 1280 px and at 390 px
//! (a phone): create a topic, upload a CSV with bad rows and download the rejects, create an
//! occasion and change it, add a person and edit them, record that they came. At each page the
//! document is no wider than the window (nothing overflows sideways) and axe-core finds no
//! violation of the WCAG 2 A and AA rules. Screenshots of the contact list, the import report
//! and a contact on a phone go to `docs/`.
//!
//! axe-core comes from the npm registry: `.ci/run` installs it into a cache folder and names its
//! `axe.min.js` in `NETZPOST_TEST_AXE`; without it these tests fail and say so.

use crate::support::browser::Driver;
use crate::support::App;
use netzpost::store;
use reqwest::header::COOKIE;
use std::path::Path;

const PASSWORD: &str = "browser-test-passwort";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and axe-core: apt-get install chromium chromium-driver; npm install axe-core, NETZPOST_TEST_AXE=.../axe.min.js (run by .ci/run)"]
async fn workspace_flows_on_a_desktop() {
    flows(1280).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and axe-core: apt-get install chromium chromium-driver; npm install axe-core, NETZPOST_TEST_AXE=.../axe.min.js (run by .ci/run)"]
async fn workspace_flows_on_a_phone() {
    flows(390).await;
}

/// Nothing on the page is wider than the window, and axe finds no WCAG 2 A or AA violation.
async fn check(b: &Driver, width: u32, what: &str) {
    fits(b, width, what).await;
    b.assert_accessible(&format!("{what} at {width} px")).await;
}

/// Nothing on the page is wider than the window.
pub(crate) async fn fits(b: &Driver, width: u32, what: &str) {
    let v = b
        .execute("return [document.documentElement.scrollWidth, window.innerWidth];")
        .await;
    let (scroll, inner) = (v[0].as_u64().unwrap(), v[1].as_u64().unwrap());
    assert_eq!(
        inner,
        u64::from(width),
        "{what}: the window is {inner} px wide"
    );
    if scroll > u64::from(width) {
        // The elements that reach past the window, innermost first, to say what to fix.
        let wide = b
            .execute(&format!(
                "return Array.from(document.querySelectorAll('body *'))
                   .filter(e => e.getBoundingClientRect().right > {width})
                   .reverse().slice(0, 8)
                   .map(e => e.tagName + '.' + e.className + '#' + e.id + ' '
                        + Math.round(e.getBoundingClientRect().right));"
            ))
            .await;
        panic!("{what}: the page is {scroll} px wide at {width} px: {wide}");
    }
}

/// Sets a form field's value directly (date and time inputs take typed keys in the browser's
/// locale format; the value is what the form sends).
async fn set(b: &Driver, id: &str, value: &str) {
    b.execute(&format!(
        "document.getElementById({id:?}).value = {value:?}; return null;"
    ))
    .await;
}

async fn flows(width: u32) {
    let a = App::start_with(|c| c.http.trusted_proxies.clear()).await;
    let base = a.base.clone();
    a.quick_password("admin", PASSWORD).await;
    let b = Driver::start().await;
    b.window(width, 1000).await;
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");

    b.goto(&format!("{base}/admin")).await;
    b.type_into("#password", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for("Aktivierung stiller Kontakte").await;
    fits(&b, width, "dashboard").await;

    // A topic.
    b.goto(&format!("{base}/admin/topics")).await;
    check(&b, width, "topics").await;
    b.type_into("#slug", "nachbarschaft").await;
    b.type_into("#title", "Nachbarschaft Nordstadt").await;
    b.click("section[aria-labelledby='new-topic'] button.primary")
        .await;
    b.wait_for("id=\"h-nachbarschaft\"").await;
    check(&b, width, "topics with one").await;
    assert!(store::topics::get(&a.db, "nachbarschaft").await.is_ok());

    // A CSV with bad rows: mapped, imported, the rejects downloaded.
    let csv = a.write(
        "kontakte.csv",
        "E-Mail;Name;Organisation\r\n\
         amira@example.org;Amira K.;Elterncafé\r\n\
         jonas@example.org;Jonas B.;\r\n\
         kein-at;Kaputt;\r\n\
         amira@example.org;Doppelt;\r\n",
    );
    b.goto(&format!("{base}/admin/import")).await;
    check(&b, width, "import form").await;
    b.type_into("#file", csv.to_str().unwrap()).await;
    b.click("#topic-nachbarschaft").await;
    b.click("button.primary").await;
    b.wait_for("Spalten zuordnen").await;
    check(&b, width, "column mapping").await;
    b.click("button.primary").await;
    let report = b.wait_for("Import abgeschlossen").await;
    check(&b, width, "import report").await;
    assert!(
        report.contains("<strong>2</strong> neu angelegt"),
        "{report}"
    );
    assert!(report.contains("<strong>2</strong> abgelehnt"), "{report}");
    if width > 1000 {
        b.screenshot(&docs.join("screenshot-import-report.png"))
            .await;
    }
    let href = b
        .execute("return document.getElementById('rejects-download').getAttribute('href');")
        .await;
    let session = b.cookie("np_session").await;
    let rejects = a
        .http
        .get(a.url(href.as_str().unwrap()))
        .header(COOKIE, format!("np_session={session}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let rejects = String::from_utf8(rejects.to_vec()).unwrap();
    assert!(
        rejects.starts_with("\u{feff}Zeile;Grund;Daten\r\n"),
        "{rejects}"
    );
    assert!(
        rejects.contains("5;Adresse doppelt: steht schon in Zeile 2;"),
        "{rejects}"
    );

    // An occasion, then its place changed.
    b.goto(&format!("{base}/admin/occasions/new")).await;
    check(&b, width, "new occasion").await;
    b.type_into("#slug", "hoffest").await;
    b.type_into("#title", "Hoffest").await;
    set(&b, "date", "2031-06-14").await;
    set(&b, "time", "15:00").await;
    b.type_into("#place", "Hof Nordstraße 5").await;
    b.click("button.primary").await;
    b.wait_for("Termin ändern").await;
    check(&b, width, "occasion").await;
    b.execute("document.getElementById('place').value = ''; return null;")
        .await;
    b.type_into("#place", "Gemeindesaal").await;
    b.click("form[action^='/admin/occasions/hoffest'] button.primary")
        .await;
    b.wait_for("Geändert: Ort.").await;
    let o = store::occasions::get(&a.db, "hoffest").await.unwrap();
    assert_eq!(o.place.as_deref(), Some("Gemeindesaal"));

    // A person added by hand, edited, and recorded as having come.
    b.goto(&format!("{base}/admin/contacts/new")).await;
    check(&b, width, "new person").await;
    b.type_into("#email", "lena@example.org").await;
    b.type_into("#name", "Lena S.").await;
    b.click("#topic-nachbarschaft").await;
    b.click("#consent-confirmed").await;
    b.type_into("#evidence", "Gespräch im Stadtteilladen").await;
    b.click("button.primary").await;
    b.wait_for("<h1>Lena S.</h1>").await;
    check(&b, width, "contact").await;
    b.execute("document.getElementById('name').value = ''; return null;")
        .await;
    b.type_into("#name", "Lena Schulz").await;
    b.click("form[action$='/edit'] button.primary").await;
    b.wait_for("<h1>Lena Schulz</h1>").await;
    b.click("#what-came").await;
    b.click("#occasion option[value='hoffest']").await;
    b.click("form[action$='/relation'] button.primary").await;
    let page = b.wait_for("war da").await;
    check(&b, width, "contact with a relation").await;
    assert!(page.contains("(von admin:admin)"), "{page}");
    if width < 500 {
        b.screenshot(&docs.join("screenshot-contact-phone.png"))
            .await;
    }

    // The list finds them, with their state in words.
    b.goto(&format!("{base}/admin/contacts?q=lena")).await;
    let page = b.wait_for("1 Kontakt gefunden").await;
    assert!(page.contains("Lena Schulz"), "{page}");
    b.goto(&format!("{base}/admin/contacts")).await;
    b.wait_for("3 Kontakte gefunden").await;
    check(&b, width, "contacts").await;
    if width > 1000 {
        b.screenshot(&docs.join("screenshot-contacts.png")).await;
    }

    b.quit().await;
    a.stop().await;
}
