//! `put`: create or replace.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use crate::error::{Error, Result};
use crate::expr::Condition;
use crate::request;
use crate::schema::Schema;
use crate::table::Table;
use crate::write::put::{prepare, PreparedPut};
use crate::write::{audited, condition};

/// Writes `entity`, replacing what is at its key (where `user` holds). A versioned entity
/// replaces only the version it holds and is stored with the next one.
pub(crate) async fn put<E: Schema>(
    table: &Table,
    entity: &E,
    user: Option<Condition<E>>,
) -> Result<()> {
    let prepared = prepare(table, entity, user.as_ref())?;
    if E::AUDITED {
        return audited::put::<E>(table, prepared).await;
    }
    let PreparedPut {
        key,
        item,
        condition,
        names,
        values,
        expected,
    } = prepared;
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
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values((!values.is_empty()).then_some(values))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .set_return_consumed_capacity(capacity)
        },
        |request| request.send(),
    )
    .await;
    let error = match sent.result {
        Ok(_) => return Ok(()),
        Err(error) => error,
    };
    match error.as_service_error() {
        Some(PutItemError::ConditionalCheckFailedException(failed)) => match failed.item() {
            None => Err(Error::ConditionFailed {
                entity: E::TYPE,
                key,
                reason: "the write's condition did not hold".into(),
            }),
            old => Err(condition::failed::<E>(key, old, expected)),
        },
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
