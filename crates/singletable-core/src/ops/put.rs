//! `put`: create or replace.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use tracing::Instrument;

use super::{capacity_request, condition, record_capacity, sdk_error, span};
use crate::autogen;
use crate::entity::{Entity, EntityKey};
use crate::error::{Error, ItemKey, Result};
use crate::expr::{Condition, Names};
use crate::item::{self, Item};
use crate::table::Table;

/// A put ready to send: the item, and its condition if it has one.
pub(crate) struct PreparedPut {
    pub(crate) key: ItemKey,
    pub(crate) item: Item,
    pub(crate) condition: String,
    pub(crate) names: HashMap<String, String>,
    pub(crate) values: HashMap<String, AttributeValue>,
    pub(crate) expected: Option<u64>,
}

/// Encodes `entity` and its condition: `user`'s, and for a versioned entity "a new item, or the
/// version this entity was read at" (the item is stored with the next version).
pub(crate) fn prepare<E: Entity>(
    table: &Table,
    entity: &E,
    user: Option<&Condition<E>>,
) -> Result<PreparedPut> {
    table.admit::<E>()?;
    crate::tenant::check_owner(entity, table)?;
    let key = entity.key().item_key(table)?;
    let mut item = item::encode(entity, key.clone(), autogen::now(), table)?;
    let mut names = Names::default();
    // A key template shared by mistake must not let one entity replace another's item.
    let pk = names.name(table.partition_key());
    let item_type = names.name(item::TYPE_ATTRIBUTE);
    let this_type = names.value(AttributeValue::S(E::TYPE.into()));
    let mut clauses = vec![format!(
        "(attribute_not_exists({pk}) OR {item_type} = {this_type})"
    )];
    if let Some(user) = user {
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
            let name = names.name(attribute);
            let value = names.value(AttributeValue::N(version.to_string()));
            let pk = names.name(table.partition_key());
            clauses.push(format!("(attribute_not_exists({pk}) OR {name} = {value})"));
            Some(version)
        }
        _ => None,
    };
    Ok(PreparedPut {
        key,
        item,
        condition: clauses.join(" AND "),
        names: names.names.into_iter().collect(),
        values: names.values.into_iter().collect(),
        expected,
    })
}

/// Writes `entity`, replacing what is at its key (where `user` holds). `_timestamp` becomes the
/// time of this write: a replaced item is a new item. A versioned entity replaces only the
/// version it holds and is stored with the next one.
pub(crate) async fn put<E: Entity>(
    table: &Table,
    entity: &E,
    user: Option<Condition<E>>,
) -> Result<()> {
    if E::AUDITED {
        let prepared = prepare(table, entity, user.as_ref())?;
        return crate::audit::put::<E>(table, prepared).await;
    }
    let PreparedPut {
        key,
        item,
        condition,
        names,
        values,
        expected,
    } = prepare(table, entity, user.as_ref())?;
    let span = span(table, "PutItem", E::TYPE);
    let request = table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(item))
        .condition_expression(condition)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values((!values.is_empty()).then_some(values))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .set_return_consumed_capacity(capacity_request(&span));
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
