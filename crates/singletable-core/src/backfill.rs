//! Backfill: brings every stored item of an entity up to date with its declaration — written at
//! the current schema version and carrying the attributes derived from its fields (the keys of
//! its indexes, `_tenant_type`, the time-to-live copy, `_timestamp`) — so that reads no longer
//! upgrade items one by one and index queries and tenant listings find every item. Run it after
//! raising `#[entity(version)]`'s schema, after adding or changing an index, after turning on a
//! tenant type index, and over items another writer stored (dynamodb-provider, a script, an
//! import) without those attributes. This is the re-index operation too: an item whose schema
//! is current and whose derived attributes are missing or stale is re-indexed.
//!
//! A parallel scan reads the entity's items. Each one is upgraded with the entity's `upgrade`
//! function if it is older, decoded (so only an item that reads as the entity is written), and
//! its derived attributes are computed as a new write of it would compute them. An item that
//! differs is written back with an `UpdateItem` that changes only what differs, held to the old
//! values: an item a user wrote in the meantime is read again and brought up to date from what
//! it holds now, never overwritten with stale data, and an item already up to date is not
//! written at all. Attributes the entity does not own are left as they are. Writes run with
//! bounded concurrency. [`Backfill::dry_run`] counts what a run would write, writing nothing.
//!
//! Tenancy: a backfill of a tenant-scoped entity in one tenant's scope reads, writes and reports
//! only that tenant's items (the scan filters on the tenant field, so another tenant's items
//! never reach the caller). Over every tenant it runs in
//! [`tenant::across_tenants`](crate::tenant::across_tenants), and each item is then processed in
//! the scope of the tenant its key names. With neither, it fails with
//! [`Error::MissingTenant`](crate::Error::MissingTenant).
//!
//! With a checkpoint file, the position of every segment is saved after each page, so a
//! backfill that was stopped resumes where it was; the file is removed when the backfill
//! completes. Items of the page that was under way when it stopped are read again, and those
//! already written are then up to date: nothing is written twice.
//!
//! Beyond one process, a run is split across workers: with
//! [`segments(64)`](Backfill::segments) and [`worker(3, 8)`](Backfill::worker), a run reads only
//! segments 3, 11, 19, … 59, so eight workers `0..8` with the same segment count (ECS tasks,
//! Lambda invocations, a Step Functions map) together read every segment once. Each worker keeps
//! its own checkpoint.

use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::error::{Error, ItemKey, Result};
use crate::item::{self, Item, TIMESTAMP_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::request;
use crate::request::{MAX_PARALLEL_SEGMENTS, MAX_SEGMENTS};
use crate::schema::Schema;
use crate::table::{Table, TenantId};
use crate::write::single::{self, Action, Write};
use crate::write::unique;

/// How many failures a report keeps by key.
const KEPT_FAILURES: usize = 100;

/// How many times an item that changed while it was brought up to date is read again.
const ATTEMPTS: u32 = 5;

/// Counts of a backfill so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Items of the entity read.
    pub scanned: u64,
    /// Items rewritten at the current schema (with their derived attributes).
    pub upgraded: u64,
    /// Items at the current schema whose derived attributes (index keys, `_tenant_type`, the
    /// time-to-live copy, `_timestamp`) were missing or stale, and were written.
    pub reindexed: u64,
    /// Items already up to date (or deleted while being brought up to date).
    pub current: u64,
    /// Items that could not be brought up to date; they stay as they are.
    pub failed: u64,
    /// Segments of this run read to the end.
    pub segments_done: u32,
    /// Segments this run reads (its worker's share).
    pub segments: u32,
}

/// What a finished backfill did (in this run; a resumed run counts from where it resumed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackfillReport {
    /// The final counts. In a dry run, `upgraded` and `reindexed` count the items a run would
    /// write.
    pub progress: Progress,
    /// Whether the run resumed from a checkpoint.
    pub resumed: bool,
    /// Whether this was a dry run, which wrote nothing.
    pub dry_run: bool,
    /// The first failures, by key, with their cause.
    pub failures: Vec<(ItemKey, String)>,
}

