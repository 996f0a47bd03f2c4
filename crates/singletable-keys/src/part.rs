//! Values that can stand in a key, and the rule every such value must follow.

use std::fmt::{self, Write as _};

/// Why a key value was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueError {
    /// The value is empty: the key would lose a part.
    Empty,
    /// The value contains the separator: the key would split into other parts, and could reach
    /// another partition (`tenant_id = "a#ORG#b"`).
    ContainsSeparator(char),
    /// The value contains a control character (NUL, newline, ...).
    ControlCharacter,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::Empty => f.write_str("is empty"),
            ValueError::ContainsSeparator(sep) => write!(f, "contains the separator `{sep}`"),
            ValueError::ControlCharacter => f.write_str("contains a control character"),
        }
    }
}

impl std::error::Error for ValueError {}

/// Checks one rendered key value: not empty, no separator, no control character.
pub fn check_value(value: &str, separator: char) -> Result<(), ValueError> {
    if value.is_empty() {
        return Err(ValueError::Empty);
    }
    // Keys are mostly ASCII: check bytes, and fall back to chars only for other text.
    if value.is_ascii() && separator.is_ascii() {
        let separator = separator as u8;
        for &byte in value.as_bytes() {
            if byte == separator {
                return Err(ValueError::ContainsSeparator(separator as char));
            }
            if byte.is_ascii_control() {
                return Err(ValueError::ControlCharacter);
            }
        }
        return Ok(());
    }
    for c in value.chars() {
        if c == separator {
            return Err(ValueError::ContainsSeparator(separator));
        }
        if c.is_control() {
            return Err(ValueError::ControlCharacter);
        }
    }
    Ok(())
}

/// A type whose values can fill a `<placeholder>` of a key template.
///
/// Implemented for strings, integers, `bool`, `uuid::Uuid` and `time::OffsetDateTime`. Implement
/// it for your own types (a unit enum, a newtype id) by writing the text that goes into the key;
/// the runtime checks what you wrote with [`check_value`].
///
/// A key part must also implement `Debug`: `#[derive(Entity)]` generates key structs
/// (`UserKey<'k> { id: &'k UserId }`) that derive it, so that keys can be printed. Keys are
/// compared and hashed as the text they render to (`ItemKey`), so a key part need not be.
///
/// ```
/// use singletable_keys::KeyPart;
///
/// #[derive(Clone, Debug)]
/// pub struct UserId(String);
///
/// impl KeyPart for UserId {
///     fn write_key_part(&self, out: &mut String) {
///         out.push_str(&self.0)
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a DynamoDB key",
    label = "used in a key template",
    note = "key parts are strings, integers, bools, `Uuid`, `OffsetDateTime` or types that implement `singletable::KeyPart` (and `Debug`)"
)]
pub trait KeyPart: fmt::Debug {
    /// Appends the text of this value to a key being rendered.
    fn write_key_part(&self, out: &mut String);
}

/// A key part that can be read back from the text [`KeyPart`] wrote.
pub trait FromKeyPart: Sized {
    /// Reads a value from one key part, or `None` when the text is not such a value.
    fn from_key_part(text: &str) -> Option<Self>;
}

impl<T: KeyPart + ?Sized> KeyPart for &T {
    fn write_key_part(&self, out: &mut String) {
        (**self).write_key_part(out)
    }
}

impl KeyPart for str {
    fn write_key_part(&self, out: &mut String) {
        out.push_str(self)
    }
}

impl KeyPart for String {
    fn write_key_part(&self, out: &mut String) {
        out.push_str(self)
    }
}

impl FromKeyPart for String {
    fn from_key_part(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
}

macro_rules! display_key_part {
    ($($t:ty),*) => {$(
        impl KeyPart for $t {
            fn write_key_part(&self, out: &mut String) {
                // Writing to a String cannot fail.
                let _ = write!(out, "{self}");
            }
        }
        impl FromKeyPart for $t {
            fn from_key_part(text: &str) -> Option<Self> {
                text.parse().ok()
            }
        }
    )*};
}

display_key_part!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, bool);

#[cfg(feature = "uuid")]
impl KeyPart for uuid::Uuid {
    fn write_key_part(&self, out: &mut String) {
        let mut buf = uuid::Uuid::encode_buffer();
        out.push_str(self.hyphenated().encode_lower(&mut buf));
    }
}

#[cfg(feature = "uuid")]
impl FromKeyPart for uuid::Uuid {
    fn from_key_part(text: &str) -> Option<Self> {
        uuid::Uuid::try_parse(text).ok()
    }
}

#[cfg(feature = "time")]
const TIMESTAMP: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
);

