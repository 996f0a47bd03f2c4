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
//! tenant. [`AuditTrail`] lists them newest first, together with the entries another writer
//! stored in that layout (dynamodb-provider's `AUDIT_LOG` entity of the seed, sort key
//! `AUDIT#<timestamp>`), which read with no revision and no entity key.

mod log;

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
pub use log::AuditLog;

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
    /// The key of the entity's item; `None` for a record another writer stored (the seed's
    /// dynamodb-provider `AuditLog` has no `entityKey`).
    pub entity_key: Option<ItemKey>,
    /// What the write did.
    pub action: AuditAction,
    /// Who made it (`userId`), as the audit context told.
    pub actor: Option<String>,
    /// The request it belongs to, as the audit context told.
    pub request_id: Option<String>,
    /// The fields the write changed (by stored attribute name), with old and new values.
    pub changes: BTreeMap<String, Change>,
    /// When the write was made.
    pub timestamp: OffsetDateTime,
    /// The item's revision after the write (1 for its first); `None` for a record another
    /// writer stored (the seed's dynamodb-provider `AuditLog` has no `revision`).
    pub revision: Option<u64>,
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
            let tenant = crate::tenant::resolved(table);
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
    let output = request::query(table, AUDIT_TYPE, |request| {
        request
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", table.partition_key())
            .expression_attribute_names("#sk", table.sort_key())
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix))
            .scan_index_forward(false)
            .set_limit(limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX)))
            .set_exclusive_start_key(start)
    })
    .await?;
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

