//! Pure domain types: parsed at the boundary, no I/O.

mod email;
mod ids;
mod time;

pub use email::{key_hash, AddressError, EmailAddress};
pub use ids::{CampaignId, ContactId, DeliveryId, InboundId, OccasionId, TopicId};
pub use time::{parse_local_span, parse_local_time, TimeError};

use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest name, organisation or other free-text field of a contact, in characters: the
/// same for the API, the subscribe form and the CSV import, so no door takes what another refuses.
pub const MAX_TEXT_CHARS: usize = 200;

/// The longest value of another column of an import (a note, an address), in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

/// Checks a name or organisation (`field` names it in the message): at most
/// [`MAX_TEXT_CHARS`] characters and no NUL or other control character but tab, which no
/// person types and which break exports and terminals.
pub fn check_text_field(field: &str, value: &str) -> Result<(), String> {
    check_field(field, value, MAX_TEXT_CHARS, false)
}

/// Checks a note-like field: at most [`MAX_NOTE_CHARS`] characters; line breaks allowed.
pub fn check_note_field(field: &str, value: &str) -> Result<(), String> {
    check_field(field, value, MAX_NOTE_CHARS, true)
}

fn check_field(field: &str, value: &str, max: usize, lines: bool) -> Result<(), String> {
    let n = value.chars().count();
    if n > max {
        return Err(format!("{field} is longer than {max} characters ({n})"));
    }
    if value.contains('\0') {
        return Err(format!("{field} contains a NUL byte"));
    }
    let allowed = |c: char| c == '\t' || (lines && (c == '\n' || c == '\r'));
    if let Some(c) = value.chars().find(|&c| c.is_control() && !allowed(c)) {
        return Err(format!(
            "{field} contains the control character U+{:04X}",
            u32::from(c)
        ));
    }
    Ok(())
}

/// A contact's language as an ISO 639-1 code. Spreadsheets say "Deutsch", "English", "Türkçe" or
/// "العربية": we accept the common German, English and native names of the neighbourhood's
/// languages too, so exports import cleanly. A name or code that is no ISO 639-1 language is
/// rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Language(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language {0:?} (use a two-letter code such as de or en)")]
pub struct LanguageError(pub String);

/// The languages netzpost brings mail templates and web pages for (the codes of [`Lang::ALL`]).
pub const SUPPORTED_LANGUAGES: [&str; 7] = {
    let mut codes = [""; 7];
    let mut i = 0;
    while i < 7 {
        codes[i] = Lang::ALL[i].as_str();
        i += 1;
    }
    codes
};

/// One of the seven languages netzpost brings mail templates, pages and texts for (a contact's
/// own [`Language`] may be any other): the public pages speak all seven, the admin pages German
/// and English ([`Lang::admin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    De,
    En,
    Tr,
    Ar,
    Uk,
    Ru,
    Pl,
}

impl Lang {
    pub const ALL: [Lang; 7] = [
        Lang::De,
        Lang::En,
        Lang::Tr,
        Lang::Ar,
        Lang::Uk,
        Lang::Ru,
        Lang::Pl,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
            Lang::Tr => "tr",
            Lang::Ar => "ar",
            Lang::Uk => "uk",
            Lang::Ru => "ru",
            Lang::Pl => "pl",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        let code = s.trim().to_ascii_lowercase();
        let code = code.get(..2)?;
        Lang::ALL.into_iter().find(|l| l.as_str() == code)
    }

    /// The admin pages are German and English: other languages see them in English.
    pub fn admin(self) -> Lang {
        match self {
            Lang::De => Lang::De,
            _ => Lang::En,
        }
    }

    /// `rtl` for Arabic, else `ltr`.
    pub fn dir(self) -> &'static str {
        if self == Lang::Ar {
            "rtl"
        } else {
            "ltr"
        }
    }
}

/// ISO 639-1 codes (the ones a template folder may add beyond [`SUPPORTED_LANGUAGES`]).
const ISO_639_1: &str = "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce \
    ch co cr cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv \
    ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr \
    ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn \
    no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so \
    sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh \
    yi yo za zh zu";

