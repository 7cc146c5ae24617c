//! People who share the work, over plain HTTP: roles enforced on every admin route (a helper's
//! POST to an erase or export URL gets 403, and the menu offers only what the role may do),
//! logins that existed before are administrators, and the first administrator comes through a
//! one-time setup link (`init`, `admin setup-link`) that works once and expires.

use crate::support::app::{cookie_of, hidden, FORM};
use crate::support::db::Arg;
use crate::support::forms::{form, submit, PASSWORD};
use crate::support::{bin, text, App, Backend};
use netzpost::web::auth::{self, Role};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::StatusCode;

each_db!(async
    roles_are_enforced_on_every_admin_route,
    sessions_are_listed_and_ended_and_a_password_changed,
    the_setup_link_creates_the_first_administrator_once_and_expires,
    a_coordinator_imports_into_their_own_topics_only,
);

async fn roles_are_enforced_on_every_admin_route(backend: Backend) {
    let a = App::on(backend).await;
    let topic = a.topic("nachbarschaft").await;
    let contact = a.contact("ayse@example.org", vec![topic]).await;
    a.invitation(topic).await;
    let slug = "nachbarschaftscafe";
    // Another topic with its person, occasion and invitation: not for the coordinator and the
    // helper of "nachbarschaft".
    let other = a.topic("senioren").await;
    let olga = a.contact("olga@example.org", vec![other]).await;
    a.invitation_at(
        other,
        "seniorentreff",
        chrono::Utc::now() + chrono::Duration::days(5),
    )
    .await;
    a.quick_password("chefin", PASSWORD).await;
    a.quick_password("helfer", PASSWORD).await;
    a.quick_password("koord", PASSWORD).await;
    // Logins made before roles existed (as these three) are administrators.
    let roles = a
        .sql
        .column("SELECT DISTINCT role FROM admin_users", &[])
        .await;
    assert_eq!(roles, vec!["administrator".to_string()]);
    auth::set_role(&a.db, "helfer", Role::Helper, &["nachbarschaft".into()])
        .await
        .unwrap();
    auth::set_role(&a.db, "koord", Role::Coordinator, &["nachbarschaft".into()])
        .await
        .unwrap();
    // A role for nobody, or on an unknown topic, is refused with the name.
    let e = auth::set_role(&a.db, "niemand", Role::Helper, &[])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("niemand"), "{e}");
    let e = auth::set_role(&a.db, "koord", Role::Coordinator, &["gibtsnicht".into()])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("gibtsnicht"), "{e}");
    let topics = a
        .sql
        .column(
            "SELECT topic_id FROM admin_user_topics WHERE user_name = 'koord'",
            &[],
        )
        .await;
    assert_eq!(
        topics,
        vec![topic.to_string()],
        "a refused change keeps the old topics"
    );

    // The helper: the dashboard, the review queue and the door list, nothing else.
    let h = a.admin_login("helfer", PASSWORD).await;
    let dash = a.admin_get(&h.cookie, "/admin").await.text().await.unwrap();
    assert!(dash.contains("href=\"/admin/review\""), "{dash}");
    assert!(dash.contains("href=\"/admin/occasions\""), "{dash}");
    for hidden_link in [
        "href=\"/admin/contacts\"",
        "href=\"/admin/campaigns\"",
        "href=\"/admin/topics\"",
    ] {
        assert!(
            !dash.contains(hidden_link),
            "{hidden_link} in the helper's menu"
        );
    }
    for path in [
        "/admin/review".to_string(),
        "/admin/occasions".to_string(),
        format!("/admin/occasions/{slug}"),
        format!("/admin/occasions/{slug}/door"),
    ] {
        let r = a.admin_get(&h.cookie, &path).await;
        assert_eq!(r.status(), StatusCode::OK, "helper GET {path}");
    }
    let occ = a
        .admin_get(&h.cookie, &format!("/admin/occasions/{slug}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!occ.contains("rsvps.csv"), "no export offered to a helper");
    assert!(
        !occ.contains("/cancel"),
        "no cancellation offered to a helper"
    );
    for path in [
        "/admin/contacts".to_string(),
        "/admin/contacts/export.csv".to_string(),
        format!("/admin/contacts/{contact}"),
        format!("/admin/contacts/{contact}/forget"),
        "/admin/campaigns".to_string(),
        "/admin/topics".to_string(),
        "/admin/import".to_string(),
        "/admin/occasions/new".to_string(),
        format!("/admin/occasions/{slug}/rsvps.csv"),
        format!("/admin/occasions/{slug}/cancel"),
    ] {
        let r = a.admin_get(&h.cookie, &path).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "helper GET {path}");
        let page = r.text().await.unwrap();
        assert!(page.contains("Nicht für Ihre Rolle"), "{page}");
        assert!(!page.contains("ayse@example.org"), "{path} leaks");
    }
    for path in [
        format!("/admin/contacts/{contact}/forget"),
        format!("/admin/contacts/{contact}/edit"),
        format!("/admin/contacts/{contact}/note"),
        "/admin/contacts/new".to_string(),
        "/admin/campaigns/einladung/send".to_string(),
        "/admin/campaigns/new".to_string(),
        "/admin/topics".to_string(),
        "/admin/import".to_string(),
        format!("/admin/occasions/{slug}"),
        format!("/admin/occasions/{slug}/cancel"),
    ] {
        let body = form(&[("csrf", &h.csrf), ("confirm", "yes"), ("name", "x")]);
        let r = a.admin_post(&h.cookie, &path, &body).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "helper POST {path}");
    }
    let still: i64 = a
        .sql
        .i64(
            "SELECT COUNT(*) FROM contacts WHERE id = $1 AND email = 'ayse@example.org'",
            &[Arg::Int(contact)],
        )
        .await;
    assert_eq!(still, 1, "the refused erasure changed nothing");
    // Attendance at the door is the helper's: the form is let through (and this one, naming
    // nobody, is refused for what it is, not for the role).
    let body = form(&[("csrf", &h.csrf)]);
    let r = a
        .admin_post(&h.cookie, &format!("/admin/occasions/{slug}/door"), &body)
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // The coordinator: contacts, campaigns, topics and the export (of their topics).
    let k = a.admin_login("koord", PASSWORD).await;
    let dash = a.admin_get(&k.cookie, "/admin").await.text().await.unwrap();
    for link in [
        "href=\"/admin/contacts\"",
        "href=\"/admin/campaigns\"",
        "href=\"/admin/topics\"",
    ] {
        assert!(dash.contains(link), "{link} missing for the coordinator");
    }
    for path in [
        "/admin/contacts",
        "/admin/contacts/export.csv",
        "/admin/campaigns",
    ] {
        let r = a.admin_get(&k.cookie, path).await;
        assert_eq!(r.status(), StatusCode::OK, "coordinator GET {path}");
    }

    // The administrator as before.
    let c = a.admin_login("chefin", PASSWORD).await;
    for path in [
        "/admin/contacts",
        "/admin/contacts/export.csv",
        "/admin/topics",
    ] {
        let r = a.admin_get(&c.cookie, path).await;
        assert_eq!(r.status(), StatusCode::OK, "administrator GET {path}");
    }

    // ... of their topics only: another topic's person, occasion, invitation and the topic itself
    // are refused, and the lists and the export leave them out.
    let page = a
        .admin_get(&k.cookie, "/admin/contacts")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("ayse@example.org") && !page.contains("olga@example.org"),
        "{page}"
    );
    let r = a
        .admin_get(&k.cookie, "/admin/contacts?topic=senioren")
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let csv = a
        .admin_get(&k.cookie, "/admin/contacts/export.csv")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("ayse@example.org") && !csv.contains("olga@example.org"),
        "{csv}"
    );
    for page_path in [
        "/admin/occasions",
        "/admin/campaigns",
        "/admin/topics",
        "/admin",
    ] {
        let page = a
            .admin_get(&k.cookie, page_path)
            .await
            .text()
            .await
            .unwrap();
        assert!(!page.contains("seniorentreff"), "{page_path}: {page}");
        assert!(!page.contains("olga@example.org"), "{page_path}: {page}");
    }
    let page = a
        .admin_get(&k.cookie, "/admin/occasions")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("nachbarschaftscafe"), "{page}");
    for path in [
        format!("/admin/contacts/{olga}"),
        "/admin/occasions/seniorentreff".to_string(),
        "/admin/occasions/seniorentreff/rsvps.csv".to_string(),
        "/admin/campaigns/seniorentreff".to_string(),
    ] {
        let r = a.admin_get(&k.cookie, &path).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "coordinator GET {path}");
        let page = r.text().await.unwrap();
        assert!(
            page.contains("Thema, das Ihnen nicht zugeordnet ist"),
            "{page}"
        );
    }
    for path in [
        format!("/admin/contacts/{olga}/forget"),
        format!("/admin/contacts/{olga}/note"),
        "/admin/campaigns/seniorentreff/send".to_string(),
        "/admin/occasions/seniorentreff/cancel".to_string(),
        "/admin/topics/senioren/archive".to_string(),
    ] {
        let body = form(&[("csrf", &k.csrf), ("confirm", "yes"), ("text", "x")]);
        let r = a.admin_post(&k.cookie, &path, &body).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "coordinator POST {path}");
    }
    // Nor a new thing in another topic: a form naming it is refused before anything happens.
    let senioren_cafe = a
        .sql
        .column("SELECT id FROM occasions WHERE slug = 'seniorentreff'", &[])
        .await
        .remove(0);
    for (path, fields) in [
        (
            "/admin/occasions/new",
            vec![("slug", "spiel"), ("title", "Spiel"), ("topic", "senioren")],
        ),
        (
            "/admin/campaigns/new",
            vec![
                ("name", "neu"),
                ("kind", "newsletter"),
                ("topic", &other.to_string()),
            ],
        ),
        (
            "/admin/campaigns/new",
            vec![
                ("name", "neu"),
                ("kind", "invitation"),
                ("occasion", &senioren_cafe),
            ],
        ),
        (
            "/admin/contacts/new",
            vec![("email", "neu@example.org"), ("topic_senioren", "1")],
        ),
    ] {
        let mut all = vec![("csrf", k.csrf.as_str())];
        all.extend(fields);
        let r = a.admin_post(&k.cookie, path, &form(&all)).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "coordinator POST {path}");
    }
    // In their own topic the same works.
    let own = form(&[
        ("csrf", k.csrf.as_str()),
        ("slug", "hoffest"),
        ("title", "Hoffest"),
        ("date", "2031-06-14"),
        ("time", "15:00"),
        ("topic", "nachbarschaft"),
    ]);
    let r = a.admin_post(&k.cookie, "/admin/occasions/new", &own).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(
        a.sql
            .i64(
                "SELECT COUNT(*) FROM contacts WHERE email = 'neu@example.org'",
                &[]
            )
            .await,
        0
    );
    assert_eq!(
        a.sql
            .i64(
                "SELECT COUNT(*) FROM contacts WHERE email = 'olga@example.org'",
                &[]
            )
            .await,
        1
    );
    assert_eq!(
        a.sql
            .i64(
                "SELECT COUNT(*) FROM topics WHERE slug = 'senioren' AND archived_at IS NULL",
                &[]
            )
            .await,
        1
    );
    // The helper likewise.
    let r = a
        .admin_get(&h.cookie, "/admin/occasions/seniorentreff/door")
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = a
        .admin_get(&h.cookie, "/admin/occasions")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("seniorentreff"), "{page}");

    // A changed role holds from the next request of an open session.
    auth::set_role(&a.db, "koord", Role::Helper, &[])
        .await
        .unwrap();
    let r = a.admin_get(&k.cookie, "/admin/contacts").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// The setup form at `link`: its cookie and CSRF token.
