//! The audit trail of `#[entity(audit)]` entities.
//!
//! Every write of an audited entity is one `TransactWriteItems`: the change and its audit
//! record, so neither can exist without the other. The record names the action, the fields the
//! write changed with their old and new values, the actor and request id from the table's
//! [`audit_context`](crate::TableBuilder::audit_context), and the time.
//!
//! Old values come from a consistent read of the item just before the write. Each audited item
//! carries a `_revision` that every audited write moves on, and the write holds only over the
//! revision it read: when another writer came between, the write is read and tried again, so a
//! record's old values are exactly what its write replaced.
//!
//! Records live in a partition of their own per entity, like dynamodb-provider's audit log:
//! `TENANT#<tenant>#<TYPE>#<id>` (or `<TYPE>#<id>` for an entity without tenant), sort key
//! `AUDIT#<timestamp>#<revision>`, where `<id>` is the entity's key values other than the
//! tenant. [`AuditTrail`] lists them newest first.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use tracing::Instrument;

use crate::cursor::{self, Fingerprint};
use crate::entity::{Entity, EntityKey};
use crate::error::{Error, ItemKey, Result};
use crate::item::{self, Item, TIMESTAMP_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::later::Later;
use crate::ops::query::Page;
use crate::ops::sdk_error;
use crate::table::Table;

mod write;

pub(crate) use write::{
    create, create_plan, deferred, delete, delete_plan, guard, mark, mark_plan, next_revision,
    pause, put, put_plan, raced, update, update_plan, Deferred, Step, ATTEMPTS,
};

/// The `_type` of audit records.
pub const AUDIT_TYPE: &str = "AUDIT_LOG";

/// Who is writing: what the table's audit context provider returns for each audited write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditContext {
    /// The user or service making the change.
    pub actor: Option<String>,
    /// The request the change belongs to.
    pub request_id: Option<String>,
}

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

    fn parse(text: &str) -> Option<Self> {
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

/// One entry of an entity's audit trail.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    /// A UUID of the record.
    pub id: String,
    /// The tenant of a tenant-scoped entity.
    pub tenant_id: Option<String>,
    /// The entity's `_type`.
    pub entity_type: String,
    /// The entity's key values other than the tenant, joined by the separator.
    pub entity_id: String,
    /// The key of the entity's item.
    pub entity_key: ItemKey,
    /// What the write did.
    pub action: AuditAction,
    /// Who made it, as the audit context told.
    pub actor: Option<String>,
    /// The request it belongs to, as the audit context told.
    pub request_id: Option<String>,
    /// The fields the write changed (by stored attribute name), with old and new values.
    pub changes: BTreeMap<String, Change>,
    /// When the write was made.
    pub timestamp: OffsetDateTime,
    /// The item's revision after the write (1 for its first).
    pub revision: u64,
}

