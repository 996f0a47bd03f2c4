//! Request coalescing: a [`Loader`] gathers the `get`s that tasks issue at about the same time
//! into `BatchGetItem` requests, read through the chunks and retries of the batch path
//! (`batch::read_keys`), and answers each caller as [`Entity::get`](crate::Entity::get) would.
//!
//! How a get travels: the caller renders its key in its own tenant scope and joins the batch
//! that already waits for that key, or else the open batch (a map from key to the callers
//! waiting for it). The first caller of a batch starts the batch's task, which seals the batch
//! after a scheduler turn in which nobody joined it (or after the configured window); a batch
//! that reaches 100 distinct keys is sealed at once. A sealed batch still takes callers of its
//! keys until it has a request slot; then it sends its keys and hands each caller the raw item of
//! its key. The caller decodes the item in its own task, through the visibility rules of `get`
//! (`ops::get::visible`), so that tenant checks run in the caller's scope.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{oneshot, Notify, Semaphore};
use tracing::Instrument;

use crate::batch;
use crate::error::{Error, ItemKey, Result};
use crate::item::{self, Item};
use crate::ops::get::visible;
use crate::schema::{EntityKey, Schema};
use crate::table::Table;

/// DynamoDB's limit of keys in one `BatchGetItem` request.
const MAX_KEYS: usize = 100;

/// Turns the `get`s that many tasks issue at about the same time into `BatchGetItem` requests
/// of up to 100 keys.
///
/// A `get` through the loader returns what [`Entity::get`](crate::Entity::get) returns for the
/// same key, item for item: `None` for a missing or expired item, and for a soft-deleted one of
/// a `soft_delete` entity; the same error for an item of another type at the key; the same tenant
/// checks, in the caller's tenant scope (the key is rendered in the caller's task, and the item is
/// decoded there). Gets of several entity types and tenants share requests; a key asked for by
/// several callers is read once and each gets its own copy. Reads are eventually consistent, as
/// `get`'s are.
///
/// Gets are gathered until a scheduler turn passes in which no new get joined (the default), or
/// for a fixed [`window`](LoaderBuilder::window) after the first one; a batch that reaches 100
/// distinct keys is sealed at once. A scheduler turn suits gets issued together by one task
/// (`join_all` over a page's keys). Gets from many tasks on a multi-threaded runtime arrive
/// spread over time, and a turn may pass between two of them: give those a window (a
/// millisecond or two) to share requests.
///
/// ```no_run
/// # use singletable_core::{Loader, Result, Schema, Table};
/// # async fn members<Member: Schema>(table: &Table, keys: Vec<Member::Key<'_>>) -> Result<()> {
/// let loader = Loader::new(table);
/// // Fifty ordinary gets, sent as one BatchGetItem request.
/// let members: Vec<Option<Member>> =
///     futures::future::try_join_all(keys.into_iter().map(|key| loader.get::<Member>(key)))
///         .await?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// A key still unprocessed after the batch path's retries, or in a request that failed, is
/// [`Error::Unprocessed`] for its caller, naming the caller's entity and key; the other callers of
/// the batch get their items. Errors found before joining a batch ([`Error::InvalidKey`],
/// [`Error::MissingTenant`]) come back before any request.
///
/// # Bounds and backpressure
///
/// At most [`concurrency`](LoaderBuilder::concurrency) requests are in flight (default 8); a
/// sealed batch waits for a slot. At most [`max_waiting`](LoaderBuilder::max_waiting) gets
/// (default 10,000) are waiting for an answer; a get beyond that waits, before it joins a batch,
/// until an answered batch frees places, so the loader's memory stays bounded however fast gets
/// arrive (also when their callers give up on them).
///
/// # Tasks, cancellation and dropping
///
/// The loader is a value, cheap to clone (clones share their batches), `Send + Sync`; it holds no
/// global state. Each batch runs in a tokio task of its own, spawned on the runtime of the get
/// that opened it: a get outside a tokio runtime fails with [`Error::InvalidRequest`]. A get whose
/// future is dropped leaves the others of its batch alone; a key that no caller waits for any
/// more is not read. Dropping the loader stops nothing: batches already open are still sent and
/// answered, and no task outlives its batch.
#[derive(Clone)]
pub struct Loader {
    shared: Arc<Shared>,
}