/// Writes an instant as ISO-8601 UTC with milliseconds (`2026-11-24T04:56:06.559Z`), the format
/// of `_timestamp` and of timestamps in keys: it sorts as text in time order.
///
/// Only years 0000 to 9999 have this form. Other years are written as `time` formats them, and
/// an instant whose UTC date `time` cannot hold (`9999-12-31T23:00-05:00`) writes nothing.
#[cfg(feature = "time")]
pub fn write_timestamp(at: time::OffsetDateTime, out: &mut String) {
    let Some(utc) = at.checked_to_offset(time::UtcOffset::UTC) else {
        return;
    };
    let year = utc.year();
    if !(0..=9999).contains(&year) {
        // Outside four-digit years the text no longer sorts; time's formatter says what it can.
        if let Ok(text) = utc.format(TIMESTAMP) {
            out.push_str(&text);
        }
        return;
    }
    // Every item carries one of these: fixed-width digits, written without a formatter.
    let parts = [
        (year as u32, 4, '-'),
        (u32::from(u8::from(utc.month())), 2, '-'),
        (u32::from(utc.day()), 2, 'T'),
        (u32::from(utc.hour()), 2, ':'),
        (u32::from(utc.minute()), 2, ':'),
        (u32::from(utc.second()), 2, '.'),
        (u32::from(utc.millisecond()), 3, 'Z'),
    ];
    for (value, width, after) in parts {
        for place in (0..width).rev() {
            let digit = (value / 10u32.pow(place)) % 10;
            out.push(char::from(b'0' + digit as u8));
        }
        out.push(after);
    }
}

#[cfg(feature = "time")]
impl KeyPart for time::OffsetDateTime {
    fn write_key_part(&self, out: &mut String) {
        write_timestamp(*self, out)
    }
}

#[cfg(feature = "time")]
impl FromKeyPart for time::OffsetDateTime {
    fn from_key_part(text: &str) -> Option<Self> {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_rules() {
        assert_eq!(check_value("", '#'), Err(ValueError::Empty));
        assert_eq!(
            check_value("a#b", '#'),
            Err(ValueError::ContainsSeparator('#'))
        );
        assert_eq!(check_value("a\nb", '#'), Err(ValueError::ControlCharacter));
        assert_eq!(check_value("a|b", '#'), Ok(()));
        assert_eq!(check_value("Ａ＃ORG", '#'), Ok(()));
        assert_eq!(
            check_value("é#", '#'),
            Err(ValueError::ContainsSeparator('#'))
        );
        assert_eq!(
            check_value("é\u{85}", '#'),
            Err(ValueError::ControlCharacter)
        );
        assert_eq!(
            check_value("a\u{7f}", '#'),
            Err(ValueError::ControlCharacter)
        );
        assert_eq!(
            check_value("a§b", '§'),
            Err(ValueError::ContainsSeparator('§'))
        );
    }

    #[test]
    fn numbers_and_ids_round_trip() {
        let mut out = String::new();
        (-42i64).write_key_part(&mut out);
        assert_eq!(i64::from_key_part(&out), Some(-42));
        let id = uuid::Uuid::from_u128(0x1234);
        out.clear();
        id.write_key_part(&mut out);
        assert_eq!(out, "00000000-0000-0000-0000-000000001234");
        assert_eq!(uuid::Uuid::from_key_part(&out), Some(id));
    }

    #[test]
    fn timestamps_match_the_formatter() {
        for at in [
            time::macros::datetime!(2026-01-02 03:04:05.006 UTC),
            time::macros::datetime!(0001-12-31 23:59:59.999 UTC),
            time::macros::datetime!(9999-12-31 23:59:59.999 +05:00),
            time::OffsetDateTime::UNIX_EPOCH,
        ] {
            let mut ours = String::new();
            write_timestamp(at, &mut ours);
            let utc = at.to_offset(time::UtcOffset::UTC);
            assert_eq!(ours, utc.format(TIMESTAMP).unwrap());
        }
    }

    #[test]
    fn timestamps_past_the_utc_range_write_nothing() {
        let mut out = String::new();
        write_timestamp(time::macros::datetime!(9999-12-31 23:00 -05:00), &mut out);
        assert_eq!(out, "");
    }

    #[test]
    fn timestamps_are_utc_millis() {
        let at = time::macros::datetime!(2026-11-24 06:56:06.559_123 +02:00);
        let mut out = String::new();
        at.write_key_part(&mut out);
        assert_eq!(out, "2026-11-24T04:56:06.559Z");
        let back = time::OffsetDateTime::from_key_part(&out).unwrap();
        assert_eq!(back, time::macros::datetime!(2026-11-24 04:56:06.559 UTC));
    }
}
