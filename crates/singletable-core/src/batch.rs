//! Batch reads and writes across entity types: chunked to DynamoDB's limits (100 keys, 25
//! writes), chunks sent concurrently up to a bound, each request retried under the table's
//! [`RetryPolicy`](crate::RetryPolicy), unprocessed keys and items retried with exponential
//! backoff and jitter. Every chunk runs to its end whatever the others do: what is still not
//! done after the retries is reported by key ([`Error::Unprocessed`] for writes,
//! [`BatchGot::unprocessed`] for reads), and nothing that succeeded is discarded.
//!
//! `BatchWriteItem` takes no condition, so a batch cannot check the type of the item it
//! replaces or deletes. Instead, a batch writes only entities that the table declares
//! ([`TableBuilder::entity`](crate::TableBuilder::entity)) and whose key templates cannot
//! render the key of another declared entity: then no batch write can land on another entity
//! type's item.
//!
//! `BatchWriteItem` cannot carry an audit record with its change either, so the writes of an
//! `#[entity(audit)]` entity in a batch are each sent as the audited write alone would be — a
//! transaction of the write and its record, from a consistent read — concurrently with the
//! rest of the batch: never a write without its record. The writes of an entity with
//! `#[entity(unique)]` fields are sent the same way, each with the guards of the values it takes
//! or frees, so a batch never writes such an item without its guards (a value another item
//! holds leaves that write undone: [`Error::Unprocessed`] names it, with
//! [`Error::Duplicate`] as the cause).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};
use aws_smithy_types::body::SdkBody;
use futures::StreamExt;

use crate::error::{Error, ItemKey, Result};
use crate::expr::Names;
use crate::item::{self, Item};
use crate::ops::get::shown;
use crate::projection::{self, Projection};
use crate::request::{self, sdk_error};
use crate::retry::full_jitter;
use crate::schema::{EntityKey, Schema};
use crate::sent_body;
use crate::table::Table;
use crate::tenant::Binding;
use crate::write::{audited, put};

const MAX_GET_KEYS: usize = 100;
const MAX_WRITES: usize = 25;

/// How hard a batch tries: concurrent requests, and rounds per chunk for what DynamoDB
/// leaves unprocessed (each request also has the table's retries).
#[derive(Clone, Copy, Debug)]
struct Effort {
    concurrency: usize,
    attempts: u32,
    base_delay: Duration,
}

impl Default for Effort {
    fn default() -> Self {
        Effort {
            concurrency: 4,
            attempts: 10,
            base_delay: Duration::from_millis(25),
        }
    }
}

impl Effort {
    /// Exponential backoff with full jitter, capped at 5 s.
    fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1 << attempt.min(16))
            .min(Duration::from_secs(5));
        full_jitter(ceiling)
    }
}

/// Writes of several entity types, sent as `BatchWriteItem` requests of up to 25.
///
/// ```ignore
/// let mut batch = BatchWrite::new(&table);
/// batch.put(&team)?.put(&member)?.delete::<Project>(project_key)?;
/// batch.send().await?;
/// ```
#[must_use = "a batch does nothing until `send()` is awaited"]
pub struct BatchWrite<'t> {
    table: &'t Table,
    writes: Vec<Write>,
    audited: Vec<AuditedWrite<'t>>,
    effort: Effort,
    tenant: Binding,
}

impl std::fmt::Debug for BatchWrite<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchWrite")
            .field("table", &self.table.name())
            .field("writes", &self.writes)
            .field("audited", &self.audited.len())
            .field("effort", &self.effort)
            .finish_non_exhaustive()
    }
}

/// A write of an audited entity: the audited write (the change and its record in one
/// transaction), started when the batch is sent.
struct AuditedWrite<'t> {
    entity: &'static str,
    key: ItemKey,
    run: Box<dyn FnOnce() -> futures::future::BoxFuture<'t, Result<()>> + Send + 't>,
}

/// One write of a batch, with what names it in errors. (A named type, not a tuple with a
/// `&'static str`: it keeps the futures that carry it `Send` for the compiler.)
#[derive(Debug)]
pub(crate) struct Write {
    entity: &'static str,
    key: ItemKey,
    request: WriteRequest,
}

