//! Values that `#[entity(autogen = ...)]` fills in: ids, timestamps and counters.
//!
//! The derive calls these traits on the field's type, so the compiler decides which types each
//! kind of generation supports; implement them for your own types to extend it.

use time::OffsetDateTime;
use uuid::Uuid;

/// The current time, cut to milliseconds: the precision of `_timestamp`, so an entity read back
/// equals the one `create` returned.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now)
}

/// [`now`] as the library stores times: ISO-8601 UTC with milliseconds, 24 characters.
pub(crate) fn now_text() -> String {
    String::timestamp(now())
}

/// Types `autogen = uuid` and `autogen = uuid_v7` can fill.
#[diagnostic::on_unimplemented(
    message = "`autogen = uuid` cannot fill a field of type `{Self}`",
    note = "use `String` or `uuid::Uuid`, or implement `singletable::autogen::GenerateId`"
)]
pub trait GenerateId {
    /// A new random (v4) id.
    fn uuid_v4() -> Self;
    /// A new time-ordered (v7) id.
    fn uuid_v7() -> Self;
}

impl GenerateId for Uuid {
    fn uuid_v4() -> Self {
        Uuid::new_v4()
    }
    fn uuid_v7() -> Self {
        Uuid::now_v7()
    }
}

impl GenerateId for String {
    fn uuid_v4() -> Self {
        Uuid::new_v4().to_string()
    }
    fn uuid_v7() -> Self {
        Uuid::now_v7().to_string()
    }
}

/// Types `autogen = timestamp` and `autogen(on_update = timestamp)` can fill.
#[diagnostic::on_unimplemented(
    message = "`autogen = timestamp` cannot fill a field of type `{Self}`",
    note = "use `time::OffsetDateTime`, `String` (ISO-8601), `i64` (Unix milliseconds) or an `Option` of one"
)]
pub trait GenerateTimestamp: Sized {
    /// The value for the instant `now`.
    fn timestamp(now: OffsetDateTime) -> Self;

    /// The value of a field stamped on update, when the entity is created. `Option` fields start
    /// as `None`; other types start at the creation time.
    fn before_first_update(now: OffsetDateTime) -> Self {
        Self::timestamp(now)
    }
}

impl GenerateTimestamp for OffsetDateTime {
    fn timestamp(now: OffsetDateTime) -> Self {
        now
    }
}

impl GenerateTimestamp for String {
    fn timestamp(now: OffsetDateTime) -> Self {
        crate::timestamp::text(now)
    }
}

impl GenerateTimestamp for i64 {
    fn timestamp(now: OffsetDateTime) -> Self {
        (now.unix_timestamp_nanos() / 1_000_000) as i64
    }
}

impl<T: GenerateTimestamp> GenerateTimestamp for Option<T> {
    fn timestamp(now: OffsetDateTime) -> Self {
        Some(T::timestamp(now))
    }
    fn before_first_update(_: OffsetDateTime) -> Self {
        None
    }
}

/// Types an `#[entity(ttl)]` field can have: an instant, or epoch seconds.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an expiry time",
    note = "use `time::OffsetDateTime`, `i64` epoch seconds, or an `Option` of one"
)]
pub trait Expiry {
    /// The expiry in epoch seconds, or `None` for never.
    fn epoch_seconds(&self) -> Option<i64>;
}

impl Expiry for OffsetDateTime {
    fn epoch_seconds(&self) -> Option<i64> {
        Some(self.unix_timestamp())
    }
}

impl Expiry for i64 {
    fn epoch_seconds(&self) -> Option<i64> {
        Some(*self)
    }
}

impl<T: Expiry> Expiry for Option<T> {
    fn epoch_seconds(&self) -> Option<i64> {
        self.as_ref().and_then(T::epoch_seconds)
    }
}

/// Types `autogen = count` can fill: counters that start at zero.
#[diagnostic::on_unimplemented(
    message = "`autogen = count` cannot fill a field of type `{Self}`",
    note = "counters are integer or float fields"
)]
pub trait Counter {
    /// Zero.
    fn zero() -> Self;
}

macro_rules! counter {
    ($($t:ty => $zero:expr),*) => {$(
        impl Counter for $t {
            fn zero() -> Self {
                $zero
            }
        }
    )*};
}

counter!(i8 => 0, i16 => 0, i32 => 0, i64 => 0, i128 => 0, isize => 0, u8 => 0, u16 => 0,
    u32 => 0, u64 => 0, u128 => 0, usize => 0, f32 => 0.0, f64 => 0.0);
