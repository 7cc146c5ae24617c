//! The pages behind the links in a mail and the public forms: what they refuse (bad input,
//! forged, tampered, misused and expired tokens), RSVP links that ask before they act, the
//! contact's language, the index, unknown pages and security headers.

use crate::support::app::CLIENT;
use crate::support::{App, Backend};
use netzpost::domain::{ConsentStatus, EmailAddress};
use netzpost::store;
use netzpost::store::contacts::ImportRow;
use netzpost::token::{Claims, Purpose, TokenKey};
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;

each_db!(async
    subscribe_rejects_bad_input,
    forged_expired_and_misused_tokens_change_nothing,
    rsvp_links_ask_then_apply,
    public_pages_speak_the_contacts_language,
    public_index_and_unknown_pages,
);

async fn subscribe_rejects_bad_input(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    // Unknown topic (and one that is not even a slug).
    assert_eq!(a.get("/s/gibtsnicht").await.0, 404);
    assert_eq!(a.post_form("/s/gibtsnicht", "email=a%40b.de").await.0, 404);
    assert_eq!(a.get("/s/%3Cscript%3E").await.0, 404);
    // Wrong content type.
    let r = a
        .http
        .post(a.url("/s/nachbarschaft"))
        .header(CONTENT_TYPE, "application/json")
        .body(r#"{"email":"a@b.de"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // Oversized.
    let big = format!("email=a%40b.de&name={}", "x".repeat(40_000));
    assert_eq!(a.post_form("/s/nachbarschaft", &big).await.0, 413);
    // Invalid address: 422 with the input shown escaped.
    let (s, page) = a
        .post_form(
            "/s/nachbarschaft",
            "email=%3Cb%3Ekein-at%3C%2Fb%3E&name=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        )
        .await;
    assert_eq!(s, 422);
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)"), "{page}");
    assert!(page.contains("&lt;b&gt;kein-at"), "{page}");
    // Name too long.
    let long = format!("email=x%40example.org&name={}", "n".repeat(201));
    assert_eq!(a.post_form("/s/nachbarschaft", &long).await.0, 422);
    // Honeypot: same answer, nothing stored, nothing sent.
    let (s, _) = a
        .post_form(
            "/s/nachbarschaft",
            "email=bot%40example.org&website=http%3A%2F%2Fspam",
        )
        .await;
    assert_eq!(s, 200);
    assert!(store::contacts::get(&a.db, "bot@example.org")
        .await
        .is_err());
    assert!(a.mails().is_empty());
    assert_eq!(store::contacts::count(&a.db).await.unwrap(), 0);
    let _ = t;
}

async fn forged_expired_and_misused_tokens_change_nothing(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let c = a.contact("f@example.org", vec![t]).await;
    let (campaign, _) = a.invitation(t).await;
    let good = a.sign(Purpose::Unsubscribe, campaign, c, 0, None);
    // Forged: another key.
    let forged = TokenKey::new(b"not-the-secret").sign(&Claims {
        purpose: Purpose::Unsubscribe,
        campaign_id: campaign,
        contact_id: c,
        extra: 0,
        expires_at: None,
    });
    let (s, page) = a
        .post_form(&format!("/u/{forged}"), "List-Unsubscribe=One-Click")
        .await;
    assert_eq!(s, 400);
    assert!(page.contains("Ungültiger Link"), "{page}");
    // Tampered: one character changed.
    let mut tampered = good.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        a.post_form(&format!("/u/{tampered}"), "List-Unsubscribe=One-Click")
            .await
            .0,
        400
    );
    // Expired (an expired unsubscribe link still works: `expired_links_get_410_...` below).
    let expired = a.sign(
        Purpose::Preferences,
        campaign,
        c,
        0,
        Some(chrono::Utc::now().timestamp() - 10),
    );
    let (s, page) = a.post_form(&format!("/p/{expired}"), "").await;
    assert_eq!(s, 410);
    assert!(page.contains("abgelaufen"), "{page}");
    assert_eq!(a.get(&format!("/p/{expired}?lang=en")).await.0, 410);
    // A token for another purpose.
    let rsvp = a.sign(Purpose::Rsvp, campaign, c, 0, None);
    assert_eq!(
        a.post_form(&format!("/u/{rsvp}"), "List-Unsubscribe=One-Click")
            .await
            .0,
        400
    );
    assert_eq!(a.get(&format!("/p/{rsvp}")).await.0, 400);
    assert_eq!(a.get(&format!("/c/{rsvp}")).await.0, 400);
    // Garbage and overlong.
    assert_eq!(a.get("/u/nichtbase32!!").await.0, 400);
    assert_eq!(a.get(&format!("/u/{}", "a".repeat(500))).await.0, 400);
    assert_eq!(a.status(c, t).await.as_deref(), Some("confirmed"));
    // Forged RSVP.
    let forged_rsvp = TokenKey::new(b"other").sign(&Claims {
        purpose: Purpose::Rsvp,
        campaign_id: campaign,
        contact_id: c,
        extra: 0,
        expires_at: None,
    });
    assert_eq!(
        a.post_form(&format!("/r/{forged_rsvp}/yes"), "").await.0,
        400
    );
    assert!(a.relation(c, "encounter").await.is_none());
}