impl Write {
    /// A raw write for [`write_raw`]: `request` (a put of a whole item or a delete by key) of
    /// the item at `key`, named by its `_type`.
    pub(crate) fn raw(entity: &'static str, key: ItemKey, request: WriteRequest) -> Self {
        Write {
            entity,
            key,
            request,
        }
    }

    /// The `_type` of the item written.
    pub(crate) fn entity(&self) -> &'static str {
        self.entity
    }
}

/// The writes of a chunk that were not done after the retries, and why.
struct Left {
    writes: Vec<(&'static str, ItemKey)>,
    cause: Option<Error>,
}

impl<'t> BatchWrite<'t> {
    /// An empty batch on `table`.
    pub fn new(table: &'t Table) -> Self {
        BatchWrite {
            table,
            writes: Vec::new(),
            audited: Vec::new(),
            effort: Effort::default(),
            tenant: Binding::default(),
        }
    }

    /// The checks every write of `E` passes before it joins the batch.
    fn admit<E: Schema>(&mut self) -> Result<()> {
        crate::tenant::admit::<E>(self.table)?;
        self.table.check_batch_writes::<E>()?;
        self.tenant.bind::<E>(self.table)
    }

    /// Puts `entity` (create or replace). Versioned entities cannot be written in a batch and
    /// are refused; write them with `put` or in a [`Transaction`](crate::Transaction). An
    /// audited entity is written with its audit record, in a transaction of its own.
    pub fn put<E: Schema>(&mut self, entity: &E) -> Result<&mut Self> {
        self.admit::<E>()?;
        crate::tenant::check_owner(entity, self.table)?;
        if E::VERSION.is_some() {
            return Err(Error::InvalidRequest {
                entity: E::TYPE,
                reason: "a batch write cannot check versions; put versioned entities one by one"
                    .into(),
            });
        }
        if audited::from_read::<E>() {
            let (table, prepared) = (self.table, put::prepare(self.table, entity, None)?);
            let key = prepared.key.clone();
            return self.push_audited(E::TYPE, key, move || {
                Box::pin(audited::put::<E>(table, prepared))
            });
        }
        let key = entity.key().item_key(self.table)?;
        let item = item::encode(entity, key.clone(), crate::autogen::now(), self.table)?;
        let request = PutRequest::builder()
            .set_item(Some(item))
            .build()
            .map_err(|e| self.build_error(E::TYPE, e))?;
        self.writes.push(Write {
            entity: E::TYPE,
            key,
            request: WriteRequest::builder().put_request(request).build(),
        });
        Ok(self)
    }

    /// Deletes the item at `key` for good (a `soft_delete` entity's item too). An audited
    /// entity's delete is written with its audit record.
    pub fn delete<E: Schema>(&mut self, key: E::Key<'_>) -> Result<&mut Self> {
        self.admit::<E>()?;
        let key = key.item_key(self.table)?;
        if audited::from_read::<E>() {
            let (table, deleted) = (self.table, key.clone());
            return self.push_audited(E::TYPE, key, move || {
                Box::pin(async move {
                    audited::delete::<E>(table, deleted, None, true)
                        .await
                        .map(drop)
                })
            });
        }
        let request = DeleteRequest::builder()
            .set_key(Some(item::key_item(key.clone(), self.table)))
            .build()
            .map_err(|e| self.build_error(E::TYPE, e))?;
        self.writes.push(Write {
            entity: E::TYPE,
            key,
            request: WriteRequest::builder().delete_request(request).build(),
        });
        Ok(self)
    }

    fn push_audited(
        &mut self,
        entity: &'static str,
        key: ItemKey,
        run: impl FnOnce() -> futures::future::BoxFuture<'t, Result<()>> + Send + 't,
    ) -> Result<&mut Self> {
        self.audited.push(AuditedWrite {
            entity,
            key,
            run: Box::new(run),
        });
        Ok(self)
    }

