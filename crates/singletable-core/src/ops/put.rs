//! `put`: create or replace.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use tracing::Instrument;

use super::{capacity_request, condition, record_capacity, sdk_error, span};
use crate::autogen;
use crate::entity::{Entity, EntityKey};
use crate::error::{Error, Result};
use crate::expr::{Condition, Names};
use crate::item;
use crate::table::Table;

/// Writes `entity`, replacing what is at its key (where `user` holds). `_timestamp` becomes the
/// time of this write: a replaced item is a new item. A versioned entity replaces only the
/// version it holds and is stored with the next one.
pub(crate) async fn put<E: Entity>(
    table: &Table,
    entity: &E,
    user: Option<Condition<E>>,
) -> Result<()> {
    table.admit::<E>()?;
    crate::tenant::check_owner(entity, table)?;
    let key = entity.key().item_key(table)?;
    let mut item = item::encode(entity, key.clone(), autogen::now(), table)?;
    let mut names = Names::default();
    let mut clauses = Vec::new();
    if let Some(user) = &user {
        clauses.push(condition::render(user, &mut names)?);
    }
    let expected = match (E::VERSION, entity.version()) {
        (Some(attribute), Some(version)) => {
            let next = version
                .checked_add(1)
                .ok_or_else(|| Error::InvalidRequest {
                    entity: E::TYPE,
                    reason: "the version cannot grow past u64::MAX".into(),
                })?;
            item.insert(attribute.to_owned(), AttributeValue::N(next.to_string()));
            // A new item, or the version this entity was read at.
            let name = names.name(attribute);
            let value = names.value(AttributeValue::N(version.to_string()));
            clauses.push(format!("(attribute_not_exists(#pk) OR {name} = {value})"));
            Some(version)
        }
        _ => None,
    };
    let expression = clauses.join(" AND ");
    let span = span(table, "PutItem", E::TYPE);
    let mut request = table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(item))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .set_return_consumed_capacity(capacity_request(&span));
    if !expression.is_empty() {
        request = request
            .condition_expression(expression)
            .set_expression_attribute_names(Some(names.names.into_iter().collect()));
        if expected.is_some() {
            request = request.expression_attribute_names("#pk", table.partition_key());
        }
        if !names.values.is_empty() {
            request =
                request.set_expression_attribute_values(Some(names.values.into_iter().collect()));
        }
    }
    match request.send().instrument(span.clone()).await {
        Ok(output) => {
            record_capacity(&span, output.consumed_capacity());
            Ok(())
        }
        Err(error) => match error.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(failed)) => match failed.item() {
                None => Err(Error::ConditionFailed {
                    entity: E::TYPE,
                    key,
                    reason: "the write's condition did not hold".into(),
                }),
                old => Err(condition::failed::<E>(key, old, expected)),
            },
            _ => Err(sdk_error(table, "PutItem", E::TYPE, error)),
        },
    }
}
