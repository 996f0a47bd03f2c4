//! Soft delete: `delete` of a `#[entity(soft_delete)]` entity marks the item with `_deleted_at`,
//! which reads, queries and collections then skip; `restore` brings it back, `trash` lists the
//! deleted items of a partition and `purge` removes an item for good.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use futures::{StreamExt, TryStreamExt};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tracing::Instrument;

use super::query::Query;
use super::{capacity_request, condition, record_capacity, sdk_error, span};
use crate::batch::BatchWrite;
use crate::entity::Entity;
use crate::error::{Error, ItemKey, Result};
use crate::expr::{Condition, Names};
use crate::item::{self, DELETED_ATTRIBUTE, DELETED_BY_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::later::Later;
use crate::table::Table;

/// The mark a soft delete sets: `_deleted_at`, and `_deleted_by` when the table's audit context
/// names the actor (a stale `_deleted_by` is removed otherwise).
pub(crate) struct DeletionMark {
    at: AttributeValue,
    by: Option<AttributeValue>,
}

impl DeletionMark {
    /// The mark of a delete made now, by whom the table's audit context says.
    pub(crate) fn now(table: &Table) -> Self {
        let mut at = String::with_capacity(24);
        singletable_keys::write_timestamp(crate::autogen::now(), &mut at);
        DeletionMark {
            at: AttributeValue::S(at),
            by: table.audit_context().actor.map(AttributeValue::S),
        }
    }

    /// The update expression that sets the mark (with `also`, more `SET` actions such as
    /// `, #revision = :next`), its names `#deleted`/`#deletedby` and values `:at`/`:by` put
    /// into `names` and `values`.
    pub(crate) fn update(
        &self,
        also: &str,
        names: &mut impl Extend<(String, String)>,
        values: &mut impl Extend<(String, AttributeValue)>,
    ) -> String {
        names.extend([
            ("#deleted".to_owned(), DELETED_ATTRIBUTE.to_owned()),
            ("#deletedby".to_owned(), DELETED_BY_ATTRIBUTE.to_owned()),
        ]);
        values.extend([(":at".to_owned(), self.at.clone())]);
        match &self.by {
            Some(by) => {
                values.extend([(":by".to_owned(), by.clone())]);
                format!("SET #deleted = :at, #deletedby = :by{also}")
            }
            None => format!("SET #deleted = :at{also} REMOVE #deletedby"),
        }
    }

    /// Sets the mark on `item` as the update stores it.
    pub(crate) fn apply(&self, item: &mut item::Item) {
        item.insert(DELETED_ATTRIBUTE.into(), self.at.clone());
        match &self.by {
            Some(by) => item.insert(DELETED_BY_ATTRIBUTE.into(), by.clone()),
            None => item.remove(DELETED_BY_ATTRIBUTE),
        };
    }
}

/// Marks the item at `key` deleted (where `user` holds); returns it, or `None` when there is no
/// live item.
pub(crate) async fn mark<E: Entity>(
    table: &Table,
    key: ItemKey,
    user: Option<Condition<E>>,
) -> Result<Option<E>> {
    let mut names = Names::default();
    let update = DeletionMark::now(table).update("", &mut names.names, &mut names.values);
    let mut expression =
        "attribute_exists(#pk) AND #type = :type AND attribute_not_exists(#deleted)".to_owned();
    condition::append::<E>(&mut expression, user.as_ref(), None, &mut names)?;
    let span = span(table, "UpdateItem", E::TYPE);
    let result = send_update::<E>(table, &key, update, expression, names, &span).await;
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
    if E::AUDITED {
        return crate::audit::mark::<E>(table, key.clone(), None, false)
            .await?
            .ok_or(Error::NotFound {
                entity: E::TYPE,
                key,
            });
    }
    let mut names = Names::default();
    let deleted = names.name(DELETED_ATTRIBUTE);
    let deleted_by = names.name(DELETED_BY_ATTRIBUTE);
    let expression =
        format!("attribute_exists(#pk) AND #type = :type AND attribute_exists({deleted})");
    let span = span(table, "UpdateItem", E::TYPE);
    match send_update::<E>(
        table,
        &key,
        format!("REMOVE {deleted}, {deleted_by}"),
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

/// A soft-deleted entity, as [`Entity::trash`](crate::Entity::trash) lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Trashed<E> {
    /// The entity as it was deleted.
    pub entity: E,
    /// When it was deleted.
    pub deleted_at: OffsetDateTime,
    /// Who deleted it, when the table's audit context knew.
    pub deleted_by: Option<String>,
}

/// The deleted items of the partition `pk`, most recently deleted first.
pub(crate) async fn trash<E: Entity>(table: &Table, pk: Result<String>) -> Result<Vec<Trashed<E>>> {
    let mut items = Query::<E>::partition(table, Later::ready(pk))
        .only_deleted()
        .items()
        .await?;
    let text = |item: &item::Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    // The timestamps sort as text; newest first.
    items.sort_by_key(|item| std::cmp::Reverse(text(item, DELETED_ATTRIBUTE)));
    items
        .into_iter()
        .map(|item| {
            let key = item::item_key_of(&item, table);
            let at = text(&item, DELETED_ATTRIBUTE).unwrap_or_default();
            let deleted_at = OffsetDateTime::parse(&at, &Rfc3339).map_err(|e| Error::Decode {
                entity: E::TYPE,
                key,
                field: DELETED_ATTRIBUTE.into(),
                message: e.to_string(),
            })?;
            let deleted_by = text(&item, DELETED_BY_ATTRIBUTE);
            Ok(Trashed {
                entity: item::decode(item, table)?,
                deleted_at,
                deleted_by,
            })
        })
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
    let items = Query::<E>::partition(table, Later::ready(pk))
        .only_deleted()
        .items()
        .await?;
    // ISO timestamps of equal width compare as text.
    let expired: Vec<ItemKey> = items
        .iter()
        .filter(|old| {
            old.get(DELETED_ATTRIBUTE)
                .and_then(|v| v.as_s().ok())
                .is_some_and(|at| *at < before)
        })
        .map(|old| item::item_key_of(old, table))
        .collect();
    let purged = expired.len();
    if E::AUDITED {
        // Each purge carries its audit record, so each is a transaction of its own.
        futures::stream::iter(expired)
            .map(|key| crate::audit::delete::<E>(table, key, None, true))
            .buffer_unordered(PURGE_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        return Ok(purged);
    }
    let mut batch = BatchWrite::new(table);
    for key in expired {
        batch.delete_key::<E>(key)?;
    }
    batch.send().await?;
    Ok(purged)
}

/// Audited purges sent at once by `empty_trash`.
const PURGE_CONCURRENCY: usize = 8;

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
