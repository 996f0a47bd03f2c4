//! Change feeds: the table's DynamoDB stream, or the records Lambda delivers from it, decoded
//! into the typed entity enum of a [`TableSchema`].
//!
//! Each record becomes a [`ChangeEvent`]: what happened to the item ([`ChangeAction`], with soft
//! deletes and restores told apart from updates by the `_deleted_at` mark appearing or
//! disappearing), its key, its tenant, and its old and new images decoded into the schema's
//! enum. An item of a type outside the schema (an audit record, a unique-value guard, another
//! writer's item) is an event too, with its `_type` and raw images and no decoded ones, so that
//! a consumer neither loses it nor stops at it.
//!
//! A stream holds every tenant's items, so reading or decoding it is cross-tenant work: when an
//! entity of the schema is tenant-scoped, it runs inside
//! [`tenant::across_tenants`] and each item is decoded in the
//! scope of the tenant its key names (so an item whose tenant field says otherwise is refused
//! with [`Error::TenantMismatch`]). Anywhere else it is refused with [`Error::InvalidRequest`]
//! before any request.
//!
//! [`ChangeFeed`] reads a stream through the DynamoDB Streams API: its [`ChangeReader`] goes over
//! every shard, parents before children so that the events of one item come in the order they
//! were written, one `GetRecords` page at a time, and keeps a [`Checkpoint`] (serde) of what it
//! handed out, from which a new reader resumes with no loss and no repeat. One consumer per shard
//! lists the [`Shard`]s and reads one each. [`LambdaStreamEvent`] decodes the event a Lambda
//! function receives from a DynamoDB stream trigger.
//!
//! ```no_run
//! use singletable_core::{tenant, ChangeAction, ChangeFeed, Checkpoint, Result, Table, TableSchema};
//!
//! # async fn run<AppItem: TableSchema + std::fmt::Debug>(
//! #     table: &Table,
//! #     streams: &aws_sdk_dynamodbstreams::Client,
//! # ) -> Result<()> {
//! // Once: `table.create_table_with_stream()` or `table.enable_stream()`.
//! let arn = table.stream_arn().await?.expect("the table's stream is on");
//! // `streams` is made from the application's AWS configuration, as the table's client is:
//! // `aws_sdk_dynamodbstreams::Client::new(&sdk_config)`.
//! let feed = ChangeFeed::<AppItem>::new(table, streams, arn);
//! let mut reader = feed.read(Checkpoint::new());
//! tenant::across_tenants("search index sync", async {
//!     while let Some(event) = reader.next().await? {
//!         match (event.action, &event.new) {
//!             (ChangeAction::Deleted, _) => println!("{} removed", event.key),
//!             (_, Some(item)) => println!("{:?} now {item:?}", event.action),
//!             (_, None) => println!("{:?} of a {:?}", event.action, event.entity_type),
//!         }
//!     }
//!     Ok::<_, singletable_core::Error>(())
//! })
//! .await?;
//! let saved = serde_json::to_string(reader.checkpoint()).expect("a checkpoint serializes");
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::marker::PhantomData;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodbstreams as streams;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, ItemKey, Result};
use crate::item::{Item, DELETED_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::request;
use crate::table::{Table, TenantId};
use crate::table_schema::TableSchema;
use crate::tenant;

/// The principal DynamoDB names on the removal of an expired item.
const TTL_PRINCIPAL: &str = "dynamodb.amazonaws.com";

/// What a write did to an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeAction {
    /// The item was written where there was none (`INSERT`).
    Created,
    /// The item was changed (`MODIFY`), neither soft-deleted nor restored by the change.
    Updated,
    /// The item was removed (`REMOVE`): purged, deleted, or expired (see
    /// [`ChangeEvent::expired`]).
    Deleted,
    /// The item was marked deleted: `_deleted_at` appeared (`MODIFY`).
    SoftDeleted,
    /// A soft-deleted item was brought back: `_deleted_at` disappeared (`MODIFY`).
    Restored,
}

/// One change of one item, decoded into the table schema `S`.
///
/// An item of an entity of `S` has its images decoded (`old` for updates and removals, `new` for
/// creations and updates). An item of a type outside `S` has none: [`is_entity`] is false and
/// `entity_type`, `old_image` and `new_image` tell what it is.
///
/// ```no_run
/// # use singletable_core::{ChangeAction, ChangeEvent, TableSchema};
/// # fn handle<AppItem: TableSchema + std::fmt::Debug>(event: ChangeEvent<AppItem>) {
/// if !event.is_entity() {
///     println!("{:?} of a `{:?}` at {}", event.action, event.entity_type, event.key);
/// } else if event.action == ChangeAction::SoftDeleted {
///     println!("{:?} went to the trash", event.old);
/// }
/// # }
/// ```
///
/// [`is_entity`]: ChangeEvent::is_entity
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ChangeEvent<S> {
    /// What the write did.
    pub action: ChangeAction,
    /// The item's key.
    pub key: ItemKey,
    /// The item's `_type` (of the new image, else of the old one); `None` when it has none.
    pub entity_type: Option<String>,
    /// The tenant whose key space holds the item, for an entity of `S` that is tenant-scoped.
    pub tenant: Option<TenantId>,
    /// The item before the write, decoded; `None` for a creation or an item outside `S`.
    pub old: Option<S>,
    /// The item after the write, decoded; `None` for a removal or an item outside `S`.
    pub new: Option<S>,
    /// The item before the write as stored, internal attributes included.
    pub old_image: Option<Item>,
    /// The item after the write as stored, internal attributes included.
    pub new_image: Option<Item>,
    /// The record's sequence number in its shard.
    pub sequence_number: String,
    /// When the write was made, to the second or so (the stream's approximate creation time).
    pub created_at: Option<OffsetDateTime>,
    /// Whether DynamoDB removed the item because its time to live passed.
    pub expired: bool,
}

impl<S: TableSchema> ChangeEvent<S> {
    /// Whether the item is of an entity of `S` (its `_type` is one of `S::TYPES`).
    pub fn is_entity(&self) -> bool {
        self.entity_type
            .as_deref()
            .is_some_and(|found| S::TYPES.contains(&found))
    }

