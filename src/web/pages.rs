//! Server-rendered pages: minijinja templates under `templates/web/` (compiled into the binary,
//! overridable by files of the same name under the configured `templates_dir`), and the text
//! catalogues `i18n.de.toml` / `i18n.en.toml` that the templates read as `t.<key>`.
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

const CATALOGUE_DE: &str = include_str!("../../templates/web/i18n.de.toml");
const CATALOGUE_EN: &str = include_str!("../../templates/web/i18n.en.toml");

pub struct Pages {
    env: Environment<'static>,
    de: serde_json::Value,
    en: serde_json::Value,
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
        Ok(Pages {
            env,
            de: catalogue("i18n.de.toml", CATALOGUE_DE)?,
            en: catalogue("i18n.en.toml", CATALOGUE_EN)?,
        })
    }

    pub fn text(&self, lang: Lang, key: &str) -> String {
        self.catalogue(lang)
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or(key)
            .to_string()
    }

    fn catalogue(&self, lang: Lang) -> &serde_json::Value {
        match lang {
            Lang::De => &self.de,
            Lang::En => &self.en,
        }
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

    #[test]
    fn catalogues_have_the_same_keys() {
        let p = Pages::new(None).unwrap();
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&p.de), keys(&p.en));
    }
}