impl Language {
    pub fn parse(s: &str) -> Result<Self, LanguageError> {
        let t = s.trim().to_lowercase();
        let code = match t.as_str() {
            "deutsch" | "german" | "ger" | "deu" | "de-de" | "de-at" | "de-ch" | "almanca"
            | "немецкий" | "німецька" | "niemiecki" | "الألمانية" => "de",
            "englisch"
            | "english"
            | "eng"
            | "en-gb"
            | "en-us"
            | "i̇ngilizce"
            | "ingilizce"
            | "английский"
            | "англійська"
            | "angielski"
            | "الإنجليزية" => "en",
            "türkisch" | "turkish" | "türkçe" | "turkce" | "tur" | "турецкий" | "турецька"
            | "turecki" | "التركية" => "tr",
            "arabisch" | "arabic" | "ara" | "العربية" | "عربي" | "arapça" | "arapca"
            | "арабский" | "арабська" | "arabski" => "ar",
            "ukrainisch"
            | "ukrainian"
            | "ukr"
            | "українська"
            | "украинский"
            | "ukraynaca"
            | "ukraiński"
            | "ukrainski"
            | "الأوكرانية" => "uk",
            "russisch" | "russian" | "rus" | "русский" | "російська" | "rusça" | "rusca"
            | "rosyjski" | "الروسية" => "ru",
            "polnisch" | "polish" | "pol" | "polski" | "польский" | "польська" | "lehçe"
            | "lehce" | "البولندية" => "pl",
            "französisch" | "french" | "français" => "fr",
            "spanisch" | "spanish" | "español" => "es",
            "italienisch" | "italian" | "italiano" => "it",
            other => other,
        };
        let base = code.split(['-', '_']).next().unwrap_or_default();
        if base.len() == 2 && ISO_639_1.split_whitespace().any(|c| c == base) {
            Ok(Language(base.to_string()))
        } else {
            Err(LanguageError(s.trim().to_string()))
        }
    }

    /// Its name in itself, for language choosers ("Türkçe", "العربية"); the code if unknown.
    pub fn native_name(code: &str) -> &str {
        match code {
            "de" => "Deutsch",
            "en" => "English",
            "tr" => "Türkçe",
            "ar" => "العربية",
            "uk" => "Українська",
            "ru" => "Русский",
            "pl" => "Polski",
            "fr" => "Français",
            "es" => "Español",
            "it" => "Italiano",
            other => other,
        }
    }

