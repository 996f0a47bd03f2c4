//! The runtime of singletable: a [`Table`], the [`Entity`] trait that `#[derive(Entity)]`
//! implements, and the operations on entities, executed with `aws-sdk-dynamodb`.
//!
//! Use it through the `singletable` crate, which re-exports this one with the derive macros.

#![warn(missing_docs)]
//!
//! # Layers
//!
//! Each module imports only from its own layer or below (a test reads the `use` lines):
//!
//! 1. leaf types: `error`, `codec` (the stored item), `expr`, `cursor`, `retry`, `autogen`,
//!    `timestamp`;
//! 2. the table and the description of an entity: `table`, `schema`;
//! 3. keys, items and tenancy of an entity: `key`, `item`, `tenant`, `later`, `projection`;
//! 4. the request layer, through which every request is sent: `request`;
//! 5. write plans and their guards: `write`;
//! 6. operations and composites: `ops`, `batch`, `transaction`, `transaction_get`, `audit`,
//!    `backfill`, `collection`, `admin`, `table_schema`, `change_feed`;
//! 7. the facade users call and generated code implements: `entity`.

// 1
pub mod autogen;
mod codec;
mod cursor;
mod error;
mod expr;
mod retry;
mod sent_body;
pub mod timestamp;
// 2
mod schema;
mod table;
// 3
pub mod item;
mod key;
mod later;
mod projection;
pub mod tenant;
// 4
mod request;
// 5
mod write;
// 6
mod admin;
pub mod audit;
mod backfill;
mod batch;
pub mod change_feed;
mod collection;
mod lifecycle;
mod loader;
mod ops;
mod table_schema;
mod transaction;
mod transaction_get;
// 7
mod entity;

#[cfg(test)]
mod layers;

pub use audit::{AuditAction, AuditContext, AuditLog, AuditRecord, AuditTrail};
pub use backfill::{Backfill, BackfillReport, Progress};
pub use batch::{BatchGet, BatchGot, BatchWrite, Slot};
pub use change_feed::{
    ChangeAction, ChangeEvent, ChangeFeed, ChangeReader, Checkpoint, LambdaRecord,
    LambdaStreamEvent, Shard,
};
pub use codec::SerializeWith;
pub use collection::{Collection, Joinable, Pool};
pub use entity::Entity;
pub use error::{CancelReason, CursorError, Error, ItemKey, Result};
pub use expr::{role, Condition, Field};
#[doc(hidden)]
pub use later::Later;
pub use lifecycle::{
    DeleteTenant, ExportTenant, ImportTenant, TenantCheckpoint, TenantDeletion, TenantExport,
    TenantImport, Tenants, TypeCheckpoint,
};
pub use loader::{Loader, LoaderBuilder};
pub use ops::builder::QueryBuilder;
pub use ops::lookup::{Found, Lookup};
pub use ops::query::{Page, Projected, Query, SortKey};
pub use ops::soft_delete::Trashed;
pub use ops::update::{Number, Removable, Settable, Update};
pub use projection::Projection;
pub use retry::RetryPolicy;
pub use schema::{EntityKey, IndexKeys, PartitionKey, Schema, Versioned};
pub use singletable_keys::{self as keys, FromKeyPart, KeyPart, Template};
pub use table::{Index, Table, TableBuilder};
pub use table_schema::{CountByType, TableSchema};
pub use tenant::TenantId;
pub use transaction::Transaction;
pub use transaction_get::{TransactionGet, TransactionGot, TransactionSlot};

/// What generated code calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::autogen::{Counter, Expiry, GenerateId, GenerateTimestamp};
    pub use crate::collection::{by_relation, by_type, children, partition_mismatch};
    pub use crate::table_schema::{
        clash, decode_variant, type_index, unknown_type, Member, TableSchema, Variant,
    };
    pub use crate::tenant::TenantId;

    /// The current tenant, for an operation on the tenant-scoped `E`.
    pub fn current_tenant<E: crate::Schema>(table: &crate::Table) -> crate::Result<TenantId> {
        crate::tenant::required::<E>(table)
    }
    pub use crate::codec::Stamps;
    pub use crate::expr::role::{ExpiresAt, IndexSource, Plain, ReadOnly};
    pub use crate::item::{decode, encode, Item};
    pub use crate::key::{
        render_index, render_index_partition, render_key, render_partition, render_sort,
    };
    pub use crate::projection::{same_type, stored_as};
    pub use crate::schema::NamesPartition;
    pub use crate::{
        Collection, Condition, Entity, EntityKey, Error, Field, IndexKeys, ItemKey, Joinable,
        KeyPart, Later, Lookup, Page, PartitionKey, Pool, Projected, Projection, Query,
        QueryBuilder, Result, Schema, SerializeWith, SortKey, Table, Template, Update, Versioned,
    };
    pub use futures::Stream;
    pub use singletable_keys::{prefix_upper_bound, Segment};
    // Short paths for generated code.
    pub use ::core::option::Option::{self, None, Some};
    pub use ::core::result::Result::Ok;
    pub use ::std::string::String;
    pub use time::OffsetDateTime;

    /// A key field's value as a key part; generic so that a field type that is not a key part
    /// is reported at the field's type.
    pub fn key_part<T: KeyPart>(value: &T) -> &dyn KeyPart {
        value
    }

    /// An index source's value as a key part, for its `Field`.
    pub fn some_key_part<T: KeyPart>(value: &T) -> Option<&dyn KeyPart> {
        Some(value)
    }

    /// An `Option` index source's value as a key part (`None` leaves the indexes), for its
    /// `Field`.
    pub fn optional_key_part<T: KeyPart>(value: &Option<T>) -> Option<&dyn KeyPart> {
        value.as_ref().map(|value| value as &dyn KeyPart)
    }

    /// A unique field's value as key text; generic so that a field type that is not a key part
    /// is reported at the field's type.
    pub fn unique_value<T: KeyPart>(value: &T) -> ::std::string::String {
        let mut text = ::std::string::String::new();
        value.write_key_part(&mut text);
        text
    }
}
