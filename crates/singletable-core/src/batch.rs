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

use std::collections::HashMap;
use std::marker::PhantomData;
use std::time::Duration;

use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};
use futures::StreamExt;

use crate::error::{Error, ItemKey, Result};
use crate::item::{self, Item, TYPE_ATTRIBUTE};
use crate::request::{self, sdk_error};
use crate::retry::full_jitter;
use crate::schema::{EntityKey, Schema};
use crate::table::Table;
use crate::tenant::Binding;

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

/// A batch write cannot carry audit records, which must be written with their change.
fn refuse_audited<E: Schema>() -> Result<()> {
    if E::AUDITED {
        return Err(Error::InvalidRequest {
            entity: E::TYPE,
            reason: "a batch write cannot write audit records with its changes; write audited \
                     entities one by one or in a transaction"
                .into(),
        });
    }
    Ok(())
}

/// Writes of several entity types, sent as `BatchWriteItem` requests of up to 25.
///
/// ```ignore
/// let mut batch = BatchWrite::new(&table);
/// batch.put(&team)?.put(&member)?.delete::<Project>(project_key)?;
/// batch.send().await?;
/// ```
#[must_use = "a batch does nothing until `send()` is awaited"]
#[derive(Debug)]
pub struct BatchWrite<'t> {
    table: &'t Table,
    writes: Vec<Write>,
    effort: Effort,
    tenant: Binding,
}

/// One write of a batch, with what names it in errors. (A named type, not a tuple with a
/// `&'static str`: it keeps the futures that carry it `Send` for the compiler.)
#[derive(Debug)]
struct Write {
    entity: &'static str,
    key: ItemKey,
    request: WriteRequest,
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
            effort: Effort::default(),
            tenant: Binding::default(),
        }
    }

    /// The checks every write of `E` passes before it joins the batch.
    fn admit<E: Schema>(&mut self) -> Result<()> {
        crate::tenant::admit::<E>(self.table)?;
        refuse_audited::<E>()?;
        self.table.check_batch_writes::<E>()?;
        self.tenant.bind::<E>(self.table)
    }

    /// Puts `entity` (create or replace). Versioned and audited entities cannot be written in
    /// a batch and are refused; write them with `put` or in a [`Transaction`](crate::Transaction).
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

    /// Deletes the item at `key`. Audited entities are refused, as in [`put`](Self::put).
    pub fn delete<E: Schema>(&mut self, key: E::Key<'_>) -> Result<&mut Self> {
        self.admit::<E>()?;
        let key = key.item_key(self.table)?;
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
        self.writes.len()
    }

    /// Whether the batch holds no write.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
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
        let entity = self.writes.first().map_or("(batch)", |w| w.entity);
        self.tenant.check(entity, self.table)?;
        let mut seen = HashMap::with_capacity(self.writes.len());
        for Write { entity, key, .. } in &self.writes {
            if seen.insert(key, *entity).is_some() {
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
        let lefts: Vec<Left> = futures::stream::iter(chunks)
            .map(|chunk| write_chunk(table, chunk, effort))
            .buffer_unordered(effort.concurrency)
            .collect()
            .await;
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
        // A put or delete written twice leaves the same item: a retried lost reply is harmless.
        let sent = request::send(
            table,
            "BatchWriteItem",
            entity,
            |capacity| {
                client
                    .batch_write_item()
                    .request_items(table.name(), pending.clone())
                    .set_return_consumed_capacity(capacity)
            },
            |request| request.send(),
        )
        .await;
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
    let left_keys: std::collections::HashSet<ItemKey> = pending
        .iter()
        .filter_map(|w| written_key(w, table))
        .collect();
    Left {
        writes: names
            .into_iter()
            .filter(|(_, key)| left_keys.contains(key))
            .collect(),
        cause,
    }
}

fn written_key(write: &WriteRequest, table: &Table) -> Option<ItemKey> {
    let attributes = match (write.put_request(), write.delete_request()) {
        (Some(put), _) => put.item(),
        (_, Some(delete)) => delete.key(),
        _ => return None,
    };
    key_of(attributes, table)
}

fn key_of(attributes: &Item, table: &Table) -> Option<ItemKey> {
    let text = |name: &str| attributes.get(name).and_then(|v| v.as_s().ok()).cloned();
    Some(ItemKey {
        pk: text(table.partition_key())?,
        sk: text(table.sort_key())?,
    })
}

/// A typed slot of a [`BatchGet`]: hand it to [`BatchGot::take`] for the entity.
#[derive(Debug)]
pub struct Slot<E> {
    index: usize,
    entity: PhantomData<fn() -> E>,
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
        }
    }

    /// Adds the item of `E` at `key`; its entity comes back from [`BatchGot::take`].
    pub fn get<E: Schema>(&mut self, key: E::Key<'_>) -> Result<Slot<E>> {
        crate::tenant::admit::<E>(self.table)?;
        self.tenant.bind::<E>(self.table)?;
        let key = key.item_key(self.table)?;
        self.keys.push((E::TYPE, key));
        Ok(Slot {
            index: self.keys.len() - 1,
            entity: PhantomData,
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
        let results: Vec<(Vec<Item>, Vec<ItemKey>)> = futures::stream::iter(chunks)
            .map(|chunk| get_chunk(table, entity, chunk, effort))
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
    /// The entity of `slot`, or `None` when there is no item of `E` at its key;
    /// [`Error::Unprocessed`] when the key could not be read.
    pub fn take<E: Schema>(&mut self, slot: Slot<E>) -> Result<Option<E>> {
        let Some((_, key)) = self.keys.get(slot.index) else {
            return Ok(None);
        };
        if self.unprocessed.iter().any(|(_, k)| k == key) {
            return Err(Error::Unprocessed {
                operation: "BatchGetItem",
                items: vec![(E::TYPE, key.clone())],
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
        let Some(item) = item else { return Ok(None) };
        let now = crate::autogen::now().unix_timestamp();
        let gone =
            item::is_expired(&item, self.table, now) || (E::SOFT_DELETE && item::is_deleted(&item));
        let typed = item
            .get(TYPE_ATTRIBUTE)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            == Some(E::TYPE);
        if gone || !typed {
            return Ok(None);
        }
        item::decode(item, self.table).map(Some)
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
