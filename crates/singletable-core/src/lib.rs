//! The runtime of singletable: a [`Table`], the [`Entity`] trait that `#[derive(Entity)]`
//! implements, and the operations on entities, executed with `aws-sdk-dynamodb`.
//!
//! Use it through the `singletable` crate, which re-exports this one with the derive macros.

pub mod autogen;
mod entity;
mod error;
pub mod item;
mod key;
mod ops;
mod table;

pub use entity::{Entity, EntityKey};
pub use error::{Error, ItemKey, Result};
pub use ops::update::{SerializeWith, Update};
pub use singletable_keys::{self as keys, FromKeyPart, KeyPart, Template};
pub use table::{Table, TableBuilder};

/// What generated code calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::autogen::{Counter, GenerateId, GenerateTimestamp};
    pub use crate::key::render_key;
    pub use crate::{Entity, EntityKey, Error, ItemKey, KeyPart, Result, Table, Template, Update};
    pub use singletable_keys::Segment;
    pub use time::OffsetDateTime;

    /// A key field's value as a key part; generic so that a field type that is not a key part
    /// is reported at the field's type.
    pub fn key_part<T: KeyPart>(value: &T) -> &dyn KeyPart {
        value
    }
}