/// The tenant and the id of `E`'s item at `key`: the values of its key placeholders, the tenant
/// apart.
fn identify<E: Entity>(key: &ItemKey, table: &Table) -> Result<(Option<String>, String)> {
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

/// The partition of the audit trail of entity `id` of type `entity_type`.
fn trail_partition(table: &Table, tenant: Option<&str>, entity_type: &str, id: &str) -> String {
    let s = table.separator();
    match tenant {
        Some(tenant) => format!("TENANT{s}{tenant}{s}{entity_type}{s}{id}"),
        None => format!("{entity_type}{s}{id}"),
    }
}

/// The changed fields between two stored forms of an item: attributes that are not keys, index
/// keys, the expiry copy, the version or the library's own.
fn changes<E: Entity>(
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
fn record<E: Entity>(
    table: &Table,
    key: &ItemKey,
    action: AuditAction,
    old: Option<&Item>,
    new: Option<&Item>,
    revision: u64,
) -> Result<TransactWriteItem> {
    let (tenant, id) = identify::<E>(key, table)?;
    let now = crate::autogen::now();
    let mut timestamp = String::with_capacity(24);
    singletable_keys::write_timestamp(now, &mut timestamp);
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

/// Lists an entity's audit records, newest first.
///
/// ```ignore
/// let trail = Team::audit_trail(&table, team.key()).all().await?;
/// for record in &trail {
///     println!("{} {:?} by {:?}: {:?}", record.timestamp, record.action, record.actor, record.changes);
/// }
/// ```
#[derive(Debug)]
#[must_use = "a trail is read by `all()` or `page()`"]
pub struct AuditTrail<'t> {
    table: &'t Table,
    entity: &'static str,
    /// Rendered when the trail is read, in the tenant scope it is read in.
    pk: Later<'t, String>,
}

impl<'t> AuditTrail<'t> {
    /// The trail of `E`'s item at `key`.
    pub fn of<E: Entity>(table: &'t Table, key: E::Key<'t>) -> Self
    where
        E::Key<'t>: 't,
    {
        let pk = Later::new(move |table| {
            let key = key.item_key(table)?;
            let (tenant, id) = identify::<E>(&key, table)?;
            Ok(trail_partition(table, tenant.as_deref(), E::TYPE, &id))
        });
        AuditTrail {
            table,
            entity: E::TYPE,
            pk,
        }
    }

    /// The trail of the entity of type `entity_type` with id `entity_id` (its key values other
    /// than the tenant, joined by the separator), in the current tenant scope if there is one:
    /// dynamodb-provider's `getEntityAuditTrail(entityType, entityId)`.
    pub fn by_id(table: &'t Table, entity_type: &str, entity_id: &str) -> Self {
        let (entity_type, entity_id) = (entity_type.to_owned(), entity_id.to_owned());
        let pk = Later::new(move |table| {
            let tenant = crate::tenant::current().or_else(|| table.resolve_tenant());
            let tenant = tenant.as_ref().map(|t| t.as_str());
            Ok(trail_partition(table, tenant, &entity_type, &entity_id))
        });
        AuditTrail {
            table,
            entity: AUDIT_TYPE,
            pk,
        }
    }

    /// Every record, newest first.
    pub async fn all(self) -> Result<Vec<AuditRecord>> {
        let pk = self.pk.make(self.table)?;
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let (page, last) = fetch(self.table, &pk, None, start).await?;
            records.extend(page);
            match last {
                Some(last) => start = Some(last),
                None => return Ok(records),
            }
        }
    }

    /// Up to `size` records, newest first, from `cursor` (a page's `cursor`; `None`: the start).
    pub async fn page(self, size: usize, cursor: Option<&str>) -> Result<Page<AuditRecord>> {
        let (table, entity) = (self.table, self.entity);
        let pk = self.pk.make(table)?;
        let fingerprint = Fingerprint::of(&[b"audit", pk.as_bytes()]);
        let partition = (table.partition_key(), pk.as_str());
        let start = cursor
            .map(|text| cursor::open(text, fingerprint, table, entity, partition))
            .transpose()?;
        let (items, last) = fetch(table, &pk, Some(size), start).await?;
        let cursor = last
            .map(|last| cursor::make(&last, fingerprint, table, entity))
            .transpose()?;
        Ok(Page { items, cursor })
    }
}

/// One Query of the trail in partition `pk`: its records and where the next one starts.
async fn fetch(
    table: &Table,
    pk: &str,
    limit: Option<usize>,
    start: Option<Item>,
) -> Result<(Vec<AuditRecord>, Option<Item>)> {
    let span = tracing::debug_span!(
        "dynamodb",
        operation = "Query",
        table = table.name(),
        entity = AUDIT_TYPE,
    );
    let prefix = format!("AUDIT{}", table.separator());
    let output = table
        .client()
        .query()
        .table_name(table.name())
        .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
        .expression_attribute_names("#pk", table.partition_key())
        .expression_attribute_names("#sk", table.sort_key())
        .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
        .expression_attribute_values(":prefix", AttributeValue::S(prefix))
        .scan_index_forward(false)
        .set_limit(limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX)))
        .set_exclusive_start_key(start)
        .send()
        .instrument(span)
        .await
        .map_err(|e| sdk_error(table, "Query", AUDIT_TYPE, e))?;
    let records = output
        .items
        .unwrap_or_default()
        .into_iter()
        .filter(|item| {
            item.get(TYPE_ATTRIBUTE)
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                == Some(AUDIT_TYPE)
        })
        .map(|item| decode(item, table))
        .collect::<Result<_>>()?;
    Ok((records, output.last_evaluated_key))
}

/// Reads an audit record from its stored form.
fn decode(mut item: Item, table: &Table) -> Result<AuditRecord> {
    let key = item::item_key_of(&item, table);
    let invalid = |field: &str, message: &str| Error::Decode {
        entity: AUDIT_TYPE,
        key: key.clone(),
        field: field.into(),
        message: message.into(),
    };
    let mut text = |name: &str| match item.remove(name) {
        Some(AttributeValue::S(s)) => Some(s),
        _ => None,
    };
    let required = |value: Option<String>, name: &str| {
        value.ok_or_else(|| invalid(name, "missing, or not a string"))
    };
    let id = required(text("id"), "id")?;
    let tenant_id = text("tenantId");
    let entity_type = required(text("entityType"), "entityType")?;
    let entity_id = required(text("entityId"), "entityId")?;
    let action_text = required(text("action"), "action")?;
    let actor = text("userId");
    let request_id = text("requestId");
    let timestamp_text = required(text("timestamp"), "timestamp")?;
    let action = AuditAction::parse(&action_text)
        .ok_or_else(|| invalid("action", &format!("unknown action `{action_text}`")))?;
    let timestamp = OffsetDateTime::parse(
        &timestamp_text,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| invalid("timestamp", &e.to_string()))?;
    let revision = item
        .get("revision")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| invalid("revision", "missing, or not a number"))?;
    let entity_key = match item.remove("entityKey") {
        Some(AttributeValue::M(mut map)) => {
            let mut part = |name: &str| match map.remove(name) {
                Some(AttributeValue::S(s)) => Ok(s),
                _ => Err(invalid("entityKey", "missing pk or sk")),
            };
            ItemKey {
                pk: part("pk")?,
                sk: part("sk")?,
            }
        }
        _ => return Err(invalid("entityKey", "missing, or not a map")),
    };
    let changes = match item.remove("changes") {
        Some(AttributeValue::M(changes)) => changes
            .into_iter()
            .map(|(name, pair)| match pair {
                AttributeValue::M(mut pair) => Ok((
                    name,
                    Change {
                        old: pair.remove("old"),
                        new: pair.remove("new"),
                    },
                )),
                _ => Err(invalid("changes", &format!("`{name}` is not a map"))),
            })
            .collect::<Result<_>>()?,
        _ => BTreeMap::new(),
    };
    Ok(AuditRecord {
        id,
        tenant_id,
        entity_type,
        entity_id,
        entity_key,
        action,
        actor,
        request_id,
        changes,
        timestamp,
        revision,
    })
}
