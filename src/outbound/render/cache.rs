//! The campaign body cache: a body that reads only what all recipients of a campaign share is
//! rendered once per language and those values, and kept.

use super::html::paragraphs_html;
use super::{markdown, Renderer, TemplateError, BODY_TEMPLATE};
use minijinja::value::Value;
use std::sync::Arc;

impl Renderer {
    /// The campaign body rendered for one recipient, with its HTML paragraphs. A body that
    /// reads only [`SHARED_KEYS`] is the same for every recipient of a campaign in one language:
    /// it is rendered once and kept, by its source, the language and those keys' values.
    pub(super) fn body(
        &self,
        src: &str,
        lang: &str,
        json: &serde_json::Value,
        ctx: &Value,
    ) -> Result<Arc<Body>, TemplateError> {
        let known = {
            let cache = self.lock_bodies();
            cache
                .entries
                .iter()
                .find(|e| &*e.src == src)
                .map(|e| e.uses.clone())
        };
        let uses = match known {
            Some(u) => u,
            None => {
                let tmpl = self
                    .env
                    .template_from_named_str(BODY_TEMPLATE, src)
                    .map_err(|e| TemplateError::new(BODY_TEMPLATE, &e))?;
                let vars = tmpl.undeclared_variables(false);
                let shared = vars.iter().all(|v| SHARED_KEYS.contains(&v.as_str()));
                let mut keys: Vec<String> = vars.into_iter().collect();
                keys.sort();
                let uses = shared.then_some(keys);
                let mut cache = self.lock_bodies();
                if cache.entries.len() >= BODY_CACHE_ENTRIES {
                    cache.entries.clear();
                }
                cache.entries.push(BodyEntry {
                    src: Arc::from(src),
                    uses: uses.clone(),
                    rendered: Vec::new(),
                });
                uses
            }
        };
        let Some(keys) = uses else {
            let text = self.campaign_render(BODY_TEMPLATE, src, ctx)?;
            return Ok(Arc::new(Body::of(text)));
        };
        let mut key = lang.to_string();
        for k in &keys {
            key.push('\u{0}');
            key.push_str(&json.get(k).map(|v| v.to_string()).unwrap_or_default());
        }
        let hit = {
            let cache = self.lock_bodies();
            cache
                .entries
                .iter()
                .find(|e| &*e.src == src)
                .and_then(|e| e.rendered.iter().find(|(k, _)| *k == key))
                .map(|(_, b)| Arc::clone(b))
        };
        if let Some(b) = hit {
            return Ok(b);
        }
        let text = self.campaign_render(BODY_TEMPLATE, src, ctx)?;
        let body = Arc::new(Body::of(text));
        let mut cache = self.lock_bodies();
        if let Some(e) = cache.entries.iter_mut().find(|e| &*e.src == src) {
            if e.rendered.len() >= BODY_CACHE_ENTRIES {
                e.rendered.clear();
            }
            e.rendered.push((key, Arc::clone(&body)));
        }
        Ok(body)
    }

    fn lock_bodies(&self) -> std::sync::MutexGuard<'_, BodyCache> {
        self.bodies.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Context keys with the same value for every recipient of one campaign in one language: a body
/// that reads no others is rendered once (`Renderer::body`). Not `contact`, `links` or
/// `greeting`, which are the recipient's.
const SHARED_KEYS: [&str; 7] = [
    "lang",
    "dir",
    "topic",
    "organisation",
    "occasion",
    "next",
    "change",
];

/// Bodies (and renderings of one body) kept at most; a daemon sends many campaigns, so the
/// cache starts over when full.
const BODY_CACHE_ENTRIES: usize = 64;

/// A campaign body as text and as HTML paragraphs.
#[derive(Debug, Default)]
pub(super) struct Body {
    /// The rendered source, as the subject's `content` reads it.
    pub(super) text: String,
    /// The text part's content: Markdown made plain, or the text as written.
    pub(super) plain: String,
    pub(super) html: String,
}

impl Body {
    /// Markdown only when the body uses it: a plain text renders as it always did.
    fn of(text: String) -> Body {
        if markdown::is_markdown(&text) {
            Body {
                plain: markdown::to_text(&text),
                html: markdown::to_html(&text),
                text,
            }
        } else {
            Body {
                plain: text.clone(),
                html: paragraphs_html(&text),
                text,
            }
        }
    }
}

/// Campaign bodies seen, each with what it reads and, when that is only [`SHARED_KEYS`], its
/// renderings. Found by comparing the source (no hash of a long body per message).
#[derive(Debug, Default)]
pub(super) struct BodyCache {
    entries: Vec<BodyEntry>,
}

#[derive(Debug)]
struct BodyEntry {
    src: Arc<str>,
    /// The keys the body reads when they are all [`SHARED_KEYS`], else None.
    uses: Option<Vec<String>>,
    /// By language and the values of those keys.
    rendered: Vec<(String, Arc<Body>)>,
}
#[cfg(test)]
mod tests {
    use super::super::{sample_context, MailKind, Renderer};
    use serde_json::json;

    fn renderer() -> Renderer {
        Renderer::new(None).unwrap()
    }

    /// A body that reads only what all recipients share is kept per language and those values;
    /// one that reads the contact is rendered for each.
    #[test]
    fn a_shared_body_is_rendered_once_per_language_and_shared_values() {
        let r = renderer();
        let mut anna = sample_context(MailKind::Newsletter);
        anna["contact"]["name"] = json!("Anna");
        let mut ben = anna.clone();
        ben["contact"]["name"] = json!("Ben");
        let shared = "Neues zu {{ topic.title }}";
        let a = r
            .render(MailKind::Newsletter, "de", "S", shared, &anna)
            .unwrap();
        let b = r
            .render(MailKind::Newsletter, "de", "S", shared, &ben)
            .unwrap();
        assert_eq!(a.text.replace("Anna", "Ben"), b.text);
        let entry = |src: &str| {
            let cache = r.lock_bodies();
            let e = cache.entries.iter().find(|e| &*e.src == src).unwrap();
            (e.uses.clone(), e.rendered.len())
        };
        assert_eq!(entry(shared), (Some(vec!["topic".to_string()]), 1));
        let mut other = ben.clone();
        other["topic"]["title"] = json!("Sport");
        let c = r
            .render(MailKind::Newsletter, "de", "S", shared, &other)
            .unwrap();
        assert!(c.text.contains("Neues zu Sport"), "{}", c.text);
        let d = r
            .render(MailKind::Newsletter, "en", "S", shared, &ben)
            .unwrap();
        assert!(d.text.contains("Neues zu "), "{}", d.text);
        assert_eq!(entry(shared).1, 3);

        let own = "Hallo {{ contact.name }}";
        let a = r
            .render(MailKind::Newsletter, "de", "S", own, &anna)
            .unwrap();
        let b = r
            .render(MailKind::Newsletter, "de", "S", own, &ben)
            .unwrap();
        assert!(a.text.contains("Hallo Anna") && b.text.contains("Hallo Ben"));
        assert!(a.html.contains("Hallo Anna") && b.html.contains("Hallo Ben"));
        assert_eq!(entry(own), (None, 0));
    }
}
