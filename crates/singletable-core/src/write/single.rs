//! The executor of single-item writes: every `PutItem`, `UpdateItem` and `DeleteItem` the
//! library sends is a [`Write`] sent here, through the request layer, with the item as stored
//! returned when its guard fails. Operations only decide what a refusal means to their caller.

use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};

use crate::codec::Item;
use crate::error::{ItemKey, Result};
use crate::expr::{Condition, Names};
use crate::item;
use crate::request::{self, sdk_error, Sent};
use crate::schema::Schema;
use crate::table::Table;
use crate::write::condition;
use crate::write::mark::DeletionMark;

/// What a write does to its item.
pub(crate) enum Action {
    /// Stores this item (key attributes included).
    Put(Item),
    /// Applies this update expression.
    Update(String),
    /// Removes the item.
    Delete,
}

/// One write of one item and its guard.
pub(crate) struct Write {
    pub(crate) entity: &'static str,
    pub(crate) key: ItemKey,
    pub(crate) action: Action,
    /// The guard: the write holds only where it holds.
    pub(crate) condition: String,
    pub(crate) names: HashMap<String, String>,
    pub(crate) values: HashMap<String, AttributeValue>,
    /// What the answer returns: the item before (`AllOld`), after (`AllNew`) or nothing.
    pub(crate) returns: Option<ReturnValue>,
}

impl Write {
    /// A create of `E`'s item `item` at `key`: only where there is no item.
    pub(crate) fn create<E: Schema>(table: &Table, key: ItemKey, item: Item) -> Write {
        Write {
            entity: E::TYPE,
            key,
            action: Action::Put(item),
            condition: "attribute_not_exists(#pk)".into(),
            names: HashMap::from([("#pk".to_owned(), table.partition_key().to_owned())]),
            values: HashMap::new(),
            returns: None,
        }
    }

    /// A delete of `E`'s item at `key` (an absent item is no failure), where `user` holds;
    /// never of another entity type's item. Returns the item it removed.
    pub(crate) fn delete<E: Schema>(
        table: &Table,
        key: ItemKey,
        user: Option<&Condition<E>>,
    ) -> Result<Write> {
        let mut names = Names::default();
        let mut condition = String::from("(attribute_not_exists(#pk) OR #type = :type)");
        condition::append::<E>(&mut condition, user, None, &mut names)?;
        let (names, values) = condition::with_type_guard::<E>(table, names);
        Ok(Write {
            entity: E::TYPE,
            key,
            action: Action::Delete,
            condition,
            names,
            values,
            returns: Some(ReturnValue::AllOld),
        })
    }

    /// The soft-delete mark on `E`'s live item at `key`, where `user` holds. Returns the item
    /// as marked.
    pub(crate) fn mark<E: Schema>(
        table: &Table,
        key: ItemKey,
        user: Option<&Condition<E>>,
    ) -> Result<Write> {
        let mut names = Names::default();
        let update = DeletionMark::now(table).update("", &mut names.names, &mut names.values);
        let mut condition =
            "attribute_exists(#pk) AND #type = :type AND attribute_not_exists(#deleted)".to_owned();
        condition::append::<E>(&mut condition, user, None, &mut names)?;
        let (names, values) = condition::with_type_guard::<E>(table, names);
        Ok(Write {
            entity: E::TYPE,
            key,
            action: Action::Update(update),
            condition,
            names,
            values,
            returns: Some(ReturnValue::AllNew),
        })
    }

    /// The same write as one action of a transaction, with the same guard (and the item as
    /// stored in its cancel reason when the guard fails).
    pub(crate) fn into_transact(self, table: &Table) -> Result<TransactWriteItem> {
        let Write {
            entity,
            key,
            action,
            condition,
            names,
            values,
            ..
        } = self;
        let built = |e| sdk_error(table, "TransactWriteItems", entity, e);
        let values = (!values.is_empty()).then_some(values);
        let old = ReturnValuesOnConditionCheckFailure::AllOld;
        let transact = TransactWriteItem::builder();
        Ok(match action {
            Action::Put(stored) => transact.put(
                Put::builder()
                    .table_name(table.name())
                    .set_item(Some(stored))
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(values)
                    .return_values_on_condition_check_failure(old)
                    .build()
                    .map_err(built)?,
            ),
            Action::Update(update) => transact.update(
                Update::builder()
                    .table_name(table.name())
                    .set_key(Some(item::key_item(key, table)))
                    .update_expression(update)
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(values)
                    .return_values_on_condition_check_failure(old)
                    .build()
                    .map_err(built)?,
            ),
            Action::Delete => transact.delete(
                Delete::builder()
                    .table_name(table.name())
                    .set_key(Some(item::key_item(key, table)))
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(values)
                    .return_values_on_condition_check_failure(old)
                    .build()
                    .map_err(built)?,
            ),
        }
        .build())
    }
}

