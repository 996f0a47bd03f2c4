//! The lifecycle of a tenant, built on the table's schema ([`TableSchema`]): list the tenants of
//! a table, delete every item of one tenant, export a tenant's items as JSON lines and import
//! them back.
//!
//! # A tenant's items
//!
//! On a table with a tenant type index
//! ([`TableBuilder::tenant_type_index`](crate::TableBuilder::tenant_type_index)), every item of
//! a tenant-scoped entity carries `_tenant_type = <tenant>#<TYPE>`, and so do the guards of its
//! unique values (`<tenant>#_UNIQUE`) and its audit records (`<tenant>#AUDIT_LOG`). One tenant's
//! items are then, for each tenant-scoped entity of the schema and for `_UNIQUE` and
//! `AUDIT_LOG`, the partition `<tenant>#<TYPE>` of that index: they are found by key, never by
//! reading another tenant's items. Without a tenant type index every operation here is refused
//! with [`Error::InvalidRequest`].
//!
//! Items written before `_tenant_type` existed (or by another writer, without it) are in no
//! partition of the index: they are found only once re-indexed — run
//! [`Backfill`](crate::Backfill) of each entity in
//! [`tenant::across_tenants`](crate::tenant::across_tenants) first. A backfill re-indexes entity
//! items only; guards and audit records stored without `_tenant_type` stay out of reach.
//! Entities outside the schema are not a tenant's items here.
//!
//! The index may lie: `_tenant_type` is an attribute like any other. So every item an index
//! partition lists is checked against the tenant's key space before it is deleted or exported:
//! an entity's key must be one of the entity's keys with the tenant in its tenant placeholder, a
//! guard's partition key must start with `TENANT#<tenant>#_UNIQUE#`, an audit record's with
//! `TENANT#<tenant>#` (the layouts of [`UNIQUE_TYPE`] and the audit trail). What fails is left
//! alone, logged, and counted as skipped.
//!
//! # Tenancy
//!
//! Listing the tenants is cross-tenant work: it runs only in
//! [`tenant::across_tenants`](crate::tenant::across_tenants). Deleting, exporting and importing
//! work on the tenant of the current [`tenant::scope`](crate::tenant::scope) (or
//! [`tenant::as_tenant`](crate::tenant::as_tenant), which logs why): they take no tenant
//! parameter, so code running for one tenant cannot name another. The table's tenant resolvers
//! are not asked, and none of them runs across tenants. Everywhere else they fail with
//! [`Error::MissingTenant`] before any request.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::poll_fn;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use futures::{Stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncWrite};
use tracing::Instrument;

use crate::batch;
use crate::error::{Error, ItemKey, Result};
use crate::item::{self, Item, TENANT_TYPE_ATTRIBUTE, TYPE_ATTRIBUTE, UNIQUE_TYPE};
use crate::request::{self, sdk_error};
use crate::table::{Table, TenantId};
use crate::table_schema::{Member, TableSchema};
use crate::write::record::{AUDIT_TYPE, TENANT_PREFIX};

/// DynamoDB's limit on the segments of a parallel scan.
const MAX_SEGMENTS: u32 = 1_000_000;

/// How many segments a listing reads at once.
const MAX_PARALLEL_SEGMENTS: usize = 64;

/// How many of a tenant's index partitions a deletion works through at once.
const MAX_PARALLEL_KINDS: usize = 8;

/// Index entries read per page by default: a deletion's checkpoint holds the keys of the page
/// under way, so pages are kept small enough for it.
const DEFAULT_PAGE_SIZE: i32 = 500;

/// The longest line an import reads: an item is at most 400 KB, its DynamoDB JSON some more.
const MAX_LINE: usize = 4 * 1024 * 1024;

/// How a deletion, export or import sends its batches: requests in flight, and rounds for what
/// DynamoDB leaves unprocessed (each request also has the table's retries).
#[derive(Clone, Copy, Debug)]
struct Effort {
    concurrency: usize,
    attempts: u32,
}

impl Default for Effort {
    fn default() -> Self {
        Effort {
            concurrency: 4,
            attempts: 10,
        }
    }
}

/// A kind of a tenant's items: what one partition of the tenant type index holds.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// The items of a tenant-scoped entity.
    Entity(&'static Member),
    /// The guards of the tenant's unique values.
    Guard,
    /// The audit records of the tenant's audited entities.
    Audit,
}

impl Kind {
    /// The `_type` of the items of this kind.
    fn type_name(self) -> &'static str {
        match self {
            Kind::Entity(member) => member.type_name(),
            Kind::Guard => UNIQUE_TYPE,
            Kind::Audit => AUDIT_TYPE,
        }
    }

    /// Why `key` is not in `tenant`'s key space as the key of an item of this kind; `None` when
    /// it is.
    fn refuse_key(self, key: &ItemKey, tenant: &TenantId, table: &Table) -> Option<String> {
        let s = table.separator();
        match self {
            Kind::Entity(member) => {
                let parses = member.partition_key().parse_key(&key.pk, s).is_ok()
                    && member.sort_key().parse_key(&key.sk, s).is_ok();
                if !parses {
                    return Some(format!(
                        "the key is not one of `{}`'s keys (`{}`, `{}`)",
                        member.type_name(),
                        member.partition_key(),
                        member.sort_key()
                    ));
                }
                match member.owner(key, table) {
                    Ok(owner) if owner == *tenant => None,
                    Ok(owner) => Some(format!("the key is in tenant `{owner}`'s key space")),
                    Err(error) => Some(error.to_string()),
                }
            }
            Kind::Guard => {
                let prefix = format!("{TENANT_PREFIX}{s}{tenant}{s}{UNIQUE_TYPE}{s}");
                let inside = key.pk.len() > prefix.len() && key.pk.starts_with(&prefix);
                match (inside, key.sk == UNIQUE_TYPE) {
                    (true, true) => None,
                    (false, _) => Some(format!(
                        "a guard of tenant `{tenant}` has a partition key starting with `{prefix}`"
                    )),
                    (true, false) => Some(format!("a guard has the sort key `{UNIQUE_TYPE}`")),
                }
            }
            Kind::Audit => {
                let prefix = format!("{TENANT_PREFIX}{s}{tenant}{s}");
                if key.pk.len() > prefix.len() && key.pk.starts_with(&prefix) {
                    None
                } else {
                    Some(format!(
                        "an audit record of tenant `{tenant}` has a partition key starting with \
                         `{prefix}`"
                    ))
                }
            }
        }
    }

    /// Why the whole `item` (or the `_type` and key an index entry shows of it) is not an item
    /// of this kind in `tenant`'s key space; `None` when it is.
    fn refuse(self, item: &Item, tenant: &TenantId, table: &Table) -> Option<String> {
        let expected = self.type_name();
        match item.get(TYPE_ATTRIBUTE).map(AttributeValue::as_s) {
            Some(Ok(found)) if found == expected => {}
            Some(Ok(found)) => return Some(format!("its `_type` is `{found}`, not `{expected}`")),
            Some(Err(_)) => return Some("its `_type` is not a string".into()),
            None => return Some("it has no `_type`".into()),
        }
        let key = match stored_key(item, table) {
            Ok(key) => key,
            Err(why) => return Some(why),
        };
        if let Some(why) = self.refuse_key(&key, tenant, table) {
            return Some(why);
        }
        let partition = item::tenant_type(tenant.as_str(), expected, table);
        match item.get(TENANT_TYPE_ATTRIBUTE).map(AttributeValue::as_s) {
            None => {}
            Some(Ok(found)) if *found == partition => {}
            Some(_) => {
                return Some(format!(
                    "its `{TENANT_TYPE_ATTRIBUTE}` is not `{partition}`, so it would be listed \
                     with another tenant's items"
                ))
            }
        }
        // The attribute naming the tenant, where the item has one, names this tenant too.
        let field = match self {
            Kind::Entity(member) => member.tenant_field(),
            Kind::Audit => Some("tenantId"),
            Kind::Guard => None,
        };
        match field.and_then(|field| Some((field, item.get(field)?))) {
            None => None,
            Some((_, AttributeValue::S(found))) if found == tenant.as_str() => None,
            Some((field, found)) => {
                Some(format!("its `{field}` is {found:?}, not tenant `{tenant}`"))
            }
        }
    }
}

