//! Backfill: rewrites the items of an entity written with an older schema, so that reads no
//! longer upgrade them one by one.
//!
//! A parallel scan (one task per segment) reads the entity's items. Each older item is
//! upgraded with the entity's `upgrade` function, checked to decode, and written back with an
//! `UpdateItem` that changes only what the upgrade changed, held to the old values: an item a
//! user wrote in the meantime is read again and upgraded from what it holds now, never
//! overwritten with stale data. Writes run with bounded concurrency.
//!
//! Tenancy: a backfill of a tenant-scoped entity runs in one tenant's scope and reads, writes
//! and reports only that tenant's items (the scan filters on the tenant field, so another
//! tenant's items never reach the caller); outside a scope it fails with
//! [`Error::MissingTenant`](crate::Error::MissingTenant). To upgrade every tenant, run one
//! backfill per tenant, each in [`tenant::as_tenant`](crate::tenant::as_tenant).
//!
//! With a checkpoint file, the position of every segment is saved after each page, so a
//! backfill that was stopped resumes where it was. The file is removed when the backfill
//! completes.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::error::{Error, ItemKey, Result};
use crate::item::{self, Item, SCHEMA_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::request::{self, sdk_error};
use crate::schema::Schema;
use crate::table::Table;
use crate::write::single::{self, Action, Write};

/// DynamoDB's limit on the segments of a parallel scan.
const MAX_SEGMENTS: u32 = 1_000_000;

/// How many segments a backfill reads at once.
const MAX_PARALLEL_SEGMENTS: usize = 64;

/// How many failures a report keeps by key.
const KEPT_FAILURES: usize = 100;

/// How many times an item that changed while it was upgraded is read and upgraded again.
const ATTEMPTS: u32 = 5;

/// Counts of a backfill so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Items of the entity read.
    pub scanned: u64,
    /// Items rewritten at the current schema.
    pub upgraded: u64,
    /// Items already at the current schema (or deleted while being upgraded).
    pub current: u64,
    /// Items that could not be upgraded; they keep their old schema.
    pub failed: u64,
    /// Segments read to the end.
    pub segments_done: u32,
    /// Segments in all.
    pub segments: u32,
}

/// What a finished backfill did (in this run; a resumed run counts from where it resumed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackfillReport {
    /// The final counts.
    pub progress: Progress,
    /// Whether the run resumed from a checkpoint.
    pub resumed: bool,
    /// The first failures, by key, with their cause.
    pub failures: Vec<(ItemKey, String)>,
}

/// Rewrites the items of `E` written with an older schema.
///
/// ```ignore
/// let report = Backfill::<Account>::new(&table)
///     .segments(8)
///     .concurrency(32)
///     .checkpoint("account-backfill.json")
///     .on_progress(|p| eprintln!("{} scanned, {} upgraded", p.scanned, p.upgraded))
///     .run()
///     .await?;
/// ```
#[must_use = "a backfill does nothing until `run()` is awaited"]
pub struct Backfill<'t, E> {
    table: &'t Table,
    segments: u32,
    concurrency: usize,
    page_size: Option<i32>,
    checkpoint: Option<PathBuf>,
    on_progress: Option<ProgressFn>,
    entity: PhantomData<fn() -> E>,
}

impl<E> std::fmt::Debug for Backfill<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backfill")
            .field("table", &self.table.name())
            .field("segments", &self.segments)
            .field("concurrency", &self.concurrency)
            .field("checkpoint", &self.checkpoint)
            .finish_non_exhaustive()
    }
}

/// Called with the counts after every page.
type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// The saved position of a backfill: where each segment's scan goes on.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Checkpoint {
    table: String,
    entity: String,
    schema: u32,
    segments: Vec<Position>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
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

