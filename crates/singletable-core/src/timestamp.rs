//! Serde helpers that store an `OffsetDateTime` as text that sorts in time order:
//! `#[serde(with = "singletable::timestamp")]`, and
//! `#[serde(default, with = "singletable::timestamp::option")]` for an `Option<OffsetDateTime>`.
//!
//! DynamoDB compares strings byte by byte. `time::serde::rfc3339` writes as many digits of the
//! fraction as a time needs (`2026-11-24T04:56:06.76Z`, `2026-11-24T04:56:06Z`) and keeps its
//! offset, so stored times do not sort as text in time order: `…06.76Z` sorts before `…06Z`.
//! These helpers write what `_timestamp` and timestamps in keys hold, and what
//! dynamodb-provider writes with JavaScript's `toISOString()`: UTC, cut to milliseconds, always
//! 24 characters (`2026-11-24T04:56:06.760Z`). Then string order is time order wherever the
//! stored text is compared: in conditions and filters, in an index sorted on the attribute, and
//! in the other services that read the table.
//!
//! Reading accepts any RFC 3339 text, so items written by other writers (`…06Z`, `…06+02:00`)
//! still read. Writing a time whose UTC year is outside 0000 to 9999, which 24 characters cannot
//! hold, is an error.
//!
//! ```
//! # use singletable_core as singletable;
//! use serde::{Deserialize, Serialize};
//! use time::{macros::datetime, OffsetDateTime};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Invoice {
//!     #[serde(with = "singletable::timestamp")]
//!     issued_at: OffsetDateTime,
//!     #[serde(default, with = "singletable::timestamp::option")]
//!     paid_at: Option<OffsetDateTime>,
//! }
//!
//! # fn main() -> Result<(), serde_json::Error> {
//! let invoice = Invoice {
//!     issued_at: datetime!(2026-11-24 06:56:06.76 +02:00),
//!     paid_at: None,
//! };
//! let json = serde_json::to_string(&invoice)?;
//! assert_eq!(json, r#"{"issued_at":"2026-11-24T04:56:06.760Z","paid_at":null}"#);
//! assert_eq!(serde_json::from_str::<Invoice>(&json)?, invoice);
//!
//! let written_elsewhere = r#"{"issued_at":"2026-11-24T06:56:06+02:00"}"#;
//! let read: Invoice = serde_json::from_str(written_elsewhere)?;
//! assert_eq!(read.issued_at, datetime!(2026-11-24 04:56:06 UTC));
//! # Ok(())
//! # }
//! ```

use serde::ser::Error as _;
use serde::{Deserializer, Serialize, Serializer};
use time::{OffsetDateTime, UtcOffset};

/// Serializes `at` as UTC with milliseconds: `2026-11-24T04:56:06.760Z`.
pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    let utc = at
        .checked_to_offset(UtcOffset::UTC)
        .filter(|utc| (0..=9999).contains(&utc.year()))
        .ok_or_else(|| S::Error::custom(format!("{at} is outside the years 0000 to 9999 UTC")))?;
    serializer.serialize_str(&text(utc))
}

/// `at` as the library stores times: ISO-8601 UTC with milliseconds, always 24 characters.
pub(crate) fn text(at: OffsetDateTime) -> String {
    let mut text = String::with_capacity(24);
    singletable_keys::write_timestamp(at, &mut text);
    text
}

/// Deserializes any RFC 3339 text.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
    time::serde::rfc3339::deserialize(deserializer)
}

/// The same for an `Option<OffsetDateTime>`, with `#[serde(default)]` so that a missing
/// attribute reads as `None`.
pub mod option {
    use super::*;

    /// Serializes `Some` as UTC with milliseconds, and `None` as none.
    pub fn serialize<S: Serializer>(
        at: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serializer.serialize_some(&Timestamp(at)),
            None => serializer.serialize_none(),
        }
    }

    /// Deserializes any RFC 3339 text, or none.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        time::serde::rfc3339::option::deserialize(deserializer)
    }

    struct Timestamp<'a>(&'a OffsetDateTime);

    impl Serialize for Timestamp<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            super::serialize(self.0, serializer)
        }
    }
}