/// The key of a stored item (or index entry): its key attributes, which must be strings.
fn stored_key(item: &Item, table: &Table) -> std::result::Result<ItemKey, String> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(text)) => Ok(text.clone()),
        Some(_) => Err(format!("its key attribute `{name}` is not a string")),
        None => Err(format!("it has no key attribute `{name}`")),
    };
    Ok(ItemKey {
        pk: text(table.partition_key())?,
        sk: text(table.sort_key())?,
    })
}

/// The kinds of `S`'s tenants' items: its tenant-scoped entities, their guards and their audit
/// records. Refused for a schema without a tenant-scoped entity, which has no tenant's items.
fn kinds<S: TableSchema>(what: &str) -> Result<Vec<Kind>> {
    let mut kinds: Vec<Kind> = S::MEMBERS
        .iter()
        .filter(|member| member.tenant_field().is_some())
        .map(Kind::Entity)
        .collect();
    if kinds.is_empty() {
        return Err(Error::InvalidRequest {
            entity: S::NAME,
            reason: format!(
                "{what}: no entity of `{}` is tenant-scoped, so no item of it is a tenant's",
                S::NAME
            ),
        });
    }
    kinds.extend([Kind::Guard, Kind::Audit]);
    Ok(kinds)
}

/// The table's tenant type index; refused without one.
fn tenant_type_index<'t, S: TableSchema>(table: &'t Table, what: &str) -> Result<&'t str> {
    table
        .tenant_type_index()
        .ok_or_else(|| Error::InvalidRequest {
            entity: S::NAME,
            reason: format!(
                "{what} reads the tenant type index, and table `{}` has none; declare it with \
             `Table::builder(..).tenant_type_index(name)` (a global secondary index on \
             `{TENANT_TYPE_ATTRIBUTE}`, sort key `_timestamp`), and re-index items stored before \
             with `Backfill` in `tenant::across_tenants`",
                table.name()
            ),
        })
}

/// The tenant of the current scope, for work on one tenant's items: only an explicit
/// [`tenant::scope`](crate::tenant::scope) — never the table's resolvers, never
/// [`tenant::across_tenants`](crate::tenant::across_tenants). Checked like every key value.
fn scope_tenant<S: TableSchema>(table: &Table, what: &str) -> Result<TenantId> {
    let Some(tenant) = crate::tenant::current() else {
        if let Some(reason) = crate::tenant::crossing() {
            tracing::warn!(schema = S::NAME, %reason, "{what} works on one tenant: refused across tenants");
        }
        return Err(Error::MissingTenant { entity: S::NAME });
    };
    singletable_keys::check_value(tenant.as_str(), table.separator()).map_err(|error| {
        Error::InvalidKey {
            entity: S::NAME,
            source: singletable_keys::KeyError::Value {
                param: "tenant".into(),
                error,
            },
        }
    })?;
    Ok(tenant)
}

/// One page of an index partition: the entries (keys and `_type`), and where the next page
/// starts (`None`: the partition was read to its end).
struct IndexPage {
    entries: Vec<Item>,
    next: Option<Item>,
}

/// Reads one page of the partition `partition` of the tenant type index `index`, from `start`:
/// the table's keys and `_type` of each entry only.
async fn read_page(
    table: &Table,
    index: &str,
    partition: &str,
    entity: &'static str,
    start: Option<Item>,
    page_size: i32,
) -> Result<IndexPage> {
    let output = request::query(table, entity, |request| {
        request
            .index_name(index)
            .key_condition_expression("#tenant_type = :tenant_type")
            .projection_expression("#pk, #sk, #type")
            .expression_attribute_names("#tenant_type", TENANT_TYPE_ATTRIBUTE)
            .expression_attribute_names("#pk", table.partition_key())
            .expression_attribute_names("#sk", table.sort_key())
            .expression_attribute_names("#type", TYPE_ATTRIBUTE)
            .expression_attribute_values(":tenant_type", AttributeValue::S(partition.into()))
            .limit(page_size)
            .set_exclusive_start_key(start)
    })
    .await?;
    Ok(IndexPage {
        entries: output.items.unwrap_or_default(),
        next: output.last_evaluated_key,
    })
}

/// Locks `mutex`; a panic elsewhere cannot leave these counts half-written, so poison is moot.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// Listing

