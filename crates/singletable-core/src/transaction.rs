//! Transactions: up to 100 creates, puts, updates, deletes and condition checks on any entities,
//! applied all together or not at all.
//!
//! A write of an `#[entity(audit)]` entity brings its audit record into the same transaction,
//! and a write of an entity with `#[entity(unique)]` fields the guards of the values it takes or
//! frees. Old values need the item as stored, so such a write is made at `send`, from a
//! consistent read (a create needs none, and is made at once); when another writer changes the
//! item between that read and the transaction, `send` reads and tries again (unless the
//! transaction has an idempotency token, which a changed request would not match). A value
//! another item holds cancels the transaction with [`Error::Duplicate`].

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};

use crate::error::{CancelReason, Error, ItemKey, Result};
use crate::expr::{Condition, Names};
use crate::item::{self, Item, TYPE_ATTRIBUTE, UNIQUE_TYPE};
use crate::ops::update::Update;
use crate::request::{self, sdk_error};
use crate::schema::{EntityKey, Schema};
use crate::table::Table;
use crate::tenant::Binding;
use crate::write::audited::{self as audit, Part};
use crate::write::record::AUDIT_TYPE;
use crate::write::single::{self, Write};
use crate::write::{condition, put};

/// DynamoDB's limit on actions in one transaction.
const MAX_ACTIONS: usize = 100;

/// Writes and checks that succeed or fail together.
///
/// ```ignore
/// let mut tx = Transaction::new(&table);
/// let member = tx.create::<TeamMember>(new_member)?;
/// tx.update(Team::update(&table, team.key()).add(Team::FIELDS.member_count, 1))?;
/// tx.check::<Organization>(org.key(), Organization::FIELDS.plan.ne(Plan::Free))?;
/// tx.send().await?;
/// ```
#[must_use = "a transaction does nothing until `send()` is awaited"]
#[derive(Debug)]
pub struct Transaction<'t> {
    table: &'t Table,
    actions: Vec<Entry<'t>>,
    token: Option<String>,
    tenant: Binding,
}

/// One action, and what names it in errors.
struct Entry<'t> {
    entity: &'static str,
    key: ItemKey,
    /// The position of the caller's action this entry belongs to.
    index: usize,
    /// What the entry is to that action: its write, or its audit record or a unique guard (an
    /// audited or unique create's, made at once).
    part: Part,
    action: Action<'t>,
}

enum Action<'t> {
    Ready(Box<TransactWriteItem>),
    /// A write of an audited entity or one with unique fields, with its record and guards: made
    /// at `send` from the item as read.
    Audited(audit::Deferred<'t>),
}