    /// Sends at most `requests` chunks at once (default 4).
    pub fn concurrency(&mut self, requests: usize) -> &mut Self {
        self.effort.concurrency = requests.max(1);
        self
    }

    /// Reports a chunk's writes as unprocessed after `attempts` rounds in a row (default 10)
    /// in which DynamoDB did none of them; rounds that get some done do not count.
    pub fn max_attempts(&mut self, attempts: u32) -> &mut Self {
        self.effort.attempts = attempts.max(1);
        self
    }

    /// The number of writes in the batch.
    pub fn len(&self) -> usize {
        self.writes.len() + self.audited.len()
    }

    /// Whether the batch holds no write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn build_error(
        &self,
        entity: &'static str,
        error: aws_sdk_dynamodb::error::BuildError,
    ) -> Error {
        sdk_error(self.table, "BatchWriteItem", entity, error)
    }

    /// Sends every write. Every chunk runs to its end; fails with [`Error::Unprocessed`] naming
    /// each write that was not confirmed after the retries (every other write is done).
    pub async fn send(self) -> Result<()> {
        let entity = self
            .writes
            .first()
            .map(|w| w.entity)
            .or(self.audited.first().map(|w| w.entity))
            .unwrap_or("(batch)");
        self.tenant.check(entity, self.table)?;
        let mut seen = HashMap::with_capacity(self.len());
        let named = self.writes.iter().map(|w| (w.entity, &w.key));
        for (entity, key) in named.chain(self.audited.iter().map(|w| (w.entity, &w.key))) {
            if seen.insert(key, entity).is_some() {
                return Err(Error::InvalidRequest {
                    entity,
                    reason: format!("the batch writes {key} twice; DynamoDB refuses that"),
                });
            }
        }
        let (table, effort) = (self.table, self.effort);
        let mut chunks = Vec::new();
        let mut writes = self.writes.into_iter().peekable();
        while writes.peek().is_some() {
            chunks.push(writes.by_ref().take(MAX_WRITES).collect::<Vec<_>>());
        }
        let batched = futures::stream::iter(chunks)
            .map(|chunk| write_chunk(table, chunk, effort))
            .buffer_unordered(effort.concurrency)
            .collect::<Vec<Left>>();
        // One audited write is two requests (its read and its transaction): as many in flight
        // as a chunk's worth of them per chunk the batch may send at once.
        let audited = futures::stream::iter(self.audited)
            .map(write_audited)
            .buffer_unordered(effort.concurrency.saturating_mul(MAX_WRITES / 2))
            .collect::<Vec<Left>>();
        let (mut lefts, audited) = futures::join!(batched, audited);
        lefts.extend(audited);
        reported(lefts)
    }
}

/// Sends raw writes — whole items put as they are, items deleted by key — each named by its
/// `_type` and key, through the chunks, retries and report of [`BatchWrite::send`]: for work on
/// items as stored that no entity's typed API describes (a tenant's deletion and import). The
/// caller checks what it writes (key space, `_type`, no key twice); nothing here does.
///
/// Fails with [`Error::Unprocessed`] naming each write not confirmed after the retries; every
/// other write is done.
pub(crate) async fn write_raw(
    table: &Table,
    writes: Vec<Write>,
    concurrency: usize,
    attempts: u32,
) -> Result<()> {
    let effort = Effort {
        concurrency: concurrency.max(1),
        attempts: attempts.max(1),
        ..Effort::default()
    };
    let mut chunks = Vec::new();
    let mut writes = writes.into_iter().peekable();
    while writes.peek().is_some() {
        chunks.push(writes.by_ref().take(MAX_WRITES).collect::<Vec<_>>());
    }
    let lefts = futures::stream::iter(chunks)
        .map(|chunk| write_chunk(table, chunk, effort))
        .buffer_unordered(effort.concurrency)
        .collect::<Vec<Left>>()
        .await;
    reported(lefts)
}