/// Brings the stored items of `E` up to date: schema and derived attributes.
///
/// ```ignore
/// let report = Backfill::<Account>::new(&table)
///     .segments(64)
///     .worker(3, 8)
///     .concurrency(32)
///     .checkpoint("account-backfill-3.json")
///     .on_progress(|p| eprintln!("{} scanned, {} upgraded, {} re-indexed", p.scanned, p.upgraded, p.reindexed))
///     .run()
///     .await?;
/// ```
#[must_use = "a backfill does nothing until `run()` is awaited"]
pub struct Backfill<'t, E> {
    table: &'t Table,
    segments: u32,
    worker: Worker,
    concurrency: usize,
    page_size: Option<i32>,
    checkpoint: Option<PathBuf>,
    dry_run: bool,
    on_progress: Option<ProgressFn>,
    entity: PhantomData<fn() -> E>,
}

impl<E> std::fmt::Debug for Backfill<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backfill")
            .field("table", &self.table.name())
            .field("segments", &self.segments)
            .field("worker", &self.worker)
            .field("concurrency", &self.concurrency)
            .field("checkpoint", &self.checkpoint)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

/// Called with the counts after every page.
type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Which share of the segments a run reads: those whose number is `index` modulo `of`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Worker {
    index: u32,
    of: u32,
}

/// The saved position of one worker's backfill: where each of its segments' scans goes on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Checkpoint {
    table: String,
    entity: String,
    schema: u32,
    /// The tenant whose items the run reads; `None`: every tenant, or an entity without one.
    tenant: Option<String>,
    segments: u32,
    worker: Worker,
    positions: BTreeMap<u32, Position>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Position {
    done: bool,
    /// The scan's `LastEvaluatedKey` (string attributes) after the last finished page.
    start: Option<HashMap<String, String>>,
}

/// What the segments share while they run.
struct Shared {
    checkpoint: Mutex<Checkpoint>,
    progress: Mutex<Progress>,
    failures: Mutex<Vec<(ItemKey, String)>>,
    /// Serializes checkpoint saves, so an older position never overwrites a newer one.
    save: tokio::sync::Mutex<()>,
}

/// Whose items a run reads.
#[derive(Clone)]
enum Tenancy {
    /// An entity without a tenant.
    None,
    /// One tenant's, in its scope.
    One(TenantId),
    /// Every tenant's, in [`crate::tenant::across_tenants`].
    All,
}

impl<'t, E: Schema> Backfill<'t, E> {
    /// A backfill of `E` on `table`: 4 segments, all of them read by this run, 16 writes at
    /// once, no checkpoint.
    pub fn new(table: &'t Table) -> Self {
        Backfill {
            table,
            segments: 4,
            worker: Worker { index: 0, of: 1 },
            concurrency: 16,
            page_size: None,
            checkpoint: None,
            dry_run: false,
            on_progress: None,
            entity: PhantomData,
        }
    }

    /// Scans with `segments` segments (1 to DynamoDB's 1,000,000), of which at most
    /// 64 are read at once.
    pub fn segments(mut self, segments: u32) -> Self {
        self.segments = segments.clamp(1, MAX_SEGMENTS);
        self
    }

    /// Reads only worker `index`'s share of the segments when the run is split across `of`
    /// workers (`index` from 0 to `of - 1`, as an array job numbers them): the segments whose
    /// number is `index` modulo `of`. Run every worker with the same [`segments`](Self::segments)
    /// and each with its own checkpoint; together they read every segment once. `run()` refuses
    /// an `index` not below `of` and more workers than segments.
    pub fn worker(mut self, index: u32, of: u32) -> Self {
        self.worker = Worker { index, of };
        self
    }

    /// Writes at most `writes` items at once in each segment (at least 1).
    pub fn concurrency(mut self, writes: usize) -> Self {
        self.concurrency = writes.max(1);
        self
    }

    /// Reads at most `items` items per scan page (DynamoDB's 1 MB page otherwise).
    pub fn page_size(mut self, items: usize) -> Self {
        self.page_size = Some(i32::try_from(items.max(1)).unwrap_or(i32::MAX));
        self
    }

