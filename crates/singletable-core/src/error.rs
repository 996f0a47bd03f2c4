//! The one error type of every operation.

use std::fmt;

use singletable_keys::KeyError;

/// The key of one item, as stored: what an error names so that the item can be found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ItemKey {
    /// Partition key value.
    pub pk: String,
    /// Sort key value.
    pub sk: String,
}

impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(pk `{}`, sk `{}`)", self.pk, self.sk)
    }
}

/// What went wrong, naming the entity type, the item's key and the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `create` found an item at the key already; nothing was written.
    #[error("{entity} {key} already exists")]
    AlreadyExists {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// The key of the item.
        key: ItemKey,
    },

    /// A write would give an `#[entity(unique)]` field a value another item of the entity (of
    /// the same tenant, for a tenant-scoped entity) holds; nothing was written.
    #[error("{entity}: `{field}` `{value}` is taken by another item")]
    Duplicate {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// The unique field, by its stored name.
        field: &'static str,
        /// The value, as key text.
        value: String,
    },

    /// The operation needs an existing item and there is none; nothing was written.
    #[error("{entity} {key} does not exist")]
    NotFound {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// The key of the item.
        key: ItemKey,
    },

    /// A condition of the request did not hold; nothing was written.
    #[error("condition failed on {entity} {key}: {reason}")]
    ConditionFailed {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// The key of the item.
        key: ItemKey,
        /// Why, in words.
        reason: String,
    },

    /// A versioned write expected another version: someone wrote the item since it was read.
    /// Nothing was written.
    #[error("{entity} {key} is at version {}, not {expected}", found.map_or("(none)".to_string(), |v| v.to_string()))]
    VersionConflict {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// The key of the item.
        key: ItemKey,
        /// The version the write expected.
        expected: u64,
        /// The version the item holds (`None`: no item, or no version).
        found: Option<u64>,
    },

    /// A key value was refused before any request was sent (empty, contains the separator, a
    /// control character, or the key is too long).
    #[error("invalid key for {entity}: {source}")]
    InvalidKey {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// The cause.
        #[source]
        source: KeyError,
    },

    /// A tenant-scoped entity was used outside a tenant scope; nothing was sent.
    #[error("{entity} is tenant-scoped and no tenant scope is set; run the operation, and make its update or query builder, inside `tenant::scope`")]
    MissingTenant {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
    },

    /// An entity's tenant field differs from the tenant scope (an entity of another tenant was
    /// passed to `put`, or an item read back carries another tenant); nothing was written or
    /// returned.
    #[error("{entity} belongs to tenant `{found}`, not to the current tenant `{expected}`")]
    TenantMismatch {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// The tenant of the scope.
        expected: String,
        /// The tenant of the entity or item.
        found: String,
    },

    /// An item read from the table does not decode into the entity.
    #[error("{entity} {key}: cannot decode{}: {message}", in_field(.field))]
    Decode {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// The key of the item.
        key: ItemKey,
        /// Path of the field that failed (`address.city`); empty when the item as a whole failed
        /// (a missing field, named in the message).
        field: String,
        /// The cause, in words.
        message: String,
    },

    /// A value does not encode into a DynamoDB attribute.
    #[error("{entity}: cannot encode {field}: {message}")]
    Encode {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// Which field, or `the entity`.
        field: String,
        /// The cause, in words.
        message: String,
    },

    /// A field is stored under an attribute name that the table keeps for itself.
    #[error("{entity}: a field is stored as `{attribute}`, an attribute the table reserves for keys or metadata")]
    ReservedAttribute {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// The reserved attribute name.
        attribute: String,
    },

    /// A page cursor was refused: altered, from another query, or pointing outside the query.
    #[error("invalid cursor for {entity}: {source}")]
    InvalidCursor {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// The cause.
        #[source]
        source: CursorError,
    },

    /// A request that cannot be made as asked (no type index declared, a page of zero items,
    /// a consistent read on an index).
    #[error("invalid request for {entity}: {reason}")]
    InvalidRequest {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// Why, in words.
        reason: String,
    },

    /// A batch left work undone after its retries: these entities' keys were not written (or
    /// read). Everything else in the batch was.
    #[error("{operation} left {} item(s) unprocessed after retries, first {}", items.len(), items.first().map_or(String::new(), |(entity, key)| format!("{entity} {key}")))]
    Unprocessed {
        /// The DynamoDB operation, such as `BatchWriteItem`.
        operation: &'static str,
        /// The entity type and key of each item left undone.
        items: Vec<(&'static str, ItemKey)>,
        /// Why the last request of a chunk failed, when one did (rather than leaving items
        /// unprocessed).
        #[source]
        cause: Option<Box<Error>>,
    },

    /// A transaction was canceled and wrote nothing; one reason per failing action.
    #[error("transaction canceled: {}", reasons.iter().map(|r| format!("action {} ({} {}): {}", r.index, r.entity, r.key, r.code)).collect::<Vec<_>>().join("; "))]
    TransactionCanceled {
        /// The reason of each failing action, in action order.
        reasons: Vec<CancelReason>,
    },

    /// A DynamoDB limit would be exceeded; nothing was sent.
    #[error("{entity}: {got} {what} exceed DynamoDB's limit of {limit}")]
    Limit {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// What was counted.
        what: &'static str,
        /// DynamoDB's limit.
        limit: usize,
        /// How many there were.
        got: usize,
    },

    /// An update with nothing to change.
    #[error("update of {entity} {key} changes no field")]
    EmptyUpdate {
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// The key of the item.
        key: ItemKey,
    },

    /// A write failed for a passing reason (a reset connection, a timeout, a 5xx answer) after
    /// an attempt that may have been applied: it may or may not have been written. Read the item
    /// to know.
    #[error("{operation} of {entity} {key}: the outcome is unknown (an attempt may have been applied): {}", aws_sdk_dynamodb::error::DisplayErrorContext(.source))]
    OutcomeUnknown {
        /// The DynamoDB operation, such as `PutItem`.
        operation: &'static str,
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// The key of the item written (the first action's, for a transaction).
        key: ItemKey,
        /// The last attempt's failure.
        #[source]
        source: Box<aws_sdk_dynamodb::Error>,
    },

    /// The request failed in the SDK or in DynamoDB.
    #[error("{operation} on table `{table}` for {entity} failed: {}", aws_sdk_dynamodb::error::DisplayErrorContext(.source))]
    Sdk {
        /// The DynamoDB operation, such as `BatchWriteItem`.
        operation: &'static str,
        /// The table name.
        table: String,
        /// The entity type (its `_type`) the operation was on.
        entity: &'static str,
        /// The cause.
        #[source]
        source: Box<aws_sdk_dynamodb::Error>,
    },

    /// An item's `_type` is not the type of any entity of a table schema (or it has none).
    #[error("{schema}: item {key} has {}, which is not one of its types ({})", found.as_deref().map_or("no `_type`".to_owned(), |t| format!("`_type` `{t}`")), expected.join(", "))]
    UnknownType {
        /// The table schema: the enum deriving `TableSchema`.
        schema: &'static str,
        /// The key of the item.
        key: ItemKey,
        /// The item's `_type`; `None` when it has none.
        found: Option<String>,
        /// The `_type`s of the schema's entities.
        expected: &'static [&'static str],
    },

    /// A request to DynamoDB Streams failed, after its retries.
    #[error("{operation} on stream `{stream}`{} failed: {}", shard.as_deref().map_or(String::new(), |s| format!(" (shard `{s}`)")), aws_sdk_dynamodbstreams::error::DisplayErrorContext(.source))]
    Stream {
        /// The DynamoDB Streams operation, such as `GetRecords`.
        operation: &'static str,
        /// The stream's ARN.
        stream: String,
        /// The shard the request read, if it read one.
        shard: Option<String>,
        /// The cause.
        #[source]
        source: Box<aws_sdk_dynamodbstreams::Error>,
    },

    /// A change-feed record (from DynamoDB Streams or a Lambda event) cannot be read: its key,
    /// its event name or an image it needs is missing or malformed. Other records still decode.
    #[error("{schema}: change record {record}{}: {reason}", key.as_ref().map_or(String::new(), |k| format!(" of {k}")))]
    InvalidRecord {
        /// The table schema the record was decoded for.
        schema: &'static str,
        /// The record's sequence number, else its event ID, else `(unnamed)`.
        record: String,
        /// The key of the item, when the record has a readable one.
        key: Option<ItemKey>,
        /// What is wrong, in words.
        reason: String,
    },
}

fn in_field(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!(" field `{field}`")
    }
}

/// Why a cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Not a cursor this crate wrote (bad base64, wrong length or version).
    #[error("not a cursor")]
    Malformed,
    /// The cursor was changed after it was made.
    #[error("the cursor was altered")]
    Tampered,
    /// The cursor is valid but belongs to another query.
    #[error("the cursor belongs to another query")]
    OtherQuery,
    /// The cursor's position is outside the queried partition.
    #[error("the cursor points outside the queried partition")]
    OutsideQuery,
}

/// Why one action of a canceled transaction failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelReason {
    /// The position of the caller's action in the transaction, from 0 (audit records the
    /// library adds take no position of their own).
    pub index: usize,
    /// Whether the failing item is the audit record of that action rather than its write.
    pub audit_record: bool,
    /// The action's entity type.
    pub entity: &'static str,
    /// The item it acted on.
    pub key: ItemKey,
    /// DynamoDB's code, such as `ConditionalCheckFailed` or `TransactionConflict`.
    pub code: String,
    /// DynamoDB's message, if any.
    pub message: Option<String>,
}

/// The `Result` of every operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
