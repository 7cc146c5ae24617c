//! Typed row ids: a contact id cannot be passed where a topic id is meant. Each is an `i64` on
//! the wire (serde transparent) and in the database (`store::sql_types` adds the sqlx glue, so
//! the domain does not depend on the database).

macro_rules! id_type {
    ($($(#[$m:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$m])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                $name(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse().map($name)
            }
        }
    )+};
}

id_type!(
    /// A row of `contacts`.
    ContactId,
    /// A row of `topics`.
    TopicId,
    /// A row of `campaigns`.
    CampaignId,
    /// A row of `occasions`.
    OccasionId,
    /// A row of `inbound_messages`.
    InboundId,
    /// A row of `deliveries`.
    DeliveryId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_numbers_outside() {
        let id: ContactId = " 42 ".parse().unwrap();
        assert_eq!(id, ContactId(42));
        assert_eq!(id.to_string(), "42");
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        assert_eq!(serde_json::from_str::<TopicId>("7").unwrap(), TopicId(7));
        assert!("x".parse::<CampaignId>().is_err());
    }
}
