//! `delete`: removes one item of the entity's type and returns it.

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use tracing::Instrument;

use super::{capacity_request, record_capacity, sdk_error, span};
use crate::entity::Entity;
use crate::error::{Error, ItemKey, Result};
use crate::item::{self, TYPE_ATTRIBUTE};
use crate::table::Table;

/// Deletes the item at `key` unless it belongs to another entity type (a key template shared
/// by mistake must not let one entity delete another's items).
pub(crate) async fn delete<E: Entity>(table: &Table, key: Result<ItemKey>) -> Result<Option<E>> {
    table.admit::<E>()?;
    let key = key?;
    let span = span(table, "DeleteItem", E::TYPE);
    let result = table
        .client()
        .delete_item()
        .table_name(table.name())
        .set_key(Some(item::key_item(key.clone(), table)))
        .condition_expression("attribute_not_exists(#pk) OR #type = :type")
        .expression_attribute_names("#pk", table.partition_key())
        .expression_attribute_names("#type", TYPE_ATTRIBUTE)
        .expression_attribute_values(":type", AttributeValue::S(E::TYPE.into()))
        .return_values(ReturnValue::AllOld)
        .set_return_consumed_capacity(capacity_request(&span))
        .send()
        .instrument(span.clone())
        .await;
    match result {
        Ok(output) => {
            record_capacity(&span, output.consumed_capacity());
            output
                .attributes
                .map(|old| item::decode(old, table))
                .transpose()
        }
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(DeleteItemError::ConditionalCheckFailedException(_))
            ) =>
        {
            Err(Error::ConditionFailed {
                entity: E::TYPE,
                key,
                reason: format!("the item at this key is not a `{}`", E::TYPE),
            })
        }
        Err(error) => Err(sdk_error(table, "DeleteItem", E::TYPE, error)),
    }
}
