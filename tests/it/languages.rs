//! Mail in the neighbourhood's languages through the real binary (file transport, no server):
//! languages imported by their names, a campaign with its own text in several languages, the
//! greeting by each contact's form of address, the fallback, right to left for Arabic.

use crate::support::{Mail, Workspace};
use std::collections::HashMap;

/// A semicolon CSV as a German spreadsheet writes it, languages by name, a form of address.
const CONTACTS: &str = "E-Mail;Name;Sprache;Anrede;Titel\n\
    anna@example.org;Anna Schmidt;Deutsch;Frau;Dr.\n\
    jan@example.org;Jan Becker;de;;\n\
    sam@example.org;Sam Okafor;English;;\n\
    ayse@example.org;Ayşe Yılmaz;Türkçe;formal;\n\
    rami@example.org;Rami Haddad;العربية;;\n\
    olga@example.org;Olga Petrenko;Українська;;\n\
    ivan@example.org;;Русский;;\n\
    ewa@example.org;Ewa Nowak;Polski;;\n\
    marie@example.org;Marie Dubois;fr;;\n";

fn workspace_with_contacts() -> Workspace {
    let ws = Workspace::new();
    ws.ok(&["topics", "add", "hof", "--title", "Hoffest"]);
    let file = ws.path().join("kontakte.csv");
    std::fs::write(&file, CONTACTS).unwrap();
    ws.ok(&[
        "contacts",
        "import",
        file.to_str().unwrap(),
        "--topic",
        "hof",
        "--consent",
        "confirmed",
    ]);
    ws
}

fn decoded_subject(m: &Mail) -> String {
    mail_parser::MessageParser::default()
        .parse(&m.raw[..])
        .and_then(|p| p.subject().map(str::to_string))
        .unwrap_or_default()
}

fn mails_by_recipient(ws: &Workspace) -> HashMap<String, Mail> {
    ws.outbox_messages()
        .into_iter()
        .map(|m| (m.envelope_to[0].clone(), m))
        .collect()
}

