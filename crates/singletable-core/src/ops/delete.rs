//! `delete`: removes one item of the entity's type and returns it.

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use crate::error::{ItemKey, Result};
use crate::expr::{Condition, Names};
use crate::item::{self, TYPE_ATTRIBUTE};
use crate::request;
use crate::schema::Schema;
use crate::table::Table;
use crate::write::{audited, condition};

/// Deletes the item at `key` (where `user` holds) unless it belongs to another entity type: a
/// key template shared by mistake must not let one entity delete another's items.
pub(crate) async fn delete<E: Schema>(
    table: &Table,
    key: Result<ItemKey>,
    user: Option<Condition<E>>,
    purge: bool,
) -> Result<Option<E>> {
    crate::tenant::admit::<E>(table)?;
    let key = key?;
    if E::AUDITED {
        return match E::SOFT_DELETE && !purge {
            true => audited::mark::<E>(table, key, user, true).await,
            false => audited::delete::<E>(table, key, user, purge).await,
        };
    }
    if E::SOFT_DELETE && !purge {
        return super::soft_delete::mark::<E>(table, key, user).await;
    }
    let mut names = Names::default();
    let mut expression = String::from("(attribute_not_exists(#pk) OR #type = :type)");
    condition::append::<E>(&mut expression, user.as_ref(), None, &mut names)?;
    let client = table.client();
    let sent = request::send(
        table,
        "DeleteItem",
        E::TYPE,
        |capacity| {
            client
                .delete_item()
                .table_name(table.name())
                .set_key(Some(item::key_item(key.clone(), table)))
                .condition_expression(expression)
                .set_expression_attribute_names(Some(names.names.into_iter().collect()))
                .expression_attribute_names("#pk", table.partition_key())
                .expression_attribute_names("#type", TYPE_ATTRIBUTE)
                .set_expression_attribute_values(Some(names.values.into_iter().collect()))
                .expression_attribute_values(":type", AttributeValue::S(E::TYPE.into()))
                .return_values(ReturnValue::AllOld)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .set_return_consumed_capacity(capacity)
        },
        |request| request.send(),
    )
    .await;
    match sent.result {
        Ok(output) => output
            .attributes
            .map(|old| item::decode(old, table))
            .transpose(),
        Err(error) => match error.as_service_error() {
            Some(DeleteItemError::ConditionalCheckFailedException(failed)) => match failed.item() {
                // Nothing to delete: the condition found no item to hold on.
                None => Ok(None),
                old => Err(condition::failed::<E>(key, old, None)),
            },
            _ => Err(request::write_failed(
                table,
                "DeleteItem",
                E::TYPE,
                &key,
                error,
                sent.maybe_applied,
            )),
        },
    }
}
