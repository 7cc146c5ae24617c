//! The audit log and the team page over plain HTTP: every change and export on the admin pages is
//! recorded with who, what and on what (a refused one is not), readable and downloadable by
//! administrators only; people are invited by a one-time link, sign themselves in with it, get
//! their role and topics, and are removed again with their sessions.

use crate::support::app::{cookie_of, hidden, FORM};
use crate::support::db::Arg;
use crate::support::forms::{form, submit, PASSWORD};
use crate::support::{App, Backend};
use netzpost::web::auth::{self, Role};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::StatusCode;

each_db!(async
    admin_actions_are_logged_with_who_what_and_on_what,
    people_are_invited_by_a_one_time_link_and_removed_with_their_sessions,
);

/// The audit rows as "user action kind:target detail", oldest first.
async fn log(a: &App) -> Vec<String> {
    a.sql
        .column(
            "SELECT user_name || ' ' || action || ' ' || COALESCE(target_kind, '-') || ':'
                    || COALESCE(target, '-') || ' ' || COALESCE(detail, '-')
             FROM admin_audit ORDER BY id",
            &[],
        )
        .await
}

async fn admin_actions_are_logged_with_who_what_and_on_what(backend: Backend) {
    let a = App::on(backend).await;
    let topic = a.topic("nachbarschaft").await;
    let contact = a.contact("ayse@example.org", vec![topic]).await;
    a.quick_password("chefin", PASSWORD).await;
    a.quick_password("koord", PASSWORD).await;
    auth::set_role(&a.db, "koord", Role::Coordinator, &["nachbarschaft".into()])
        .await
        .unwrap();
    let c = a.admin_login("chefin", PASSWORD).await;

    let r = submit(
        &a,
        &c.cookie,
        &c.csrf,
        "/admin/topics",
        &[("slug", "senioren"), ("title", "Senioren")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = submit(
        &a,
        &c.cookie,
        &c.csrf,
        &format!("/admin/contacts/{contact}/note"),
        &[("note", "Kommt gern mit Nachbarin.")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = a.admin_get(&c.cookie, "/admin/contacts/export.csv").await;
    assert_eq!(r.status(), StatusCode::OK);
    // Refused (an empty note, a form without its CSRF token): nothing done, nothing logged.
    let r = submit(
        &a,
        &c.cookie,
        &c.csrf,
        &format!("/admin/contacts/{contact}/note"),
        &[("note", "")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = a
        .admin_post(
            &c.cookie,
            "/admin/topics/senioren/archive",
            &form(&[("csrf", "falsch")]),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A coordinator's action is theirs in the log.
    let k = a.admin_login("koord", PASSWORD).await;
    let r = submit(
        &a,
        &k.cookie,
        &k.csrf,
        &format!("/admin/contacts/{contact}/note"),
        &[("note", "Angerufen.")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    assert_eq!(
        log(&a).await,
        vec![
            "chefin login -:- -".to_string(),
            "chefin topic_create topic:senioren -".into(),
            format!("chefin contact_note contact:{contact} -"),
            "chefin contacts_export -:- -".into(),
            "koord login -:- -".into(),
            format!("koord contact_note contact:{contact} -"),
        ]
    );
    // No address of a contact in the log, whatever was done to them.
    let all = log(&a).await.join("\n");
    assert!(!all.contains("ayse@"), "{all}");

    // The page: newest first, in German words, times in the configured zone, the contact linked.
    let page = a
        .admin_get(&c.cookie, "/admin/audit")
        .await
        .text()
        .await
        .unwrap();
    let note = page.find("Notiz geschrieben").expect("the note, in words");
    let topic_made = page.find("Thema angelegt").expect("the topic, in words");
    assert!(note < topic_made, "newest first: {page}");
    // (Minijinja writes the slashes of an attribute as `&#x2f;`.)
    let href = format!("href=\"&#x2f;admin&#x2f;contacts&#x2f;{contact}\">Kontakt {contact}</a>");
    assert!(page.contains(&href), "{page}");
    assert!(page.contains("Kontakte exportiert"), "{page}");
    assert!(page.contains("koord"), "{page}");
    assert!(!page.contains("contact_note"), "no internal words: {page}");
    assert!(page.contains("Uhr"), "a local time: {page}");

    // The download: for German Excel (BOM, semicolons), the same entries.
    let r = a.admin_get(&c.cookie, "/admin/audit/export.csv").await;
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a BOM");
    let csv = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("Wann;Wer;Was;Woran;Einzelheiten"));
    let first = lines.next().unwrap();
    assert!(first.contains(";koord;Notiz geschrieben;Kontakt "), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 6, "{csv}");

    // Administrators only: the coordinator is refused both, and has no menu entry.
    for path in ["/admin/audit", "/admin/audit/export.csv"] {
        let r = a.admin_get(&k.cookie, path).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "coordinator GET {path}");
    }
    let dash = a.admin_get(&k.cookie, "/admin").await.text().await.unwrap();
    assert!(!dash.contains("href=\"/admin/audit\""), "{dash}");
    let dash = a.admin_get(&c.cookie, "/admin").await.text().await.unwrap();
    assert!(dash.contains("href=\"/admin/audit\""), "{dash}");
    // The administrator's download is in the log too.
    assert!(log(&a)
        .await
        .last()
        .unwrap()
        .starts_with("chefin audit_export"));

    // The API's changes are recorded as its token's, without a contact's address.
    let api = a.api_caller("skript").await;
    let r = api
        .request(reqwest::Method::POST, "/topics")
        .json(&serde_json::json!({"name": "garten", "title": "Garten"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    assert_eq!(
        api.status(reqwest::Method::DELETE, "/contacts/ayse@example.org")
            .await,
        StatusCode::NO_CONTENT
    );
    let _ = api.get_json("/topics").await;
    let entries = log(&a).await;
    let api_entries: Vec<&str> = entries
        .iter()
        .map(String::as_str)
        .filter(|e| e.starts_with("api:"))
        .collect();
    assert_eq!(
        api_entries,
        vec![
            "api:skript api -:- POST /api/topics",
            "api:skript api -:- DELETE /api/contacts/…",
        ],
        "{entries:#?}"
    );
    assert!(!entries.join("\n").contains("ayse"), "{entries:#?}");
    a.stop().await;
}

async fn people_are_invited_by_a_one_time_link_and_removed_with_their_sessions(backend: Backend) {
    let a = App::on(backend).await;
    let topic = a.topic("nachbarschaft").await;
    a.topic("senioren").await;
    a.quick_password("chefin", PASSWORD).await;
    let c = a.admin_login("chefin", PASSWORD).await;

    // A coordinator needs a topic: said so, with what was typed kept.
    let body = form(&[
        ("csrf", &c.csrf),
        ("user", "berta"),
        ("email", "berta@example.org"),
        ("role", "coordinator"),
    ]);
    let r = a.admin_post(&c.cookie, "/admin/users/invite", &body).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("mindestens ein Thema"), "{page}");
    assert!(!page.contains("needs"), "in German only: {page}");
    assert!(page.contains("value=\"berta\""), "{page}");

    let topic_field = format!("topic_{topic}");
    let body = form(&[
        ("csrf", &c.csrf),
        ("user", "berta"),
        ("email", "berta@example.org"),
        ("role", "coordinator"),
        (&topic_field, "1"),
    ]);
    let r = a.admin_post(&c.cookie, "/admin/users/invite", &body).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let link = hidden_value(&page, "invite-link");
    assert!(
        link.starts_with(&format!("{}/admin/invitation/", a.base)),
        "{link}"
    );
    assert!(page.contains("Offene Einladungen"), "{page}");
    assert!(
        page.contains("Der Link ist an berta@example.org geschickt"),
        "{page}"
    );
    let mail = a
        .mails()
        .into_iter()
        .find(|m| m.contains("To: berta@example.org"))
        .expect("the link is mailed");
    let secret = link.rsplit('/').next().unwrap();
    assert!(mail.replace("=\r\n", "").contains(&secret[..16]), "{mail}");
    // The same name twice is refused.
    let r = a.admin_post(&c.cookie, "/admin/users/invite", &body).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The invited person opens the link, chooses a password and is signed in.
    let r = a.http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let login_cookie = cookie_of(&r, "np_login").unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("value=\"berta\""), "{page}");
    assert!(page.contains("chefin"), "says who invited: {page}");
    let csrf = hidden(&page, "csrf");
    let accept = |pw2: &'static str| {
        a.http
            .post(&link)
            .header(COOKIE, format!("np_login={login_cookie}"))
            .header(CONTENT_TYPE, FORM)
            .body(form(&[
                ("csrf", &csrf),
                ("password", "bertas-langes-passwort"),
                ("password_again", pw2),
            ]))
            .send()
    };
    let r = accept("ein-anderes-passwort").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = accept("bertas-langes-passwort").await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()[LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/admin"));
    let berta = cookie_of(&r, "np_session").expect("signed in");
    let dash = a.admin_get(&berta, "/admin").await.text().await.unwrap();
    assert!(dash.contains("(berta)"), "{dash}");
    assert!(
        !dash.contains("href=\"/admin/users\""),
        "not for a coordinator: {dash}"
    );
    let role = a
        .sql
        .column("SELECT role FROM admin_users WHERE name = 'berta'", &[])
        .await;
    assert_eq!(role, vec!["coordinator".to_string()]);
    let topics = a
        .sql
        .column(
            "SELECT topic_id FROM admin_user_topics WHERE user_name = 'berta'",
            &[],
        )
        .await;
    assert_eq!(topics, vec![topic.to_string()]);
    // The link is spent.
    let r = a.http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::GONE);

    // The list shows her; her role changes; the last administrator cannot demote themselves.
    let page = a
        .admin_get(&c.cookie, "/admin/users")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"user-berta\""), "{page}");
    let body = form(&[("csrf", &c.csrf), ("role", "helper"), (&topic_field, "1")]);
    let r = a
        .admin_post(&c.cookie, "/admin/users/berta/role", &body)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let role = a
        .sql
        .column("SELECT role FROM admin_users WHERE name = 'berta'", &[])
        .await;
    assert_eq!(role, vec!["helper".to_string()]);
    let body = form(&[("csrf", &c.csrf), ("role", "helper"), (&topic_field, "1")]);
    let r = a
        .admin_post(&c.cookie, "/admin/users/chefin/role", &body)
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // Removing asks once, then ends her sessions.
    let r = a.admin_get(&c.cookie, "/admin/users/berta/remove").await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("Sitzungen von berta enden sofort"), "{page}");
    let r = submit(&a, &c.cookie, &c.csrf, "/admin/users/berta/remove", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = a.admin_get(&berta, "/admin").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "her session ended");
    let left: i64 = a
        .sql
        .i64(
            "SELECT COUNT(*) FROM admin_users WHERE name = $1",
            &[Arg::Text("berta".into())],
        )
        .await;
    assert_eq!(left, 0);
    // Oneself is not removed.
    let r = submit(&a, &c.cookie, &c.csrf, "/admin/users/chefin/remove", &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    let entries = log(&a).await;
    let wanted = [
        "chefin user_invite user:berta coordinator",
        "berta user_joined -:- -",
        "chefin user_role user:berta helper",
        "chefin user_remove user:berta -",
    ];
    for w in wanted {
        assert!(entries.iter().any(|e| e == w), "{w} in {entries:#?}");
    }
    a.stop().await;
}

/// The value of the input with this id.
fn hidden_value(page: &str, id: &str) -> String {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let rest = &page[at..];
    let v = rest.find("value=\"").unwrap() + 7;
    let end = rest[v..].find('"').unwrap();
    rest[v..v + end]
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}