    /// Decodes a record read from the DynamoDB Streams API (by [`ChangeReader`], or by a
    /// reader of one's own). It runs inside
    /// [`tenant::across_tenants`] when an entity of `S` is
    /// tenant-scoped.
    ///
    /// ```no_run
    /// # use singletable_core::{tenant, ChangeEvent, Result, Table, TableSchema};
    /// # async fn run<AppItem: TableSchema>(
    /// #     table: &Table,
    /// #     page: aws_sdk_dynamodbstreams::operation::get_records::GetRecordsOutput,
    /// # ) -> Result<()> {
    /// tenant::across_tenants("replication", async {
    ///     for record in page.records.unwrap_or_default() {
    ///         let event = ChangeEvent::<AppItem>::from_stream_record(record, table)?;
    ///     }
    ///     Ok::<_, singletable_core::Error>(())
    /// })
    /// .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_stream_record(record: streams::types::Record, table: &Table) -> Result<Self> {
        admit::<S>(table)?;
        decode(Raw::from_stream::<S>(record, table)?, table)
    }
}

/// A shard of a stream, as `DescribeStream` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    id: String,
    parent: Option<String>,
    closed: bool,
}

impl Shard {
    /// The shard's ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The shard it continues, whose records come first; `None` for a first shard or one whose
    /// parent is no longer in the stream.
    pub fn parent_id(&self) -> Option<&str> {
        self.parent.as_deref()
    }

    /// Whether the shard takes no more records (it has an ending sequence number); its records
    /// can still be read until they are trimmed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

/// How far a consumer has read a stream: per shard, the sequence number of the last record
/// handed out, and which shards were read to their end. It serializes with serde, so that a
/// consumer that stops resumes where it was with no loss and no repeat.
///
/// ```no_run
/// # use singletable_core::{ChangeFeed, Checkpoint, TableSchema};
/// # fn run<AppItem: TableSchema>(feed: &ChangeFeed<'_, AppItem>, saved: &str) {
/// let checkpoint: Checkpoint = serde_json::from_str(saved).expect("a saved checkpoint");
/// let reader = feed.read(checkpoint);
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The ARN of the stream, set when a reader first uses the checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stream: Option<String>,
    #[serde(default)]
    shards: BTreeMap<String, Position>,
}

/// Where a shard was left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Position {
    /// After the record with this sequence number.
    After(String),
    /// Read to its end.
    Finished,
}

impl Checkpoint {
    /// The start of the stream: every shard from its oldest record.
    pub fn new() -> Self {
        Checkpoint::default()
    }

    /// The ARN of the stream the checkpoint was used on, once a reader used it.
    pub fn stream_arn(&self) -> Option<&str> {
        self.stream.as_deref()
    }

    /// The sequence number of the last record handed out from `shard`, if any.
    pub fn last_sequence_number(&self, shard: &str) -> Option<&str> {
        match self.shards.get(shard)? {
            Position::After(sequence) => Some(sequence),
            Position::Finished => None,
        }
    }

    /// Whether `shard` was read to its end.
    pub fn is_finished(&self, shard: &str) -> bool {
        self.shards.get(shard) == Some(&Position::Finished)
    }

    fn handed_out(&mut self, shard: &str, sequence: &str) {
        self.shards
            .insert(shard.to_owned(), Position::After(sequence.to_owned()));
    }

    fn finish(&mut self, shard: &str) {
        self.shards.insert(shard.to_owned(), Position::Finished);
    }
}

/// The stream of a table, read through the DynamoDB Streams API and decoded into the table
/// schema `S`.
///
/// Its requests go through the table's request layer: each has a tracing span, and throttling
/// and 5xx answers are retried under the table's [`RetryPolicy`](crate::RetryPolicy) (the
/// client's own retries are turned off, as the table's are).
///
/// ```no_run
/// # use singletable_core::{tenant, ChangeFeed, Checkpoint, Result, Table, TableSchema};
/// # async fn run<AppItem: TableSchema>(
/// #     table: &Table,
/// #     streams: &aws_sdk_dynamodbstreams::Client,
/// #     arn: String,
/// # ) -> Result<()> {
/// let feed = ChangeFeed::<AppItem>::new(table, streams, arn);
/// // One consumer per shard: each reads one, parents before their children.
/// for shard in feed.shards().await? {
///     let mut reader = feed.read_shard(shard.id(), Checkpoint::new());
///     tenant::across_tenants("shard consumer", async {
///         while let Some(event) = reader.next().await? {}
///         Ok::<_, singletable_core::Error>(())
///     })
///     .await?;
/// }
/// # Ok(())
/// # }
/// ```
pub struct ChangeFeed<'t, S> {
    table: &'t Table,
    client: streams::Client,
    stream: String,
    schema: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for ChangeFeed<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("table", &self.table.name())
            .field("stream", &self.stream)
            .finish()
    }
}

impl<'t, S: TableSchema> ChangeFeed<'t, S> {
    /// The feed of the stream `stream_arn` (see [`Table::stream_arn`]) of `table`, read with
    /// `client` (made from the application's AWS configuration:
    /// `aws_sdk_dynamodbstreams::Client::new(&sdk_config)`).
    pub fn new(table: &'t Table, client: &streams::Client, stream_arn: impl Into<String>) -> Self {
        // The table's policy retries; the SDK's retries underneath would multiply attempts.
        let config = client
            .config()
            .to_builder()
            .retry_config(streams::config::retry::RetryConfig::disabled())
            .build();
        ChangeFeed {
            table,
            client: streams::Client::from_conf(config),
            stream: stream_arn.into(),
            schema: PhantomData,
        }
    }

    /// The stream's ARN.
    pub fn stream_arn(&self) -> &str {
        &self.stream
    }

