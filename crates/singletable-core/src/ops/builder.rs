//! The methods every generated builder has, written once. `<Entity>Query` and each
//! `<Entity><Index>Query` are a [`Query`] with the entity's named range queries on top, and
//! `<Entity>Update` an [`Update`] with a setter per field; the rest comes from these traits, so
//! no entity compiles its own copy of them.

use std::future::Future;

use futures::Stream;

use crate::error::Result;
use crate::expr::Condition;
use crate::ops::query::{Page, Projected, Query, SortKey};
use crate::ops::update::Update;
use crate::projection::Projection;
use crate::schema::Schema;

/// The builder and run methods of a generated query builder (`<Entity>Query`,
/// `<Entity><Index>Query`). In scope with `use singletable::prelude::*`.
///
/// ```ignore
/// use singletable::prelude::*;
///
/// let newest: Vec<Member> = Member::query(&table, MemberPartition { team_id: "t1" })
///     .joined_after(&cutoff) // a named range query of `Member`
///     .filter(Member::FIELDS.role.eq(&Role::Admin))
///     .descending()
///     .limit(10)
///     .all()
///     .await?;
/// ```
pub trait QueryBuilder<'t>: Sized {
    /// The entity the query reads.
    type Entity: Schema;

    /// The untyped query underneath.
    fn into_query(self) -> Query<'t, Self::Entity>;

    /// The builder around `query`.
    #[doc(hidden)]
    fn from_query(query: Query<'t, Self::Entity>) -> Self;

    /// Narrows the query with a raw condition on the sort key text.
    fn sort_key(self, condition: SortKey) -> Self {
        Self::from_query(self.into_query().sort_key(condition))
    }

    /// Keeps only items matching `filter` (built from the entity's `FIELDS`).
    fn filter(self, filter: Condition<Self::Entity>) -> Self {
        Self::from_query(self.into_query().filter(filter))
    }

    /// Returns at most `limit` items from `all` and `stream`.
    fn limit(self, limit: usize) -> Self {
        Self::from_query(self.into_query().limit(limit))
    }

    /// Reads at most `size` items per request in `all` and `stream`.
    fn page_size(self, size: usize) -> Self {
        Self::from_query(self.into_query().page_size(size))
    }

    /// Returns soft-deleted items too.
    fn include_deleted(self) -> Self {
        Self::from_query(self.into_query().include_deleted())
    }

    /// Reads in descending sort-key order.
    fn descending(self) -> Self {
        Self::from_query(self.into_query().descending())
    }

    /// Reads with strong consistency.
    fn consistent_read(self) -> Self {
        Self::from_query(self.into_query().consistent_read())
    }

    /// Every matching item, following pages to the end (or to [`limit`](Self::limit)).
    fn all(self) -> impl Future<Output = Result<Vec<Self::Entity>>> + Send {
        self.into_query().all()
    }

    /// Up to `size` items from `cursor` on, and the next page's cursor.
    fn page(
        self,
        size: usize,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Self::Entity>>> + Send {
        self.into_query().page(size, cursor)
    }

    /// The matching items, read one page at a time as the stream is consumed.
    fn stream(self) -> impl Stream<Item = Result<Self::Entity>> + Send {
        self.into_query().stream()
    }

    /// The number of matching items (the length [`all`](Self::all) would return), counted by
    /// DynamoDB over every page without returning them.
    fn count(self) -> impl Future<Output = Result<usize>> + Send {
        self.into_query().count()
    }

    /// Reads the projection `P` of each item instead of the whole entity.
    fn project<P: Projection<Entity = Self::Entity>>(self) -> Projected<'t, P> {
        self.into_query().project()
    }
}

/// The methods of a generated update builder (`<Entity>Update`) beside its setters. In scope
/// with `use singletable::prelude::*`.
///
/// ```ignore
/// use singletable::prelude::*;
///
/// let team = Team::update(&table, team.key())
///     .add_member_count(1)
///     .condition(Team::FIELDS.member_count.lt(&50))
///     .send()
///     .await?;
/// ```
pub trait UpdateBuilder<'t>: Sized {
    /// The entity the update writes.
    type Entity: Schema;

    /// The untyped update underneath.
    fn into_update(self) -> Update<'t, Self::Entity>;

    /// The builder around `update`.
    #[doc(hidden)]
    fn from_update(update: Update<'t, Self::Entity>) -> Self;

    /// Writes only where `condition` (built from the entity's `FIELDS`) holds for the stored
    /// item; `Error::ConditionFailed` otherwise. A second condition is combined with `and`.
    fn condition(self, condition: Condition<Self::Entity>) -> Self {
        let mut update = self.into_update();
        update.condition(condition);
        Self::from_update(update)
    }

    /// Sends the update; returns the entity as stored afterwards, or `Error::NotFound` when
    /// there is no item at the key (none is created; an upsert creates it).
    fn send(self) -> impl Future<Output = Result<Self::Entity>> + Send {
        self.into_update().send()
    }
}