/// A batch's outcome from what its chunks left: done, or [`Error::Unprocessed`] naming every
/// write that was not, with the first cause.
fn reported(lefts: Vec<Left>) -> Result<()> {
    let mut items = Vec::new();
    let mut cause = None;
    for left in lefts {
        items.extend(left.writes);
        cause = cause.or(left.cause);
    }
    if items.is_empty() {
        return Ok(());
    }
    Err(Error::Unprocessed {
        operation: "BatchWriteItem",
        items,
        cause: cause.map(Box::new),
    })
}

/// Reads whole items by key with strongly consistent reads, through the chunks and retries of
/// [`BatchGet::send`]: the items found (in no order; a key with no item is absent), and the keys
/// that could not be read after the retries. The caller checks which keys it may read.
pub(crate) async fn read_raw(
    table: &Table,
    entity: &'static str,
    keys: Vec<ItemKey>,
    concurrency: usize,
    attempts: u32,
) -> (Vec<Item>, Vec<ItemKey>) {
    read_keys(table, entity, keys, true, concurrency, attempts).await
}

/// [`read_raw`], with strongly consistent reads only when `consistent` is set (the loader reads
/// as `get` does, eventually consistent).
pub(crate) async fn read_keys(
    table: &Table,
    entity: &'static str,
    keys: Vec<ItemKey>,
    consistent: bool,
    concurrency: usize,
    attempts: u32,
) -> (Vec<Item>, Vec<ItemKey>) {
    let effort = Effort {
        concurrency: concurrency.max(1),
        attempts: attempts.max(1),
        ..Effort::default()
    };
    let chunks: Vec<Vec<ItemKey>> = keys.chunks(MAX_GET_KEYS).map(<[ItemKey]>::to_vec).collect();
    let results: Vec<(Vec<Item>, Vec<ItemKey>)> = futures::stream::iter(chunks)
        .map(|chunk| get_chunk(table, entity, chunk, None, consistent, effort))
        .buffer_unordered(effort.concurrency)
        .collect()
        .await;
    let (mut found, mut left) = (Vec::with_capacity(keys.len()), Vec::new());
    for (items, missing) in results {
        found.extend(items);
        left.extend(missing);
    }
    (found, left)
}

/// Sends one audited write; returns it as left, with the cause, when it failed.
async fn write_audited(write: AuditedWrite<'_>) -> Left {
    let AuditedWrite { entity, key, run } = write;
    match run().await {
        Ok(()) => Left {
            writes: Vec::new(),
            cause: None,
        },
        Err(error) => Left {
            writes: vec![(entity, key)],
            cause: Some(error),
        },
    }
}

/// Sends one chunk until DynamoDB has done all of it, the rounds are spent or a request failed
/// after its retries; returns what is left.
async fn write_chunk(table: &Table, chunk: Vec<Write>, effort: Effort) -> Left {
    let entity = chunk.first().map_or("(batch)", |write| write.entity);
    let mut pending: Vec<WriteRequest> = Vec::with_capacity(chunk.len());
    let mut names = Vec::with_capacity(chunk.len());
    for Write {
        entity,
        key,
        request,
    } in chunk
    {
        names.push((entity, key));
        pending.push(request);
    }
    let client = table.client();
    let mut cause = None;
    // Only a round that got nothing done counts against the attempts: a chunk that DynamoDB
    // takes a part of at a time still gets to its end.
    let mut stalled = 0;
    while stalled < effort.attempts {
        let before = pending.len();
        if stalled > 0 {
            tokio::time::sleep(effort.delay(stalled)).await;
        }
        // The first attempt sends the writes themselves, not a copy; one sent again after a
        // failed attempt is rebuilt from the body that attempt sent. A put or delete written
        // twice leaves the same item: a retried lost reply is harmless.
        let mut writes = Some(std::mem::take(&mut pending));
        let mut lost = false;
        let (sent, body) = sent_body::keeping(request::send(
            table,
            "BatchWriteItem",
            entity,
            |capacity| capacity,
            |capacity| {
                let writes = writes
                    .take()
                    .or_else(|| sent_writes(sent_body::last(), table.name()))
                    .unwrap_or_else(|| {
                        lost = true;
                        Vec::new()
                    });
                client
                    .batch_write_item()
                    .request_items(table.name(), writes)
                    .set_return_consumed_capacity(capacity)
                    .send()
            },
        ))
        .await;
        if lost {
            // An attempt could not be rebuilt and was sent empty: what the chunk held before it
            // is not known, so none of it is.
            let error = sent
                .result
                .err()
                .map(|e| sdk_error(table, "BatchWriteItem", entity, e));
            return Left {
                writes: names,
                cause: error.or(cause),
            };
        }
        match sent.result {
            Ok(output) => {
                pending = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(table.name()))
                    .unwrap_or_default();
            }
            Err(error) => {
                let transient = request::is_transient(&error);
                cause = Some(sdk_error(table, "BatchWriteItem", entity, error));
                let Some(sent) = sent_writes(body, table.name()) else {
                    // What the failed request held is not known: none of the chunk is.
                    return Left {
                        writes: names,
                        cause,
                    };
                };
                pending = sent;
                if !transient {
                    break;
                }
            }
        }
        if pending.is_empty() {
            return Left {
                writes: Vec::new(),
                cause: None,
            };
        }
        stalled = if pending.len() < before {
            0
        } else {
            stalled + 1
        };
    }
    // Name exactly the writes that are left, by their keys.
    let left: HashSet<(&str, &str)> = pending
        .iter()
        .filter_map(|request| written_key(request, table))
        .collect();
    Left {
        writes: names
            .into_iter()
            .filter(|(_, key)| left.contains(&(key.pk.as_str(), key.sk.as_str())))
            .collect(),
        cause,
    }
}

