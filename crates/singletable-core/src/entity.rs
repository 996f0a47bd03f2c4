//! The operations every entity has: the facade that generated code implements and users call.
//! Everything here delegates to the operation modules below it.

use std::future::Future;

use singletable_keys::Template;
use time::OffsetDateTime;

use crate::audit::AuditTrail;
use crate::backfill::Backfill;
use crate::collection::{Joinable, Pool};
use crate::error::Result;
use crate::expr::Condition;
use crate::later::Later;
use crate::ops;
use crate::ops::builder::QueryBuilder;
use crate::ops::query::{self, Query};
use crate::ops::soft_delete::Trashed;
use crate::ops::update::Update;
use crate::projection::Projection;
use crate::schema::{EntityKey, PartitionKey, Schema};
use crate::table::Table;

/// A struct stored as items of one `_type` in a single table, with its operations.
///
/// Implemented by `#[derive(Entity)]`, which also generates the entity's key struct, its create
/// input, its query builder and its field handles (`FIELDS`), which name what a query filters
/// and what an [`Update`] changes. The provided methods are the operations:
///
/// ```ignore
/// let org = Organization::create(&table, NewOrganization { tenant_id, name, plan }).await?;
/// let same = Organization::get(&table, org.key()).await?;
/// let renamed = Organization::update(&table, org.key())
///     .set(Organization::FIELDS.name, "Acme")
///     .send()
///     .await?;
/// let deleted = Organization::delete(&table, renamed.key()).await?;
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an entity",
    note = "derive it with `#[derive(Entity)]` and `#[entity(type = \"...\", pk = \"...\", sk = \"...\")]`"
)]
pub trait Entity: Schema {
    /// The typed query builder, with the entity's named range queries.
    type Query<'t>: QueryBuilder<'t, Entity = Self>;

    /// Writes a new item, filling auto-generated fields; fails with [`Error::AlreadyExists`]
    /// (leaving the stored item untouched) when the key is taken, and with
    /// [`Error::Duplicate`] (writing nothing) when a `#[entity(unique)]` value is another
    /// item's. Returns the full entity.
    ///
    /// [`Error::AlreadyExists`]: crate::Error::AlreadyExists
    /// [`Error::Duplicate`]: crate::Error::Duplicate
    fn create(table: &Table, new: Self::New) -> impl Future<Output = Result<Self>> + Send {
        ops::create::create(table, new)
    }

    /// Reads the item at `key`, or `None`.
    fn get(table: &Table, key: Self::Key<'_>) -> impl Future<Output = Result<Option<Self>>> + Send {
        // The key is rendered when awaited, inside the caller's tenant scope.
        async move { ops::get::get::<Self>(table, key.item_key(table), false).await }
    }

    /// Reads the projection `P` of the item at `key`, or `None`: only `P`'s fields (and what
    /// the read's guards need) are returned, under the guards of [`get`](Self::get).
    ///
    /// ```ignore
    /// let name: Option<TeamName> = Team::get_as::<TeamName>(&table, key).await?;
    /// ```
    fn get_as<P: Projection<Entity = Self>>(
        table: &Table,
        key: Self::Key<'_>,
    ) -> impl Future<Output = Result<Option<P>>> + Send {
        // The key is rendered when awaited, inside the caller's tenant scope.
        async move { ops::get::get_projected::<P>(table, key.item_key(table)).await }
    }

    /// Like [`get`](Self::get), returning a soft-deleted item too.
    fn get_including_deleted(
        table: &Table,
        key: Self::Key<'_>,
    ) -> impl Future<Output = Result<Option<Self>>> + Send {
        // The key is rendered when awaited, inside the caller's tenant scope.
        async move { ops::get::get::<Self>(table, key.item_key(table), true).await }
    }

    /// Brings back a soft-deleted item and returns it ([`Error::NotFound`](crate::Error::NotFound)
    /// when there is no deleted item at `key`).
    fn restore(table: &Table, key: Self::Key<'_>) -> impl Future<Output = Result<Self>> + Send {
        // The key is rendered when awaited, inside the caller's tenant scope.
        async move { ops::soft_delete::restore::<Self>(table, key.item_key(table)).await }
    }

    /// The soft-deleted items of one partition, most recently deleted first, with when and by
    /// whom each was deleted.
    fn trash(
        table: &Table,
        partition: Self::Partition<'_>,
    ) -> impl Future<Output = Result<Vec<Trashed<Self>>>> + Send {
        // The key is rendered when awaited, inside the caller's tenant scope.
        async move { ops::soft_delete::trash::<Self>(table, partition.partition_key(table)).await }
    }

    /// Purges the items of one partition that were soft-deleted before `cutoff` (for example
    /// `now - 30 days`); returns how many.
    fn empty_trash(
        table: &Table,
        partition: Self::Partition<'_>,
        cutoff: OffsetDateTime,
    ) -> impl Future<Output = Result<usize>> + Send {
        // The key is rendered when awaited, inside the caller's tenant scope.
        async move {
            ops::soft_delete::empty_trash::<Self>(table, partition.partition_key(table), cutoff)
                .await
        }
    }

    /// Removes the item at `key` for good, deleted or not; returns it, or `None`.
    fn purge(
        table: &Table,
        key: Self::Key<'_>,
    ) -> impl Future<Output = Result<Option<Self>>> + Send {
        // The key is rendered when awaited, inside the caller's tenant scope.
        async move { ops::delete::delete::<Self>(table, key.item_key(table), None, true).await }
    }

