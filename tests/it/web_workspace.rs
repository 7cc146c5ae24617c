//! The coordinator's workspace over plain HTTP: topics (create, rename, describe, archive),
//! contacts (search, filters with their count, each contact's state in words, paging both ways,
//! "last active" meaning the person's own doings, one person added with stated consent, fields,
//! notes, relations recorded by hand, erasure after one question, the export), the CSV import
//! (column mapping, the report, the rejected rows for Excel in the reader's language) and
//! occasions (new, change with its calendar update, cancellation after one question).

use crate::support::app::AdminSession;
use crate::support::forms::{post, upload, PASSWORD};
use crate::support::{App, Backend};
use netzpost::activation::{self, Cause};
use netzpost::domain::{ConsentStatus, TopicId};
use netzpost::outbound::campaign;
use netzpost::store;
use netzpost::token::Purpose;
use reqwest::header::CONTENT_DISPOSITION;
use reqwest::StatusCode;

each_db!(async
    topics_are_created_renamed_described_and_archived,
    contacts_list_searches_filters_counts_and_says_each_state,
    a_person_is_added_edited_noted_related_and_forgotten_after_one_question,
    a_csv_upload_is_mapped_imported_and_its_rejects_download_for_excel,
    occasions_are_created_changed_and_cancelled_after_one_question,
);

async fn signed_in(a: &App) -> AdminSession {
    a.quick_password("koordination", PASSWORD).await;
    a.admin_login("koordination", PASSWORD).await
}

async fn get(a: &App, s: &AdminSession, path: &str) -> (StatusCode, String) {
    let r = a.admin_get(&s.cookie, path).await;
    (r.status(), r.text().await.unwrap())
}

