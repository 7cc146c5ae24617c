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

pub struct Pages {
    env: Environment<'static>,
    /// By [`Lang`], in the order of [`Lang::ALL`].
    catalogues: Vec<serde_json::Value>,
    /// The organisation's name, shown on every page instead of the software's.
    org: String,
}

impl Pages {
    /// Compiles every template now, so a broken override stops the start, not a request.
    /// Times on the pages are shown in `tz` (the `date`, `time`, `datetime` and `timespan`
    /// filters, in the page's language).
    pub fn new(user_dir: Option<&Path>, tz: chrono_tz::Tz) -> anyhow::Result<Pages> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        crate::outbound::render::register_date_filters(&mut env, tz);
        env.set_syntax(crate::templates::syntax());
        let read = |name: &str| -> anyhow::Result<String> {
            crate::templates::source(user_dir, name)
                .map_err(anyhow::Error::msg)?
                .ok_or_else(|| anyhow::anyhow!("template {name}: not found"))
        };
        for name in crate::templates::builtin_names("web/").filter(|n| n.ends_with(".j2")) {
            env.add_template_owned(name.to_string(), read(name)?)
                .map_err(|e| anyhow::anyhow!("template {name}: {e}"))?;
        }
        let catalogue = |name: &str| -> anyhow::Result<serde_json::Value> {
            let table: toml::Table =
                toml::from_str(&read(name)?).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            Ok(serde_json::to_value(table)?)
        };
        let mut catalogues = Vec::new();
        for lang in Lang::ALL {
            catalogues.push(catalogue(&format!("web/i18n.{}.toml", lang.as_str()))?);
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
        Ok(Pages {
            env,
            catalogues,
            org: String::new(),
        })
    }

    /// Pages name `org` (the configured organisation) in their header and title.
    pub fn with_org(mut self, org: &str) -> Pages {
        self.org = org.trim().to_string();
        self
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
        if !self.org.is_empty() {
            ctx.entry("org").or_insert_with(|| self.org.clone().into());
        }
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

    fn builtin_catalogue(lang: Lang) -> &'static str {
        crate::templates::builtin(&format!("web/i18n.{}.toml", lang.as_str())).unwrap()
    }

    /// The keys of the public pages: those above the `# Verwaltung` line of the German file.
    fn public_keys() -> Vec<String> {
        let de = builtin_catalogue(Lang::De);
        keys(de.split("# Verwaltung").next().unwrap())
    }

    #[test]
    fn catalogues_have_the_same_keys() {
        assert_eq!(
            keys(builtin_catalogue(Lang::De)),
            keys(builtin_catalogue(Lang::En))
        );
        let public = public_keys();
        assert!(public.len() > 50 && public.contains(&"rsvp_yes_button".to_string()));
        for lang in &Lang::ALL[2..] {
            let text = builtin_catalogue(*lang);
            // Every public text of its own, and nothing the German file does not have.
            assert_eq!(keys(text), public, "{lang:?}");
        }
    }

    #[test]
    fn every_language_has_its_own_public_texts_and_english_admin_texts() {
        let p = Pages::new(None, chrono_tz::Europe::Berlin).unwrap();
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
