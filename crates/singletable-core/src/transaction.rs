//! Transactions: up to 100 creates, puts, updates, deletes and condition checks on any entities,
//! applied all together or not at all.
//!
//! A write of an `#[entity(audit)]` entity brings its audit record into the same transaction.
//! Its old values need the item as stored, so such a write is made at `send`, from a consistent
//! read; when another writer changes the item between that read and the transaction, `send`
//! reads and tries again (unless the transaction has an idempotency token, which a changed
//! request would not match).

use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update as UpdateAction,
};
use tracing::Instrument;

use crate::audit;
use crate::entity::{Entity, EntityKey};
use crate::error::{Error, ItemKey, Result};
use crate::expr::{Condition, Names};
use crate::item::{self, Item, TYPE_ATTRIBUTE};
use crate::ops::soft_delete::DeletionMark;
use crate::ops::{self, condition, put, update::Update};
use crate::table::Table;

/// DynamoDB's limit on actions in one transaction.
const MAX_ACTIONS: usize = 100;

/// Why one action of a canceled transaction failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelReason {
    /// The action's position in the transaction, from 0.
    pub index: usize,
    /// The action's entity type.
    pub entity: &'static str,
    /// The item it acted on.
    pub key: ItemKey,
    /// DynamoDB's code, such as `ConditionalCheckFailed` or `TransactionConflict`.
    pub code: String,
    /// DynamoDB's message, if any.
    pub message: Option<String>,
}

/// Writes and checks that succeed or fail together.
///
/// ```ignore
/// let mut tx = Transaction::new(&table);
/// let member = tx.create::<TeamMember>(new_member)?;
/// tx.update(Team::update(&table, team.key()).add_member_count(1))?;
/// tx.check::<Organization>(org.key(), Organization::FIELDS.plan.ne(Plan::Free))?;
/// tx.send().await?;
/// ```
#[must_use = "a transaction does nothing until `send()` is awaited"]
#[derive(Debug)]
pub struct Transaction<'t> {
    table: &'t Table,
    actions: Vec<Entry<'t>>,
    token: Option<String>,
}

/// One action, and what names it in errors.
struct Entry<'t> {
    entity: &'static str,
    key: ItemKey,
    action: Action<'t>,
}

enum Action<'t> {
    Ready(Box<TransactWriteItem>),
    /// A write of an audited entity, with its record: made at `send` from the item as read.
    Audited(audit::Deferred<'t>),
}

impl std::fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let action: &dyn std::fmt::Debug = match &self.action {
            Action::Ready(item) => item,
            Action::Audited(_) => &"(audited write, made at send)",
        };
        f.debug_struct("Entry")
            .field("entity", &self.entity)
            .field("key", &self.key)
            .field("action", action)
            .finish()
    }
}

impl<'t> Transaction<'t> {
    /// An empty transaction on `table`.
    pub fn new(table: &'t Table) -> Self {
        Transaction {
            table,
            actions: Vec::new(),
            token: None,
        }
    }

    /// Makes retries of this transaction (with the same token, within 10 minutes) apply once.
    pub fn idempotency_token(&mut self, token: impl Into<String>) -> &mut Self {
        self.token = Some(token.into());
        self
    }