async fn topics_are_created_renamed_described_and_archived(backend: Backend) {
    let a = App::on(backend).await;
    let s = signed_in(&a).await;

    // A bad name: said where, and nothing typed is lost.
    let (status, _, page) = post(
        &a,
        &s,
        "/admin/topics",
        &[("slug", "Nachbar schaft"), ("title", "Nachbarschaft Nord")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Kurzname: nur Kleinbuchstaben"), "{page}");
    assert!(page.contains("value=\"Nachbarschaft Nord\""), "{page}");
    let (status, location, _) = post(
        &a,
        &s,
        "/admin/topics",
        &[
            ("slug", "nachbarschaft"),
            ("title", "Nachbarschaft Nord"),
            ("description", "Für alle im Viertel"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/admin/topics"), "{location}");
    let (status, _, page) = post(
        &a,
        &s,
        "/admin/topics",
        &[("slug", "nachbarschaft"), ("title", "Doppelt")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");

    // Rename and describe.
    let (status, _, _) = post(
        &a,
        &s,
        "/admin/topics/nachbarschaft",
        &[
            ("title", "Nachbarschaft Nordstadt"),
            ("description", "Café, Hoffest, Runder Tisch"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let t = store::topics::get(&a.db, "nachbarschaft").await.unwrap();
    assert_eq!(t.title, "Nachbarschaft Nordstadt");
    assert_eq!(
        t.description.as_deref(),
        Some("Café, Hoffest, Runder Tisch")
    );
    let (status, _, page) = post(&a, &s, "/admin/topics/nachbarschaft", &[("title", " ")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Bitte geben Sie einen Titel an"), "{page}");

    // Archive: hidden from the choices, no new sends, history kept; and back.
    let c = a.contact("erika@example.org", vec![t.id.get()]).await;
    a.admin_post(
        &s.cookie,
        "/admin/topics/nachbarschaft/archive",
        &format!("csrf={}&archived=1", s.csrf),
    )
    .await;
    let (_, page) = get(&a, &s, "/admin/topics").await;
    assert!(
        page.contains("Archivierte Themen") && page.contains("Wieder verwenden"),
        "{page}"
    );
    for path in [
        "/admin/contacts",
        "/admin/contacts/new",
        "/admin/import",
        "/admin/occasions/new",
    ] {
        let (_, page) = get(&a, &s, path).await;
        assert!(
            !page.contains("value=\"nachbarschaft\""),
            "{path} offers an archived topic"
        );
    }
    // Nor on the public pages: no sign-up form, not in the list.
    assert_eq!(a.get("/s/nachbarschaft").await.0, StatusCode::NOT_FOUND);
    assert!(!a.get("/").await.1.contains("/s/nachbarschaft"));
    let (campaign, _) = a.invitation(t.id.get()).await;
    let k = store::campaigns::by_id(&a.db, campaign.into())
        .await
        .unwrap();
    let refused = campaign::start(&a.db, &a.cfg, &k).await.unwrap_err();
    assert!(format!("{refused:#}").contains("archived"), "{refused:#}");
    assert_eq!(
        a.status(c, t.id.get()).await.as_deref(),
        Some("confirmed"),
        "consent kept"
    );
    a.admin_post(
        &s.cookie,
        "/admin/topics/nachbarschaft/archive",
        &format!("csrf={}&archived=0", s.csrf),
    )
    .await;
    assert!(store::topics::get(&a.db, "nachbarschaft")
        .await
        .unwrap()
        .archived_at
        .is_none());
    assert!(campaign::start(&a.db, &a.cfg, &k).await.is_ok());
    assert_eq!(a.get("/s/nachbarschaft").await.0, StatusCode::OK);
    assert!(a.get("/").await.1.contains("/s/nachbarschaft"));
}

async fn contacts_list_searches_filters_counts_and_says_each_state(backend: Backend) {
    let a = App::on(backend).await;
    let s = signed_in(&a).await;
    let t = a.topic("nachbarschaft").await;
    a.contact("still@example.org", vec![t]).await;
    a.contact_with("wartet@example.org", vec![t], ConsentStatus::Pending)
        .await;
    let gone = a.contact("weg@example.org", vec![t]).await;
    activation::withdraw_consent(
        &a.db,
        gone.into(),
        None,
        &Cause::Form {
            evidence: "test".into(),
        },
    )
    .await
    .unwrap();
    let coming = a.contact("kommt@example.org", vec![t]).await;
    store::contacts::upsert_one(
        &a.db,
        &store::contacts::ImportRow {
            email: netzpost::domain::EmailAddress::parse("kommt@example.org").unwrap(),
            name: Some("Hülya Öztürk".into()),
            organisation: Some("Mieterverein Nord".into()),
            language: None,
            attributes: Default::default(),
            topics: vec![],
        },
        ConsentStatus::Confirmed,
        "test",
    )
    .await
    .unwrap();
    // An answer through the RSVP link: the person's own doing, "last active" now.
    let (campaign, occasion) = a.invitation(t).await;
    let tok = a.sign(Purpose::Rsvp, campaign, coming, occasion, None);
    a.post_form(&format!("/r/{tok}/yes"), "").await;

    let (status, page) = get(&a, &s, "/admin/contacts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("4 Kontakte gefunden"), "{page}");
    let row = |email: &str| {
        let at = page
            .find(&format!(">{email}</a>"))
            .unwrap_or_else(|| panic!("{email} in {page}"));
        let end = page[at..].find("</tr>").unwrap() + at;
        page[at..end].to_string()
    };
    assert!(
        row("weg@example.org").contains("abgemeldet"),
        "{}",
        row("weg@example.org")
    );
    assert!(!row("weg@example.org").contains(">aktiv<"));
    assert!(row("wartet@example.org").contains("wartet auf Zustimmung"));
    assert!(row("still@example.org").contains(">still<"));
    assert!(row("kommt@example.org").contains(">aktiv<"));
    // Imported and never heard of: never active, whatever the import time.
    assert!(
        row("still@example.org").contains("noch nie"),
        "{}",
        row("still@example.org")
    );
    assert!(
        row("kommt@example.org").contains("<time datetime="),
        "{}",
        row("kommt@example.org")
    );

    // Search by name (any case, umlauts too), organisation and address; filters count.
    for (q, hit) in [
        ("hülya", "kommt@"),
        ("MIETERVEREIN", "kommt@"),
        ("wartet@", "wartet@"),
    ] {
        let (_, page) = get(&a, &s, &format!("/admin/contacts?q={}", urlencode(q))).await;
        assert!(
            page.contains("1 Kontakt gefunden") && page.contains(hit),
            "{q}: {page}"
        );
    }
    let (_, page) = get(&a, &s, "/admin/contacts?state=unsubscribed").await;
    assert!(
        page.contains("1 Kontakt gefunden") && page.contains("weg@example.org"),
        "{page}"
    );
    let (_, page) = get(&a, &s, "/admin/contacts?silent=1&topic=nachbarschaft").await;
    assert!(
        page.contains("1 Kontakt gefunden") && page.contains("still@example.org"),
        "{page}"
    );
    let (_, page) = get(&a, &s, "/admin/contacts?form=encounter&lang=en").await;
    assert!(
        page.contains("1 contact found") && page.contains("kommt@example.org"),
        "{page}"
    );
    assert_eq!(
        get(&a, &s, "/admin/contacts?state=frei").await.0,
        StatusCode::BAD_REQUEST
    );

    // Paging both ways, the filters kept.
    for i in 0..55 {
        a.contact(&format!("viele{i:02}@example.org"), vec![t])
            .await;
    }
    let (_, page) = get(&a, &s, "/admin/contacts?q=viele").await;
    assert!(
        page.contains("55 Kontakte gefunden") && page.contains("Seite 1 von 2"),
        "{page}"
    );
    assert!(
        page.contains("href=\"/admin/contacts?page=2&amp;q=viele\""),
        "{page}"
    );
    assert!(!page.contains("rel=\"prev\""));
    let (_, page) = get(&a, &s, "/admin/contacts?page=2&q=viele").await;
    assert!(
        page.contains("Seite 2 von 2") && page.contains("viele54@example.org"),
        "{page}"
    );
    assert!(
        page.contains("rel=\"prev\" href=\"/admin/contacts?page=1&amp;q=viele\""),
        "{page}"
    );
    assert!(!page.contains("viele00@example.org"));
}

async fn a_person_is_added_edited_noted_related_and_forgotten_after_one_question(backend: Backend) {
    let a = App::on(backend).await;
    let s = signed_in(&a).await;
    let t = a.topic("nachbarschaft").await;
    let person = [
        ("email", "amira@example.org"),
        ("name", "Amira K."),
        ("organisation", "Elterncafé"),
        ("language", "ar"),
        ("topic_nachbarschaft", "1"),
        ("consent", "confirmed"),
    ];
    // Confirmed consent needs its evidence: asked for, nothing typed lost.
    let (status, _, page) = post(&a, &s, "/admin/contacts/new", &person).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("wie zugestimmt wurde"), "{page}");
    assert!(
        page.contains("value=\"Amira K.\"") && page.contains("value=\"Elterncafé\""),
        "{page}"
    );
    let (status, _, page) = post(
        &a,
        &s,
        "/admin/contacts/new",
        &[("email", "kein-at-zeichen")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("gültige E-Mail-Adresse"), "{page}");
    let mut with_evidence = person.to_vec();
    with_evidence.push(("evidence", "Unterschriftenliste Hoffest"));
    let (status, location, _) = post(&a, &s, "/admin/contacts/new", &with_evidence).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let c = store::contacts::get(&a.db, "amira@example.org")
        .await
        .unwrap();
    assert_eq!(location, format!("/admin/contacts/{}", c.id));
    assert_eq!(a.status(c.id, t).await.as_deref(), Some("confirmed"));
    let subs = store::contacts::subscriptions(&a.db, c.id).await.unwrap();
    let evidence = subs[0].evidence.as_deref().unwrap();
    assert!(
        evidence.contains("admin:koordination") && evidence.contains("Hoffest"),
        "{evidence}"
    );
    // Added twice: the existing contact is named, with a link.
    let (status, _, page) = post(&a, &s, "/admin/contacts/new", &with_evidence).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        // (minijinja writes the slashes of a value as `&#x2f;`)
        page.contains(&format!("href=\"&#x2f;admin&#x2f;contacts&#x2f;{}\"", c.id)),
        "{page}"
    );

    let base = format!("/admin/contacts/{}", c.id);
    // Edit: a field emptied is empty.
    let (status, _, _) = post(
        &a,
        &s,
        &format!("{base}/edit"),
        &[
            ("name", "Amira Khalil"),
            ("organisation", ""),
            ("language", "de"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let c2 = store::contacts::by_id(&a.db, c.id).await.unwrap();
    assert_eq!(
        (
            c2.name.as_deref(),
            c2.organisation.as_deref(),
            c2.language.as_deref()
        ),
        (Some("Amira Khalil"), None, Some("de"))
    );
    let (status, _, page) = post(
        &a,
        &s,
        &format!("{base}/edit"),
        &[("name", "x"), ("language", "klingonisch!")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Unbekanntes Sprachkürzel"), "{page}");

    // A note, and relations by hand: a named group, a cooperation begun and ended, came to an
    // occasion; each on the timeline with who did it.
    post(
        &a,
        &s,
        &format!("{base}/note"),
        &[("note", "Möchte beim Hoffest helfen")],
    )
    .await;
    let (status, _, _) = post(
        &a,
        &s,
        &format!("{base}/relation"),
        &[
            ("what", "group"),
            ("group", "Runder Tisch Nord"),
            ("topic", "nachbarschaft"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    post(
        &a,
        &s,
        &format!("{base}/relation"),
        &[("what", "group"), ("group", "AG Spielplatz")],
    )
    .await;
    post(
        &a,
        &s,
        &format!("{base}/relation"),
        &[("what", "cooperation_started"), ("topic", "nachbarschaft")],
    )
    .await;
    let (status, _, _) = post(
        &a,
        &s,
        &format!("{base}/relation"),
        &[("what", "cooperation_ended"), ("topic", "nachbarschaft")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, page) = post(
        &a,
        &s,
        &format!("{base}/relation"),
        &[("what", "cooperation_ended"), ("topic", "nachbarschaft")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing left to end");
    assert!(page.contains("nichts zu beenden"), "{page}");
    let (status, _, page) = post(
        &a,
        &s,
        &format!("{base}/relation"),
        &[("what", "group"), ("group", "")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Namen der Gruppe"), "{page}");
    let (_, occasion) = a.invitation(t).await;
    post(
        &a,
        &s,
        &format!("{base}/relation"),
        &[("what", "came"), ("occasion", "nachbarschaftscafe")],
    )
    .await;
    let rel = store::relations::for_contact(&a.db, c.id).await.unwrap();
    let groups: Vec<&str> = rel
        .iter()
        .filter(|r| r.form.as_str() == "group")
        .map(|r| r.group_name.as_str())
        .collect();
    assert_eq!(groups.len(), 2, "two groups, both kept: {groups:?}");
    assert!(rel.iter().any(|r| r.form.as_str() == "cooperation"
        && r.status.as_str() == "ended"
        && r.until.is_some()));
    assert!(rel
        .iter()
        .any(|r| r.occasion_id.map(|o| o.get()) == Some(occasion)
            && r.status.as_str() == "confirmed"
            && r.cause_kind == "person"));
    let (_, page) = get(&a, &s, &base).await;
    for text in [
        "Notiz von admin:koordination: Möchte beim Hoffest helfen",
        "in der Gruppe Runder Tisch Nord (von admin:koordination)",
        "Kooperation beendet (von admin:koordination)",
        "war da",
        "Runder Tisch Nord",
    ] {
        assert!(page.contains(text), "{text} in {page}");
    }

    // Erasure asks once, saying what will happen; only the confirmed POST erases.
    assert!(page.contains(&format!("href=\"{base}/forget\"")), "{page}");
    let (status, page) = get(&a, &s, &format!("{base}/forget")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("nicht rückgängig") && page.contains("name=\"confirm\" value=\"yes\""),
        "{page}"
    );
    let (status, _, _) = post(&a, &s, &format!("{base}/forget"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        store::contacts::by_id(&a.db, c.id).await.is_ok(),
        "not erased without the confirmation"
    );
    let (status, _, _) = post(&a, &s, &format!("{base}/forget"), &[("confirm", "yes")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(store::contacts::by_id(&a.db, c.id).await.is_err());
    // Suppressed now: not added again by hand.
    let (status, _, page) = post(&a, &s, "/admin/contacts/new", &with_evidence).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("gesperrt"), "{page}");
}

async fn a_csv_upload_is_mapped_imported_and_its_rejects_download_for_excel(backend: Backend) {
    let a = App::on(backend).await;
    let s = signed_in(&a).await;
    let t = a.topic("nachbarschaft").await;
    // Windows-1252, semicolons, a column the importer would not know ("Wer") and bad rows.
    let mut file = b"Mail;Wer;Verein;Sprache\r\n".to_vec();
    file.extend_from_slice(b"juergen@example.org;J\xfcrgen M\xfcller;Kleingartenverein;de\r\n");
    file.extend_from_slice(b"anna@example.org;Anna;;tr\r\n");
    file.extend_from_slice(b"kein-at;Kaputt;;de\r\n");
    file.extend_from_slice(b"anna@example.org;Anna doppelt;;de\r\n");
    file.extend_from_slice(b"=cmd@example.org;Formel;;xx!\r\n");

    // Confirmed without saying how: asked for.
    let (status, page) = upload(
        &a,
        &s,
        "/admin/import",
        &[("topic_nachbarschaft", "1"), ("consent", "confirmed")],
        &file,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("wie zugestimmt wurde"), "{page}");
    let (status, page) = upload(&a, &s, "/admin/import", &[("csrf", "falsch")], &file).await;
    assert_ne!(status, StatusCode::OK, "{page}");
    let (status, page) = upload(
        &a,
        &s,
        "/admin/import",
        &[
            ("topic_nachbarschaft", "1"),
            ("consent", "confirmed"),
            ("evidence", "Liste vom Hoffest"),
        ],
        &file,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Windows-1252") && page.contains("Spalte 2"),
        "{page}"
    );
    // The importer's guesses are preselected: Mail is the address, Wer is unknown.
    assert!(page.contains("<option value=\"email\" selected>"), "{page}");
    let action = page.split("action=\"/admin/import/").nth(1).unwrap();
    let id = &action[..48];

    // No e-mail column: said, nothing imported.
    let (status, _, page) = post(
        &a,
        &s,
        &format!("/admin/import/{id}"),
        &[
            ("col_0", "other"),
            ("col_1", "name"),
            ("col_2", "organisation"),
            ("col_3", "language"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("E-Mail-Adresse sein"), "{page}");
    let (status, _, page) = post(
        &a,
        &s,
        &format!("/admin/import/{id}"),
        &[
            ("col_0", "email"),
            ("col_1", "name"),
            ("col_2", "organisation"),
            ("col_3", "language"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<strong>2</strong> neu angelegt"), "{page}");
    assert!(page.contains("<strong>3</strong> abgelehnt"), "{page}");
    for reason in [
        "keine gültige E-Mail-Adresse",
        "Adresse doppelt: steht schon in Zeile 3",
        "unbekannte Sprache",
    ] {
        assert!(page.contains(reason), "{reason} in {page}");
    }
    let j = store::contacts::get(&a.db, "juergen@example.org")
        .await
        .unwrap();
    assert_eq!(
        j.name.as_deref(),
        Some("Jürgen Müller"),
        "read as Windows-1252"
    );
    assert_eq!(
        j.organisation.as_deref(),
        Some("Kleingartenverein"),
        "Verein is the organisation"
    );
    let anna = store::contacts::get(&a.db, "anna@example.org")
        .await
        .unwrap();
    assert_eq!(
        anna.name.as_deref(),
        Some("Anna"),
        "mapped: Wer is the name"
    );
    assert_eq!(a.status(anna.id, t).await.as_deref(), Some("confirmed"));

    // The rejects for German Excel: BOM, semicolons, German header and reasons, no formulas.
    let r = a
        .admin_get(&s.cookie, &format!("/admin/import/{id}/rejects.csv"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("abgelehnt.csv"));
    let bytes = r.bytes().await.unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBFZeile;Grund;Daten\r\n"),
        "{:?}",
        String::from_utf8_lossy(&bytes)
    );
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(
        text.contains("\r\n5;Adresse doppelt: steht schon in Zeile 3;\"anna@example.org;Anna doppelt;;de\"\r\n"),
        "{text}"
    );
    assert!(
        text.contains(";\"'=cmd@example.org;Formel;;xx!\""),
        "{text}"
    );
    // In English for the English UI.
    let r = a
        .admin_get(
            &s.cookie,
            &format!("/admin/import/{id}/rejects.csv?lang=en"),
        )
        .await;
    let text = r.text().await.unwrap();
    assert!(
        text.contains("Line;Reason;Data") && text.contains("address twice: already in line 3"),
        "{text}"
    );
    // Another admin cannot fetch them; an unknown id is gone.
    a.quick_password("andere", PASSWORD).await;
    let other = a.admin_login("andere", PASSWORD).await;
    assert_eq!(
        a.admin_get(&other.cookie, &format!("/admin/import/{id}/rejects.csv"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        a.admin_get(&s.cookie, "/admin/import/../../etc/passwd/rejects.csv")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // A file far larger than a form (16 KiB): comma-separated UTF-8, the guesses taken.
    let mut big = String::from("email,name\n");
    for i in 0..1500 {
        big.push_str(&format!("person{i}@example.org,Person {i}\n"));
    }
    assert!(big.len() > 40_000);
    let (status, page) = upload(&a, &s, "/admin/import", &[], big.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let id = &page.split("action=\"/admin/import/").nth(1).unwrap()[..48];
    let (status, _, page) = post(
        &a,
        &s,
        &format!("/admin/import/{id}"),
        &[("col_0", "email"), ("col_1", "name")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("<strong>1500</strong> neu angelegt"),
        "{page}"
    );
    // Imported once: the same mapping posted again finds the upload gone.
    let (status, _, _) = post(
        &a,
        &s,
        &format!("/admin/import/{id}"),
        &[("col_0", "email"), ("col_1", "name")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The export, in both dialects; the standard one is the command's.
    let r = a
        .admin_get(&s.cookie, "/admin/contacts/export.csv?dialect=excel")
        .await;
    let bytes = r.bytes().await.unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBFemail;name;organisation;"),
        "{:?}",
        String::from_utf8_lossy(&bytes)
    );
    let web = a
        .admin_get(&s.cookie, "/admin/contacts/export.csv?dialect=standard")
        .await
        .text()
        .await
        .unwrap();
    let cli = a.cli(&["contacts", "export"]);
    let cli_out = String::from_utf8(cli.stdout).unwrap();
    assert!(
        cli.status.success() && web == cli_out,
        "web: {} bytes, command: {} bytes ({}), stderr: {}",
        web.len(),
        cli_out.len(),
        cli.status,
        String::from_utf8_lossy(&cli.stderr)
    );
}

async fn occasions_are_created_changed_and_cancelled_after_one_question(backend: Backend) {
    let a = App::on(backend).await;
    let s = signed_in(&a).await;
    let t = a.topic("nachbarschaft").await;
    let fields = [
        ("slug", "hoffest"),
        ("title", "Hoffest"),
        ("date", "2031-06-14"),
        ("time", "15:00"),
        ("end_time", "18:00"),
        ("place", "Hof Nordstraße 5"),
        ("capacity", "80"),
        ("topic", "nachbarschaft"),
    ];
    let mut bad = fields.to_vec();
    bad[4] = ("end_time", "14:00");
    let (status, _, page) = post(&a, &s, "/admin/occasions/new", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("Das Ende liegt vor dem Beginn")
            && page.contains("value=\"Hof Nordstraße 5\""),
        "{page}"
    );
    let (status, location, _) = post(&a, &s, "/admin/occasions/new", &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/admin/occasions/hoffest");
    let o = store::occasions::get(&a.db, "hoffest").await.unwrap();
    // 15:00 in Berlin (summer time) is 13:00 UTC.
    assert_eq!(o.starts_at.to_rfc3339(), "2031-06-14T13:00:00+00:00");
    assert_eq!(o.topic_id, Some(TopicId(t)));
    let (_, page) = get(&a, &s, "/admin/occasions/hoffest").await;
    assert!(
        page.contains("15:00") && !page.contains("13:00:00"),
        "{page}"
    );
    let (_, list) = get(&a, &s, "/admin/occasions").await;
    assert!(
        list.contains("Hoffest") && list.contains("14. Juni 2031, 15:00 Uhr"),
        "{list}"
    );

    // Invited, sent: a change of place goes to them with the calendar update.
    let c = a.contact("gast@example.org", vec![t]).await;
    let k = store::campaigns::create(
        &a.db,
        &store::campaigns::NewCampaign {
            name: "einladung-hoffest".into(),
            kind: store::campaigns::CampaignKind::Invitation,
            topic_id: Some(TopicId(t)),
            occasion_id: Some(o.id),
            subject: String::new(),
            body: "Kommen Sie!".into(),
            translations: Default::default(),
            audience: Default::default(),
            schedule: None,
            send_at: None,
            parent_id: None,
        },
    )
    .await
    .unwrap();
    campaign::start(&a.db, &a.cfg, &k).await.unwrap();
    a.engine.run_until_idle().await.unwrap();
    let before = a.mails().len();
    let mut moved = fields[1..7].to_vec();
    moved[4] = ("place", "Gemeindesaal, Kirchweg 2");
    let (status, location, _) = post(&a, &s, "/admin/occasions/hoffest", &moved).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        location.contains("changed=place") && location.contains("notified=1"),
        "{location}"
    );
    let mails = a.mails();
    assert_eq!(mails.len(), before + 1);
    assert!(mails.last().unwrap().contains("Gemeindesaal"));
    let (_, page) = get(&a, &s, &location).await;
    assert!(
        page.contains("Geändert: Ort.") && page.contains("1 Eingeladene benachrichtigt"),
        "{page}"
    );

    // Cancel: asked once, saying who will be told; only the confirmed POST cancels.
    let (_, page) = get(&a, &s, "/admin/occasions/hoffest/cancel").await;
    assert!(
        page.contains("1 Eingeladene, die nicht abgesagt haben"),
        "{page}"
    );
    let (status, _, _) = post(
        &a,
        &s,
        "/admin/occasions/hoffest/cancel",
        &[("reason", "Regen")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(store::occasions::get(&a.db, "hoffest")
        .await
        .unwrap()
        .cancelled_at
        .is_none());
    let (status, _, _) = post(
        &a,
        &s,
        "/admin/occasions/hoffest/cancel",
        &[("reason", "Unwetterwarnung"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let o = store::occasions::get(&a.db, "hoffest").await.unwrap();
    assert_eq!(o.cancel_reason.as_deref(), Some("Unwetterwarnung"));
    assert!(a.mails().last().unwrap().contains("Unwetterwarnung"));
    let (status, _, _) = post(&a, &s, "/admin/occasions/hoffest", &moved).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a cancelled occasion does not change"
    );
    let _ = c;
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