    /// Written right to left.
    pub fn is_rtl(code: &str) -> bool {
        matches!(
            code,
            "ar" | "he" | "fa" | "ur" | "ps" | "yi" | "dv" | "ku" | "sd" | "ug"
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The one of netzpost's seven languages this is, if it is one of them.
    pub fn lang(&self) -> Option<Lang> {
        Lang::parse(&self.0)
    }
}

impl TryFrom<String> for Language {
    type Error = LanguageError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Language::parse(&s)
    }
}

impl From<Language> for String {
    fn from(l: Language) -> String {
        l.0
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a contact wants to be addressed: the contact attribute `salutation` (or `Anrede`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Salutation {
    /// "Hallo Anna Schmidt," (the default).
    #[default]
    Neutral,
    /// By first name: "Liebe Anna,".
    Informal,
    /// "Guten Tag Frau Schmidt,".
    Formal,
}

/// The contact attribute `gender` (or `Geschlecht`), used only for the form of address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Gender {
    Female,
    Male,
    /// Unknown, diverse, or not given: forms of address without Frau/Herr.
    #[default]
    Unspecified,
}

impl Salutation {
    /// `formal`/`Sie`/`förmlich`, `informal`/`du`/`persönlich`, `neutral`; "Frau" and "Herr"
    /// (a German `Anrede` column) mean formal with that gender. Anything else is neutral.
    pub fn parse(s: &str) -> (Salutation, Option<Gender>) {
        match s.trim().to_lowercase().trim_end_matches('.') {
            "formal" | "formell" | "förmlich" | "foermlich" | "sie" | "siz" | "ви" | "вы"
            | "pan/pani" => (Salutation::Formal, None),
            "informal" | "informell" | "persönlich" | "persoenlich" | "du" | "sen" | "ти"
            | "ты" | "ty" => (Salutation::Informal, None),
            "frau" | "ms" | "mrs" | "miss" | "pani" | "hanım" => {
                (Salutation::Formal, Some(Gender::Female))
            }
            "herr" | "mr" | "pan" | "bey" => (Salutation::Formal, Some(Gender::Male)),
            _ => (Salutation::Neutral, None),
        }
    }
}

impl Gender {
    pub fn parse(s: &str) -> Gender {
        match s.trim().to_lowercase().trim_end_matches('.') {
            "f" | "w" | "female" | "weiblich" | "frau" | "woman" | "k" | "kadın" | "ж" => {
                Gender::Female
            }
            "m" | "male" | "männlich" | "maennlich" | "herr" | "man" | "e" | "erkek" | "м" => {
                Gender::Male
            }
            _ => Gender::Unspecified,
        }
    }
}

/// Declares a string-backed enum: `as_str`, `Display`, `FromStr` (trimmed, case-insensitive; a
/// variant may accept further spellings after `|`) and serde under the same names. The store
/// reads and writes these as TEXT in both databases (`store::sql_types`); reading a text that
/// names no variant is an error, never a default.
macro_rules! text_enum {
    (
        $(#[$m:meta])*
        $vis:vis $name:ident {
            $($(#[$vm:meta])* $variant:ident => $text:literal $(| $alias:literal)*),+ $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        $vis enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            #[allow(dead_code)]
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> ::std::result::Result<Self, String> {
                match s.trim().to_lowercase().as_str() {
                    $($text $(| $alias)* => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} {other:?} (one of: {})",
                        stringify!($name),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                // `pad`, so widths and alignment (`{:12}`) apply as they do to strings.
                f.pad(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(
    /// Consent for one topic.
    pub ConsentStatus { Pending => "pending", Confirmed => "confirmed", Unsubscribed => "unsubscribed" }
);

/// What a request that is not the person's own confirmed action (the anonymous subscribe form,
/// an import) may do to the consent for one topic. The one rule for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentRequest {
    /// Record this status.
    Set(ConsentStatus),
    /// Nothing to change: the consent is as wanted or further.
    Keep,
    /// The person withdrew consent (unsubscribed). It comes back only through their own
    /// confirmed action (the confirmation link, the preferences page, a reply), never here.
    Withdrawn,
}

impl ConsentStatus {
    /// `wanted` asked for by a form post or an import, given the `current` consent.
    pub fn request(current: Option<ConsentStatus>, wanted: ConsentStatus) -> ConsentRequest {
        use ConsentStatus::*;
        match (current, wanted) {
            (Some(Unsubscribed), Pending | Confirmed) => ConsentRequest::Withdrawn,
            (None, w) => ConsentRequest::Set(w),
            (Some(Pending), Confirmed) => ConsentRequest::Set(Confirmed),
            _ => ConsentRequest::Keep,
        }
    }
}

text_enum!(
    /// The relation forms beyond the plain contact (form C, which every contact has).
    pub RelationForm { Encounter => "encounter", Cooperation => "cooperation", Group => "group" }
);

text_enum!(
    /// Where a relation stands. `Interested` is cooperation interest not yet agreed.
    pub RelationStatus {
        Interested => "interested",
        Confirmed => "confirmed",
        /// Said yes to a full occasion: on its waiting list.
        Waiting => "waiting",
        Declined => "declined",
        Ended => "ended",
        Undone => "undone",
    }
);

text_enum!(
    /// Why an address must never be mailed.
    pub SuppressionReason {
        HardBounce => "hard_bounce",
        SoftBounces => "soft_bounces",
        Complaint => "complaint",
        Manual => "manual",
        Forgotten => "forgotten",
    }
);

/// Relation statuses that make a contact "active" (no longer silent).
pub const ACTIVE_RELATION_STATUSES: [RelationStatus; 2] =
    [RelationStatus::Interested, RelationStatus::Confirmed];

/// The first day a contact may be invited again after saying `wish` on `today`: "YYYY-MM" is the
/// first of that month; "summer_holidays" the day after the first of `summer_ends` (last days of
/// the summer holidays, sorted) that is not before `today`, or 1 September when none is
/// configured for this year. `None` for a wish netzpost does not know.
pub fn not_before_date(
    wish: &str,
    today: chrono::NaiveDate,
    summer_ends: &[chrono::NaiveDate],
) -> Option<chrono::NaiveDate> {
    use chrono::Datelike;
    if wish == "summer_holidays" {
        return Some(match summer_ends.iter().find(|d| **d >= today) {
            Some(end) => *end + chrono::Duration::days(1),
            None => {
                let this = chrono::NaiveDate::from_ymd_opt(today.year(), 9, 1)?;
                if today < this {
                    this
                } else {
                    chrono::NaiveDate::from_ymd_opt(today.year() + 1, 9, 1)?
                }
            }
        });
    }
    let (y, m) = wish.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    chrono::NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_before_resolves_months_and_the_summer_holidays() {
        let d = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let ends = [d(2026, 8, 1), d(2027, 8, 14)];
        let today = d(2026, 12, 7);
        assert_eq!(
            not_before_date("2027-03", today, &ends),
            Some(d(2027, 3, 1))
        );
        assert_eq!(
            not_before_date("summer_holidays", today, &ends),
            Some(d(2027, 8, 15))
        );
        assert_eq!(
            not_before_date("summer_holidays", d(2027, 8, 14), &ends),
            Some(d(2027, 8, 15))
        );
        // Nothing configured for the coming summer: 1 September.
        assert_eq!(
            not_before_date("summer_holidays", today, &[]),
            Some(d(2027, 9, 1))
        );
        assert_eq!(
            not_before_date("summer_holidays", d(2027, 5, 2), &[]),
            Some(d(2027, 9, 1))
        );
        for bad in ["2027-13", "27-03", "soon", ""] {
            assert_eq!(not_before_date(bad, today, &ends), None, "{bad}");
        }
    }

    #[test]
    fn languages() {
        assert_eq!(Language::parse("Deutsch").unwrap().as_str(), "de");
        assert_eq!(Language::parse(" EN ").unwrap().as_str(), "en");
        assert_eq!(Language::parse("de-AT").unwrap().as_str(), "de");
        assert_eq!(Language::parse("tr").unwrap().as_str(), "tr");
        assert!(Language::parse("Klingonisch").is_err());
        assert!(Language::parse("xx").is_err());
        assert!(Language::parse("zz-ZZ").is_err());
        assert_eq!(Language::parse("fr").unwrap().as_str(), "fr");
        for (name, code) in [
            ("Türkçe", "tr"),
            ("TÜRKÇE", "tr"),
            ("Turkish", "tr"),
            ("Türkisch", "tr"),
            ("العربية", "ar"),
            ("Arabic", "ar"),
            ("Українська", "uk"),
            ("Ukrainisch", "uk"),
            ("Русский", "ru"),
            ("Russian", "ru"),
            ("Polski", "pl"),
            ("polnisch", "pl"),
            ("uk-UA", "uk"),
            ("ar_SY", "ar"),
        ] {
            assert_eq!(Language::parse(name).unwrap().as_str(), code, "{name}");
        }
        for code in SUPPORTED_LANGUAGES {
            assert_eq!(Language::parse(code).unwrap().as_str(), code);
            assert_eq!(
                Language::parse(code).unwrap().lang().unwrap().as_str(),
                code
            );
            assert_eq!(
                Language::parse(Language::native_name(code))
                    .unwrap()
                    .as_str(),
                code
            );
        }
        assert!(Language::parse("d3").is_err());
        assert!(Language::parse("").is_err());
    }

    #[test]
    fn forms_and_imports_never_undo_an_opt_out() {
        use ConsentStatus::*;
        let r = ConsentStatus::request;
        assert_eq!(r(Some(Unsubscribed), Pending), ConsentRequest::Withdrawn);
        assert_eq!(r(Some(Unsubscribed), Confirmed), ConsentRequest::Withdrawn);
        assert_eq!(r(None, Pending), ConsentRequest::Set(Pending));
        assert_eq!(r(Some(Pending), Confirmed), ConsentRequest::Set(Confirmed));
        assert_eq!(r(Some(Pending), Pending), ConsentRequest::Keep);
        assert_eq!(r(Some(Confirmed), Pending), ConsentRequest::Keep);
    }

    #[test]
    fn text_enums_round_trip() {
        for f in RelationForm::ALL {
            assert_eq!(f.as_str().parse::<RelationForm>().unwrap(), *f);
        }
        let err = "friend".parse::<RelationForm>().unwrap_err();
        assert!(err.contains("encounter, cooperation, group"), "{err}");
    }
}

#[cfg(test)]
mod text_field_tests {
    use super::*;

    #[test]
    fn text_fields_are_capped_and_free_of_control_characters() {
        assert!(check_text_field("name", &"ä".repeat(MAX_TEXT_CHARS)).is_ok());
        let long = check_text_field("name", &"ä".repeat(MAX_TEXT_CHARS + 1)).unwrap_err();
        assert!(long.contains("name is longer than 200"), "{long}");
        assert!(check_text_field("name", "Jür\0gen")
            .unwrap_err()
            .contains("NUL"));
        assert!(check_text_field("org", "a\u{1b}[31m")
            .unwrap_err()
            .contains("U+001B"));
        assert!(check_text_field("org", "Verein\tNord").is_ok());
        assert!(check_text_field("org", "Verein\nNord").is_err());
        assert!(check_note_field("Bemerkung", "Zeile 1\r\nZeile 2").is_ok());
        assert!(check_note_field("Bemerkung", "a\0b")
            .unwrap_err()
            .contains("NUL"));
    }
}
