//! The mail context as template values: the caller's JSON and the renderer's own variables, and
//! a sample with every variable for validation.

use super::MailKind;
use minijinja::value::{Enumerator, Object, Value};
use std::sync::Arc;

/// A context with every variable a template of `kind` may use, for [`Renderer::validate`].
pub fn sample_context(kind: MailKind) -> serde_json::Value {
    let mut ctx = serde_json::json!({
        "contact": {
            "email": "erika.mustermann@example.org",
            "name": "Erika Mustermann",
            "organisation": "Nachbarschaftsverein Nord e.V.",
            "language": "de",
        },
        "organisation": {
            "name": "Netzwerk Sozialraum Nord",
            "address": "Hauptstraße 1, 12345 Musterstadt",
        },
        "topic": { "name": "wohnen", "title": "Wohnen im Quartier" },
        "links": {
            "unsubscribe": "https://netz.example.org/u/sample",
            "preferences": "https://netz.example.org/p/sample",
            "rsvp_yes": "https://netz.example.org/r/sample-yes",
            "rsvp_no": "https://netz.example.org/r/sample-no",
            "rsvp_cooperation": "https://netz.example.org/r/sample-coop",
            "confirm": "https://netz.example.org/c/sample",
        },
    });
    let obj = ctx.as_object_mut().expect("object literal");
    if matches!(
        kind,
        MailKind::Invitation
            | MailKind::RsvpAck
            | MailKind::OccasionChange
            | MailKind::Reminder
            | MailKind::FollowUp
            | MailKind::Thanks
            | MailKind::PollInvitation
            | MailKind::PollPicked
    ) {
        obj.insert(
            "occasion".into(),
            serde_json::json!({
                "title": "Stadtteilrunde Frühjahr",
                "starts_at": "2026-03-12T17:30:00Z",
                "ends_at": "2026-03-12T19:30:00Z",
                "place": "Bürgerhaus Nord, Raum 2",
                "description": "Wir sammeln Ideen.\n\nFür Getränke ist gesorgt.",
            }),
        );
    }
    if kind == MailKind::Renewal {
        obj.insert(
            "renewal".into(),
            serde_json::json!({ "until": "2026-04-11T22:00:00Z" }),
        );
    }
    if kind == MailKind::RsvpAck {
        obj.insert("rsvp".into(), serde_json::json!({ "answer": "yes" }));
    }
    if kind == MailKind::OccasionChange {
        obj.insert(
            "change".into(),
            serde_json::json!({ "cancelled": false, "reason": null, "time": true, "place": false }),
        );
    }
    if kind == MailKind::PollInvitation {
        obj["occasion"]["poll"] = serde_json::json!([
            {"n": 1, "starts_at": "2026-03-12T17:30:00Z", "ends_at": "2026-03-12T19:30:00Z"},
            {"n": 2, "starts_at": "2026-03-19T17:30:00Z", "ends_at": null},
        ]);
        obj["links"]["rsvp_poll"] = "https://netz.example.org/r/sample-poll".into();
    }
    if kind == MailKind::PollPicked {
        obj.insert(
            "poll".into(),
            serde_json::json!({ "can": true, "answered": true }),
        );
    }
    if kind == MailKind::Thanks {
        obj.insert("next".into(), serde_json::json!({ "step": "cooperation" }));
    }
    if kind == MailKind::NotifyCooperation {
        obj.insert(
            "reply".into(),
            serde_json::json!({
                "text": "3\n\nWir würden gern mitmachen.",
                "received_at": "2026-03-05T09:12:00Z",
            }),
        );
    }
    ctx
}

/// A JSON object as a template map: a short list searched linearly, which for the handful of
/// keys in a mail context is cheaper to build and to query than a sorted map.
#[derive(Debug)]
pub(super) struct Fields(pub(super) Vec<(String, Value)>);

impl Object for Fields {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.0
                .iter()
                .map(|(k, _)| Value::from(k.as_str()))
                .collect(),
        )
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.0.len())
    }
}

/// The caller's context plus the renderer's variables, which take precedence.
#[derive(Debug)]
pub(super) struct Stage {
    pub(super) extra: Vec<(&'static str, Value)>,
    pub(super) base: Arc<Fields>,
}

impl Object for Stage {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        match self.extra.iter().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(v.clone()),
            None => self.base.get_value_by_str(key),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let extra = self.extra.iter().map(|(k, _)| Value::from(*k));
        let base = self
            .base
            .0
            .iter()
            .filter(|(k, _)| !self.extra.iter().any(|(e, _)| e == k))
            .map(|(k, _)| Value::from(k.as_str()));
        Enumerator::Values(extra.chain(base).collect())
    }
}

/// serde_json to minijinja directly: several times faster than going through `Serde`, which
/// matters at thousands of renders per second.
pub(super) fn json_to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => Value::from(a.iter().map(json_to_value).collect::<Vec<_>>()),
        serde_json::Value::Object(o) => Value::from_object(Fields(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        )),
    }
}
