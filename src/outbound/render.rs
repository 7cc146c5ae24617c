//! Mail rendering with minijinja.
//!
//! # Templates
//! `templates/mail/<kind>.<lang>.{subject,txt,html}.j2` plus the shared `mail/layout.html.j2` are
//! compiled into the binary; a file of the same relative name under the user folder
//! (`<user_dir>/mail/...`) replaces the built-in one, and user files may add languages. Kinds:
//! see [`MailKind`]. A campaign brings its own `subject` and `body` sources; an empty subject
//! falls back to `<kind>.<lang>.subject.j2`, an empty body renders as no content (system mails).
//! The body is plain text: the text template prints it as `content`, the HTML template gets it
//! escaped with blank-line-separated paragraphs as `<p>` (filter `paragraphs`).
//!
//! # Context
//! The caller passes a JSON object; missing values are errors (strict undefined), so a misspelt
//! variable fails in [`Renderer::validate`] at campaign creation, not mid-send. Optional parts are
//! tested with `is defined` in templates.
//!
//! ```text
//! contact      {email, name, organisation, language,           always (the form of address may
//!               salutation, gender, title, first_name,         be null or missing; see
//!               last_name}                                     `greeting`)
//! organisation {name, address}                                  always (the sender)
//! links        {unsubscribe, preferences, rsvp_yes, rsvp_no,    the ones the kind's templates use:
//!               rsvp_cooperation, confirm}                      newsletter: unsubscribe, preferences;
//!                                                               cooperation: + rsvp_cooperation;
//!                                                               invitation: + rsvp_yes, rsvp_no;
//!                                                               confirm: confirm; rsvp_ack:
//!                                                               rsvp_yes, rsvp_no, preferences;
//!                                                               unsubscribed: preferences
//! topic        {name, title}                                    newsletter, cooperation, confirm,
//!                                                               invitation (optional elsewhere)
//! occasion     {title, starts_at, ends_at, place, description}  invitation, rsvp_ack
//!              (times as RFC 3339 strings or unix seconds; ends_at, place, description may be null)
//! rsvp         {answer: "yes" | "no" | "cooperation"}           rsvp_ack
//! reply        {text, received_at}                              notify_cooperation
//! ```
//! A top-level key set to `null` is treated as absent.
//! Added by the renderer: `lang` (the language actually used), `dir` (`rtl` for Arabic, else
//! `ltr`), `greeting` (the greeting line by the contact's form of address in `lang`, see
//! [`super::greeting`]), `content` (the rendered body) and, in kind templates, `subject`.
//!
//! # Languages
//! Built in: de, en, tr, ar, uk, ru, pl for every kind to contacts; the organiser's notices
//! ([`MailKind::to_organiser`]) in de and en. Every mail to a contact starts with `greeting`.
//!
//! Filters: `date`, `time`, `datetime` (format an RFC 3339 string or unix seconds in the
//! configured zone, default Europe/Berlin, in `lang` or the language given as argument),
//! `start|timespan(end)` (start and optional end, the day written once when both fall on it) and
//! `paragraphs` (escape plain text into `<p>` elements).

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use minijinja::value::{Enumerator, Object, Value};
use minijinja::{Environment, ErrorKind, State, UndefinedBehavior};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::greeting::{greeting, Addressee};
use crate::domain::Language;

crate::domain::text_enum!(
    /// What a mail is for; each kind has its own templates.
    #[derive(PartialOrd, Ord)]
    pub MailKind {
        /// Topic newsletter.
        Newsletter => "newsletter",
        /// Invitation to an occasion (encounter), answerable with 1/2/3 or links.
        Invitation => "invitation",
        /// Call for cooperation on a topic.
        Cooperation => "cooperation",
        /// Double opt-in confirmation.
        Confirm => "confirm",
        /// Acknowledgement of an RSVP.
        RsvpAck => "rsvp_ack",
        /// Confirmation of an unsubscribe.
        Unsubscribed => "unsubscribed",
        /// To the organiser: a contact is interested in cooperation.
        NotifyCooperation => "notify_cooperation",
    }
);

impl MailKind {
    /// Mails to the organisation's own people, not to contacts: they need not exist in every
    /// language and fall back to the default language, then German.
    pub fn to_organiser(self) -> bool {
        self == MailKind::NotifyCooperation
    }
}

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line; line breaks from templates are folded into spaces.
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A template that failed to load, compile or render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{template}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct TemplateError {
    /// File name (`mail/invitation.de.txt.j2`) or `campaign subject` / `campaign body`.
    pub template: String,
    pub line: Option<usize>,
    pub message: String,
}

/// Work one render may do, in minijinja fuel: about one unit per instruction, and one per 64
/// bytes of memory the template allocates. A mail with the built-in templates uses a few
/// thousand; a nested loop runs out within a fraction of a second instead of taking the
/// process's CPU and memory.
pub const RENDER_FUEL: u64 = 500_000;
/// Longest text one template may produce.
pub const MAX_RENDER_BYTES: usize = 2 << 20;

impl TemplateError {
    fn new(template: &str, e: &minijinja::Error) -> TemplateError {
        let mut message = match e.detail() {
            _ if e.kind() == ErrorKind::OutOfFuel => format!(
                "too much work: rendering stopped after {RENDER_FUEL} steps (a loop over too \
                 many items, or too much text built up?)"
            ),
            _ if e.kind() == ErrorKind::WriteFailure => format!(
                "too long: the rendered text passed {} MiB",
                MAX_RENDER_BYTES >> 20
            ),
            Some(d) => format!("{}: {d}", e.kind()),
            None => e.kind().to_string(),
        };
        let bounded = matches!(e.kind(), ErrorKind::OutOfFuel | ErrorKind::WriteFailure);
        let mut source = std::error::Error::source(e).filter(|_| !bounded);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        // Cached campaign templates are named `campaign body#<hash>`.
        let name = e.name().unwrap_or(template);
        let name = name.split_once('#').map_or(name, |(n, _)| n);
        TemplateError {
            template: name.to_string(),
            line: e.line(),
            message,
        }
    }
}

