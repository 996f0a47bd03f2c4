//! The request layer: every request to DynamoDB goes through [`send`], which opens its tracing
//! span, asks for consumed capacity when someone listens, retries what failed for a passing
//! reason under the table's [`RetryPolicy`](crate::RetryPolicy), and remembers whether an
//! attempt that failed may still have been applied (a lost reply), so that writes can tell
//! their own earlier attempt from someone else's item.

use std::future::Future;
use std::time::Instant;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::{builders::QueryFluentBuilder, QueryOutput};
use aws_sdk_dynamodb::operation::scan::{builders::ScanFluentBuilder, ScanOutput};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use tracing::{Instrument, Span};

use crate::codec::Item;
use crate::error::{Error, ItemKey, Result};
use crate::table::Table;

/// The answer of a request after its retries.
pub(crate) struct Sent<O, E> {
    /// The last attempt's answer.
    pub(crate) result: std::result::Result<O, SdkError<E, HttpResponse>>,
    /// Whether an attempt before the last failed in a way that leaves open whether DynamoDB
    /// applied it (a 5xx answer, a reset connection, a timeout).
    pub(crate) maybe_applied: bool,
}

/// What a failed attempt says about retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// Retry; the request was certainly not applied (throttled, not sent).
    NotApplied,
    /// Retry; the request may have been applied.
    Unknown,
    /// Do not retry.
    Final,
}

fn classify<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> Failure {
    match error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            let status = service.raw().status().as_u16();
            match code {
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "LimitExceededException" => Failure::NotApplied,
                "InternalServerError" | "ServiceUnavailable" => Failure::Unknown,
                _ if status >= 500 => Failure::Unknown,
                _ => Failure::Final,
            }
        }
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Failure::Unknown,
        SdkError::DispatchFailure(failure) if failure.is_user() => Failure::Final,
        SdkError::DispatchFailure(_) => Failure::Unknown,
        _ => Failure::Final,
    }
}

/// Whether a request that ended in `error` failed for a passing reason (throttling, a 5xx
/// answer, a reset connection, a timeout).
pub(crate) fn is_transient<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    classify(error) != Failure::Final
}

/// One `Query` of the table, made by `build` from a request that names the table, sent through
/// [`send`]; a failure is the error naming `entity`. Reads go through it, so each has its span,
/// its retries and its consumed capacity without spelling them out.
pub(crate) async fn query(
    table: &Table,
    entity: &'static str,
    build: impl FnOnce(QueryFluentBuilder) -> QueryFluentBuilder,
) -> Result<QueryOutput> {
    let client = table.client();
    let request = |capacity| {
        build(client.query().table_name(table.name())).set_return_consumed_capacity(capacity)
    };
    let sent = send(table, "Query", entity, request, |request| request.send()).await;
    sent.result
        .map_err(|e| sdk_error(table, "Query", entity, e))
}

/// DynamoDB's limit on the segments of a parallel scan.
pub(crate) const MAX_SEGMENTS: u32 = 1_000_000;

/// How many segments of a parallel scan are read at once.
pub(crate) const MAX_PARALLEL_SEGMENTS: usize = 64;

/// One `Scan` of the table, as [`query`] sends a `Query`.
pub(crate) async fn scan(
    table: &Table,
    entity: &'static str,
    build: impl FnOnce(ScanFluentBuilder) -> ScanFluentBuilder,
) -> Result<ScanOutput> {
    let client = table.client();
    let request = |capacity| {
        build(client.scan().table_name(table.name())).set_return_consumed_capacity(capacity)
    };
    let sent = send(table, "Scan", entity, request, |request| request.send()).await;
    sent.result.map_err(|e| sdk_error(table, "Scan", entity, e))
}

