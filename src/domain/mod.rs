//! Pure domain types: parsed at the boundary, no I/O.

mod email;

pub use email::{key_hash, AddressError, EmailAddress};

use serde::{Deserialize, Serialize};
use std::fmt;

/// A contact's language as an ISO 639-1 code. Spreadsheets say "Deutsch" or "English": we accept
/// the common names too, so German Excel exports import cleanly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Language(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language {0:?} (use a two-letter code such as de or en)")]
pub struct LanguageError(pub String);

impl Language {
    pub fn parse(s: &str) -> Result<Self, LanguageError> {
        let t = s.trim().to_lowercase();
        let code = match t.as_str() {
            "deutsch" | "german" | "ger" | "deu" | "de-de" | "de-at" | "de-ch" => "de",
            "englisch" | "english" | "eng" | "en-gb" | "en-us" => "en",
            "türkisch" | "turkish" | "türkçe" => "tr",
            "arabisch" | "arabic" => "ar",
            "französisch" | "french" | "français" => "fr",
            "ukrainisch" | "ukrainian" => "uk",
            "russisch" | "russian" => "ru",
            "polnisch" | "polish" => "pl",
            "spanisch" | "spanish" | "español" => "es",
            "italienisch" | "italian" => "it",
            other => other,
        };
        let base = code.split(['-', '_']).next().unwrap_or_default();
        if base.len() == 2 && base.chars().all(|c| c.is_ascii_lowercase()) {
            Ok(Language(base.to_string()))
        } else {
            Err(LanguageError(s.trim().to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
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

/// Declares a string-backed enum stored as text in both databases.
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim().to_lowercase().as_str() {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} {other:?} (one of: {})",
                        stringify!($name),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Consent for one topic.
    ConsentStatus { Pending => "pending", Confirmed => "confirmed", Unsubscribed => "unsubscribed" }
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
    RelationForm { Encounter => "encounter", Cooperation => "cooperation", Group => "group" }
);

text_enum!(
    /// Where a relation stands. `Interested` is cooperation interest not yet agreed.
    RelationStatus {
        Interested => "interested",
        Confirmed => "confirmed",
        Declined => "declined",
        Ended => "ended",
        Undone => "undone",
    }
);

text_enum!(
    /// Why an address must never be mailed.
    SuppressionReason {
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
