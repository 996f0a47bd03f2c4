//! `create`: a conditional put that never replaces an existing item.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use crate::autogen;
use crate::error::{Error, Result};
use crate::item;
use crate::request;
use crate::schema::{EntityKey, Schema};
use crate::table::Table;
use crate::write::audited;

pub(crate) async fn create<E: Schema>(table: &Table, new: E::New) -> Result<E> {
    crate::tenant::admit::<E>(table)?;
    let now = autogen::now();
    let entity = E::from_new(new, now, table)?;
    let key = entity.key().item_key(table)?;
    let item = item::encode(&entity, key.clone(), now, table)?;
    if E::AUDITED {
        audited::create::<E>(table, key, item).await?;
        return Ok(entity);
    }
    let client = table.client();
    let sent = request::send(
        table,
        "PutItem",
        E::TYPE,
        |capacity| {
            client
                .put_item()
                .table_name(table.name())
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", table.partition_key())
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .set_return_consumed_capacity(capacity)
        },
        |request| request.send(),
    )
    .await;
    let error = match sent.result {
        Ok(_) => return Ok(entity),
        Err(error) => error,
    };
    match error.as_service_error() {
        Some(PutItemError::ConditionalCheckFailedException(failed)) => {
            // After an attempt whose reply was lost, the item found may be this very write:
            // it holds the generated fields and creation time of this create, to the
            // millisecond. Then the create succeeded.
            let ours = sent.maybe_applied
                && failed.item().is_some_and(|stored| {
                    item::encode(&entity, key.clone(), now, table).is_ok_and(|sent| *stored == sent)
                });
            match ours {
                true => Ok(entity),
                false => Err(Error::AlreadyExists {
                    entity: E::TYPE,
                    key,
                }),
            }
        }
        _ => Err(request::write_failed(
            table,
            "PutItem",
            E::TYPE,
            &key,
            error,
            sent.maybe_applied,
        )),
    }
}
