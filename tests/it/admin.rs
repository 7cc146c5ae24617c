//! The admin pages: login with a password or an API token, CSRF on every form, escaped data,
//! sessions that end with their token, password or user, `admin set-password`, and page
//! numbers that do not wrap.

use crate::support::app::{cookie_of, hidden, FORM};
use crate::support::{bin, text, App, Backend, Workspace};
use netzpost::domain::{ConsentStatus, EmailAddress};
use netzpost::store;
use netzpost::store::contacts::ImportRow;
use netzpost::token::Purpose;
use netzpost::web;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::StatusCode;
use std::process::Command;

each_db!(async admin_login_csrf_and_pages, admin_login_with_an_api_token);

async fn admin_login_csrf_and_pages(backend: Backend) {
    let a = App::on(backend).await;
    let mut out = Vec::new();
    let mut input = std::io::Cursor::new(b"ein-langes-passwort\n".to_vec());
    netzpost::cli::admin::run(
        &a.cfg,
        &a.db,
        netzpost::cli::admin::AdminCmd::SetPassword {
            user: Some("admin".into()),
            user_flag: None,
        },
        &mut input,
        &mut out,
    )
    .await
    .unwrap();
    let mut short = std::io::Cursor::new(b"kurz\n".to_vec());
    assert!(netzpost::cli::admin::run(
        &a.cfg,
        &a.db,
        netzpost::cli::admin::AdminCmd::SetPassword {
            user: Some("admin".into()),
            user_flag: None,
        },
        &mut short,
        &mut Vec::new()
    )
    .await
    .is_err());
    // Not signed in: to the login.
    let r = a.http.get(a.url("/admin/contacts")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION], "/admin/login");
    // Login without the form token, and with a wrong password.
    let (s, _) = a
        .post_form("/admin/login", "user=admin&password=ein-langes-passwort")
        .await;
    assert_eq!(s, 403);
    let r = a.http.get(a.url("/admin/login")).send().await.unwrap();
    let lc = cookie_of(&r, "np_login").expect("login cookie");
    let csrf = hidden(&r.text().await.unwrap(), "csrf");
    let r = a
        .http
        .post(a.url("/admin/login"))
        .header(CONTENT_TYPE, FORM)
        .header(COOKIE, format!("np_login={lc}"))
        .body(format!("csrf={csrf}&user=admin&password=falsch"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let s = a.admin_login("admin", "ein-langes-passwort").await;
    // Data with HTML in it, to see it escaped.
    let t = a.topic("nachbarschaft").await;
    let c = store::contacts::upsert_one(
        &a.db,
        &ImportRow {
            email: EmailAddress::parse("html@example.org").unwrap(),
            name: Some("<img src=x onerror=alert(1)>".into()),
            organisation: Some("\"Verein\" & <Co>".into()),
            language: None,
            attributes: Default::default(),
            topics: vec![t.into()],
        },
        ConsentStatus::Confirmed,
        "test",
    )
    .await
    .unwrap();
    let (campaign, occasion) = a.invitation(t).await;
    let tok = a.sign(Purpose::Rsvp, campaign, c.id, occasion, None);
    a.post_form(&format!("/r/{tok}/yes"), "").await;

    let dash = a.admin_get(&s.cookie, "/admin").await;
    assert_eq!(dash.status(), 200);
    let dash = dash.text().await.unwrap();
    assert!(dash.contains("<ol class=\"funnel\""), "{dash}");
    assert!(
        dash.contains("html@example.org"),
        "recent activation listed"
    );
    assert!(!dash.contains("<img src=x"), "{dash}");
    let page = a
        .admin_get(&s.cookie, &format!("/admin/contacts/{}", c.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(
        page.contains("&quot;Verein&quot; &amp; &lt;Co&gt;"),
        "{page}"
    );
    for path in [
        "/admin/contacts",
        "/admin/contacts?silent=1&topic=nachbarschaft",
        "/admin/contacts?form=encounter",
        "/admin/campaigns",
        "/admin/review",
        "/admin/occasions",
        "/admin?lang=en",
    ] {
        let r = a.admin_get(&s.cookie, path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert!(!r.text().await.unwrap().contains("<img src=x"), "{path}");
    }
    assert_eq!(
        a.admin_get(&s.cookie, "/admin/contacts?topic=gibtsnicht")
            .await
            .status(),
        404
    );
    assert_eq!(
        a.admin_get(&s.cookie, "/admin/contacts?form=freund")
            .await
            .status(),
        400
    );
    assert_eq!(
        a.admin_get(&s.cookie, "/admin/contacts/99999")
            .await
            .status(),
        404
    );
    let occasions = a
        .admin_get(&s.cookie, "/admin/occasions")
        .await
        .text()
        .await
        .unwrap();
    assert!(occasions.contains("Personen: 1"), "{occasions}");
    let filtered = a
        .admin_get(&s.cookie, "/admin/contacts?form=encounter")
        .await
        .text()
        .await
        .unwrap();
    assert!(filtered.contains("html@example.org"));
    // CSV of the RSVP list, with formula cells defused.
    let csv = a
        .admin_get(&s.cookie, "/admin/occasions/nachbarschaftscafe/rsvps.csv")
        .await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    assert!(
        csv.contains("html@example.org;<img src=x onerror=alert(1)>;"),
        "{csv}"
    );
    assert!(csv.contains(";confirmed;link;"), "{csv}");
    // People coming: each yes counts its party size, or one.
    assert!(
        csv.lines().next().unwrap().ends_with(";updated_at;people"),
        "{csv}"
    );
    assert!(csv.lines().nth(1).unwrap().ends_with(";1"), "{csv}");
    // Forms: without CSRF 403 and nothing changes; with it, the action happens.
    let r = a
        .admin_post(&s.cookie, "/admin/campaigns/einladung-cafe/send", "")
        .await;
    assert_eq!(r.status(), 403);
    let r = a
        .admin_post(
            &s.cookie,
            "/admin/campaigns/einladung-cafe/send",
            "csrf=falsch",
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        store::campaigns::by_id(&a.db, campaign.into())
            .await
            .unwrap()
            .status
            .as_str(),
        "draft"
    );
    let r = a
        .admin_post(
            &s.cookie,
            "/admin/campaigns/einladung-cafe/send",
            &format!("csrf={}", s.csrf),
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        store::campaigns::by_id(&a.db, campaign.into())
            .await
            .unwrap()
            .status
            .as_str(),
        "running"
    );
    let r = a
        .admin_post(
            &s.cookie,
            "/admin/campaigns/einladung-cafe/resume",
            &format!("csrf={}", s.csrf),
        )
        .await;
    assert_eq!(r.status(), 422, "resume of a running campaign is refused");
    let d = a.pending_decision(c.id, 7).await;
    assert_eq!(
        a.admin_post(&s.cookie, &format!("/admin/review/{d}/accept"), "")
            .await
            .status(),
        403
    );
    let review = a
        .admin_get(&s.cookie, "/admin/review")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        review.contains("Vielleicht, &lt;b&gt;mal&lt;") && !review.contains("<b>mal"),
        "{review}"
    );
    assert_eq!(
        a.admin_post(
            &s.cookie,
            &format!("/admin/review/{d}/accept"),
            &format!("csrf={}", s.csrf)
        )
        .await
        .status(),
        303
    );
    assert_eq!(
        a.admin_post(
            &s.cookie,
            &format!("/admin/review/{d}/undo"),
            &format!("csrf={}", s.csrf)
        )
        .await
        .status(),
        303
    );
    // Wrong content type and oversized admin posts.
    let r = a
        .http
        .post(a.url("/admin/logout"))
        .header(COOKIE, format!("np_session={}", s.cookie))
        .header(CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let big = format!("csrf={}&x={}", s.csrf, "y".repeat(20_000));
    assert_eq!(
        a.admin_post(&s.cookie, "/admin/logout", &big)
            .await
            .status(),
        413
    );
    // Forget from the contact page.
    assert_eq!(
        a.admin_post(
            &s.cookie,
            &format!("/admin/contacts/{}/forget", c.id),
            &format!("csrf={}&confirm=yes", s.csrf)
        )
        .await
        .status(),
        303
    );
    assert!(store::contacts::by_id(&a.db, c.id).await.is_err());
    // Logout ends the session.
    assert_eq!(
        a.admin_post(&s.cookie, "/admin/logout", "").await.status(),
        403
    );
    assert_eq!(
        a.admin_post(&s.cookie, "/admin/logout", &format!("csrf={}", s.csrf))
            .await
            .status(),
        303
    );
    assert_eq!(a.admin_get(&s.cookie, "/admin").await.status(), 303);
}

/// The admin pages also take an API token in the password field; a revoked one does not work.
async fn admin_login_with_an_api_token(backend: Backend) {
    let a = App::on(backend).await;
    let token = a.api_token("buero").await;
    let try_login = |secret: String| {
        let a = &a;
        async move { a.try_sign_in("admin", &secret).await.status() }
    };
    assert_eq!(try_login(token.clone()).await, 303);
    assert_eq!(try_login("np_0000".into()).await, 401);
    netzpost::web::auth::revoke_token(&a.db, "buero")
        .await
        .unwrap();
    assert_eq!(try_login(token).await, 401);
}

/// GET of an admin page with a session: the status, and the page's CSRF token when it shows.
async fn admin_get(a: &App, session: &str) -> (StatusCode, Option<String>) {
    let r = a.admin_get(session, "/admin/contacts").await;
    let status = r.status();
    let page = r.text().await.unwrap();
    (
        status,
        (status == StatusCode::OK).then(|| hidden(&page, "csrf")),
    )
}

/// The CSRF-protected "forget this contact" POST of the admin pages.
async fn admin_forget(a: &App, session: &str, csrf: &str, contact: i64) -> StatusCode {
    let path = format!("/admin/contacts/{contact}/forget");
    a.admin_post(session, &path, &format!("csrf={csrf}"))
        .await
        .status()
}

/// Whether a session ended: its page and its CSRF-protected POST both go to the login.
async fn assert_ended(a: &App, session: &str, csrf: &str, contact: i64, why: &str) {
    assert_eq!(
        admin_get(a, session).await.0,
        StatusCode::SEE_OTHER,
        "{why}"
    );
    assert_eq!(
        admin_forget(a, session, csrf, contact).await,
        StatusCode::SEE_OTHER,
        "{why}: the POST is refused"
    );
    assert!(
        store::contacts::by_id(&a.db, contact.into()).await.is_ok(),
        "{why}: the contact is still there"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_sessions_end_when_their_token_is_revoked_the_password_changes_or_the_user_goes() {
    let a = App::start().await;
    let c = a
        .contact_with("erika@example.org", vec![], ConsentStatus::Pending)
        .await;

    // A session opened with an API token, then `netzpost tokens revoke`.
    let token = web::auth::create_token(&a.db, "skript").await.unwrap();
    let other = web::auth::create_token(&a.db, "anderes").await.unwrap();
    let s1 = a.sign_in("admin", &token).await;
    let s2 = a.sign_in("admin", &other).await;
    let (status, csrf1) = admin_get(&a, &s1).await;
    assert_eq!(status, StatusCode::OK);
    let out = a.cli(&["tokens", "revoke", "skript"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_ended(&a, &s1, &csrf1.unwrap(), c, "token revoked").await;
    assert_eq!(
        admin_get(&a, &s2).await.0,
        StatusCode::OK,
        "another token's session lives on"
    );
    // However the token was revoked, its sessions do not outlive it.
    let s3 = a.sign_in("admin", &other).await;
    let csrf3 = admin_get(&a, &s3).await.1.unwrap();
    a.sql
        .exec(
            "UPDATE api_tokens SET revoked_at = created_at WHERE name = 'anderes'",
            &[],
        )
        .await;
    assert_ended(&a, &s3, &csrf3, c, "token revoked in the database").await;

    // A password change ends the sessions of that user (not those of others).
    a.quick_password("admin", "erstes-langes-passwort").await;
    a.quick_password("kollegin", "zweites-langes-passwort")
        .await;
    let s4 = a.sign_in("admin", "erstes-langes-passwort").await;
    let s5 = a.sign_in("kollegin", "zweites-langes-passwort").await;
    let csrf4 = admin_get(&a, &s4).await.1.unwrap();
    web::auth::set_password(&a.db, "admin", "neues-langes-passwort")
        .await
        .unwrap();
    assert_ended(&a, &s4, &csrf4, c, "password changed").await;
    let (status, csrf5) = admin_get(&a, &s5).await;
    assert_eq!(status, StatusCode::OK);

    // Removing a user (`netzpost admin remove`) ends their sessions.
    let out = a.cli(&["admin", "remove", "kollegin"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_ended(&a, &s5, &csrf5.unwrap(), c, "user removed").await;
    let out = a.cli(&["admin", "remove", "kollegin"]);
    assert!(
        !out.status.success() && text(&out).contains("no admin login named"),
        "{}",
        text(&out)
    );
}

fn password_hash(ws: &Workspace, user: &str) -> String {
    ws.sql(&format!(
        "SELECT password_hash FROM admin_users WHERE name = '{user}'"
    ))
    .first()
    .map(|r| r[0].clone())
    .unwrap_or_default()
}

#[test]
fn admin_set_password_takes_the_user_as_documented_and_refuses_weak_passwords() {
    let ws = Workspace::new();
    // The README's form, and `--user` as before.
    let out = ws.set_password(&["admin"], "Ein-gutes-Passwort-1\n");
    assert!(out.status.success(), "{}", text(&out));
    assert!(password_hash(&ws, "admin").starts_with("pbkdf2-sha256$"));
    let out = ws.set_password(&["--user", "kollegin"], "Ein-gutes-Passwort-2\n");
    assert!(out.status.success(), "{}", text(&out));
    assert!(password_hash(&ws, "kollegin").starts_with("pbkdf2-sha256$"));
    let out = ws.set_password(&["admin", "--user", "kollegin"], "Ein-gutes-Passwort-3\n");
    assert!(
        !out.status.success(),
        "USER and --user together: {}",
        text(&out)
    );

    // Weak passwords change nothing.
    let before = password_hash(&ws, "admin");
    for (weak, why) in [
        ("          ", "only spaces"),
        ("\t \t", "only spaces"),
        ("", "empty"),
        ("kurz-123", "at least 12 characters"),
        ("   elf-zeichen   ", "at least 12 characters"),
    ] {
        let out = ws.set_password(&["admin"], &format!("{weak}\n"));
        assert!(!out.status.success(), "{weak:?} accepted");
        assert!(text(&out).contains(why), "{weak:?}: {}", text(&out));
    }
    assert_eq!(password_hash(&ws, "admin"), before);
}

/// Standard output and error of `script` (a terminal for the command) until `want` shows.
fn read_until(rx: &std::sync::mpsc::Receiver<Vec<u8>>, seen: &mut Vec<u8>, want: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !String::from_utf8_lossy(seen).contains(want) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => panic!(
                "no {want:?} from the terminal: {:?}",
                String::from_utf8_lossy(seen)
            ),
        }
    }
}

#[test]
fn admin_set_password_on_a_terminal_does_not_echo_the_password() {
    use std::io::{Read, Write};
    let ws = Workspace::new();
    let password = "Unsichtbares-Passwort-42";
    // util-linux `script` gives the command a pseudo-terminal; what it echoes comes back here.
    let line = format!("{} admin set-password admin", bin().display());
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(ws.path())
        .env_remove("NETZPOST_CONFIG")
        .envs(&ws.env)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the command on a terminal");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut seen = Vec::new();
    // Typed only after the prompt: the terminal echoes input when it arrives.
    read_until(&rx, &mut seen, "New password for admin");
    writeln!(stdin, "{password}").unwrap();
    read_until(&rx, &mut seen, "The same again");
    writeln!(stdin, "{password}").unwrap();
    read_until(&rx, &mut seen, "password for admin set");
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let shown = String::from_utf8_lossy(&seen);
    assert!(status.success(), "{shown}");
    assert!(
        !shown.contains(password),
        "the password was echoed: {shown:?}"
    );
    assert!(password_hash(&ws, "admin").starts_with("pbkdf2-sha256$"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_admin_page_number_does_not_wrap_to_page_one() {
    let a = App::start().await;
    a.contact_with("erika@example.org", vec![], ConsentStatus::Pending)
        .await;
    a.quick_password("admin", "ein-langes-passwort").await;
    let session = a.sign_in("admin", "ein-langes-passwort").await;
    let page = |n: &str| format!("/admin/contacts?page={n}");
    let r = a.admin_get(&session, &page("0")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("erika@example.org"));
    for n in [
        "9223372036854775807",
        "92233720368547758",
        "-9223372036854775808",
    ] {
        let r = a.admin_get(&session, &page(n)).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        if n.starts_with('-') {
            // A negative page is the first page, as before.
            assert_eq!(status, StatusCode::OK);
            continue;
        }
        assert_eq!(status, StatusCode::OK, "page {n}");
        assert!(
            !text.contains("erika@example.org"),
            "page {n} wrapped to page 1"
        );
    }
}
