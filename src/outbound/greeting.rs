//! The greeting every mail starts with, by name, in the contact's language and form of address.
//!
//! The form comes from the contact's attributes (imported as free columns, see
//! [`address_fields`]): `salutation` = `neutral` (default) | `informal` | `formal`, `gender` =
//! `f` | `m` (anything else: unspecified), `title` (`Dr.`), and optionally `first_name` /
//! `last_name` when `name` does not split well. Without a name the greeting has none.
//!
//! | form | de | en |
//! |---|---|---|
//! | neutral | Hallo Anna Schmidt, | Hello Anna Schmidt, |
//! | informal | Liebe Anna, / Lieber Jan, / Hallo Anna, | Hi Anna, |
//! | formal | Guten Tag Frau Dr. Schmidt, / Guten Tag Herr Schmidt, / Guten Tag Anna Schmidt, | Dear Ms Schmidt, / Dear Dr Schmidt, / Dear Anna Schmidt, |
//! | no name | Hallo, (formal: Guten Tag,) | Hello, |
//!
//! and the same in tr, ar, uk, ru and pl (see the tests). Polish formal address leaves the name
//! out ("Szanowna Pani,"), as Polish letters do.

use crate::domain::{Gender, Salutation};

/// Attribute names (lower-cased) read for each field, English first.
const FIELDS: [(&str, &[&str]); 5] = [
    ("salutation", &["salutation", "anrede", "form_of_address"]),
    ("gender", &["gender", "geschlecht", "sex"]),
    ("title", &["title", "titel"]),
    (
        "first_name",
        &["first_name", "firstname", "vorname", "given_name"],
    ),
    (
        "last_name",
        &[
            "last_name",
            "lastname",
            "nachname",
            "surname",
            "family_name",
        ],
    ),
];

/// The form-of-address fields of a contact's attributes (a JSON object text), under the names the
/// templates see (`contact.salutation` ...). Keys match case-insensitively, German or English.
pub fn address_fields(attributes: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    if attributes.len() <= 2 {
        return out;
    }
    let Ok(serde_json::Value::Object(attrs)) = serde_json::from_str(attributes) else {
        return out;
    };
    for (k, v) in &attrs {
        let Some(v) = v.as_str().map(str::trim).filter(|v| !v.is_empty()) else {
            continue;
        };
        let key = k.trim().to_lowercase().replace([' ', '-'], "_");
        if let Some((field, _)) = FIELDS
            .iter()
            .find(|(_, names)| names.contains(&key.as_str()))
        {
            out.entry(field.to_string())
                .or_insert_with(|| serde_json::Value::String(v.to_string()));
        }
    }
    out
}

/// Who is greeted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addressee {
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub title: Option<String>,
    pub salutation: Salutation,
    pub gender: Gender,
}

impl Addressee {
    /// From the template context's `contact` object.
    pub fn from_contact(c: &serde_json::Value) -> Addressee {
        let s = |k: &str| {
            c.get(k)
                .and_then(|v| v.as_str())
                .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|v| !v.is_empty())
        };
        let (salutation, implied) =
            s("salutation").map_or((Salutation::Neutral, None), |v| Salutation::parse(&v));
        let gender = match s("gender").map(|g| Gender::parse(&g)) {
            Some(g) if g != Gender::Unspecified => g,
            _ => implied.unwrap_or_default(),
        };
        Addressee {
            name: s("name"),
            first_name: s("first_name"),
            last_name: s("last_name"),
            title: s("title"),
            salutation,
            gender,
        }
    }

    /// The full name: `name`, or first and last name.
    fn full(&self) -> Option<String> {
        self.name
            .clone()
            .or_else(|| match (&self.first_name, &self.last_name) {
                (Some(f), Some(l)) => Some(format!("{f} {l}")),
                (f, l) => f.clone().or_else(|| l.clone()),
            })
    }

    fn first(&self) -> Option<String> {
        self.first_name.clone().or_else(|| {
            self.name
                .as_deref()
                .and_then(|n| n.split_whitespace().next())
                .map(str::to_string)
        })
    }

    /// The family name: `last_name`, or the name from its first particle (von, van, de ...) or
    /// its last word; none for a one-word name.
    fn last(&self) -> Option<String> {
        if let Some(l) = &self.last_name {
            return Some(l.clone());
        }
        let words: Vec<&str> = self.name.as_deref()?.split_whitespace().collect();
        if words.len() < 2 {
            return None;
        }
        const PARTICLES: [&str; 12] = [
            "von", "van", "de", "der", "den", "zu", "vom", "da", "di", "al", "el", "ten",
        ];
        let from = (1..words.len())
            .find(|&i| PARTICLES.contains(&words[i]) && i + 1 < words.len())
            .unwrap_or(words.len() - 1);
        Some(words[from..].join(" "))
    }
}