    /// The stream's shards, every page of `DescribeStream`, parents before their children.
    pub async fn shards(&self) -> Result<Vec<Shard>> {
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let sent = request::send(
                self.table,
                "DescribeStream",
                S::NAME,
                |_| {
                    self.client
                        .describe_stream()
                        .stream_arn(&self.stream)
                        .set_exclusive_start_shard_id(start.clone())
                },
                |request| request.send(),
            )
            .await;
            let output = sent
                .result
                .map_err(|e| stream_error(&self.stream, "DescribeStream", None, e))?;
            let Some(description) = output.stream_description else {
                break;
            };
            shards.extend(
                description
                    .shards
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|shard| {
                        Some(Shard {
                            id: shard.shard_id?,
                            parent: shard.parent_shard_id,
                            closed: shard
                                .sequence_number_range
                                .is_some_and(|range| range.ending_sequence_number.is_some()),
                        })
                    }),
            );
            start = description.last_evaluated_shard_id;
            if start.is_none() {
                break;
            }
        }
        Ok(parents_first(shards))
    }

    /// A reader of every shard of the stream, from `checkpoint` on.
    pub fn read(&self, checkpoint: Checkpoint) -> ChangeReader<'t, S> {
        ChangeReader::new(self, None, checkpoint)
    }

    /// A reader of the one shard `shard` (an ID from [`shards`](Self::shards)), from
    /// `checkpoint` on, for one consumer per shard. Its children are left to their consumers,
    /// which should start once [`Checkpoint::is_finished`] says this shard is done.
    pub fn read_shard(
        &self,
        shard: impl Into<String>,
        checkpoint: Checkpoint,
    ) -> ChangeReader<'t, S> {
        ChangeReader::new(self, Some(shard.into()), checkpoint)
    }
}

/// Reads a [`ChangeFeed`] one `GetRecords` page at a time: [`next`](Self::next) hands out one
/// event at a time and records it in the [`checkpoint`](Self::checkpoint).
///
/// `next` returns `None` once the reader is caught up: every shard it reads was read to its end
/// or answered an empty page. Calling it again later reads what was written since. An expired
/// shard iterator is replaced from the checkpoint. A record that does not decode is handed out
/// as an error (and counted as handed out); keep the checkpoint from before `next` to read it
/// again. A checkpoint's position in a shard that the stream has trimmed (after 24 hours) is
/// dropped with a warning.
///
/// ```no_run
/// # use singletable_core::{tenant, ChangeFeed, Checkpoint, Result, TableSchema};
/// # async fn run<AppItem: TableSchema>(feed: &ChangeFeed<'_, AppItem>) -> Result<()> {
/// let mut reader = feed.read(Checkpoint::new()).page_size(100);
/// tenant::across_tenants("audit export", async {
///     while let Some(event) = reader.next().await? {
///         // Handle the event, then save `reader.checkpoint()` as often as suits.
///     }
///     Ok::<_, singletable_core::Error>(())
/// })
/// .await?;
/// # Ok(())
/// # }
/// ```
pub struct ChangeReader<'t, S> {
    table: &'t Table,
    client: streams::Client,
    stream: String,
    /// The one shard read, for a consumer of one shard.
    only: Option<String>,
    checkpoint: Checkpoint,
    limit: Option<i32>,
    /// The shards of this pass, parents first; `None` until listed.
    shards: Option<Vec<Shard>>,
    /// The shard being read, in `shards`.
    at: usize,
    /// Whether a shard was read to its end in this pass, so that its children are listed.
    closed_in_pass: bool,
    iterators: HashMap<String, String>,
    /// The records of the last page of `shards[at]` not yet handed out.
    page: VecDeque<streams::types::Record>,
    /// Whether the page is the last of its shard.
    page_ends_shard: bool,
    schema: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for ChangeReader<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeReader")
            .field("table", &self.table.name())
            .field("stream", &self.stream)
            .field("shard", &self.only)
            .field("checkpoint", &self.checkpoint)
            .finish()
    }
}

/// What one `GetRecords` gave.
struct Fetched {
    records: Vec<streams::types::Record>,
    /// Whether the shard has records after these (it has a next iterator).
    more: bool,
}

impl<'t, S: TableSchema> ChangeReader<'t, S> {
    fn new(feed: &ChangeFeed<'t, S>, only: Option<String>, checkpoint: Checkpoint) -> Self {
        let shards = only.as_ref().map(|id| {
            vec![Shard {
                id: id.clone(),
                parent: None,
                closed: false,
            }]
        });
        ChangeReader {
            table: feed.table,
            client: feed.client.clone(),
            stream: feed.stream.clone(),
            only,
            checkpoint,
            limit: None,
            shards,
            at: 0,
            closed_in_pass: false,
            iterators: HashMap::new(),
            page: VecDeque::new(),
            page_ends_shard: false,
            schema: PhantomData,
        }
    }

    /// Reads at most `records` records per `GetRecords` (1 to DynamoDB's 1,000; 1,000 or 1 MB
    /// otherwise).
    pub fn page_size(mut self, records: usize) -> Self {
        self.limit = Some(records.clamp(1, 1000) as i32);
        self
    }

    /// What was handed out so far: save it to resume from there.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The checkpoint, ending the reader.
    pub fn into_checkpoint(self) -> Checkpoint {
        self.checkpoint
    }

    /// The next event, or `None` once caught up (see [`ChangeReader`]).
    pub async fn next(&mut self) -> Result<Option<ChangeEvent<S>>> {
        admit::<S>(self.table)?;
        match &self.checkpoint.stream {
            None => self.checkpoint.stream = Some(self.stream.clone()),
            Some(stream) if *stream == self.stream => {}
            Some(stream) => {
                return Err(Error::InvalidRequest {
                    entity: S::NAME,
                    reason: format!(
                        "the checkpoint is of stream `{stream}`, not of `{}`",
                        self.stream
                    ),
                })
            }
        }
        loop {
            if let Some(record) = self.page.pop_front() {
                return self.hand_out(record).map(Some);
            }
            let Some(shards) = &self.shards else {
                let listed = self.list().await?;
                self.shards = Some(listed);
                self.at = 0;
                continue;
            };
            let Some(shard) = shards.get(self.at) else {
                // A pass is over: list again if shards ended (their children may be new), or
                // else the reader is caught up.
                if std::mem::take(&mut self.closed_in_pass) && self.only.is_none() {
                    self.shards = None;
                    continue;
                }
                self.at = 0;
                return Ok(None);
            };
            let waits = shard.parent.as_ref().is_some_and(|parent| {
                shards.iter().any(|s| s.id == *parent) && !self.checkpoint.is_finished(parent)
            });
            if waits || self.checkpoint.is_finished(&shard.id) {
                self.at += 1;
                continue;
            }
            let shard = shard.id.clone();
            let fetched = self.fetch(&shard).await?;
            if fetched.records.is_empty() {
                if !fetched.more {
                    self.finish(&shard);
                }
                self.at += 1;
                continue;
            }
            self.page = fetched.records.into();
            self.page_ends_shard = !fetched.more;
        }
    }

