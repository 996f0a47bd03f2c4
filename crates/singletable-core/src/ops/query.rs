//! Queries: one entity's items in a partition (optionally narrowed by a sort-key condition), or
//! every item of an entity type through the type index; read whole, by page, or as a stream.

use std::collections::{HashMap, VecDeque};
use std::marker::PhantomData;

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use futures::stream::{self, Stream};
use time::OffsetDateTime;

use crate::cursor::{self, Fingerprint};
use crate::error::{Error, Result};
use crate::expr::{Condition, Names};
use crate::item::{self, Item, TENANT_TYPE_ATTRIBUTE, TIMESTAMP_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::later::Later;
use crate::projection::{self, Projection};
use crate::request;
use crate::schema::Schema;
use crate::table::Table;

/// A condition on the sort key, on rendered key text.
///
/// Generated range queries build these from typed values; [`Query::sort_key`] takes one directly
/// for what they do not cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    /// The sort key equals the text.
    Eq(String),
    /// The sort key starts with the text.
    BeginsWith(String),
    /// The sort key lies between the two texts, both included.
    Between(String, String),
    /// The sort key is less than the text.
    Lt(String),
    /// The sort key is less than or equal to the text.
    Le(String),
    /// The sort key is greater than the text.
    Gt(String),
    /// The sort key is greater than or equal to the text.
    Ge(String),
}

impl SortKey {
    fn render(&self, name: &str, names: &mut Names) -> String {
        let mut value = |text: &String| names.value(AttributeValue::S(text.clone()));
        match self {
            SortKey::Eq(v) => format!("{name} = {}", value(v)),
            SortKey::BeginsWith(v) => format!("begins_with({name}, {})", value(v)),
            SortKey::Between(a, b) => format!("{name} BETWEEN {} AND {}", value(a), value(b)),
            SortKey::Lt(v) => format!("{name} < {}", value(v)),
            SortKey::Le(v) => format!("{name} <= {}", value(v)),
            SortKey::Gt(v) => format!("{name} > {}", value(v)),
            SortKey::Ge(v) => format!("{name} >= {}", value(v)),
        }
    }

    fn fingerprint(&self) -> String {
        format!("{self:?}")
    }
}

/// One page of a query: up to the requested number of items, and the cursor of the next page
/// (`None` on the last page).
#[derive(Debug, Clone)]
pub struct Page<E> {
    /// The items, in query order.
    pub items: Vec<E>,
    /// Pass to [`Query::page`] to read on; opaque and URL-safe.
    pub cursor: Option<String>,
}

/// Which soft-deleted items a query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deleted {
    Hidden,
    Included,
    Only,
}

/// Where a query reads.
#[derive(Debug, Clone)]
enum Source {
    /// The base table, one partition, items of the entity's type.
    Partition(String),
    /// A secondary index the entity declares keys for, one of its partitions.
    Index(&'static str, String),
    /// The type index: every item of the entity's type, by creation time.
    TypeIndex,
    /// The tenant type index: one tenant's items of the entity's type, by creation time.
    TenantTypeIndex(String),
}

/// What a query's requests ask DynamoDB for.
#[derive(Debug, Clone)]
enum Asked {
    /// The items, whole (`None`) or only the attributes named.
    Items(Option<Vec<String>>),
    /// The number of matching items (`Select = COUNT`).
    Count,
}

/// A query of one entity's items, built by the generated `<Entity>::query` and range queries or
/// by [`Entity::list_all`](crate::Entity::list_all), run by [`all`](Self::all),
/// [`page`](Self::page) or [`stream`](Self::stream).
#[must_use = "a query does nothing until it is run"]
#[derive(Debug)]
pub struct Query<'t, E> {
    table: &'t Table,
    /// Made when the query runs, in the tenant scope it runs in.
    source: Later<'t, Source>,
    sort: Option<SortKey>,
    filter: Option<Condition<E>>,
    limit: Option<usize>,
    page_size: Option<usize>,
    descending: bool,
    consistent: bool,
    /// Returns items of every type (for collections), not only `E`'s.
    any_type: bool,
    /// Which soft-deleted items to return.
    deleted: Deleted,
    error: Option<Error>,
    entity: PhantomData<fn() -> E>,
}

