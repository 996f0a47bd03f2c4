//! The stored form of an entity: its serde fields plus the key attributes, `_type` and
//! `_timestamp`. Internal attributes are added here on the way out and removed here on the way
//! in, so they never reach the user's struct.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use crate::codec;
use crate::error::{Error, ItemKey, Result};
use crate::schema::Schema;
use crate::table::Table;

pub use crate::codec::Item;

/// The attribute holding the entity type of an item.
pub const TYPE_ATTRIBUTE: &str = "_type";
/// The attribute holding an item's creation time (ISO-8601 UTC, milliseconds).
pub const TIMESTAMP_ATTRIBUTE: &str = "_timestamp";
/// The attribute holding `<tenant><separator><type>` on items of tenant-scoped entities, when
/// the table has a tenant type index.
pub const TENANT_TYPE_ATTRIBUTE: &str = "_tenant_type";
/// The attribute marking a soft-deleted item, with the deletion time (ISO-8601 UTC, ms).
pub const DELETED_ATTRIBUTE: &str = "_deleted_at";
/// The attribute naming who soft-deleted an item, when the table's audit context knows.
pub const DELETED_BY_ATTRIBUTE: &str = "_deleted_by";
/// The attribute counting the writes of an audited item: each audited write expects the
/// revision it read, so an audit record's old values are exactly what the write replaced.
pub const REVISION_ATTRIBUTE: &str = "_revision";
/// The attribute holding the token of the last update that was not idempotent (an `add`, a
/// list append, a version step), so that its retry after a lost reply is not applied twice.
pub const WRITE_ATTRIBUTE: &str = "_write";
/// The attribute recording the entity schema version an item was written with; items of
/// schema 1 do not carry it.
pub const SCHEMA_ATTRIBUTE: &str = "_schema";
/// The attribute recording the oldest schema version that can read an item, on items of a
/// schema declared compatible with older ones.
pub const MIN_SCHEMA_ATTRIBUTE: &str = "_min_schema";
/// The attribute of a unique field's guard item naming the item that holds its value: a map
/// `{pk, sk}` of that item's key (see [`UNIQUE_TYPE`]).
pub const OWNER_ATTRIBUTE: &str = "_owner";
pub use crate::schema::UNIQUE_TYPE;

/// Whether `name` is an attribute the library keeps on items of its own.
pub(crate) fn is_internal(name: &str) -> bool {
    matches!(
        name,
        TYPE_ATTRIBUTE
            | TIMESTAMP_ATTRIBUTE
            | TENANT_TYPE_ATTRIBUTE
            | DELETED_ATTRIBUTE
            | DELETED_BY_ATTRIBUTE
            | REVISION_ATTRIBUTE
            | SCHEMA_ATTRIBUTE
            | MIN_SCHEMA_ATTRIBUTE
            | WRITE_ATTRIBUTE
    )
}

/// Whether `item` is soft-deleted.
pub(crate) fn is_deleted(item: &Item) -> bool {
    item.contains_key(DELETED_ATTRIBUTE)
}

/// The `_tenant_type` value of `tenant`'s items of type `type_name`: the partition of the
/// tenant type index that lists them.
pub fn tenant_type(tenant: &str, type_name: &str, table: &Table) -> String {
    format!("{tenant}{}{type_name}", table.separator())
}

/// The `_tenant_type` attribute `tenant`'s items of type `type_name` are written with, when the
/// table has a tenant type index. Entities, their unique guards and their audit records all
/// carry it, so one tenant's items of every kind can be listed without a scan.
pub(crate) fn tenant_type_attribute(
    tenant: &str,
    type_name: &str,
    table: &Table,
) -> Option<(String, AttributeValue)> {
    table.tenant_type_index()?;
    let value = AttributeValue::S(tenant_type(tenant, type_name, table));
    Some((TENANT_TYPE_ATTRIBUTE.to_owned(), value))
}