/// Sends one request: `build` makes it (given the consumed-capacity setting), `send` sends a
/// copy per attempt (called once per attempt, in turn). Transient failures are retried under the table's policy.
pub(crate) async fn send<B, O, E, Fut>(
    table: &Table,
    operation: &'static str,
    entity: &'static str,
    build: impl FnOnce(Option<ReturnConsumedCapacity>) -> B,
    mut send: impl FnMut(B) -> Fut,
) -> Sent<O, E>
where
    B: Clone,
    O: Consumed,
    E: ProvideErrorMetadata,
    Fut: Future<Output = std::result::Result<O, SdkError<E, HttpResponse>>>,
{
    let span = tracing::debug_span!(
        "dynamodb",
        operation,
        table = table.name(),
        entity,
        consumed_capacity = tracing::field::Empty,
        attempts = tracing::field::Empty,
    );
    let request = build((!span.is_disabled()).then_some(ReturnConsumedCapacity::Total));
    let policy = table.retry_policy();
    let started = Instant::now();
    let mut maybe_applied = false;
    let mut attempt = 1;
    loop {
        if attempt >= policy.attempts() {
            // The last attempt sends the request itself; earlier ones send a copy.
            let result = send(request).instrument(span.clone()).await;
            if let Ok(output) = &result {
                record(&span, output.capacity(), attempt);
            } else {
                span.record("attempts", attempt);
            }
            return Sent {
                result,
                maybe_applied,
            };
        }
        let result = send(request.clone()).instrument(span.clone()).await;
        let failure = match &result {
            Ok(output) => {
                record(&span, output.capacity(), attempt);
                return Sent {
                    result,
                    maybe_applied,
                };
            }
            Err(error) => classify(error),
        };
        let delay = policy.delay(attempt);
        let late = started.elapsed().saturating_add(delay) > policy.total_deadline();
        if failure == Failure::Final || late {
            span.record("attempts", attempt);
            return Sent {
                result,
                maybe_applied,
            };
        }
        maybe_applied |= failure == Failure::Unknown;
        tracing::debug!(parent: &span, operation, entity, attempt, ?failure, "retrying");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

fn record(span: &Span, capacity: f64, attempts: u32) {
    if capacity > 0.0 {
        span.record("consumed_capacity", capacity);
    }
    if attempts > 1 {
        span.record("attempts", attempts);
    }
}

/// The error of a write that failed after its retries. When its last attempt failed for a
/// passing reason and an attempt may have been applied, its outcome is unknown:
/// [`Error::OutcomeUnknown`], naming the key.
pub(crate) fn write_failed<S>(
    table: &Table,
    operation: &'static str,
    entity: &'static str,
    key: &ItemKey,
    error: SdkError<S, HttpResponse>,
    maybe_applied: bool,
) -> Error
where
    S: ProvideErrorMetadata,
    aws_sdk_dynamodb::Error: From<SdkError<S, HttpResponse>>,
{
    let failure = classify(&error);
    let unknown = failure == Failure::Unknown || (maybe_applied && failure != Failure::Final);
    if !unknown {
        return sdk_error(table, operation, entity, error);
    }
    Error::OutcomeUnknown {
        operation,
        entity,
        key: key.clone(),
        source: Box::new(error.into()),
    }
}

/// A failure of the SDK or of DynamoDB, naming the operation, table and entity.
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

/// The item at `key` as stored now, whatever its type, expired or deleted: a consistent read,
/// for writes that must know what they replace.
pub(crate) async fn stored(
    table: &Table,
    entity: &'static str,
    key: &ItemKey,
) -> Result<Option<Item>> {
    let client = table.client();
    let sent = send(
        table,
        "GetItem",
        entity,
        |capacity| {
            client
                .get_item()
                .table_name(table.name())
                .set_key(Some(crate::item::key_item(key.clone(), table)))
                .consistent_read(true)
                .set_return_consumed_capacity(capacity)
        },
        |request| request.send(),
    )
    .await;
    let output = sent
        .result
        .map_err(|e| sdk_error(table, "GetItem", entity, e))?;
    Ok(output.item)
}

/// A response that reports consumed capacity.
pub(crate) trait Consumed {
    /// The capacity units the request consumed (0 when not reported).
    fn capacity(&self) -> f64;
}

fn units(consumed: Option<&ConsumedCapacity>) -> f64 {
    consumed
        .and_then(ConsumedCapacity::capacity_units)
        .unwrap_or(0.0)
}

fn total(consumed: &[ConsumedCapacity]) -> f64 {
    consumed.iter().filter_map(|c| c.capacity_units()).sum()
}

macro_rules! consumed {
    (one: $($output:ty),*; many: $($many:ty),*) => {
        $(impl Consumed for $output {
            fn capacity(&self) -> f64 {
                units(self.consumed_capacity())
            }
        })*
        $(impl Consumed for $many {
            fn capacity(&self) -> f64 {
                total(self.consumed_capacity())
            }
        })*
    };
}

use aws_sdk_dynamodb::operation as op;
consumed!(
    one: op::get_item::GetItemOutput,
        op::put_item::PutItemOutput,
        op::update_item::UpdateItemOutput,
        op::delete_item::DeleteItemOutput,
        op::query::QueryOutput,
        op::scan::ScanOutput;
    many: op::batch_get_item::BatchGetItemOutput,
        op::batch_write_item::BatchWriteItemOutput,
        op::transact_write_items::TransactWriteItemsOutput,
        op::transact_get_items::TransactGetItemsOutput
);

/// Responses of requests that report no capacity.
macro_rules! no_capacity {
    ($($output:ty),*) => {
        $(impl Consumed for $output {
            fn capacity(&self) -> f64 {
                0.0
            }
        })*
    };
}

no_capacity!(
    op::create_table::CreateTableOutput,
    op::describe_table::DescribeTableOutput,
    op::update_table::UpdateTableOutput,
    op::update_time_to_live::UpdateTimeToLiveOutput
);

// DynamoDB Streams answers with the same smithy error and response types, so its requests go
// through `send` too, under the table's retry policy and with their span.
no_capacity!(
    aws_sdk_dynamodbstreams::operation::describe_stream::DescribeStreamOutput,
    aws_sdk_dynamodbstreams::operation::get_shard_iterator::GetShardIteratorOutput,
    aws_sdk_dynamodbstreams::operation::get_records::GetRecordsOutput
);
