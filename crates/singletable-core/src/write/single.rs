//! The executor of single-item writes: every `PutItem`, `UpdateItem` and `DeleteItem` the
//! library sends is a [`Write`] sent here, through the request layer, with the item as stored
//! returned when its guard fails. Operations only decide what a refusal means to their caller.

use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use crate::codec::Item;
use crate::error::{ItemKey, Result};
use crate::item;
use crate::request::{self, Sent};
use crate::table::Table;

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
pub(crate) struct Write<'k> {
    pub(crate) entity: &'static str,
    pub(crate) key: &'k ItemKey,
    pub(crate) action: Action,
    /// The guard: the write holds only where it holds.
    pub(crate) condition: String,
    pub(crate) names: HashMap<String, String>,
    pub(crate) values: HashMap<String, AttributeValue>,
    /// What the answer returns: the item before (`AllOld`), after (`AllNew`) or nothing.
    pub(crate) returns: Option<ReturnValue>,
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
pub(crate) async fn send(table: &Table, write: Write<'_>) -> Result<Outcome> {
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
                key,
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
                key,
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
                key,
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