/// How a write ended, other than in an error.
pub(crate) enum Outcome {
    /// Written; the item as asked for by [`Write::returns`].
    Done(Option<Item>),
    /// The guard did not hold: nothing was written by this attempt. `stored` is the item as it
    /// was; `maybe_applied` tells that an earlier attempt, whose reply was lost, may have
    /// written it.
    Refused {
        stored: Option<Item>,
        maybe_applied: bool,
    },
}

/// Sends `write`. Failures other than its guard come back as errors naming the key
/// ([`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown) where an attempt may have applied).
pub(crate) async fn send(table: &Table, write: Write) -> Result<Outcome> {
    let Write {
        entity,
        key,
        action,
        condition,
        names,
        values,
        returns,
    } = write;
    let client = table.client();
    let values = (!values.is_empty()).then_some(values);
    let old = ReturnValuesOnConditionCheckFailure::AllOld;
    match action {
        Action::Put(item) => {
            let sent = request::send(
                table,
                "PutItem",
                entity,
                |capacity| {
                    client
                        .put_item()
                        .table_name(table.name())
                        .set_item(Some(item))
                        .condition_expression(condition)
                        .set_expression_attribute_names(Some(names))
                        .set_expression_attribute_values(values)
                        .set_return_values(returns)
                        .return_values_on_condition_check_failure(old)
                        .set_return_consumed_capacity(capacity)
                },
                |request| request.send(),
            )
            .await;
            answer(
                table,
                "PutItem",
                entity,
                &key,
                sent,
                |o| o.attributes,
                |e| match e {
                    PutItemError::ConditionalCheckFailedException(failed) => {
                        Some(failed.item().cloned())
                    }
                    _ => None,
                },
            )
        }
        Action::Update(update) => {
            let sent = request::send(
                table,
                "UpdateItem",
                entity,
                |capacity| {
                    client
                        .update_item()
                        .table_name(table.name())
                        .set_key(Some(item::key_item(key.clone(), table)))
                        .update_expression(update)
                        .condition_expression(condition)
                        .set_expression_attribute_names(Some(names))
                        .set_expression_attribute_values(values)
                        .set_return_values(returns)
                        .return_values_on_condition_check_failure(old)
                        .set_return_consumed_capacity(capacity)
                },
                |request| request.send(),
            )
            .await;
            answer(
                table,
                "UpdateItem",
                entity,
                &key,
                sent,
                |o| o.attributes,
                |e| match e {
                    UpdateItemError::ConditionalCheckFailedException(failed) => {
                        Some(failed.item().cloned())
                    }
                    _ => None,
                },
            )
        }
        Action::Delete => {
            let sent = request::send(
                table,
                "DeleteItem",
                entity,
                |capacity| {
                    client
                        .delete_item()
                        .table_name(table.name())
                        .set_key(Some(item::key_item(key.clone(), table)))
                        .condition_expression(condition)
                        .set_expression_attribute_names(Some(names))
                        .set_expression_attribute_values(values)
                        .set_return_values(returns)
                        .return_values_on_condition_check_failure(old)
                        .set_return_consumed_capacity(capacity)
                },
                |request| request.send(),
            )
            .await;
            answer(
                table,
                "DeleteItem",
                entity,
                &key,
                sent,
                |o| o.attributes,
                |e| match e {
                    DeleteItemError::ConditionalCheckFailedException(failed) => {
                        Some(failed.item().cloned())
                    }
                    _ => None,
                },
            )
        }
    }
}

/// The outcome of one sent write: done with the returned item, refused with the item as
/// stored (`refusal` finds it in a failed guard's error), or the error.
fn answer<O, E>(
    table: &Table,
    operation: &'static str,
    entity: &'static str,
    key: &ItemKey,
    sent: Sent<O, E>,
    returned: impl FnOnce(O) -> Option<Item>,
    refusal: impl FnOnce(&E) -> Option<Option<Item>>,
) -> Result<Outcome>
where
    E: ProvideErrorMetadata,
    aws_sdk_dynamodb::Error: From<SdkError<E, HttpResponse>>,
{
    let error = match sent.result {
        Ok(output) => return Ok(Outcome::Done(returned(output))),
        Err(error) => error,
    };
    if let Some(stored) = error.as_service_error().and_then(refusal) {
        return Ok(Outcome::Refused {
            stored,
            maybe_applied: sent.maybe_applied,
        });
    }
    Err(request::write_failed(
        table,
        operation,
        entity,
        key,
        error,
        sent.maybe_applied,
    ))
}