    /// Records `record` as handed out, and decodes it.
    fn hand_out(&mut self, record: streams::types::Record) -> Result<ChangeEvent<S>> {
        let shard = match self.shards.as_ref().and_then(|s| s.get(self.at)) {
            Some(shard) => shard.id.clone(),
            None => String::new(),
        };
        let sequence = record
            .dynamodb
            .as_ref()
            .and_then(|change| change.sequence_number.as_deref());
        if let Some(sequence) = sequence {
            self.checkpoint.handed_out(&shard, sequence);
        }
        if self.page.is_empty() && self.page_ends_shard {
            self.page_ends_shard = false;
            self.finish(&shard);
            self.at += 1;
        }
        decode(Raw::from_stream::<S>(record, self.table)?, self.table)
    }

    /// Marks `shard` read to its end.
    fn finish(&mut self, shard: &str) {
        self.checkpoint.finish(shard);
        self.iterators.remove(shard);
        self.closed_in_pass = true;
    }

    /// The stream's shards, parents first; the checkpoint forgets shards no longer in it.
    async fn list(&mut self) -> Result<Vec<Shard>> {
        let feed = ChangeFeed::<S> {
            table: self.table,
            client: self.client.clone(),
            stream: self.stream.clone(),
            schema: PhantomData,
        };
        let shards = feed.shards().await?;
        let listed: HashSet<&str> = shards.iter().map(|s| s.id.as_str()).collect();
        self.checkpoint.shards.retain(|id, position| {
            let kept = listed.contains(id.as_str());
            if let (false, Position::After(sequence)) = (kept, &position) {
                tracing::warn!(
                    stream = %self.stream,
                    shard = %id,
                    after = %sequence,
                    "the checkpoint's shard is no longer in the stream (trimmed): its records \
                     after this sequence number, if any, can no longer be read"
                );
            }
            kept
        });
        Ok(shards)
    }

    /// The next page of `shard`, from its iterator, or from the checkpoint when it has none or
    /// it expired.
    async fn fetch(&mut self, shard: &str) -> Result<Fetched> {
        let mut fresh = false;
        loop {
            let iterator = match self.iterators.get(shard) {
                Some(iterator) => iterator.clone(),
                None => {
                    fresh = true;
                    match self.iterator(shard).await? {
                        Some(iterator) => iterator,
                        None => {
                            return Ok(Fetched {
                                records: Vec::new(),
                                more: false,
                            })
                        }
                    }
                }
            };
            let sent = request::send(
                self.table,
                "GetRecords",
                S::NAME,
                |_| {
                    self.client
                        .get_records()
                        .shard_iterator(iterator)
                        .set_limit(self.limit)
                },
                |request| request.send(),
            )
            .await;
            match sent.result {
                Ok(output) => {
                    let more = output.next_shard_iterator.is_some();
                    match output.next_shard_iterator {
                        Some(next) => self.iterators.insert(shard.to_owned(), next),
                        None => self.iterators.remove(shard),
                    };
                    return Ok(Fetched {
                        records: output.records.unwrap_or_default(),
                        more,
                    });
                }
                Err(error)
                    if !fresh
                        && error
                            .as_service_error()
                            .is_some_and(|e| e.is_expired_iterator_exception()) =>
                {
                    tracing::debug!(stream = %self.stream, shard, "shard iterator expired");
                    self.iterators.remove(shard);
                }
                Err(error) => {
                    return Err(stream_error(&self.stream, "GetRecords", Some(shard), error))
                }
            }
        }
    }

    /// A new iterator of `shard`: after the checkpoint's last record, or at its oldest record.
    async fn iterator(&self, shard: &str) -> Result<Option<String>> {
        use streams::types::ShardIteratorType;
        let after = self.checkpoint.last_sequence_number(shard);
        let kind = match after {
            Some(_) => ShardIteratorType::AfterSequenceNumber,
            None => ShardIteratorType::TrimHorizon,
        };
        let sent = request::send(
            self.table,
            "GetShardIterator",
            S::NAME,
            |_| {
                self.client
                    .get_shard_iterator()
                    .stream_arn(&self.stream)
                    .shard_id(shard)
                    .shard_iterator_type(kind)
                    .set_sequence_number(after.map(str::to_owned))
            },
            |request| request.send(),
        )
        .await;
        let output = sent
            .result
            .map_err(|e| stream_error(&self.stream, "GetShardIterator", Some(shard), e))?;
        Ok(output.shard_iterator)
    }
}

/// A DynamoDB stream event as Lambda delivers it to a function (`{"Records": [..]}`, images in
/// DynamoDB JSON). It deserializes with serde, so that it can be a `lambda_runtime` payload; each
/// record is read on its own, so that a malformed one fails alone.
///
/// ```no_run
/// # use singletable_core::{tenant, LambdaStreamEvent, Result, Table, TableSchema};
/// # async fn run<AppItem: TableSchema>(table: &Table, payload: &[u8]) -> Result<()> {
/// let event: LambdaStreamEvent = serde_json::from_slice(payload).expect("a DynamoDB event");
/// let failed: Vec<String> = tenant::across_tenants("search index sync", async {
///     let mut failed = Vec::new();
///     for record in event.records() {
///         match record.decode::<AppItem>(table) {
///             Ok(change) => { /* handle it */ }
///             // Reported back in `batchItemFailures` so that Lambda retries from there.
///             Err(_) => failed.extend(record.sequence_number().map(str::to_owned)),
///         }
///     }
///     failed
/// })
/// .await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LambdaStreamEvent {
    #[serde(rename = "Records", default)]
    records: Vec<serde_json::Value>,
}