/// Encodes `entity` as the item stored at `key`, created at `created`.
#[doc(hidden)]
pub fn encode<E: Schema>(
    entity: &E,
    key: ItemKey,
    created: OffsetDateTime,
    table: &Table,
) -> Result<Item> {
    let mut item = codec::to_item(entity).map_err(|e| Error::Encode {
        entity: E::TYPE,
        field: "the entity".into(),
        message: e.to_string(),
    })?;
    for (name, value) in derived(entity, table)? {
        let Some(value) = value else { continue };
        if item.insert(name.to_owned(), value).is_some() {
            return Err(Error::ReservedAttribute {
                entity: E::TYPE,
                attribute: name.into(),
            });
        }
    }
    let timestamp = crate::timestamp::text(created);
    let internal = [
        (table.partition_key(), AttributeValue::S(key.pk)),
        (table.sort_key(), AttributeValue::S(key.sk)),
        (TYPE_ATTRIBUTE, AttributeValue::S(E::TYPE.into())),
        (TIMESTAMP_ATTRIBUTE, AttributeValue::S(timestamp)),
    ];
    // Schema 1 is recorded by the attribute's absence, which keeps the common item plain.
    for (attribute, at) in schema_attributes::<E>() {
        if item.insert(attribute.into(), at).is_some() {
            return Err(Error::ReservedAttribute {
                entity: E::TYPE,
                attribute: attribute.into(),
            });
        }
    }
    for (name, value) in internal {
        if item.insert(name.into(), value).is_some() {
            return Err(Error::ReservedAttribute {
                entity: E::TYPE,
                attribute: name.into(),
            });
        }
    }
    let size = item_size(&item);
    if size > MAX_ITEM_SIZE {
        return Err(Error::Limit {
            entity: E::TYPE,
            what: "bytes in one item",
            limit: MAX_ITEM_SIZE,
            got: size,
        });
    }
    Ok(item)
}

/// The attributes of `entity`'s item that the library derives from its fields, each with the
/// value it must hold, or `None` where the item must not carry it: the keys of the entity's
/// indexes (`None`: not in that sparse index), the time-to-live copy (`None`: no expiry), and
/// `_tenant_type` on a table with a tenant type index. Writes and re-indexing both take them
/// from here, so an item re-indexed holds what a new write of it would.
pub(crate) fn derived<'t, E: Schema>(
    entity: &E,
    table: &'t Table,
) -> Result<Vec<(&'t str, Option<AttributeValue>)>> {
    let mut derived = Vec::new();
    for (index, key) in E::INDEXES.iter().zip(entity.index_keys(table.separator())?) {
        let (pk, sk) = index_attributes::<E>(table, index.index)?;
        let (pk_value, sk_value) = match key {
            Some(key) => (
                Some(AttributeValue::S(key.pk)),
                Some(AttributeValue::S(key.sk)),
            ),
            None => (None, None),
        };
        derived.push((pk, pk_value));
        derived.push((sk, sk_value));
    }
    if E::EXPIRES {
        let at = entity
            .expires_at()
            .map(|at| AttributeValue::N(at.to_string()));
        derived.push((ttl_attribute::<E>(table)?, at));
    }
    if let (Some(tenant), Some(_)) = (entity.tenant(), table.tenant_type_index()) {
        let value = AttributeValue::S(tenant_type(tenant, E::TYPE, table));
        derived.push((TENANT_TYPE_ATTRIBUTE, Some(value)));
    }
    Ok(derived)
}

