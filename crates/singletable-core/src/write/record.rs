//! The audit record of a write: which fields changed from what to what, who wrote, when, and
//! where the record lives (a partition of its own per audited item).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::de::DeserializeOwned;

use crate::error::{Error, ItemKey, Result};
use crate::item::{self, Item, TIMESTAMP_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::request::sdk_error;
use crate::schema::Schema;
use crate::table::Table;

/// One field's value before and after a write (`None`: the field was absent).
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The value before.
    pub old: Option<AttributeValue>,
    /// The value after.
    pub new: Option<AttributeValue>,
}

impl Change {
    /// The value before, decoded as the field's type.
    pub fn old_as<T: DeserializeOwned>(&self) -> serde_dynamo::Result<Option<T>> {
        self.old
            .clone()
            .map(serde_dynamo::from_attribute_value)
            .transpose()
    }

    /// The value after, decoded as the field's type.
    pub fn new_as<T: DeserializeOwned>(&self) -> serde_dynamo::Result<Option<T>> {
        self.new
            .clone()
            .map(serde_dynamo::from_attribute_value)
            .transpose()
    }
}

/// The `_type` of audit records.
pub const AUDIT_TYPE: &str = "AUDIT_LOG";

/// What an audited write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// The item was created (by `create`, or by `put` where there was none).
    Create,
    /// Fields changed (by `update`, or by `put` over an existing item).
    Update,
    /// The item was deleted, or soft-deleted.
    Delete,
    /// A soft-deleted item was brought back.
    Restore,
    /// A soft-deleted (or live) item was removed for good.
    Purge,
}

impl AuditAction {
    /// The stored name: `create`, `update`, `delete`, `restore` or `purge`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Update => "update",
            AuditAction::Delete => "delete",
            AuditAction::Restore => "restore",
            AuditAction::Purge => "purge",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [
            AuditAction::Create,
            AuditAction::Update,
            AuditAction::Delete,
            AuditAction::Restore,
            AuditAction::Purge,
        ]
        .into_iter()
        .find(|action| action.as_str() == text)
    }
}

/// The tenant and the id of `E`'s item at `key`: the values of its key placeholders, the tenant
/// apart.
pub(crate) fn identify<E: Schema>(
    key: &ItemKey,
    table: &Table,
) -> Result<(Option<String>, String)> {
    let separator = table.separator();
    let mut tenant = None;
    let mut id = String::new();
    for (template, text) in [(E::PARTITION_KEY, &key.pk), (E::SORT_KEY, &key.sk)] {
        let values = template
            .parse_key(text, separator)
            .map_err(|e| Error::Decode {
                entity: E::TYPE,
                key: key.clone(),
                field: "the key".into(),
                message: e.to_string(),
            })?;
        for (param, value) in template.params().zip(values) {
            if Some(param) == E::TENANT_PARAM {
                tenant = Some(value.to_owned());
                continue;
            }
            if !id.is_empty() {
                id.push(separator);
            }
            id.push_str(value);
        }
    }
    Ok((tenant, id))
}

/// The first part of the trail partitions of tenant-scoped entities.
pub(crate) const TENANT_PREFIX: &str = "TENANT";

/// The partition of the audit trail of entity `id` of type `entity_type`.
pub(crate) fn trail_partition(
    table: &Table,
    tenant: Option<&str>,
    entity_type: &str,
    id: &str,
) -> String {
    let s = table.separator();
    match tenant {
        Some(tenant) => format!("{TENANT_PREFIX}{s}{tenant}{s}{entity_type}{s}{id}"),
        None => format!("{entity_type}{s}{id}"),
    }
}

/// The changed fields between two stored forms of an item: attributes that are not keys, index
/// keys, the expiry copy, the version or the library's own.
pub(crate) fn changes<E: Schema>(
    table: &Table,
    old: Option<&Item>,
    new: Option<&Item>,
) -> BTreeMap<String, Change> {
    let bookkeeping = |name: &str| {
        item::is_internal(name)
            || name == table.partition_key()
            || name == table.sort_key()
            || Some(name) == E::VERSION
            || (E::EXPIRES && Some(name) == table.ttl_attribute())
            || E::INDEXES.iter().any(|index| {
                table
                    .index(index.index)
                    .is_some_and(|i| i.partition_key == name || i.sort_key == name)
            })
    };
    let empty = Item::new();
    let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
    old.keys()
        .chain(new.keys().filter(|name| !old.contains_key(*name)))
        .filter(|name| !bookkeeping(name))
        .filter(|name| old.get(*name) != new.get(*name))
        .map(|name| {
            let change = Change {
                old: old.get(name).cloned(),
                new: new.get(name).cloned(),
            };
            (name.clone(), change)
        })
        .collect()
}