impl<'t, E: Schema> Query<'t, E> {
    /// Items of `E` in the partition `pk`, rendered when the query runs.
    ///
    /// For a tenant-scoped entity, a partition outside the current tenant's key space is
    /// refused when the query runs, before any request.
    #[doc(hidden)]
    pub fn partition(table: &'t Table, pk: Later<'t, String>) -> Self {
        let source = Later::new(move |table| pk.make(table).map(Source::Partition));
        Query::new(table, source, None)
    }

    /// Items of `E` in the partition `pk` of the secondary index `index`, rendered when the
    /// query runs.
    ///
    /// For a tenant-scoped entity, a partition outside the current tenant's key space is
    /// refused when the query runs, before any request.
    #[doc(hidden)]
    pub fn index(table: &'t Table, index: &'static str, pk: Later<'t, String>) -> Self {
        let source = Later::new(move |table| pk.make(table).map(|pk| Source::Index(index, pk)));
        Query::new(table, source, None)
    }

    /// Every item of `E`, oldest first, through the table's type index.
    /// For a tenant-scoped entity, the current tenant's items through the tenant type index:
    /// the type index alone is not keyed by tenant, so it is never read for such an entity.
    pub fn type_index(table: &'t Table) -> Self {
        Query::new(table, Later::new(type_index_source::<E>), None)
    }

    fn new(table: &'t Table, source: Later<'t, Source>, error: Option<Error>) -> Self {
        Query {
            table,
            source,
            sort: None,
            filter: None,
            limit: None,
            page_size: None,
            descending: false,
            consistent: false,
            any_type: false,
            deleted: Deleted::Hidden,
            error,
            entity: PhantomData,
        }
    }