/// The schema attributes an item of `E` is written with: `_schema` above schema 1, and
/// `_min_schema` when older schemas can read it.
pub(crate) fn schema_attributes<E: Schema>() -> impl Iterator<Item = (&'static str, AttributeValue)>
{
    let number = |n: u32| AttributeValue::N(n.to_string());
    let schema = (E::SCHEMA > 1).then(|| (SCHEMA_ATTRIBUTE, number(E::SCHEMA)));
    let min = (E::COMPATIBLE < E::SCHEMA).then(|| (MIN_SCHEMA_ATTRIBUTE, number(E::COMPATIBLE)));
    schema.into_iter().chain(min)
}

/// DynamoDB's limit on an item's size, in bytes.
pub(crate) const MAX_ITEM_SIZE: usize = 400 * 1024;

/// An item's size as DynamoDB counts it: attribute names and values, by their UTF-8 or binary
/// length (numbers by their digits, an upper bound of DynamoDB's own encoding).
pub(crate) fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(v) | AttributeValue::Ns(v) => v.iter().map(String::len).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|e| 1 + value_size(e)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// Decodes a stored item into `E`, after removing the internal attributes.
#[doc(hidden)]
pub fn decode<E: Schema>(mut item: Item, table: &Table) -> Result<E> {
    let mut take_string = |name: &str| match item.remove(name) {
        Some(AttributeValue::S(s)) => s,
        _ => String::new(),
    };
    let key = ItemKey {
        pk: take_string(table.partition_key()),
        sk: take_string(table.sort_key()),
    };
    check_type::<E>(&take_string(TYPE_ATTRIBUTE), &key)?;
    upgrade::<E>(&mut item, &key)?;
    item.remove(TIMESTAMP_ATTRIBUTE);
    item.remove(TENANT_TYPE_ATTRIBUTE);
    item.remove(DELETED_ATTRIBUTE);
    item.remove(DELETED_BY_ATTRIBUTE);
    item.remove(REVISION_ATTRIBUTE);
    item.remove(WRITE_ATTRIBUTE);
    if let (true, Some(ttl)) = (E::EXPIRES, table.ttl_attribute()) {
        item.remove(ttl);
    }
    for index in E::INDEXES {
        if let Some(index) = table.index(index.index) {
            item.remove(&index.partition_key);
            item.remove(&index.sort_key);
        }
    }
    let entity = codec::from_item(item).map_err(|e| Error::Decode {
        entity: E::TYPE,
        key,
        field: e.field,
        message: e.message,
    })?;
    // The key carried the scope's tenant; an item that says otherwise is not returned.
    crate::tenant::check_owner(&entity, table)?;
    Ok(entity)
}

/// Refuses to read an item whose `_type` (`found`) is not `E`'s as an `E`.
pub(crate) fn check_type<E: Schema>(found: &str, key: &ItemKey) -> Result<()> {
    if found == E::TYPE {
        return Ok(());
    }
    Err(Error::Decode {
        entity: E::TYPE,
        key: key.clone(),
        field: TYPE_ATTRIBUTE.into(),
        message: format!("the item is a `{found}`, not a `{}`", E::TYPE),
    })
}

/// The schema version `item` was written with.
pub(crate) fn schema_of(item: &Item) -> Option<u32> {
    match item.get(SCHEMA_ATTRIBUTE) {
        None => Some(1),
        Some(value) => value.as_n().ok()?.parse().ok(),
    }
}

/// Brings `item` from the schema it was written with to `E::SCHEMA`, one version at a time,
/// and removes the schema attribute. An item of a newer schema than this build knows is refused
/// rather than read wrong.
pub(crate) fn upgrade<E: Schema>(item: &mut Item, key: &ItemKey) -> Result<()> {
    let failed = |message: String| Error::Decode {
        entity: E::TYPE,
        key: key.clone(),
        field: SCHEMA_ATTRIBUTE.into(),
        message,
    };
    let stored =
        schema_of(item).ok_or_else(|| failed("the schema version is not a number".into()))?;
    item.remove(SCHEMA_ATTRIBUTE);
    let readable_from = match item.remove(MIN_SCHEMA_ATTRIBUTE) {
        None => stored,
        Some(value) => value
            .as_n()
            .ok()
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| failed(format!("`{MIN_SCHEMA_ATTRIBUTE}` is not a number")))?,
    };
    if stored > E::SCHEMA {
        // Written by a newer build: readable as it is only where that build said so.
        if readable_from <= E::SCHEMA {
            return Ok(());
        }
        let compatible = match readable_from < stored {
            true => format!(" (readable from schema {readable_from})"),
            false => String::new(),
        };
        return Err(failed(format!(
            "the item was written with schema {stored}{compatible}, and this build knows \
             schema {} at most",
            E::SCHEMA
        )));
    }
    for from in stored..E::SCHEMA {
        E::upgrade(from, item)
            .map_err(|message| failed(format!("upgrade from schema {from}: {message}")))?;
    }
    Ok(())
}

/// The attribute names of the table's index `name`, which `E` declares keys for.
pub(crate) fn index_attributes<'t, E: Schema>(
    table: &'t Table,
    name: &str,
) -> Result<(&'t str, &'t str)> {
    match table.index(name) {
        Some(index) => Ok((&index.partition_key, &index.sort_key)),
        None => Err(Error::InvalidRequest {
            entity: E::TYPE,
            reason: format!(
                "the entity declares keys for index `{name}`, which the table does not have; \
                 declare it with `Table::builder(..).index(\"{name}\", pk_attribute, sk_attribute)`"
            ),
        }),
    }
}

/// The table's time-to-live attribute, which `E` needs for its expiry.
pub(crate) fn ttl_attribute<E: Schema>(table: &Table) -> Result<&str> {
    table.ttl_attribute().ok_or_else(|| Error::InvalidRequest {
        entity: E::TYPE,
        reason:
            "the entity has an `#[entity(ttl)]` field and the table no time-to-live attribute; \
                 declare it with `Table::builder(..).ttl_attribute(name)`"
                .into(),
    })
}

/// Whether `item` has expired: DynamoDB deletes expired items late, so reads skip them.
pub(crate) fn is_expired(item: &Item, table: &Table, now: i64) -> bool {
    let Some(attribute) = table.ttl_attribute() else {
        return false;
    };
    item.get(attribute)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok())
        .is_some_and(|at| at <= now)
}

/// The key of a stored item (empty strings where an attribute is missing).
pub(crate) fn item_key_of(item: &Item, table: &Table) -> ItemKey {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    ItemKey {
        pk: text(table.partition_key()),
        sk: text(table.sort_key()),
    }
}

/// The stored key of an entity's item, as the SDK takes it.
pub(crate) fn key_item(key: ItemKey, table: &Table) -> Item {
    HashMap::from([
        (table.partition_key().to_owned(), AttributeValue::S(key.pk)),
        (table.sort_key().to_owned(), AttributeValue::S(key.sk)),
    ])
}