/// The writes of a `BatchWriteItem` body that was sent, to send them again: `None` when there
/// is no body or it cannot be read, which a body this crate's client serialized always can.
fn sent_writes(body: Option<SdkBody>, table: &str) -> Option<Vec<WriteRequest>> {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(rename = "RequestItems")]
        request_items: HashMap<String, Vec<Sent>>,
    }
    #[derive(serde::Deserialize)]
    enum Sent {
        PutRequest {
            #[serde(rename = "Item")]
            item: serde_dynamo::Item,
        },
        DeleteRequest {
            #[serde(rename = "Key")]
            key: serde_dynamo::Item,
        },
    }
    let body: Body = serde_json::from_slice(body?.bytes()?).ok()?;
    let mut sent = body
        .request_items
        .into_iter()
        .find(|(name, _)| name == table)?
        .1;
    sent.drain(..)
        .map(|write| {
            let request = match write {
                Sent::PutRequest { item } => WriteRequest::builder().put_request(
                    PutRequest::builder()
                        .set_item(Some(item.into()))
                        .build()
                        .ok()?,
                ),
                Sent::DeleteRequest { key } => WriteRequest::builder().delete_request(
                    DeleteRequest::builder()
                        .set_key(Some(key.into()))
                        .build()
                        .ok()?,
                ),
            };
            Some(request.build())
        })
        .collect()
}

/// The key of the item a write request writes.
fn written_key<'a>(write: &'a WriteRequest, table: &Table) -> Option<(&'a str, &'a str)> {
    let attributes = match (write.put_request(), write.delete_request()) {
        (Some(put), _) => put.item(),
        (_, Some(delete)) => delete.key(),
        _ => return None,
    };
    let text = |name: &str| attributes.get(name).and_then(|v| v.as_s().ok());
    Some((text(table.partition_key())?, text(table.sort_key())?))
}

fn key_of(attributes: &Item, table: &Table) -> Option<ItemKey> {
    let text = |name: &str| attributes.get(name).and_then(|v| v.as_s().ok()).cloned();
    Some(ItemKey {
        pk: text(table.partition_key())?,
        sk: text(table.sort_key())?,
    })
}

/// A typed slot of a [`BatchGet`]: hand it to [`BatchGot::take`] for the entity (or the
/// projection, for a slot of [`BatchGet::get_as`]).
#[derive(Debug)]
pub struct Slot<T> {
    index: usize,
    /// The `_type` of the entity read.
    entity: &'static str,
    /// Whether a soft-deleted item reads as absent.
    soft_delete: bool,
    decode: fn(Item, &Table) -> Result<T>,
}

