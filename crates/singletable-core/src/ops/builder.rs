//! The methods every generated query builder has, written once. `<Entity>Query` and each
//! `<Entity><Index>Query` are a [`Query`] with the entity's named range queries on top; the rest
//! comes from [`QueryBuilder`], so no entity compiles its own copy of it.

use std::future::Future;

use futures::Stream;

use crate::error::Result;
use crate::expr::Condition;
use crate::ops::query::{Page, Projected, Query, SortKey};
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
