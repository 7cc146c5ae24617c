//! Mail rendering with minijinja.
//!
//! # Templates
//! `templates/mail/<kind>.<lang>.{subject,txt,html}.j2` plus the shared `mail/layout.html.j2` are
//! compiled into the binary; a file of the same relative name under the user folder
//! (`<user_dir>/mail/...`) replaces the built-in one, and user files may add languages. Kinds:
//! see [`MailKind`]. A campaign brings its own `subject` and `body` sources; an empty subject
//! falls back to `<kind>.<lang>.subject.j2`, an empty body renders as no content (system mails).
//! The body is plain text or Markdown: plain text is printed as typed by the text template
//! (`content`) and escaped into `<p>` paragraphs for the HTML template (filter `paragraphs`); a
//! body that uses Markdown (headings, emphasis, lists, links ...) becomes HTML and a clean text
//! part ([`markdown`]; raw HTML in it is shown as typed, never passed through).
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
//! occasion     {title, starts_at, ends_at, place, description,  invitation, rsvp_ack,
//!               cancelled, cancel_reason}                       occasion_change, reminder,
//!                                                               follow_up, thanks
//!              (times as RFC 3339 strings or unix seconds; ends_at, place, description may be null)
//! rsvp         {answer: "yes" | "no" | "cooperation"}           rsvp_ack
//! change       {cancelled, reason, time, place}                 occasion_change (time, place: what
//!                                                               changed; reason may be null)
//! reply        {text, received_at}                              notify_cooperation
//! next         {step: "group" | "cooperation" | "none"}         thanks
//! occasion.poll [{n, starts_at, ends_at}] (null: a fixed date)  poll_invitation (links: + rsvp_poll)
//! poll         {can, answered}                                  poll_picked
//! ```
//! A top-level key set to `null` is treated as absent.
//! Added by the renderer: `lang` (the language actually used), `dir` (`rtl` for Arabic, else
//! `ltr`), `greeting` (the greeting line by the contact's form of address in `lang`, see
//! [`super::greeting`]), `content` (the rendered body) and, in kind templates, `subject`.
//!
//! # Languages
//! Built in: de, en, tr, ar, uk, ru, pl for every kind to contacts but `occasion_change`,
//! `poll_invitation` and `poll_picked`; those and the organiser's notices ([`MailKind::to_organiser`]) in de and en
//! ([`MailKind::de_en_only`]), falling back to the default language, then German, unless the
//! templates folder adds the language. Every mail to a contact starts with `greeting`.
//!
//! Filters: `date`, `time`, `datetime` (format an RFC 3339 string or unix seconds in the
//! configured zone, default Europe/Berlin, in `lang` or the language given as argument),
//! `start|timespan(end)` (start and optional end, the day written once when both fall on it) and
//! `paragraphs` (escape plain text into `<p>` elements).

mod cache;
mod context;
mod filters;
mod html;
mod loading;
pub mod markdown;

pub use context::sample_context;
pub use filters::{register_date_filters, timespan};
pub use html::paragraphs_html;

use cache::{Body, BodyCache};
use context::{json_to_value, Fields, Stage};
use html::escape_html;
use minijinja::value::Value;
use minijinja::{Environment, ErrorKind};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
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
        /// Re-permission: does a contact silent for long still want mail on the topic?
        Renewal => "renewal",
        /// Acknowledgement of an RSVP.
        RsvpAck => "rsvp_ack",
        /// Confirmation of an unsubscribe.
        Unsubscribed => "unsubscribed",
        /// To the organiser: a contact is interested in cooperation.
        NotifyCooperation => "notify_cooperation",
        /// An occasion the contact was invited to changed time or place, or is cancelled.
        OccasionChange => "occasion_change",
        /// Before an occasion, to those who said yes: time, place and the link to say no.
        Reminder => "reminder",
        /// Once to the invited who have not answered, with the links to answer.
        FollowUp => "follow_up",
        /// After an occasion, to those who came, with the next step (`next.step`).
        Thanks => "thanks",
        /// The invitation to an occasion whose date is still being found: its numbered
        /// candidates (`occasion.poll`), answered by numbers or on the RSVP page.
        PollInvitation => "poll_invitation",
        /// The date of a poll was picked: with the calendar invitation to those it suits
        /// (`poll.can`), a short note to the others.
        PollPicked => "poll_picked",
    }
);

impl MailKind {
    /// Mails to the organisation's own people, not to contacts: they need not exist in every
    /// language and fall back to the default language, then German.
    pub fn to_organiser(self) -> bool {
        self == MailKind::NotifyCooperation
    }

    /// Kinds built in for German and English only; other languages fall back to the default
    /// language unless the templates folder adds them (`mail/<kind>.<lang>.*.j2`).
    pub fn de_en_only(self) -> bool {
        matches!(
            self,
            MailKind::NotifyCooperation
                | MailKind::OccasionChange
                | MailKind::PollInvitation
                | MailKind::PollPicked
        )
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
    /// Bodies rendered once for all their recipients (see [`Renderer::body`]).
    bodies: std::sync::Mutex<BodyCache>,
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

        let body = if body_src.trim().is_empty() {
            Arc::new(Body::default())
        } else {
            self.body(body_src, &lang, ctx, &with(vec![]))?
        };
        let content = body.text.as_str();
        let ctx = with(vec![("content", Value::from(content))]);
        let subject = if subject_src.trim().is_empty() {
            let name = format!("mail/{kind}.{lang}.subject.j2");
            self.named_render(&name, &ctx)?
        } else {
            self.campaign_render(SUBJECT_TEMPLATE, subject_src, &ctx)?
        };
        let subject = one_line(&subject);
        let subject_v = Value::from(subject.as_str());

        let ctx = with(vec![
            ("subject", subject_v.clone()),
            ("content", Value::from(body.plain.as_str())),
        ]);
        let text = self.named_render(&format!("mail/{kind}.{lang}.txt.j2"), &ctx)?;
        let ctx = with(vec![
            ("subject", subject_v),
            ("content", Value::from_safe_string(body.html.clone())),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn renderer() -> Renderer {
        Renderer::new(None).unwrap()
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
    fn a_markdown_body_renders_as_html_and_clean_text_and_plain_text_as_before() {
        let r = renderer();
        let ctx = sample_context(MailKind::Newsletter);
        let md = "## Hoffest\n\nWir feiern **am Samstag**.\n\n- Kuchen\n- Musik\n\n\
                  [Programm](https://example.org/hoffest)";
        let out = r
            .render(MailKind::Newsletter, "de", "Hoffest", md, &ctx)
            .unwrap();
        assert!(out.html.contains(">Hoffest</h2>"), "{}", out.html);
        assert!(out.html.contains("<strong>am Samstag</strong>"));
        assert!(out.html.contains("<li>Kuchen</li>"));
        assert!(out
            .text
            .contains("Wir feiern am Samstag.\n\n- Kuchen\n- Musik"));
        assert!(out.text.contains("Programm (https://example.org/hoffest)"));
        assert!(
            !out.text.contains("**") && !out.text.contains("]("),
            "{}",
            out.text
        );
        // A plain text keeps its line breaks, its typed text part and its linked addresses.
        let plain =
            "Liebe Nachbarn,\nam Freitag ist Café <im Hof>.\n\nMehr: https://example.org/cafe";
        let out = r
            .render(MailKind::Newsletter, "de", "Café", plain, &ctx)
            .unwrap();
        assert!(out.text.contains(plain), "{}", out.text);
        assert!(out.html.contains(&paragraphs_html(plain)), "{}", out.html);
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
