//! Which templates there are: the built-ins and the user folder's, compiled at start-up, and
//! the language each mail is rendered in.

use super::filters::register_filters;
use super::{
    escape_html, normalize_lang, valid_lang, MailKind, Renderer, TemplateError, RENDER_FUEL,
};
use chrono_tz::Tz;
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

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
            bodies: Default::default(),
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
            .find(|k| !k.de_en_only() && !self.available.contains(&(*k, lang.clone())))
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
                    .all(|k| k.de_en_only() || self.available.contains(&(*k, l.clone())))
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
        } else if kind.de_en_only() && !self.available.contains(&(kind, self.default_lang.clone()))
        {
            "de".to_string()
        } else {
            self.default_lang.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::html::push_escaped;
    use super::super::{sample_context, BUILTIN_LANGUAGES};
    use super::*;
    use crate::outbound::greeting::{greeting, Addressee};

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
                let used = if kind.de_en_only() && !["de", "en"].contains(&lang) {
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
                        used,
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
}