#[test]
fn language_names_import_as_codes_and_unknown_ones_are_rejected() {
    let ws = workspace_with_contacts();
    let rows = ws.sql("SELECT email, language FROM contacts ORDER BY email");
    let langs: HashMap<&str, &str> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    for (email, lang) in [
        ("anna@example.org", "de"),
        ("sam@example.org", "en"),
        ("ayse@example.org", "tr"),
        ("rami@example.org", "ar"),
        ("olga@example.org", "uk"),
        ("ivan@example.org", "ru"),
        ("ewa@example.org", "pl"),
        ("marie@example.org", "fr"),
    ] {
        assert_eq!(langs.get(email).copied(), Some(lang), "{email}: {rows:?}");
    }

    let file = ws.path().join("schlecht.csv");
    std::fs::write(
        &file,
        "email,name,language\nk@example.org,K,Klingonisch\nx@example.org,X,xx\nt@example.org,T,Turkish\n",
    )
    .unwrap();
    let out = ws.run(&["contacts", "import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "rejected rows make exit code 2");
    let rejects = std::fs::read_to_string(ws.path().join("schlecht.csv.rejects.csv")).unwrap();
    assert!(rejects.contains("Klingonisch"), "{rejects}");
    assert!(rejects.contains("\"xx\""), "{rejects}");
    assert!(!rejects.contains("Turkish"), "{rejects}");
    assert_eq!(
        ws.sql("SELECT language FROM contacts WHERE email = 't@example.org'"),
        [["tr"]]
    );
}

#[test]
fn a_campaign_in_several_languages_reaches_each_contact_in_theirs() {
    let ws = workspace_with_contacts();
    let uk_body = ws.path().join("einladung.uk.txt");
    std::fs::write(&uk_body, "Запрошуємо на свято у дворі!").unwrap();
    ws.ok(&[
        "campaigns",
        "create",
        "hoffest",
        "--kind",
        "newsletter",
        "--topic",
        "hof",
        "--subject",
        "Hoffest am Samstag",
        "--body",
        "am Samstag feiern wir im Hof.",
        "--subject-lang",
        "tr=Cumartesi avlu şenliği",
        "--body-lang",
        "tr=Cumartesi günü avluda kutlama yapıyoruz.",
        "--body-lang",
        "en=We are celebrating in the courtyard on Saturday.",
        "--body-file-lang",
        &format!("Українська={}", uk_body.display()),
    ]);
    let show = ws.ok(&["campaigns", "show", "hoffest"]);
    assert!(show.contains("also in:   en, tr, uk"), "{show}");
    let json = ws.campaign("hoffest");
    assert_eq!(
        json["campaign"]["translations"]["tr"]["subject"],
        "Cumartesi avlu şenliği"
    );
    ws.ok(&["campaigns", "send", "hoffest", "--wait"]);
    let mails = mails_by_recipient(&ws);
    assert_eq!(mails.len(), 9, "{:?}", mails.keys());
    let expect = |to: &str, subject: &str, starts: &str, has: &[&str]| {
        let m = &mails[to];
        assert_eq!(decoded_subject(m), subject, "{to}");
        let text = m.text().replace("\r\n", "\n");
        assert!(text.starts_with(starts), "{to}: {text:?}");
        for h in has {
            assert!(text.contains(h), "{to}: {h:?} missing in\n{text}");
        }
    };
    // German: the main text, greeting by the imported form of address.
    expect(
        "anna@example.org",
        "Hoffest am Samstag",
        "Guten Tag Frau Dr. Schmidt,\n\nam Samstag feiern wir im Hof.",
        &["Sie erhalten diese E-Mail"],
    );
    expect(
        "jan@example.org",
        "Hoffest am Samstag",
        "Hallo Jan Becker,\n\nam Samstag",
        &[],
    );
    // Own text in tr; English has a body but no subject of its own: the main subject.
    expect(
        "ayse@example.org",
        "Cumartesi avlu şenliği",
        "Sayın Ayşe Yılmaz,\n\nCumartesi günü avluda kutlama yapıyoruz.",
        &["Bu e-postayı"],
    );
    expect(
        "sam@example.org",
        "Hoffest am Samstag",
        "Hello Sam Okafor,\n\nWe are celebrating",
        &["You receive this e-mail"],
    );
    expect(
        "olga@example.org",
        "Hoffest am Samstag",
        "Добрий день, Olga Petrenko!\n\nЗапрошуємо на свято у дворі!",
        &["Ви отримуєте цей лист"],
    );
    // No text of their own: the main text in their language's frame and greeting.
    expect(
        "ivan@example.org",
        "Hoffest am Samstag",
        "Здравствуйте!\n\nam Samstag feiern wir im Hof.",
        &["Вы получаете это письмо"],
    );
    expect(
        "ewa@example.org",
        "Hoffest am Samstag",
        "Dzień dobry Ewa Nowak,\n\nam Samstag",
        &["Otrzymują Państwo tę wiadomość"],
    );
    expect(
        "rami@example.org",
        "Hoffest am Samstag",
        "مرحبًا Rami Haddad،\n\nam Samstag",
        &["تصلكم هذه الرسالة"],
    );
    let ar_html = mails["rami@example.org"].html.as_deref().unwrap();
    assert!(
        ar_html.contains("<html lang=\"ar\" dir=\"rtl\">"),
        "{ar_html}"
    );
    let de_html = mails["anna@example.org"].html.as_deref().unwrap();
    assert!(de_html.contains("<html lang=\"de\" dir=\"ltr\">"));
    // A language without templates: the configured fallback (German).
    expect(
        "marie@example.org",
        "Hoffest am Samstag",
        "Hallo Marie Dubois,\n\nam Samstag",
        &["Sie erhalten diese E-Mail"],
    );
}

#[test]
fn texts_in_unknown_or_template_less_languages_are_refused_at_create() {
    let ws = workspace_with_contacts();
    let base = [
        "campaigns",
        "create",
        "x",
        "--kind",
        "newsletter",
        "--topic",
        "hof",
        "--body",
        "Text",
    ];
    let refused = |extra: &[&str], says: &str| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = ws.run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?} was accepted");
        assert!(err.contains(says), "{extra:?}: {err}");
    };
    refused(&["--body-lang", "Klingonisch=Text"], "unknown language");
    refused(
        &["--body-lang", "fr=Bonjour"],
        "no mail templates in \"fr\"",
    );
    refused(&["--body-lang", "de=Hallo"], "main subject and body");
    refused(&["--body-lang", "tr"], "expected LANG=");
    refused(
        &["--body-lang", "tr=Merhaba {{ contact.nmae }}"],
        "text in tr",
    );
    assert!(ws.sql("SELECT name FROM campaigns").is_empty());
}

#[test]
fn default_language_is_the_fallback_for_contacts_without_templates() {
    let mut ws = workspace_with_contacts();
    ws.set("NETZPOST_DEFAULT_LANGUAGE", "en");
    ws.ok(&[
        "campaigns",
        "create",
        "n",
        "--kind",
        "newsletter",
        "--topic",
        "hof",
        "--body",
        "Neues.",
    ]);
    ws.ok(&["campaigns", "send", "n", "--wait"]);
    let mails = mails_by_recipient(&ws);
    let fr = mails["marie@example.org"].text().replace("\r\n", "\n");
    assert!(fr.starts_with("Hello Marie Dubois,"), "{fr}");
    assert!(fr.contains("You receive this e-mail"), "{fr}");
    let tr = mails["ayse@example.org"].text().replace("\r\n", "\n");
    assert!(tr.contains("Bu e-postayı"), "{tr}");
}