/// Reads of several entity types by key, sent as `BatchGetItem` requests of up to 100 keys.
///
/// ```ignore
/// let mut batch = BatchGet::new(&table);
/// let team = batch.get::<Team>(team_key)?;
/// let member = batch.get::<TeamMember>(member_key)?;
/// let mut got = batch.send().await?;
/// let team: Option<Team> = got.take(team)?;
/// ```
#[must_use = "a batch does nothing until `send()` is awaited"]
#[derive(Debug)]
pub struct BatchGet<'t> {
    table: &'t Table,
    keys: Vec<(&'static str, ItemKey)>,
    effort: Effort,
    tenant: Binding,
    /// The attributes every slot needs: `None` once a slot reads whole items.
    attributes: Option<Vec<String>>,
}

/// The items a [`BatchGet`] read, by slot, and the keys it could not read.
#[derive(Debug)]
pub struct BatchGot<'t> {
    table: &'t Table,
    keys: Vec<(&'static str, ItemKey)>,
    items: HashMap<ItemKey, Item>,
    unprocessed: Vec<(&'static str, ItemKey)>,
}

impl<'t> BatchGet<'t> {
    /// An empty batch on `table`.
    pub fn new(table: &'t Table) -> Self {
        BatchGet {
            table,
            keys: Vec::new(),
            effort: Effort::default(),
            tenant: Binding::default(),
            attributes: Some(Vec::new()),
        }
    }

    /// Adds the item of `E` at `key`; its entity comes back from [`BatchGot::take`].
    pub fn get<E: Schema>(&mut self, key: E::Key<'_>) -> Result<Slot<E>> {
        let slot = self.add::<E, E>(key, item::decode::<E>)?;
        self.attributes = None;
        Ok(slot)
    }

    /// Adds the projection `P` of the item at `key`; it comes back from [`BatchGot::take`].
    ///
    /// A `BatchGetItem` request has one `ProjectionExpression` per table, so the batch asks
    /// for the attributes of every projection in it, and for whole items as soon as it holds
    /// one [`get`](Self::get).
    pub fn get_as<P: Projection>(
        &mut self,
        key: <P::Entity as Schema>::Key<'_>,
    ) -> Result<Slot<P>> {
        let slot = self.add::<P::Entity, P>(key, projection::decode::<P>)?;
        let wanted = projection::attributes::<P>(self.table);
        self.attributes = match (self.attributes.take(), wanted) {
            (Some(mut attributes), Some(wanted)) => {
                for attribute in wanted {
                    if !attributes.contains(&attribute) {
                        attributes.push(attribute);
                    }
                }
                Some(attributes)
            }
            _ => None,
        };
        Ok(slot)
    }

    fn add<E: Schema, T>(
        &mut self,
        key: E::Key<'_>,
        decode: fn(Item, &Table) -> Result<T>,
    ) -> Result<Slot<T>> {
        crate::tenant::admit::<E>(self.table)?;
        self.tenant.bind::<E>(self.table)?;
        let key = key.item_key(self.table)?;
        self.keys.push((E::TYPE, key));
        Ok(Slot {
            index: self.keys.len() - 1,
            entity: E::TYPE,
            soft_delete: E::SOFT_DELETE,
            decode,
        })
    }

    /// Sends at most `requests` chunks at once (default 4).
    pub fn concurrency(&mut self, requests: usize) -> &mut Self {
        self.effort.concurrency = requests.max(1);
        self
    }

    /// Reports a chunk's keys as unprocessed after `attempts` rounds in a row (default 10) in
    /// which DynamoDB read none of them; rounds that read some do not count.
    pub fn max_attempts(&mut self, attempts: u32) -> &mut Self {
        self.effort.attempts = attempts.max(1);
        self
    }

    /// Reads every key (each distinct key once). Every chunk runs to its end; the keys that
    /// were not read after the retries are in [`BatchGot::unprocessed`], and taking their
    /// slot fails with [`Error::Unprocessed`], so an unread item never passes for a missing one.
    pub async fn send(self) -> Result<BatchGot<'t>> {
        let (table, effort) = (self.table, self.effort);
        let entity = self.keys.first().map_or("(batch)", |(entity, _)| entity);
        self.tenant.check(entity, table)?;
        let mut distinct: Vec<ItemKey> = Vec::with_capacity(self.keys.len());
        let mut seen = std::collections::HashSet::with_capacity(self.keys.len());
        for (_, key) in &self.keys {
            if seen.insert(key) {
                distinct.push(key.clone());
            }
        }
        let chunks: Vec<Vec<ItemKey>> = distinct
            .chunks(MAX_GET_KEYS)
            .map(<[ItemKey]>::to_vec)
            .collect();
        let projection = self
            .attributes
            .filter(|attributes| !attributes.is_empty())
            .map(|attributes| {
                let mut names = Names::default();
                let expression = projection::expression(&attributes, &mut names);
                (expression, names.names.into_iter().collect())
            });
        let projection = projection.as_ref();
        let results: Vec<(Vec<Item>, Vec<ItemKey>)> = futures::stream::iter(chunks)
            .map(|chunk| get_chunk(table, entity, chunk, projection, false, effort))
            .buffer_unordered(effort.concurrency)
            .collect()
            .await;
        let mut items = HashMap::with_capacity(distinct.len());
        let mut left = std::collections::HashSet::new();
        for (found, missing) in results {
            for item in found {
                if let Some(key) = key_of(&item, table) {
                    items.insert(key, item);
                }
            }
            left.extend(missing);
        }
        let unprocessed = self
            .keys
            .iter()
            .filter(|(_, key)| left.contains(key))
            .cloned()
            .collect();
        Ok(BatchGot {
            table,
            keys: self.keys,
            items,
            unprocessed,
        })
    }
}