/// The settings of a [`Loader`]: `Loader::builder(&table).window(..).build()`.
#[derive(Debug)]
#[must_use = "a builder does nothing until `build()` is called"]
pub struct LoaderBuilder {
    table: Table,
    window: Option<Duration>,
    concurrency: usize,
    max_waiting: usize,
    attempts: u32,
}

/// What a loader and its batch tasks share.
struct Shared {
    table: Table,
    window: Option<Duration>,
    concurrency: usize,
    max_waiting: usize,
    attempts: u32,
    /// One permit per request in flight.
    requests: Semaphore,
    /// One permit per get waiting for its answer.
    waiting: Semaphore,
    batches: Mutex<Batches>,
}

/// The batches not yet sent, and which of them each of their keys is in.
#[derive(Default)]
struct Batches {
    /// The number of the next batch.
    next: u64,
    /// The batch that new keys join.
    open: Option<Batch>,
    /// Sealed batches, waiting for a request slot.
    queued: HashMap<u64, Batch>,
    /// The batch of every key of `open` and `queued`: a key asked for again before its request
    /// is sent joins that batch.
    unsent: HashMap<ItemKey, u64>,
}

/// A batch not yet sent: each distinct key, with the callers waiting for it.
struct Batch {
    id: u64,
    /// The entity type of the first get: what the request's span names.
    entity: &'static str,
    keys: HashMap<ItemKey, Vec<oneshot::Sender<Answer>>>,
    waiters: usize,
    /// Wakes the batch's task from its window when the batch is full.
    full: Arc<Notify>,
}

/// What a batch hands one caller.
enum Answer {
    /// The item stored at the caller's key, as read (`None`: there is none).
    Read(Option<Item>),
    /// The key was not read after the retries.
    Unprocessed,
}

impl Loader {
    /// A loader on `table` with the default settings (see [`LoaderBuilder`]).
    pub fn new(table: &Table) -> Loader {
        Loader::builder(table).build()
    }

    /// Starts the settings of a loader on `table`.
    pub fn builder(table: &Table) -> LoaderBuilder {
        LoaderBuilder {
            table: table.clone(),
            window: None,
            concurrency: 8,
            max_waiting: 10_000,
            attempts: 10,
        }
    }

    /// The table the loader reads.
    pub fn table(&self) -> &Table {
        &self.shared.table
    }

    /// Reads the item of `E` at `key`, or `None`, as [`Entity::get`](crate::Entity::get) does,
    /// in a `BatchGetItem` request shared with the other gets of the moment.
    ///
    /// The key is rendered when the future is first polled, in the tenant scope of the task
    /// polling it.
    pub async fn get<E: Schema>(&self, key: E::Key<'_>) -> Result<Option<E>> {
        let shared = &self.shared;
        let table = &shared.table;
        crate::tenant::admit::<E>(table)?;
        let key = key.item_key(table)?;
        let stopped = |reason: &str| Error::InvalidRequest {
            entity: E::TYPE,
            reason: reason.to_owned(),
        };
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            stopped("a Loader runs its batches on a tokio runtime, and there is none")
        })?;
        // Without waiting while there are places: an await on a tokio resource spends the task's
        // cooperative budget, and a task that issues many gets at once (`join_all`) would be
        // sent back to the scheduler before all of them joined the batch.
        let place = match shared.waiting.try_acquire() {
            Ok(place) => place,
            Err(_) => shared
                .waiting
                .acquire()
                .await
                .map_err(|_| stopped("the loader is closed"))?,
        };
        // The batch gives the place back once it has answered.
        place.forget();
        let answer = shared.join(E::TYPE, key.clone(), &runtime);
        // Outside the budget for the same reason. The answer comes from the batch's task, after
        // this task has waited for it, so this await cannot keep the task from yielding.
        match tokio::task::unconstrained(answer).await {
            Ok(Answer::Read(item)) => {
                let now = crate::autogen::now().unix_timestamp();
                visible(item, table, false, now)
            }
            // A batch task that ended without answering (its runtime shut down) read nothing.
            Ok(Answer::Unprocessed) | Err(_) => Err(Error::Unprocessed {
                operation: "BatchGetItem",
                items: vec![(E::TYPE, key)],
                cause: None,
            }),
        }
    }
}