    /// Creates an entity (the item must not exist) and returns it with its generated fields.
    pub fn create<E: Entity>(&mut self, new: E::New) -> Result<E> {
        self.table.admit::<E>()?;
        let now = crate::autogen::now();
        let entity = E::from_new(new, now, self.table)?;
        let key = entity.key().item_key(self.table)?;
        let item = item::encode(&entity, key.clone(), now, self.table)?;
        if E::AUDITED {
            // A create needs no read: there is no old item, so its record is made now.
            let plan = audit::create_plan::<E>(self.table, item);
            let writes = audit::deferred::<E, _>(self.table, key.clone(), plan)(None)?;
            for (i, write) in writes.into_iter().enumerate() {
                let (entity, key) = match i {
                    0 => (E::TYPE, key.clone()),
                    _ => (audit::AUDIT_TYPE, self.key_of(&write)),
                };
                self.push(entity, key, write);
            }
            return Ok(entity);
        }
        let put = Put::builder()
            .table_name(self.table.name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", self.table.partition_key())
            .build()
            .map_err(|e| self.build_error(E::TYPE, e))?;
        self.push(E::TYPE, key, TransactWriteItem::builder().put(put).build());
        Ok(entity)
    }

    /// Puts an entity (create or replace; a versioned one over the version it holds).
    pub fn put<E: Entity>(&mut self, entity: &E) -> Result<&mut Self> {
        self.put_where(entity, None)
    }

    /// Puts an entity where `condition` holds for the item as stored.
    pub fn put_if<E: Entity>(&mut self, entity: &E, condition: Condition<E>) -> Result<&mut Self> {
        self.put_where(entity, Some(condition))
    }

    fn put_where<E: Entity>(
        &mut self,
        entity: &E,
        user: Option<Condition<E>>,
    ) -> Result<&mut Self> {
        let prepared = put::prepare(self.table, entity, user.as_ref())?;
        if E::AUDITED {
            let key = prepared.key.clone();
            self.defer::<E, _>(key, audit::put_plan::<E>(self.table, prepared));
            return Ok(self);
        }
        let put = Put::builder()
            .table_name(self.table.name())
            .set_item(Some(prepared.item))
            .condition_expression(prepared.condition)
            .set_expression_attribute_names(Some(prepared.names))
            .set_expression_attribute_values(
                (!prepared.values.is_empty()).then_some(prepared.values),
            )
            .build()
            .map_err(|e| self.build_error(E::TYPE, e))?;
        self.push(
            E::TYPE,
            prepared.key,
            TransactWriteItem::builder().put(put).build(),
        );
        Ok(self)
    }

    /// Adds an update built with the entity's update builder (`Team::update(..).add_..()`).
    pub fn update<'u: 't, E: Entity>(
        &mut self,
        update: impl Into<Update<'u, E>>,
    ) -> Result<&mut Self> {
        let plan = update.into().plan()?;
        if E::AUDITED {
            let key = plan.key.clone();
            self.defer::<E, _>(key, audit::update_plan(plan));
            return Ok(self);
        }
        let built = plan.into_built()?;
        let action = UpdateAction::builder()
            .table_name(self.table.name())
            .set_key(Some(item::key_item(built.key.clone(), self.table)))
            .update_expression(built.update)
            .condition_expression(built.condition)
            .set_expression_attribute_names(Some(built.names))
            .set_expression_attribute_values(Some(built.values))
            .build()
            .map_err(|e| self.build_error(E::TYPE, e))?;
        self.push(
            E::TYPE,
            built.key,
            TransactWriteItem::builder().update(action).build(),
        );
        Ok(self)
    }

    /// Deletes the item of `E` at `key` (an absent item is no failure). A `soft_delete` entity's
    /// item is marked deleted instead, as [`Entity::delete`] does; unless the entity is also
    /// audited (its write is then made from a read), the mark needs a live item there, and the
    /// transaction is canceled otherwise.
    pub fn delete<E: Entity>(&mut self, key: E::Key<'_>) -> Result<&mut Self> {
        self.table.admit::<E>()?;
        let key = key.item_key(self.table)?;
        if E::AUDITED {
            let table = self.table;
            match E::SOFT_DELETE {
                true => {
                    self.defer::<E, _>(key.clone(), audit::mark_plan::<E>(table, key, None, true))
                }
                false => self.defer::<E, _>(
                    key.clone(),
                    audit::delete_plan::<E>(table, key, None, false),
                ),
            }
            return Ok(self);
        }
        if E::SOFT_DELETE {
            let mut names = HashMap::from([
                ("#pk".to_owned(), self.table.partition_key().to_owned()),
                ("#type".to_owned(), TYPE_ATTRIBUTE.to_owned()),
            ]);
            let mut values =
                HashMap::from([(":type".to_owned(), AttributeValue::S(E::TYPE.into()))]);
            let update = DeletionMark::now(self.table).update("", &mut names, &mut values);
            let mark = UpdateAction::builder()
                .table_name(self.table.name())
                .set_key(Some(item::key_item(key.clone(), self.table)))
                .update_expression(update)
                .condition_expression(
                    "attribute_exists(#pk) AND #type = :type AND attribute_not_exists(#deleted)",
                )
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .build()
                .map_err(|e| self.build_error(E::TYPE, e))?;
            let action = TransactWriteItem::builder().update(mark).build();
            self.push(E::TYPE, key, action);
            return Ok(self);
        }
        let delete = Delete::builder()
            .table_name(self.table.name())
            .set_key(Some(item::key_item(key.clone(), self.table)))
            .condition_expression("attribute_not_exists(#pk) OR #type = :type")
            .expression_attribute_names("#pk", self.table.partition_key())
            .expression_attribute_names("#type", TYPE_ATTRIBUTE)
            .expression_attribute_values(":type", AttributeValue::S(E::TYPE.into()))
            .build()
            .map_err(|e| self.build_error(E::TYPE, e))?;
        self.push(
            E::TYPE,
            key,
            TransactWriteItem::builder().delete(delete).build(),
        );
        Ok(self)
    }

    /// Requires `condition` to hold for the item of `E` at `key`, without writing it.
    pub fn check<E: Entity>(
        &mut self,
        key: E::Key<'_>,
        condition: Condition<E>,
    ) -> Result<&mut Self> {
        self.table.admit::<E>()?;
        let key = key.item_key(self.table)?;
        let mut names = Names::default();
        let mut expression = String::from("#type = :type");
        condition::append::<E>(&mut expression, Some(&condition), None, &mut names)?;
        let mut attribute_names: HashMap<String, String> = names.names.into_iter().collect();
        let mut values: HashMap<String, AttributeValue> = names.values.into_iter().collect();
        attribute_names.insert("#type".into(), TYPE_ATTRIBUTE.into());
        values.insert(":type".into(), AttributeValue::S(E::TYPE.into()));
        let check = ConditionCheck::builder()
            .table_name(self.table.name())
            .set_key(Some(item::key_item(key.clone(), self.table)))
            .condition_expression(expression)
            .set_expression_attribute_names(Some(attribute_names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| self.build_error(E::TYPE, e))?;
        self.push(
            E::TYPE,
            key,
            TransactWriteItem::builder().condition_check(check).build(),
        );
        Ok(self)
    }

    /// The number of actions so far.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// Whether the transaction has no action.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    fn push(&mut self, entity: &'static str, key: ItemKey, action: TransactWriteItem) {
        self.actions.push(Entry {
            entity,
            key,
            action: Action::Ready(Box::new(action)),
        });
    }

    /// The key of the item a put writes.
    fn key_of(&self, write: &TransactWriteItem) -> ItemKey {
        write
            .put()
            .map(|put| item::item_key_of(put.item(), self.table))
            .unwrap_or_default()
    }

    fn defer<E: Entity, T>(
        &mut self,
        key: ItemKey,
        plan: impl FnMut(Option<&Item>) -> Result<audit::Step<T>> + Send + 't,
    ) {
        let deferred = audit::deferred::<E, T>(self.table, key.clone(), plan);
        self.actions.push(Entry {
            entity: E::TYPE,
            key,
            action: Action::Audited(deferred),
        });
    }

    fn build_error(
        &self,
        entity: &'static str,
        error: aws_sdk_dynamodb::error::BuildError,
    ) -> Error {
        ops::sdk_error(self.table, "TransactWriteItems", entity, error)
    }

    /// Applies every action, or none. Refused before sending: more than 100 actions (audit
    /// records included), or two actions on one item. A cancellation gives
    /// [`Error::TransactionCanceled`] with the reason of each failing action.
    pub async fn send(mut self) -> Result<()> {
        let entity = self.actions.first().map_or("(transaction)", |e| e.entity);
        for (i, entry) in self.actions.iter().enumerate() {
            if self.actions[..i].iter().any(|other| other.key == entry.key) {
                return Err(Error::InvalidRequest {
                    entity: entry.entity,
                    reason: format!(
                        "the transaction acts on {} twice; DynamoDB refuses that",
                        entry.key
                    ),
                });
            }
        }
        let audited = self
            .actions
            .iter()
            .any(|entry| matches!(entry.action, Action::Audited(_)));
        let attempts = if audited && self.token.is_none() {
            audit::ATTEMPTS
        } else {
            1
        };
        let mut attempt = 0;
        loop {
            let (labels, items, reads) = self.items(attempts > 1).await?;
            if items.len() > MAX_ACTIONS {
                return Err(Error::Limit {
                    entity,
                    what: "actions in a transaction (audit records included)",
                    limit: MAX_ACTIONS,
                    got: items.len(),
                });
            }
            let error = match send(self.table, entity, items, self.token.clone()).await {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) =
                error.as_service_error()
            else {
                return Err(ops::sdk_error(
                    self.table,
                    "TransactWriteItems",
                    entity,
                    error,
                ));
            };
            let reasons = canceled.cancellation_reasons();
            // An audited write that lost a race with another writer is read and made again.
            let raced = reads.iter().any(|(index, old)| {
                reasons
                    .get(*index)
                    .is_some_and(|reason| match reason.code() {
                        Some("TransactionConflict") => true,
                        Some("ConditionalCheckFailed") => audit::raced(old.as_ref(), reason.item()),
                        _ => false,
                    })
            });
            attempt += 1;
            if raced && attempt < attempts {
                tracing::debug!(
                    entity,
                    attempt,
                    "audited transaction raced another; retrying"
                );
                audit::pause(attempt).await;
                continue;
            }
            let reasons = reasons
                .iter()
                .zip(labels)
                .enumerate()
                .filter(|(_, (reason, _))| reason.code().is_some_and(|code| code != "None"))
                .map(|(index, (reason, (entity, key)))| CancelReason {
                    index,
                    entity,
                    key,
                    code: reason.code().unwrap_or_default().to_owned(),
                    message: reason.message().map(str::to_owned),
                })
                .collect();
            return Err(Error::TransactionCanceled { reasons });
        }
    }

    /// The items to send, with what names each, and for each audited write its position and the
    /// item it was made from. Audited writes are made from a fresh consistent read.
    /// Ready items are moved out unless `keep` (for another attempt).
    async fn items(&mut self, keep: bool) -> Result<Items> {
        let table = self.table;
        let reads = futures::future::try_join_all(self.actions.iter().map(|entry| async move {
            match entry.action {
                Action::Audited(_) => ops::get::stored(table, entry.entity, &entry.key)
                    .await
                    .map(Some),
                Action::Ready(_) => Ok(None),
            }
        }))
        .await?;
        let mut labels = Vec::with_capacity(self.actions.len());
        let mut items = Vec::with_capacity(self.actions.len());
        let mut made_from = Vec::new();
        for (entry, read) in self.actions.iter_mut().zip(reads) {
            match (&mut entry.action, read) {
                (Action::Ready(item), _) => {
                    labels.push((entry.entity, entry.key.clone()));
                    items.push(match keep {
                        true => TransactWriteItem::clone(item),
                        false => {
                            std::mem::replace(item.as_mut(), TransactWriteItem::builder().build())
                        }
                    });
                }
                (Action::Audited(make), read) => {
                    let old = read.flatten();
                    let writes = make(old.as_ref())?;
                    if !writes.is_empty() {
                        made_from.push((items.len(), old));
                    }
                    for (i, write) in writes.into_iter().enumerate() {
                        let label = if i == 0 {
                            entry.entity
                        } else {
                            audit::AUDIT_TYPE
                        };
                        labels.push((label, entry.key.clone()));
                        items.push(write);
                    }
                }
            }
        }
        Ok((labels, items, made_from))
    }
}

/// What [`Transaction::items`] makes.
type Items = (
    Vec<(&'static str, ItemKey)>,
    Vec<TransactWriteItem>,
    Vec<(usize, Option<Item>)>,
);

/// Sends one `TransactWriteItems`.
async fn send(
    table: &Table,
    entity: &'static str,
    items: Vec<TransactWriteItem>,
    token: Option<String>,
) -> std::result::Result<(), SdkError<TransactWriteItemsError, HttpResponse>> {
    let span = tracing::debug_span!(
        "dynamodb",
        operation = "TransactWriteItems",
        table = table.name(),
        entity,
        actions = items.len(),
    );
    table
        .client()
        .transact_write_items()
        .set_transact_items(Some(items))
        .set_client_request_token(token)
        .send()
        .instrument(span)
        .await
        .map(|_| ())
}
