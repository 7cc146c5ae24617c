//! The OpenAPI description of the JSON API, served at /api/openapi.json.

use serde_json::{json, Value};

/// The OpenAPI 3.1 description of this API.
pub fn openapi_doc(public_url: &str) -> Value {
    let err = json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let any = json!({"description": "ok", "content": {"application/json": {"schema": {}}}});
    let path_param = |name: &str, ty: &str| json!({"name": name, "in": "path", "required": true, "schema": {"type": ty}});
    let op = |summary: &str, params: Vec<Value>, body: Option<&str>| {
        let mut o = json!({
            "summary": summary,
            "parameters": params,
            "responses": {"200": any, "401": err, "404": err, "409": err, "422": err},
        });
        if let Some(schema) = body {
            o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
        }
        o
    };
    let ladder = json!({"type": "object", "description": "a step of the activation ladder: {\"step\": \"said_yes\" | \"came\" | \"no_show\", \"occasion\": ID}, {\"step\": \"regular\", \"topic\": ID, \"min\": N, \"months\": M} (came to at least N occasions of the topic in M months, no cooperation), {\"step\": \"declined\", \"last\": K} (declined each of the last K invitations)",
        "required": ["step"], "properties": {"step": {"enum": ["said_yes", "came", "no_show", "regular", "declined"]},
        "occasion": {"type": "integer"}, "topic": {"type": "integer"}, "min": {"type": "integer"}, "months": {"type": "integer"}, "last": {"type": "integer"}}});
    let q = |name: &str, ty: &str| json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}});
    // An operation whose 200 answer has this schema.
    let returning = |mut o: Value, schema: Value| {
        o["responses"]["200"] =
            json!({"description": "ok", "content": {"application/json": {"schema": schema}}});
        o
    };
    let int = json!({"type": "integer"});
    let text = json!({"type": ["string", "null"]});
    let stages = |extra: &[&str]| {
        let mut props = serde_json::Map::new();
        for k in [
            "invited",
            "replied",
            "encounter",
            "came",
            "cooperation",
            "unsubscribed",
        ]
        .iter()
        .chain(extra)
        {
            props.insert(k.to_string(), int.clone());
        }
        props
    };
    let mut topic_funnel = stages(&["id", "confirmed", "silent"]);
    topic_funnel.insert("slug".into(), json!({"type": "string"}));
    topic_funnel.insert("title".into(), json!({"type": "string"}));
    let mut campaign_funnel = stages(&["id", "audience", "declined", "review"]);
    campaign_funnel.insert("name".into(), json!({"type": "string"}));
    campaign_funnel.insert(
        "kind".into(),
        json!({"enum": ["newsletter", "invitation", "cooperation"]}),
    );
    campaign_funnel.insert("status".into(), json!({"type": "string"}));
    campaign_funnel.insert("topic".into(), text.clone());
    let review_item = json!({"type": "object", "description": "a reply waiting for (or given) a person's decision", "properties": {
                    "id": int, "inbound_id": int,
                    "action": {"type": "string", "description": "what netzpost proposes (encounter, decline, cooperation, question, unsubscribe, note, ...)"},
                    "status": {"enum": ["pending", "applied", "rejected", "undone", "noted"]},
                    "confidence": {"type": ["number", "null"]}, "reason": {"type": "string", "description": "the technical reason behind the proposal"},
                    "contact": text, "contact_id": {"type": ["integer", "null"]}, "contact_name": text,
                    "campaign": text, "from_addr": text, "subject": text,
                    "text": {"type": ["string", "null"], "description": "the reply's visible text, without quotes"},
                    "created_at": {"type": "string", "format": "date-time"}}});
    let review_get = returning(
        op(
            "The review queue: open items first (pending; all=true adds recent decisions)",
            vec![q("all", "boolean"), q("limit", "integer")],
            None,
        ),
        json!({"type": "array", "items": {"$ref": "#/components/schemas/ReviewItem"}}),
    );
    let funnel_get = returning(op("Activation funnel per topic and campaign: people, not messages; days=N counts the topics' stages over the last N days (campaigns whole), else since the first message sent",
                vec![json!({"name": "days", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 36500}})], None),
                json!({"$ref": "#/components/schemas/Funnel"}));
    let funnel = json!({"type": "object", "properties": {
                    "window": {"type": "object", "properties": {"since": {"type": ["string", "null"], "format": "date-time"}, "until": {"type": "string", "format": "date-time"}}},
                    "topics": {"type": "array", "items": {"type": "object", "properties": topic_funnel}},
                    "campaigns": {"type": "array", "items": {"type": "object", "properties": campaign_funnel}}}});
    let paths = json!({
        "/contacts": {
            "get": op("List contacts", vec![q("silent", "boolean"), q("topic", "string"), q("form", "string"), q("limit", "integer"), q("offset", "integer")], None),
            "post": op("Create or update a contact", vec![], Some("NewContact")),
        },
        "/contacts/{email}": {
            "get": op("A contact with consent, relations and timeline", vec![path_param("email", "string")], None),
            "patch": op("Change name, organisation, language and consent per topic", vec![path_param("email", "string")], Some("ContactUpdate")),
            "delete": op("Forget a contact (erasure; only a hash stays)", vec![path_param("email", "string")], None),
        },
        "/contacts/{email}/export": {
            "get": op("Everything kept about one person (GDPR Art. 15/20), as their \"Meine Daten\" page shows it", vec![path_param("email", "string")], None),
        },
        "/contacts/import": {"post": {
            "summary": "Import contacts from a CSV body (text/csv), as `netzpost contacts import`",
            "parameters": [q("topic", "string"), q("consent", "string"), q("source", "string")],
            "requestBody": {"required": true, "content": {"text/csv": {"schema": {"type": "string"}}}},
            "responses": {"200": any, "401": err, "404": err, "415": err, "422": err},
        }},
        "/topics": {
            "get": op("Topics with consent counts", vec![], None),
            "post": op("Add a topic", vec![], Some("NewTopic")),
        },
        "/occasions": {"get": op("Occasions with RSVP counts", vec![], None)},
        "/occasions/{slug}": {
            "get": op("An occasion with its RSVP list", vec![path_param("slug", "string")], None),
            "patch": op("Change an occasion; a new time or place is mailed with a calendar update to every invited contact who has not declined", vec![path_param("slug", "string")], Some("OccasionEdit")),
        },
        "/occasions/{slug}/cancel": {"post": op("Cancel an occasion; every invited contact who has not declined gets the reason and a calendar cancellation", vec![path_param("slug", "string")], Some("OccasionCancel"))},
        "/occasions/{slug}/thank": {"post": op("Thank everyone recorded as having come, with a next step (group, cooperation, none) and a text of your own; the daemon sends it, once per person", vec![path_param("slug", "string")], Some("Thanks"))},
        "/occasions/{slug}/poll": {"get": op("The tally of an occasion's date poll: each candidate date with how many it suits (can) and does not (cannot)", vec![path_param("slug", "string")], None)},
        "/occasions/{slug}/pick": {"post": op("Pick a date of the poll: it becomes the occasion's date; the invited it suits get the calendar invitation, the others a short note", vec![path_param("slug", "string")], Some("Pick"))},
        "/occasions/{slug}/attendance": {"post": op("Record who came (came) and who did not (no_show), by e-mail address", vec![path_param("slug", "string")], Some("Attendance"))},
        "/campaigns": {
            "get": op("Campaigns with progress", vec![], None),
            "post": op("Create a campaign (templates are checked now)", vec![], Some("NewCampaign")),
        },
        "/campaigns/{name}": {"get": op("A campaign with its progress", vec![path_param("name", "string")], None)},
        "/campaigns/{name}/preview": {"get": {
            "summary": "The message one contact would get (message/rfc822)",
            "parameters": [path_param("name", "string"), json!({"name": "to", "in": "query", "required": true, "schema": {"type": "string"}})],
            "responses": {"200": {"description": "the message", "content": {"message/rfc822": {"schema": {"type": "string"}}}}, "401": err, "404": err},
        }},
        "/campaigns/{name}/{action}": {"post": op("send, pause, resume, cancel a campaign; test (?address=, ?language=) sends it once to an address; schedule (?at=RFC3339) sets a one-shot start",
            vec![path_param("name", "string"), json!({"name": "action", "in": "path", "required": true, "schema": {"enum": ["send", "pause", "resume", "cancel", "test", "schedule"]}}),
                 json!({"name": "address", "in": "query", "required": false, "schema": {"type": "string"}}),
                 json!({"name": "language", "in": "query", "required": false, "schema": {"type": "string"}}),
                 json!({"name": "at", "in": "query", "required": false, "schema": {"type": "string", "format": "date-time"}})], None)},
        "/review": {"get": review_get},
        "/review/{id}/{action}": {"post": op("accept, reject or undo a decision",
            vec![path_param("id", "integer"), json!({"name": "action", "in": "path", "required": true, "schema": {"enum": ["accept", "reject", "undo"]}})], None)},
        "/reports/funnel": {"get": funnel_get},
    });
    let schemas = json!({
        "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
        "ReviewItem": review_item,
        "Funnel": funnel,
        "NewContact": {"type": "object", "required": ["email"], "additionalProperties": false, "properties": {
            "email": {"type": "string"}, "name": {"type": "string"}, "organisation": {"type": "string"},
            "language": {"type": "string"}, "topics": {"type": "array", "items": {"type": "string"}},
            "consent": {"enum": ["pending", "confirmed"]}}},
        "ContactUpdate": {"type": "object", "additionalProperties": false, "properties": {
            "name": {"type": "string"}, "organisation": {"type": "string"}, "language": {"type": "string"},
            "consent": {"type": "object", "additionalProperties": {"enum": ["pending", "confirmed", "unsubscribed"]}}}},
        "OccasionEdit": {"type": "object", "additionalProperties": false, "properties": {
            "title": {"type": "string"}, "start": {"type": "string", "description": "RFC 3339, or local time in the configured zone"},
            "end": {"type": "string"}, "place": {"type": "string"}, "description": {"type": "string"},
            "capacity": {"type": "integer", "minimum": 1},
            "reminder_days": {"type": "integer", "minimum": 0, "description": "days before the start the reminder goes to those who said yes; 0 = none"},
            "follow_up_days": {"type": "integer", "minimum": 0, "description": "days after the invitation the one follow-up goes to those who did not answer; 0 = none"}}},
        "Thanks": {"type": "object", "additionalProperties": false, "properties": {
            "next": {"enum": ["group", "cooperation", "none"]}, "text": {"type": "string"}}},
        "Pick": {"type": "object", "required": ["date"], "additionalProperties": false, "properties": {
            "date": {"type": "integer", "minimum": 1, "maximum": 5}}},
        "OccasionCancel": {"type": "object", "additionalProperties": false, "properties": {
            "reason": {"type": "string"}}},
        "Attendance": {"type": "object", "additionalProperties": false, "properties": {
            "came": {"type": "array", "items": {"type": "string"}},
            "no_show": {"type": "array", "items": {"type": "string"}}}},
        "NewTopic": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
            "name": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"}}},
        "NewCampaign": {"type": "object", "required": ["name", "kind"], "additionalProperties": false, "properties": {
            "name": {"type": "string"}, "kind": {"enum": ["newsletter", "invitation", "cooperation"]},
            "topic": {"type": "string"}, "occasion": {"type": "string"}, "subject": {"type": "string"},
            "body": {"type": "string"},
            "translations": {"type": "object", "description": "the text in further languages, by code: {\"tr\": {\"subject\": \"...\", \"body\": \"...\"}}; missing ones fall back to subject and body",
                "additionalProperties": {"type": "object", "properties": {"subject": {"type": "string"}, "body": {"type": "string"}}}},
            "schedule": {"type": "string"}, "send_at": {"type": "string", "format": "date-time"},
            "audience": {"type": "object", "properties": {"silent": {"type": "boolean"}, "form": {"type": "string"},
                "language": {"type": "string"}, "inactive_days": {"type": "integer"},
                "ladder": ladder}}}},
    });
    json!({
        "openapi": "3.1.0",
        "info": {"title": "netzpost admin API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Contacts, topics, occasions, campaigns and the review queue. Authenticate with a bearer token from `netzpost tokens create NAME`."},
        "servers": [{"url": format!("{}/api", public_url.trim_end_matches('/'))}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
    })
}
