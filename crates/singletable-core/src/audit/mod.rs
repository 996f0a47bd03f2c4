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

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use crate::cursor::Fingerprint;
use crate::error::{Error, ItemKey, Result};
use crate::item::{self, Item, TYPE_ATTRIBUTE};
use crate::later::Later;
use crate::ops::query::Page;
use crate::request;
use crate::schema::{EntityKey, Schema};
use crate::table::Table;
use crate::write::record::{identify, trail_partition, TENANT_PREFIX};

pub use crate::table::AuditContext;
pub use crate::write::record::{AuditAction, Change, AUDIT_TYPE};

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
    pub fn of<E: Schema>(table: &'t Table, key: E::Key<'t>) -> Self
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
            let invalid = |reason: &str| Error::InvalidRequest {
                entity: AUDIT_TYPE,
                reason: format!("audit trail of `{entity_type}`: {reason}"),
            };
            // The entity type is one key part: with a separator in it, or named `TENANT`
            // outside a scope, it would reach into a tenant's trail partitions.
            singletable_keys::check_value(&entity_type, table.separator())
                .map_err(|e| invalid(&e.to_string()))?;
            if entity_id.is_empty() {
                return Err(invalid("the entity id is empty"));
            }
            match &tenant {
                None if table.requires_tenant_scope() => {
                    return Err(Error::MissingTenant { entity: AUDIT_TYPE })
                }
                None if entity_type == TENANT_PREFIX => {
                    return Err(invalid("no tenant scope is set"))
                }
                Some(tenant) => singletable_keys::check_value(tenant.as_str(), table.separator())
                    .map_err(|e| invalid(&e.to_string()))?,
                None => {}
            }
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
            .map(|text| {
                crate::cursor::open(text, fingerprint, table.cursor_secret(), entity, partition)
            })
            .transpose()?;
        let (items, last) = fetch(table, &pk, Some(size), start).await?;
        let cursor = last
            .map(|last| crate::cursor::make(&last, fingerprint, table.cursor_secret(), entity))
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
    let prefix = format!("AUDIT{}", table.separator());
    let client = table.client();
    let sent = request::send(
        table,
        "Query",
        AUDIT_TYPE,
        |capacity| {
            client
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
                .set_return_consumed_capacity(capacity)
        },
        |request| request.send(),
    )
    .await;
    let output = sent
        .result
        .map_err(|e| request::sdk_error(table, "Query", AUDIT_TYPE, e))?;
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