impl fmt::Debug for Loader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        f.debug_struct("Loader")
            .field("table", &shared.table.name())
            .field("window", &shared.window)
            .field("concurrency", &shared.concurrency)
            .field("max_waiting", &shared.max_waiting)
            .field("max_attempts", &shared.attempts)
            .finish_non_exhaustive()
    }
}

impl LoaderBuilder {
    /// Gathers gets for `window` after the first get of a batch, instead of until a scheduler
    /// turn passes with no new get: fewer, fuller requests when gets arrive spread out in time,
    /// for up to `window` more latency. (The runtime needs its time driver.)
    pub fn window(mut self, window: Duration) -> Self {
        self.window = Some(window);
        self
    }

    /// Sends at most `requests` requests at once (default 8; at least 1).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests.max(1);
        self
    }

    /// Lets at most `gets` gets wait for an answer (default 10,000; at least 1); a get beyond
    /// that waits for a place before it joins a batch.
    pub fn max_waiting(mut self, gets: usize) -> Self {
        self.max_waiting = gets.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// Reports a batch's keys as unprocessed after `attempts` rounds in a row (default 10) in
    /// which DynamoDB read none of them, as [`BatchGet::max_attempts`](crate::BatchGet::max_attempts).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The loader.
    pub fn build(self) -> Loader {
        Loader {
            shared: Arc::new(Shared {
                requests: Semaphore::new(self.concurrency),
                waiting: Semaphore::new(self.max_waiting),
                table: self.table,
                window: self.window,
                concurrency: self.concurrency,
                max_waiting: self.max_waiting,
                attempts: self.attempts,
                batches: Mutex::default(),
            }),
        }
    }
}

impl Batches {
    fn get_mut(&mut self, id: u64) -> Option<&mut Batch> {
        if self.open.as_ref().is_some_and(|open| open.id == id) {
            self.open.as_mut()
        } else {
            self.queued.get_mut(&id)
        }
    }

    /// Moves batch `id` from open to queued, if it is still open.
    fn seal(&mut self, id: u64) {
        if self.open.as_ref().is_some_and(|open| open.id == id) {
            if let Some(batch) = self.open.take() {
                self.queued.insert(id, batch);
            }
        }
    }

    /// Takes batch `id` out, wherever it is, to be sent (or dropped).
    fn remove(&mut self, id: u64) -> Option<Batch> {
        let batch = if self.open.as_ref().is_some_and(|open| open.id == id) {
            self.open.take()
        } else {
            self.queued.remove(&id)
        }?;
        for key in batch.keys.keys() {
            self.unsent.remove(key);
        }
        Some(batch)
    }
}

impl Shared {
    fn batches(&self) -> std::sync::MutexGuard<'_, Batches> {
        self.batches.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the caller of `key` to the batch that waits for the key, or else to the open batch
    /// (opening one, and starting its task, when there is none), which is sealed when full.
    /// Returns where the answer comes.
    fn join(
        self: &Arc<Self>,
        entity: &'static str,
        key: ItemKey,
        runtime: &tokio::runtime::Handle,
    ) -> oneshot::Receiver<Answer> {
        let (reply, answer) = oneshot::channel();
        let mut batches = self.batches();
        let unsent = batches.unsent.get(&key).copied();
        if let Some(batch) = unsent.and_then(|id| batches.get_mut(id)) {
            batch.keys.entry(key).or_default().push(reply);
            batch.waiters += 1;
            return answer;
        }
        let mut opened = None;
        let id = batches.next;
        let batch = batches.open.get_or_insert_with(|| {
            let full = Arc::new(Notify::new());
            opened = Some(Arc::clone(&full));
            Batch {
                id,
                entity,
                keys: HashMap::with_capacity(MAX_KEYS),
                waiters: 0,
                full,
            }
        });
        batch.keys.insert(key.clone(), vec![reply]);
        batch.waiters += 1;
        let id = batch.id;
        let full = (batch.keys.len() >= MAX_KEYS).then(|| Arc::clone(&batch.full));
        batches.unsent.insert(key, id);
        if opened.is_some() {
            batches.next += 1;
        }
        if let Some(full) = full {
            batches.seal(id);
            full.notify_one();
        }
        drop(batches);
        if let Some(full) = opened {
            runtime.spawn(Arc::clone(self).run(id, full));
        }
        answer
    }

