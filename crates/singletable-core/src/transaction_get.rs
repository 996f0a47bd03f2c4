//! Transactional reads: up to 100 items of any entities read at one point in time, in one
//! `TransactGetItems` request sent through the request layer, each item read by the rules of
//! `get`.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsError;
use aws_sdk_dynamodb::types::{Get, TransactGetItem};

use crate::error::{CancelReason, Error, ItemKey, Result};
use crate::item::{self, Item};
use crate::ops::get::visible;
use crate::request::{self, sdk_error};
use crate::schema::{EntityKey, Schema};
use crate::table::Table;
use crate::tenant::Binding;

/// DynamoDB's limit on items in one `TransactGetItems` request.
const MAX_ITEMS: usize = 100;

const OPERATION: &str = "TransactGetItems";

/// Reads of several entity types by key, all at one point in time (`TransactGetItems`).
///
/// Where a [`BatchGet`](crate::BatchGet) reads each item on its own, so that a writer can change
/// one item between the reads of two others, a `TransactionGet` sees every item as it stood at
/// one instant: a [`Transaction`](crate::Transaction) that writes several of them is seen
/// entirely or not at all. DynamoDB refuses such a read while a write to one of its items is
/// under way: that is [`Error::TransactionCanceled`] with the code `TransactionConflict`, which
/// the request layer does not retry, and the read can be sent again.
///
/// Each item is read as [`Entity::get`](crate::Entity::get) reads it: an expired item or a
/// soft-deleted one of a `soft_delete` entity is `None`, an item of another `_type` at the key
/// is an [`Error::Decode`], and a tenant-scoped entity is read only in its tenant's scope.
///
/// Refused before any request: more than 100 keys ([`Error::Limit`]), the same key twice, and
/// a read sent outside the tenant scope its tenant-scoped keys were made in. The items read
/// must total at most 4 MB, which only DynamoDB can tell: a larger read fails as a whole, with
/// DynamoDB's error ([`Error::Sdk`], a `ValidationException`).
///
/// ```no_run
/// # use singletable_core::{Result, Schema, Table, TransactionGet};
/// # async fn run<Organization: Schema, Team: Schema>(
/// #     table: &Table,
/// #     org_key: Organization::Key<'_>,
/// #     team_key: Team::Key<'_>,
/// # ) -> Result<()> {
/// let mut read = TransactionGet::new(table);
/// let org = read.get::<Organization>(org_key)?;
/// let team = read.get::<Team>(team_key)?;
/// let mut got = read.send().await?;
/// let org: Option<Organization> = got.take(org)?;
/// let team: Option<Team> = got.take(team)?;
/// # Ok(())
/// # }
/// ```
#[must_use = "a transactional read does nothing until `send()` is awaited"]
#[derive(Debug)]
pub struct TransactionGet<'t> {
    table: &'t Table,
    reads: Vec<Read>,
    tenant: Binding,
}

/// One key of a [`TransactionGet`].
#[derive(Debug)]
struct Read {
    entity: &'static str,
    key: ItemKey,
    /// Whether a soft-deleted item is returned too.
    deleted_too: bool,
}

/// A typed slot of a [`TransactionGet`]: hand it to [`TransactionGot::take`] for the entity.
#[derive(Debug)]
pub struct TransactionSlot<E> {
    index: usize,
    key: ItemKey,
    entity: PhantomData<fn() -> E>,
}

/// The items a [`TransactionGet`] read, by slot.
#[derive(Debug)]
pub struct TransactionGot<'t> {
    table: &'t Table,
    reads: Vec<Read>,
    items: HashMap<ItemKey, Item>,
    /// When the items were read (Unix seconds), for their time to live.
    read_at: i64,
}

impl<'t> TransactionGet<'t> {
    /// An empty read on `table`.
    pub fn new(table: &'t Table) -> Self {
        TransactionGet {
            table,
            reads: Vec::new(),
            tenant: Binding::default(),
        }
    }

    /// Adds the item of `E` at `key`; its entity comes back from [`TransactionGot::take`].
    pub fn get<E: Schema>(&mut self, key: E::Key<'_>) -> Result<TransactionSlot<E>> {
        self.add(key, false)
    }

    /// Like [`get`](Self::get), returning a soft-deleted item too, as
    /// [`Entity::get_including_deleted`](crate::Entity::get_including_deleted) does.
    pub fn get_including_deleted<E: Schema>(
        &mut self,
        key: E::Key<'_>,
    ) -> Result<TransactionSlot<E>> {
        self.add(key, true)
    }

    fn add<E: Schema>(&mut self, key: E::Key<'_>, deleted_too: bool) -> Result<TransactionSlot<E>> {
        crate::tenant::admit::<E>(self.table)?;
        self.tenant.bind::<E>(self.table)?;
        let key = key.item_key(self.table)?;
        self.reads.push(Read {
            entity: E::TYPE,
            key: key.clone(),
            deleted_too,
        });
        Ok(TransactionSlot {
            index: self.reads.len() - 1,
            key,
            entity: PhantomData,
        })
    }

    /// The number of keys to read.
    pub fn len(&self) -> usize {
        self.reads.len()
    }

    /// Whether there is no key to read.
    pub fn is_empty(&self) -> bool {
        self.reads.is_empty()
    }