    /// Saves the position in `path` after every page, and resumes from it when it exists.
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(path.into());
        self
    }

    /// Reads every item and counts what a run would write (items to upgrade, items to
    /// re-index, failures), writing nothing: neither items nor the checkpoint, which is not read
    /// either.
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// Calls `report` with the counts after every page.
    pub fn on_progress(mut self, report: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(report));
        self
    }

    /// Runs the backfill to the end.
    pub async fn run(self) -> Result<BackfillReport> {
        crate::tenant::admit::<E>(self.table)?;
        // Resolved once here so that a run outside any scope fails before any request.
        let tenancy = match (E::TENANT_PARAM, crate::tenant::crossing()) {
            (None, _) => Tenancy::None,
            (Some(_), Some(reason)) => {
                tracing::info!(entity = E::TYPE, %reason, "backfill across tenants");
                Tenancy::All
            }
            (Some(_), None) => Tenancy::One(crate::tenant::required::<E>(self.table)?),
        };
        let Worker { index, of } = self.worker;
        if of == 0 || index >= of || of > self.segments {
            return Err(self.invalid(format!(
                "worker {index} of {of} over {} segments: the index must be below the number of \
                 workers, and there must be at least one segment per worker",
                self.segments
            )));
        }
        let (checkpoint, resumed) = self.load(&tenancy).await?;
        let progress = Progress {
            segments: checkpoint.positions.len() as u32,
            segments_done: checkpoint.positions.values().filter(|p| p.done).count() as u32,
            ..Progress::default()
        };
        let owned: Vec<u32> = checkpoint.positions.keys().copied().collect();
        let shared = Shared {
            checkpoint: Mutex::new(checkpoint),
            progress: Mutex::new(progress),
            failures: Mutex::new(Vec::new()),
            save: tokio::sync::Mutex::new(()),
        };
        let span = tracing::info_span!(
            "backfill",
            table = self.table.name(),
            entity = E::TYPE,
            worker = index,
            workers = of,
            dry_run = self.dry_run
        );
        futures::stream::iter(owned)
            .map(|segment| self.segment(segment, &tenancy, &shared))
            .buffer_unordered(MAX_PARALLEL_SEGMENTS)
            .try_collect::<Vec<()>>()
            .instrument(span)
            .await?;
        if let (Some(path), false) = (&self.checkpoint, self.dry_run) {
            // Done: a later run starts afresh (and finds every item current).
            match tokio::fs::remove_file(path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.file_error(path, "remove", &e)),
            }
        }
        let progress = lock(&shared.progress).clone();
        let failures = std::mem::take(&mut *lock(&shared.failures));
        tracing::info!(entity = E::TYPE, ?progress, "backfill done");
        Ok(BackfillReport {
            progress,
            resumed,
            dry_run: self.dry_run,
            failures,
        })
    }

    /// The checkpoint to start from, and whether it was read from the file.
    async fn load(&self, tenancy: &Tenancy) -> Result<(Checkpoint, bool)> {
        let Worker { index, of } = self.worker;
        let fresh = Checkpoint {
            table: self.table.name().to_owned(),
            entity: E::TYPE.to_owned(),
            schema: E::SCHEMA,
            tenant: match tenancy {
                Tenancy::One(tenant) => Some(tenant.as_str().to_owned()),
                Tenancy::None | Tenancy::All => None,
            },
            segments: self.segments,
            worker: self.worker,
            positions: (index..self.segments)
                .step_by(of as usize)
                .map(|segment| (segment, Position::default()))
                .collect(),
        };
        let Some(path) = self.checkpoint.as_ref().filter(|_| !self.dry_run) else {
            return Ok((fresh, false));
        };
        let text = match tokio::fs::read_to_string(path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((fresh, false)),
            Err(e) => return Err(self.file_error(path, "read", &e)),
        };
        let saved: Checkpoint =
            serde_json::from_str(&text).map_err(|e| self.file_error(path, "parse", &e))?;
        // The same run is the fresh checkpoint with positions filled in.
        let mut run = saved.clone();
        run.positions
            .values_mut()
            .for_each(|p| *p = Position::default());
        if run != fresh {
            let describe = |c: &Checkpoint| {
                format!(
                    "`{}` schema {} on table `{}` ({}), worker {} of {} over {} segments",
                    c.entity,
                    c.schema,
                    c.table,
                    c.tenant
                        .as_deref()
                        .map_or("no one tenant".to_owned(), |t| format!("tenant `{t}`")),
                    c.worker.index,
                    c.worker.of,
                    c.segments
                )
            };
            return Err(self.invalid(format!(
                "checkpoint `{}` is for {}; this backfill is {}",
                path.display(),
                describe(&saved),
                describe(&fresh)
            )));
        }
        Ok((saved, true))
    }

    fn invalid(&self, reason: String) -> Error {
        Error::InvalidRequest {
            entity: E::TYPE,
            reason,
        }
    }

    fn file_error(&self, path: &Path, what: &str, error: &dyn std::fmt::Display) -> Error {
        self.invalid(format!(
            "cannot {what} checkpoint `{}`: {error}",
            path.display()
        ))
    }

    /// Scans one segment to its end, from its saved position.
    async fn segment(&self, segment: u32, tenancy: &Tenancy, shared: &Shared) -> Result<()> {
        let table = self.table;
        let Some(position) = lock(&shared.checkpoint).positions.get(&segment).cloned() else {
            return Ok(());
        };
        if position.done {
            return Ok(());
        }
        let mut start = position.start.map(|key| {
            key.into_iter()
                .map(|(name, value)| (name, AttributeValue::S(value)))
                .collect::<Item>()
        });
        let tenant_filter = match (E::TENANT_FIELD, tenancy) {
            (Some(field), Tenancy::One(tenant)) => Some((field, tenant.as_str())),
            _ => None,
        };
        let filter = match tenant_filter {
            Some(_) => "#type = :type AND #tenant = :tenant",
            None => "#type = :type",
        };
        loop {
            let output = request::scan(table, E::TYPE, |scan| {
                let scan = scan
                    .segment(segment as i32)
                    .total_segments(self.segments as i32)
                    .filter_expression(filter)
                    .expression_attribute_names("#type", TYPE_ATTRIBUTE)
                    .expression_attribute_values(":type", AttributeValue::S(E::TYPE.into()))
                    .set_limit(self.page_size)
                    .set_exclusive_start_key(start);
                match tenant_filter {
                    Some((field, tenant)) => scan
                        .expression_attribute_names("#tenant", field)
                        .expression_attribute_values(
                            ":tenant",
                            AttributeValue::S(tenant.to_owned()),
                        ),
                    None => scan,
                }
            })
            .await?;
            let items = output.items.unwrap_or_default();
            let outcomes: Vec<Outcome> = futures::stream::iter(items)
                .map(|item| self.refresh(item, tenancy))
                .buffer_unordered(self.concurrency)
                .try_collect()
                .await?;
            start = output.last_evaluated_key;
            self.record(segment, shared, outcomes, start.as_ref())
                .await?;
            if start.is_none() {
                return Ok(());
            }
        }
    }

    /// Counts a finished page and saves the segment's position.
    async fn record(
        &self,
        segment: u32,
        shared: &Shared,
        outcomes: Vec<Outcome>,
        next: Option<&Item>,
    ) -> Result<()> {
        let progress = {
            let mut progress = lock(&shared.progress);
            for outcome in outcomes {
                progress.scanned += 1;
                match outcome {
                    Outcome::Upgraded => progress.upgraded += 1,
                    Outcome::Reindexed => progress.reindexed += 1,
                    Outcome::Current => progress.current += 1,
                    Outcome::Failed(key, cause) => {
                        progress.failed += 1;
                        tracing::warn!(entity = E::TYPE, %key, %cause, "item not brought up to date");
                        let mut failures = lock(&shared.failures);
                        if failures.len() < KEPT_FAILURES {
                            failures.push((key, cause));
                        }
                    }
                }
            }
            if next.is_none() {
                progress.segments_done += 1;
            }
            progress.clone()
        };
        if let (Some(path), false) = (&self.checkpoint, self.dry_run) {
            let _saving = shared.save.lock().await;
            let text = {
                let mut checkpoint = lock(&shared.checkpoint);
                checkpoint.positions.insert(
                    segment,
                    Position {
                        done: next.is_none(),
                        start: next.map(|key| {
                            key.iter()
                                .filter_map(|(name, value)| {
                                    Some((name.clone(), value.as_s().ok()?.clone()))
                                })
                                .collect()
                        }),
                    },
                );
                serde_json::to_string_pretty(&*checkpoint)
                    .map_err(|e| self.file_error(path, "write", &e))?
            };
            // Written aside and renamed, so a stop mid-write leaves the previous checkpoint.
            let temporary = path.with_extension("partial");
            tokio::fs::write(&temporary, text)
                .await
                .map_err(|e| self.file_error(&temporary, "write", &e))?;
            tokio::fs::rename(&temporary, path)
                .await
                .map_err(|e| self.file_error(path, "write", &e))?;
        }
        if let Some(report) = &self.on_progress {
            report(&progress);
        }
        Ok(())
    }

    /// Brings one scanned item up to date, in the scope of the tenant its key names.
    async fn refresh(&self, item: Item, tenancy: &Tenancy) -> Result<Outcome> {
        let key = item::item_key_of(&item, self.table);
        let tenant = match tenancy {
            Tenancy::None => return self.refresh_in_scope(key, item).await,
            Tenancy::One(tenant) => Some(tenant),
            Tenancy::All => None,
        };
        let owner = match crate::tenant::of_key::<E>(&key, self.table) {
            Ok(owner) => owner,
            Err(error) => return Ok(Outcome::Failed(key, error.to_string())),
        };
        if tenant.is_some_and(|tenant| *tenant != owner) {
            // Its tenant field names the scope's tenant and its key another: not this
            // tenant's item, whatever the field says.
            return Ok(Outcome::Failed(
                key,
                format!("the key is in tenant `{owner}`'s key space, not the scope's"),
            ));
        }
        crate::tenant::scope(owner, self.refresh_in_scope(key, item)).await
    }

    /// Brings one item up to date, reading it again when a user wrote it in the meantime.
    async fn refresh_in_scope(&self, key: ItemKey, mut old: Item) -> Result<Outcome> {
        let table = self.table;
        for _ in 0..ATTEMPTS {
            let (new, outcome) = match up_to_date::<E>(&old, &key, table) {
                Ok(Some(done)) => done,
                Ok(None) => return Ok(Outcome::Current),
                Err(cause) => return Ok(Outcome::Failed(key, cause)),
            };
            // A unique value moves only with its guards, which this write does not carry.
            match unique::guards::<E>(table, &key, Some(&old), Some(&new)) {
                Ok(guards) if guards.is_empty() => {}
                Ok(guards) => {
                    let mut fields: Vec<&str> =
                        guards.iter().map(|(guard, _)| guard.field).collect();
                    fields.dedup();
                    let cause = format!(
                        "the upgrade changes the unique value of `{}`, whose guard a backfill \
                         does not move; write the item with `put` or `update`",
                        fields.join("`, `")
                    );
                    return Ok(Outcome::Failed(key, cause));
                }
                Err(error) => return Ok(Outcome::Failed(key, error.to_string())),
            }
            if self.dry_run {
                return Ok(outcome);
            }
            if let Ok(()) = self.write(&key, &old, &new).await {
                return Ok(outcome);
            }
            match request::stored(table, E::TYPE, &key).await? {
                Some(now) => old = now,
                // Deleted meanwhile: nothing left to bring up to date.
                None => return Ok(Outcome::Current),
            }
        }
        Ok(Outcome::Failed(
            key,
            format!("the item kept changing during {ATTEMPTS} attempts"),
        ))
    }

    /// Writes the attributes that differ between `old` and `new`, where each still holds its
    /// old value; `Err(Changed)` when one does not.
    async fn write(&self, key: &ItemKey, old: &Item, new: &Item) -> Result<(), Changed> {
        let table = self.table;
        let mut names = HashMap::from([
            ("#pk".to_owned(), table.partition_key().to_owned()),
            ("#type".to_owned(), TYPE_ATTRIBUTE.to_owned()),
        ]);
        let mut values = HashMap::from([(":type".to_owned(), AttributeValue::S(E::TYPE.into()))]);
        let (mut sets, mut removes) = (Vec::new(), Vec::new());
        let mut conditions = vec!["attribute_exists(#pk) AND #type = :type".to_owned()];
        for (i, name) in changed(old, new).enumerate() {
            names.insert(format!("#a{i}"), name.clone());
            match new.get(name) {
                Some(value) => {
                    values.insert(format!(":n{i}"), value.clone());
                    sets.push(format!("#a{i} = :n{i}"));
                }
                None => removes.push(format!("#a{i}")),
            }
            match old.get(name) {
                Some(value) => {
                    values.insert(format!(":o{i}"), value.clone());
                    conditions.push(format!("#a{i} = :o{i}"));
                }
                None => conditions.push(format!("attribute_not_exists(#a{i})")),
            }
        }
        let mut update = Vec::new();
        if !sets.is_empty() {
            update.push(format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            update.push(format!("REMOVE {}", removes.join(", ")));
        }
        let write = Write {
            entity: E::TYPE,
            key: key.clone(),
            action: Action::Update(update.join(" ")),
            condition: conditions.join(" AND "),
            names,
            values,
            returns: None,
        };
        match single::send(table, write).await {
            Ok(single::Outcome::Done(_)) => Ok(()),
            Ok(single::Outcome::Refused { .. }) => Err(Changed),
            Err(error) => {
                tracing::warn!(entity = E::TYPE, %key, %error, "item not written");
                Err(Changed)
            }
        }
    }
}

