//! Soft delete: `delete` of a `#[entity(soft_delete)]` entity marks the item with `_deleted_at`,
//! which reads, queries and collections then skip; `restore` brings it back, `trash` lists the
//! deleted items of a partition and `purge` removes an item for good.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use time::OffsetDateTime;
use tracing::Instrument;

use super::query::Query;
use super::{capacity_request, condition, record_capacity, sdk_error, span};
use crate::batch::BatchWrite;
use crate::entity::Entity;
use crate::error::{Error, ItemKey, Result};
use crate::expr::{Condition, Names};
use crate::item::{self, DELETED_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::table::Table;

/// Marks the item at `key` deleted (where `user` holds); returns it, or `None` when there is no
/// live item.
pub(crate) async fn mark<E: Entity>(
    table: &Table,
    key: ItemKey,
    user: Option<Condition<E>>,
) -> Result<Option<E>> {
    let mut names = Names::default();
    let deleted = names.name(DELETED_ATTRIBUTE);
    let mut now = String::with_capacity(24);
    singletable_keys::write_timestamp(crate::autogen::now(), &mut now);
    let at = names.value(AttributeValue::S(now));
    let mut expression =
        format!("attribute_exists(#pk) AND #type = :type AND attribute_not_exists({deleted})");
    condition::append::<E>(&mut expression, user.as_ref(), None, &mut names)?;
    let span = span(table, "UpdateItem", E::TYPE);
    let result = send_update::<E>(
        table,
        &key,
        format!("SET {deleted} = {at}"),
        expression,
        names,
        &span,
    )
    .await;
    match result {
        Ok(item) => Ok(Some(item::decode(item, table)?)),
        Err(error) => match error.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(failed)) => match failed.item() {
                None => Ok(None),
                Some(old) if item::is_deleted(old) => Ok(None),
                old => Err(condition::failed::<E>(key, old, None)),
            },
            _ => Err(sdk_error(table, "UpdateItem", E::TYPE, error)),
        },
    }
}

/// Removes the deletion mark of the item at `key`.
pub(crate) async fn restore<E: Entity>(table: &Table, key: Result<ItemKey>) -> Result<E> {
    table.admit::<E>()?;
    let key = key?;
    let mut names = Names::default();
    let deleted = names.name(DELETED_ATTRIBUTE);
    let expression =
        format!("attribute_exists(#pk) AND #type = :type AND attribute_exists({deleted})");
    let span = span(table, "UpdateItem", E::TYPE);
    match send_update::<E>(
        table,
        &key,
        format!("REMOVE {deleted}"),
        expression,
        names,
        &span,
    )
    .await
    {
        Ok(item) => item::decode(item, table),
        Err(error) => match error.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(_)) => Err(Error::NotFound {
                entity: E::TYPE,
                key,
            }),
            _ => Err(sdk_error(table, "UpdateItem", E::TYPE, error)),
        },
    }
}

/// The deleted items of the partition `pk`, most recently deleted first.
pub(crate) async fn trash<E: Entity>(table: &Table, pk: Result<String>) -> Result<Vec<E>> {
    let mut items = Query::<E>::partition(table, pk)
        .only_deleted()
        .items()
        .await?;
    let deleted_at = |item: &item::Item| {
        item.get(DELETED_ATTRIBUTE)
            .and_then(|v| v.as_s().ok())
            .cloned()
    };
    // The timestamps sort as text; newest first.
    items.sort_by_key(|item| std::cmp::Reverse(deleted_at(item)));
    items
        .into_iter()
        .map(|item| item::decode(item, table))
        .collect()
}

/// Purges the items of partition `pk` deleted before `cutoff`; returns how many.
pub(crate) async fn empty_trash<E: Entity>(
    table: &Table,
    pk: Result<String>,
    cutoff: OffsetDateTime,
) -> Result<usize> {
    let mut before = String::with_capacity(24);
    singletable_keys::write_timestamp(cutoff, &mut before);
    let items = Query::<E>::partition(table, pk)
        .only_deleted()
        .items()
        .await?;
    let mut batch = BatchWrite::new(table);
    let mut purged = 0;
    for old in items {
        let deleted_at = old.get(DELETED_ATTRIBUTE).and_then(|v| v.as_s().ok());
        // ISO timestamps of equal width compare as text.
        if deleted_at.is_some_and(|at| *at < before) {
            let key = ItemKey {
                pk: old
                    .get(table.partition_key())
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default(),
                sk: old
                    .get(table.sort_key())
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default(),
            };
            batch.delete_key::<E>(key)?;
            purged += 1;
        }
    }
    batch.send().await?;
    Ok(purged)
}

/// One `UpdateItem` of the deletion mark, returning the item as it is afterwards.
async fn send_update<E: Entity>(
    table: &Table,
    key: &ItemKey,
    update: String,
    condition: String,
    names: Names,
    span: &tracing::Span,
) -> std::result::Result<item::Item, SdkError<UpdateItemError, HttpResponse>> {
    let (names, values) = (names.names, names.values);
    let output = table
        .client()
        .update_item()
        .table_name(table.name())
        .set_key(Some(item::key_item(key.clone(), table)))
        .update_expression(update)
        .condition_expression(condition)
        .set_expression_attribute_names(Some(names.into_iter().collect()))
        .expression_attribute_names("#pk", table.partition_key())
        .expression_attribute_names("#type", TYPE_ATTRIBUTE)
        .set_expression_attribute_values(Some(values.into_iter().collect()))
        .expression_attribute_values(":type", AttributeValue::S(E::TYPE.into()))
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .set_return_consumed_capacity(capacity_request(span))
        .send()
        .instrument(span.clone())
        .await?;
    record_capacity(span, output.consumed_capacity());
    Ok(output.attributes.unwrap_or_default())
}
