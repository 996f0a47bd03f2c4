//! Transactions: up to 100 creates, puts, updates, deletes and condition checks on any entities,
//! applied all together or not at all.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update as UpdateAction,
};
use tracing::Instrument;

use crate::entity::{Entity, EntityKey};
use crate::error::{Error, ItemKey, Result};
use crate::expr::{Condition, Names};
use crate::item::{self, TYPE_ATTRIBUTE};
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
    actions: Vec<(&'static str, ItemKey, TransactWriteItem)>,
    token: Option<String>,
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
        let has_condition = prepared.condition.is_some();
        let put = Put::builder()
            .table_name(self.table.name())
            .set_item(Some(prepared.item))
            .set_condition_expression(prepared.condition)
            .set_expression_attribute_names(has_condition.then_some(prepared.names))
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
    pub fn update<'u, E: Entity>(&mut self, update: impl Into<Update<'u, E>>) -> Result<&mut Self> {
        let built = update.into().build()?;
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

    /// Deletes the item of `E` at `key` (an absent item is no failure).
    pub fn delete<E: Entity>(&mut self, key: E::Key<'_>) -> Result<&mut Self> {
        self.table.admit::<E>()?;
        let key = key.item_key(self.table)?;
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
        self.actions.push((entity, key, action));
    }

    fn build_error(
        &self,
        entity: &'static str,
        error: aws_sdk_dynamodb::error::BuildError,
    ) -> Error {
        ops::sdk_error(self.table, "TransactWriteItems", entity, error)
    }

    /// Applies every action, or none. Refused before sending: more than 100 actions, or two
    /// actions on one item. A cancellation gives [`Error::TransactionCanceled`] with the reason
    /// of each failing action.
    pub async fn send(self) -> Result<()> {
        let entity = self
            .actions
            .first()
            .map_or("(transaction)", |(entity, _, _)| entity);
        if self.actions.len() > MAX_ACTIONS {
            return Err(Error::Limit {
                entity,
                what: "actions in a transaction",
                limit: MAX_ACTIONS,
                got: self.actions.len(),
            });
        }
        for (i, (entity, key, _)) in self.actions.iter().enumerate() {
            if self.actions[..i].iter().any(|(_, other, _)| other == key) {
                return Err(Error::InvalidRequest {
                    entity,
                    reason: format!("the transaction acts on {key} twice; DynamoDB refuses that"),
                });
            }
        }
        let table = self.table;
        let (mut labels, mut items) = (
            Vec::with_capacity(self.actions.len()),
            Vec::with_capacity(self.actions.len()),
        );
        for (entity, key, item) in self.actions {
            labels.push((entity, key));
            items.push(item);
        }
        let span = tracing::debug_span!(
            "dynamodb",
            operation = "TransactWriteItems",
            table = table.name(),
            entity,
            actions = items.len(),
        );
        let result = table
            .client()
            .transact_write_items()
            .set_transact_items(Some(items))
            .set_client_request_token(self.token)
            .send()
            .instrument(span)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(canceled)) => {
                    let reasons = canceled
                        .cancellation_reasons()
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
                    Err(Error::TransactionCanceled { reasons })
                }
                _ => Err(ops::sdk_error(table, "TransactWriteItems", entity, error)),
            },
        }
    }
}