    /// Writes the entity, replacing the item of this type at its key (an item of another type
    /// there is left alone: [`Error::ConditionFailed`](crate::Error::ConditionFailed)). A versioned entity is
    /// written only over the version it holds (or where there is no item), and stored with the
    /// next version; otherwise the write fails with
    /// [`Error::VersionConflict`](crate::Error::VersionConflict).
    fn put(&self, table: &Table) -> impl Future<Output = Result<()>> + Send {
        ops::put::put(table, self, None)
    }

    /// Like [`put`](Self::put), only where `condition` holds for the item as stored
    /// ([`Error::ConditionFailed`](crate::Error::ConditionFailed) otherwise).
    fn put_if(
        &self,
        table: &Table,
        condition: Condition<Self>,
    ) -> impl Future<Output = Result<()>> + Send {
        ops::put::put(table, self, Some(condition))
    }

    /// Deletes the item at `key` and returns it, or `None` when there was none.
    fn delete(
        table: &Table,
        key: Self::Key<'_>,
    ) -> impl Future<Output = Result<Option<Self>>> + Send {
        // The key is rendered when awaited, inside the caller's tenant scope.
        async move { ops::delete::delete::<Self>(table, key.item_key(table), None, false).await }
    }

    /// Deletes the item at `key` only where `condition` holds; returns it, or `None` when there
    /// was none. [`Error::ConditionFailed`](crate::Error::ConditionFailed) when the item exists
    /// and the condition does not hold.
    fn delete_if(
        table: &Table,
        key: Self::Key<'_>,
        condition: Condition<Self>,
    ) -> impl Future<Output = Result<Option<Self>>> + Send {
        // The key is rendered when awaited, inside the caller's tenant scope.
        async move {
            ops::delete::delete::<Self>(table, key.item_key(table), Some(condition), false).await
        }
    }

    /// Starts an update of the item at `key`. The update fails with [`Error::NotFound`] rather
    /// than create an item when there is none.
    ///
    /// The key is rendered when the update is sent, in the tenant scope it is sent in.
    ///
    /// [`Error::NotFound`]: crate::Error::NotFound
    fn update<'t>(table: &'t Table, key: Self::Key<'t>) -> Update<'t, Self>
    where
        Self::Key<'t>: 't,
    {
        Update::new(table, Later::new(move |t| key.item_key(t)))
    }

    /// Starts an upsert: the update of the item at `new`'s key, or, where there is none, the
    /// creation of `new` with the update applied to it — in one request, so concurrent upserts
    /// of one item never fail with `AlreadyExists` or lose a change.
    ///
    /// The builder is an [`Update`]. Fields it sets are written either way, and
    /// `add` on a missing item starts from zero; every other field of `new`, with the
    /// auto-generated ones (ids, creation timestamps, counts), is written only when the item is
    /// created. On-update timestamps are set either way, and `_timestamp` keeps the creation
    /// time. A versioned entity's version moves on with every upsert, so an item an upsert
    /// created is at version 1. An item of another type or a soft-deleted one is left alone
    /// ([`Error::ConditionFailed`](crate::Error::ConditionFailed)); a `condition` is checked
    /// against the stored item, so on a missing item its comparisons are false. In a
    /// [`Transaction`](crate::Transaction), add it with `update`.
    ///
    /// ```ignore
    /// // One request: creates the counter at 1, or adds 1 to it.
    /// let hits = Counter::upsert(&table, NewCounter { name: "hits".into(), count: 0 })
    ///     .add(Counter::FIELDS.count, 1)
    ///     .send()
    ///     .await?;
    /// ```
    fn upsert<'t>(table: &'t Table, new: Self::New) -> Update<'t, Self>
    where
        Self::New: Send + 't,
    {
        Update::upsert(table, new)
    }

    /// Starts a query of this entity's items in one partition. Items of other entities that
    /// share the partition are never returned. The partition is rendered when the query runs.
    fn query<'t>(table: &'t Table, partition: Self::Partition<'t>) -> Self::Query<'t>
    where
        Self::Partition<'t>: 't,
    {
        let pk = Later::new(move |t| partition.partition_key(t));
        Self::Query::from_query(Query::partition(table, pk))
    }

    /// The audit trail of the item at `key` of an `#[entity(audit)]` entity, newest first.
    fn audit_trail<'t>(table: &'t Table, key: Self::Key<'t>) -> AuditTrail<'t>
    where
        Self::Key<'t>: 't,
    {
        AuditTrail::of::<Self>(table, key)
    }

    /// A backfill that rewrites this entity's items of older schemas at [`SCHEMA`](Schema::SCHEMA).
    fn backfill(table: &Table) -> Backfill<'_, Self> {
        Backfill::new(table)
    }

    /// Every item of this entity, oldest first, through the table's type index.
    fn list_all(table: &Table) -> Query<'_, Self> {
        Query::type_index(table)
    }

    /// The items of this entity created between `from` and `to` (both included), oldest first,
    /// through the table's type index.
    fn list_by_creation(
        table: &Table,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Query<'_, Self> {
        Query::type_index(table).sort_key(query::creation_range(from, to))
    }
}

/// Every entity joins a collection as itself: one impl here rather than one generated per entity.
impl<E: Entity> Joinable for E {
    type Root = Self;

    fn root(&self) -> &Self {
        self
    }

    fn assemble(roots: Vec<Self>, _: &mut Pool<'_>) -> Result<Vec<Self>> {
        Ok(roots)
    }

    fn sort_keys(out: &mut Vec<&'static Template<'static>>) {
        out.push(Self::SORT_KEY);
    }
}
