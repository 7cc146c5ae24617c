//! Rate limits: per client on the public pages, failed API authentications and logins, shared
//! by daemons on one PostgreSQL database; the client address from X-Forwarded-For only when a
//! trusted proxy sends it.

use crate::support::app::{cookie_of, CLIENT, FORM};
use crate::support::db::create_postgres_database;
use crate::support::{App, Backend};
use netzpost::config::Config;
use netzpost::store;
use netzpost::token::Purpose;
use netzpost::web;
use reqwest::header::{CONTENT_TYPE, COOKIE, RETRY_AFTER};
use reqwest::StatusCode;

const OTHER_CLIENT: &str = "203.0.113.51";

each_db!(async subscribe_rate_limit_per_client);

async fn subscribe_rate_limit_per_client(backend: Backend) {
    let a = App::on(backend).await;
    a.topic("nachbarschaft").await;
    let post = |ip: &'static str, n: usize| {
        a.http
            .post(a.url("/s/nachbarschaft"))
            .header(CONTENT_TYPE, FORM)
            .header("x-forwarded-for", ip)
            .body(format!("email=p{n}%40example.org"))
            .send()
    };
    for n in 0..5 {
        assert_eq!(post("203.0.113.7", n).await.unwrap().status(), 200);
    }
    assert_eq!(post("203.0.113.7", 5).await.unwrap().status(), 429);
    assert!(store::contacts::get(&a.db, "p5@example.org").await.is_err());
    // Another client is not affected.
    assert_eq!(post("203.0.113.8", 6).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_burst_on_the_link_pages_gets_429_and_changes_nothing() {
    let a = App::start_with(|c| c.http.public_requests_per_minute = 5).await;
    let t = a.topic("nachbarschaft").await;
    let c = a.contact("b@example.org", vec![t]).await;
    let campaign = a
        .invitation_at(t, "cafe", chrono::Utc::now() + chrono::Duration::days(10))
        .await
        .0;
    let prefs = a.sign(Purpose::Preferences, campaign, c, 0, None);
    let rsvp = a.sign(Purpose::Rsvp, campaign, c, 0, None);
    for _ in 0..5 {
        assert_eq!(
            a.get_from(CLIENT, &format!("/p/{prefs}")).await.0,
            StatusCode::OK
        );
    }
    // The sixth request of this client within the minute, and every one after it: 429 before
    // any handler runs. Each of these would change something if it got through.
    let r = a
        .post_from(CLIENT, &format!("/p/{prefs}"), "language=en")
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()[RETRY_AFTER], "60");
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Zu viele Anfragen") && page.contains("nichts geändert"),
        "{page}"
    );
    for (path, body) in [
        (format!("/r/{rsvp}/yes"), ""),
        (format!("/p/{prefs}/forget"), "confirm=yes"),
        (
            format!("/c/{}", a.sign(Purpose::Confirm, 0, c, t, None)),
            "",
        ),
        // Guessing tokens stops too.
        (
            "/u/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_string(),
            "List-Unsubscribe=One-Click",
        ),
        ("/s/nachbarschaft".to_string(), "email=neu%40example.org"),
    ] {
        assert_eq!(
            a.post_form_from(CLIENT, &path, body).await.0,
            StatusCode::TOO_MANY_REQUESTS,
            "{path}"
        );
    }
    assert_eq!(
        a.get_from(CLIENT, &format!("/r/{rsvp}/yes")).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(a.status(c, t).await.as_deref(), Some("confirmed"));
    assert!(a.relations(c).await.is_empty());
    let contact = store::contacts::by_id(&a.db, c.into()).await.unwrap();
    assert_eq!(contact.language.as_deref(), Some("de"));
    assert!(store::contacts::get(&a.db, "neu@example.org")
        .await
        .is_err());
    assert_eq!(a.mails().len(), 0);

    // A correctly signed one-click unsubscribe is never refused (mail providers send them for
    // many people from one server).
    let unsub = a.sign(Purpose::Unsubscribe, campaign, c, 0, None);
    assert_eq!(
        a.post_form_from(CLIENT, &format!("/u/{unsub}"), "List-Unsubscribe=One-Click")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(a.status(c, t).await.as_deref(), Some("unsubscribed"));

    // Another client is not affected.
    assert_eq!(
        a.post_form_from(OTHER_CLIENT, &format!("/r/{rsvp}/yes"), "")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        a.relations(c).await,
        vec![("encounter".to_string(), "confirmed".to_string())]
    );
}

#[tokio::test]
async fn failed_api_authentications_get_429_then_even_a_good_token_is_refused() {
    let a = App::start_with(|c| c.http.api_auth_failures_per_minute = 3).await;
    let token = web::auth::create_token(&a.db, "webhook").await.unwrap();
    let mail = "From: jemand@example.org\r\nTo: antwort@reply.nordstadt.example\r\n\
                Subject: Re: Einladung\r\nMessage-ID: <sec-1@example.org>\r\n\r\nIch komme gern.\r\n";
    let post = |from: &'static str, bearer: String| {
        a.http
            .post(a.url("/api/inbound"))
            .header("x-forwarded-for", from)
            .header("content-type", "message/rfc822")
            .bearer_auth(bearer)
            .body(mail)
            .send()
    };
    for i in 0..3 {
        let r = post(CLIENT, format!("np_{i:064x}")).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = post(CLIENT, "np_guess".into()).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()[RETRY_AFTER], "60");
    // Within the minute this address gets nothing in, not even with the right token.
    assert_eq!(
        post(CLIENT, token.clone()).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let r = a
        .http
        .get(a.url("/api/topics"))
        .header("x-forwarded-for", CLIENT)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        a.sql
            .i64("SELECT COUNT(*) FROM inbound_messages", &[])
            .await,
        0
    );
    // Successful calls do not count; another address is not affected.
    for _ in 0..5 {
        let r = a
            .http
            .get(a.url("/api/topics"))
            .header("x-forwarded-for", OTHER_CLIENT)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(
        post(OTHER_CLIENT, token.clone()).await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        a.sql
            .i64("SELECT COUNT(*) FROM inbound_messages", &[])
            .await,
        1
    );
}

#[tokio::test]
async fn a_login_burst_gets_429_and_no_session_even_with_the_right_password() {
    let a = App::start().await;
    a.quick_password("admin", "ein-langes-passwort").await;
    let (cookie, csrf) = a.login_form(CLIENT).await;
    let attempt = |from: &'static str, cookie: String, body: String| {
        a.http
            .post(a.url("/admin/login"))
            .header("x-forwarded-for", from)
            .header(CONTENT_TYPE, FORM)
            .header(COOKIE, format!("np_login={cookie}"))
            .body(body)
            .send()
    };
    // Signing in successfully counts for nothing: a coordinator who signs in all day is no
    // guesser (one locked themselves out after ten sign-ins).
    for i in 0..12 {
        let r = attempt(
            CLIENT,
            cookie.clone(),
            format!("csrf={csrf}&user=admin&password=ein-langes-passwort"),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in {i}");
    }
    a.sql.exec("DELETE FROM admin_sessions", &[]).await;
    // A form without its CSRF value is refused before any password is read: no guess, no count.
    for _ in 0..12 {
        let r = attempt(CLIENT, cookie.clone(), "user=admin&password=x".into())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    // Ten failed attempts per ten minutes.
    for i in 0..10 {
        let r = attempt(
            CLIENT,
            cookie.clone(),
            format!("csrf={csrf}&user=admin&password=rate-{i}-falsch"),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
        assert!(cookie_of(&r, "np_session").is_none());
    }
    let r = attempt(
        CLIENT,
        cookie.clone(),
        format!("csrf={csrf}&user=admin&password=ein-langes-passwort"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(cookie_of(&r, "np_session").is_none());
    assert_eq!(
        a.sql.i64("SELECT COUNT(*) FROM admin_sessions", &[]).await,
        0
    );
    // Another address signs in.
    let (cookie, csrf) = a.login_form(OTHER_CLIENT).await;
    let r = attempt(
        OTHER_CLIENT,
        cookie,
        format!("csrf={csrf}&user=admin&password=ein-langes-passwort"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(cookie_of(&r, "np_session").is_some());
    assert_eq!(
        a.sql.i64("SELECT COUNT(*) FROM admin_sessions", &[]).await,
        1
    );
}

/// Two daemons on one PostgreSQL database (two web servers, as behind a load balancer) share the
/// login and public-page limits: a client that spreads its tries over both gets no more than
/// from one.
#[tokio::test]
#[ignore = "needs PostgreSQL: set NETZPOST_TEST_POSTGRES_URL"]
async fn two_daemons_on_one_postgresql_database_share_the_rate_limits() {
    let url = create_postgres_database().await;
    let tune = |c: &mut Config| {
        c.database = url.clone();
        c.http.public_requests_per_minute = 6;
    };
    let (a, b) = (App::start_with(tune).await, App::start_with(tune).await);
    a.quick_password("admin", "ein-langes-passwort").await;
    let mut forms = Vec::new();
    for d in [&a, &b] {
        forms.push(d.login_form(CLIENT).await);
    }
    let attempt = |d: &App, cookie: &str, body: String| {
        d.http
            .post(d.url("/admin/login"))
            .header("x-forwarded-for", CLIENT)
            .header(CONTENT_TYPE, FORM)
            .header(COOKIE, format!("np_login={cookie}"))
            .body(body)
            .send()
    };
    // Ten failed attempts in all, five through each daemon ...
    for i in 0..10 {
        let (d, (cookie, csrf)) = if i % 2 == 0 {
            (&a, &forms[0])
        } else {
            (&b, &forms[1])
        };
        let r = attempt(
            d,
            cookie,
            format!("csrf={csrf}&user=admin&password=falsch-{i}"),
        )
        .await
        .unwrap();
        assert_ne!(r.status(), StatusCode::TOO_MANY_REQUESTS, "attempt {i}");
    }
    // ... and the eleventh is refused by either, with the right password too.
    for (d, (cookie, csrf)) in [(&a, &forms[0]), (&b, &forms[1])] {
        let r = attempt(
            d,
            cookie,
            format!("csrf={csrf}&user=admin&password=ein-langes-passwort"),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(
        a.sql.i64("SELECT COUNT(*) FROM admin_sessions", &[]).await,
        0
    );

    // The public pages: six requests a minute in all, whichever daemon answers.
    let page = "/s/unbekannt";
    let mut statuses = Vec::new();
    for i in 0..8 {
        let d = if i % 2 == 0 { &a } else { &b };
        statuses.push(d.get_from(OTHER_CLIENT, page).await.0);
    }
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // login_form fetched /admin/login, which is no public page: the six are all here. A minute
    // boundary in between can free at most a few (the previous minute still counts in part).
    assert!(limited >= 1, "{statuses:?}");
    assert!(
        statuses[..6]
            .iter()
            .all(|s| *s != StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

/// The evidence of the last consent change of `email` for `topic`.
async fn evidence(a: &App, email: &str, topic: i64) -> String {
    let c = store::contacts::get(&a.db, email).await.unwrap();
    store::contacts::subscriptions(&a.db, c.id)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.topic_id == topic.into())
        .and_then(|s| s.evidence)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_for_is_ignored_unless_from_a_trusted_proxy_and_then_read_from_the_right() {
    // Default: no trusted proxy. A client on loopback cannot pick its address by header: the
    // limit counts it as itself, and the evidence names the real peer.
    let a = App::start_with(|c| c.http.trusted_proxies.clear()).await;
    let t = a.topic("nachbarschaft").await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let (s, _) = a
            .post_form_from(
                &format!("198.51.100.{i}"),
                "/s/nachbarschaft",
                &format!("email=person{i}%40example.org"),
            )
            .await;
        statuses.push(s);
    }
    assert_eq!(
        statuses,
        [
            [StatusCode::OK; 5].as_slice(),
            &[StatusCode::TOO_MANY_REQUESTS]
        ]
        .concat(),
        "the subscribe limit (5 per address) holds whatever X-Forwarded-For says"
    );
    let ev = evidence(&a, "person0@example.org", t).await;
    assert!(
        ev.contains("from 127.0.0.1") && !ev.contains("198.51.100"),
        "{ev}"
    );

    // Behind a trusted proxy: the right-most address that is not a trusted proxy.
    let b =
        App::start_with(|c| c.http.trusted_proxies = vec!["127.0.0.1".into(), "10.0.0.0/8".into()])
            .await;
    let t = b.topic("nachbarschaft").await;
    let (s, _) = b
        .post_form_from(
            "192.0.2.66, 203.0.113.9, 10.1.2.3",
            "/s/nachbarschaft",
            "email=erika%40example.org",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let ev = evidence(&b, "erika@example.org", t).await;
    assert!(ev.contains("from 203.0.113.9"), "{ev}");
    // A bad entry is not walked past.
    let (s, _) = b
        .post_form_from(
            "192.0.2.66, unknown",
            "/s/nachbarschaft",
            "email=max%40example.org",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let ev = evidence(&b, "max@example.org", t).await;
    assert!(ev.contains("from 127.0.0.1"), "{ev}");
}