/// Reads an audit record from its stored form: singletable's own, or one another writer stored
/// in the same layout (dynamodb-provider's `AUDIT_LOG` entity of the seed), which has no
/// `revision` or `entityKey` and may have no `changes`. Attributes this record does not read
/// (such as the seed's `username`, `_timestamp` or the time-to-live attribute) are ignored; an
/// attribute that is absent or `NULL` where it is optional reads as absent, and one that is
/// present with a value of the wrong kind fails with [`Error::Decode`] naming it.
fn decode(mut item: Item, table: &Table) -> Result<AuditRecord> {
    let key = item::item_key_of(&item, table);
    let invalid = |field: &str, message: &str| Error::Decode {
        entity: AUDIT_TYPE,
        key: key.clone(),
        field: field.into(),
        message: message.into(),
    };
    // An optional attribute: `None` when it is absent or NULL.
    let mut take = |name: &str| match item.remove(name) {
        None | Some(AttributeValue::Null(_)) => None,
        Some(value) => Some(value),
    };
    let mut text = |name: &str| match take(name) {
        None => Ok(None),
        Some(AttributeValue::S(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(name, "not a string")),
    };
    let id = text("id")?;
    let tenant_id = text("tenantId")?;
    let entity_type = text("entityType")?;
    let entity_id = text("entityId")?;
    let action_text = text("action")?;
    let actor = text("userId")?;
    let request_id = text("requestId")?;
    let timestamp_text = text("timestamp")?;
    let required =
        |value: Option<String>, name: &str| value.ok_or_else(|| invalid(name, "missing"));
    let id = required(id, "id")?;
    let entity_type = required(entity_type, "entityType")?;
    let entity_id = required(entity_id, "entityId")?;
    let action_text = required(action_text, "action")?;
    let timestamp_text = required(timestamp_text, "timestamp")?;
    let action = AuditAction::parse(&action_text)
        .ok_or_else(|| invalid("action", &format!("unknown action `{action_text}`")))?;
    let timestamp = OffsetDateTime::parse(
        &timestamp_text,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| invalid("timestamp", &e.to_string()))?;
    let revision = match take("revision") {
        None => None,
        Some(AttributeValue::N(n)) => Some(
            n.parse()
                .map_err(|_| invalid("revision", &format!("`{n}` is not a revision number")))?,
        ),
        Some(_) => return Err(invalid("revision", "not a number")),
    };
    let entity_key = match take("entityKey") {
        None => None,
        Some(AttributeValue::M(mut map)) => {
            let mut part = |name: &str| match map.remove(name) {
                Some(AttributeValue::S(s)) => Ok(s),
                _ => Err(invalid("entityKey", &format!("no string `{name}`"))),
            };
            Some(ItemKey {
                pk: part("pk")?,
                sk: part("sk")?,
            })
        }
        Some(_) => return Err(invalid("entityKey", "not a map")),
    };
    let changes = match take("changes") {
        None => BTreeMap::new(),
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
        Some(_) => return Err(invalid("changes", "not a map")),
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::types::AttributeValue::{Null, M, N, S};

    use super::*;

    fn table() -> Table {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        Table::builder(aws_sdk_dynamodb::Client::from_conf(config), "audit").build()
    }

    fn s(text: &str) -> AttributeValue {
        S(text.to_owned())
    }

    fn map<const LEN: usize>(entries: [(&str, AttributeValue); LEN]) -> AttributeValue {
        M(entries.map(|(k, v)| (k.to_owned(), v)).into())
    }

    /// An entry as dynamodb-provider 3.1.3 stores the seed's `AuditLog`: no `revision`, no
    /// `entityKey`, a `username`, and `_type`/`_timestamp` from its type index.
    fn seed_entry() -> Item {
        HashMap::from(
            [
                ("pk", s("TENANT#t1#ORGANIZATION#org-1")),
                ("sk", s("AUDIT#2026-11-24T04:56:06.559Z")),
                ("_type", s("AUDIT_LOG")),
                ("_timestamp", s("2026-11-24T04:56:06.561Z")),
                ("id", s("5b0c7a9e-4f4e-4c1a-9d55-3c2b1f0e8a77")),
                ("tenantId", s("t1")),
                ("entityType", s("ORGANIZATION")),
                ("entityId", s("org-1")),
                ("action", s("update")),
                ("userId", s("current-user-id")),
                ("username", s("john")),
                (
                    "changes",
                    map([
                        ("plan", map([("old", s("free")), ("new", s("pro"))])),
                        (
                            "maxUsers",
                            map([("old", N("5".into())), ("new", N("50".into()))]),
                        ),
                    ]),
                ),
                ("timestamp", s("2026-11-24T04:56:06.559Z")),
                ("requestId", s("req-1795236966559-k3j9x2m1q")),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        )
    }

    #[test]
    fn a_seed_entry_reads_without_revision_or_entity_key() {
        let record = decode(seed_entry(), &table()).unwrap();
        let change = |old: AttributeValue, new: AttributeValue| Change {
            old: Some(old),
            new: Some(new),
        };
        assert_eq!(
            record,
            AuditRecord {
                id: "5b0c7a9e-4f4e-4c1a-9d55-3c2b1f0e8a77".into(),
                tenant_id: Some("t1".into()),
                entity_type: "ORGANIZATION".into(),
                entity_id: "org-1".into(),
                entity_key: None,
                action: AuditAction::Update,
                actor: Some("current-user-id".into()),
                request_id: Some("req-1795236966559-k3j9x2m1q".into()),
                changes: BTreeMap::from([
                    ("maxUsers".into(), change(N("5".into()), N("50".into()))),
                    ("plan".into(), change(s("free"), s("pro"))),
                ]),
                timestamp: time::macros::datetime!(2026-11-24 04:56:06.559 UTC),
                revision: None,
            }
        );
    }

    #[test]
    fn absent_or_null_optional_attributes_read_as_absent() {
        let mut entry = seed_entry();
        entry.remove("changes");
        entry.remove("requestId");
        entry.insert("userId".into(), Null(true));
        entry.insert("revision".into(), Null(true));
        let record = decode(entry, &table()).unwrap();
        assert!(record.changes.is_empty());
        assert_eq!((record.actor, record.request_id), (None, None));
        assert_eq!((record.revision, record.entity_key), (None, None));
    }

    #[test]
    fn singletable_entries_carry_revision_and_entity_key() {
        let mut entry = seed_entry();
        entry.insert("revision".into(), N("7".into()));
        let key = map([("pk", s("TENANT#t1#ORG#org-1")), ("sk", s("#METADATA"))]);
        entry.insert("entityKey".into(), key);
        let record = decode(entry, &table()).unwrap();
        assert_eq!(record.revision, Some(7));
        assert_eq!(
            record.entity_key,
            Some(ItemKey {
                pk: "TENANT#t1#ORG#org-1".into(),
                sk: "#METADATA".into(),
            })
        );
    }

    #[test]
    fn a_malformed_value_fails_naming_its_attribute() {
        let cases = [
            ("id", None),
            ("entityType", None),
            ("entityId", Some(N("1".into()))),
            ("action", Some(s("archive"))),
            ("timestamp", Some(s("yesterday"))),
            ("timestamp", None),
            ("userId", Some(N("1".into()))),
            ("tenantId", Some(map([]))),
            ("requestId", Some(AttributeValue::Bool(true))),
            ("revision", Some(s("1"))),
            ("revision", Some(N("-1".into()))),
            ("revision", Some(N("1.5".into()))),
            ("entityKey", Some(s("TENANT#t1#ORG#org-1"))),
            ("entityKey", Some(map([("pk", s("TENANT#t1#ORG#org-1"))]))),
            ("changes", Some(s("plan"))),
            ("changes", Some(map([("plan", s("pro"))]))),
        ];
        for (attribute, value) in cases {
            let mut entry = seed_entry();
            match &value {
                Some(value) => entry.insert(attribute.into(), value.clone()),
                None => entry.remove(attribute),
            };
            match decode(entry, &table()) {
                Err(Error::Decode {
                    entity, key, field, ..
                }) => {
                    assert_eq!(entity, AUDIT_TYPE);
                    assert_eq!(field, attribute, "{value:?}");
                    assert_eq!(key.sk, "AUDIT#2026-11-24T04:56:06.559Z");
                }
                other => panic!("`{attribute}` = {value:?}: {other:?}"),
            }
        }
    }
}