impl std::fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let action: &dyn std::fmt::Debug = match &self.action {
            Action::Ready(item) => item,
            Action::Audited(_) => &"(write made at send, from a read)",
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
            tenant: Binding::default(),
        }
    }

    /// Makes retries of this transaction (with the same token, within 10 minutes) apply once.
    pub fn idempotency_token(&mut self, token: impl Into<String>) -> &mut Self {
        self.token = Some(token.into());
        self
    }

    /// Creates an entity (the item must not exist) and returns it with its generated fields.
    pub fn create<E: Schema>(&mut self, new: E::New) -> Result<E> {
        crate::tenant::admit::<E>(self.table)?;
        self.tenant.bind::<E>(self.table)?;
        let now = crate::autogen::now();
        let entity = E::from_new(new, now, self.table)?;
        let key = entity.key().item_key(self.table)?;
        let item = item::encode(&entity, key.clone(), now, self.table)?;
        if audit::from_read::<E>() {
            // A create needs no read: there is no old item, so its record and guards are made
            // now.
            let plan = audit::create_plan::<E>(self.table, item);
            let writes = audit::deferred::<E, _>(self.table, key, plan)(None)?;
            for made in writes {
                let entity = entity_of(E::TYPE, &made.part);
                let action = Action::Ready(Box::new(made.item));
                self.push_entry(entity, made.key, made.part, action);
            }
            return Ok(entity);
        }
        self.push_write(Write::create::<E>(self.table, key, item))?;
        Ok(entity)
    }

    /// Puts an entity (create or replace; a versioned one over the version it holds).
    pub fn put<E: Schema>(&mut self, entity: &E) -> Result<&mut Self> {
        self.put_where(entity, None)
    }

    /// Puts an entity where `condition` holds for the item as stored.
    pub fn put_if<E: Schema>(&mut self, entity: &E, condition: Condition<E>) -> Result<&mut Self> {
        self.put_where(entity, Some(condition))
    }

    fn put_where<E: Schema>(
        &mut self,
        entity: &E,
        user: Option<Condition<E>>,
    ) -> Result<&mut Self> {
        let prepared = put::prepare(self.table, entity, user.as_ref())?;
        if audit::from_read::<E>() {
            let key = prepared.key.clone();
            self.defer::<E, _>(key, audit::put_plan::<E>(self.table, prepared));
            return Ok(self);
        }
        self.push_write(Write {
            entity: E::TYPE,
            key: prepared.key,
            action: single::Action::Put(prepared.item),
            condition: prepared.condition,
            names: prepared.names,
            values: prepared.values,
            returns: None,
        })?;
        Ok(self)
    }

    /// Adds an update (`Team::update(..).add(Team::FIELDS.member_count, 1)`).
    pub fn update<'u: 't, E: Schema>(&mut self, update: Update<'u, E>) -> Result<&mut Self> {
        let plan = update.plan()?;
        if audit::from_read::<E>() {
            let key = plan.key.clone();
            self.defer::<E, _>(key, audit::update_plan(plan));
            return Ok(self);
        }
        let built = plan.into_built(false)?;
        self.push_write(Write {
            entity: E::TYPE,
            key: built.key,
            action: single::Action::Update(built.update),
            condition: built.condition,
            names: built.names,
            values: built.values,
            returns: None,
        })?;
        Ok(self)
    }

    /// Deletes the item of `E` at `key` (an absent item is no failure). A `soft_delete` entity's
    /// item is marked deleted instead, as [`Entity::delete`](crate::Entity::delete) does; unless the entity is also
    /// audited or has unique fields (its write is then made from a read), the mark needs a live
    /// item there, and the transaction is canceled otherwise. The delete of an item with unique
    /// fields frees its values (a soft delete keeps them until the item is purged).
    pub fn delete<E: Schema>(&mut self, key: E::Key<'_>) -> Result<&mut Self> {
        crate::tenant::admit::<E>(self.table)?;
        self.tenant.bind::<E>(self.table)?;
        let key = key.item_key(self.table)?;
        if audit::from_read::<E>() {
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
        let write = match E::SOFT_DELETE {
            true => Write::mark::<E>(self.table, key, None)?,
            false => Write::delete::<E>(self.table, key, None)?,
        };
        self.push_write(write)?;
        Ok(self)
    }

    /// Requires `condition` to hold for the item of `E` at `key`, without writing it.
    pub fn check<E: Schema>(
        &mut self,
        key: E::Key<'_>,
        condition: Condition<E>,
    ) -> Result<&mut Self> {
        crate::tenant::admit::<E>(self.table)?;
        self.tenant.bind::<E>(self.table)?;
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

    /// The number of actions so far (audit records and unique guards not counted).
    pub fn len(&self) -> usize {
        self.next_index()
    }

    /// Whether the transaction has no action.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The position the next action of the caller takes.
    fn next_index(&self) -> usize {
        // Every entry belongs to an action: the last one's, if it is a record or a guard.
        self.actions.last().map_or(0, |entry| entry.index + 1)
    }

    /// Adds a write, made by the same plans the single operations send.
    fn push_write(&mut self, write: Write) -> Result<()> {
        let (entity, key) = (write.entity, write.key.clone());
        let action = write.into_transact(self.table)?;
        self.push_entry(entity, key, Part::Item, Action::Ready(Box::new(action)));
        Ok(())
    }

    fn push(&mut self, entity: &'static str, key: ItemKey, action: TransactWriteItem) {
        self.push_entry(entity, key, Part::Item, Action::Ready(Box::new(action)));
    }

    fn push_entry(&mut self, entity: &'static str, key: ItemKey, part: Part, action: Action<'t>) {
        let index = match part {
            Part::Item => self.next_index(),
            _ => self.next_index().saturating_sub(1),
        };
        self.actions.push(Entry {
            entity,
            key,
            index,
            part,
            action,
        });
    }

    fn defer<E: Schema, T>(
        &mut self,
        key: ItemKey,
        plan: impl FnMut(Option<&Item>) -> Result<audit::Step<T>> + Send + 't,
    ) {
        let deferred = audit::deferred::<E, T>(self.table, key.clone(), plan);
        self.push_entry(E::TYPE, key, Part::Item, Action::Audited(deferred));
    }

    fn build_error(
        &self,
        entity: &'static str,
        error: aws_sdk_dynamodb::error::BuildError,
    ) -> Error {
        sdk_error(self.table, "TransactWriteItems", entity, error)
    }

    /// Applies every action, or none. Refused before sending: more than 100 actions (audit
    /// records and unique guards included), or two actions on one item. A cancellation gives
    /// [`Error::TransactionCanceled`] with the reason of each failing action, or
    /// [`Error::Duplicate`] when a unique value is another item's.
    pub async fn send(mut self) -> Result<()> {
        let entity = self.actions.first().map_or("(transaction)", |e| e.entity);
        self.tenant.check(entity, self.table)?;
        // Before the reads: the caller's own actions (their records and guards are checked
        // once made).
        let own = |entry: &&Entry| matches!(entry.part, Part::Item);
        for (i, entry) in self.actions.iter().enumerate().filter(|(_, e)| own(e)) {
            if self.actions[..i]
                .iter()
                .filter(own)
                .any(|other| other.key == entry.key)
            {
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
            taken_twice(&labels)?;
            if items.len() > MAX_ACTIONS {
                return Err(Error::Limit {
                    entity,
                    what: "actions in a transaction (audit records and unique guards included)",
                    limit: MAX_ACTIONS,
                    got: items.len(),
                });
            }
            // Without the caller's token, each attempt has its own: the request layer's retries
            // of a lost reply reuse it, and DynamoDB applies a transaction once per token.
            let token = self
                .token
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let first_key = labels
                .first()
                .map(|label| label.key.clone())
                .unwrap_or_default();
            let client = self.table.client();
            let sent = request::send(
                self.table,
                "TransactWriteItems",
                entity,
                |capacity| {
                    client
                        .transact_write_items()
                        .set_transact_items(Some(items))
                        .client_request_token(token)
                        .set_return_consumed_capacity(capacity)
                },
                |request| request.send(),
            )
            .await;
            let error = match sent.result {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) =
                error.as_service_error()
            else {
                return Err(request::write_failed(
                    self.table,
                    "TransactWriteItems",
                    entity,
                    &first_key,
                    error,
                    sent.maybe_applied,
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
                audit::pause(self.table, attempt).await;
                continue;
            }
            let codes = reasons.iter().map(|reason| reason.code());
            if let Some(refused) = audit::guard_refused(labels.iter().map(|l| &l.part), codes) {
                return Err(refused);
            }
            let reasons = reasons
                .iter()
                .zip(labels)
                .filter(|(reason, _)| reason.code().is_some_and(|code| code != "None"))
                .map(|(reason, label)| CancelReason {
                    index: label.action,
                    entity: label.entity,
                    key: label.key,
                    audit_record: matches!(label.part, Part::Record),
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
        // Owned keys, so that the reads hold no borrow of the actions across their awaits.
        let to_read: Vec<Option<(&'static str, ItemKey)>> = self
            .actions
            .iter()
            .map(|entry| match entry.action {
                Action::Audited(_) => Some((entry.entity, entry.key.clone())),
                Action::Ready(_) => None,
            })
            .collect();
        let reads = futures::future::try_join_all(to_read.into_iter().map(|read| async move {
            match read {
                Some((entity, key)) => request::stored(table, entity, &key).await.map(Some),
                None => Ok(None),
            }
        }))
        .await?;
        let mut labels = Vec::with_capacity(self.actions.len());
        let mut items = Vec::with_capacity(self.actions.len());
        let mut made_from = Vec::new();
        for (entry, read) in self.actions.iter_mut().zip(reads) {
            let action = entry.index;
            match (&mut entry.action, read) {
                (Action::Ready(item), _) => {
                    labels.push(Label {
                        action,
                        entity: entry.entity,
                        key: entry.key.clone(),
                        part: entry.part.clone(),
                    });
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
                    for made in writes {
                        labels.push(Label {
                            action,
                            entity: entity_of(entry.entity, &made.part),
                            key: made.key,
                            part: made.part,
                        });
                        items.push(made.item);
                    }
                }
            }
        }
        Ok((labels, items, made_from))
    }
}

/// The `_type` an item of the action on `entity` writes, as `part` of it.
fn entity_of(entity: &'static str, part: &Part) -> &'static str {
    match part {
        Part::Item => entity,
        Part::Record => AUDIT_TYPE,
        Part::Guard(_) => UNIQUE_TYPE,
    }
}

/// Refuses a request that writes one item twice, which DynamoDB refuses: two actions taking one
/// unique value is [`Error::Duplicate`].
fn taken_twice(labels: &[Label]) -> Result<()> {
    for (i, label) in labels.iter().enumerate() {
        let Some(first) = labels[..i].iter().find(|other| other.key == label.key) else {
            continue;
        };
        return Err(match (&first.part, &label.part) {
            (Part::Guard(a), Part::Guard(b)) if a.takes && b.takes => b.refused(),
            _ => Error::InvalidRequest {
                entity: label.entity,
                reason: format!(
                    "the transaction acts on {} twice; DynamoDB refuses that",
                    label.key
                ),
            },
        });
    }
    Ok(())
}

/// What names one item of the request: the caller's action it belongs to, and what it is to
/// that action.
struct Label {
    action: usize,
    entity: &'static str,
    key: ItemKey,
    part: Part,
}

/// What [`Transaction::items`] makes.
type Items = (
    Vec<Label>,
    Vec<TransactWriteItem>,
    Vec<(usize, Option<Item>)>,
);