/// The greeting line in `lang` (with its closing punctuation), or `None` for a language without
/// built-in greetings.
pub fn greeting(lang: &str, a: &Addressee) -> Option<String> {
    let title = a
        .title
        .as_deref()
        .map(|t| format!("{t} "))
        .unwrap_or_default();
    let (full, first, last) = (a.full(), a.first(), a.last());
    let (f, m) = (a.gender == Gender::Female, a.gender == Gender::Male);
    let g = match lang {
        "de" => match (a.salutation, &full) {
            (Salutation::Formal, None) => "Guten Tag,".to_string(),
            (_, None) => "Hallo,".to_string(),
            (Salutation::Neutral, Some(n)) => format!("Hallo {n},"),
            (Salutation::Informal, Some(n)) => {
                let first = first.unwrap_or_else(|| n.clone());
                match (f, m) {
                    (true, _) => format!("Liebe {first},"),
                    (_, true) => format!("Lieber {first},"),
                    _ => format!("Hallo {first},"),
                }
            }
            (Salutation::Formal, Some(n)) => match (f, m, last) {
                (true, _, Some(l)) => format!("Guten Tag Frau {title}{l},"),
                (_, true, Some(l)) => format!("Guten Tag Herr {title}{l},"),
                _ => format!("Guten Tag {title}{n},"),
            },
        },
        "en" => match (a.salutation, &full) {
            (_, None) => "Hello,".to_string(),
            (Salutation::Neutral, Some(n)) => format!("Hello {n},"),
            (Salutation::Informal, Some(n)) => format!("Hi {},", first.unwrap_or(n.clone())),
            (Salutation::Formal, Some(n)) => {
                // English: a title replaces Ms/Mr ("Dear Dr Smith").
                let title = a.title.as_deref().map(|t| t.trim_end_matches('.'));
                match (title, f, m, last) {
                    (Some(t), _, _, Some(l)) => format!("Dear {t} {l},"),
                    (None, true, _, Some(l)) => format!("Dear Ms {l},"),
                    (None, _, true, Some(l)) => format!("Dear Mr {l},"),
                    _ => format!("Dear {n},"),
                }
            }
        },
        // Turkish: "Sayın" + full name is the formal form for anyone; "Sevgili" is warm.
        "tr" => match (a.salutation, &full) {
            (_, None) => "Merhaba,".to_string(),
            (Salutation::Neutral, Some(n)) => format!("Merhaba {n},"),
            (Salutation::Informal, Some(n)) => format!("Sevgili {},", first.unwrap_or(n.clone())),
            (Salutation::Formal, Some(n)) => format!("Sayın {title}{n},"),
        },
        "ar" => match (a.salutation, &full) {
            (_, None) => "مرحبًا،".to_string(),
            (Salutation::Neutral, Some(n)) => format!("مرحبًا {n}،"),
            (Salutation::Informal, Some(n)) => {
                let first = first.unwrap_or_else(|| n.clone());
                match (f, m) {
                    (true, _) => format!("عزيزتي {first}،"),
                    (_, true) => format!("عزيزي {first}،"),
                    _ => format!("مرحبًا {first}،"),
                }
            }
            (Salutation::Formal, Some(n)) => match (f, m) {
                (true, _) => format!("حضرة السيدة {title}{n} المحترمة،"),
                (_, true) => format!("حضرة السيد {title}{n} المحترم،"),
                _ => format!("مرحبًا {title}{n}،"),
            },
        },
        "uk" => match (a.salutation, &full) {
            (_, None) => "Добрий день!".to_string(),
            (Salutation::Neutral, Some(n)) => format!("Добрий день, {n}!"),
            (Salutation::Informal, Some(n)) => {
                let first = first.unwrap_or_else(|| n.clone());
                match (f, m) {
                    (true, _) => format!("Дорога {first}!"),
                    (_, true) => format!("Дорогий {first}!"),
                    _ => format!("Привіт, {first}!"),
                }
            }
            (Salutation::Formal, Some(n)) => match (f, m) {
                (true, _) => format!("Шановна пані {title}{}!", last.unwrap_or(n.clone())),
                (_, true) => format!("Шановний пане {title}{}!", last.unwrap_or(n.clone())),
                _ => format!("Добрий день, {title}{n}!"),
            },
        },
        "ru" => match (a.salutation, &full) {
            (_, None) => "Здравствуйте!".to_string(),
            (Salutation::Neutral, Some(n)) => format!("Здравствуйте, {n}!"),
            (Salutation::Informal, Some(n)) => {
                let first = first.unwrap_or_else(|| n.clone());
                match (f, m) {
                    (true, _) => format!("Дорогая {first}!"),
                    (_, true) => format!("Дорогой {first}!"),
                    _ => format!("Привет, {first}!"),
                }
            }
            (Salutation::Formal, Some(n)) => match (f, m) {
                (true, _) => format!("Уважаемая {title}{n}!"),
                (_, true) => format!("Уважаемый {title}{n}!"),
                _ => format!("Здравствуйте, {title}{n}!"),
            },
        },
        "pl" => match (a.salutation, &full) {
            (_, None) => "Dzień dobry,".to_string(),
            (Salutation::Neutral, Some(n)) => format!("Dzień dobry {n},"),
            (Salutation::Informal, Some(n)) => {
                let first = first.unwrap_or_else(|| n.clone());
                match (f, m) {
                    (true, _) => format!("Droga {first},"),
                    (_, true) => format!("Drogi {first},"),
                    _ => format!("Cześć {first},"),
                }
            }
            (Salutation::Formal, Some(n)) => match (f, m) {
                (true, _) => "Szanowna Pani,".to_string(),
                (_, true) => "Szanowny Panie,".to_string(),
                _ => format!("Dzień dobry {n},"),
            },
        },
        _ => return None,
    };
    Some(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn greet(lang: &str, contact: serde_json::Value) -> String {
        greeting(lang, &Addressee::from_contact(&contact)).unwrap()
    }

    #[test]
    fn german_forms_of_address() {
        let anna = |extra: serde_json::Value| {
            let mut c = json!({"name": "Anna Schmidt"});
            c.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            greet("de", c)
        };
        assert_eq!(anna(json!({})), "Hallo Anna Schmidt,");
        assert_eq!(
            anna(json!({"salutation": "neutral"})),
            "Hallo Anna Schmidt,"
        );
        assert_eq!(
            anna(json!({"salutation": "informal", "gender": "f"})),
            "Liebe Anna,"
        );
        assert_eq!(
            anna(json!({"salutation": "du", "gender": "m"})),
            "Lieber Anna,"
        );
        assert_eq!(anna(json!({"salutation": "du"})), "Hallo Anna,");
        assert_eq!(
            anna(json!({"salutation": "formal", "gender": "w"})),
            "Guten Tag Frau Schmidt,"
        );
        assert_eq!(
            anna(json!({"salutation": "Frau"})),
            "Guten Tag Frau Schmidt,"
        );
        assert_eq!(
            anna(json!({"salutation": "Sie", "gender": "female", "title": "Dr."})),
            "Guten Tag Frau Dr. Schmidt,"
        );
        assert_eq!(
            anna(json!({"salutation": "Herr"})),
            "Guten Tag Herr Schmidt,"
        );
        assert_eq!(
            anna(json!({"salutation": "formal"})),
            "Guten Tag Anna Schmidt,"
        );
        assert_eq!(greet("de", json!({"name": null})), "Hallo,");
        assert_eq!(greet("de", json!({})), "Hallo,");
        assert_eq!(greet("de", json!({"name": "  "})), "Hallo,");
        assert_eq!(greet("de", json!({"salutation": "formal"})), "Guten Tag,");
        assert_eq!(
            greet(
                "de",
                json!({"name": "Karl von der Heide", "salutation": "Herr"})
            ),
            "Guten Tag Herr von der Heide,"
        );
        assert_eq!(
            greet(
                "de",
                json!({"name": "Anna Maria Schmidt-Öz", "first_name": "Anna Maria",
                       "salutation": "informal", "gender": "f"})
            ),
            "Liebe Anna Maria,"
        );
        // A one-word name in the formal form: no Frau/Herr with a first name.
        assert_eq!(
            greet("de", json!({"name": "Anna", "salutation": "Frau"})),
            "Guten Tag Anna,"
        );
    }

    #[test]
    fn every_language_has_the_three_forms_and_a_nameless_greeting() {
        let neutral = json!({"name": "Anna Schmidt"});
        let informal = json!({"name": "Anna Schmidt", "salutation": "informal", "gender": "f"});
        let formal = json!({"name": "Anna Schmidt", "salutation": "formal", "gender": "f"});
        let formal_m = json!({"name": "Jan Kowal", "salutation": "formal", "gender": "m"});
        let nameless = json!({"email": "x@example.org"});
        let expected = [
            (
                "en",
                [
                    "Hello Anna Schmidt,",
                    "Hi Anna,",
                    "Dear Ms Schmidt,",
                    "Dear Mr Kowal,",
                    "Hello,",
                ],
            ),
            (
                "tr",
                [
                    "Merhaba Anna Schmidt,",
                    "Sevgili Anna,",
                    "Sayın Anna Schmidt,",
                    "Sayın Jan Kowal,",
                    "Merhaba,",
                ],
            ),
            (
                "ar",
                [
                    "مرحبًا Anna Schmidt،",
                    "عزيزتي Anna،",
                    "حضرة السيدة Anna Schmidt المحترمة،",
                    "حضرة السيد Jan Kowal المحترم،",
                    "مرحبًا،",
                ],
            ),
            (
                "uk",
                [
                    "Добрий день, Anna Schmidt!",
                    "Дорога Anna!",
                    "Шановна пані Schmidt!",
                    "Шановний пане Kowal!",
                    "Добрий день!",
                ],
            ),
            (
                "ru",
                [
                    "Здравствуйте, Anna Schmidt!",
                    "Дорогая Anna!",
                    "Уважаемая Anna Schmidt!",
                    "Уважаемый Jan Kowal!",
                    "Здравствуйте!",
                ],
            ),
            (
                "pl",
                [
                    "Dzień dobry Anna Schmidt,",
                    "Droga Anna,",
                    "Szanowna Pani,",
                    "Szanowny Panie,",
                    "Dzień dobry,",
                ],
            ),
        ];
        for (lang, [n, i, f, m, none]) in expected {
            assert_eq!(greet(lang, neutral.clone()), n, "{lang}");
            assert_eq!(greet(lang, informal.clone()), i, "{lang}");
            assert_eq!(greet(lang, formal.clone()), f, "{lang}");
            assert_eq!(greet(lang, formal_m.clone()), m, "{lang}");
            assert_eq!(greet(lang, nameless.clone()), none, "{lang}");
        }
        assert_eq!(
            greet(
                "en",
                json!({"name": "Anna Schmidt", "salutation": "formal", "title": "Dr."})
            ),
            "Dear Dr Schmidt,"
        );
        assert!(greeting("fr", &Addressee::default()).is_none());
    }

    #[test]
    fn address_fields_from_attributes() {
        let f = address_fields(
            r#"{"Anrede": "Frau", "Titel": "Dr.", "Stadtteil": "Nord", "Gender": " ", "Vorname": "Anna"}"#,
        );
        assert_eq!(
            serde_json::Value::Object(f),
            json!({"salutation": "Frau", "title": "Dr.", "first_name": "Anna"})
        );
        assert!(address_fields("{}").is_empty());
        assert!(address_fields("not json").is_empty());
    }
}
