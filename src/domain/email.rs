//! E-mail addresses, parsed once at the boundary.
//!
//! We accept what real contact lists contain (plus-addresses, quoted local parts, IDN domains)
//! and reject what cannot be delivered. The domain is stored in its ASCII (punycode) form so the
//! same mailbox written as `straße.de` or `xn--strae-oqa.de` is one contact.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("empty address")]
    Empty,
    #[error("no '@' in address")]
    NoAt,
    #[error("empty local part (before '@')")]
    EmptyLocal,
    #[error("empty domain (after '@')")]
    EmptyDomain,
    #[error("local part longer than 64 characters")]
    LocalTooLong,
    #[error("address longer than 254 characters")]
    TooLong,
    #[error("invalid character {0:?} in local part")]
    BadLocalChar(char),
    #[error("dots misplaced in local part (leading, trailing or doubled)")]
    BadDots,
    #[error("unterminated quoted local part")]
    BadQuote,
    #[error("invalid domain {0:?}")]
    BadDomain(String),
    #[error("domain {0:?} has no top-level part (no dot)")]
    NoDot(String),
}

/// A syntactically valid address: `local@domain`, domain in lower-case ASCII.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress {
    local: String,
    domain: String,
}

const LOCAL_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~.";

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let s = input.trim();
        // Lists exported from address books often carry "Name <addr>" or "mailto:".
        let s = match (s.rfind('<'), s.ends_with('>')) {
            (Some(i), true) => &s[i + 1..s.len() - 1],
            _ => s,
        };
        let s = s.strip_prefix("mailto:").unwrap_or(s).trim();
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        let at = s.rfind('@').ok_or(AddressError::NoAt)?;
        let (local, domain) = (&s[..at], &s[at + 1..]);
        if local.is_empty() {
            return Err(AddressError::EmptyLocal);
        }
        if domain.is_empty() {
            return Err(AddressError::EmptyDomain);
        }
        check_local(local)?;
        let domain = normalise_domain(domain)?;
        if local.len() > 64 {
            return Err(AddressError::LocalTooLong);
        }
        if local.len() + 1 + domain.len() > 254 {
            return Err(AddressError::TooLong);
        }
        Ok(EmailAddress {
            local: local.to_string(),
            domain,
        })
    }

    pub fn local(&self) -> &str {
        &self.local
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The key under which the address is unique: case-insensitive, as every provider that our
    /// users meet treats local parts.
    pub fn key(&self) -> String {
        format!("{}@{}", self.local.to_lowercase(), self.domain)
    }

    /// SHA-256 of the key: what suppressions keep of a forgotten address.
    pub fn key_hash(&self) -> String {
        key_hash(&self.key())
    }
}

pub fn key_hash(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl std::str::FromStr for EmailAddress {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn check_local(local: &str) -> Result<(), AddressError> {
    if let Some(inner) = local.strip_prefix('"') {
        let inner = inner.strip_suffix('"').ok_or(AddressError::BadQuote)?;
        let mut escaped = false;
        for c in inner.chars() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => return Err(AddressError::BadQuote),
                (false, c) if c.is_control() => return Err(AddressError::BadLocalChar(c)),
                _ => {}
            }
        }
        return if escaped {
            Err(AddressError::BadQuote)
        } else {
            Ok(())
        };
    }
    for c in local.chars() {
        // Non-ASCII letters are allowed (RFC 6531); spaces, commas, brackets are not.
        let ok = c.is_alphanumeric() || LOCAL_SPECIALS.contains(c);
        if !ok {
            return Err(AddressError::BadLocalChar(c));
        }
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(AddressError::BadDots);
    }
    Ok(())
}

fn normalise_domain(domain: &str) -> Result<String, AddressError> {
    let bad = || AddressError::BadDomain(domain.to_string());
    if domain.starts_with('[') {
        // Address literals are legal but never what a neighbourhood contact list means.
        return Err(bad());
    }
    let ascii = idna::domain_to_ascii(domain.trim_end_matches('.')).map_err(|_| bad())?;
    if ascii.is_empty() {
        return Err(bad());
    }
    if !ascii.contains('.') {
        return Err(AddressError::NoDot(domain.to_string()));
    }
    for label in ascii.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return Err(bad());
        }
    }
    let tld = ascii.rsplit('.').next().unwrap_or_default();
    if tld.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    Ok(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap_or_else(|e| panic!("{s:?} rejected: {e}"))
    }

    #[test]
    fn plain_and_case() {
        let a = ok("  Anna.Schmidt@Example.ORG ");
        assert_eq!(a.to_string(), "Anna.Schmidt@example.org");
        assert_eq!(a.key(), "anna.schmidt@example.org");
        assert_eq!(ok("anna.schmidt@example.org").key(), a.key());
    }

    #[test]
    fn plus_address_is_kept() {
        let a = ok("kim+netzwerk@posteo.de");
        assert_eq!(a.local(), "kim+netzwerk");
        assert_ne!(a.key(), ok("kim@posteo.de").key());
    }

    #[test]
    fn idn_domain_becomes_punycode() {
        let a = ok("info@straße-der-vielfalt.de");
        assert!(a.domain().starts_with("xn--"), "{}", a.domain());
        assert_eq!(a.key(), ok(&format!("INFO@{}", a.domain())).key());
        assert_eq!(
            ok("post@bücherei.example").domain(),
            "xn--bcherei-n2a.example"
        );
    }

    #[test]
    fn quoted_local_part() {
        assert_eq!(
            ok("\"Erika Muster\"@example.de").local(),
            "\"Erika Muster\""
        );
        assert_eq!(ok(r#""a\"b"@example.de"#).local(), r#""a\"b""#);
        assert_eq!(
            EmailAddress::parse("\"open@example.de"),
            Err(AddressError::BadQuote)
        );
    }

    #[test]
    fn display_forms_are_unwrapped() {
        assert_eq!(
            ok("Erika <erika@example.de>").to_string(),
            "erika@example.de"
        );
        assert_eq!(
            ok("mailto:erika@example.de").to_string(),
            "erika@example.de"
        );
    }

    #[test]
    fn junk_is_rejected() {
        let cases = [
            ("", AddressError::Empty),
            ("erika", AddressError::NoAt),
            ("@example.de", AddressError::EmptyLocal),
            ("erika@", AddressError::EmptyDomain),
            ("erika@localhost", AddressError::NoDot("localhost".into())),
            ("er ika@example.de", AddressError::BadLocalChar(' ')),
            ("erika,m@example.de", AddressError::BadLocalChar(',')),
            (".erika@example.de", AddressError::BadDots),
            ("erika..m@example.de", AddressError::BadDots),
        ];
        for (input, want) in cases {
            assert_eq!(EmailAddress::parse(input), Err(want), "{input:?}");
        }
        for bad in [
            "erika@exa mple.de",
            "erika@-example.de",
            "erika@example..de",
            "erika@[127.0.0.1]",
            "erika@1.2.3.4",
            "erika@exam_ple.de",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@example.de", "a".repeat(65));
        assert_eq!(EmailAddress::parse(&long), Err(AddressError::LocalTooLong));
    }
}