impl LambdaStreamEvent {
    /// The event's records, in the order Lambda delivered them.
    pub fn records(&self) -> impl ExactSizeIterator<Item = LambdaRecord<'_>> + '_ {
        self.records.iter().map(|json| LambdaRecord { json })
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the event has no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Decodes every record, failing at the first that does not decode (see
    /// [`LambdaRecord::decode`]).
    pub fn decode<S: TableSchema>(&self, table: &Table) -> Result<Vec<ChangeEvent<S>>> {
        self.records().map(|record| record.decode(table)).collect()
    }
}

/// One record of a [`LambdaStreamEvent`], not yet decoded.
#[derive(Clone, Copy, Debug)]
pub struct LambdaRecord<'a> {
    json: &'a serde_json::Value,
}

impl<'a> LambdaRecord<'a> {
    /// The record's `eventID`.
    pub fn event_id(&self) -> Option<&'a str> {
        self.json.get("eventID")?.as_str()
    }

    /// The record's `dynamodb.SequenceNumber`: what a function reports in
    /// `batchItemFailures` for a record it could not handle.
    pub fn sequence_number(&self) -> Option<&'a str> {
        self.json.get("dynamodb")?.get("SequenceNumber")?.as_str()
    }

    /// The record as delivered.
    pub fn json(&self) -> &'a serde_json::Value {
        self.json
    }

    /// Decodes the record into a [`ChangeEvent`] of `S`. It runs inside
    /// [`tenant::across_tenants`] when an entity of `S` is
    /// tenant-scoped. A record that is not a DynamoDB stream record (no key, an unknown
    /// `eventName`, a value that is not DynamoDB JSON, a missing image) is
    /// [`Error::InvalidRecord`].
    pub fn decode<S: TableSchema>(&self, table: &Table) -> Result<ChangeEvent<S>> {
        admit::<S>(table)?;
        decode(Raw::from_lambda::<S>(self, table)?, table)
    }
}

/// The operation of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    Insert,
    Modify,
    Remove,
}

/// A record of either source, its values in the DynamoDB SDK's types.
struct Raw {
    /// The record's name in errors.
    name: String,
    key: ItemKey,
    operation: Operation,
    old: Option<Item>,
    new: Option<Item>,
    sequence_number: String,
    created_at: Option<OffsetDateTime>,
    expired: bool,
}

/// Builds the error of a record that cannot be read.
struct Invalid<'a> {
    schema: &'static str,
    name: &'a str,
    key: Option<&'a ItemKey>,
}

impl Invalid<'_> {
    fn error(&self, reason: impl Into<String>) -> Error {
        Error::InvalidRecord {
            schema: self.schema,
            record: self.name.to_owned(),
            key: self.key.cloned(),
            reason: reason.into(),
        }
    }
}

/// The record's name in errors: its sequence number, else its event ID.
fn record_name(sequence: Option<&str>, event_id: Option<&str>) -> String {
    match (sequence, event_id) {
        (Some(sequence), _) => sequence.to_owned(),
        (None, Some(id)) => format!("(event {id})"),
        (None, None) => "(unnamed)".to_owned(),
    }
}

impl Raw {
    fn from_stream<S: TableSchema>(record: streams::types::Record, table: &Table) -> Result<Raw> {
        let change = record.dynamodb;
        let sequence = change.as_ref().and_then(|c| c.sequence_number.clone());
        let name = record_name(sequence.as_deref(), record.event_id.as_deref());
        let mut invalid = Invalid {
            schema: S::NAME,
            name: &name,
            key: None,
        };
        let Some(change) = change else {
            return Err(invalid.error("the record has no `dynamodb` change"));
        };
        let image = |image: Option<HashMap<String, streams::types::AttributeValue>>,
                     what: &str,
                     invalid: &Invalid<'_>| {
            image
                .map(|image| {
                    image
                        .into_iter()
                        .map(|(name, value)| Ok((name, from_stream_value(value)?)))
                        .collect::<std::result::Result<Item, String>>()
                })
                .transpose()
                .map_err(|reason| invalid.error(format!("{what}: {reason}")))
        };
        let keys = image(change.keys, "Keys", &invalid)?;
        let new = image(change.new_image, "NewImage", &invalid)?;
        let old = image(change.old_image, "OldImage", &invalid)?;
        let key = record_key(keys.as_ref(), new.as_ref(), old.as_ref(), table)
            .map_err(|reason| invalid.error(reason))?;
        invalid.key = Some(&key);
        let operation = match record.event_name {
            Some(streams::types::OperationType::Insert) => Operation::Insert,
            Some(streams::types::OperationType::Modify) => Operation::Modify,
            Some(streams::types::OperationType::Remove) => Operation::Remove,
            Some(other) => {
                return Err(invalid.error(format!("unknown `eventName` `{}`", other.as_str())))
            }
            None => return Err(invalid.error("the record has no `eventName`")),
        };
        let Some(sequence_number) = sequence else {
            return Err(invalid.error("the record has no `SequenceNumber`"));
        };
        let created_at = change
            .approximate_creation_date_time
            .and_then(|at| OffsetDateTime::from_unix_timestamp_nanos(at.as_nanos()).ok());
        let expired = record.user_identity.is_some_and(|identity| {
            identity.r#type.as_deref() == Some("Service")
                && identity.principal_id.as_deref() == Some(TTL_PRINCIPAL)
        });
        Ok(Raw {
            name,
            key,
            operation,
            old,
            new,
            sequence_number,
            created_at,
            expired,
        })
    }

    fn from_lambda<S: TableSchema>(record: &LambdaRecord<'_>, table: &Table) -> Result<Raw> {
        let name = record_name(record.sequence_number(), record.event_id());
        // The key, read from the JSON as it is, names the record in errors about the rest.
        let guessed = record
            .json
            .get("dynamodb")
            .and_then(|change| change.get("Keys"))
            .and_then(|keys| {
                let text = |name: &str| keys.get(name)?.get("S")?.as_str().map(str::to_owned);
                Some(ItemKey {
                    pk: text(table.partition_key())?,
                    sk: text(table.sort_key())?,
                })
            });
        let mut invalid = Invalid {
            schema: S::NAME,
            name: &name,
            key: guessed.as_ref(),
        };
        let parsed: LambdaJson = serde_path_to_error::deserialize(record.json).map_err(|e| {
            let path = e.path().to_string();
            invalid.error(format!("`{path}`: {}", e.into_inner()))
        })?;
        let Some(change) = parsed.dynamodb else {
            return Err(invalid.error("the record has no `dynamodb` change"));
        };
        let image = |image: Option<serde_dynamo::Item>| image.map(Item::from);
        let (keys, new, old) = (
            image(change.keys),
            image(change.new_image),
            image(change.old_image),
        );
        let key = record_key(keys.as_ref(), new.as_ref(), old.as_ref(), table)
            .map_err(|reason| invalid.error(reason))?;
        invalid.key = Some(&key);
        let operation = match parsed.event_name.as_deref() {
            Some("INSERT") => Operation::Insert,
            Some("MODIFY") => Operation::Modify,
            Some("REMOVE") => Operation::Remove,
            Some(other) => return Err(invalid.error(format!("unknown `eventName` `{other}`"))),
            None => return Err(invalid.error("the record has no `eventName`")),
        };
        let Some(sequence_number) = change.sequence_number else {
            return Err(invalid.error("the record has no `SequenceNumber`"));
        };
        let expired = parsed.user_identity.is_some_and(|identity| {
            identity.kind.as_deref() == Some("Service")
                && identity.principal_id.as_deref() == Some(TTL_PRINCIPAL)
        });
        Ok(Raw {
            name,
            key,
            operation,
            old,
            new,
            sequence_number,
            created_at: change
                .approximate_creation_date_time
                .as_ref()
                .and_then(lambda_time),
            expired,
        })
    }
}