/// The put of the audit record of a write of `E`'s item at `key` from `old` to `new`, which
/// leaves the item at `revision`.
pub(crate) fn record<E: Schema>(
    table: &Table,
    key: &ItemKey,
    action: AuditAction,
    old: Option<&Item>,
    new: Option<&Item>,
    revision: u64,
) -> Result<TransactWriteItem> {
    let (tenant, id) = identify::<E>(key, table)?;
    let now = crate::autogen::now();
    let timestamp = crate::timestamp::text(now);
    let separator = table.separator();
    let context = table.audit_context();
    let changes = changes::<E>(table, old, new)
        .into_iter()
        .map(|(name, change)| {
            let pair = [("old", change.old), ("new", change.new)]
                .into_iter()
                .filter_map(|(side, value)| Some((side.to_owned(), value?)))
                .collect();
            (name, AttributeValue::M(pair))
        })
        .collect();
    let s = |text: &str| AttributeValue::S(text.to_owned());
    let mut record = HashMap::from([
        (
            table.partition_key().to_owned(),
            s(&trail_partition(table, tenant.as_deref(), E::TYPE, &id)),
        ),
        (
            table.sort_key().to_owned(),
            AttributeValue::S(format!(
                "AUDIT{separator}{timestamp}{separator}{revision:010}"
            )),
        ),
        (TYPE_ATTRIBUTE.to_owned(), s(AUDIT_TYPE)),
        (TIMESTAMP_ATTRIBUTE.to_owned(), s(&timestamp)),
        ("id".to_owned(), s(&uuid::Uuid::new_v4().to_string())),
        ("entityType".to_owned(), s(E::TYPE)),
        ("entityId".to_owned(), s(&id)),
        (
            "entityKey".to_owned(),
            AttributeValue::M(HashMap::from([
                ("pk".to_owned(), s(&key.pk)),
                ("sk".to_owned(), s(&key.sk)),
            ])),
        ),
        ("action".to_owned(), s(action.as_str())),
        ("changes".to_owned(), AttributeValue::M(changes)),
        ("timestamp".to_owned(), s(&timestamp)),
        (
            "revision".to_owned(),
            AttributeValue::N(revision.to_string()),
        ),
    ]);
    if let Some((name, value)) = tenant
        .as_deref()
        .and_then(|tenant| item::tenant_type_attribute(tenant, AUDIT_TYPE, table))
    {
        // The tenant-wide audit log reads the tenant type index, newest first.
        record.insert(name, value);
    }
    let optional = [
        ("tenantId", tenant),
        ("userId", context.actor),
        ("requestId", context.request_id),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            record.insert(name.to_owned(), AttributeValue::S(value));
        }
    }
    if let Some(retention) = table.audit_retention() {
        let attribute = table.ttl_attribute().ok_or_else(|| Error::InvalidRequest {
            entity: E::TYPE,
            reason: "the table keeps audit records for a retention, and has no time-to-live \
                     attribute; declare it with `Table::builder(..).ttl_attribute(name)`"
                .into(),
        })?;
        let expires = (now + retention).unix_timestamp();
        record.insert(attribute.to_owned(), AttributeValue::N(expires.to_string()));
    }
    let size = item::item_size(&record);
    if size > item::MAX_ITEM_SIZE {
        return Err(Error::Limit {
            entity: E::TYPE,
            what: "bytes in the audit record of one write",
            limit: item::MAX_ITEM_SIZE,
            got: size,
        });
    }
    let put = Put::builder()
        .table_name(table.name())
        .set_item(Some(record))
        // Never overwrite a record: a collision cancels the write, which is then tried again.
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", table.partition_key())
        .build()
        .map_err(|e| sdk_error(table, "TransactWriteItems", E::TYPE, e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}