impl BatchGot<'_> {
    /// The entity (or projection) of `slot`, or `None` when there is no item at its key (or it
    /// is soft-deleted or expired), as [`Entity::get`](crate::Entity::get) reads it: an item of
    /// another type there is [`Error::Decode`]; [`Error::Unprocessed`] when the key could not be
    /// read.
    pub fn take<T>(&mut self, slot: Slot<T>) -> Result<Option<T>> {
        let Some((_, key)) = self.keys.get(slot.index) else {
            return Ok(None);
        };
        if self.unprocessed.iter().any(|(_, k)| k == key) {
            return Err(Error::Unprocessed {
                operation: "BatchGetItem",
                items: vec![(slot.entity, key.clone())],
                cause: None,
            });
        }
        // A key asked for twice is read once: the second taker decodes a copy.
        let repeated = self.keys.iter().filter(|(_, k)| k == key).count() > 1;
        let item = if repeated {
            self.items.get(key).cloned()
        } else {
            self.items.remove(key)
        };
        let now = crate::autogen::now().unix_timestamp();
        // As `get` reads it: an item of another type at the key is an error, not `None`.
        let Some(item) = shown(item, self.table, slot.soft_delete, false, now) else {
            return Ok(None);
        };
        (slot.decode)(item, self.table).map(Some)
    }

    /// The keys that could not be read after the retries, with their entity types.
    pub fn unprocessed(&self) -> &[(&'static str, ItemKey)] {
        &self.unprocessed
    }
}