/// Lists the tenants of a table: [`TableSchema::tenants`].
///
/// A parallel scan of the tenant type index that reads only `_tenant_type`, keeping the tenants
/// of the partitions of the schema's kinds of tenant items (its tenant-scoped entities, `_UNIQUE`
/// and `AUDIT_LOG`). It is cross-tenant work: it runs only in
/// [`tenant::across_tenants`](crate::tenant::across_tenants), and fails anywhere else (in one
/// tenant's scope too) with [`Error::MissingTenant`] before any request.
///
/// ```no_run
/// # use singletable_core::{tenant, Result, Table, TableSchema};
/// # async fn run<AppItem: TableSchema>(table: &Table) -> Result<()> {
/// let reason = "bill every tenant";
/// let tenants = tenant::across_tenants(reason, AppItem::tenants(table).segments(8).send()).await?;
/// let sizes = tenant::across_tenants(reason, AppItem::tenants(table).count_items()).await?;
/// for (tenant, items) in sizes {
///     println!("{tenant}: {items} items");
/// }
/// # Ok(())
/// # }
/// ```
#[must_use = "a listing does nothing until `send()` or `count_items()` is awaited"]
pub struct Tenants<'t, S> {
    table: &'t Table,
    segments: u32,
    page_size: Option<i32>,
    schema: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for Tenants<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants")
            .field("table", &self.table.name())
            .field("segments", &self.segments)
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl<'t, S: TableSchema> Tenants<'t, S> {
    /// A listing of the tenants of `S` on `table`, scanning 4 segments at once.
    pub fn new(table: &'t Table) -> Self {
        Tenants {
            table,
            segments: 4,
            page_size: None,
            schema: PhantomData,
        }
    }

    /// Scans with `segments` segments (1 to DynamoDB's 1,000,000), of which at most 64 are read
    /// at once.
    pub fn segments(mut self, segments: u32) -> Self {
        self.segments = segments.clamp(1, MAX_SEGMENTS);
        self
    }

    /// Reads at most `items` index entries per scan page (DynamoDB's 1 MB page otherwise).
    pub fn page_size(mut self, items: usize) -> Self {
        self.page_size = Some(i32::try_from(items.max(1)).unwrap_or(i32::MAX));
        self
    }

    /// The tenants with at least one item of the schema, sorted by id.
    pub async fn send(self) -> Result<Vec<TenantId>> {
        let counts = self.count_items().await?;
        Ok(counts.into_iter().map(|(tenant, _)| tenant).collect())
    }

    /// The tenants with at least one item of the schema, sorted by id, each with the number of
    /// its items the index lists (entities, guards and audit records; soft-deleted and expired
    /// items too, which are still stored).
    pub async fn count_items(self) -> Result<Vec<(TenantId, u64)>> {
        let table = self.table;
        let Some(reason) = crate::tenant::crossing() else {
            return Err(Error::MissingTenant { entity: S::NAME });
        };
        let index = tenant_type_index::<S>(table, "listing the tenants")?;
        let types: HashSet<&'static str> = kinds::<S>("listing the tenants")?
            .into_iter()
            .map(Kind::type_name)
            .collect();
        let span = tracing::info_span!(
            "list_tenants",
            table = table.name(),
            schema = S::NAME,
            %reason,
            segments = self.segments
        );
        let counts = futures::stream::iter(0..self.segments)
            .map(|segment| self.segment(segment, index, &types))
            .buffer_unordered(MAX_PARALLEL_SEGMENTS)
            .try_fold(
                BTreeMap::<String, u64>::new(),
                |mut total, counts| async move {
                    for (tenant, count) in counts {
                        *total.entry(tenant).or_default() += count;
                    }
                    Ok(total)
                },
            )
            .instrument(span)
            .await?;
        tracing::info!(schema = S::NAME, tenants = counts.len(), "listed tenants");
        Ok(counts
            .into_iter()
            .map(|(tenant, count)| (TenantId::from(tenant), count))
            .collect())
    }

    /// Counts one segment's index entries by tenant.
    async fn segment(
        &self,
        segment: u32,
        index: &str,
        types: &HashSet<&'static str>,
    ) -> Result<HashMap<String, u64>> {
        let table = self.table;
        let separator = table.separator();
        let mut counts: HashMap<String, u64> = HashMap::new();
        let mut start = None;
        loop {
            let output = request::scan(table, S::NAME, |request| {
                request
                    .index_name(index)
                    .segment(segment as i32)
                    .total_segments(self.segments as i32)
                    .projection_expression("#tenant_type")
                    .expression_attribute_names("#tenant_type", TENANT_TYPE_ATTRIBUTE)
                    .set_limit(self.page_size)
                    .set_exclusive_start_key(start)
            })
            .await?;
            for entry in output.items.unwrap_or_default() {
                let Some(Ok(value)) = entry.get(TENANT_TYPE_ATTRIBUTE).map(AttributeValue::as_s)
                else {
                    continue;
                };
                // A tenant id never holds the separator: the type is what follows the first.
                match value.split_once(separator) {
                    Some((tenant, type_name)) if types.contains(type_name) => {
                        *counts.entry(tenant.to_owned()).or_default() += 1;
                    }
                    _ => {}
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(counts);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Deletion

/// A key as a checkpoint stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct StoredKey {
    pk: String,
    sk: String,
}

impl From<&ItemKey> for StoredKey {
    fn from(key: &ItemKey) -> Self {
        StoredKey {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
        }
    }
}

impl From<&StoredKey> for ItemKey {
    fn from(key: &StoredKey) -> Self {
        ItemKey {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
        }
    }
}

/// The saved position of a tenant's deletion, handed to [`DeleteTenant::on_progress`] after
/// every step and taken back by [`DeleteTenant::resume`]. Serialize it (it implements
/// `serde::Serialize` and `Deserialize`) to resume in another process.
///
/// For each kind of the tenant's items it holds the counts so far, where the index partition's
/// reading goes on, and the keys of the page under way: read and checked, not yet known to be
/// deleted. A resumed deletion deletes those first, and counts them then, so every key is counted
/// once over all the runs of a deletion, even when the index (which is eventually consistent)
/// still lists an item that was deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantCheckpoint {
    table: String,
    schema: String,
    tenant: String,
    types: BTreeMap<String, TypeCheckpoint>,
}

/// The progress of a tenant's deletion over one kind of its items (one `_type`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCheckpoint {
    deleted: u64,
    skipped: u64,
    /// Whether the index partition was read to its end.
    read_all: bool,
    /// Where reading the index partition goes on (its `LastEvaluatedKey`, string attributes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<BTreeMap<String, String>>,
    /// Keys read and checked whose deletion is not confirmed yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<StoredKey>,
}

impl TenantCheckpoint {
    /// The tenant whose items are deleted.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The table the items are deleted from.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The progress over each kind of the tenant's items, by `_type`.
    pub fn types(&self) -> impl Iterator<Item = (&str, &TypeCheckpoint)> {
        self.types
            .iter()
            .map(|(name, progress)| (name.as_str(), progress))
    }

    /// The items deleted so far, over every kind.
    pub fn deleted(&self) -> u64 {
        self.types.values().map(|progress| progress.deleted).sum()
    }

    /// Whether every kind of the tenant's items is done.
    pub fn is_done(&self) -> bool {
        self.types.values().all(TypeCheckpoint::is_done)
    }
}

impl TypeCheckpoint {
    /// Items of the kind whose deletion was confirmed (by every run of the deletion so far).
    pub fn deleted(&self) -> u64 {
        self.deleted
    }

    /// Index entries left alone because the item is not in the tenant's key space.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Whether the index partition was read to its end and everything read was deleted.
    pub fn is_done(&self) -> bool {
        self.read_all && self.pending.is_empty()
    }
}

/// What a finished tenant deletion did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TenantDeletion {
    /// The tenant whose items were deleted.
    pub tenant: TenantId,
    /// The items deleted, by `_type` (every kind of the tenant's items, 0 where none): each
    /// key the index listed for the tenant, that lies in its key space, and whose delete
    /// DynamoDB confirmed, counted once over every run of the deletion (a resumed one counts on
    /// from its checkpoint). `BatchWriteItem` does not tell whether an item was still there: an
    /// item someone else deleted between the read and the delete counts too.
    pub deleted: BTreeMap<&'static str, u64>,
    /// Index entries left alone, by `_type`: their key or attributes say another tenant (or
    /// another type), whatever their `_tenant_type` says.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Whether the deletion resumed from a checkpoint.
    pub resumed: bool,
}

/// Called with the checkpoint after every step of a deletion.
type CheckpointFn = Arc<dyn Fn(&TenantCheckpoint) + Send + Sync>;

/// Deletes every item of the scope's tenant: [`TableSchema::delete_tenant`].
///
/// Every kind of the tenant's items (each tenant-scoped entity of the schema, `_UNIQUE`
/// guards, `AUDIT_LOG` records; soft-deleted and expired items too) is read from its partition
/// of the tenant type index, keys only, a page at a time, and every key that lies in the
/// tenant's key space is deleted with `BatchWriteItem` in chunks of 25, retried as a
/// [`BatchWrite`](crate::BatchWrite) retries (the table's retry policy per request, unprocessed
/// items with backoff). Up to 8 kinds are worked through at once. The deletes are raw deletes by
/// key: no audit record is written, no guard is freed one by one (the guards are deleted with
/// the rest), and soft delete does not apply.
///
/// It runs in the tenant's scope only ([`tenant::scope`](crate::tenant::scope) or
/// [`tenant::as_tenant`](crate::tenant::as_tenant)); elsewhere, across tenants too, it fails with
/// [`Error::MissingTenant`] before any request.
///
/// It is resumable: [`on_progress`](Self::on_progress) receives a [`TenantCheckpoint`] after
/// every page read and every page deleted; hand the last one to [`resume`](Self::resume) to go
/// on where a stopped run was (a failed request, a crash, a dropped future). A checkpoint of
/// another tenant, table or schema is refused.
///
/// Items written to the tenant while it is deleted may be left; run it again.
///
/// ```no_run
/// # use std::sync::{Arc, Mutex};
/// # use singletable_core::{tenant, Result, Table, TableSchema, TenantCheckpoint};
/// # async fn run<AppItem: TableSchema>(table: &Table, saved: Option<TenantCheckpoint>) -> Result<()> {
/// let last = Arc::new(Mutex::new(None));
/// let keep = last.clone();
/// let mut deletion = AppItem::delete_tenant(table)
///     .on_progress(move |checkpoint| *keep.lock().unwrap() = Some(checkpoint.clone()));
/// if let Some(checkpoint) = saved {
///     deletion = deletion.resume(checkpoint);
/// }
/// let report = tenant::as_tenant("tenant-7", "account closed", deletion.send()).await?;
/// println!("deleted {:?}", report.deleted);
/// # Ok(())
/// # }
/// ```
#[must_use = "a deletion does nothing until `send()` is awaited"]
pub struct DeleteTenant<'t, S> {
    table: &'t Table,
    page_size: i32,
    effort: Effort,
    resume: Option<TenantCheckpoint>,
    on_progress: Option<CheckpointFn>,
    schema: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for DeleteTenant<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeleteTenant")
            .field("table", &self.table.name())
            .field("page_size", &self.page_size)
            .field("effort", &self.effort)
            .field(
                "resume",
                &self.resume.as_ref().map(TenantCheckpoint::tenant),
            )
            .finish_non_exhaustive()
    }
}

