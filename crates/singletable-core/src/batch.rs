//! Batch reads and writes across entity types: chunked to DynamoDB's limits (100 keys, 25
//! writes), chunks sent concurrently up to a bound, unprocessed keys and items retried with
//! exponential backoff and jitter. What is still unprocessed when the retries are spent is
//! reported by key in [`Error::Unprocessed`]; nothing is dropped silently.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::marker::PhantomData;
use std::time::Duration;

use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};
use futures::{StreamExt, TryStreamExt};

use crate::entity::{Entity, EntityKey};
use crate::error::{Error, ItemKey, Result};
use crate::item::{self, Item, TYPE_ATTRIBUTE};
use crate::table::Table;

const MAX_GET_KEYS: usize = 100;
const MAX_WRITES: usize = 25;

/// How hard a batch tries: concurrent requests and attempts per chunk.
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
            attempts: 8,
            base_delay: Duration::from_millis(25),
        }
    }
}

impl Effort {
    /// Exponential backoff with full jitter: a random wait below `base * 2^attempt`, capped at
    /// 5 s, so retries of concurrent chunks spread out.
    fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1 << attempt.min(16))
            .min(Duration::from_secs(5));
        full_jitter(ceiling)
    }
}

/// A batch write cannot carry audit records, which must be written with their change.
fn refuse_audited<E: Entity>() -> Result<()> {
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

/// A random wait below `ceiling`.
pub(crate) fn full_jitter(ceiling: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(0);
    let fraction = (hasher.finish() % 1000) as u32;
    ceiling * fraction / 1000
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
}

/// One write of a batch, with what names it in errors. (A named type, not a tuple with a
/// `&'static str`: it keeps the futures that carry it `Send` for the compiler.)
#[derive(Debug)]
struct Write {
    entity: &'static str,
    key: ItemKey,
    request: WriteRequest,
}

/// The writes DynamoDB had not done after the retries.
struct Left(Vec<(&'static str, ItemKey)>);

impl<'t> BatchWrite<'t> {
    /// An empty batch on `table`.
    pub fn new(table: &'t Table) -> Self {
        BatchWrite {
            table,
            writes: Vec::new(),
            effort: Effort::default(),
        }
    }

    /// Puts `entity` (create or replace). Versioned and audited entities cannot be written in
    /// a batch and are refused; write them with `put` or in a [`Transaction`](crate::Transaction).
    pub fn put<E: Entity>(&mut self, entity: &E) -> Result<&mut Self> {
        self.table.admit::<E>()?;
        refuse_audited::<E>()?;
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
    pub fn delete<E: Entity>(&mut self, key: E::Key<'_>) -> Result<&mut Self> {
        self.table.admit::<E>()?;
        refuse_audited::<E>()?;
        let key = key.item_key(self.table)?;
        self.delete_key::<E>(key)
    }

    /// Deletes the item of `E` stored at `key`.
    pub(crate) fn delete_key<E: Entity>(&mut self, key: ItemKey) -> Result<&mut Self> {
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

    /// Tries each chunk at most `attempts` times (default 8) before reporting what is left.
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
        crate::ops::sdk_error(self.table, "BatchWriteItem", entity, error)
    }

    /// Sends every write. Fails with [`Error::Unprocessed`] naming each write DynamoDB still
    /// had not done after the retries (the others are done).
    pub async fn send(self) -> Result<()> {
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
        let left: Vec<Left> = futures::stream::iter(chunks)
            .map(|chunk| write_chunk(table, chunk, effort))
            .buffer_unordered(effort.concurrency)
            .try_collect()
            .await?;
        let left: Vec<_> = left.into_iter().flat_map(|left| left.0).collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(Error::Unprocessed {
                operation: "BatchWriteItem",
                items: left,
            })
        }
    }
}

/// Sends one chunk until DynamoDB has done all of it or the attempts are spent; returns what
/// is left.
async fn write_chunk(table: &Table, chunk: Vec<Write>, effort: Effort) -> Result<Left> {
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
    for attempt in 0..effort.attempts {
        if attempt > 0 {
            tokio::time::sleep(effort.delay(attempt)).await;
        }
        let output = table
            .client()
            .batch_write_item()
            .request_items(table.name(), pending)
            .send()
            .await
            .map_err(|e| crate::ops::sdk_error(table, "BatchWriteItem", entity, e))?;
        pending = output
            .unprocessed_items
            .and_then(|mut left| left.remove(table.name()))
            .unwrap_or_default();
        if pending.is_empty() {
            return Ok(Left(Vec::new()));
        }
    }
    // Name exactly the writes that are left, by their keys.
    let left_keys: Vec<ItemKey> = pending
        .iter()
        .filter_map(|w| written_key(w, table))
        .collect();
    Ok(Left(
        names
            .into_iter()
            .filter(|(_, key)| left_keys.contains(key))
            .collect(),
    ))
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
}

/// The items a [`BatchGet`] read, by slot.
#[derive(Debug)]
pub struct BatchGot<'t> {
    table: &'t Table,
    keys: Vec<(&'static str, ItemKey)>,
    items: HashMap<ItemKey, Item>,
}

impl<'t> BatchGet<'t> {
    /// An empty batch on `table`.
    pub fn new(table: &'t Table) -> Self {
        BatchGet {
            table,
            keys: Vec::new(),
            effort: Effort::default(),
        }
    }

    /// Adds the item of `E` at `key`; its entity comes back from [`BatchGot::take`].
    pub fn get<E: Entity>(&mut self, key: E::Key<'_>) -> Result<Slot<E>> {
        self.table.admit::<E>()?;
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

    /// Tries each chunk at most `attempts` times (default 8) before reporting what is left.
    pub fn max_attempts(&mut self, attempts: u32) -> &mut Self {
        self.effort.attempts = attempts.max(1);
        self
    }

    /// Reads every key (each distinct key once). Fails with [`Error::Unprocessed`] naming each
    /// key DynamoDB still had not read after the retries.
    pub async fn send(self) -> Result<BatchGot<'t>> {
        let (table, effort) = (self.table, self.effort);
        let mut distinct: Vec<ItemKey> = Vec::with_capacity(self.keys.len());
        let mut seen = std::collections::HashSet::with_capacity(self.keys.len());
        for (_, key) in &self.keys {
            if seen.insert(key) {
                distinct.push(key.clone());
            }
        }
        let entity = self.keys.first().map_or("(batch)", |(entity, _)| entity);
        let chunks: Vec<Vec<ItemKey>> = distinct
            .chunks(MAX_GET_KEYS)
            .map(<[ItemKey]>::to_vec)
            .collect();
        let results: Vec<(Vec<Item>, Vec<ItemKey>)> = futures::stream::iter(chunks)
            .map(|chunk| get_chunk(table, entity, chunk, effort))
            .buffer_unordered(effort.concurrency)
            .try_collect()
            .await?;
        let mut items = HashMap::with_capacity(distinct.len());
        let mut left = Vec::new();
        for (found, missing) in results {
            for item in found {
                if let Some(key) = key_of(&item, table) {
                    items.insert(key, item);
                }
            }
            left.extend(missing);
        }
        if !left.is_empty() {
            let items = self
                .keys
                .into_iter()
                .filter(|(_, key)| left.contains(key))
                .collect();
            return Err(Error::Unprocessed {
                operation: "BatchGetItem",
                items,
            });
        }
        Ok(BatchGot {
            table,
            keys: self.keys,
            items,
        })
    }
}

impl BatchGot<'_> {
    /// The entity of `slot`, or `None` when there is no item at its key.
    pub fn take<E: Entity>(&mut self, slot: Slot<E>) -> Result<Option<E>> {
        let Some((_, key)) = self.keys.get(slot.index) else {
            return Ok(None);
        };
        // A key asked for twice is read once: the second taker decodes a copy.
        let repeated = self.keys.iter().filter(|(_, k)| k == key).count() > 1;
        let item = if repeated {
            self.items.get(key).cloned()
        } else {
            self.items.remove(key)
        };
        let Some(item) = item else { return Ok(None) };
        if item
            .get(TYPE_ATTRIBUTE)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            != Some(E::TYPE)
        {
            return Ok(None);
        }
        item::decode(item, self.table).map(Some)
    }
}

/// Reads one chunk of keys until all are read or the attempts are spent; returns the items and
/// the keys left.
async fn get_chunk(
    table: &Table,
    entity: &'static str,
    chunk: Vec<ItemKey>,
    effort: Effort,
) -> Result<(Vec<Item>, Vec<ItemKey>)> {
    let mut found = Vec::with_capacity(chunk.len());
    let mut pending: Vec<Item> = chunk
        .into_iter()
        .map(|key| item::key_item(key, table))
        .collect();
    for attempt in 0..effort.attempts {
        if attempt > 0 {
            tokio::time::sleep(effort.delay(attempt)).await;
        }
        let keys = KeysAndAttributes::builder()
            .set_keys(Some(pending))
            .build()
            .map_err(|e| crate::ops::sdk_error(table, "BatchGetItem", entity, e))?;
        let output = table
            .client()
            .batch_get_item()
            .request_items(table.name(), keys)
            .send()
            .await
            .map_err(|e| crate::ops::sdk_error(table, "BatchGetItem", entity, e))?;
        if let Some(mut responses) = output.responses {
            found.extend(responses.remove(table.name()).unwrap_or_default());
        }
        pending = output
            .unprocessed_keys
            .and_then(|mut left| left.remove(table.name()))
            .map(|keys| keys.keys)
            .unwrap_or_default();
        if pending.is_empty() {
            return Ok((found, Vec::new()));
        }
    }
    let left = pending
        .iter()
        .filter_map(|key| key_of(key, table))
        .collect();
    Ok((found, left))
}
