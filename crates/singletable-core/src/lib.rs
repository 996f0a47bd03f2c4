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
pub use expr::{Condition, Field};
#[doc(hidden)]
pub use later::Later;
pub use lifecycle::{
    DeleteTenant, ExportTenant, ImportTenant, TenantCheckpoint, TenantDeletion, TenantExport,
    TenantImport, Tenants, TypeCheckpoint,
};
pub use loader::{Loader, LoaderBuilder};
pub use ops::lookup::{Found, Lookup};
pub use ops::query::{Page, Projected, Query, SortKey};
pub use ops::soft_delete::Trashed;
pub use ops::update::Update;
pub use projection::Projection;
pub use retry::RetryPolicy;
pub use schema::{EntityKey, IndexKeys, PartitionKey, Schema};
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
    pub use crate::item::{decode, encode, Item};
    pub use crate::key::{
        render_index, render_index_partition, render_key, render_partition, render_sort,
    };
    pub use crate::projection::{same_type, stored_as};
    pub use crate::{
        Collection, Condition, Entity, EntityKey, Error, Field, IndexKeys, ItemKey, Joinable,
        KeyPart, Later, Lookup, Page, PartitionKey, Pool, Projected, Projection, Query, Result,
        Schema, SerializeWith, SortKey, Table, Template, Update,
    };
    pub use futures::Stream;
    pub use singletable_keys::{prefix_upper_bound, Segment};
    pub use time::OffsetDateTime;

    /// A key field's value as a key part; generic so that a field type that is not a key part
    /// is reported at the field's type.
    pub fn key_part<T: KeyPart>(value: &T) -> &dyn KeyPart {
        value
    }

    /// A unique field's value as key text; generic so that a field type that is not a key part
    /// is reported at the field's type.
    pub fn unique_value<T: KeyPart>(value: &T) -> ::std::string::String {
        let mut text = ::std::string::String::new();
        value.write_key_part(&mut text);
        text
    }

    /// Gives a generated `<Entity>Query` wrapper the builder and run methods of [`Query`].
    ///
    /// Every method is `#[inline]`, so the crate defining an entity compiles none of them (nor
    /// the generic query code they call) unless it uses them; the futures are [`Query`]'s own,
    /// not one more `async fn` state machine per entity.
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __query_wrapper {
        ($wrapper:ident, $entity:ty) => {
            impl<'t> $wrapper<'t> {
                /// Narrows the query with a raw condition on the sort key text.
                #[inline]
                pub fn sort_key(self, condition: $crate::SortKey) -> Self {
                    $wrapper(self.0.sort_key(condition))
                }

                /// Keeps only items matching `filter` (built from the entity's `FIELDS`).
                #[inline]
                pub fn filter(self, filter: $crate::Condition<$entity>) -> Self {
                    $wrapper(self.0.filter(filter))
                }

                /// Returns at most `limit` items from `all` and `stream`.
                #[inline]
                pub fn limit(self, limit: usize) -> Self {
                    $wrapper(self.0.limit(limit))
                }

                /// Reads at most `size` items per request in `all` and `stream`.
                #[inline]
                pub fn page_size(self, size: usize) -> Self {
                    $wrapper(self.0.page_size(size))
                }

                /// Returns soft-deleted items too.
                #[inline]
                pub fn include_deleted(self) -> Self {
                    $wrapper(self.0.include_deleted())
                }

                /// Reads in descending sort-key order.
                #[inline]
                pub fn descending(self) -> Self {
                    $wrapper(self.0.descending())
                }

                /// Reads with strong consistency.
                #[inline]
                pub fn consistent_read(self) -> Self {
                    $wrapper(self.0.consistent_read())
                }

                /// Every matching item, following pages to the end.
                #[inline]
                pub fn all(
                    self,
                ) -> impl ::core::future::Future<Output = $crate::Result<::std::vec::Vec<$entity>>>
                       + use<'t> {
                    self.0.all()
                }

                /// Up to `size` items from `cursor` on, and the next page's cursor.
                #[inline]
                pub fn page<'c>(
                    self,
                    size: usize,
                    cursor: ::core::option::Option<&'c str>,
                ) -> impl ::core::future::Future<Output = $crate::Result<$crate::Page<$entity>>>
                       + use<'t, 'c> {
                    self.0.page(size, cursor)
                }

                /// The matching items, read one page at a time as the stream is consumed.
                #[inline]
                pub fn stream(
                    self,
                ) -> impl $crate::__private::Stream<Item = $crate::Result<$entity>> + Send + 't
                {
                    self.0.stream()
                }

                /// The number of matching items (the length `all` would return), counted by
                /// DynamoDB over every page without returning them.
                #[inline]
                pub fn count(
                    self,
                ) -> impl ::core::future::Future<Output = $crate::Result<usize>> + use<'t> {
                    self.0.count()
                }

                /// Reads the projection `P` of each item instead of the whole entity.
                #[inline]
                pub fn project<P: $crate::Projection<Entity = $entity>>(
                    self,
                ) -> $crate::Projected<'t, P> {
                    self.0.project()
                }

                /// The untyped query underneath.
                #[inline]
                pub fn into_query(self) -> $crate::Query<'t, $entity> {
                    self.0
                }
            }

            #[automatically_derived]
            impl<'t> ::core::convert::From<$crate::Query<'t, $entity>> for $wrapper<'t> {
                #[inline]
                fn from(query: $crate::Query<'t, $entity>) -> Self {
                    $wrapper(query)
                }
            }
        };
    }
    pub use __query_wrapper as query_wrapper;
}