/// A Lambda DynamoDB stream record, as far as change feeds read it.
#[derive(Deserialize)]
struct LambdaJson {
    #[serde(rename = "eventName")]
    event_name: Option<String>,
    dynamodb: Option<LambdaChange>,
    #[serde(rename = "userIdentity")]
    user_identity: Option<LambdaIdentity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LambdaChange {
    keys: Option<serde_dynamo::Item>,
    new_image: Option<serde_dynamo::Item>,
    old_image: Option<serde_dynamo::Item>,
    sequence_number: Option<String>,
    approximate_creation_date_time: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct LambdaIdentity {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "principalId")]
    principal_id: Option<String>,
}

/// Lambda's `ApproximateCreationDateTime`: seconds since the epoch, as a number (or a string of
/// one).
fn lambda_time(value: &serde_json::Value) -> Option<OffsetDateTime> {
    let seconds = match value {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.parse::<f64>().ok()?,
        _ => return None,
    };
    if !seconds.is_finite() {
        return None;
    }
    // Whole seconds and their fraction apart, since an `f64` of nanoseconds is not exact.
    let whole = seconds.floor();
    let nanos = ((seconds - whole) * 1e9).round() as i64;
    // `as` saturates; out-of-range times are refused by `time`.
    OffsetDateTime::from_unix_timestamp(whole as i64)
        .ok()?
        .checked_add(time::Duration::nanoseconds(nanos))
}

/// A DynamoDB Streams attribute value as the DynamoDB SDK's.
fn from_stream_value(
    value: streams::types::AttributeValue,
) -> std::result::Result<AttributeValue, String> {
    use streams::types::AttributeValue as V;
    Ok(match value {
        V::S(s) => AttributeValue::S(s),
        V::N(n) => AttributeValue::N(n),
        V::Bool(b) => AttributeValue::Bool(b),
        V::Null(null) => AttributeValue::Null(null),
        V::B(b) => AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(b.into_inner())),
        V::Ss(ss) => AttributeValue::Ss(ss),
        V::Ns(ns) => AttributeValue::Ns(ns),
        V::Bs(bs) => AttributeValue::Bs(
            bs.into_iter()
                .map(|b| aws_sdk_dynamodb::primitives::Blob::new(b.into_inner()))
                .collect(),
        ),
        V::L(list) => AttributeValue::L(
            list.into_iter()
                .map(from_stream_value)
                .collect::<std::result::Result<_, _>>()?,
        ),
        V::M(map) => AttributeValue::M(
            map.into_iter()
                .map(|(name, value)| Ok((name, from_stream_value(value)?)))
                .collect::<std::result::Result<_, String>>()?,
        ),
        other => {
            return Err(format!(
                "a value of a type this SDK does not know: {other:?}"
            ))
        }
    })
}

/// The item's key: from the record's `Keys`, else from an image.
fn record_key(
    keys: Option<&Item>,
    new: Option<&Item>,
    old: Option<&Item>,
    table: &Table,
) -> std::result::Result<ItemKey, String> {
    let Some(source) = keys.or(new).or(old) else {
        return Err("the record has no `Keys` and no image".into());
    };
    let text = |name: &str| match source.get(name) {
        Some(AttributeValue::S(text)) => Ok(text.clone()),
        Some(other) => Err(format!(
            "the key attribute `{name}` is not a string: {other:?}"
        )),
        None => Err(format!("the record's key has no `{name}`")),
    };
    Ok(ItemKey {
        pk: text(table.partition_key())?,
        sk: text(table.sort_key())?,
    })
}

/// Refuses, before any request or decode, to read a feed of `S` anywhere but across tenants
/// when an entity of `S` is tenant-scoped, and an entity the table refuses.
fn admit<S: TableSchema>(table: &Table) -> Result<()> {
    for member in S::MEMBERS {
        member.admits(table)?;
    }
    let Some(scoped) = S::MEMBERS.iter().find(|m| m.is_tenant_scoped()) else {
        return Ok(());
    };
    if tenant::crossing().is_some() {
        return Ok(());
    }
    let scope = match tenant::current() {
        Some(tenant) => format!("in tenant `{tenant}`'s scope"),
        None => "outside any tenant scope".to_owned(),
    };
    Err(Error::InvalidRequest {
        entity: scoped.type_name(),
        reason: format!(
            "a change feed of {} holds every tenant's items and `{}` is tenant-scoped, so it is \
             read and decoded inside `tenant::across_tenants`, not {scope}",
            S::NAME,
            scoped.type_name()
        ),
    })
}