const SUBJECT_TEMPLATE: &str = "campaign subject";
const BODY_TEMPLATE: &str = "campaign body";

/// Languages every built-in kind to contacts has; `validate` trial-renders in these. The
/// organiser's notices ([`MailKind::to_organiser`]) are German and English only.
pub const BUILTIN_LANGUAGES: [&str; 7] = crate::domain::SUPPORTED_LANGUAGES;

/// Renders mails. Compiled templates are cached in the environment (campaign sources too, keyed
/// by a hash of their text), so rendering a campaign for many contacts compiles it once.
pub struct Renderer {
    env: Environment<'static>,
    /// Campaign sources seen so far, by cache name; read by the loader.
    campaign_sources: Arc<RwLock<HashMap<String, Arc<str>>>>,
    /// (kind, lang) pairs that have a text template.
    available: HashSet<(MailKind, String)>,
    default_lang: String,
}

impl fmt::Debug for Renderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renderer")
            .field("default_lang", &self.default_lang)
            .field("languages", &self.languages())
            .finish_non_exhaustive()
    }
}

impl Renderer {
    /// Built-in templates, overridden by files under `user_dir` (`<user_dir>/mail/...`). All
    /// templates are compiled now, so a broken override fails at start-up.
    pub fn new(user_dir: Option<&Path>) -> Result<Renderer, TemplateError> {
        let campaign_sources: Arc<RwLock<HashMap<String, Arc<str>>>> = Arc::default();
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(RENDER_FUEL));
        env.set_syntax(crate::templates::syntax());
        // Campaign sources are plain text (subject and body); only kind templates decide escaping.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html.j2") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        // minijinja's HTML escaping also turns `/` into `&#x2f;`, which makes every URL in an
        // href unreadable in the mail source and to link checkers; `/` needs no escaping.
        env.set_formatter(|out, state, value| {
            if *state.auto_escape() == minijinja::AutoEscape::Html && !value.is_safe() {
                match value.as_str() {
                    Some(s) => escape_html(s, out),
                    None => escape_html(&value.to_string(), out),
                }
                .map_err(minijinja::Error::from)
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        let user_dir: Option<PathBuf> = user_dir.map(Path::to_path_buf);
        let loader_dir = user_dir.clone();
        let sources = Arc::clone(&campaign_sources);
        env.set_loader(move |name| {
            if name.starts_with("campaign ") {
                let map = sources.read().unwrap_or_else(|e| e.into_inner());
                return Ok(map.get(name).map(|s| s.to_string()));
            }
            // A user file of that name, else the built-in; names cannot leave the folder.
            crate::templates::source(loader_dir.as_deref(), name)
                .map_err(|e| minijinja::Error::new(ErrorKind::TemplateNotFound, e))
        });
        register_filters(&mut env, chrono_tz::Europe::Berlin);

        // Which (kind, lang) pairs exist: built-ins plus user files.
        let mut names: BTreeSet<String> = crate::templates::builtin_names("mail/")
            .map(str::to_string)
            .collect();
        if let Some(dir) = &user_dir {
            let mail = dir.join("mail");
            if let Ok(entries) = std::fs::read_dir(&mail) {
                for entry in entries.flatten() {
                    if let Some(file) = entry.file_name().to_str() {
                        names.insert(format!("mail/{file}"));
                    }
                }
            }
        }
        let mut available = HashSet::new();
        for name in &names {
            let Some(rest) = name
                .strip_prefix("mail/")
                .and_then(|r| r.strip_suffix(".txt.j2"))
            else {
                continue;
            };
            let Some((kind, lang)) = rest.split_once('.') else {
                continue;
            };
            // Exactly as spelled: the template is loaded under that name.
            let kind = kind.parse::<MailKind>().ok().filter(|k| k.as_str() == kind);
            if let (Some(kind), true) = (kind, valid_lang(lang)) {
                available.insert((kind, lang.to_string()));
            }
        }
        // Compile everything that exists now, so errors surface at start-up.
        for name in &names {
            if name.ends_with(".j2") {
                env.get_template(name)
                    .map_err(|e| TemplateError::new(name, &e))?;
            }
        }
        let renderer = Renderer {
            env,
            campaign_sources,
            available,
            default_lang: "de".to_string(),
        };
        for (kind, lang) in &renderer.available {
            for part in ["subject", "html"] {
                let name = format!("mail/{kind}.{lang}.{part}.j2");
                if renderer.env.get_template(&name).is_err() {
                    return Err(TemplateError {
                        template: name,
                        line: None,
                        message: format!("missing (mail/{kind}.{lang}.txt.j2 exists)"),
                    });
                }
            }
        }
        Ok(renderer)
    }

    /// Language used when a contact's language has no template (default `de`).
    pub fn with_default_lang(mut self, lang: &str) -> Result<Renderer, TemplateError> {
        let lang = normalize_lang(lang);
        if let Some(kind) = MailKind::ALL
            .iter()
            .copied()
            .find(|k| !k.to_organiser() && !self.available.contains(&(*k, lang.clone())))
        {
            return Err(TemplateError {
                template: format!("mail/{kind}.{lang}.txt.j2"),
                line: None,
                message: format!("default language '{lang}' has no template for {kind}"),
            });
        }
        self.default_lang = lang;
        Ok(self)
    }

    /// Zone for the date filters (default Europe/Berlin).
    pub fn with_timezone(mut self, tz: Tz) -> Renderer {
        register_filters(&mut self.env, tz);
        self
    }

    pub fn default_lang(&self) -> &str {
        &self.default_lang
    }

    /// Languages that have templates for every kind a contact can get.
    pub fn languages(&self) -> Vec<String> {
        let mut langs: Vec<String> = self
            .available
            .iter()
            .map(|(_, l)| l.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|l| {
                MailKind::ALL
                    .iter()
                    .all(|k| k.to_organiser() || self.available.contains(&(*k, l.clone())))
            })
            .collect();
        langs.dedup();
        langs
    }

    /// The language actually used for `kind` when the contact asks for `lang`.
    pub fn resolve_lang(&self, kind: MailKind, lang: &str) -> String {
        let lang = normalize_lang(lang);
        if self.available.contains(&(kind, lang.clone())) {
            lang
        } else if kind.to_organiser()
            && !self.available.contains(&(kind, self.default_lang.clone()))
        {
            "de".to_string()
        } else {
            self.default_lang.clone()
        }
    }

    pub fn render(
        &self,
        kind: MailKind,
        lang: &str,
        subject_src: &str,
        body_src: &str,
        ctx: &serde_json::Value,
    ) -> Result<Rendered, TemplateError> {
        let lang = self.resolve_lang(kind, lang);
        // A top-level `null` counts as absent, so `{% if occasion is defined %}` works whether
        // the caller leaves the key out or sets it to null. One flat map per stage (rather than
        // merged maps) keeps variable lookups cheap; the renderer's keys are inserted last, so
        // the context cannot shadow `lang` or `content`.
        let base = Arc::new(Fields(match ctx.as_object() {
            Some(map) => map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
            None => Vec::new(),
        }));
        let stage = |extra: Vec<(&'static str, Value)>| {
            Value::from_object(Stage {
                extra,
                base: Arc::clone(&base),
            })
        };
        let lang_v = Value::from(lang.as_str());
        let addressee =
            Addressee::from_contact(ctx.get("contact").unwrap_or(&serde_json::Value::Null));
        let greeting = greeting(&lang, &addressee)
            .or_else(|| greeting(&self.default_lang, &addressee))
            .unwrap_or_default();
        let own = vec![
            ("lang", lang_v),
            (
                "dir",
                Value::from(if Language::is_rtl(&lang) {
                    "rtl"
                } else {
                    "ltr"
                }),
            ),
            ("greeting", Value::from(greeting)),
        ];
        let with = |more: Vec<(&'static str, Value)>| {
            let mut v = own.clone();
            v.extend(more);
            stage(v)
        };

        let content = if body_src.trim().is_empty() {
            String::new()
        } else {
            let ctx = with(vec![]);
            self.campaign_render(BODY_TEMPLATE, body_src, &ctx)?
        };
        let content_v = Value::from(content.as_str());
        let ctx = with(vec![("content", content_v.clone())]);
        let subject = if subject_src.trim().is_empty() {
            let name = format!("mail/{kind}.{lang}.subject.j2");
            self.named_render(&name, &ctx)?
        } else {
            self.campaign_render(SUBJECT_TEMPLATE, subject_src, &ctx)?
        };
        let subject = one_line(&subject);
        let subject_v = Value::from(subject.as_str());

        let ctx = with(vec![("subject", subject_v.clone()), ("content", content_v)]);
        let text = self.named_render(&format!("mail/{kind}.{lang}.txt.j2"), &ctx)?;
        let ctx = with(vec![
            ("subject", subject_v),
            (
                "content",
                Value::from_safe_string(paragraphs_html(&content)),
            ),
        ]);
        let html = self.named_render(&format!("mail/{kind}.{lang}.html.j2"), &ctx)?;
        Ok(Rendered {
            subject,
            text,
            html,
        })
    }

    /// Compiles `subject_src` and `body_src` and renders the whole mail with
    /// [`sample_context`] in every built-in language, so undefined variables, unknown filters and
    /// syntax errors are reported before anything is sent.
    pub fn validate(
        &self,
        kind: MailKind,
        subject_src: &str,
        body_src: &str,
    ) -> Result<(), TemplateError> {
        // Compile first: a syntax error is reported even if rendering would not reach it.
        for (what, src) in [(SUBJECT_TEMPLATE, subject_src), (BODY_TEMPLATE, body_src)] {
            self.env
                .template_from_named_str(what, src)
                .map_err(|e| TemplateError::new(what, &e))?;
        }
        let ctx = sample_context(kind);
        for lang in BUILTIN_LANGUAGES {
            self.render(kind, lang, subject_src, body_src, &ctx)?;
        }
        Ok(())
    }

    /// As [`Renderer::validate`], for a campaign's text in one language.
    pub fn validate_in(
        &self,
        kind: MailKind,
        lang: &str,
        subject_src: &str,
        body_src: &str,
    ) -> Result<(), TemplateError> {
        for (what, src) in [(SUBJECT_TEMPLATE, subject_src), (BODY_TEMPLATE, body_src)] {
            self.env
                .template_from_named_str(what, src)
                .map_err(|e| TemplateError::new(what, &e))?;
        }
        self.render(kind, lang, subject_src, body_src, &sample_context(kind))
            .map(|_| ())
    }

    fn named_render(&self, name: &str, ctx: &Value) -> Result<String, TemplateError> {
        let tmpl = self
            .env
            .get_template(name)
            .map_err(|e| TemplateError::new(name, &e))?;
        bounded_render(&tmpl, ctx).map_err(|e| TemplateError::new(name, &e))
    }

    fn campaign_render(
        &self,
        what: &'static str,
        src: &str,
        ctx: &Value,
    ) -> Result<String, TemplateError> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        src.hash(&mut hasher);
        let name = format!("{what}#{:016x}", hasher.finish());
        let known = {
            let map = self
                .campaign_sources
                .read()
                .unwrap_or_else(|e| e.into_inner());
            map.get(&name).map(|s| &**s == src)
        };
        match known {
            Some(true) => {}
            // Hash collision with another source: compile without caching.
            Some(false) => {
                let tmpl = self
                    .env
                    .template_from_named_str(what, src)
                    .map_err(|e| TemplateError::new(what, &e))?;
                return bounded_render(&tmpl, ctx).map_err(|e| TemplateError::new(what, &e));
            }
            None => {
                // Compile before caching, so a broken source is not kept.
                self.env
                    .template_from_named_str(what, src)
                    .map_err(|e| TemplateError::new(what, &e))?;
                self.campaign_sources
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name.clone(), Arc::from(src));
            }
        }
        self.named_render(&name, ctx)
    }
}