#[tokio::test]
async fn expired_links_get_410_and_change_nothing_but_unsubscribe_links_keep_working() {
    let a = App::start().await;
    let now = chrono::Utc::now();
    let past = now.timestamp() - 60;
    let t = a.topic("nachbarschaft").await;
    let garden = a.topic("garten").await;
    let c = a.contact("e@example.org", vec![t]).await;
    let p = a
        .contact_with("p@example.org", vec![garden], ConsentStatus::Pending)
        .await;
    assert_eq!(a.status(p, garden).await.as_deref(), Some("pending"));

    // Confirm (double opt-in) link past its 7 days: 410 with a page that says so, still pending.
    let confirm = a.sign(Purpose::Confirm, 0, p, garden, Some(past));
    let (s, page) = a.get_from(CLIENT, &format!("/c/{confirm}")).await;
    assert_eq!(s, StatusCode::GONE);
    assert!(
        page.contains("Link abgelaufen") && page.contains("nichts geändert"),
        "{page}"
    );
    let (s, page) = a
        .post_form_from(CLIENT, &format!("/c/{confirm}?lang=en"), "")
        .await;
    assert_eq!(s, StatusCode::GONE);
    assert!(
        page.contains("Link expired") && page.contains("Nothing was changed"),
        "{page}"
    );
    assert_eq!(a.status(p, garden).await.as_deref(), Some("pending"));

    // Preferences link past its expiry: neither the topic switch nor "forget me" acts.
    let prefs = a.sign(Purpose::Preferences, 0, c, 0, Some(past));
    assert_eq!(
        a.get_from(CLIENT, &format!("/p/{prefs}")).await.0,
        StatusCode::GONE
    );
    assert_eq!(
        a.post_form_from(CLIENT, &format!("/p/{prefs}"), "language=en")
            .await
            .0,
        StatusCode::GONE
    );
    assert_eq!(
        a.post_form_from(CLIENT, &format!("/p/{prefs}/forget"), "confirm=yes")
            .await
            .0,
        StatusCode::GONE
    );
    assert_eq!(a.status(c, t).await.as_deref(), Some("confirmed"));
    assert_eq!(
        store::contacts::by_id(&a.db, c.into())
            .await
            .unwrap()
            .language
            .as_deref(),
        Some("de")
    );

    // RSVP to an occasion that ended more than RSVP_GRACE_DAYS ago: 410 although the token
    // itself is still valid for an hour; no relation.
    let over = a
        .invitation_at(t, "vorbei", now - chrono::Duration::days(10))
        .await
        .0;
    let rsvp = a.sign(Purpose::Rsvp, over, c, 0, None);
    for answer in ["yes", "no"] {
        assert_eq!(
            a.get_from(CLIENT, &format!("/r/{rsvp}/{answer}")).await.0,
            StatusCode::GONE
        );
        let (s, page) = a
            .post_form_from(CLIENT, &format!("/r/{rsvp}/{answer}"), "")
            .await;
        assert_eq!(s, StatusCode::GONE, "{answer}");
        assert!(page.contains("Link abgelaufen"), "{page}");
    }
    // "Cooperation" is not tied to the occasion: its token's own expiry decides.
    let old_rsvp = a.sign(Purpose::Rsvp, over, c, 0, Some(past));
    assert_eq!(
        a.post_form_from(CLIENT, &format!("/r/{old_rsvp}/cooperation"), "")
            .await
            .0,
        StatusCode::GONE
    );
    assert!(a.relations(c).await.is_empty());
    assert_eq!(a.mails().len(), 0, "no acknowledgement for an expired link");

    // An invitation sent half a year ahead: the token's own expiry has passed (the sender signs
    // 120 days), the occasion has not: the link works.
    let ahead = a
        .invitation_at(t, "spaeter", now + chrono::Duration::days(200))
        .await
        .0;
    let rsvp = a.sign(Purpose::Rsvp, ahead, c, 0, Some(past));
    assert_eq!(
        a.get_from(CLIENT, &format!("/r/{rsvp}/yes")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        a.post_form_from(CLIENT, &format!("/r/{rsvp}/yes"), "")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        a.relations(c).await,
        vec![("encounter".to_string(), "confirmed".to_string())]
    );

    // Unsubscribe: a correctly signed link works however old it is (RFC 8058) ...
    let unsub = a.sign(Purpose::Unsubscribe, 0, c, t, Some(past - 400 * 86_400));
    assert_eq!(
        a.get_from(CLIENT, &format!("/u/{unsub}")).await.0,
        StatusCode::OK
    );
    let (s, page) = a
        .post_form_from(CLIENT, &format!("/u/{unsub}"), "List-Unsubscribe=One-Click")
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(a.status(c, t).await.as_deref(), Some("unsubscribed"));
    // ... but not a forged one, nor another purpose's token.
    let forged = TokenKey::new(b"not-our-secret").sign(&Claims {
        purpose: Purpose::Unsubscribe,
        campaign_id: 0,
        contact_id: p,
        extra: garden,
        expires_at: None,
    });
    let confirm_as_unsub = a.sign(Purpose::Confirm, 0, p, garden, None);
    for tok in [forged, confirm_as_unsub] {
        assert_eq!(
            a.post_form_from(CLIENT, &format!("/u/{tok}"), "List-Unsubscribe=One-Click")
                .await
                .0,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(a.status(p, garden).await.as_deref(), Some("pending"));
}

async fn rsvp_links_ask_then_apply(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let c = a.contact("r@example.org", vec![t]).await;
    let (campaign, occasion) = a.invitation(t).await;
    let token = a.sign(Purpose::Rsvp, campaign, c, occasion, None);
    let (s, page) = a.get(&format!("/r/{token}/yes")).await;
    assert_eq!(s, 200);
    assert!(page.contains("Nachbarschaftscafé"), "{page}");
    // The page says when and where, in the page's language.
    assert!(page.contains("<dt>Wann</dt>"), "{page}");
    assert!(page.contains("Uhr"), "{page}");
    assert!(page.contains("<dd>Stadtteilladen</dd>"), "{page}");
    assert!(
        a.relation(c, "encounter").await.is_none(),
        "GET changes nothing"
    );
    let (s, page) = a.post_form(&format!("/r/{token}/yes"), "").await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(
        a.relation(c, "encounter").await,
        Some(("confirmed".into(), "link".into()))
    );
    let rows = netzpost::store::report::rsvps(&a.db, occasion.into())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    // Changing one's mind updates the same relation.
    a.post_form(&format!("/r/{token}/no"), "").await;
    assert_eq!(
        a.relation(c, "encounter").await,
        Some(("declined".into(), "link".into()))
    );
    a.post_form(&format!("/r/{token}/cooperation"), "").await;
    assert_eq!(
        a.relation(c, "cooperation").await,
        Some(("interested".into(), "link".into()))
    );
    let timeline = store::contacts::detail(&a.db, "r@example.org", 180)
        .await
        .unwrap()
        .timeline;
    assert!(timeline
        .iter()
        .filter(|x| x.kind == "relation")
        .all(|x| x.campaign_id == Some(campaign.into())));
    // An acknowledgement mail went out for the yes.
    assert!(a.mails().iter().any(|m| m.contains("r@example.org")));
    // Unknown answer.
    assert_eq!(a.get(&format!("/r/{token}/vielleicht")).await.0, 404);
    assert_eq!(
        a.post_form(&format!("/r/{token}/vielleicht"), "").await.0,
        404
    );
}

async fn public_pages_speak_the_contacts_language(backend: Backend) {
    let a = App::on(backend).await;
    let t = a.topic("nachbarschaft").await;
    let c = a.contact("olga@example.org", vec![t]).await;
    sqlx_set_language(&a, c, "uk").await;
    let token = a.sign(Purpose::Preferences, 0, c, t, None);
    let path = format!("/p/{token}");
    // The contact's own language, whatever the browser says; ?lang= wins.
    let r = a
        .http
        .get(a.url(&path))
        .header("accept-language", "de-DE,de;q=0.9")
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("<html lang=\"uk\" dir=\"ltr\">"), "{page}");
    assert!(page.contains("Ваші налаштування"), "{page}");
    // Every language the installation has is offered, each named in itself.
    for (code, name) in [
        ("de", "Deutsch"),
        ("en", "English"),
        ("tr", "Türkçe"),
        ("ar", "العربية"),
        ("uk", "Українська"),
        ("ru", "Русский"),
        ("pl", "Polski"),
    ] {
        assert!(
            page.contains(&format!("<option value=\"{code}\" lang=\"{code}\"")),
            "{code}: {page}"
        );
        assert!(page.contains(name), "{name}");
    }
    assert!(page.contains("value=\"uk\" lang=\"uk\" selected"), "{page}");
    let (_, page) = a.get(&format!("{path}?lang=ar")).await;
    assert!(page.contains("<html lang=\"ar\" dir=\"rtl\">"), "{page}");
    assert!(page.contains("إعداداتكم"), "{page}");
    // Choosing Arabic: stored, and the page answers in it.
    let (s, page) = a
        .post_form(&path, &format!("topic_{t}=on&language=ar"))
        .await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("dir=\"rtl\""), "{page}");
    let contact = store::contacts::by_id(&a.db, c.into()).await.unwrap();
    assert_eq!(contact.language.as_deref(), Some("ar"));
    // A language without templates is not a choice.
    assert_eq!(a.post_form(&path, "language=fr").await.0, 400);
    // Browsers: the best page language in Accept-Language.
    let r = a
        .http
        .get(a.url("/s/nachbarschaft"))
        .header("accept-language", "pl-PL,pl;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("<html lang=\"pl\""), "{page}");
    assert!(page.contains("Zapisz się"), "{page}");
    // The admin pages stay German or English.
    let r = a
        .http
        .get(a.url("/admin/login"))
        .header("accept-language", "tr")
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("<html lang=\"en\""));
}

