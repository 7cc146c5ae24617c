//! Pure inbound classification: raw bytes in, [`Analysis`] out.
//!
//! No database and no I/O: the daemon and `netzpost inbound explain` call exactly this code.
//! Pipeline: parse (mail-parser) -> kind (bounce / complaint / auto-reply / reply) -> visible
//! text (quotes and signatures off) -> intent (data-driven rules) -> language.

mod bounce;
pub mod corpus;
mod extras;
mod features;
mod intent;
mod kind;
mod lang;
pub mod model;
mod parse;
pub mod poll;
mod segment;
pub mod successor;
mod visible;

use serde::{Deserialize, Serialize};

pub use intent::{Rules, RulesError};
pub use visible::visible_text;

crate::domain::text_enum!(
    /// What kind of message arrived. Only `Reply` may ever change a relation.
    pub MessageKind {
        Reply => "reply",
        AutoReply => "auto_reply" | "autoreply" | "auto-reply",
        Bounce => "bounce",
        Complaint => "complaint",
    }
);

crate::domain::text_enum!(
    /// What the person wants, read from their new words only.
    pub Intent {
        Accept => "accept",
        Decline => "decline",
        Cooperation => "cooperation",
        Unsubscribe => "unsubscribe",
        Question => "question",
        None => "none" | "",
    }
);

/// One failed recipient named by a bounce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BounceRecipient {
    pub recipient: String,
    /// true = hard failure (5.x.x, "user unknown"); false = delay / temporary failure.
    pub permanent: bool,
    /// RFC 3463 enhanced status code such as "5.1.1", when the bounce names one.
    pub status: Option<String>,
}

/// Everything the caller needs to attribute and apply an inbound message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub kind: MessageKind,
    pub intent: Intent,
    /// 0..1; the caller sends anything below its threshold (default 0.6) to human review.
    pub confidence: f32,
    /// "de", "en" (stopword counts; "de" when nothing decides, the project's home language).
    pub language: String,
    pub bounces: Vec<BounceRecipient>,
    /// The person's new words only (quotes, quote headers, signatures removed).
    pub text: String,
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Lower-cased From address.
    pub from: Option<String>,
    /// To, Cc, Delivered-To, X-Original-To; lower-cased, deduplicated.
    pub recipients: Vec<String>,
    pub subject: Option<String>,
    /// PARTSTAT of a text/calendar METHOD:REPLY part (ACCEPTED, DECLINED, TENTATIVE, ...).
    pub calendar_partstat: Option<String>,
    /// Which rule (or header sign) decided, for `explain` and the review queue.
    pub matched_rule: Option<String>,
    /// A clear answer that also asks a question a person must answer.
    pub also_question: bool,
    /// How many people come in all, when the reply says ("wir kommen zu dritt" = 3).
    pub party_size: Option<u32>,
    /// A wish not to be invited before a time: "YYYY-MM" or "summer_holidays".
    pub not_before: Option<String>,
    /// Every language seen in the person's words, in order.
    pub languages: Vec<String>,
    /// An auto-reply's successor or new address (`successor::find`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<successor::Successor>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error("empty input: no bytes to classify")]
    Empty,
}

/// Bodies larger than this are only looked at up to this many bytes: what a person writes
/// fits easily, and a pasted log or a huge text part must not cost unbounded time.
pub(crate) const MAX_TEXT_BYTES: usize = 256 * 1024;

/// The model's auto-reply probability from which a message without auto-reply headers,
/// subject or phrases (`kind`) is taken for one. The phrases name the common notices in the
/// seven languages; the model alone must be sure, because a person's refusal with a long
/// footer reads much like a notice.
const AUTO_REPLY_BY_WORDS: f32 = 0.9;

/// The features the intent model reads from a raw message, with the kind the headers and
/// subject give (training and evaluation call this; the daemon calls [`analyze`]).
pub fn training_features(raw: &[u8], rules: &Rules) -> (MessageKind, Vec<String>) {
    let p = parse::parse(raw);
    let verdict = kind::detect(&p);
    let body = p.body_text();
    let text = visible::visible_text(&body);
    let r = intent::read(rules, &text, p.subject.as_deref());
    (verdict.kind, r.features)
}