    /// The table this query reads.
    pub fn table(&self) -> &'t Table {
        self.table
    }

    /// Narrows the query with a condition on the sort key (`_timestamp` on the type index).
    /// A second condition replaces the first.
    pub fn sort_key(mut self, condition: SortKey) -> Self {
        self.sort = Some(condition);
        self
    }

    /// Keeps an error found while building, to report when the query runs.
    #[doc(hidden)]
    pub fn sort_key_or_error(self, condition: Result<SortKey>) -> Self {
        match condition {
            Ok(condition) => self.sort_key(condition),
            Err(error) => self.fail(error),
        }
    }

    fn fail(mut self, error: Error) -> Self {
        self.error.get_or_insert(error);
        self
    }

    /// Keeps only items matching `filter`. DynamoDB applies filters after reading, so filtered
    /// items still cost read capacity. A second filter is combined with `and`.
    pub fn filter(mut self, filter: Condition<E>) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(existing) => existing.and(filter),
            None => filter,
        });
        self
    }

    /// Returns at most `limit` items from [`all`](Self::all) and [`stream`](Self::stream).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Reads at most `size` items per request in [`all`](Self::all) and
    /// [`stream`](Self::stream) (DynamoDB's own bound is 1 MB per request).
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = Some(size.max(1));
        self
    }

    /// Reads in descending sort-key order (newest first on the type index).
    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    /// Reads with strong consistency (not available on indexes).
    pub fn consistent_read(mut self) -> Self {
        self.consistent = true;
        self
    }

    /// Every matching item, following pages to the end (or to [`limit`](Self::limit)).
    pub async fn all(self) -> Result<Vec<E>> {
        let table = self.table;
        self.collect(Asked::Items(None), |item| item::decode(item, table))
            .await
    }

    /// The number of matching items: the length [`all`](Self::all) would return (at most
    /// [`limit`](Self::limit)), counted by DynamoDB (`Select = COUNT`) with the same key
    /// condition and filters (the entity's `_type`, soft-deleted and expired items, the query's
    /// [`filter`](Self::filter)), following every page. No item is returned or decoded, but
    /// DynamoDB reads them: a count costs the read capacity of the items it goes over.
    ///
    /// See the `singletable` crate's docs (Queries) for an example.
    pub async fn count(self) -> Result<usize> {
        let (limit, page_size) = (self.limit, self.page_size);
        let request = self.prepare(Asked::Count)?;
        let mut count = 0;
        let mut start = None;
        while limit != Some(count) {
            // DynamoDB's `Limit` bounds the items a request goes over, so a page counts no
            // more than are missing, as `all` reads them.
            let wanted = smallest(limit.map(|l| l.saturating_sub(count)), page_size);
            let fetched = request.send(start, wanted).await?;
            count += fetched.count;
            start = fetched.next;
            if start.is_none() {
                break;
            }
        }
        Ok(count)
    }

    /// Reads the projection `P` of each matching item instead of the whole entity: DynamoDB
    /// returns only `P`'s fields and the attributes the query's guards need. The query's
    /// conditions, filters, order, limit and tenant checks are unchanged.
    ///
    /// See the `singletable` crate's docs (Projections) for an example.
    pub fn project<P: Projection<Entity = E>>(self) -> Projected<'t, P> {
        Projected { query: self }
    }

    /// Returns soft-deleted items too.
    pub fn include_deleted(mut self) -> Self {
        self.deleted = Deleted::Included;
        self
    }

    /// Returns soft-deleted items only.
    pub(crate) fn only_deleted(mut self) -> Self {
        self.deleted = Deleted::Only;
        self
    }

    /// Reads items of every type, not only `E`'s.
    pub(crate) fn any_type(mut self) -> Self {
        self.any_type = true;
        self
    }

    /// Every matching item as stored.
    pub(crate) async fn items(self) -> Result<Vec<Item>> {
        self.collect(Asked::Items(None), Ok).await
    }

    async fn collect<T>(
        self,
        asked: Asked,
        mut each: impl FnMut(Item) -> Result<T>,
    ) -> Result<Vec<T>> {
        let (limit, page_size) = (self.limit, self.page_size);
        let request = self.prepare(asked)?;
        let mut items = Vec::new();
        let mut start = None;
        while limit != Some(items.len()) {
            let wanted = smallest(limit.map(|l| l.saturating_sub(items.len())), page_size);
            let fetched = request.send(start, wanted).await?;
            for item in fetched.items {
                items.push(each(item)?);
            }
            start = fetched.next;
            if start.is_none() {
                break;
            }
        }
        Ok(items)
    }

    /// Up to `size` matching items starting at `cursor` (`None` for the first page), and the
    /// cursor of the next page. A page holds `size` items whenever that many remain, even when
    /// other entities' items are interleaved in the partition.
    pub async fn page(self, size: usize, cursor: Option<&str>) -> Result<Page<E>> {
        self.page_of(Asked::Items(None), size, cursor, item::decode::<E>)
            .await
    }

    async fn page_of<T>(
        self,
        asked: Asked,
        size: usize,
        cursor: Option<&str>,
        decode: fn(Item, &Table) -> Result<T>,
    ) -> Result<Page<T>> {
        let request = self.prepare(asked)?;
        if size == 0 {
            return Err(Error::InvalidRequest {
                entity: E::TYPE,
                reason: "a page holds at least one item".into(),
            });
        }
        let mut start = match cursor {
            Some(cursor) => Some(request.open_cursor(cursor)?),
            None => None,
        };
        // Room for a page as DynamoDB returns it at most (1 MB), not for any size asked.
        let mut items = Vec::with_capacity(size.min(1024));
        loop {
            // Asking for no more than are missing keeps the next cursor exact: DynamoDB stops
            // right after the last item returned.
            let fetched = request
                .send(start, Some(size.saturating_sub(items.len())))
                .await?;
            for item in fetched.items {
                items.push(decode(item, request.table)?);
            }
            start = fetched.next;
            if start.is_none() || items.len() >= size {
                let cursor = start.map(|key| request.make_cursor(&key)).transpose()?;
                return Ok(Page { items, cursor });
            }
        }
    }

    /// The matching items as a stream that reads one page at a time, as it is consumed.
    pub fn stream(self) -> impl Stream<Item = Result<E>> + Send + 't {
        self.stream_of(Asked::Items(None), item::decode::<E>)
    }

    fn stream_of<T: Send + 't>(
        self,
        asked: Asked,
        decode: fn(Item, &Table) -> Result<T>,
    ) -> impl Stream<Item = Result<T>> + Send + 't {
        struct State<'t> {
            /// `None` once the last page was read (or the query failed to build).
            request: Option<Prepared<'t>>,
            start: Option<Item>,
            buffer: VecDeque<Item>,
            left: Option<usize>,
        }
        let (left, page_size, table) = (self.limit, self.page_size, self.table);
        let (request, error) = match self.prepare(asked) {
            Ok(request) => (Some(request), None),
            Err(error) => (None, Some(error)),
        };
        let state = State {
            request,
            start: None,
            buffer: VecDeque::new(),
            left,
        };
        let failed = stream::iter(error.map(Err));
        let items = stream::try_unfold(state, move |mut state| async move {
            loop {
                if state.left == Some(0) {
                    return Ok(None);
                }
                if let Some(item) = state.buffer.pop_front() {
                    let entity = decode(item, table)?;
                    state.left = state.left.map(|l| l - 1);
                    return Ok(Some((entity, state)));
                }
                let Some(request) = &state.request else {
                    return Ok(None);
                };
                let wanted = smallest(state.left, page_size);
                let fetched = request.send(state.start.take(), wanted).await?;
                state.buffer.extend(fetched.items);
                state.start = fetched.next;
                if state.start.is_none() {
                    state.request = None;
                }
            }
        });
        futures::StreamExt::chain(failed, items)
    }

    /// Checks the query and builds the request every page reuses.
    fn prepare(self, asked: Asked) -> Result<Prepared<'t>> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let table = self.table;
        crate::tenant::admit::<E>(table)?;
        let source = self.source.make(table)?;
        // The one check every raw partition passes, whoever built it.
        match &source {
            Source::Partition(pk) => {
                crate::tenant::check_partition::<E>(table, E::PARTITION_KEY, pk)?
            }
            Source::Index(name, pk) => {
                let index = E::INDEXES.iter().find(|index| index.index == *name);
                let Some(index) = index else {
                    return Err(Error::InvalidRequest {
                        entity: E::TYPE,
                        reason: format!("the entity declares no keys for index `{name}`"),
                    });
                };
                crate::tenant::check_partition::<E>(table, &index.pk, pk)?;
            }
            Source::TypeIndex | Source::TenantTypeIndex(_) => {}
        }
        let mut names = Names::default();
        let (index, partition_attribute, partition_value, sort_attribute) = match &source {
            Source::Partition(pk) => (None, table.partition_key(), pk.clone(), table.sort_key()),
            Source::Index(name, pk) => {
                let (pk_attribute, sk_attribute) = item::index_attributes::<E>(table, name)?;
                (Some(*name), pk_attribute, pk.clone(), sk_attribute)
            }
            Source::TypeIndex => (
                table.type_index(),
                TYPE_ATTRIBUTE,
                E::TYPE.to_owned(),
                TIMESTAMP_ATTRIBUTE,
            ),
            Source::TenantTypeIndex(value) => (
                table.tenant_type_index(),
                TENANT_TYPE_ATTRIBUTE,
                value.clone(),
                TIMESTAMP_ATTRIBUTE,
            ),
        };
        if self.consistent && index.is_some() {
            return Err(Error::InvalidRequest {
                entity: E::TYPE,
                reason: "indexes do not support consistent reads".into(),
            });
        }
        let partition_name = names.name(partition_attribute);
        let partition_placeholder = names.value(AttributeValue::S(partition_value.clone()));
        let mut key_condition = format!("{partition_name} = {partition_placeholder}");
        if let Some(sort) = &self.sort {
            let sort_name = names.name(sort_attribute);
            key_condition.push_str(" AND ");
            key_condition.push_str(&sort.render(&sort_name, &mut names));
        }

        let mut filter = String::new();
        let typed_by_key = matches!(source, Source::TypeIndex | Source::TenantTypeIndex(_));
        if !self.any_type && !typed_by_key {
            // A partition holds several entities, some with overlapping sort-key prefixes.
            let type_name = names.name(TYPE_ATTRIBUTE);
            let type_value = names.value(AttributeValue::S(E::TYPE.to_owned()));
            filter = format!("{type_name} = {type_value}");
        }
        let deleted_clause = match (E::SOFT_DELETE, self.deleted) {
            (true, Deleted::Hidden) => Some("attribute_not_exists"),
            (true, Deleted::Only) => Some("attribute_exists"),
            _ => None,
        };
        if let (Some(function), false) = (deleted_clause, self.any_type) {
            let name = names.name(item::DELETED_ATTRIBUTE);
            if !filter.is_empty() {
                filter.push_str(" AND ");
            }
            filter.push_str(&format!("{function}({name})"));
        }
        if E::EXPIRES && !self.any_type {
            // Expired items are deleted late; they are not returned meanwhile.
            let ttl = names.name(item::ttl_attribute::<E>(table)?);
            let now = names.value(AttributeValue::N(
                crate::autogen::now().unix_timestamp().to_string(),
            ));
            if !filter.is_empty() {
                filter.push_str(" AND ");
            }
            filter.push_str(&format!("(attribute_not_exists({ttl}) OR {ttl} > {now})"));
        }
        if let Some(user) = &self.filter {
            if !filter.is_empty() {
                filter.push_str(" AND ");
            }
            user.render(&mut names, &mut filter)
                .map_err(|message| Error::Encode {
                    entity: E::TYPE,
                    field: "a filter value".into(),
                    message,
                })?;
        }

        let (projection, count) = match &asked {
            Asked::Items(Some(attributes)) => {
                (Some(projection::expression(attributes, &mut names)), false)
            }
            Asked::Items(None) => (None, false),
            Asked::Count => (None, true),
        };

        let sort_text = self
            .sort
            .as_ref()
            .map(SortKey::fingerprint)
            .unwrap_or_default();
        let fingerprint = Fingerprint::of(&[
            table.name().as_bytes(),
            index.unwrap_or_default().as_bytes(),
            E::TYPE.as_bytes(),
            partition_value.as_bytes(),
            sort_text.as_bytes(),
            &[
                u8::from(self.descending),
                u8::from(self.any_type),
                self.deleted as u8,
            ],
        ]);
        Ok(Prepared {
            table,
            entity: E::TYPE,
            index: index.map(str::to_owned),
            key_condition,
            filter: (!filter.is_empty()).then_some(filter),
            projection,
            count,
            names: names.names.into_iter().collect(),
            values: names.values.into_iter().collect(),
            forward: !self.descending,
            consistent: self.consistent,
            fingerprint,
            partition_attribute: partition_attribute.to_owned(),
            partition_value,
        })
    }
}

