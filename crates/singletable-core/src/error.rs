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
    AlreadyExists { entity: &'static str, key: ItemKey },

    /// The operation needs an existing item and there is none; nothing was written.
    #[error("{entity} {key} does not exist")]
    NotFound { entity: &'static str, key: ItemKey },

    /// A condition of the request did not hold; nothing was written.
    #[error("condition failed on {entity} {key}: {reason}")]
    ConditionFailed {
        entity: &'static str,
        key: ItemKey,
        reason: String,
    },

    /// A versioned write expected another version: someone wrote the item since it was read.
    /// Nothing was written.
    #[error("{entity} {key} is at version {}, not {expected}", found.map_or("(none)".to_string(), |v| v.to_string()))]
    VersionConflict {
        entity: &'static str,
        key: ItemKey,
        expected: u64,
        found: Option<u64>,
    },

    /// A key value was refused before any request was sent (empty, contains the separator, a
    /// control character, or the key is too long).
    #[error("invalid key for {entity}: {source}")]
    InvalidKey {
        entity: &'static str,
        #[source]
        source: KeyError,
    },

    /// A tenant-scoped entity was used outside a tenant scope; nothing was sent.
    #[error("{entity} is tenant-scoped and no tenant scope is set; run the operation in `tenant::scope`")]
    MissingTenant { entity: &'static str },

    /// An entity's tenant field differs from the tenant scope (an entity of another tenant was
    /// passed to `put`, or an item read back carries another tenant); nothing was written or
    /// returned.
    #[error("{entity} belongs to tenant `{found}`, not to the current tenant `{expected}`")]
    TenantMismatch {
        entity: &'static str,
        expected: String,
        found: String,
    },

    /// An item read from the table does not decode into the entity.
    #[error("{entity} {key}: cannot decode{}: {message}", in_field(.field))]
    Decode {
        entity: &'static str,
        key: ItemKey,
        /// Path of the field that failed (`address.city`); empty when the item as a whole failed
        /// (a missing field, named in the message).
        field: String,
        message: String,
    },

    /// A value does not encode into a DynamoDB attribute.
    #[error("{entity}: cannot encode {field}: {message}")]
    Encode {
        entity: &'static str,
        field: String,
        message: String,
    },

    /// A field is stored under an attribute name that the table keeps for itself.
    #[error("{entity}: a field is stored as `{attribute}`, an attribute the table reserves for keys or metadata")]
    ReservedAttribute {
        entity: &'static str,
        attribute: String,
    },

    /// A page cursor was refused: altered, from another query, or pointing outside the query.
    #[error("invalid cursor for {entity}: {source}")]
    InvalidCursor {
        entity: &'static str,
        #[source]
        source: crate::cursor::CursorError,
    },

    /// A request that cannot be made as asked (no type index declared, a page of zero items,
    /// a consistent read on an index).
    #[error("invalid request for {entity}: {reason}")]
    InvalidRequest {
        entity: &'static str,
        reason: String,
    },

    /// A batch left work undone after its retries: these entities' keys were not written (or
    /// read). Everything else in the batch was.
    #[error("{operation} left {} item(s) unprocessed after retries, first {}", items.len(), items.first().map_or(String::new(), |(entity, key)| format!("{entity} {key}")))]
    Unprocessed {
        operation: &'static str,
        items: Vec<(&'static str, ItemKey)>,
    },

    /// A transaction was canceled and wrote nothing; one reason per failing action.
    #[error("transaction canceled: {}", reasons.iter().map(|r| format!("action {} ({} {}): {}", r.index, r.entity, r.key, r.code)).collect::<Vec<_>>().join("; "))]
    TransactionCanceled {
        reasons: Vec<crate::transaction::CancelReason>,
    },

    /// A DynamoDB limit would be exceeded; nothing was sent.
    #[error("{entity}: {got} {what} exceed DynamoDB's limit of {limit}")]
    Limit {
        entity: &'static str,
        what: &'static str,
        limit: usize,
        got: usize,
    },

    /// An update with nothing to change.
    #[error("update of {entity} {key} changes no field")]
    EmptyUpdate { entity: &'static str, key: ItemKey },

    /// The request failed in the SDK or in DynamoDB.
    #[error("{operation} on table `{table}` for {entity} failed: {}", aws_sdk_dynamodb::error::DisplayErrorContext(.source))]
    Sdk {
        operation: &'static str,
        table: String,
        entity: &'static str,
        #[source]
        source: Box<aws_sdk_dynamodb::Error>,
    },
}

fn in_field(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!(" field `{field}`")
    }
}

/// The `Result` of every operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