impl<'t, E: Schema> Backfill<'t, E> {
    /// A backfill of `E` on `table`: 4 segments, 16 writes at once, no checkpoint.
    pub fn new(table: &'t Table) -> Self {
        Backfill {
            table,
            segments: 4,
            concurrency: 16,
            page_size: None,
            checkpoint: None,
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

    /// Calls `report` with the counts after every page.
    pub fn on_progress(mut self, report: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(report));
        self
    }

    /// Runs the backfill to the end.
    pub async fn run(self) -> Result<BackfillReport> {
        crate::tenant::admit::<E>(self.table)?;
        if E::TENANT_PARAM.is_some() {
            // Resolved once here so that a run outside any scope fails before any request.
            crate::tenant::required::<E>(self.table)?;
        }
        let (checkpoint, resumed) = self.load().await?;
        let progress = Progress {
            segments: self.segments,
            segments_done: checkpoint.segments.iter().filter(|s| s.done).count() as u32,
            ..Progress::default()
        };
        let shared = Shared {
            checkpoint: Mutex::new(checkpoint),
            progress: Mutex::new(progress),
            failures: Mutex::new(Vec::new()),
            save: tokio::sync::Mutex::new(()),
        };
        let span = tracing::info_span!("backfill", table = self.table.name(), entity = E::TYPE);
        futures::stream::iter(0..self.segments)
            .map(|segment| self.segment(segment, &shared))
            .buffer_unordered(MAX_PARALLEL_SEGMENTS)
            .try_collect::<Vec<()>>()
            .instrument(span)
            .await?;
        if let Some(path) = &self.checkpoint {
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
            failures,
        })
    }

    /// The checkpoint to start from, and whether it was read from the file.
    async fn load(&self) -> Result<(Checkpoint, bool)> {
        let fresh = Checkpoint {
            table: self.table.name().to_owned(),
            entity: E::TYPE.to_owned(),
            schema: E::SCHEMA,
            segments: vec![Position::default(); self.segments as usize],
        };
        let Some(path) = &self.checkpoint else {
            return Ok((fresh, false));
        };
        let text = match tokio::fs::read_to_string(path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((fresh, false)),
            Err(e) => return Err(self.file_error(path, "read", &e)),
        };
        let saved: Checkpoint =
            serde_json::from_str(&text).map_err(|e| self.file_error(path, "parse", &e))?;
        let same = saved.table == fresh.table
            && saved.entity == fresh.entity
            && saved.schema == fresh.schema
            && saved.segments.len() == fresh.segments.len();
        if !same {
            return Err(Error::InvalidRequest {
                entity: E::TYPE,
                reason: format!(
                    "checkpoint `{}` is for `{}` schema {} on table `{}` with {} segments; this \
                     backfill is `{}` schema {} on `{}` with {} segments",
                    path.display(),
                    saved.entity,
                    saved.schema,
                    saved.table,
                    saved.segments.len(),
                    fresh.entity,
                    fresh.schema,
                    fresh.table,
                    fresh.segments.len()
                ),
            });
        }
        Ok((saved, true))
    }

    fn file_error(
        &self,
        path: &std::path::Path,
        what: &str,
        error: &dyn std::fmt::Display,
    ) -> Error {
        Error::InvalidRequest {
            entity: E::TYPE,
            reason: format!("cannot {what} checkpoint `{}`: {error}", path.display()),
        }
    }