/// The `_type` of an image, as text.
fn type_of(image: &Item) -> Option<String> {
    image.get(TYPE_ATTRIBUTE).map(|value| match value {
        AttributeValue::S(text) => text.clone(),
        other => format!("{other:?}"),
    })
}

/// Decodes a record into an event of `S`.
fn decode<S: TableSchema>(raw: Raw, table: &Table) -> Result<ChangeEvent<S>> {
    let invalid = Invalid {
        schema: S::NAME,
        name: &raw.name,
        key: Some(&raw.key),
    };
    // Both images are needed to tell a soft delete or a restore from an update.
    let needed: &[(&str, bool)] = match raw.operation {
        Operation::Insert => &[("NewImage", raw.new.is_none())],
        Operation::Modify => &[
            ("OldImage", raw.old.is_none()),
            ("NewImage", raw.new.is_none()),
        ],
        Operation::Remove => &[("OldImage", raw.old.is_none())],
    };
    if let Some((image, _)) = needed.iter().find(|(_, missing)| *missing) {
        return Err(invalid.error(format!(
            "the record has no `{image}`: change feeds read streams of new and old images \
             (NEW_AND_OLD_IMAGES)"
        )));
    }
    let deleted = |image: &Option<Item>| {
        image
            .as_ref()
            .is_some_and(|i| i.contains_key(DELETED_ATTRIBUTE))
    };
    let action = match raw.operation {
        Operation::Insert => ChangeAction::Created,
        Operation::Remove => ChangeAction::Deleted,
        Operation::Modify => match (deleted(&raw.old), deleted(&raw.new)) {
            (false, true) => ChangeAction::SoftDeleted,
            (true, false) => ChangeAction::Restored,
            _ => ChangeAction::Updated,
        },
    };
    let (old, old_tenant) = decode_image::<S>(raw.old.as_ref(), &raw.key, table)?;
    let (new, new_tenant) = decode_image::<S>(raw.new.as_ref(), &raw.key, table)?;
    Ok(ChangeEvent {
        action,
        entity_type: raw
            .new
            .as_ref()
            .and_then(type_of)
            .or_else(|| raw.old.as_ref().and_then(type_of)),
        tenant: new_tenant.or(old_tenant),
        key: raw.key,
        old,
        new,
        old_image: raw.old,
        new_image: raw.new,
        sequence_number: raw.sequence_number,
        created_at: raw.created_at,
        expired: raw.expired,
    })
}

/// Decodes an image of an entity of `S` (in the scope of the tenant its key names, for a
/// tenant-scoped one), with that tenant; nothing for an image of another type.
fn decode_image<S: TableSchema>(
    image: Option<&Item>,
    key: &ItemKey,
    table: &Table,
) -> Result<(Option<S>, Option<TenantId>)> {
    let Some(image) = image else {
        return Ok((None, None));
    };
    let found = type_of(image);
    let Some(member) = S::MEMBERS
        .iter()
        .find(|m| Some(m.type_name()) == found.as_deref())
    else {
        return Ok((None, None));
    };
    if !member.is_tenant_scoped() {
        return S::decode(image.clone(), table).map(|s| (Some(s), None));
    }
    let owner = member.owner(key, table)?;
    let decoded = tenant::sync_scope(owner.clone(), || S::decode(image.clone(), table))?;
    Ok((Some(decoded), Some(owner)))
}

/// Shards ordered so that each comes after its parent (when the parent is listed).
fn parents_first(shards: Vec<Shard>) -> Vec<Shard> {
    let listed: HashSet<String> = shards.iter().map(|s| s.id.clone()).collect();
    let mut placed: HashSet<String> = HashSet::new();
    let mut ordered = Vec::with_capacity(shards.len());
    let mut pending = shards;
    while !pending.is_empty() {
        let (ready, waiting): (Vec<Shard>, Vec<Shard>) = pending.into_iter().partition(|s| {
            s.parent
                .as_ref()
                .is_none_or(|p| !listed.contains(p) || placed.contains(p))
        });
        if ready.is_empty() {
            // Only a cycle, which DynamoDB never makes, leaves shards waiting: read them anyway.
            ordered.extend(waiting);
            break;
        }
        placed.extend(ready.iter().map(|s| s.id.clone()));
        ordered.extend(ready);
        pending = waiting;
    }
    ordered
}

