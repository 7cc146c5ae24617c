//! Successors in automatic replies: "Frau Alt hat die Einrichtung verlassen; ihre Nachfolgerin
//! ist Jana Neu (jana.neu@schule.example)", "my new address is ...". Pure: the visible text and
//! the sender in, what was found out; the patterns are data (`config/successors.toml`).

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// What an auto-reply says about who to write to instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Successor {
    /// The person who left, as the text names them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<String>,
    /// Who took over, as the text names them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where to write instead (lower-cased).
    pub email: String,
    /// Only the address changed (the same person), no one else took over.
    #[serde(default)]
    pub new_address: bool,
}

/// The compiled patterns.
#[derive(Debug)]
pub struct SuccessorRules {
    left: Vec<Regex>,
    successor: Vec<Regex>,
    new_address: Vec<Regex>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    left: Vec<Pattern>,
    #[serde(default)]
    successor: Vec<Pattern>,
    #[serde(default)]
    new_address: Vec<Pattern>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pattern {
    #[allow(dead_code)]
    lang: Option<String>,
    pattern: String,
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+").expect("regex")
});

static BUILTIN: LazyLock<SuccessorRules> = LazyLock::new(|| {
    SuccessorRules::from_toml(
        include_str!("../../config/successors.toml"),
        "config/successors.toml",
    )
    .expect("the bundled successor patterns compile")
});

impl SuccessorRules {
    /// The patterns shipped with netzpost (config/successors.toml, compiled in).
    pub fn builtin() -> &'static SuccessorRules {
        &BUILTIN
    }

    /// Parses and compiles `text`; errors name `file` and the failing pattern.
    pub fn from_toml(text: &str, file: &str) -> Result<SuccessorRules, String> {
        let f: File = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        let compile = |list: Vec<Pattern>, table: &str| {
            list.into_iter()
                .enumerate()
                .map(|(i, p)| {
                    Regex::new(&p.pattern)
                        .map_err(|e| format!("{file}: [[{table}]] number {}: {e}", i + 1))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(SuccessorRules {
            left: compile(f.left, "left")?,
            successor: compile(f.successor, "successor")?,
            new_address: compile(f.new_address, "new_address")?,
        })
    }
}

/// Looks for a successor or a new address in `text` (an auto-reply's visible text) sent from
/// `from`. A successor needs a sign that the person left or a named successor, and an address
/// that is not the sender's: the pattern's own, else the first other address in the text.
pub fn find(rules: &SuccessorRules, text: &str, from: Option<&str>) -> Option<Successor> {
    let from = from.map(str::to_lowercase);
    let usable = |e: &str| {
        let e = e.trim_end_matches('.').to_lowercase();
        (Some(&e) != from.as_ref()).then_some(e)
    };
    let cap = |c: &regex::Captures, name: &str| {
        c.name(name)
            .map(|m| m.as_str().trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let left = rules.left.iter().find_map(|r| r.captures(text));
    let left_who = left.as_ref().and_then(|c| cap(c, "who"));
    let named = rules.successor.iter().find_map(|r| r.captures(text));
    if left.is_some() || named.is_some() {
        let name = named.as_ref().and_then(|c| cap(c, "name"));
        let email = named
            .as_ref()
            .and_then(|c| cap(c, "email"))
            .and_then(|e| usable(&e))
            .or_else(|| EMAIL.find_iter(text).find_map(|m| usable(m.as_str())));
        if let Some(email) = email {
            return Some(Successor {
                left: left_who,
                name,
                email,
                new_address: false,
            });
        }
    }
    rules.new_address.iter().find_map(|r| {
        let c = r.captures(text)?;
        let email = usable(&cap(&c, "email")?)?;
        Some(Successor {
            left: None,
            name: None,
            email,
            new_address: true,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find_in(text: &str) -> Option<Successor> {
        find(SuccessorRules::builtin(), text, Some("alt@schule.example"))
    }

    #[test]
    fn a_german_auto_reply_names_who_left_and_the_successor() {
        let s = find_in(
            "Guten Tag,\n\nFrau Erika Alt hat die Einrichtung verlassen. Ihre Nachfolgerin ist \
             Frau Jana Neu (jana.neu@schule.example).\nMit freundlichen Grüßen",
        )
        .unwrap();
        assert_eq!(s.left.as_deref(), Some("Erika Alt"));
        assert_eq!(s.name.as_deref(), Some("Jana Neu"));
        assert_eq!(s.email, "jana.neu@schule.example");
        assert!(!s.new_address);
        let s = find_in(
            "Ich bin nicht mehr im Stadtteilbüro tätig. Bitte wenden Sie sich künftig an \
             Herrn Paul Weber, weber@stadtteil.example.",
        )
        .unwrap();
        assert_eq!(s.email, "weber@stadtteil.example");
    }

    #[test]
    fn an_english_auto_reply_names_the_successor() {
        let s = find_in(
            "Thank you for your message. Ms Erika Alt has left the organisation. Her successor \
             is Jana Neu (jana.neu@school.example).",
        )
        .unwrap();
        assert_eq!(s.left.as_deref(), Some("Erika Alt"));
        assert_eq!(s.name.as_deref(), Some("Jana Neu"));
        assert_eq!(s.email, "jana.neu@school.example");
        let s = find_in("I am no longer with the school. Please contact office@school.example.")
            .unwrap();
        assert_eq!(s.email, "office@school.example");
    }

    #[test]
    fn a_new_address_and_an_ordinary_absence() {
        let s = find_in("Meine neue E-Mail-Adresse lautet: erika@neu.example").unwrap();
        assert!(s.new_address);
        assert_eq!(s.email, "erika@neu.example");
        let s = find_in("My new address is erika@new.example.").unwrap();
        assert_eq!(s.email, "erika@new.example");
        // Away for a while, with a deputy for urgent matters: nobody left, no proposal.
        assert_eq!(
            find_in("Ich bin bis 14.8. im Urlaub. In dringenden Fällen: vertretung@schule.example"),
            None
        );
        assert_eq!(find_in("Out of office until Monday."), None);
        // The sender's own address is never its successor.
        assert_eq!(
            find_in("Ich bin nicht mehr im Haus, schreiben Sie an alt@schule.example"),
            None
        );
    }
}