/// What one Query request returned.
struct Fetched {
    items: Vec<Item>,
    /// The number of matching items in the page (returned or counted).
    count: usize,
    /// Where the next request starts; `None` after the last page.
    next: Option<Item>,
}

/// A query ready to send, page after page.
struct Prepared<'t> {
    table: &'t Table,
    entity: &'static str,
    index: Option<String>,
    key_condition: String,
    filter: Option<String>,
    /// The `ProjectionExpression`, when only some attributes are read.
    projection: Option<String>,
    /// Counts the matching items instead of returning them.
    count: bool,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    forward: bool,
    consistent: bool,
    fingerprint: Fingerprint,
    partition_attribute: String,
    partition_value: String,
}

impl Prepared<'_> {
    /// One Query request: the items it returned (or counted) and where the next one starts.
    async fn send(&self, start: Option<Item>, limit: Option<usize>) -> Result<Fetched> {
        let limit = limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX));
        let table = self.table;
        // Each page is one request with its own retries: a page that fails for a passing
        // reason is asked again from the same start key, so a read never restarts or repeats.
        let output = request::query(table, self.entity, |request| {
            request
                .set_index_name(self.index.clone())
                .key_condition_expression(&self.key_condition)
                .set_filter_expression(self.filter.clone())
                .set_projection_expression(self.projection.clone())
                .set_select(self.count.then_some(Select::Count))
                .set_expression_attribute_names(Some(self.names.clone()))
                .set_expression_attribute_values(Some(self.values.clone()))
                .scan_index_forward(self.forward)
                .consistent_read(self.consistent)
                .set_limit(limit)
                .set_exclusive_start_key(start)
        })
        .await?;
        Ok(Fetched {
            count: usize::try_from(output.count).unwrap_or_default(),
            items: output.items.unwrap_or_default(),
            next: output.last_evaluated_key,
        })
    }

    fn make_cursor(&self, key: &Item) -> Result<String> {
        cursor::make(
            key,
            self.fingerprint,
            self.table.cursor_secret(),
            self.entity,
        )
    }

    fn open_cursor(&self, text: &str) -> Result<Item> {
        let partition = (
            self.partition_attribute.as_str(),
            self.partition_value.as_str(),
        );
        cursor::open(
            text,
            self.fingerprint,
            self.table.cursor_secret(),
            self.entity,
            partition,
        )
    }
}

