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

use std::fmt;

use serde::de::{self, Visitor};
use serde::ser::Error as _;
use serde::{Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

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
    deserializer.deserialize_str(TimestampVisitor)
}

/// Parses RFC 3339 text: the form this module writes directly, any other with `time`'s parser.
fn parse(text: &str) -> Result<OffsetDateTime, time::error::Parse> {
    match parse_stored(text) {
        Some(at) => Ok(at),
        None => OffsetDateTime::parse(text, &Rfc3339),
    }
}

/// Parses the form this module writes, `YYYY-MM-DDTHH:MM:SS.mmmZ`; `None` for any other text
/// (including a leap second), which `time`'s RFC 3339 parser then reads as it always did.
/// Whatever this accepts, that parser reads as the same time.
fn parse_stored(text: &str) -> Option<OffsetDateTime> {
    // `0` stands for a digit; every other byte is itself.
    const FORM: &[u8; 24] = b"0000-00-00T00:00:00.000Z";
    let text: &[u8; 24] = text.as_bytes().try_into().ok()?;
    // Checked all at once, without a branch per byte.
    let mut wrong = false;
    for (&byte, &form) in text.iter().zip(FORM) {
        wrong |= match form {
            b'0' => !byte.is_ascii_digit(),
            _ => byte != form,
        };
    }
    if wrong {
        return None;
    }
    let digit = |at: usize| text[at] - b'0';
    let two = |at: usize| digit(at) * 10 + digit(at + 1);
    let year = i32::from(two(0)) * 100 + i32::from(two(2));
    let date = Date::from_calendar_date(year, Month::try_from(two(5)).ok()?, two(8)).ok()?;
    let millisecond = u16::from(two(20)) * 10 + u16::from(digit(22));
    let time = Time::from_hms_milli(two(11), two(14), two(17), millisecond).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Reads RFC 3339 text, as `time::serde::rfc3339` does (same expectation, same errors).
struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = OffsetDateTime;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an RFC3339-formatted `OffsetDateTime`")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<OffsetDateTime, E> {
        parse(text).map_err(E::custom)
    }
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
        deserializer.deserialize_option(OptionVisitor)
    }

    /// Reads RFC 3339 text or none, as `time::serde::rfc3339::option` does.
    struct OptionVisitor;

    impl<'de> Visitor<'de> for OptionVisitor {
        type Value = Option<OffsetDateTime>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("an RFC3339-formatted `Option<OffsetDateTime>`")
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_any(TimestampVisitor).map(Some)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    struct Timestamp<'a>(&'a OffsetDateTime);

    impl Serialize for Timestamp<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            super::serialize(self.0, serializer)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use time::macros::datetime;

    use super::*;

    #[derive(Deserialize, Debug)]
    struct Ours {
        #[serde(with = "super")]
        at: OffsetDateTime,
    }

    #[derive(Deserialize, Debug)]
    struct Theirs {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    }

    #[derive(Deserialize, Debug)]
    struct OursOption {
        #[serde(default, with = "super::option")]
        at: Option<OffsetDateTime>,
    }

    #[derive(Deserialize, Debug)]
    struct TheirsOption {
        #[serde(default, with = "time::serde::rfc3339::option")]
        at: Option<OffsetDateTime>,
    }

    /// Reads `json` with this module and with `time::serde::rfc3339`, checks that both read the
    /// same time (and offset) or fail with the same message, and returns ours.
    fn read(json: &str) -> Result<OffsetDateTime, String> {
        let ours = serde_json::from_str::<Ours>(json).map(|o| o.at);
        let theirs = serde_json::from_str::<Theirs>(json).map(|t| t.at);
        let (ours, theirs) = (
            ours.map_err(|e| e.to_string()),
            theirs.map_err(|e| e.to_string()),
        );
        assert_eq!(ours, theirs, "{json}");
        if let (Ok(ours), Ok(theirs)) = (&ours, &theirs) {
            assert_eq!(ours.offset(), theirs.offset(), "{json}");
        }
        ours
    }

    fn read_option(json: &str) -> Result<Option<OffsetDateTime>, String> {
        let ours = serde_json::from_str::<OursOption>(json).map(|o| o.at);
        let theirs = serde_json::from_str::<TheirsOption>(json).map(|t| t.at);
        let ours = ours.map_err(|e| e.to_string());
        assert_eq!(ours, theirs.map_err(|e| e.to_string()), "{json}");
        ours
    }

    fn at(text: &str) -> String {
        format!(r#"{{"at":"{text}"}}"#)
    }

    #[test]
    fn the_stored_form_reads_fast_and_as_time_reads_it() {
        let text = "2026-11-24T04:56:06.559Z";
        assert_eq!(
            parse_stored(text),
            Some(datetime!(2026-11-24 04:56:06.559 UTC))
        );
        assert_eq!(read(&at(text)), Ok(datetime!(2026-11-24 04:56:06.559 UTC)));
        for at in [
            datetime!(0000-01-01 00:00:00 UTC),
            datetime!(9999-12-31 23:59:59.999 UTC),
            datetime!(2024-02-29 12:00:00.001 UTC),
        ] {
            let text = super::text(at);
            assert_eq!(parse_stored(&text), Some(at), "{text}");
            assert_eq!(OffsetDateTime::parse(&text, &Rfc3339).ok(), Some(at));
        }
    }

    /// Over every day of a leap and a common year and texts a byte off the stored form, the fast
    /// path reads what `time` reads, and leaves to it what it does not read.
    #[test]
    fn the_fast_path_agrees_with_time_everywhere() {
        let mut texts = Vec::new();
        for year in ["2024", "2025", "1900", "2000", "0000"] {
            for month in 0..=13 {
                for day in 0..=32 {
                    texts.push(format!("{year}-{month:02}-{day:02}T23:59:59.999Z"));
                }
            }
        }
        let base = "2026-11-24T04:56:06.559Z";
        for at in 0..base.len() {
            for byte in [
                b'0', b'9', b'/', b':', b'-', b'T', b't', b'Z', b'z', b'.', b' ',
            ] {
                let mut text = base.as_bytes().to_vec();
                text[at] = byte;
                texts.push(String::from_utf8(text).unwrap());
            }
        }
        for time in ["24:00:00", "23:60:00", "23:59:60", "23:59:61", "99:99:99"] {
            texts.push(format!("2026-12-31T{time}.000Z"));
        }
        let mut fast = 0;
        for text in &texts {
            let time = OffsetDateTime::parse(text, &Rfc3339);
            if let Some(at) = parse_stored(text) {
                fast += 1;
                assert_eq!(time.as_ref().ok(), Some(&at), "{text}");
            }
            assert_eq!(
                parse(text).map_err(|e| e.to_string()),
                time.map_err(|e| e.to_string()),
                "{text}"
            );
        }
        assert!(
            fast > 700,
            "{fast} of {} read by the fast path",
            texts.len()
        );
    }

    #[test]
    fn other_rfc_3339_forms_still_read() {
        let utc = datetime!(2026-11-24 04:56:06 UTC);
        assert_eq!(read(&at("2026-11-24T04:56:06Z")), Ok(utc));
        assert_eq!(read(&at("2026-11-24t04:56:06z")), Ok(utc));
        assert_eq!(read(&at("2026-11-24T06:56:06+02:00")), Ok(utc));
        assert_eq!(
            read(&at("2026-11-24T04:56:06.76Z")),
            Ok(datetime!(2026-11-24 04:56:06.76 UTC))
        );
        assert_eq!(
            read(&at("2026-11-24T04:56:06.123456789Z")),
            Ok(datetime!(2026-11-24 04:56:06.123456789 UTC))
        );
        assert_eq!(
            read(&at("2026-11-24T04:56:06.559+00:00")),
            Ok(datetime!(2026-11-24 04:56:06.559 UTC))
        );
        assert!(
            read(&at("2026-12-31T23:59:60.000Z")).is_ok(),
            "a leap second"
        );
    }

    #[test]
    fn what_does_not_read_fails_as_time_fails() {
        for json in [
            at("2026-11-24"),
            at("2026-02-30T04:56:06.559Z"),
            at("2026-11-24T04:56:06.559"),
            at("yesterday"),
            at(""),
            r#"{"at":5}"#.to_owned(),
            r#"{"at":null}"#.to_owned(),
            r#"{"at":["2026-11-24T04:56:06.559Z"]}"#.to_owned(),
            "{}".to_owned(),
        ] {
            assert!(read(&json).is_err(), "{json}");
        }
    }

    #[test]
    fn options_read_none_null_and_every_form() {
        assert_eq!(read_option("{}"), Ok(None));
        assert_eq!(read_option(r#"{"at":null}"#), Ok(None));
        assert_eq!(
            read_option(&at("2026-11-24T04:56:06.559Z")),
            Ok(Some(datetime!(2026-11-24 04:56:06.559 UTC)))
        );
        assert_eq!(
            read_option(&at("2026-11-24T06:56:06+02:00")),
            Ok(Some(datetime!(2026-11-24 04:56:06 UTC)))
        );
        assert!(read_option(&at("2026-13-24T04:56:06.559Z")).is_err());
        assert!(read_option(r#"{"at":5}"#).is_err());
    }
}
