//! What to type about a failure. The library's errors say what is wrong and where; the command
//! line adds the command that shows or fixes it, and prints the two together.

use crate::activation::ActivationError;
use crate::config::SecretError;
use crate::import::ImportError;
use crate::inbound::ReprocessError;
use crate::outbound::dkim::DkimError;
use crate::store::StoreError;
use std::error::Error;

/// `e` as the command line prints it: its causes, then the hint of the first that has one.
pub fn describe(e: &anyhow::Error) -> String {
    match e.chain().find_map(hint) {
        Some(h) => format!("{e:#} ({h})"),
        None => format!("{e:#}"),
    }
}

/// The hint for one error of a chain (transparent wrappers of a store error included).
fn hint(e: &(dyn Error + 'static)) -> Option<String> {
    if let Some(s) = e.downcast_ref::<StoreError>() {
        return store_hint(s);
    }
    if let Some(ImportError::Store(s)) = e.downcast_ref() {
        return store_hint(s);
    }
    if let Some(ActivationError::Store(s)) = e.downcast_ref() {
        return store_hint(s);
    }
    if let Some(ReprocessError::NotQuarantined(_)) = e.downcast_ref() {
        return Some("see `netzpost inbound quarantine`".into());
    }
    if let Some(s) = e.downcast_ref::<SecretError>() {
        return Some(
            match s {
                SecretError::Missing => {
                    "`netzpost init` writes one; `openssl rand -hex 32` makes one"
                }
                SecretError::Short(_) => "`openssl rand -hex 32` makes one",
            }
            .into(),
        );
    }
    if let Some(DkimError::NotEd25519) = e.downcast_ref() {
        return Some("`openssl rsa -in key.pem -traditional` writes an RSA key as PKCS#1".into());
    }
    None
}

fn store_hint(e: &StoreError) -> Option<String> {
    Some(match e {
        StoreError::UnknownTopic(slug) => {
            format!("see `netzpost topics list`; add it with `netzpost topics add {slug}`")
        }
        StoreError::UnknownOccasion(_) => "see `netzpost occasions list`".into(),
        StoreError::UnknownCampaign(_) => "see `netzpost campaigns list`".into(),
        StoreError::UnknownToken(_) => "see `netzpost tokens list`".into(),
        _ => return None,
    })
}

/// The hint for an import row that names a topic that does not exist.
pub fn unknown_topic(slug: &str) -> String {
    format!("add it with `netzpost topics add {slug}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_adds_the_command_to_the_library_message() {
        let e = anyhow::Error::new(StoreError::UnknownTopic("kultur".into())).context("import");
        assert_eq!(
            describe(&e),
            "import: unknown topic \"kultur\" (see `netzpost topics list`; add it with \
             `netzpost topics add kultur`)"
        );
        let e: anyhow::Error =
            ImportError::Store(StoreError::UnknownOccasion("fest".into())).into();
        assert_eq!(
            describe(&e),
            "unknown occasion \"fest\" (see `netzpost occasions list`)"
        );
        let e: anyhow::Error = StoreError::Conflict("exists already".into()).into();
        assert_eq!(describe(&e), "exists already");
    }
}