/// What the kinds of a deletion share while they run.
struct Shared {
    checkpoint: Mutex<TenantCheckpoint>,
    on_progress: Option<CheckpointFn>,
}

impl Shared {
    /// Reads the progress of `type_name`.
    fn read<T>(&self, type_name: &str, read: impl FnOnce(&TypeCheckpoint) -> T) -> T {
        let checkpoint = lock(&self.checkpoint);
        read(
            checkpoint
                .types
                .get(type_name)
                .unwrap_or(&TypeCheckpoint::default()),
        )
    }

    /// Changes the progress of `type_name` and hands the checkpoint on. The callback runs under
    /// the lock, so checkpoints reach it in the order they were made.
    fn update(&self, type_name: &str, change: impl FnOnce(&mut TypeCheckpoint)) {
        let mut checkpoint = lock(&self.checkpoint);
        change(checkpoint.types.entry(type_name.to_owned()).or_default());
        if let Some(report) = &self.on_progress {
            report(&checkpoint);
        }
    }
}

impl<'t, S: TableSchema> DeleteTenant<'t, S> {
    /// A deletion of the scope's tenant's items of `S` on `table`: pages of 500 index entries,
    /// 4 `BatchWriteItem` requests at once per kind, from the start.
    pub fn new(table: &'t Table) -> Self {
        DeleteTenant {
            table,
            page_size: DEFAULT_PAGE_SIZE,
            effort: Effort::default(),
            resume: None,
            on_progress: None,
            schema: PhantomData,
        }
    }

    /// Reads at most `entries` index entries per page (default 500); a checkpoint holds the
    /// keys of one page per kind.
    pub fn page_size(mut self, entries: usize) -> Self {
        self.page_size = i32::try_from(entries.max(1)).unwrap_or(i32::MAX);
        self
    }

    /// Sends at most `requests` `BatchWriteItem` requests at once per kind (default 4).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.effort.concurrency = requests.max(1);
        self
    }

    /// Stops after `attempts` rounds in a row (default 10) in which DynamoDB deleted none of a
    /// chunk's items, as [`BatchWrite::max_attempts`](crate::BatchWrite::max_attempts).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.effort.attempts = attempts.max(1);
        self
    }

    /// Calls `report` with the checkpoint after every page read and every page deleted (and
    /// when a step fails, with what it got done). It runs while the deletion waits: keep it
    /// short (store the checkpoint, or send it to a task that saves it).
    pub fn on_progress(
        mut self,
        report: impl Fn(&TenantCheckpoint) + Send + Sync + 'static,
    ) -> Self {
        self.on_progress = Some(Arc::new(report));
        self
    }

    /// Goes on from `checkpoint`, the last one a stopped deletion of the same tenant handed to
    /// [`on_progress`](Self::on_progress). `send()` refuses a checkpoint of another tenant,
    /// table or schema, and one whose keys are not in the tenant's key space.
    pub fn resume(mut self, checkpoint: TenantCheckpoint) -> Self {
        self.resume = Some(checkpoint);
        self
    }

    /// Deletes the tenant's items to the end. Every kind runs to its end or its first failure;
    /// then the first failure is returned ([`Error::Unprocessed`] names the keys not deleted),
    /// and the last checkpoint handed to [`on_progress`](Self::on_progress) resumes it.
    pub async fn send(self) -> Result<TenantDeletion> {
        let table = self.table;
        let tenant = scope_tenant::<S>(table, "deleting a tenant")?;
        let index = tenant_type_index::<S>(table, "deleting a tenant")?;
        let kinds = kinds::<S>("deleting a tenant")?;
        let (checkpoint, resumed) = self.start(&tenant, &kinds)?;
        let span = tracing::info_span!(
            "delete_tenant",
            table = table.name(),
            schema = S::NAME,
            tenant = %tenant,
            resumed
        );
        let shared = Shared {
            checkpoint: Mutex::new(checkpoint),
            on_progress: self.on_progress.clone(),
        };
        let results: Vec<Result<()>> = futures::stream::iter(kinds.iter().copied())
            .map(|kind| self.delete_kind(kind, index, &tenant, &shared))
            .buffer_unordered(MAX_PARALLEL_KINDS)
            .collect()
            .instrument(span)
            .await;
        results.into_iter().collect::<Result<Vec<()>>>()?;
        let checkpoint = lock(&shared.checkpoint).clone();
        let count = |read: fn(&TypeCheckpoint) -> u64| {
            kinds
                .iter()
                .map(|kind| {
                    let type_name = kind.type_name();
                    (type_name, checkpoint.types.get(type_name).map_or(0, read))
                })
                .collect::<BTreeMap<_, _>>()
        };
        let report = TenantDeletion {
            tenant,
            deleted: count(|progress| progress.deleted),
            skipped: count(|progress| progress.skipped),
            resumed,
        };
        tracing::info!(schema = S::NAME, tenant = %report.tenant, deleted = ?report.deleted, skipped = ?report.skipped, "tenant deleted");
        Ok(report)
    }

    /// The checkpoint to start from, and whether it is a resumed one.
    fn start(&self, tenant: &TenantId, kinds: &[Kind]) -> Result<(TenantCheckpoint, bool)> {
        let table = self.table;
        let fresh = TenantCheckpoint {
            table: table.name().to_owned(),
            schema: S::NAME.to_owned(),
            tenant: tenant.to_string(),
            types: kinds
                .iter()
                .map(|kind| (kind.type_name().to_owned(), TypeCheckpoint::default()))
                .collect(),
        };
        let Some(saved) = self.resume.clone() else {
            return Ok((fresh, false));
        };
        let refuse = |reason: String| Error::InvalidRequest {
            entity: S::NAME,
            reason: format!("cannot resume from the checkpoint: {reason}"),
        };
        if (&saved.table, &saved.schema, &saved.tenant)
            != (&fresh.table, &fresh.schema, &fresh.tenant)
        {
            return Err(refuse(format!(
                "it is of the deletion of tenant `{}`'s items of `{}` on table `{}`; this one \
                 deletes tenant `{}`'s items of `{}` on table `{}`",
                saved.tenant, saved.schema, saved.table, fresh.tenant, fresh.schema, fresh.table
            )));
        }
        let mut checkpoint = fresh;
        for (type_name, progress) in saved.types {
            let Some(kind) = kinds.iter().find(|kind| kind.type_name() == type_name) else {
                return Err(refuse(format!(
                    "it names `{type_name}`, which is not a kind of `{}`'s tenant items",
                    S::NAME
                )));
            };
            // A checkpoint comes from outside: it must not carry a key of another tenant in.
            for key in &progress.pending {
                let key = ItemKey::from(key);
                if let Some(why) = kind.refuse_key(&key, tenant, table) {
                    return Err(refuse(format!(
                        "its `{type_name}` key {key} is not in tenant `{tenant}`'s key space: {why}"
                    )));
                }
            }
            let partition = item::tenant_type(tenant.as_str(), &type_name, table);
            if let Some(next) = &progress.next {
                if next.get(TENANT_TYPE_ATTRIBUTE) != Some(&partition) {
                    return Err(refuse(format!(
                        "its `{type_name}` position is not in the index partition `{partition}`"
                    )));
                }
            }
            checkpoint.types.insert(type_name, progress);
        }
        Ok((checkpoint, true))
    }

    /// Deletes the tenant's items of one kind, from where the checkpoint says.
    async fn delete_kind(
        &self,
        kind: Kind,
        index: &str,
        tenant: &TenantId,
        shared: &Shared,
    ) -> Result<()> {
        let table = self.table;
        let type_name = kind.type_name();
        let partition = item::tenant_type(tenant.as_str(), type_name, table);
        loop {
            let (pending, next, read_all) = shared.read(type_name, |progress| {
                (
                    progress
                        .pending
                        .iter()
                        .map(ItemKey::from)
                        .collect::<Vec<_>>(),
                    progress.next.clone(),
                    progress.read_all,
                )
            });
            if !pending.is_empty() {
                self.delete_keys(type_name, pending, shared).await?;
                continue;
            }
            if read_all {
                let (deleted, skipped) =
                    shared.read(type_name, |progress| (progress.deleted, progress.skipped));
                tracing::info!(entity = type_name, tenant = %tenant, deleted, skipped, "deleted the tenant's items of a type");
                return Ok(());
            }
            let start = next.map(|next| {
                next.into_iter()
                    .map(|(name, value)| (name, AttributeValue::S(value)))
                    .collect::<Item>()
            });
            let page =
                read_page(table, index, &partition, type_name, start, self.page_size).await?;
            let next = page
                .next
                .map(|next| position(&next, table, type_name))
                .transpose()?;
            let mut accepted = Vec::with_capacity(page.entries.len());
            let mut skipped = 0;
            for entry in &page.entries {
                match kind.refuse(entry, tenant, table) {
                    None => {
                        if let Ok(key) = stored_key(entry, table) {
                            accepted.push(StoredKey::from(&key));
                        }
                    }
                    Some(why) => {
                        skipped += 1;
                        let key = item::item_key_of(entry, table);
                        tracing::warn!(entity = type_name, tenant = %tenant, %key, %why, "left alone: not the tenant's item");
                    }
                }
            }
            shared.update(type_name, |progress| {
                progress.read_all = next.is_none();
                progress.next = next;
                progress.pending = accepted;
                progress.skipped += skipped;
            });
        }
    }

    /// Deletes `keys`, the keys of one page, and counts those whose delete was confirmed.
    async fn delete_keys(
        &self,
        type_name: &'static str,
        keys: Vec<ItemKey>,
        shared: &Shared,
    ) -> Result<()> {
        let table = self.table;
        let mut writes = Vec::with_capacity(keys.len());
        for key in keys {
            let request = DeleteRequest::builder()
                .set_key(Some(item::key_item(key.clone(), table)))
                .build()
                .map_err(|e| sdk_error(table, "BatchWriteItem", type_name, e))?;
            let request = WriteRequest::builder().delete_request(request).build();
            writes.push(batch::Write::raw(type_name, key, request));
        }
        let sent =
            batch::write_raw(table, writes, self.effort.concurrency, self.effort.attempts).await;
        let left: HashSet<ItemKey> = match &sent {
            Ok(()) => HashSet::new(),
            Err(Error::Unprocessed { items, .. }) => {
                items.iter().map(|(_, key)| key.clone()).collect()
            }
            // Nothing is known to be done: the whole page stays pending.
            Err(_) => shared.read(type_name, |progress| {
                progress.pending.iter().map(ItemKey::from).collect()
            }),
        };
        shared.update(type_name, |progress| {
            let before = progress.pending.len();
            progress
                .pending
                .retain(|key| left.contains(&ItemKey::from(key)));
            progress.deleted += (before - progress.pending.len()) as u64;
        });
        sent
    }
}