/// The up-to-date form of `E`'s stored item `old` and what bringing it there is, or `None` when
/// it is up to date; `Err` with the cause when it cannot be brought there.
fn up_to_date<E: Schema>(
    old: &Item,
    key: &ItemKey,
    table: &Table,
) -> Result<Option<(Item, Outcome)>, String> {
    let outcome = match item::schema_of(old) {
        // A newer build wrote it: this one cannot tell what its derived attributes should be.
        Some(schema) if schema > E::SCHEMA => return Ok(None),
        Some(schema) if schema == E::SCHEMA => Outcome::Reindexed,
        Some(_) => Outcome::Upgraded,
        None => return Err("the schema version is not a number".into()),
    };
    let mut new = old.clone();
    if let Outcome::Upgraded = outcome {
        item::upgrade::<E>(&mut new, key).map_err(|e| e.to_string())?;
        // As a new write records it.
        for (attribute, at) in item::schema_attributes::<E>() {
            new.insert(attribute.into(), at);
        }
    }
    // Only an item that reads as the entity is written back, and its derived attributes are
    // those of what it reads as.
    let entity = item::decode::<E>(new.clone(), table).map_err(|e| e.to_string())?;
    for (name, value) in item::derived(&entity, table).map_err(|e| e.to_string())? {
        match value {
            Some(value) => new.insert(name.to_owned(), value),
            None => new.remove(name),
        };
    }
    // The type indexes sort by `_timestamp`: an item stored without one is in neither.
    if !new.contains_key(TIMESTAMP_ATTRIBUTE) {
        let now = crate::autogen::now_text();
        new.insert(TIMESTAMP_ATTRIBUTE.into(), AttributeValue::S(now));
    }
    Ok((new != *old).then_some((new, outcome)))
}

/// The names of the attributes whose values differ between `old` and `new`.
fn changed<'a>(old: &'a Item, new: &'a Item) -> impl Iterator<Item = &'a String> {
    new.keys()
        .chain(old.keys().filter(|name| !new.contains_key(*name)))
        .filter(|name| old.get(*name) != new.get(*name))
}

/// An item changed between its read and its write.
struct Changed;

/// What happened to one scanned item.
enum Outcome {
    Upgraded,
    Reindexed,
    Current,
    Failed(ItemKey, String),
}

/// Locks `mutex`; a panic elsewhere cannot leave these counts half-written, so poison is moot.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
