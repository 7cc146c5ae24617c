//! The first login in a real browser (headless Chromium), at 1280 px and at 390 px (a phone): a
//! fresh installation with no login, the setup link that `init` prints, a mistake said in words
//! with the name kept, then name and password chosen and the dashboard, signed in. Each page fits
//! the window, and with axe-core (`NETZPOST_TEST_AXE`, see browser_workspace.rs) has no WCAG 2 A
//! or AA violation.

use crate::browser_workspace::fits;
use crate::support::browser::Driver;
use crate::support::App;
use netzpost::web::auth;

const PASSWORD: &str = "browser-setup-passwort";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium: apt-get install chromium chromium-driver (axe-core checked when NETZPOST_TEST_AXE is set)"]
async fn first_login_through_the_setup_link_on_a_desktop() {
    first_login(1280).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium: apt-get install chromium chromium-driver (axe-core checked when NETZPOST_TEST_AXE is set)"]
async fn first_login_through_the_setup_link_on_a_phone() {
    first_login(390).await;
}

async fn check(b: &Driver, width: u32, what: &str) {
    fits(b, width, what).await;
    if std::env::var_os("NETZPOST_TEST_AXE").is_some() {
        b.assert_accessible(&format!("{what} at {width} px")).await;
    }
}

async fn first_login(width: u32) {
    let a = App::start_with(|c| c.http.trusted_proxies.clear()).await;
    // What `netzpost init` prints on a fresh installation.
    let link = auth::setup_url(&a.db, &a.base)
        .await
        .unwrap()
        .expect("no login yet");
    let b = Driver::start().await;
    b.window(width, 1000).await;

    b.goto(&link).await;
    b.wait_for("Erste Anmeldung einrichten").await;
    check(&b, width, "the setup form").await;

    // Two different passwords: said so, the name stays.
    b.execute("document.getElementById('user').value = ''; return null;")
        .await;
    b.type_into("#user", "anna").await;
    b.type_into("#password", PASSWORD).await;
    b.type_into("#password_again", "ein-anderes-passwort").await;
    b.click("button[type=submit]").await;
    let page = b.wait_for("verschieden").await;
    assert!(page.contains("value=\"anna\""), "{page}");
    check(&b, width, "the setup form with its error").await;

    b.type_into("#password", PASSWORD).await;
    b.type_into("#password_again", PASSWORD).await;
    b.click("button[type=submit]").await;
    let page = b.wait_for("Aktivierung stiller Kontakte").await;
    assert!(page.contains("(anna)"), "signed in as anna: {page}");
    check(&b, width, "the dashboard after the first login").await;

    // The link is spent.
    b.goto(&link).await;
    b.wait_for("Link nicht mehr gültig").await;
    check(&b, width, "the spent setup link").await;
    b.quit().await;
    a.stop().await;
}