/// Renders with the environment's fuel (which also charges every byte written) and at most
/// [`MAX_RENDER_BYTES`] of output.
fn bounded_render(
    tmpl: &minijinja::Template<'_, '_>,
    ctx: &Value,
) -> Result<String, minijinja::Error> {
    let mut out = Capped(Vec::new());
    tmpl.render_captured_to(ctx, &mut out)?;
    String::from_utf8(out.0).map_err(|_| {
        minijinja::Error::new(ErrorKind::InvalidOperation, "rendered text is not UTF-8")
    })
}

/// Output that refuses to grow past [`MAX_RENDER_BYTES`].
struct Capped(Vec<u8>);

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_RENDER_BYTES {
            return Err(std::io::Error::other("output limit"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

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
    if matches!(kind, MailKind::Invitation | MailKind::RsvpAck) {
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
    if kind == MailKind::RsvpAck {
        obj.insert("rsvp".into(), serde_json::json!({ "answer": "yes" }));
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

fn valid_lang(lang: &str) -> bool {
    (2..=8).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase())
}

/// `de-DE`, `DE_de`, ` en ` -> `de`, `de`, `en`; anything unusable -> empty (never a path).
fn normalize_lang(lang: &str) -> String {
    let primary = lang
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if valid_lang(&primary) {
        primary
    } else {
        String::new()
    }
}

/// Subjects are one header line: any line break or control becomes a space.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A JSON object as a template map: a short list searched linearly, which for the handful of
/// keys in a mail context is cheaper to build and to query than a sorted map.
#[derive(Debug)]
struct Fields(Vec<(String, Value)>);

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
struct Stage {
    extra: Vec<(&'static str, Value)>,
    base: Arc<Fields>,
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
fn json_to_value(v: &serde_json::Value) -> Value {
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

/// Escapes `& < > " '` (not `/`), copying unescaped runs in one piece.
fn escape_html<W: fmt::Write + ?Sized>(s: &str, out: &mut W) -> fmt::Result {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#x27;",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        out.write_str(rep)?;
        start = i + 1;
    }
    out.write_str(&s[start..])
}

fn push_escaped(s: &str, out: &mut String) {
    // Writing to a String cannot fail.
    let _ = escape_html(s, out);
}

/// Escapes one line and turns http(s) URLs into links (trailing punctuation stays outside).
fn line_html(line: &str, out: &mut String) {
    let mut rest = line;
    while let Some(pos) = rest.find("https://").or_else(|| rest.find("http://")) {
        let (before, from_url) = rest.split_at(pos);
        push_escaped(before, out);
        let end = from_url
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
            .unwrap_or(from_url.len());
        let url = from_url[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'']);
        out.push_str("<a href=\"");
        push_escaped(url, out);
        out.push_str("\">");
        push_escaped(url, out);
        out.push_str("</a>");
        rest = &from_url[url.len()..];
    }
    push_escaped(rest, out);
}

/// Plain text to HTML: escaped, blank lines separate `<p>`s, single line breaks become `<br>`.
pub fn paragraphs_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let normalized = text.replace("\r\n", "\n");
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut String| {
        if para.is_empty() {
            return;
        }
        out.push_str("<p style=\"margin:0 0 16px;\">");
        for (i, line) in para.iter().enumerate() {
            if i > 0 {
                out.push_str("<br>\n");
            }
            line_html(line, out);
        }
        out.push_str("</p>\n");
        para.clear();
    };
    for line in normalized.lines() {
        if line.trim().is_empty() {
            flush(&mut para, &mut out);
        } else {
            para.push(line.trim_end());
        }
    }
    flush(&mut para, &mut out);
    out
}

/// Weekdays (Monday first) and months (in the form a date takes: genitive in uk, ru, pl).
struct Calendar {
    weekdays: [&'static str; 7],
    months: [&'static str; 12],
}

const DE: Calendar = Calendar {
    weekdays: [
        "Montag",
        "Dienstag",
        "Mittwoch",
        "Donnerstag",
        "Freitag",
        "Samstag",
        "Sonntag",
    ],
    months: [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
};
const EN: Calendar = Calendar {
    weekdays: [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
};
const TR: Calendar = Calendar {
    weekdays: [
        "Pazartesi",
        "Salı",
        "Çarşamba",
        "Perşembe",
        "Cuma",
        "Cumartesi",
        "Pazar",
    ],
    months: [
        "Ocak", "Şubat", "Mart", "Nisan", "Mayıs", "Haziran", "Temmuz", "Ağustos", "Eylül", "Ekim",
        "Kasım", "Aralık",
    ],
};
const AR: Calendar = Calendar {
    weekdays: [
        "الاثنين",
        "الثلاثاء",
        "الأربعاء",
        "الخميس",
        "الجمعة",
        "السبت",
        "الأحد",
    ],
    months: [
        "يناير",
        "فبراير",
        "مارس",
        "أبريل",
        "مايو",
        "يونيو",
        "يوليو",
        "أغسطس",
        "سبتمبر",
        "أكتوبر",
        "نوفمبر",
        "ديسمبر",
    ],
};
const UK: Calendar = Calendar {
    weekdays: [
        "понеділок",
        "вівторок",
        "середа",
        "четвер",
        "пʼятниця",
        "субота",
        "неділя",
    ],
    months: [
        "січня",
        "лютого",
        "березня",
        "квітня",
        "травня",
        "червня",
        "липня",
        "серпня",
        "вересня",
        "жовтня",
        "листопада",
        "грудня",
    ],
};
const RU: Calendar = Calendar {
    weekdays: [
        "понедельник",
        "вторник",
        "среда",
        "четверг",
        "пятница",
        "суббота",
        "воскресенье",
    ],
    months: [
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ],
};
const PL: Calendar = Calendar {
    weekdays: [
        "poniedziałek",
        "wtorek",
        "środa",
        "czwartek",
        "piątek",
        "sobota",
        "niedziela",
    ],
    months: [
        "stycznia",
        "lutego",
        "marca",
        "kwietnia",
        "maja",
        "czerwca",
        "lipca",
        "sierpnia",
        "września",
        "października",
        "listopada",
        "grudnia",
    ],
};

#[derive(Clone, Copy)]
enum DatePart {
    Date,
    Time,
    Both,
}

/// The separator between date and time (Arabic has its own comma).
fn date_sep(lang: &str) -> &'static str {
    if lang == "ar" {
        "، "
    } else {
        ", "
    }
}

/// Dates as people write them in `lang`; English for a language without a calendar here.
fn format_local(t: DateTime<Tz>, lang: &str, part: DatePart) -> String {
    let wd = t.weekday().num_days_from_monday() as usize;
    let mon = t.month0() as usize;
    let (d, y) = (t.day(), t.year());
    let h24 = format!("{:02}:{:02}", t.hour(), t.minute());
    let (date, time) = match lang {
        "de" => (
            format!("{}, {d}. {} {y}", DE.weekdays[wd], DE.months[mon]),
            format!("{h24} Uhr"),
        ),
        "tr" => (
            format!("{d} {} {y} {}", TR.months[mon], TR.weekdays[wd]),
            h24,
        ),
        "ar" => (
            format!("{}، {d} {} {y}", AR.weekdays[wd], AR.months[mon]),
            h24,
        ),
        "uk" => (
            format!("{}, {d} {} {y}", UK.weekdays[wd], UK.months[mon]),
            h24,
        ),
        "ru" => (
            format!("{}, {d} {} {y}", RU.weekdays[wd], RU.months[mon]),
            h24,
        ),
        "pl" => (
            format!("{}, {d} {} {y}", PL.weekdays[wd], PL.months[mon]),
            h24,
        ),
        _ => {
            let (pm, h12) = t.hour12();
            (
                format!("{}, {d} {} {y}", EN.weekdays[wd], EN.months[mon]),
                format!("{}:{:02} {}", h12, t.minute(), if pm { "pm" } else { "am" }),
            )
        }
    };
    match part {
        DatePart::Date => date,
        DatePart::Time => time,
        DatePart::Both => format!("{date}{}{time}", date_sep(lang)),
    }
}

fn parse_instant(v: &Value) -> Result<DateTime<Utc>, minijinja::Error> {
    if let Some(s) = v.as_str() {
        return DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| {
                minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!("'{s}' is not an RFC 3339 date-time: {e}"),
                )
            });
    }
    if let Ok(secs) = i64::try_from(v.clone()) {
        if let Some(t) = DateTime::from_timestamp(secs, 0) {
            return Ok(t);
        }
    }
    Err(minijinja::Error::new(
        ErrorKind::InvalidOperation,
        format!("cannot format {v} as a date (want an RFC 3339 string or unix seconds)"),
    ))
}

fn register_filters(env: &mut Environment<'static>, tz: Tz) {
    for (name, part) in [
        ("date", DatePart::Date),
        ("time", DatePart::Time),
        ("datetime", DatePart::Both),
    ] {
        env.add_filter(
            name,
            move |state: &State,
                  v: Value,
                  lang: Option<String>|
                  -> Result<String, minijinja::Error> {
                let t = parse_instant(&v)?.with_timezone(&tz);
                let lang = lang
                    .or_else(|| {
                        state
                            .lookup("lang")
                            .and_then(|l| l.as_str().map(str::to_string))
                    })
                    .unwrap_or_default();
                Ok(format_local(t, &normalize_lang(&lang), part))
            },
        );
    }
    env.add_filter(
        "timespan",
        move |state: &State,
              start: Value,
              end: Option<Value>,
              lang: Option<String>|
              -> Result<String, minijinja::Error> {
            let lang = normalize_lang(&lang.unwrap_or_else(|| {
                state
                    .lookup("lang")
                    .and_then(|l| l.as_str().map(str::to_string))
                    .unwrap_or_default()
            }));
            let s = parse_instant(&start)?.with_timezone(&tz);
            let e = match end.filter(|e| !e.is_none() && !e.is_undefined()) {
                Some(e) => parse_instant(&e)?.with_timezone(&tz),
                None => return Ok(format_local(s, &lang, DatePart::Both)),
            };
            Ok(if e.date_naive() != s.date_naive() {
                format!(
                    "{} – {}",
                    format_local(s, &lang, DatePart::Both),
                    format_local(e, &lang, DatePart::Both)
                )
            } else if lang == "de" {
                // "18:30 – 20:30 Uhr" rather than "18:30 Uhr – 20:30 Uhr".
                format!(
                    "{}, {:02}:{:02} – {}",
                    format_local(s, &lang, DatePart::Date),
                    s.hour(),
                    s.minute(),
                    format_local(e, &lang, DatePart::Time)
                )
            } else {
                format!(
                    "{}{}{} – {}",
                    format_local(s, &lang, DatePart::Date),
                    date_sep(&lang),
                    format_local(s, &lang, DatePart::Time),
                    format_local(e, &lang, DatePart::Time)
                )
            })
        },
    );
    env.add_filter("paragraphs", |text: String| {
        Value::from_safe_string(paragraphs_html(&text))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn renderer() -> Renderer {
        Renderer::new(None).unwrap()
    }

    #[test]
    fn every_builtin_kind_renders_in_all_seven_languages() {
        let r = renderer();
        for &kind in MailKind::ALL {
            for lang in BUILTIN_LANGUAGES {
                let out = r
                    .render(kind, lang, "", "", &sample_context(kind))
                    .unwrap_or_else(|e| panic!("{kind}/{lang}: {e}"));
                // Organiser notices are German and English only; others fall back to German.
                let used = if kind.to_organiser() && !["de", "en"].contains(&lang) {
                    "de"
                } else {
                    lang
                };
                assert_eq!(r.resolve_lang(kind, lang), used);
                assert!(!out.subject.is_empty(), "{kind}/{lang}");
                assert!(!out.subject.contains('\n'));
                assert!(out.text.len() > 40, "{kind}/{lang}: {}", out.text);
                assert!(out.html.starts_with("<!DOCTYPE html>"), "{kind}/{lang}");
                let dir = if used == "ar" { "rtl" } else { "ltr" };
                assert!(
                    out.html
                        .contains(&format!("<html lang=\"{used}\" dir=\"{dir}\">")),
                    "{kind}/{lang}"
                );
                assert!(out.html.contains(&format!("<body dir=\"{dir}\"")));
                assert!(out.html.contains("Netzwerk Sozialraum Nord"));
                assert!(!out.text.contains("{{") && !out.html.contains("{{"));
                assert!(!out.text.contains("{%") && !out.html.contains("{%"));
                if !kind.to_organiser() {
                    // Every mail to a contact starts with the greeting by name.
                    let greeting = greeting(
                        lang,
                        &Addressee::from_contact(&sample_context(kind)["contact"]),
                    )
                    .unwrap();
                    assert!(greeting.contains("Erika Mustermann"), "{greeting}");
                    assert!(
                        out.text.starts_with(&format!("{greeting}\n")),
                        "{kind}/{lang}: {}",
                        out.text
                    );
                    assert!(
                        out.html
                            .contains(&format!("<p style=\"margin:0 0 16px;\">{}</p>", {
                                let mut e = String::new();
                                push_escaped(&greeting, &mut e);
                                e
                            })),
                        "{kind}/{lang}"
                    );
                }
            }
        }
        assert_eq!(r.languages(), ["ar", "de", "en", "pl", "ru", "tr", "uk"]);
    }

    #[test]
    fn texts_are_in_the_contacts_language() {
        let r = renderer();
        // One phrase of each language's invitation, and its date.
        for (lang, phrase, date) in [
            (
                "tr",
                "1 = geliyorum",
                "12 Mart 2026 Perşembe, 18:30 – 20:30",
            ),
            ("ar", "1 = سأحضر", "الخميس، 12 مارس 2026، 18:30 – 20:30"),
            (
                "uk",
                "1 = я прийду",
                "четвер, 12 березня 2026, 18:30 – 20:30",
            ),
            ("ru", "1 = я приду", "четверг, 12 марта 2026, 18:30 – 20:30"),
            (
                "pl",
                "1 = przyjdę",
                "czwartek, 12 marca 2026, 18:30 – 20:30",
            ),
        ] {
            let out = r
                .render(
                    MailKind::Invitation,
                    lang,
                    "",
                    "",
                    &sample_context(MailKind::Invitation),
                )
                .unwrap();
            assert!(out.text.contains(phrase), "{lang}: {}", out.text);
            assert!(out.text.contains(date), "{lang}: {}", out.text);
            assert!(out.html.contains(date), "{lang}");
        }
        let ar = r
            .render(
                MailKind::Confirm,
                "ar",
                "",
                "",
                &sample_context(MailKind::Confirm),
            )
            .unwrap();
        assert!(ar.html.contains("dir=\"rtl\""));
        assert!(
            ar.text.starts_with("مرحبًا Erika Mustermann،\n"),
            "{}",
            ar.text
        );
        assert_eq!(ar.subject, "يرجى تأكيد اشتراككم: Wohnen im Quartier");
    }

    #[test]
    fn greeting_follows_the_form_of_address() {
        let r = renderer();
        let mut ctx = sample_context(MailKind::Newsletter);
        ctx["contact"]["name"] = json!("Anna Schmidt");
        ctx["contact"]["salutation"] = json!("informal");
        ctx["contact"]["gender"] = json!("f");
        let de = r
            .render(MailKind::Newsletter, "de", "S", "Text", &ctx)
            .unwrap();
        assert!(de.text.starts_with("Liebe Anna,\n\nText\n"), "{}", de.text);
        ctx["contact"]["salutation"] = json!("formal");
        ctx["contact"]["title"] = json!("Dr.");
        let de = r
            .render(MailKind::Newsletter, "de", "S", "Text", &ctx)
            .unwrap();
        assert!(
            de.text.starts_with("Guten Tag Frau Dr. Schmidt,\n"),
            "{}",
            de.text
        );
        let uk = r
            .render(MailKind::Newsletter, "uk", "S", "Text", &ctx)
            .unwrap();
        assert!(
            uk.text.starts_with("Шановна пані Dr. Schmidt!\n"),
            "{}",
            uk.text
        );
        ctx["contact"]["name"] = json!(null);
        let en = r
            .render(MailKind::Newsletter, "en", "S", "Text", &ctx)
            .unwrap();
        assert!(en.text.starts_with("Hello,\n"), "{}", en.text);
        // The campaign's own text may use the greeting too.
        let out = r
            .render(MailKind::Newsletter, "tr", "{{ greeting }}", "x", &ctx)
            .unwrap();
        assert_eq!(out.subject, "Merhaba,");
    }

    #[test]
    fn invitation_content_dates_and_answer_options() {
        let r = renderer();
        let ctx = sample_context(MailKind::Invitation);
        let de = r
            .render(
                MailKind::Invitation,
                "de",
                "Einladung: {{ occasion.title }}",
                "Hallo {{ contact.name }},\n\nwir treffen uns <bald> & gern.",
                &ctx,
            )
            .unwrap();
        assert_eq!(de.subject, "Einladung: Stadtteilrunde Frühjahr");
        // 17:30 UTC in March is 18:30 in Berlin.
        assert!(
            de.text
                .contains("Donnerstag, 12. März 2026, 18:30 – 20:30 Uhr"),
            "{}",
            de.text
        );
        assert!(de.text.contains("1 = ich komme"));
        assert!(de.text.contains("2 = ich komme nicht"));
        assert!(de.text.contains("3 = Interesse an Zusammenarbeit"));
        assert!(de.text.contains("https://netz.example.org/r/sample-yes"));
        assert!(de.text.contains("wir treffen uns <bald> & gern."));
        assert!(de.text.contains("Bürgerhaus Nord, Raum 2"));
        assert!(de.html.contains("wir treffen uns &lt;bald&gt; &amp; gern."));
        assert!(de
            .html
            .contains("<p style=\"margin:0 0 16px;\">Hallo Erika Mustermann,</p>"));
        assert!(de
            .html
            .contains("href=\"https://netz.example.org/r/sample-no\""));
        assert!(de
            .html
            .contains("href=\"https://netz.example.org/u/sample\""));
        let en = r.render(MailKind::Invitation, "en", "", "", &ctx).unwrap();
        assert!(
            en.text
                .contains("Thursday, 12 March 2026, 6:30 pm – 8:30 pm"),
            "{}",
            en.text
        );
        assert!(en.text.contains("1 = I'll come"));
        assert!(en.text.contains("2 = I can't come"));
        assert!(en.text.contains("3 = interested in working together"));
    }

    #[test]
    fn language_fallback_and_normalisation() {
        let r = renderer();
        let ctx = sample_context(MailKind::Newsletter);
        let fr = r
            .render(MailKind::Newsletter, "fr", "S", "B", &ctx)
            .unwrap();
        let de = r
            .render(MailKind::Newsletter, "de", "S", "B", &ctx)
            .unwrap();
        assert_eq!(fr, de);
        assert_eq!(r.resolve_lang(MailKind::Newsletter, "en-GB"), "en");
        assert_eq!(r.resolve_lang(MailKind::Newsletter, "EN_us"), "en");
        assert_eq!(r.resolve_lang(MailKind::Newsletter, "../../etc"), "de");
        assert_eq!(r.resolve_lang(MailKind::Newsletter, ""), "de");
        let r = r.with_default_lang("en").unwrap();
        assert_eq!(r.resolve_lang(MailKind::Newsletter, "fr"), "en");
        assert!(renderer().with_default_lang("fr").is_err());
    }

    #[test]
    fn validate_catches_misspelt_variables_with_location() {
        let r = renderer();
        r.validate(
            MailKind::Newsletter,
            "{{ topic.title }}: Neuigkeiten",
            "Hallo {{ contact.name }},\n\nneues zu {{ topic.title }}.",
        )
        .unwrap();
        let err = r
            .validate(
                MailKind::Newsletter,
                "Hallo",
                "Zeile eins\nHallo {{ contact.nmae }}",
            )
            .unwrap_err();
        assert_eq!(err.template, "campaign body");
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("undefined"), "{err}");
        assert!(
            err.to_string().starts_with("campaign body, line 2: "),
            "{err}"
        );

        let err = r
            .validate(MailKind::Newsletter, "{{ topik.title }}", "x")
            .unwrap_err();
        assert_eq!(err.template, "campaign subject");
        assert_eq!(err.line, Some(1));

        // The occasion exists only for invitations.
        assert!(r
            .validate(MailKind::Newsletter, "x", "{{ occasion.title }}")
            .is_err());
        r.validate(MailKind::Invitation, "x", "{{ occasion.title }}")
            .unwrap();

        // Syntax errors, even in branches that would not run.
        let err = r
            .validate(
                MailKind::Newsletter,
                "x",
                "{% if false %}\n{{ contact.name \n{% endif %}",
            )
            .unwrap_err();
        assert_eq!(err.template, "campaign body");
        assert!(err.line.is_some());
        // Unknown filter.
        assert!(r
            .validate(MailKind::Newsletter, "x", "{{ contact.name|shout }}")
            .is_err());
    }

    #[test]
    fn render_errors_do_not_poison_the_cache() {
        let r = renderer();
        let ctx = sample_context(MailKind::Newsletter);
        assert!(r
            .render(MailKind::Newsletter, "de", "x", "{{ broken", &ctx)
            .is_err());
        assert!(r.campaign_sources.read().unwrap().is_empty());
        let a = r
            .render(
                MailKind::Newsletter,
                "de",
                "Hi {{ contact.name }}",
                "B",
                &ctx,
            )
            .unwrap();
        let b = r
            .render(
                MailKind::Newsletter,
                "de",
                "Hi {{ contact.name }}",
                "B",
                &ctx,
            )
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(r.campaign_sources.read().unwrap().len(), 2);
    }

    #[test]
    fn context_cannot_override_content_or_lang() {
        let r = renderer();
        let mut ctx = sample_context(MailKind::Newsletter);
        ctx["content"] = json!("<script>evil</script>");
        ctx["lang"] = json!("xx");
        let out = r
            .render(MailKind::Newsletter, "en", "S", "real body", &ctx)
            .unwrap();
        assert!(out.text.contains("real body"));
        assert!(!out.html.contains("<script>"));
        assert!(out.html.contains("<html lang=\"en\""));
    }

    #[test]
    fn values_are_escaped_in_html_but_not_in_text() {
        let r = renderer();
        let mut ctx = sample_context(MailKind::Newsletter);
        ctx["organisation"]["name"] = json!("Netz <Nord> & Co");
        let out = r
            .render(MailKind::Newsletter, "de", "S", "B", &ctx)
            .unwrap();
        assert!(out.html.contains("Netz &lt;Nord&gt; &amp; Co"));
        assert!(!out.html.contains("<Nord>"));
        assert!(out.text.contains("Netz <Nord> & Co"));
    }

    #[test]
    fn subject_is_one_line() {
        let r = renderer();
        let ctx = sample_context(MailKind::Newsletter);
        let out = r
            .render(
                MailKind::Newsletter,
                "de",
                "A\r\nBcc: x@y\n{{ topic.title }}",
                "B",
                &ctx,
            )
            .unwrap();
        assert_eq!(out.subject, "A Bcc: x@y Wohnen im Quartier");
    }

    #[test]
    fn user_folder_overrides_and_adds_languages() {
        let dir = tempfile::tempdir().unwrap();
        let mail = dir.path().join("mail");
        std::fs::create_dir(&mail).unwrap();
        std::fs::write(
            mail.join("newsletter.de.txt.j2"),
            "EIGEN {{ content }} / {{ links.unsubscribe }}\n",
        )
        .unwrap();
        for &kind in MailKind::ALL {
            for (part, src) in [
                ("subject", "Sujet {{ organisation.name }}"),
                ("txt", "Bonjour {{ contact.name }} {{ content }}"),
                ("html", "{% extends \"mail/layout.html.j2\" %}{% block content %}{{ content }}{% endblock %}{% block footer_links %}{% endblock %}"),
            ] {
                std::fs::write(mail.join(format!("{kind}.fr.{part}.j2")), src).unwrap();
            }
        }
        let r = Renderer::new(Some(dir.path())).unwrap();
        let ctx = sample_context(MailKind::Newsletter);
        let out = r
            .render(MailKind::Newsletter, "de", "S", "Text", &ctx)
            .unwrap();
        assert_eq!(out.text, "EIGEN Text / https://netz.example.org/u/sample\n");
        let fr = r
            .render(MailKind::Newsletter, "fr-CA", "", "Texte", &ctx)
            .unwrap();
        assert_eq!(fr.subject, "Sujet Netzwerk Sozialraum Nord");
        assert_eq!(fr.text, "Bonjour Erika Mustermann Texte");
        assert!(fr.html.contains("<html lang=\"fr\""));
        assert_eq!(
            r.languages(),
            ["ar", "de", "en", "fr", "pl", "ru", "tr", "uk"]
        );
        // English is untouched.
        let en = r
            .render(MailKind::Newsletter, "en", "S", "Text", &ctx)
            .unwrap();
        assert!(!en.text.contains("EIGEN"));
    }

    #[test]
    fn broken_override_fails_at_startup_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let mail = dir.path().join("mail");
        std::fs::create_dir(&mail).unwrap();
        std::fs::write(mail.join("confirm.en.txt.j2"), "ok\n{% if %}\n").unwrap();
        let err = Renderer::new(Some(dir.path())).unwrap_err();
        assert_eq!(err.template, "mail/confirm.en.txt.j2");
        assert_eq!(err.line, Some(2));

        // A language with a text template but no HTML template is incomplete.
        let dir = tempfile::tempdir().unwrap();
        let mail = dir.path().join("mail");
        std::fs::create_dir(&mail).unwrap();
        std::fs::write(mail.join("confirm.it.txt.j2"), "ciao\n").unwrap();
        let err = Renderer::new(Some(dir.path())).unwrap_err();
        assert!(err.template.starts_with("mail/confirm.it."), "{err}");
    }

    #[test]
    fn paragraphs_and_links() {
        assert_eq!(
            paragraphs_html("a <b>\nzwei\n\n\n drei https://x.org/a?b=1&c=2.\r\n"),
            "<p style=\"margin:0 0 16px;\">a &lt;b&gt;<br>\nzwei</p>\n\
             <p style=\"margin:0 0 16px;\"> drei <a href=\"https://x.org/a?b=1&amp;c=2\">\
             https://x.org/a?b=1&amp;c=2</a>.</p>\n"
        );
        assert_eq!(paragraphs_html(""), "");
        assert_eq!(
            paragraphs_html("see http://a.b\" onclick=x"),
            "<p style=\"margin:0 0 16px;\">see <a href=\"http://a.b\">http://a.b</a>&quot; onclick=x</p>\n"
        );
    }

    #[test]
    fn date_filters() {
        let r = renderer();
        let ctx = json!({ "t": "2026-10-25T01:30:00Z", "s": 1_777_777_777 });
        let render = |src: &str| {
            r.env
                .template_from_str(src)
                .unwrap()
                .render(json_to_value(&ctx))
                .unwrap()
        };
        // After the autumn switch: 01:30 UTC = 02:30 CET.
        assert_eq!(
            render("{{ t|datetime('de') }}"),
            "Sonntag, 25. Oktober 2026, 02:30 Uhr"
        );
        assert_eq!(render("{{ t|date('en') }}"), "Sunday, 25 October 2026");
        assert_eq!(render("{{ t|time('en') }}"), "2:30 am");
        assert_eq!(render("{{ s|date('de') }}"), "Sonntag, 3. Mai 2026");
        let r = renderer().with_timezone(chrono_tz::UTC);
        let out = r
            .env
            .template_from_str("{{ t|time('de') }}")
            .unwrap()
            .render(json_to_value(&ctx))
            .unwrap();
        assert_eq!(out, "01:30 Uhr");
    }

    #[test]
    fn optional_parts_may_be_missing() {
        let r = renderer();
        let mut ctx = sample_context(MailKind::Unsubscribed);
        ctx.as_object_mut().unwrap().remove("topic");
        ctx["organisation"]["address"] = json!(null);
        ctx["contact"]["name"] = json!(null);
        let out = r
            .render(MailKind::Unsubscribed, "de", "", "", &ctx)
            .unwrap();
        assert!(out.text.starts_with("Hallo,\n"), "{}", out.text);
        assert!(out
            .text
            .contains("Sie sind abgemeldet und erhalten keine Nachrichten mehr"));
        let mut ctx = sample_context(MailKind::Invitation);
        ctx["occasion"]["ends_at"] = json!(null);
        ctx["occasion"]["place"] = json!(null);
        ctx["occasion"]["description"] = json!(null);
        let out = r.render(MailKind::Invitation, "en", "", "", &ctx).unwrap();
        assert!(out
            .text
            .contains("When:  Thursday, 12 March 2026, 6:30 pm\n"));
        assert!(!out.text.contains("Where:"));
        // Top-level null = absent: the organiser note falls back to the topic.
        let mut ctx = sample_context(MailKind::NotifyCooperation);
        ctx["occasion"] = json!(null);
        let out = r
            .render(MailKind::NotifyCooperation, "en", "", "", &ctx)
            .unwrap();
        assert!(
            out.text.contains("(topic: “Wohnen im Quartier”)"),
            "{}",
            out.text
        );
        // A required part missing is an error naming the kind template.
        let mut ctx = sample_context(MailKind::Invitation);
        ctx.as_object_mut().unwrap().remove("occasion");
        let err = r
            .render(MailKind::Invitation, "de", "", "", &ctx)
            .unwrap_err();
        assert_eq!(err.template, "mail/invitation.de.subject.j2");
    }

    #[test]
    fn kind_names_round_trip() {
        for &k in MailKind::ALL {
            assert_eq!(k.as_str().parse::<MailKind>(), Ok(k));
        }
        assert!("bogus".parse::<MailKind>().is_err());
    }
}