async fn setup_form(a: &App, link: &str) -> (StatusCode, String, String, String) {
    let r = a.http.get(link).send().await.unwrap();
    let status = r.status();
    let cookie = cookie_of(&r, "np_login").unwrap_or_default();
    let page = r.text().await.unwrap();
    let csrf = if status == StatusCode::OK {
        hidden(&page, "csrf")
    } else {
        String::new()
    };
    (status, cookie, csrf, page)
}

async fn post_setup(a: &App, link: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let (_, cookie, csrf, _) = setup_form(a, link).await;
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    a.http
        .post(link)
        .header(COOKIE, format!("np_login={cookie}"))
        .header(CONTENT_TYPE, FORM)
        .body(form(&all))
        .send()
        .await
        .unwrap()
}

async fn the_setup_link_creates_the_first_administrator_once_and_expires(backend: Backend) {
    let a = App::on(backend).await;
    // An API token's login is no person: the setup link still works.
    a.api_token("skript").await;
    let _ = auth::token_login(&a.db, "skript").await.unwrap();

    // A link that expired.
    let old = auth::setup_url(&a.db, &a.base).await.unwrap().unwrap();
    a.sql
        .exec(
            "UPDATE admin_invitations SET expires_at = $1",
            &[Arg::Time(chrono::Utc::now() - chrono::Duration::minutes(1))],
        )
        .await;
    let (status, _, _, page) = setup_form(&a, &old).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("Link nicht mehr gültig"), "{page}");
    assert_eq!(
        post_setup(
            &a,
            &old,
            &[
                ("user", "anna"),
                ("password", PASSWORD),
                ("password_again", PASSWORD)
            ]
        )
        .await
        .status(),
        StatusCode::GONE
    );
    // An unknown one.
    let (status, _, _, _) = setup_form(&a, &a.url("/admin/setup/0123abcd")).await;
    assert_eq!(status, StatusCode::GONE);

    // A fresh one, printed by the command line: it lives 24 hours.
    let out = a.cli(&["admin", "setup-link"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    let link = printed
        .split_whitespace()
        .find(|w| w.contains("/admin/setup/"))
        .unwrap_or_else(|| panic!("no link in {printed}"))
        .to_string();
    // (The command's configuration has the default public URL; the path is what counts.)
    let link = a.url(&link[link.find("/admin/setup/").unwrap()..]);
    let day = a
        .sql
        .i64(
            "SELECT COUNT(*) FROM admin_invitations
             WHERE used_at IS NULL AND expires_at > $1 AND expires_at < $2",
            &[
                Arg::Time(chrono::Utc::now() + chrono::Duration::hours(23)),
                Arg::Time(chrono::Utc::now() + chrono::Duration::hours(25)),
            ],
        )
        .await;
    assert_eq!(day, 1, "one link valid for about a day");
    let (status, _, _, page) = setup_form(&a, &link).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Erste Anmeldung einrichten"), "{page}");

    // Bad input: said what, the name typed is kept, and the link still works.
    let r = post_setup(
        &a,
        &link,
        &[
            ("user", "anna"),
            ("password", PASSWORD),
            ("password_again", "anders-als-vorher"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("verschieden"), "{page}");
    assert!(page.contains("value=\"anna\""), "{page}");
    let r = post_setup(
        &a,
        &link,
        &[
            ("user", "anna"),
            ("password", "kurz"),
            ("password_again", "kurz"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("at least 12"), "{page}");
    let r = post_setup(
        &a,
        &link,
        &[
            ("user", "Anna Groß"),
            ("password", PASSWORD),
            ("password_again", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Without the form's token: refused, nothing created.
    let r = a
        .http
        .post(&link)
        .header(CONTENT_TYPE, FORM)
        .body(form(&[
            ("user", "mallory"),
            ("password", PASSWORD),
            ("password_again", PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        a.sql
            .i64(
                "SELECT COUNT(*) FROM admin_users WHERE name NOT LIKE 'token:%'",
                &[]
            )
            .await,
        0
    );

    // Name and password chosen: an administrator, signed in at once.
    let r = post_setup(
        &a,
        &link,
        &[
            ("user", "anna"),
            ("password", PASSWORD),
            ("password_again", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/admin");
    let session = cookie_of(&r, "np_session").expect("signed in");
    let r = a.admin_get(&session, "/admin/contacts").await;
    assert_eq!(r.status(), StatusCode::OK);
    let role = a
        .sql
        .column("SELECT role FROM admin_users WHERE name = 'anna'", &[])
        .await;
    assert_eq!(role, vec!["administrator".to_string()]);
    // The password works at the login too.
    a.sign_in("anna", PASSWORD).await;

    // Once only: the link, and any new one, is closed now.
    let (status, _, _, _) = setup_form(&a, &link).await;
    assert_eq!(status, StatusCode::GONE);
    let r = post_setup(
        &a,
        &link,
        &[
            ("user", "mallory"),
            ("password", PASSWORD),
            ("password_again", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(auth::setup_url(&a.db, &a.base).await.unwrap().is_none());
    let out = a.cli(&["admin", "setup-link"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("exists already"), "{}", text(&out));
    assert_eq!(
        a.sql
            .i64(
                "SELECT COUNT(*) FROM admin_users WHERE name = 'mallory'",
                &[]
            )
            .await,
        0
    );
}

#[test]
fn init_prints_the_setup_link() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let out = std::process::Command::new(bin())
        .env_remove("NETZPOST_CONFIG")
        .arg("init")
        .arg(&ws)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("/admin/setup/"), "{stdout}");
    assert!(stdout.contains("24 hours"), "{stdout}");
}

/// Signs in from a browser with this User-Agent; the session cookie.
async fn sign_in_as_browser(a: &App, user: &str, ua: &str) -> String {
    let (cookie, csrf) = a.login_form(crate::support::app::CLIENT).await;
    let r = a
        .http
        .post(a.url("/admin/login"))
        .header(COOKIE, format!("np_login={cookie}"))
        .header(CONTENT_TYPE, FORM)
        .header(reqwest::header::USER_AGENT, ua)
        .header("X-Forwarded-For", crate::support::app::CLIENT)
        .body(form(&[
            ("csrf", &csrf),
            ("user", user),
            ("password", PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in as {user}");
    cookie_of(&r, "np_session").unwrap()
}

/// A password change from the session `cookie`: the current password, then the new one twice.
async fn change_password(
    a: &App,
    cookie: &str,
    csrf: &str,
    current: &str,
    new: &str,
) -> reqwest::Response {
    let pairs = [
        ("current", current),
        ("password", new),
        ("password_again", new),
    ];
    submit(a, cookie, csrf, "/admin/account/password", &pairs).await
}

const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

async fn sessions_are_listed_and_ended_and_a_password_changed(backend: Backend) {
    let a = App::on(backend).await;
    a.quick_password("chefin", PASSWORD).await;
    a.quick_password("helfer", PASSWORD).await;
    auth::set_role(&a.db, "helfer", Role::Helper, &[])
        .await
        .unwrap();
    let desk = sign_in_as_browser(&a, "helfer", FIREFOX).await;
    let phone = sign_in_as_browser(&a, "helfer", IPHONE).await;
    let boss = sign_in_as_browser(&a, "chefin", FIREFOX).await;

    // The helper sees their own sessions: browser, device, address, last use.
    let page = a
        .admin_get(&desk, "/admin/account")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Firefox · Windows"), "{page}");
    assert!(page.contains("Safari · iOS"), "{page}");
    assert!(page.contains(crate::support::app::CLIENT), "{page}");
    assert!(page.contains("dieses Gerät"), "{page}");
    assert!(page.contains("zuletzt aktiv"), "{page}");
    assert!(
        !page.contains("chefin"),
        "a helper sees only their own sessions: {page}"
    );
    let csrf = hidden(&page, "csrf");
    // The phone's session, ended from the desk.
    let keys: Vec<String> = page
        .match_indices("name=\"session\" value=\"")
        .map(|(i, m)| page[i + m.len()..i + m.len() + 64].to_string())
        .collect();
    assert_eq!(keys.len(), 2, "{page}");
    let this = netzpost::web::auth::session_key(&desk);
    let other = keys.iter().find(|k| **k != this).unwrap().clone();
    let r = submit(
        &a,
        &desk,
        &csrf,
        "/admin/account/sessions/end",
        &[("session", &other)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        a.admin_get(&phone, "/admin").await.status(),
        StatusCode::SEE_OTHER,
        "the phone is signed out"
    );
    assert_eq!(a.admin_get(&desk, "/admin").await.status(), StatusCode::OK);
    // Not someone else's session, as a helper.
    let boss_key = netzpost::web::auth::session_key(&boss);
    let r = submit(
        &a,
        &desk,
        &csrf,
        "/admin/account/sessions/end",
        &[("session", &boss_key)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(a.admin_get(&boss, "/admin").await.status(), StatusCode::OK);

    // The administrator sees everyone's and ends the helper's.
    let page = a
        .admin_get(&boss, "/admin/account")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("helfer") && page.contains("chefin"), "{page}");
    let boss_csrf = hidden(&page, "csrf");
    let r = submit(
        &a,
        &boss,
        &boss_csrf,
        "/admin/account/sessions/end",
        &[("session", &this)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        a.admin_get(&desk, "/admin").await.status(),
        StatusCode::SEE_OTHER
    );

    // A password change: the old one asked first; other sessions end, this browser stays in.
    let other_boss = sign_in_as_browser(&a, "chefin", IPHONE).await;
    let r = change_password(
        &a,
        &boss,
        &boss_csrf,
        "falsch-falsch-falsch",
        "ein-ganz-neues-passwort",
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Das bisherige Passwort stimmt nicht"));
    let r = change_password(&a, &boss, &boss_csrf, PASSWORD, "kurz").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("at least 12"));
    let r = change_password(&a, &boss, &boss_csrf, PASSWORD, "ein-ganz-neues-passwort").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let fresh = cookie_of(&r, "np_session").expect("a new session for this browser");
    assert_eq!(
        a.admin_get(&fresh, "/admin/account?done=password")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        a.admin_get(&other_boss, "/admin").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        a.admin_get(&boss, "/admin").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        a.try_sign_in("chefin", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn a_coordinator_imports_into_their_own_topics_only(backend: Backend) {
    use crate::support::forms::{post, upload};
    let a = App::on(backend).await;
    let own = a.topic("nachbarschaft").await;
    a.topic("senioren").await;
    a.quick_password("koord", PASSWORD).await;
    auth::set_role(&a.db, "koord", Role::Coordinator, &["nachbarschaft".into()])
        .await
        .unwrap();
    let k = a.admin_login("koord", PASSWORD).await;
    let dash = a
        .admin_get(&k.cookie, "/admin/contacts")
        .await
        .text()
        .await
        .unwrap();
    assert!(dash.contains("href=\"/admin/import\""), "offered: {dash}");
    let file = b"E-Mail;Themen\r\nanna@example.org;nachbarschaft\r\nolga@example.org;senioren\r\n\
                 ben@example.org;\r\n";
    // Another's topic ticked: refused; none ticked: asked for one of theirs.
    let (status, _) = upload(&a, &k, "/admin/import", &[("topic_senioren", "1")], file).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, page) = upload(&a, &k, "/admin/import", &[], file).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("mindestens eines Ihrer Themen"), "{page}");
    let (status, page) = upload(
        &a,
        &k,
        "/admin/import",
        &[("topic_nachbarschaft", "1"), ("consent", "pending")],
        file,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let id = &page.split("action=\"/admin/import/").nth(1).unwrap()[..48];
    let (status, _, page) = post(
        &a,
        &k,
        &format!("/admin/import/{id}"),
        &[("col_0", "email"), ("col_1", "topics")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<strong>2</strong> neu angelegt"), "{page}");
    assert!(
        page.contains("Thema „senioren“ ist Ihnen nicht zugeordnet"),
        "{page}"
    );
    let olga = a
        .sql
        .i64(
            "SELECT COUNT(*) FROM contacts WHERE email = 'olga@example.org'",
            &[],
        )
        .await;
    assert_eq!(olga, 0, "the row naming another topic is not imported");
    let topics = a
        .sql
        .column(
            "SELECT DISTINCT s.topic_id FROM subscriptions s JOIN contacts c ON c.id = s.contact_id",
            &[],
        )
        .await;
    assert_eq!(topics, vec![own.to_string()]);
    // The audit log names the file, its topics and what landed.
    let logged = a
        .sql
        .column(
            "SELECT user_name || ' ' || detail FROM admin_audit WHERE action = 'import_run'",
            &[],
        )
        .await;
    assert_eq!(
        logged,
        vec!["koord kontakte.csv [nachbarschaft]: +2 ~0 -1".to_string()]
    );
    a.stop().await;
}