/// A failure of the Streams API, naming the operation, stream and shard.
fn stream_error<E>(stream: &str, operation: &'static str, shard: Option<&str>, error: E) -> Error
where
    streams::Error: From<E>,
{
    Error::Stream {
        operation,
        stream: stream.to_owned(),
        shard: shard.map(str::to_owned),
        source: Box::new(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parent: Option<&str>) -> Shard {
        Shard {
            id: id.into(),
            parent: parent.map(Into::into),
            closed: false,
        }
    }

    #[test]
    fn parents_come_before_their_children() {
        let ordered = parents_first(vec![
            shard("c", Some("b")),
            shard("b", Some("a")),
            shard("d", Some("gone")),
            shard("a", None),
        ]);
        let ids: Vec<_> = ordered.iter().map(Shard::id).collect();
        assert_eq!(ids, ["d", "a", "b", "c"]);
        let cycle = parents_first(vec![shard("x", Some("y")), shard("y", Some("x"))]);
        assert_eq!(cycle.len(), 2, "nothing is lost");
    }

    #[test]
    fn a_checkpoint_serializes_its_positions() {
        let mut checkpoint = Checkpoint::new();
        checkpoint.handed_out("s1", "100");
        checkpoint.finish("s0");
        let json = serde_json::to_string(&checkpoint).unwrap();
        assert_eq!(json, r#"{"shards":{"s0":"finished","s1":{"after":"100"}}}"#);
        let back: Checkpoint = serde_json::from_str(&json).unwrap();
        assert_eq!(back, checkpoint);
        assert_eq!(back.last_sequence_number("s1"), Some("100"));
        assert!(back.is_finished("s0") && !back.is_finished("s1"));
        assert_eq!(
            serde_json::from_str::<Checkpoint>("{}").unwrap(),
            Checkpoint::new()
        );
    }

    #[test]
    fn lambda_times_are_seconds() {
        let at = lambda_time(&serde_json::json!(1_700_000_000.5)).unwrap();
        assert_eq!(at.unix_timestamp(), 1_700_000_000);
        assert_eq!(at.millisecond(), 500);
        assert!(lambda_time(&serde_json::json!(1e300)).is_none());
        assert!(lambda_time(&serde_json::json!({})).is_none());
    }

    /// A schema without entities, as no derive makes one.
    #[derive(Debug)]
    struct Nothing;

    impl TableSchema for Nothing {
        const NAME: &'static str = "Nothing";
        const TYPES: &'static [&'static str] = &[];
        const MEMBERS: &'static [crate::table_schema::Member] = &[];

        fn decode(item: Item, table: &Table) -> Result<Self> {
            Err(crate::table_schema::unknown_type::<Self>(&item, table))
        }

        fn entity_type(&self) -> &'static str {
            ""
        }
    }

    /// A table and a Streams client that reach no endpoint: any request would fail.
    fn offline() -> (Table, streams::Client) {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .build();
        let table = Table::builder(aws_sdk_dynamodb::Client::from_conf(config), "offline").build();
        let config = streams::Config::builder()
            .behavior_version(streams::config::BehaviorVersion::latest())
            .region(streams::config::Region::new("us-east-1"))
            .build();
        (table, streams::Client::from_conf(config))
    }

    #[tokio::test]
    async fn reading_is_send() {
        fn send<T: Send>(_: &T) {}
        let (table, client) = offline();
        let feed = ChangeFeed::<Nothing>::new(&table, &client, "arn");
        send(&feed.shards());
        let mut reader = feed.read(Checkpoint::new());
        send(&reader.next());
    }

    fn stream_record(
        name: streams::types::OperationType,
        old: Option<HashMap<String, streams::types::AttributeValue>>,
        new: Option<HashMap<String, streams::types::AttributeValue>>,
    ) -> streams::types::Record {
        use streams::types::AttributeValue as V;
        let keys = HashMap::from([
            ("pk".to_owned(), V::S("OTHER#1".into())),
            ("sk".to_owned(), V::S("#OTHER".into())),
        ]);
        let change = streams::types::StreamRecord::builder()
            .set_keys(Some(keys))
            .set_old_image(old)
            .set_new_image(new)
            .sequence_number("42")
            .approximate_creation_date_time(streams::primitives::DateTime::from_secs(1_700_000_000))
            .build();
        streams::types::Record::builder()
            .event_name(name)
            .dynamodb(change)
            .build()
    }

    #[test]
    fn a_stream_record_converts_every_value_and_tells_soft_deletes_apart() {
        use streams::types::{AttributeValue as V, OperationType};
        let image = |deleted: bool| {
            let mut image = HashMap::from([
                ("pk".to_owned(), V::S("OTHER#1".into())),
                ("sk".to_owned(), V::S("#OTHER".into())),
                ("_type".to_owned(), V::S("OTHER".into())),
                (
                    "nested".to_owned(),
                    V::M(HashMap::from([(
                        "list".to_owned(),
                        V::L(vec![
                            V::N("1".into()),
                            V::B(streams::primitives::Blob::new(vec![1, 2])),
                            V::Bs(vec![streams::primitives::Blob::new(vec![3])]),
                            V::Ss(vec!["a".into()]),
                            V::Ns(vec!["2".into()]),
                            V::Bool(true),
                            V::Null(true),
                        ]),
                    )])),
                ),
            ]);
            if deleted {
                image.insert(DELETED_ATTRIBUTE.to_owned(), V::S("now".into()));
            }
            Some(image)
        };
        let (table, _) = offline();
        let decode = |record| ChangeEvent::<Nothing>::from_stream_record(record, &table).unwrap();

        let soft = decode(stream_record(
            OperationType::Modify,
            image(false),
            image(true),
        ));
        assert_eq!(soft.action, ChangeAction::SoftDeleted);
        assert!(!soft.is_entity());
        assert_eq!(soft.entity_type.as_deref(), Some("OTHER"));
        assert_eq!(soft.sequence_number, "42");
        assert_eq!(soft.created_at.unwrap().unix_timestamp(), 1_700_000_000);
        let AttributeValue::M(nested) = &soft.new_image.as_ref().unwrap()["nested"] else {
            panic!("{soft:?}");
        };
        assert_eq!(
            nested["list"],
            AttributeValue::L(vec![
                AttributeValue::N("1".into()),
                AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![1, 2])),
                AttributeValue::Bs(vec![aws_sdk_dynamodb::primitives::Blob::new(vec![3])]),
                AttributeValue::Ss(vec!["a".into()]),
                AttributeValue::Ns(vec!["2".into()]),
                AttributeValue::Bool(true),
                AttributeValue::Null(true),
            ])
        );
        let restored = decode(stream_record(
            OperationType::Modify,
            image(true),
            image(false),
        ));
        assert_eq!(restored.action, ChangeAction::Restored);
        let updated = decode(stream_record(
            OperationType::Modify,
            image(true),
            image(true),
        ));
        assert_eq!(updated.action, ChangeAction::Updated);
        let removed = decode(stream_record(OperationType::Remove, image(false), None));
        assert_eq!(removed.action, ChangeAction::Deleted);
        assert_eq!(removed.key.pk, "OTHER#1");

        let keys_only = ChangeEvent::<Nothing>::from_stream_record(
            stream_record(OperationType::Insert, None, None),
            &table,
        );
        assert!(
            matches!(&keys_only, Err(Error::InvalidRecord { reason, .. }) if reason.contains("NewImage")),
            "{keys_only:?}"
        );
    }
}