/// A position in an index partition (its `LastEvaluatedKey`) as a checkpoint stores it.
fn position(next: &Item, table: &Table, entity: &'static str) -> Result<BTreeMap<String, String>> {
    next.iter()
        .map(|(name, value)| match value {
            AttributeValue::S(text) => Ok((name.clone(), text.clone())),
            _ => Err(Error::InvalidRequest {
                entity,
                reason: format!(
                    "the position in the tenant type index of table `{}` has a `{name}` that is \
                     not a string; its keys and the index keys must be strings",
                    table.name()
                ),
            }),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Export and import

/// Encodes `item` as one line of DynamoDB JSON (`{"pk":{"S":"..."},...}`), as `serde_dynamo`
/// writes it. Going through `serde_json::Value`, whose maps are sorted, sorts the attributes by
/// name at every level, so the same item always gives the same line.
fn to_line(item: Item, entity: &'static str) -> Result<String> {
    if !item.values().all(known) {
        return Err(Error::Encode {
            entity,
            field: "the item".into(),
            message: "it holds an attribute value of a type this SDK does not know".into(),
        });
    }
    let item = serde_dynamo::Item::from(item);
    let encode = |message: String| Error::Encode {
        entity,
        field: "the item".into(),
        message,
    };
    let value = serde_json::to_value(&item).map_err(|e| encode(e.to_string()))?;
    serde_json::to_string(&value).map_err(|e| encode(e.to_string()))
}

/// Whether `value` and every value inside it are of a type the SDK knows (which the conversion
/// to DynamoDB JSON needs).
fn known(value: &AttributeValue) -> bool {
    match value {
        AttributeValue::M(map) => map.values().all(known),
        AttributeValue::L(list) => list.iter().all(known),
        other => !other.is_unknown(),
    }
}

/// What an export found at one index entry: a line, or an item left out.
enum Exported {
    Line(&'static str, String),
    Skipped(&'static str),
}

/// What a finished export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TenantExport {
    /// The tenant whose items were exported.
    pub tenant: TenantId,
    /// The lines written, by `_type` (every kind of the tenant's items, 0 where none).
    pub exported: BTreeMap<&'static str, u64>,
    /// Items the index listed for the tenant that are not in its key space, by `_type`: left
    /// out.
    pub skipped: BTreeMap<&'static str, u64>,
}

/// Exports every item of the scope's tenant as JSON lines: [`TableSchema::export_tenant`].
///
/// Each kind of the tenant's items (as [`DeleteTenant`] finds them) is read from its partition
/// of the tenant type index, keys only, and the items are read whole from the table with
/// strongly consistent `BatchGetItem` reads (an index entry may be stale), checked as the
/// tenant's (an item that is not is left out and counted as skipped), and written one per line
/// in DynamoDB JSON — `{"pk":{"S":"TENANT#t1#ORG#1"},"sk":{"S":"#METADATA"},...}`, as
/// `serde_dynamo` writes it, attributes sorted by name — kind after kind, each in the index's
/// order. Soft-deleted and expired items are exported too: they are stored.
///
/// It runs in the tenant's scope only, as [`DeleteTenant`] does. The runtime does no blocking
/// I/O: [`send`](Self::send) writes to a tokio [`AsyncWrite`] (a `tokio::fs::File`, best behind
/// a `tokio::io::BufWriter`; a `Vec<u8>`), and [`into_stream`](Self::into_stream) hands the
/// lines to the caller to put anywhere.
///
/// ```no_run
/// # use singletable_core::{tenant, Result, Table, TableSchema};
/// # async fn run<AppItem: TableSchema>(table: &Table) -> Result<()> {
/// let mut lines = Vec::new();
/// let export = tenant::scope("tenant-7", AppItem::export_tenant(table).send(&mut lines)).await?;
/// println!("exported {:?}", export.exported);
/// # Ok(())
/// # }
/// ```
#[must_use = "an export does nothing until `send()` is awaited or its stream polled"]
pub struct ExportTenant<'t, S> {
    table: &'t Table,
    page_size: i32,
    effort: Effort,
    schema: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for ExportTenant<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportTenant")
            .field("table", &self.table.name())
            .field("page_size", &self.page_size)
            .field("effort", &self.effort)
            .finish_non_exhaustive()
    }
}

/// Where an export is.
struct ExportState<'t> {
    table: &'t Table,
    /// The tenant and the index, once checked in the scope the export runs in.
    plan: Option<(TenantId, &'t str)>,
    /// The kinds not read to their end, the current one first.
    kinds: VecDeque<Kind>,
    /// Where the current kind's index partition goes on (`None` at its start).
    next: Option<Item>,
    /// What the last page gave and was not handed out yet.
    buffer: VecDeque<Exported>,
}

impl<'t, S: TableSchema> ExportTenant<'t, S> {
    /// An export of the scope's tenant's items of `S` on `table`: pages of 500 index entries,
    /// 4 `BatchGetItem` requests at once.
    pub fn new(table: &'t Table) -> Self {
        ExportTenant {
            table,
            page_size: DEFAULT_PAGE_SIZE,
            effort: Effort::default(),
            schema: PhantomData,
        }
    }

    /// Reads at most `entries` index entries per page (default 500).
    pub fn page_size(mut self, entries: usize) -> Self {
        self.page_size = i32::try_from(entries.max(1)).unwrap_or(i32::MAX);
        self
    }

    /// Sends at most `requests` `BatchGetItem` requests at once (default 4).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.effort.concurrency = requests.max(1);
        self
    }

    /// Reports keys as unread after `attempts` rounds in a row (default 10) in which DynamoDB
    /// read none of a chunk's keys, as [`BatchGet::max_attempts`](crate::BatchGet::max_attempts).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.effort.attempts = attempts.max(1);
        self
    }

    /// Writes every item of the tenant to `writer`, one line of DynamoDB JSON each (ended by
    /// `\n`), and flushes it. Fails, before anything is written, outside one tenant's scope or
    /// without a tenant type index; [`Error::Unprocessed`] when keys could not be read after
    /// the retries (the lines before them are written). A failure of the writer is
    /// [`Error::InvalidRequest`], with the I/O error.
    pub async fn send<W: AsyncWrite + Unpin + Send>(self, mut writer: W) -> Result<TenantExport> {
        let tenant = scope_tenant::<S>(self.table, "exporting a tenant")?;
        let kinds = kinds::<S>("exporting a tenant")?;
        let zero = || {
            kinds
                .iter()
                .map(|kind| (kind.type_name(), 0u64))
                .collect::<BTreeMap<_, _>>()
        };
        let (mut exported, mut skipped) = (zero(), zero());
        let span = tracing::info_span!(
            "export_tenant",
            table = self.table.name(),
            schema = S::NAME,
            tenant = %tenant
        );
        let io = |error: std::io::Error| Error::InvalidRequest {
            entity: S::NAME,
            reason: format!("exporting tenant `{tenant}`: cannot write the export: {error}"),
        };
        let lines = self.exported();
        futures::pin_mut!(lines);
        async {
            while let Some(out) = lines.try_next().await? {
                match out {
                    Exported::Line(type_name, mut line) => {
                        line.push('\n');
                        write_all(&mut writer, line.as_bytes()).await.map_err(io)?;
                        *exported.entry(type_name).or_default() += 1;
                    }
                    Exported::Skipped(type_name) => *skipped.entry(type_name).or_default() += 1,
                }
            }
            poll_fn(|cx| Pin::new(&mut writer).poll_flush(cx))
                .await
                .map_err(io)
        }
        .instrument(span)
        .await?;
        tracing::info!(schema = S::NAME, tenant = %tenant, exported = ?exported, skipped = ?skipped, "tenant exported");
        Ok(TenantExport {
            tenant,
            exported,
            skipped,
        })
    }

    /// The lines of the export (without their `\n`), read a page at a time as the stream is
    /// consumed. The first item is the error when the export cannot run (outside one tenant's
    /// scope, without a tenant type index); poll it in the tenant's scope.
    pub fn into_stream(self) -> impl Stream<Item = Result<String>> + Send + 't {
        self.exported().try_filter_map(|out| async move {
            Ok(match out {
                Exported::Line(_, line) => Some(line),
                Exported::Skipped(_) => None,
            })
        })
    }

    /// What the export finds, index entry by index entry.
    fn exported(self) -> impl Stream<Item = Result<Exported>> + Send + 't {
        let state = ExportState {
            table: self.table,
            plan: None,
            kinds: VecDeque::new(),
            next: None,
            buffer: VecDeque::new(),
        };
        let (page_size, effort) = (self.page_size, self.effort);
        futures::stream::try_unfold(state, move |mut state| async move {
            let table = state.table;
            let (tenant, index) = match &state.plan {
                Some(plan) => plan.clone(),
                None => {
                    let tenant = scope_tenant::<S>(table, "exporting a tenant")?;
                    let index = tenant_type_index::<S>(table, "exporting a tenant")?;
                    state.kinds = kinds::<S>("exporting a tenant")?.into();
                    state.plan = Some((tenant.clone(), index));
                    (tenant, index)
                }
            };
            loop {
                if let Some(out) = state.buffer.pop_front() {
                    return Ok(Some((out, state)));
                }
                let Some(kind) = state.kinds.front().copied() else {
                    return Ok(None);
                };
                let type_name = kind.type_name();
                let partition = item::tenant_type(tenant.as_str(), type_name, table);
                let page = read_page(
                    table,
                    index,
                    &partition,
                    type_name,
                    state.next.take(),
                    page_size,
                )
                .await?;
                match page.next {
                    Some(next) => state.next = Some(next),
                    None => {
                        state.kinds.pop_front();
                    }
                }
                state.buffer = export_page(table, kind, &tenant, page.entries, effort).await?;
            }
        })
    }
}

