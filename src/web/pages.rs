//! Server-rendered pages: minijinja templates under `templates/web/` (compiled into the binary,
//! overridable by files of the same name under the configured `templates_dir`), and the text
//! catalogues `i18n.<lang>.toml` that the templates read as `t.<key>`. German and English have
//! every key; tr, ar, uk, ru and pl have the public pages' keys, and the admin pages' keys (which
//! those languages never show, see [`Lang::admin`]) come from English.
//!
//! Auto-escaping is HTML for every web template, whatever its name: nothing a contact or an
//! admin typed can reach a page unescaped.

use super::Lang;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::{AutoEscape, Environment};
use std::path::Path;

macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = builtin![
    "web/layout.html.j2",
    "web/message.html.j2",
    "web/action.html.j2",
    "web/index.html.j2",
    "web/subscribe.html.j2",
    "web/preferences.html.j2",
    "web/admin/layout.html.j2",
    "web/admin/login.html.j2",
    "web/admin/dashboard.html.j2",
    "web/admin/contacts.html.j2",
    "web/admin/contact.html.j2",
    "web/admin/campaigns.html.j2",
    "web/admin/review.html.j2",
    "web/admin/occasions.html.j2",
];

const CATALOGUES: [(Lang, &str); 7] = [
    (Lang::De, include_str!("../../templates/web/i18n.de.toml")),
    (Lang::En, include_str!("../../templates/web/i18n.en.toml")),
    (Lang::Tr, include_str!("../../templates/web/i18n.tr.toml")),
    (Lang::Ar, include_str!("../../templates/web/i18n.ar.toml")),
    (Lang::Uk, include_str!("../../templates/web/i18n.uk.toml")),
    (Lang::Ru, include_str!("../../templates/web/i18n.ru.toml")),
    (Lang::Pl, include_str!("../../templates/web/i18n.pl.toml")),
];

pub struct Pages {
    env: Environment<'static>,
    /// By [`Lang`], in the order of [`Lang::ALL`].
    catalogues: Vec<serde_json::Value>,
}

impl Pages {
    /// Compiles every template now, so a broken override stops the start, not a request.
    pub fn new(user_dir: Option<&Path>) -> anyhow::Result<Pages> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| anyhow::anyhow!("template syntax: {e}"))?;
        env.set_syntax(syntax);
        for (name, builtin) in TEMPLATES {
            let src = match user_dir.map(|d| d.join(name)) {
                Some(p) if p.exists() => std::fs::read_to_string(&p)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
                _ => builtin.to_string(),
            };
            env.add_template_owned(name.to_string(), src)
                .map_err(|e| anyhow::anyhow!("template {name}: {e}"))?;
        }
        let catalogue = |file: &str, builtin: &str| -> anyhow::Result<serde_json::Value> {
            let text = match user_dir.map(|d| d.join("web").join(file)) {
                Some(p) if p.exists() => std::fs::read_to_string(&p)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
                _ => builtin.to_string(),
            };
            let table: toml::Table =
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("web/{file}: {e}"))?;
            Ok(serde_json::to_value(table)?)
        };
        let mut catalogues = Vec::new();
        for lang in Lang::ALL {
            let (_, builtin) = CATALOGUES
                .iter()
                .find(|(l, _)| *l == lang)
                .expect("a catalogue per language");
            catalogues.push(catalogue(&format!("i18n.{}.toml", lang.as_str()), builtin)?);
        }
        // Keys a catalogue lacks (the admin pages' outside de and en) are the English ones.
        let en = catalogues[1].clone();
        for c in &mut catalogues[2..] {
            if let (Some(c), Some(en)) = (c.as_object_mut(), en.as_object()) {
                for (k, v) in en {
                    c.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        Ok(Pages { env, catalogues })
    }

    pub fn text(&self, lang: Lang, key: &str) -> String {
        self.catalogue(lang)
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or(key)
            .to_string()
    }

    fn catalogue(&self, lang: Lang) -> &serde_json::Value {
        let i = Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0);
        &self.catalogues[i]
    }

    /// Renders `name` with `ctx` plus `t` (the catalogue) and `lang`.
    pub fn render(
        &self,
        name: &str,
        lang: Lang,
        status: StatusCode,
        ctx: serde_json::Value,
    ) -> Response {
        let mut ctx = match ctx {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        ctx.insert("t".into(), self.catalogue(lang).clone());
        ctx.insert("lang".into(), lang.as_str().into());
        ctx.insert("dir".into(), lang.dir().into());
        let html = self
            .env
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(&ctx)));
        match html {
            Ok(html) => super::no_store(
                (
                    status,
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                        (header::X_FRAME_OPTIONS, "DENY"),
                        (
                            header::CONTENT_SECURITY_POLICY,
                            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
                        ),
                        (header::REFERRER_POLICY, "no-referrer"),
                    ],
                    html,
                )
                    .into_response(),
            ),
            Err(e) => {
                tracing::error!("rendering {name}: {e:#}");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }

    /// A page with a title and a text from the catalogue.
    pub fn message(&self, lang: Lang, status: StatusCode, title: &str, text: &str) -> Response {
        self.render(
            "web/message.html.j2",
            lang,
            status,
            serde_json::json!({"title": self.text(lang, title), "text": self.text(lang, text)}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<String> {
        let table: toml::Table = toml::from_str(text).unwrap();
        let mut k: Vec<String> = table.keys().cloned().collect();
        k.sort();
        k
    }

    /// The keys of the public pages: those above the `# Verwaltung` line of the German file.
    fn public_keys() -> Vec<String> {
        let de = CATALOGUES[0].1;
        keys(de.split("# Verwaltung").next().unwrap())
    }

    #[test]
    fn catalogues_have_the_same_keys() {
        assert_eq!(keys(CATALOGUES[0].1), keys(CATALOGUES[1].1));
        let public = public_keys();
        assert!(public.len() > 50 && public.contains(&"rsvp_yes_button".to_string()));
        for (lang, text) in &CATALOGUES[2..] {
            // Every public text of its own, and nothing the German file does not have.
            assert_eq!(keys(text), public, "{lang:?}");
        }
    }

    #[test]
    fn every_language_has_its_own_public_texts_and_english_admin_texts() {
        let p = Pages::new(None).unwrap();
        let en = p.catalogue(Lang::En).clone();
        for lang in Lang::ALL {
            let c = p.catalogue(lang).as_object().unwrap();
            assert_eq!(c.len(), en.as_object().unwrap().len(), "{lang:?}");
            if !matches!(lang, Lang::De | Lang::En) {
                assert_ne!(
                    c["unsubscribe_button"], en["unsubscribe_button"],
                    "{lang:?}"
                );
                assert_eq!(c["nav_contacts"], en["nav_contacts"], "{lang:?}");
            }
        }
    }
}
