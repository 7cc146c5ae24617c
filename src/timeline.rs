//! The contact's timeline as a person reads it. Entries are stored as their kind and structured
//! detail (`store::activities`); here each is described when it is shown, in the reader's
//! language: German or English, as the admin pages (the web: the request's language; the command
//! line: the configured one). Rows of earlier versions stored their prose in `summary`: where
//! their detail lacks what a description needs, that prose is shown instead.

use crate::domain::{ConsentStatus, Lang, RelationForm, RelationStatus};
use crate::store::activities::{Activity, ActivityKind};
use serde_json::Value;

/// Puts each entry's description in `lang` into its `summary` (the stored prose, or else the
/// kind, when the entry cannot be described).
pub fn render(entries: &mut [Activity], lang: Lang) {
    for a in entries {
        match describe_row(a, lang) {
            Some(text) => a.summary = text,
            None if a.summary.is_empty() => a.summary = a.kind.clone(),
            None => {}
        }
    }
}

fn describe_row(a: &Activity, lang: Lang) -> Option<String> {
    let kind = a.kind.parse().ok()?;
    let detail = serde_json::from_str(&a.detail).ok()?;
    describe(kind, &detail, a.campaign.as_deref(), lang)
}

/// One entry in `lang`: its kind, its detail and the name of its campaign (if any). None when
/// the detail lacks what the description needs.
pub fn describe(
    kind: ActivityKind,
    detail: &Value,
    campaign: Option<&str>,
    lang: Lang,
) -> Option<String> {
    let german = lang.admin() == Lang::De;
    let pick = |de: String, en: String| if german { de } else { en };
    let text = |key: &str| detail.get(key).and_then(Value::as_str);
    // A bounce report's status code; "?" when the report gave none.
    let status = || text("status").unwrap_or("?");
    use ActivityKind as K;
    Some(match kind {
        K::Import => {
            let source = text("source")?;
            match detail.get("updated")?.as_bool()? {
                true => pick(
                    format!("aktualisiert aus {source}"),
                    format!("updated from {source}"),
                ),
                false => pick(
                    format!("importiert aus {source}"),
                    format!("imported from {source}"),
                ),
            }
        }
        K::Updated => {
            let by = text("by")?;
            pick(format!("geändert von {by}"), format!("updated by {by}"))
        }
        K::Consent => {
            let (de, en) = match text("status")?.parse::<ConsentStatus>().ok()? {
                ConsentStatus::Pending => ("Einwilligung angefragt", "consent asked for"),
                ConsentStatus::Confirmed => ("Einwilligung bestätigt", "consent confirmed"),
                ConsentStatus::Unsubscribed => ("Einwilligung zurückgezogen", "consent withdrawn"),
            };
            match text("notice_version") {
                Some(v) => pick(
                    format!("{de} (Datenschutzhinweise {v})"),
                    format!("{en} (privacy notice {v})"),
                ),
                None => pick(de.into(), en.into()),
            }
        }
        K::Confirmation => pick("Bestätigungsmail".into(), "confirmation mail".into()),
        K::RenewalAsked => pick(
            "gefragt, ob weiter Nachrichten gewünscht sind".into(),
            "asked whether to keep receiving news".into(),
        ),
        K::Preferences => {
            let language = text("language")?;
            pick(
                format!("Sprache: {language}"),
                format!("language: {language}"),
            )
        }
        K::Relation => {
            let form = text("form")?.parse::<RelationForm>().ok()?;
            let status = text("status")?.parse::<RelationStatus>().ok()?;
            let by_waiting_list = text("cause_ref") == Some(crate::activation::WAITING_LIST);
            // Recorded by a person (a coordinator, a helper at the door): who.
            let by = match (text("cause"), text("cause_ref")) {
                (Some("person"), Some(who)) if !by_waiting_list => {
                    pick(format!(" (von {who})"), format!(" (by {who})"))
                }
                _ => String::new(),
            };
            let what = match (form, status) {
                (RelationForm::Encounter, RelationStatus::Confirmed) if by_waiting_list => pick(
                    "von der Warteliste nachgerückt: kommt".into(),
                    "moved up from the waiting list: coming".into(),
                ),
                (RelationForm::Encounter, RelationStatus::Confirmed) => {
                    pick("kommt zur Begegnung".into(), "coming".into())
                }
                (RelationForm::Encounter, RelationStatus::Waiting) => pick(
                    "möchte kommen, steht auf der Warteliste".into(),
                    "wants to come, on the waiting list".into(),
                ),
                (RelationForm::Encounter, RelationStatus::Declined) => {
                    pick("sagt ab".into(), "declined".into())
                }
                (RelationForm::Cooperation, RelationStatus::Interested) => pick(
                    "Interesse an Kooperation".into(),
                    "cooperation interest".into(),
                ),
                (RelationForm::Cooperation, RelationStatus::Confirmed) => {
                    pick("Kooperation begonnen".into(), "cooperation started".into())
                }
                (RelationForm::Cooperation, RelationStatus::Ended) => {
                    pick("Kooperation beendet".into(), "cooperation ended".into())
                }
                (RelationForm::Group, RelationStatus::Confirmed) => match text("group") {
                    Some(g) => pick(format!("in der Gruppe {g}"), format!("member of group {g}")),
                    None => pick("in einer Gruppe".into(), "member of a group".into()),
                },
                (RelationForm::Group, RelationStatus::Ended) => match text("group") {
                    Some(g) => pick(
                        format!("nicht mehr in der Gruppe {g}"),
                        format!("left group {g}"),
                    ),
                    None => pick("nicht mehr in der Gruppe".into(), "left the group".into()),
                },
                _ => pick(
                    format!("Beziehung geändert: {form} {status}"),
                    format!("relation changed: {form} {status}"),
                ),
            };
            what + &by
        }
        K::Sent => {
            let campaign = campaign?;
            pick(format!("gesendet: {campaign}"), format!("sent: {campaign}"))
        }
        K::Bounced => pick(
            "Zustellung abgelehnt (Adresse gesperrt)".into(),
            "bounced (address suppressed)".into(),
        ),
        K::Failed => pick("Zustellung fehlgeschlagen".into(), "delivery failed".into()),
        K::Skipped => pick("nicht gesendet".into(), "not sent".into()),
        K::Reply => {
            let words = text("snippet")?;
            pick(format!("Antwort: {words}"), format!("reply: {words}"))
        }
        K::OrganisationMail => {
            let words = text("snippet")?;
            pick(
                format!("Mail der Organisation, nicht angewandt: {words}"),
                format!("mail from the organisation, not applied: {words}"),
            )
        }
        K::AutoReply => {
            let subject = text("subject")?;
            pick(
                format!("Abwesenheitsnotiz: {subject}"),
                format!("auto-reply: {subject}"),
            )
        }
        K::Bounce => pick("Unzustellbarkeitsmeldung".into(), "bounce report".into()),
        K::Complaint => pick("Beschwerde".into(), "complaint".into()),
        K::HardBounce => pick(
            format!("Adresse unzustellbar, gesperrt ({})", status()),
            format!("address bounced, suppressed ({})", status()),
        ),
        K::SoftBounce => pick(
            format!("vorübergehend unzustellbar ({})", status()),
            format!("soft bounce ({})", status()),
        ),
        K::OccasionChanged => {
            let title = text("title")?;
            pick(
                format!("Begegnung geändert: {title}"),
                format!("occasion changed: {title}"),
            )
        }
        K::OccasionCancelled => {
            let title = text("title")?;
            pick(
                format!("Begegnung abgesagt: {title}"),
                format!("occasion cancelled: {title}"),
            )
        }
        K::Answer => {
            let words = text("snippet")?;
            let by = text("by").unwrap_or_default();
            pick(
                format!("beantwortet von {by}: {words}"),
                format!("answered by {by}: {words}"),
            )
        }
        K::Attendance => match text("attendance")? {
            "came" => pick("war da".into(), "came".into()),
            _ => pick("war nicht da".into(), "did not come".into()),
        },
        K::PollAnswer => {
            let title = text("title")?;
            let suits: Vec<String> = detail
                .get("suits")?
                .as_array()?
                .iter()
                .filter_map(Value::as_i64)
                .map(|n| n.to_string())
                .collect();
            if suits.is_empty() {
                pick(
                    format!("Terminumfrage {title}: kein Termin passt"),
                    format!("date poll {title}: no date suits"),
                )
            } else {
                let list = suits.join(", ");
                pick(
                    format!("Terminumfrage {title}: passt {list}"),
                    format!("date poll {title}: suits {list}"),
                )
            }
        }
        K::DatePicked => {
            let title = text("title")?;
            let n = detail.get("date")?.as_i64()?;
            pick(
                format!("Termin von {title} steht fest: Nr. {n}"),
                format!("date of {title} picked: no. {n}"),
            )
        }
        K::Note => {
            let (note, by) = (text("text")?, text("by")?);
            pick(
                format!("Notiz von {by}: {note}"),
                format!("note by {by}: {note}"),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(kind: &str, summary: &str, detail: Value, campaign: Option<&str>) -> Activity {
        Activity {
            id: 1,
            at: chrono::Utc::now(),
            kind: kind.into(),
            summary: summary.into(),
            detail: detail.to_string(),
            campaign_id: None,
            campaign: campaign.map(str::to_string),
            inbound_id: None,
        }
    }

    fn read(mut a: Activity, lang: Lang) -> String {
        render(std::slice::from_mut(&mut a), lang);
        a.summary
    }

    #[test]
    fn the_same_entry_reads_in_german_and_in_english() {
        let consent = row(
            "consent",
            "",
            json!({"topic_id": 3, "status": "unsubscribed"}),
            None,
        );
        assert_eq!(
            read(consent.clone(), Lang::De),
            "Einwilligung zurückgezogen"
        );
        assert_eq!(read(consent.clone(), Lang::En), "consent withdrawn");
        // The admin languages: other readers get English.
        assert_eq!(read(consent, Lang::Tr), "consent withdrawn");
        let sent = row("sent", "", json!({"delivery_id": 9}), Some("maerz"));
        assert_eq!(read(sent.clone(), Lang::De), "gesendet: maerz");
        assert_eq!(read(sent, Lang::En), "sent: maerz");
        let reply = row("reply", "", json!({"snippet": "Ja, gerne."}), None);
        assert_eq!(read(reply.clone(), Lang::De), "Antwort: Ja, gerne.");
        assert_eq!(read(reply, Lang::En), "reply: Ja, gerne.");
    }

    #[test]
    fn an_earlier_row_keeps_its_stored_prose_where_its_detail_cannot_say_more() {
        // Earlier versions kept the reply's words only in the prose.
        let old = row(
            "reply",
            "Antwort / reply: Ja",
            json!({"inbound_id": 4}),
            None,
        );
        assert_eq!(read(old, Lang::En), "Antwort / reply: Ja");
        let unknown = row("gone", "früher / before", json!({}), None);
        assert_eq!(read(unknown, Lang::De), "früher / before");
        let bare = row("gone", "", json!({}), None);
        assert_eq!(read(bare, Lang::De), "gone");
        // What the detail does say is described anew.
        let old_consent = row(
            "consent",
            "Einwilligung / consent: confirmed",
            json!({"status": "confirmed"}),
            None,
        );
        assert_eq!(read(old_consent, Lang::En), "consent confirmed");
    }

    #[test]
    fn every_kind_written_is_described_in_both_languages() {
        let detail = json!({
            "source": "liste", "updated": false, "by": "admin", "status": "confirmed",
            "language": "tr", "form": "encounter", "snippet": "Ja", "subject": "Urlaub",
            "title": "Café", "attendance": "came", "text": "Ruft zurück",
            "suits": [1, 3], "date": 2,
        });
        for &kind in ActivityKind::ALL {
            let de = describe(kind, &detail, Some("maerz"), Lang::De);
            let en = describe(kind, &detail, Some("maerz"), Lang::En);
            assert!(de.is_some() && en.is_some(), "{kind}");
            assert_ne!(de, en, "{kind}");
        }
    }
}