/// Reads the whole items of one page of index entries and makes their lines, in the page's
/// order.
async fn export_page(
    table: &Table,
    kind: Kind,
    tenant: &TenantId,
    entries: Vec<Item>,
    effort: Effort,
) -> Result<VecDeque<Exported>> {
    let type_name = kind.type_name();
    let mut out = VecDeque::with_capacity(entries.len());
    let mut keys = Vec::with_capacity(entries.len());
    for entry in &entries {
        match kind.refuse(entry, tenant, table) {
            None => {
                if let Ok(key) = stored_key(entry, table) {
                    keys.push(key);
                }
            }
            Some(why) => {
                let key = item::item_key_of(entry, table);
                tracing::warn!(entity = type_name, tenant = %tenant, %key, %why, "left out of the export: not the tenant's item");
                out.push_back(Exported::Skipped(type_name));
            }
        }
    }
    let (found, left) = batch::read_raw(
        table,
        type_name,
        keys.clone(),
        effort.concurrency,
        effort.attempts,
    )
    .await;
    if !left.is_empty() {
        return Err(Error::Unprocessed {
            operation: "BatchGetItem",
            items: left.into_iter().map(|key| (type_name, key)).collect(),
            cause: None,
        });
    }
    let mut found: HashMap<ItemKey, Item> = found
        .into_iter()
        .filter_map(|item| Some((stored_key(&item, table).ok()?, item)))
        .collect();
    for key in keys {
        // Deleted since the index listed it: nothing to export.
        let Some(item) = found.remove(&key) else {
            continue;
        };
        match kind.refuse(&item, tenant, table) {
            None => out.push_back(Exported::Line(type_name, to_line(item, type_name)?)),
            Some(why) => {
                tracing::warn!(entity = type_name, tenant = %tenant, %key, %why, "left out of the export: not the tenant's item");
                out.push_back(Exported::Skipped(type_name));
            }
        }
    }
    Ok(out)
}

