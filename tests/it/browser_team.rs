//! The team page and the audit log in a real browser (headless Chromium), at 1280 px and at
//! 390 px (a phone): an administrator invites a coordinator, who opens the link, chooses a
//! password and is signed in; the administrator finds both in the audit log and removes the
//! login again (asked once). Each page fits the window, and with axe-core (`NETZPOST_TEST_AXE`,
//! see browser_workspace.rs) has no WCAG 2 A or AA violation.

use crate::browser_workspace::fits;
use crate::support::browser::Driver;
use crate::support::App;

const PASSWORD: &str = "browser-team-passwort";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium: apt-get install chromium chromium-driver (axe-core checked when NETZPOST_TEST_AXE is set)"]
async fn a_person_is_invited_and_removed_on_a_desktop() {
    team(1280).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium: apt-get install chromium chromium-driver (axe-core checked when NETZPOST_TEST_AXE is set)"]
async fn a_person_is_invited_and_removed_on_a_phone() {
    team(390).await;
}

async fn check(b: &Driver, width: u32, what: &str) {
    fits(b, width, what).await;
    if std::env::var_os("NETZPOST_TEST_AXE").is_some() {
        b.assert_accessible(&format!("{what} at {width} px")).await;
    }
}

async fn sign_in(b: &Driver, base: &str, user: &str, password: &str) {
    b.goto(&format!("{base}/admin/login")).await;
    b.execute("document.getElementById('user').value = ''; return null;")
        .await;
    b.type_into("#user", user).await;
    b.type_into("#password", password).await;
    b.click("button[type=submit]").await;
    b.wait_for(&format!("({user})")).await;
}

async fn sign_out(b: &Driver) {
    b.click("form[action^='/admin/logout'] button").await;
    b.wait_for("id=\"password\"").await;
}

async fn team(width: u32) {
    let a = App::start_with(|c| c.http.trusted_proxies.clear()).await;
    let base = a.base.clone();
    let topic = a.topic("nachbarschaft").await;
    a.quick_password("chefin", PASSWORD).await;
    let b = Driver::start().await;
    b.window(width, 1000).await;
    sign_in(&b, &base, "chefin", PASSWORD).await;

    b.goto(&format!("{base}/admin/users")).await;
    b.wait_for("Person einladen").await;
    check(&b, width, "the team page").await;
    b.type_into("#invite-user", "berta").await;
    b.type_into("#invite-email", "berta@example.org").await;
    b.click("#invite-role-coordinator").await;
    b.click(&format!("#invite-t-{topic}")).await;
    b.click("section[aria-labelledby='invite'] button.primary")
        .await;
    b.wait_for("Einladung für berta").await;
    check(&b, width, "the team page with a new invitation").await;
    let link = b
        .execute("return document.getElementById('invite-link').value;")
        .await;
    let link = link.as_str().unwrap().to_string();
    assert!(link.contains("/admin/invitation/"), "{link}");

    // Berta opens the link (here in the same browser, signed out first).
    sign_out(&b).await;
    b.goto(&link).await;
    b.wait_for("Einladung annehmen").await;
    check(&b, width, "the invitation").await;
    b.type_into("#password", "bertas-eigenes-passwort").await;
    b.type_into("#password_again", "bertas-eigenes-passwort")
        .await;
    b.click("button[type=submit]").await;
    let page = b.wait_for("(berta)").await;
    assert!(!page.contains("href=\"/admin/users\""), "{page}");
    check(&b, width, "the dashboard of the invited coordinator").await;
    sign_out(&b).await;

    // The administrator sees it in the log and removes the login.
    sign_in(&b, &base, "chefin", PASSWORD).await;
    b.goto(&format!("{base}/admin/audit")).await;
    let page = b.wait_for("Einladung angenommen").await;
    assert!(page.contains("Person eingeladen"), "{page}");
    check(&b, width, "the audit log").await;
    b.goto(&format!("{base}/admin/users/berta/remove")).await;
    b.wait_for("Sitzungen von berta enden sofort").await;
    check(&b, width, "removing a login, asked").await;
    b.click("button.danger").await;
    b.wait_for("Zugang entfernt").await;
    check(&b, width, "the team page after removing").await;
    b.quit().await;
    a.stop().await;
}