    /// Scans one segment to its end, from its saved position.
    async fn segment(&self, segment: u32, shared: &Shared) -> Result<()> {
        let table = self.table;
        let position = lock(&shared.checkpoint).segments[segment as usize].clone();
        if position.done {
            return Ok(());
        }
        let mut start = position.start.map(|key| {
            key.into_iter()
                .map(|(name, value)| (name, AttributeValue::S(value)))
                .collect::<Item>()
        });
        loop {
            let tenant = match E::TENANT_FIELD {
                Some(_) => Some(crate::tenant::required::<E>(table)?),
                None => None,
            };
            let mut filter = "#type = :type".to_owned();
            if tenant.is_some() {
                filter.push_str(" AND #tenant = :tenant");
            }
            let client = table.client();
            let sent = request::send(
                table,
                "Scan",
                E::TYPE,
                |capacity| {
                    let scan = client
                        .scan()
                        .table_name(table.name())
                        .segment(segment as i32)
                        .total_segments(self.segments as i32)
                        .filter_expression(filter)
                        .expression_attribute_names("#type", TYPE_ATTRIBUTE)
                        .expression_attribute_values(":type", AttributeValue::S(E::TYPE.into()))
                        .set_limit(self.page_size)
                        .set_exclusive_start_key(start)
                        .set_return_consumed_capacity(capacity);
                    match (E::TENANT_FIELD, tenant) {
                        (Some(field), Some(tenant)) => scan
                            .expression_attribute_names("#tenant", field)
                            .expression_attribute_values(
                                ":tenant",
                                AttributeValue::S(tenant.as_str().to_owned()),
                            ),
                        _ => scan,
                    }
                },
                |request| request.send(),
            )
            .await;
            let output = sent
                .result
                .map_err(|e| sdk_error(table, "Scan", E::TYPE, e))?;
            let items = output.items.unwrap_or_default();
            let outcomes: Vec<Outcome> = futures::stream::iter(items)
                .map(|item| self.upgrade_one(item))
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
                    Outcome::Current => progress.current += 1,
                    Outcome::Failed(key, cause) => {
                        progress.failed += 1;
                        tracing::warn!(entity = E::TYPE, %key, %cause, "item not upgraded");
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
        if let Some(path) = &self.checkpoint {
            let _saving = shared.save.lock().await;
            let text = {
                let mut checkpoint = lock(&shared.checkpoint);
                checkpoint.segments[segment as usize] = Position {
                    done: next.is_none(),
                    start: next.map(|key| {
                        key.iter()
                            .filter_map(|(name, value)| {
                                Some((name.clone(), value.as_s().ok()?.clone()))
                            })
                            .collect()
                    }),
                };
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

    /// Upgrades one scanned item and writes it back, reading it again when a user wrote it in
    /// the meantime.
    async fn upgrade_one(&self, mut old: Item) -> Result<Outcome> {
        let table = self.table;
        let key = item::item_key_of(&old, table);
        for _ in 0..ATTEMPTS {
            match item::schema_of(&old) {
                Some(schema) if schema >= E::SCHEMA => return Ok(Outcome::Current),
                Some(_) => {}
                None => {
                    return Ok(Outcome::Failed(
                        key,
                        "the schema version is not a number".into(),
                    ))
                }
            }
            let mut new = old.clone();
            if let Err(error) = item::upgrade::<E>(&mut new, &key) {
                return Ok(Outcome::Failed(key, error.to_string()));
            }
            new.insert(
                SCHEMA_ATTRIBUTE.into(),
                AttributeValue::N(E::SCHEMA.to_string()),
            );
            // Only an item that reads as the entity is written back.
            if let Err(error) = item::decode::<E>(new.clone(), table) {
                return Ok(Outcome::Failed(key, error.to_string()));
            }
            if let Ok(()) = self.write(&key, &old, &new).await {
                return Ok(Outcome::Upgraded);
            }
            match request::stored(table, E::TYPE, &key).await? {
                Some(now) => old = now,
                // Deleted meanwhile: nothing left to upgrade.
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
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let (mut sets, mut removes, mut conditions) = (Vec::new(), Vec::new(), Vec::new());
        conditions.push("attribute_exists(#pk)".to_owned());
        names.insert("#pk".to_owned(), table.partition_key().to_owned());
        let changed = new
            .keys()
            .chain(old.keys().filter(|name| !new.contains_key(*name)))
            .filter(|name| old.get(*name) != new.get(*name));
        for (i, name) in changed.enumerate() {
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
        let mut update = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            update.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let write = Write {
            entity: E::TYPE,
            key: key.clone(),
            action: Action::Update(update),
            condition: conditions.join(" AND "),
            names,
            values,
            returns: None,
        };
        match single::send(table, write).await {
            Ok(single::Outcome::Done(_)) => Ok(()),
            Ok(single::Outcome::Refused { .. }) => Err(Changed),
            Err(error) => {
                tracing::warn!(entity = E::TYPE, %key, %error, "upgrade not written");
                Err(Changed)
            }
        }
    }
}

/// An item changed between its read and its write.
struct Changed;

/// What happened to one scanned item.
enum Outcome {
    Upgraded,
    Current,
    Failed(ItemKey, String),
}

/// Locks `mutex`; a panic elsewhere cannot leave these counts half-written, so poison is moot.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