/// Reads one chunk of keys until all are read, the rounds are spent or a request failed after
/// its retries; returns the items and the keys left.
async fn get_chunk(
    table: &Table,
    entity: &'static str,
    chunk: Vec<ItemKey>,
    projection: Option<&(String, HashMap<String, String>)>,
    consistent: bool,
    effort: Effort,
) -> (Vec<Item>, Vec<ItemKey>) {
    let mut found = Vec::with_capacity(chunk.len());
    let mut pending: Vec<Item> = chunk
        .into_iter()
        .map(|key| item::key_item(key, table))
        .collect();
    let client = table.client();
    // As for writes, only a round that read nothing counts against the attempts.
    let mut stalled = 0;
    while stalled < effort.attempts {
        let before = pending.len();
        if stalled > 0 {
            tokio::time::sleep(effort.delay(stalled)).await;
        }
        let keys = match KeysAndAttributes::builder()
            .set_keys(Some(pending.clone()))
            .set_projection_expression(projection.map(|(expression, _)| expression.clone()))
            .set_expression_attribute_names(projection.map(|(_, names)| names.clone()))
            .set_consistent_read(consistent.then_some(true))
            .build()
        {
            Ok(keys) => keys,
            Err(_) => break,
        };
        let sent = request::send(
            table,
            "BatchGetItem",
            entity,
            |capacity| {
                client
                    .batch_get_item()
                    .request_items(table.name(), keys)
                    .set_return_consumed_capacity(capacity)
            },
            |request| request.send(),
        )
        .await;
        let output = match sent.result {
            Ok(output) => output,
            Err(error) if request::is_transient(&error) => {
                stalled += 1;
                continue;
            }
            Err(error) => {
                tracing::warn!(entity, error = %aws_sdk_dynamodb::error::DisplayErrorContext(&error), "batch get failed");
                break;
            }
        };
        if let Some(mut responses) = output.responses {
            found.extend(responses.remove(table.name()).unwrap_or_default());
        }
        pending = output
            .unprocessed_keys
            .and_then(|mut left| left.remove(table.name()))
            .map(|keys| keys.keys)
            .unwrap_or_default();
        if pending.is_empty() {
            return (found, Vec::new());
        }
        stalled = if pending.len() < before {
            0
        } else {
            stalled + 1
        };
    }
    let left = pending
        .iter()
        .filter_map(|key| key_of(key, table))
        .collect();
    (found, left)
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_smithy_types::Blob;

    use super::*;

    /// A body as DynamoDB's JSON protocol writes it, with every kind of attribute value.
    const BODY: &str = r#"{"RequestItems":{"t":[
        {"PutRequest":{"Item":{"pk":{"S":"a"},"sk":{"S":"b"},"n":{"N":"-1.5"},
            "b":{"B":"AAEC/w=="},"bs":{"BS":["AA=="]},"ss":{"SS":["x","y"]},"ns":{"NS":["1"]},
            "l":{"L":[{"BOOL":true},{"NULL":true}]},"m":{"M":{"s":{"S":"é\n\""}}}}}},
        {"DeleteRequest":{"Key":{"pk":{"S":"c"},"sk":{"S":"d"}}}}
    ]},"ReturnConsumedCapacity":"TOTAL"}"#;

    #[test]
    fn a_sent_body_gives_back_the_writes_it_held() {
        let writes = sent_writes(Some(SdkBody::from(BODY)), "t").unwrap();
        assert_eq!(writes.len(), 2);
        let item = writes[0].put_request().unwrap().item();
        assert_eq!(item["n"], AttributeValue::N("-1.5".into()));
        assert_eq!(item["b"], AttributeValue::B(Blob::new(vec![0, 1, 2, 255])));
        assert_eq!(item["bs"], AttributeValue::Bs(vec![Blob::new(vec![0])]));
        assert_eq!(item["ss"], AttributeValue::Ss(vec!["x".into(), "y".into()]));
        assert_eq!(item["ns"], AttributeValue::Ns(vec!["1".into()]));
        let list = vec![AttributeValue::Bool(true), AttributeValue::Null(true)];
        assert_eq!(item["l"], AttributeValue::L(list));
        let map = HashMap::from([("s".to_owned(), AttributeValue::S("é\n\"".into()))]);
        assert_eq!(item["m"], AttributeValue::M(map));
        let key = writes[1].delete_request().unwrap().key();
        assert_eq!(key["pk"], AttributeValue::S("c".into()));
    }

    #[test]
    fn an_unknown_body_gives_nothing_back() {
        assert!(sent_writes(None, "t").is_none());
        assert!(sent_writes(Some(SdkBody::from(BODY)), "other").is_none());
        assert!(sent_writes(Some(SdkBody::from("{")), "t").is_none());
    }
}
