//! `create`: a conditional put that never replaces an existing item.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use tracing::Instrument;

use super::{capacity_request, record_capacity, sdk_error, span};
use crate::autogen;
use crate::entity::{Entity, EntityKey};
use crate::error::{Error, Result};
use crate::item;
use crate::table::Table;

pub(crate) async fn create<E: Entity>(table: &Table, new: E::New) -> Result<E> {
    table.admit::<E>()?;
    let now = autogen::now();
    let entity = E::from_new(new, now, table)?;
    let key = entity.key().item_key(table)?;
    if E::AUDITED {
        let item = item::encode(&entity, key.clone(), now, table)?;
        crate::audit::create::<E>(table, key, item).await?;
        return Ok(entity);
    }
    let item = item::encode(&entity, key, now, table)?;
    let span = span(table, "PutItem", E::TYPE);
    let result = table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", table.partition_key())
        .set_return_consumed_capacity(capacity_request(&span))
        .send()
        .instrument(span.clone())
        .await;
    match result {
        Ok(output) => {
            record_capacity(&span, output.consumed_capacity());
            Ok(entity)
        }
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(PutItemError::ConditionalCheckFailedException(_))
            ) =>
        {
            Err(Error::AlreadyExists {
                entity: E::TYPE,
                key: entity.key().item_key(table)?,
            })
        }
        Err(error) => Err(sdk_error(table, "PutItem", E::TYPE, error)),
    }
}
