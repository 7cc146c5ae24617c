//! The sqlx glue for domain types, so the domain stays free of the database: ids are read and
//! written as their integer, text enums as TEXT, and reading a text that names no variant is a
//! decode error (a row that breaks the schema's CHECK is a bug to surface, not a default to
//! guess).

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

/// Implements `Type`, `Encode` and `Decode` for string-backed enums (`as_str` and `FromStr`), for
/// every database whose `str` they mirror.
macro_rules! text_column {
    ($($t:ty),+ $(,)?) => {$(
        impl<DB: Database> Type<DB> for $t
        where
            str: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $t
        where
            &'q str: Encode<'q, DB>,
        {
            fn encode_by_ref(&self, buf: &mut DB::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&'q str as Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $t
        where
            &'r str: Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&'r str as Decode<'r, DB>>::decode(value)?;
                Ok(text.parse::<$t>()?)
            }
        }
    )+};
}

text_column!(
    crate::domain::ConsentStatus,
    crate::domain::RelationForm,
    crate::domain::RelationStatus,
    crate::domain::SuppressionReason,
    crate::store::campaigns::CampaignKind,
    crate::store::campaigns::CampaignStatus,
    crate::store::decisions::DecisionStatus,
    crate::store::inbound::InboundStatus,
    crate::store::activities::ActivityKind,
    crate::store::directory::ContactState,
    crate::classify::MessageKind,
    crate::classify::Intent,
);

/// Implements `Type`, `Encode` and `Decode` for the id newtypes as their `i64`.
macro_rules! id_column {
    ($($t:ty),+ $(,)?) => {$(
        impl<DB: Database> Type<DB> for $t
        where
            i64: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <i64 as Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <i64 as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $t
        where
            i64: Encode<'q, DB>,
        {
            fn encode_by_ref(&self, buf: &mut DB::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <i64 as Encode<'q, DB>>::encode_by_ref(&self.0, buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $t
        where
            i64: Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(Self(<i64 as Decode<'r, DB>>::decode(value)?))
            }
        }
    )+};
}

id_column!(
    crate::domain::ContactId,
    crate::domain::TopicId,
    crate::domain::CampaignId,
    crate::domain::OccasionId,
    crate::domain::InboundId,
    crate::domain::DeliveryId,
);

#[cfg(test)]
mod tests {
    use crate::domain::ContactId;
    use crate::store::campaigns::CampaignStatus;
    use crate::store::{on_db, Db};

    /// A stored text that names no variant is an error, not a default; a known one round-trips.
    async fn columns_decode_strictly(db: Db) {
        let (ok, bad) = on_db!(&db, p => {
            let ok: CampaignStatus = sqlx::query_scalar("SELECT $1")
                .bind(CampaignStatus::Paused)
                .fetch_one(p)
                .await
                .unwrap();
            let bad = sqlx::query_scalar::<_, CampaignStatus>("SELECT 'sending'")
                .fetch_one(p)
                .await;
            (ok, bad)
        });
        assert_eq!(ok, CampaignStatus::Paused);
        let id: ContactId = on_db!(&db, p => {
            // Another statement text than the one above: sqlx caches prepared statements by
            // their text, and PostgreSQL typed that one's parameter as text.
            sqlx::query_scalar("SELECT $1 AS id").bind(ContactId(7)).fetch_one(p).await.unwrap()
        });
        assert_eq!(id, ContactId(7));
        let err = bad.unwrap_err().to_string();
        assert!(err.contains("unknown CampaignStatus \"sending\""), "{err}");
    }

    #[tokio::test]
    async fn columns_decode_strictly_sqlite() {
        columns_decode_strictly(Db::open("sqlite::memory:").await.unwrap()).await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: set NETZPOST_TEST_POSTGRES_URL"]
    async fn columns_decode_strictly_postgres() {
        columns_decode_strictly(crate::store::testing::fresh_postgres().await).await;
    }
}
