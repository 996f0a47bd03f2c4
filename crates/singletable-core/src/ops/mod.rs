//! The operations on one entity. Each builds one request, sends it inside a tracing span and
//! maps the SDK's answer to the entity or to an [`Error`](crate::Error) naming entity and key.

pub(crate) mod condition;
pub mod create;
pub mod delete;
pub mod get;
pub(crate) mod put;
pub mod query;
pub mod soft_delete;
pub mod update;

use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use tracing::Span;

use crate::error::Error;
use crate::table::Table;

/// The span of one request. Its `consumed_capacity` is filled from the response.
fn span(table: &Table, operation: &'static str, entity: &'static str) -> Span {
    tracing::debug_span!(
        "dynamodb",
        operation,
        table = table.name(),
        entity,
        consumed_capacity = tracing::field::Empty,
    )
}

/// Asks DynamoDB for consumed capacity only when someone is listening to the span.
fn capacity_request(span: &Span) -> Option<ReturnConsumedCapacity> {
    (!span.is_disabled()).then_some(ReturnConsumedCapacity::Total)
}

fn record_capacity(span: &Span, consumed: Option<&ConsumedCapacity>) {
    if let Some(units) = consumed.and_then(ConsumedCapacity::capacity_units) {
        span.record("consumed_capacity", units);
    }
}

pub(crate) fn sdk_error<S>(
    table: &Table,
    operation: &'static str,
    entity: &'static str,
    error: S,
) -> Error
where
    aws_sdk_dynamodb::Error: From<S>,
{
    Error::Sdk {
        operation,
        table: table.name().to_owned(),
        entity,
        source: Box::new(error.into()),
    }
}