/// A query that reads the projection `P` of each item, made by [`Query::project`]: only `P`'s
/// fields (and what the read guards need) are returned.
#[must_use = "a query does nothing until it is run"]
pub struct Projected<'t, P: Projection> {
    query: Query<'t, P::Entity>,
}

impl<'t, P: Projection> Projected<'t, P> {
    /// Every matching item's projection, following pages to the end (or to the query's
    /// `limit`).
    pub async fn all(self) -> Result<Vec<P>> {
        let (table, asked) = self.asked();
        self.query
            .collect(asked, |item| projection::decode::<P>(item, table))
            .await
    }

    /// Up to `size` projections from `cursor` on, and the next page's cursor, as
    /// [`Query::page`] (whose cursors it takes).
    pub async fn page(self, size: usize, cursor: Option<&str>) -> Result<Page<P>> {
        let (_, asked) = self.asked();
        self.query
            .page_of(asked, size, cursor, projection::decode::<P>)
            .await
    }

    /// The matching items' projections, read one page at a time as the stream is consumed.
    pub fn stream(self) -> impl Stream<Item = Result<P>> + Send + 't {
        let (_, asked) = self.asked();
        self.query.stream_of(asked, projection::decode::<P>)
    }

    fn asked(&self) -> (&'t Table, Asked) {
        let table = self.query.table;
        (table, Asked::Items(projection::attributes::<P>(table)))
    }
}