/// Writes all of `bytes` to `writer`.
async fn write_all<W: AsyncWrite + Unpin>(writer: &mut W, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let written = poll_fn(|cx| Pin::new(&mut *writer).poll_write(cx, bytes)).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[written..];
    }
    Ok(())
}

/// Reads one line (up to and with its `\n`, or to the end of the input) into `line`; returns
/// `false` at the end of the input. A line longer than [`MAX_LINE`] is an error.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<bool> {
    line.clear();
    loop {
        let ended = poll_fn(|cx| {
            let mut reader = Pin::new(&mut *reader);
            let available = match reader.as_mut().poll_fill_buf(cx) {
                Poll::Ready(Ok(available)) => available,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            };
            let (used, ended) = match available.iter().position(|b| *b == b'\n') {
                Some(at) => (at + 1, true),
                None => (available.len(), available.is_empty()),
            };
            line.extend_from_slice(&available[..used]);
            reader.consume(used);
            Poll::Ready(Ok(ended))
        })
        .await?;
        if line.len() > MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the line is longer than {MAX_LINE} bytes"),
            ));
        }
        if ended {
            return Ok(!line.is_empty());
        }
    }
}

/// What a finished import wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TenantImport {
    /// The tenant whose items were written.
    pub tenant: TenantId,
    /// The items written, by `_type` (every kind of the tenant's items, 0 where none).
    pub imported: BTreeMap<&'static str, u64>,
    /// The lines read (blank lines included).
    pub lines: u64,
}

/// Writes back the JSON lines of an [export](ExportTenant) in the scope's tenant:
/// [`TableSchema::import_tenant`].
///
/// Each line is one item in DynamoDB JSON. It is written as it is — every attribute, the
/// library's own included — with `BatchWriteItem` puts in chunks of 25, retried as a
/// [`BatchWrite`](crate::BatchWrite) retries. Like a batch, a put has no condition: it replaces
/// what is at the key. It is meant to restore a tenant whose items were deleted (or to write the
/// same items again, which changes nothing).
///
/// Before an item is written it is checked as the scope's tenant's, and the first line that
/// is not is refused with [`Error::InvalidRequest`] naming the line and the key: a `_type` that
/// is none of the tenant's kinds (a tenant-scoped entity of the schema, `_UNIQUE`, `AUDIT_LOG`)
/// or none at all, a key outside the tenant's key space, a `_tenant_type` or tenant field that
/// names anything else. The lines before it are written; nothing from it on is. Blank lines
/// are skipped; a line holding a key already buffered is written after it, so the last such
/// line wins.
///
/// It runs in the tenant's scope only, as [`DeleteTenant`] does, and reads from a tokio
/// [`AsyncBufRead`] (a `tokio::io::BufReader` of a file; a `&[u8]`).
///
/// ```no_run
/// # use singletable_core::{tenant, Result, Table, TableSchema};
/// # async fn run<AppItem: TableSchema>(table: &Table, lines: Vec<u8>) -> Result<()> {
/// let import = tenant::scope("tenant-7", AppItem::import_tenant(table).send(&lines[..])).await?;
/// println!("imported {:?}", import.imported);
/// # Ok(())
/// # }
/// ```
#[must_use = "an import does nothing until `send()` is awaited"]
pub struct ImportTenant<'t, S> {
    table: &'t Table,
    effort: Effort,
    schema: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for ImportTenant<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportTenant")
            .field("table", &self.table.name())
            .field("effort", &self.effort)
            .finish_non_exhaustive()
    }
}

impl<'t, S: TableSchema> ImportTenant<'t, S> {
    /// An import into the scope's tenant on `table`: 4 `BatchWriteItem` requests at once.
    pub fn new(table: &'t Table) -> Self {
        ImportTenant {
            table,
            effort: Effort::default(),
            schema: PhantomData,
        }
    }