/// Classifies one raw message (RFC 5322, optionally with an mbox "From " line).
/// Never panics; malformed input yields a best-effort analysis.
pub fn analyze(raw: &[u8], rules: &Rules) -> Result<Analysis, ClassifyError> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ClassifyError::Empty);
    }
    let p = parse::parse(raw);
    let verdict = kind::detect(&p);

    let body = p.body_text();
    // Bounces and complaints carry no words of a person: skip the trimmer on their
    // (often long) machine text, the hot path when a campaign bounces.
    let text = match verdict.kind {
        MessageKind::Bounce | MessageKind::Complaint => String::new(),
        _ => visible::visible_text(&body),
    };
    let mut bounces = Vec::new();
    let mut kind = verdict.kind;
    let mut also_question = false;
    let mut own = String::new();
    let (intent, confidence, matched_rule) = match verdict.kind {
        MessageKind::Reply => {
            let d = intent::decide(
                rules,
                &text,
                p.subject.as_deref(),
                p.calendar_partstat.as_deref(),
            );
            own = d.own_words;
            if d.auto_reply >= AUTO_REPLY_BY_WORDS {
                // No header said so, but the words are those of an automatic reply (an
                // out-of-office notice, a ticket receipt): it never changes anything.
                kind = MessageKind::AutoReply;
                (
                    Intent::None,
                    d.auto_reply,
                    Some("model:auto-reply".to_string()),
                )
            } else {
                also_question = d.also_question;
                (d.intent, d.confidence, d.rule)
            }
        }
        MessageKind::Bounce => {
            bounces = bounce::recipients(&p);
            (Intent::None, verdict.confidence, Some(verdict.sign))
        }
        MessageKind::AutoReply | MessageKind::Complaint => {
            (Intent::None, verdict.confidence, Some(verdict.sign))
        }
    };
    let (party_size, not_before) = if kind == MessageKind::Reply {
        (
            extras::party_size(&own, intent),
            extras::not_before_at(&own, p.date.unwrap_or_else(this_month), intent),
        )
    } else {
        (None, None)
    };
    // The own words first: a signature or footer in the organisation's language (a German
    // "e.V." block under a Ukrainian answer) must not decide the person's language.
    let language = match lang::detect_one(&own) {
        Some(l) if kind == MessageKind::Reply => l,
        _ => lang::detect(&text, kind::head(&body, 1024), p.subject.as_deref()),
    }
    .to_string();
    let languages = if kind == MessageKind::Reply {
        lang::seen(&own)
    } else {
        Vec::new()
    };

    let successor = (kind == MessageKind::AutoReply)
        .then(|| {
            successor::find(
                successor::SuccessorRules::builtin(),
                &text,
                p.from.as_deref(),
            )
        })
        .flatten();
    Ok(Analysis {
        successor,
        kind,
        intent,
        confidence: confidence.clamp(0.0, 1.0),
        language,
        bounces,
        text,
        message_id: p.message_id,
        in_reply_to: p.in_reply_to,
        references: p.references,
        from: p.from,
        recipients: p.recipients,
        subject: p.subject,
        calendar_partstat: p.calendar_partstat,
        matched_rule,
        also_question,
        party_size,
        not_before,
        languages,
    })
}

/// Year and month now: the reference of "ab März" in a message without a Date header.
fn this_month() -> (i32, u32) {
    use chrono::Datelike;
    let now = chrono::Utc::now();
    (now.year(), now.month())
}