impl<P: Projection> std::fmt::Debug for Projected<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projected")
            .field("projection", &std::any::type_name::<P>())
            .finish_non_exhaustive()
    }
}

/// Where a type index listing of `E` reads: for a tenant-scoped entity, the tenant type index
/// partition of the current tenant.
fn type_index_source<E: Schema>(table: &Table) -> Result<Source> {
    if E::TENANT_PARAM.is_none() {
        return match table.type_index() {
            Some(_) => Ok(Source::TypeIndex),
            None => Err(Error::InvalidRequest {
                entity: E::TYPE,
                reason: "the table has no type index; declare it with \
                         `Table::builder(..).type_index(name)`"
                    .into(),
            }),
        };
    }
    let tenant = crate::tenant::required::<E>(table)?;
    let tenant = tenant.as_str();
    match table.tenant_type_index() {
        Some(_) => Ok(Source::TenantTypeIndex(item::tenant_type(
            tenant,
            E::TYPE,
            table,
        ))),
        None => Err(Error::InvalidRequest {
            entity: E::TYPE,
            reason: "the entity is tenant-scoped: listing it needs a tenant type index; \
                     declare it with `Table::builder(..).tenant_type_index(name)`"
                .into(),
        }),
    }
}

/// The smaller of two optional bounds.
fn smallest(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Renders the bounds of a creation-time range on the type index.
pub(crate) fn creation_range(from: OffsetDateTime, to: OffsetDateTime) -> SortKey {
    SortKey::Between(crate::timestamp::text(from), crate::timestamp::text(to))
}