    /// Sends at most `requests` `BatchWriteItem` requests at once (default 4).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.effort.concurrency = requests.max(1);
        self
    }

    /// Stops after `attempts` rounds in a row (default 10) in which DynamoDB wrote none of a
    /// chunk's items, as [`BatchWrite::max_attempts`](crate::BatchWrite::max_attempts).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.effort.attempts = attempts.max(1);
        self
    }

    /// Reads `reader` to its end and writes every line's item. Fails before any request
    /// outside one tenant's scope or without a tenant type index; at the first line refused
    /// (see the type's docs), after writing the lines before it; with [`Error::Unprocessed`]
    /// naming the items not written after the retries. A failure to read is
    /// [`Error::InvalidRequest`], naming the line, with the I/O error.
    pub async fn send<R: AsyncBufRead + Unpin + Send>(self, mut reader: R) -> Result<TenantImport> {
        let table = self.table;
        let tenant = scope_tenant::<S>(table, "importing a tenant")?;
        tenant_type_index::<S>(table, "importing a tenant")?;
        let kinds = kinds::<S>("importing a tenant")?;
        let mut imported: BTreeMap<&'static str, u64> =
            kinds.iter().map(|kind| (kind.type_name(), 0)).collect();
        let span = tracing::info_span!(
            "import_tenant",
            table = table.name(),
            schema = S::NAME,
            tenant = %tenant
        );
        let flush_at = 25 * self.effort.concurrency * 2;
        let mut buffer: Vec<batch::Write> = Vec::with_capacity(flush_at);
        let mut buffered: HashSet<ItemKey> = HashSet::with_capacity(flush_at);
        let mut lines = 0u64;
        let mut bytes = Vec::new();
        let run = async {
            loop {
                let more = read_line(&mut reader, &mut bytes).await.map_err(|error| {
                    self.refused(lines + 1, None, &format!("cannot read it: {error}"))
                })?;
                if !more {
                    break;
                }
                lines += 1;
                let parsed = self.parse(&bytes, lines, &tenant, &kinds);
                let (kind, key, item) = match parsed {
                    Ok(Some(parsed)) => parsed,
                    Ok(None) => continue,
                    Err(error) => {
                        // The lines before it are written; nothing from it on.
                        self.flush(&mut buffer, &mut buffered, &mut imported)
                            .await?;
                        return Err(error);
                    }
                };
                if buffered.contains(&key) || buffer.len() >= flush_at {
                    // One request may not write a key twice: the earlier line goes first.
                    self.flush(&mut buffer, &mut buffered, &mut imported)
                        .await?;
                }
                let type_name = kind.type_name();
                let request = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| sdk_error(table, "BatchWriteItem", type_name, e))?;
                buffered.insert(key.clone());
                let request = WriteRequest::builder().put_request(request).build();
                buffer.push(batch::Write::raw(type_name, key, request));
            }
            self.flush(&mut buffer, &mut buffered, &mut imported).await
        };
        run.instrument(span).await?;
        tracing::info!(schema = S::NAME, tenant = %tenant, imported = ?imported, lines, "tenant imported");
        Ok(TenantImport {
            tenant,
            imported,
            lines,
        })
    }

    /// The kind, key and item of line `number`; `None` for a blank line; refused unless it is
    /// one of the tenant's items.
    fn parse(
        &self,
        bytes: &[u8],
        number: u64,
        tenant: &TenantId,
        kinds: &[Kind],
    ) -> Result<Option<(Kind, ItemKey, Item)>> {
        let table = self.table;
        let text = std::str::from_utf8(bytes)
            .map_err(|error| self.refused(number, None, &format!("it is not UTF-8: {error}")))?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let parsed: serde_dynamo::Item = serde_json::from_str(text).map_err(|error| {
            self.refused(
                number,
                None,
                &format!("it is not an item in DynamoDB JSON: {error}"),
            )
        })?;
        let item: Item = parsed.into();
        let key = stored_key(&item, table).map_err(|why| self.refused(number, None, &why))?;
        let kind = match item.get(TYPE_ATTRIBUTE) {
            Some(AttributeValue::S(found)) => kinds
                .iter()
                .copied()
                .find(|kind| kind.type_name() == found)
                .ok_or_else(|| {
                    let expected: Vec<&str> = kinds.iter().map(|kind| kind.type_name()).collect();
                    self.refused(
                        number,
                        Some(&key),
                        &format!(
                            "its `_type` `{found}` is not one of the kinds of a tenant's items \
                             ({})",
                            expected.join(", ")
                        ),
                    )
                })?,
            Some(_) => return Err(self.refused(number, Some(&key), "its `_type` is not a string")),
            None => return Err(self.refused(number, Some(&key), "it has no `_type`")),
        };
        if let Some(why) = kind.refuse(&item, tenant, table) {
            return Err(Error::InvalidRequest {
                entity: kind.type_name(),
                reason: format!(
                    "line {number}: item {key} is not tenant `{tenant}`'s: {why}; nothing from \
                     this line on was written"
                ),
            });
        }
        // A put has no condition: a guard or audit record must not land on an entity's item.
        let separator = table.separator();
        let entity = S::MEMBERS.iter().find(|member| {
            member.partition_key().parse_key(&key.pk, separator).is_ok()
                && member.sort_key().parse_key(&key.sk, separator).is_ok()
        });
        if let (Kind::Guard | Kind::Audit, Some(member)) = (kind, entity) {
            return Err(self.refused(
                number,
                Some(&key),
                &format!(
                    "its key is also a key of `{}`, whose item a `{}` would replace",
                    member.type_name(),
                    kind.type_name()
                ),
            ));
        }
        Ok(Some((kind, key, item)))
    }

    /// The error refusing line `number` (of the item at `key`, when it has one).
    fn refused(&self, number: u64, key: Option<&ItemKey>, why: &str) -> Error {
        let item = key.map_or(String::new(), |key| format!(" (item {key})"));
        Error::InvalidRequest {
            entity: S::NAME,
            reason: format!(
                "line {number}{item} cannot be imported: {why}; nothing from this line on was \
                 written"
            ),
        }
    }

    /// Writes the buffered puts and counts them.
    async fn flush(
        &self,
        buffer: &mut Vec<batch::Write>,
        buffered: &mut HashSet<ItemKey>,
        imported: &mut BTreeMap<&'static str, u64>,
    ) -> Result<()> {
        if buffer.is_empty() {
            return Ok(());
        }
        let writes = std::mem::take(buffer);
        buffered.clear();
        let mut written: BTreeMap<&'static str, u64> = BTreeMap::new();
        for write in &writes {
            *written.entry(write.entity()).or_default() += 1;
        }
        let sent = batch::write_raw(
            self.table,
            writes,
            self.effort.concurrency,
            self.effort.attempts,
        )
        .await;
        if sent.is_ok() {
            for (type_name, count) in written {
                *imported.entry(type_name).or_default() += count;
            }
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A schema without entities, as no derive makes one.
    struct Empty;

    impl TableSchema for Empty {
        const NAME: &'static str = "Empty";
        const TYPES: &'static [&'static str] = &[];
        const MEMBERS: &'static [Member] = &[];

        fn decode(item: Item, table: &Table) -> Result<Self> {
            Err(crate::table_schema::unknown_type::<Self>(&item, table))
        }

        fn entity_type(&self) -> &'static str {
            ""
        }
    }

    /// A table whose client reaches no endpoint: any request would fail.
    fn offline() -> Table {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .build();
        Table::builder(aws_sdk_dynamodb::Client::from_conf(config), "offline")
            .tenant_type_index("TenantTypeIndex")
            .build()
    }

    fn send<T: Send>(future: T) -> T {
        future
    }

    #[tokio::test]
    async fn every_future_is_send_and_a_schema_without_tenants_is_refused_in_its_scope() {
        let table = offline();
        let listing = crate::tenant::across_tenants("test", send(Empty::tenants(&table).send()));
        assert!(matches!(
            listing.await,
            Err(Error::InvalidRequest { reason, .. }) if reason.contains("no entity of `Empty` is tenant-scoped")
        ));
        let deletion = send(Empty::delete_tenant(&table).send());
        assert!(matches!(
            crate::tenant::scope("t1", deletion).await,
            Err(Error::InvalidRequest { .. })
        ));
        let export = send(Empty::export_tenant(&table).send(Vec::new()));
        assert!(matches!(
            export.await,
            Err(Error::MissingTenant { entity: "Empty" })
        ));
        let stream = send(Empty::export_tenant(&table).into_stream());
        let first = crate::tenant::scope("t1", stream.try_collect::<Vec<_>>()).await;
        assert!(matches!(first, Err(Error::InvalidRequest { .. })));
        let import = send(Empty::import_tenant(&table).send(&b""[..]));
        assert!(matches!(
            crate::tenant::scope("a#b", import).await,
            Err(Error::InvalidKey { .. })
        ));
    }

    #[tokio::test]
    async fn lines_are_read_with_or_without_a_last_newline_and_bounded() {
        let input = b"one\n\ntwo\r\nthree".to_vec();
        let mut reader = &input[..];
        let mut line = Vec::new();
        let mut lines = Vec::new();
        while read_line(&mut reader, &mut line).await.unwrap() {
            lines.push(String::from_utf8(line.clone()).unwrap());
        }
        assert_eq!(lines, ["one\n", "\n", "two\r\n", "three"]);
        let long = vec![b'x'; MAX_LINE + 1];
        let error = read_line(&mut &long[..], &mut line).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_line_is_dynamodb_json_sorted_at_every_level_and_reads_back() {
        let s = |text: &str| AttributeValue::S(text.to_owned());
        let item: Item = HashMap::from([
            ("sk".to_owned(), s("#A")),
            ("pk".to_owned(), s("LC#t1#A#1")),
            (
                "m".to_owned(),
                AttributeValue::M(HashMap::from([
                    ("z".to_owned(), AttributeValue::N("1".into())),
                    ("a".to_owned(), AttributeValue::Bool(true)),
                ])),
            ),
            (
                "l".to_owned(),
                AttributeValue::L(vec![AttributeValue::Null(true)]),
            ),
            ("ss".to_owned(), AttributeValue::Ss(vec!["x".into()])),
        ]);
        let line = to_line(item.clone(), "A").unwrap();
        assert_eq!(
            line,
            r##"{"l":{"L":[{"NULL":true}]},"m":{"M":{"a":{"BOOL":true},"z":{"N":"1"}}},"pk":{"S":"LC#t1#A#1"},"sk":{"S":"#A"},"ss":{"SS":["x"]}}"##
        );
        let back: serde_dynamo::Item = serde_json::from_str(&line).unwrap();
        assert_eq!(Item::from(back), item);
    }
}