/// The stable JSON shape printed by `netzpost inbound explain` (exactly these keys).
pub fn explain_json(file: &str, a: &Analysis) -> serde_json::Value {
    serde_json::json!({
        "file": file,
        "kind": a.kind.as_str(),
        "intent": a.intent.as_str(),
        // f32 -> f64 would print 0.949999988; three decimals are all the rules carry.
        "confidence": (f64::from(a.confidence) * 1000.0).round() / 1000.0,
        "language": a.language,
        "bounces": a.bounces.iter().map(|b| serde_json::json!({
            "recipient": b.recipient,
            "permanent": b.permanent,
            "status": b.status,
        })).collect::<Vec<_>>(),
        "text": a.text,
        "also_question": a.also_question,
        "party_size": a.party_size,
        "not_before": a.not_before,
        "languages": a.languages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!("{headers}\r\n\r\n{body}").into_bytes()
    }

    fn reply(body: &str) -> Analysis {
        let raw = mail(
            "From: Anna <anna@example.org>\r\nTo: antwort+tok@netzpost.example\r\nSubject: Re: Einladung\r\nMessage-ID: <a@b>\r\nIn-Reply-To: <x@netzpost.example>",
            body,
        );
        analyze(&raw, &Rules::builtin()).unwrap()
    }

    #[test]
    fn builtin_rules_load() {
        let _ = Rules::builtin();
    }

    #[test]
    fn negation_turns_accept_into_decline() {
        assert_eq!(reply("Ich komme nicht.").intent, Intent::Decline);
        assert_eq!(
            reply("Ich kann leider nicht kommen.").intent,
            Intent::Decline
        );
        assert_eq!(reply("Sorry, I can't make it.").intent, Intent::Decline);
        assert_eq!(
            reply("Wir haben kein Interesse an einer Kooperation.").intent,
            Intent::Decline
        );
        assert_eq!(
            reply("Da kann ich nicht nein sagen!").intent,
            Intent::Accept
        );
    }

    #[test]
    fn a_negation_between_verb_and_particle_declines() {
        let rules = Rules::builtin().without_model();
        let raw = |body: &str| {
            mail(
                "From: Anna <anna@example.org>\r\nSubject: Re: Einladung\r\nMessage-ID: <a@b>",
                body,
            )
        };
        let a = analyze(&raw("Ich nehme nicht teil."), &rules).unwrap();
        assert_eq!(a.intent, Intent::Decline);
        let a = analyze(&raw("Ich nehme gern teil."), &rules).unwrap();
        assert_eq!(a.intent, Intent::Accept);
        // Signing off from one date is no unsubscribe.
        let a = analyze(
            &raw("Ich melde mich für Samstag wieder ab, hab mir den Fuß verknackst."),
            &rules,
        )
        .unwrap();
        assert_eq!(a.intent, Intent::Decline);
    }

    #[test]
    fn asking_what_unsubscribing_would_mean_is_a_question() {
        let rules = Rules::builtin().without_model();
        for text in [
            "Скажите, если я отпишусь от рассылки, приглашения тоже перестанут приходить?",
            "Dzień dobry, co się stanie, jak się wypiszę z newslettera?",
            "Wenn ich mich abmelde, bekomme ich dann noch Einladungen?",
            "Hi, quick question: if I unsubscribe from the newsletter, will I still get the invitations?",
            "Before I click the link – can I unsubscribe later whenever I want?",
            "Merhaba, abonelikten çıkarsam sadece bu bülten mi durur, yoksa bütün davetler mi?",
        ] {
            let raw = mail("From: a@example.org\r\nSubject: Re: x", text);
            let a = analyze(&raw, &rules).unwrap();
            assert_eq!(a.intent, Intent::Question, "{text}");
        }
    }

    #[test]
    fn a_no_before_a_yes_word_or_not_confirming_is_never_applied_as_yes() {
        for text in [
            "Ні. Не підтверджую. Мені це не треба.",
            "Nein, ich bestätige das nicht.",
            "No, I don't confirm, please stop.",
        ] {
            let a = reply(text);
            assert!(
                !(matches!(a.intent, Intent::Accept | Intent::Cooperation) && a.confidence >= 0.6),
                "{text}: {:?} {}",
                a.intent,
                a.confidence
            );
        }
        assert_eq!(reply("No problem, I'll come!").intent, Intent::Accept);
    }

    #[test]
    fn one_word_answers_in_the_seven_languages() {
        let rules = Rules::builtin().without_model();
        for (text, intent) in [
            ("Evet", Intent::Accept),
            ("Hayır", Intent::Decline),
            ("да", Intent::Accept),
            ("Нет.", Intent::Decline),
            ("отписка", Intent::Unsubscribe),
            ("Так!", Intent::Accept),
            ("ні", Intent::Decline),
            ("Wypisz mnie", Intent::Unsubscribe),
            ("Niestety nie", Intent::Decline),
            ("نعم", Intent::Accept),
            ("إلغاء الاشتراك", Intent::Unsubscribe),
        ] {
            let raw = mail("From: a@example.org\r\nSubject: Re: x", text);
            let a = analyze(&raw, &rules).unwrap();
            assert_eq!(a.intent, intent, "{text}");
            assert!(a.confidence >= 0.9, "{text}: {}", a.confidence);
        }
    }

    #[test]
    fn an_answer_beside_a_question_is_applied_and_the_question_flagged() {
        let a = reply("Wir kommen auf jeden Fall, sehr gerne! Darf ich meinen Hund mitbringen?");
        assert_eq!(a.intent, Intent::Accept);
        assert!(a.also_question);
        let a = reply("Wann beginnt das Fest?");
        assert_eq!(a.intent, Intent::Question);
        assert!(!a.also_question);
    }

    #[test]
    fn a_footer_link_in_the_signature_is_no_unsubscribe_and_no_language() {
        let a = reply(
            "Не переживайте, я не забула — обов'язково прийду!\n\nОксана Білик\nReferentin für Kooperationen\nUkrainischer Kulturverein Nord e.V.\nВи отримали цей лист, бо підписані на новини. Відписатися: kulturverein-nord.de/abmelden",
        );
        assert_ne!(a.intent, Intent::Unsubscribe);
        assert_eq!(a.language, "uk");
    }

    #[test]
    fn one_word_and_numbered_answers() {
        assert_eq!(reply("Ja").intent, Intent::Accept);
        assert_eq!(reply("yes!").intent, Intent::Accept);
        assert_eq!(
            reply("Hallo,\n\ngerne!\n\nViele Grüße\nAnna").intent,
            Intent::Accept
        );
        assert_eq!(reply("1").intent, Intent::Accept);
        assert_eq!(reply("2").intent, Intent::Decline);
        assert_eq!(reply("3").intent, Intent::Cooperation);
    }

    #[test]
    fn unsubscribe_beats_everything() {
        let a = reply("Ich komme gerne, aber bitte nehmen Sie mich danach aus dem Verteiler.");
        assert_eq!(a.intent, Intent::Unsubscribe);
        assert_eq!(
            reply("Please remove me from your list").intent,
            Intent::Unsubscribe
        );
        assert_ne!(
            reply("Bitte nehmen Sie mich NICHT aus dem Verteiler.").intent,
            Intent::Unsubscribe
        );
    }

    #[test]
    fn quoted_invitation_does_not_count() {
        let a = reply(
            "Ja, ich komme.\n\nAm 12.01.2025 um 10:00 schrieb Netzwerk <einladung@netzpost.example>:\n> Zum Abmelden antworten Sie mit abmelden.\n",
        );
        assert_eq!(a.text, "Ja, ich komme.");
        assert_eq!(a.intent, Intent::Accept);
        assert_eq!(a.language, "de");
        assert_eq!(a.in_reply_to, vec!["x@netzpost.example".to_string()]);
    }

    #[test]
    fn a_million_references_keep_the_last_fifty_distinct() {
        // A hostile References header must cost no more than a short one.
        let mut refs = String::from("References:");
        for i in 0..1_000_000 {
            refs.push_str(&format!(" <r{i}@x.example>"));
        }
        // The thread's own ids come last; a repeated one counts once.
        refs.push_str(" <np.1.2.MAC@netzpost.example> <r999999@x.example>");
        let raw = mail(
            &format!(
                "From: a@example.org\r\nSubject: Re: Treffen\r\n{refs}\r\n\
                 In-Reply-To: <a@x> <b@x> <a@x>"
            ),
            "Ja, ich komme.",
        );
        let a = analyze(&raw, &Rules::builtin()).unwrap();
        assert_eq!(a.references.len(), parse::MAX_THREAD_IDS);
        assert_eq!(a.references.last().unwrap(), "r999999@x.example");
        assert_eq!(a.references[48], "np.1.2.MAC@netzpost.example");
        assert_eq!(a.references[0], "r999951@x.example");
        assert_eq!(a.in_reply_to, ["b@x", "a@x"]);
        assert_eq!(a.intent, Intent::Accept);
    }

    #[test]
    fn calendar_reply_decides_exactly() {
        let raw = mail(
            "From: b@example.org\r\nSubject: Accepted: Treffen\r\nContent-Type: multipart/alternative; boundary=XX",
            "--XX\r\nContent-Type: text/plain\r\n\r\nAbgelehnt? Nein.\r\n--XX\r\nContent-Type: text/calendar; method=REPLY\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nATTENDEE;CN=B;\r\n PARTSTAT=ACCEPTED:mailto:b@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n--XX--\r\n",
        );
        let a = analyze(&raw, &Rules::builtin()).unwrap();
        assert_eq!(a.calendar_partstat.as_deref(), Some("ACCEPTED"));
        assert_eq!(a.intent, Intent::Accept);
        assert_eq!(a.confidence, 1.0);
    }

    #[test]
    fn german_bounce_without_dsn() {
        let raw = mail(
            "From: Mail Delivery System <MAILER-DAEMON@mx.example.de>\r\nTo: bounce+tok@netzpost.example\r\nSubject: Unzustellbar: Einladung",
            "Ihre Nachricht konnte nicht zugestellt werden.\r\n\r\n<max.muster@example.de>: 550 5.1.1 Empfaenger unbekannt\r\n\r\n------ Dies ist eine Kopie der Nachricht\r\n",
        );
        let a = analyze(&raw, &Rules::builtin()).unwrap();
        assert_eq!(a.kind, MessageKind::Bounce);
        assert_eq!(a.intent, Intent::None);
        assert_eq!(
            a.bounces,
            vec![BounceRecipient {
                recipient: "max.muster@example.de".into(),
                permanent: true,
                status: Some("5.1.1".into()),
            }]
        );
    }

    #[test]
    fn german_out_of_office_is_never_a_reply() {
        let raw = mail(
            "From: c@example.org\r\nSubject: Abwesenheitsnotiz: Re: Einladung",
            "Ich bin bis zum 10.01. nicht im Büro. Ja, ich komme gerne zurück.",
        );
        let a = analyze(&raw, &Rules::builtin()).unwrap();
        assert_eq!(a.kind, MessageKind::AutoReply);
        assert_eq!(a.intent, Intent::None);
        // Header sign without a subject sign.
        let raw = mail(
            "From: c@example.org\r\nAuto-Submitted: auto-replied\r\nSubject: Re: x",
            "Ja",
        );
        assert_eq!(
            analyze(&raw, &Rules::builtin()).unwrap().kind,
            MessageKind::AutoReply
        );
    }

    #[test]
    fn html_only_mail() {
        let raw = mail(
            "From: d@example.org\r\nSubject: Re: Einladung\r\nContent-Type: text/html; charset=utf-8",
            "<html><body><div>Wir kommen gerne!</div><div class=\"gmail_quote\">Am 1.1.2025 schrieb X:<blockquote>abmelden</blockquote></div></body></html>",
        );
        let a = analyze(&raw, &Rules::builtin()).unwrap();
        assert_eq!(a.text, "Wir kommen gerne!");
        assert_eq!(a.intent, Intent::Accept);
    }

    #[test]
    fn latin1_body_and_mbox_line() {
        let mut raw = b"From anna@example.org Mon Jan  6 10:00:00 2025\nFrom: anna@example.org\nSubject: Re: Einladung\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n".to_vec();
        raw.extend_from_slice(b"Wir m\xf6chten gerne kooperieren. Gr\xfc\xdfe\n");
        let a = analyze(&raw, &Rules::builtin()).unwrap();
        assert_eq!(a.from.as_deref(), Some("anna@example.org"));
        assert!(a.text.contains("möchten"), "{:?}", a.text);
        assert_eq!(a.intent, Intent::Cooperation);
    }

    #[test]
    fn never_panics_and_rejects_empty() {
        assert!(matches!(
            analyze(b"", &Rules::builtin()),
            Err(ClassifyError::Empty)
        ));
        for raw in [
            &b"\xff\xfe\x00garbage"[..],
            b"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nunterminated",
            b"From: \n\n",
            b">>>>\n>\n",
        ] {
            let _ = analyze(raw, &Rules::builtin()).unwrap();
        }
    }

    #[test]
    fn huge_attachment_stays_fast() {
        let mut raw = b"From: e@example.org\r\nSubject: Re: x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nJa, gerne.\r\n--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
        let line =
            b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
        while raw.len() < 20 << 20 {
            raw.extend_from_slice(line);
        }
        raw.extend_from_slice(b"--B--\r\n");
        let rules = Rules::builtin();
        let t = std::time::Instant::now();
        let a = analyze(&raw, &rules).unwrap();
        assert_eq!(a.intent, Intent::Accept);
        // Not a speed measurement (that is bench/): a guard against work quadratic in the
        // attachment, which would take hours; a loaded machine's debug build must pass.
        assert!(t.elapsed().as_secs() < 120, "took {:?}", t.elapsed());
    }

    #[test]
    fn explain_json_has_exactly_the_documented_keys() {
        let v = explain_json("x.eml", &reply("Ja"));
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "also_question",
                "bounces",
                "confidence",
                "file",
                "intent",
                "kind",
                "language",
                "languages",
                "not_before",
                "party_size",
                "text"
            ]
        );
        assert_eq!(v["kind"], "reply");
        assert_eq!(v["intent"], "accept");
    }

    #[test]
    fn rules_errors_name_file_and_line() {
        let bad = "[settings]\nnone_confidence = 0.5\n\n[[rule]]\nid = \"x\"\nintent = \"accept\"\nconfidence = 0.9\npatterns = ['(unclosed']\n";
        let err = Rules::from_toml_str(bad, "my.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("my.toml:8:"), "{err}");
        let err = Rules::from_toml_str("[[rule]]\nid = 3\n", "my.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("my.toml:2:"), "{err}");
    }
}