    /// The task of batch `id`: gathers it, waits for a request slot, reads its keys in one
    /// request and answers every caller still waiting.
    async fn run(self: Arc<Self>, id: u64, full: Arc<Notify>) {
        // Should the task end early (its runtime shuts down), the batch's callers are told.
        let _abandon = Abandon { shared: &self, id };
        match self.window {
            Some(window) => {
                let elapsed = std::pin::pin!(tokio::time::sleep(window));
                let filled = std::pin::pin!(full.notified());
                futures::future::select(elapsed, filled).await;
            }
            None => {
                // Until a turn of the scheduler passes in which nobody joined.
                let mut seen = 1;
                loop {
                    tokio::task::yield_now().await;
                    let open = self.batches().open.as_ref().map(|b| (b.id, b.waiters));
                    match open {
                        Some((open, waiters)) if open == id && waiters > seen => seen = waiters,
                        _ => break,
                    }
                }
            }
        }
        self.batches().seal(id);
        let Ok(slot) = self.requests.acquire().await else {
            return;
        };
        let Some(batch) = self.batches().remove(id) else {
            return;
        };
        let Batch {
            entity,
            mut keys,
            waiters,
            ..
        } = batch;
        let _places = Places {
            waiting: &self.waiting,
            count: waiters,
        };
        // A key that no caller waits for any more is not read.
        keys.retain(|_, replies| {
            replies.retain(|reply| !reply.is_closed());
            !replies.is_empty()
        });
        if keys.is_empty() {
            return;
        }
        let listening: usize = keys.values().map(Vec::len).sum();
        let span = tracing::debug_span!(
            "loader",
            table = self.table.name(),
            entity,
            keys = keys.len(),
            waiters = listening,
        );
        let wanted: Vec<ItemKey> = keys.keys().cloned().collect();
        let (found, left) = batch::read_keys(&self.table, entity, wanted, false, 1, self.attempts)
            .instrument(span)
            .await;
        drop(slot);
        for found in found {
            if let Some(replies) = keys.remove(&item::item_key_of(&found, &self.table)) {
                answer(replies, Some(found));
            }
        }
        for key in left {
            for reply in keys.remove(&key).into_iter().flatten() {
                let _ = reply.send(Answer::Unprocessed);
            }
        }
        for (_, replies) in keys {
            answer(replies, None);
        }
    }
}

/// Hands `item` to every caller of one key: a copy to each but the last, which takes it.
fn answer(mut replies: Vec<oneshot::Sender<Answer>>, item: Option<Item>) {
    let last = replies.pop();
    for reply in replies {
        // A caller that gave up has dropped its end: nothing to do.
        let _ = reply.send(Answer::Read(item.clone()));
    }
    if let Some(last) = last {
        let _ = last.send(Answer::Read(item));
    }
}

/// Drops batch `id`, if its task ends before taking it out, so that its callers are answered
/// (with [`Error::Unprocessed`]) rather than left waiting, and gives their places back.
struct Abandon<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        let batch = self.shared.batches().remove(self.id);
        if let Some(batch) = batch {
            self.shared.waiting.add_permits(batch.waiters);
        }
    }
}

/// The places of a batch's callers among the waiting gets, given back when dropped.
struct Places<'a> {
    waiting: &'a Semaphore,
    count: usize,
}

impl Drop for Places<'_> {
    fn drop(&mut self) {
        self.waiting.add_permits(self.count);
    }
}