    /// Reads every item at one point in time. Refused before sending: more than 100 keys
    /// ([`Error::Limit`]), a key given twice ([`Error::InvalidRequest`]), a tenant scope other
    /// than the one the keys were made in. A read canceled by DynamoDB (such as by a write in
    /// progress on one of its items) gives [`Error::TransactionCanceled`] with the reason of
    /// each item. An empty read sends nothing.
    pub async fn send(self) -> Result<TransactionGot<'t>> {
        let table = self.table;
        let entity = self
            .reads
            .first()
            .map_or("(transaction)", |read| read.entity);
        self.tenant.check(entity, table)?;
        if self.reads.len() > MAX_ITEMS {
            return Err(Error::Limit {
                entity,
                what: "items in a transactional read",
                limit: MAX_ITEMS,
                got: self.reads.len(),
            });
        }
        let mut seen = HashSet::with_capacity(self.reads.len());
        for read in &self.reads {
            if !seen.insert(&read.key) {
                return Err(Error::InvalidRequest {
                    entity: read.entity,
                    reason: format!(
                        "the transactional read reads {} twice; DynamoDB refuses that",
                        read.key
                    ),
                });
            }
        }
        let mut got = TransactionGot {
            table,
            reads: self.reads,
            items: HashMap::new(),
            read_at: 0,
        };
        if got.reads.is_empty() {
            got.read_at = crate::autogen::now().unix_timestamp();
            return Ok(got);
        }
        let mut items = Vec::with_capacity(got.reads.len());
        for read in &got.reads {
            let get = Get::builder()
                .table_name(table.name())
                .set_key(Some(item::key_item(read.key.clone(), table)))
                .build()
                .map_err(|e| sdk_error(table, OPERATION, read.entity, e))?;
            items.push(TransactGetItem::builder().get(get).build());
        }
        let client = table.client();
        let sent = request::send(
            table,
            OPERATION,
            entity,
            |capacity| {
                client
                    .transact_get_items()
                    .set_transact_items(Some(items))
                    .set_return_consumed_capacity(capacity)
            },
            |request| request.send(),
        )
        .await;
        let output = match sent.result {
            Ok(output) => output,
            Err(error) => return Err(failed(table, entity, &got.reads, error)),
        };
        got.read_at = crate::autogen::now().unix_timestamp();
        // Keyed by the item's own key attributes rather than by position, so that an item can
        // never be handed to the slot of another key.
        for response in output.responses.unwrap_or_default() {
            if let Some(found) = response.item {
                got.items.insert(item::item_key_of(&found, table), found);
            }
        }
        Ok(got)
    }
}

/// The error of a read that failed after the request layer's retries: a cancellation names the
/// reason of each item that had one.
fn failed(
    table: &Table,
    entity: &'static str,
    reads: &[Read],
    error: SdkError<TransactGetItemsError, HttpResponse>,
) -> Error {
    let Some(TransactGetItemsError::TransactionCanceledException(canceled)) =
        error.as_service_error()
    else {
        return sdk_error(table, OPERATION, entity, error);
    };
    let reasons = canceled
        .cancellation_reasons()
        .iter()
        .zip(reads)
        .enumerate()
        .filter(|(_, (reason, _))| reason.code().is_some_and(|code| code != "None"))
        .map(|(index, (reason, read))| CancelReason {
            index,
            audit_record: false,
            entity: read.entity,
            key: read.key.clone(),
            code: reason.code().unwrap_or_default().to_owned(),
            message: reason.message().map(str::to_owned),
        })
        .collect();
    Error::TransactionCanceled { reasons }
}

impl TransactionGot<'_> {
    /// The entity of `slot`, or `None` when there is no item of `E` at its key, as
    /// [`Entity::get`](crate::Entity::get) reads it: `None` for an expired item and for a
    /// soft-deleted one of a `soft_delete` entity; [`Error::Decode`] for an item of another
    /// `_type`. A slot of another read is refused ([`Error::InvalidRequest`]).
    pub fn take<E: Schema>(&mut self, slot: TransactionSlot<E>) -> Result<Option<E>> {
        let read = self
            .reads
            .get(slot.index)
            .filter(|read| read.entity == E::TYPE && read.key == slot.key)
            .ok_or_else(|| Error::InvalidRequest {
                entity: E::TYPE,
                reason: format!("the slot of {} is not one of this read's", slot.key),
            })?;
        let found = self.items.remove(&read.key);
        visible::<E>(found, self.table, read.deleted_too, self.read_at)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_sdk_dynamodb::types::CancellationReason;

    use super::*;

    fn table() -> Table {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        Table::builder(aws_sdk_dynamodb::Client::from_conf(config), "T").build()
    }

    fn read(entity: &'static str, pk: &str) -> Read {
        Read {
            entity,
            key: ItemKey {
                pk: pk.into(),
                sk: "#METADATA".into(),
            },
            deleted_too: false,
        }
    }

    #[test]
    fn sending_is_send() {
        fn send<T: Send>(_: T) {}
        let table = table();
        send(TransactionGet::new(&table).send());
    }

    #[test]
    fn a_cancellation_names_each_item_with_a_reason() {
        let reason = |code: &str| CancellationReason::builder().code(code).build();
        let canceled = TransactionCanceledException::builder()
            .message("Transaction cancelled")
            .cancellation_reasons(reason("None"))
            .cancellation_reasons(reason("TransactionConflict"))
            .build();
        let response = HttpResponse::new(400.try_into().unwrap(), String::new().into());
        let error = SdkError::service_error(
            TransactGetItemsError::TransactionCanceledException(canceled),
            response,
        );
        let reads = [read("ORGANIZATION", "ORG#1"), read("TEAM", "ORG#2")];
        let Error::TransactionCanceled { reasons } =
            failed(&table(), "ORGANIZATION", &reads, error)
        else {
            panic!("not a cancellation");
        };
        assert_eq!(
            reasons,
            vec![CancelReason {
                index: 1,
                audit_record: false,
                entity: "TEAM",
                key: reads[1].key.clone(),
                code: "TransactionConflict".into(),
                message: None,
            }]
        );
    }
}