async fn sqlx_set_language(a: &App, contact: i64, lang: &str) {
    let email = store::contacts::by_id(&a.db, contact.into())
        .await
        .unwrap()
        .email;
    store::contacts::upsert_one(
        &a.db,
        &ImportRow {
            email: EmailAddress::parse(&email).unwrap(),
            name: None,
            organisation: None,
            language: Some(lang.into()),
            attributes: Default::default(),
            topics: vec![],
        },
        ConsentStatus::Confirmed,
        "test",
    )
    .await
    .unwrap();
}

async fn public_index_and_unknown_pages(backend: Backend) {
    let a = App::on(backend).await;
    a.topic("nachbarschaft").await;
    let (s, page) = a.get("/").await;
    assert_eq!(s, 200);
    assert!(page.contains("href=\"/s/nachbarschaft\""), "{page}");
    assert!(page.starts_with("<!doctype html>\n<html lang=\"de\" dir=\"ltr\">"));
    let (s, page) = a.get("/gibtsnicht?lang=en").await;
    assert_eq!(s, 404);
    assert!(page.contains("Not found"));
    let r = a.http.get(a.url("/static/web.css")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Security headers on pages.
    let r = a.http.get(a.url("/s/nachbarschaft")).send().await.unwrap();
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert_eq!(r.headers()["cache-control"], "no-store");
}
