//! The stored form of an entity: its serde fields plus the key attributes, `_type` and
//! `_timestamp`. Internal attributes are added here on the way out and removed here on the way
//! in, so they never reach the user's struct.

use std::collections::HashMap;
use std::ops::Range;

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

/// Decodes a stored item into `E`, leaving out the internal attributes.
///
/// The item is walked once, and no attribute name is hashed: the key and `_type` are taken and
/// the other attributes the library keeps are passed over in the same walk that decodes the
/// fields. An item that may need an upgrade (`E` is past schema 1, or the item records a
/// schema) is upgraded first (see [`decode_upgraded`]).
#[doc(hidden)]
pub fn decode<E: Schema>(item: Item, table: &Table) -> Result<E> {
    let schema_recorded = || {
        item.keys()
            .any(|name| name == SCHEMA_ATTRIBUTE || name == MIN_SCHEMA_ATTRIBUTE)
    };
    if E::SCHEMA != 1 || schema_recorded() {
        return decode_upgraded(item, table);
    }
    let (pk_name, sk_name) = (table.partition_key(), table.sort_key());
    let (mut pk, mut sk, mut found_type) = (None, None, None);
    let library = library_attributes::<E>(table);
    let decoded = codec::from_item_without(item, |name, value| {
        let slot = if name == pk_name {
            &mut pk
        } else if name == sk_name {
            &mut sk
        } else if name == TYPE_ATTRIBUTE {
            &mut found_type
        } else {
            return library(name);
        };
        *slot = Some(std::mem::replace(value, AttributeValue::Null(true)));
        true
    });
    let key = ItemKey {
        pk: text(pk),
        sk: text(sk),
    };
    // Read after the fields, checked before them: an item of another type is that error.
    check_type::<E>(&text(found_type), &key)?;
    finish(decoded, key, table)
}

/// [`decode`] of an item that may need an upgrade: the key, `_type` and schema attributes are
/// taken out first (one walk, no hashing), then the item is upgraded and its fields decoded.
fn decode_upgraded<E: Schema>(mut item: Item, table: &Table) -> Result<E> {
    let (pk_name, sk_name) = (table.partition_key(), table.sort_key());
    let (mut pk, mut sk, mut found_type, mut schema, mut min_schema) =
        (None, None, None, None, None);
    let checked = |name: &String, _: &mut AttributeValue| {
        name == pk_name
            || name == sk_name
            || matches!(
                name.as_str(),
                TYPE_ATTRIBUTE | SCHEMA_ATTRIBUTE | MIN_SCHEMA_ATTRIBUTE
            )
    };
    for (name, value) in item.extract_if(checked) {
        let slot = if name == pk_name {
            &mut pk
        } else if name == sk_name {
            &mut sk
        } else {
            match name.as_str() {
                TYPE_ATTRIBUTE => &mut found_type,
                SCHEMA_ATTRIBUTE => &mut schema,
                _ => &mut min_schema,
            }
        };
        *slot = Some(value);
    }
    let key = ItemKey {
        pk: text(pk),
        sk: text(sk),
    };
    check_type::<E>(&text(found_type), &key)?;
    let upgrades = schema_upgrades::<E>(schema.as_ref(), min_schema.as_ref(), &key)?;
    apply_upgrades::<E>(upgrades, &mut item, &key)?;
    let library = library_attributes::<E>(table);
    finish(
        codec::from_item_without(item, |name, _| library(name)),
        key,
        table,
    )
}

/// The text of a string attribute, empty for anything else.
fn text(value: Option<AttributeValue>) -> String {
    match value {
        Some(AttributeValue::S(s)) => s,
        _ => String::new(),
    }
}

/// Whether an attribute is one the library keeps on `E`'s items besides the key, `_type` and
/// the schema attributes, which a decode leaves out: the other internal attributes, the
/// time-to-live copy and the keys of `E`'s indexes.
fn library_attributes<E: Schema>(table: &Table) -> impl Fn(&str) -> bool + '_ {
    let ttl = match E::EXPIRES {
        true => table.ttl_attribute(),
        false => None,
    };
    move |name| {
        // Internal attributes start with `_`: other names skip the comparisons.
        (name.starts_with('_')
            && matches!(
                name,
                TIMESTAMP_ATTRIBUTE
                    | TENANT_TYPE_ATTRIBUTE
                    | DELETED_ATTRIBUTE
                    | DELETED_BY_ATTRIBUTE
                    | REVISION_ATTRIBUTE
                    | WRITE_ATTRIBUTE
            ))
            || ttl == Some(name)
            || E::INDEXES.iter().any(|index| {
                table
                    .index(index.index)
                    .is_some_and(|index| index.partition_key == name || index.sort_key == name)
            })
    }
}

/// The decoded entity, or its error at `key`; refused when it belongs to another tenant.
fn finish<E: Schema>(
    decoded: std::result::Result<E, codec::DecodeError>,
    key: ItemKey,
    table: &Table,
) -> Result<E> {
    let entity = decoded.map_err(|e| Error::Decode {
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
    let upgrades = schema_upgrades::<E>(
        item.get(SCHEMA_ATTRIBUTE),
        item.get(MIN_SCHEMA_ATTRIBUTE),
        key,
    )?;
    item.remove(SCHEMA_ATTRIBUTE);
    item.remove(MIN_SCHEMA_ATTRIBUTE);
    apply_upgrades::<E>(upgrades, item, key)
}

/// The schema versions an item of `E` whose schema attributes hold `schema` and `min_schema`
/// must be upgraded from, in order (none when it reads as it is); an error for an item of a
/// newer schema than this build can read.
fn schema_upgrades<E: Schema>(
    schema: Option<&AttributeValue>,
    min_schema: Option<&AttributeValue>,
    key: &ItemKey,
) -> Result<Range<u32>> {
    let failed = |message: String| Error::Decode {
        entity: E::TYPE,
        key: key.clone(),
        field: SCHEMA_ATTRIBUTE.into(),
        message,
    };
    let number = |value: &AttributeValue| value.as_n().ok()?.parse::<u32>().ok();
    let stored = match schema {
        None => 1,
        Some(value) => {
            number(value).ok_or_else(|| failed("the schema version is not a number".into()))?
        }
    };
    let readable_from = match min_schema {
        None => stored,
        Some(value) => number(value)
            .ok_or_else(|| failed(format!("`{MIN_SCHEMA_ATTRIBUTE}` is not a number")))?,
    };
    if stored > E::SCHEMA {
        // Written by a newer build: readable as it is only where that build said so.
        if readable_from <= E::SCHEMA {
            return Ok(0..0);
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
    Ok(stored..E::SCHEMA)
}

/// Applies `E`'s upgrades from each schema of `upgrades` to `item`.
fn apply_upgrades<E: Schema>(upgrades: Range<u32>, item: &mut Item, key: &ItemKey) -> Result<()> {
    for from in upgrades {
        E::upgrade(from, item).map_err(|message| Error::Decode {
            entity: E::TYPE,
            key: key.clone(),
            field: SCHEMA_ATTRIBUTE.into(),
            message: format!("upgrade from schema {from}: {message}"),
        })?;
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

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use singletable_keys::{Segment, Template};
    use time::macros::datetime;

    use super::*;
    use crate::schema::{EntityKey, IndexKeys, PartitionKey};

    /// The key of the test entities, which these tests never render.
    struct NoKey;

    impl EntityKey for NoKey {
        fn item_key(&self, _: &Table) -> Result<ItemKey> {
            Err(Error::InvalidRequest {
                entity: "NOTE",
                reason: "not rendered in these tests".into(),
            })
        }
    }

    impl PartitionKey for NoKey {
        fn partition_key(&self, _: &Table) -> Result<String> {
            Err(Error::InvalidRequest {
                entity: "NOTE",
                reason: "not rendered in these tests".into(),
            })
        }
    }

    const NOTE_KEY: Template<'static> =
        Template::from_segments("NOTE", &[Segment::Literal("NOTE")]);

    /// Implements `Schema` for a test entity, as the derive would (with what each test needs).
    macro_rules! schema {
        ($entity:ty, schema = $schema:expr, upgrade = $upgrade:expr) => {
            impl Schema for $entity {
                const TYPE: &'static str = "NOTE";
                const PARTITION_KEY: &'static Template<'static> = &NOTE_KEY;
                const SORT_KEY: &'static Template<'static> = &NOTE_KEY;
                const INDEXES: &'static [IndexKeys] = &[IndexKeys {
                    index: "ByAuthor",
                    pk: NOTE_KEY,
                    sk: NOTE_KEY,
                }];
                const EXPIRES: bool = true;
                const SCHEMA: u32 = $schema;

                fn upgrade(from: u32, item: &mut Item) -> std::result::Result<(), String> {
                    $upgrade(from, item)
                }

                type Key<'k> = NoKey;
                type New = ();
                type Partition<'k> = NoKey;

                fn from_new(_: (), _: OffsetDateTime, _: &Table) -> Result<Self> {
                    Err(Error::InvalidRequest {
                        entity: "NOTE",
                        reason: "not created in these tests".into(),
                    })
                }

                fn key(&self) -> NoKey {
                    NoKey
                }
            }
        };
    }

    /// Refuses any attribute that is not one of its fields, so that an internal attribute that
    /// reached it fails the test.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Note {
        id: String,
        body: Option<String>,
        #[serde(with = "crate::timestamp")]
        written_at: OffsetDateTime,
    }

    schema!(
        Note,
        schema = 1,
        upgrade = |from, _: &mut Item| Err(format!("no upgrade from {from}"))
    );

    /// `Note` at schema 2: schema 1 called `body` `text`.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct NoteV2 {
        id: String,
        body: Option<String>,
        #[serde(with = "crate::timestamp")]
        written_at: OffsetDateTime,
    }

    schema!(
        NoteV2,
        schema = 2,
        upgrade = |from, item: &mut Item| {
            assert_eq!(from, 1);
            assert!(
                item.contains_key(TIMESTAMP_ATTRIBUTE),
                "an upgrade sees the item's other internal attributes"
            );
            if let Some(text) = item.remove("text") {
                item.insert("body".into(), text);
            }
            Ok(())
        }
    );

    fn table() -> Table {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .build();
        Table::builder(aws_sdk_dynamodb::Client::from_conf(config), "offline")
            .index("ByAuthor", "gsi1pk", "gsi1sk")
            .ttl_attribute("expires")
            .tenant_type_index("TenantTypeIndex")
            .build()
    }

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.into())
    }

    /// A stored note with every attribute the library keeps.
    fn stored() -> Item {
        HashMap::from([
            ("pk".to_owned(), s("NOTE#1")),
            ("sk".to_owned(), s("NOTE")),
            (TYPE_ATTRIBUTE.to_owned(), s("NOTE")),
            (
                TIMESTAMP_ATTRIBUTE.to_owned(),
                s("2026-11-24T04:56:06.559Z"),
            ),
            (TENANT_TYPE_ATTRIBUTE.to_owned(), s("t1#NOTE")),
            (DELETED_ATTRIBUTE.to_owned(), s("2026-11-25T00:00:00.000Z")),
            (DELETED_BY_ATTRIBUTE.to_owned(), s("admin")),
            (REVISION_ATTRIBUTE.to_owned(), AttributeValue::N("3".into())),
            (WRITE_ATTRIBUTE.to_owned(), s("token")),
            ("expires".to_owned(), AttributeValue::N("1800000000".into())),
            ("gsi1pk".to_owned(), s("AUTHOR#a")),
            ("gsi1sk".to_owned(), s("NOTE#1")),
            ("id".to_owned(), s("1")),
            ("body".to_owned(), s("hello")),
            ("writtenAt".to_owned(), s("2026-11-24T04:56:06.559Z")),
        ])
    }

    fn note() -> Note {
        Note {
            id: "1".into(),
            body: Some("hello".into()),
            written_at: datetime!(2026-11-24 04:56:06.559 UTC),
        }
    }

    /// The decode error of `item` as `E`: (field, message, key).
    fn failure<E: Schema + std::fmt::Debug>(item: Item) -> (String, String, ItemKey) {
        match decode::<E>(item, &table()) {
            Err(Error::Decode {
                entity: "NOTE",
                key,
                field,
                message,
            }) => (field, message, key),
            other => panic!("not a decode error: {other:?}"),
        }
    }

    #[test]
    fn internal_attributes_are_left_out() {
        assert_eq!(decode::<Note>(stored(), &table()).unwrap(), note());
        let mut item = stored();
        item.insert("body".into(), AttributeValue::Null(true));
        let read = decode::<Note>(item, &table()).unwrap();
        assert_eq!(read.body, None);
    }

    #[test]
    fn another_type_is_refused_before_its_fields_are_read() {
        let mut item = stored();
        item.insert(TYPE_ATTRIBUTE.into(), s("TEAM"));
        item.insert("id".into(), AttributeValue::Bool(true));
        let (field, message, key) = failure::<Note>(item);
        assert_eq!(field, TYPE_ATTRIBUTE);
        assert_eq!(message, "the item is a `TEAM`, not a `NOTE`");
        assert_eq!((key.pk.as_str(), key.sk.as_str()), ("NOTE#1", "NOTE"));

        let mut item = stored();
        item.remove(TYPE_ATTRIBUTE);
        assert_eq!(failure::<Note>(item).1, "the item is a ``, not a `NOTE`");
    }

    #[test]
    fn a_field_that_fails_is_named_with_the_key() {
        // Whichever attribute the walk meets first, the key is complete.
        for _ in 0..8 {
            let mut item = stored();
            item.insert("writtenAt".into(), s("yesterday"));
            let (field, message, key) = failure::<Note>(item);
            assert_eq!(field, "writtenAt");
            assert_eq!(message, "the 'year' component could not be parsed");
            assert_eq!((key.pk.as_str(), key.sk.as_str()), ("NOTE#1", "NOTE"));
        }
        let mut item = stored();
        item.insert("body".into(), AttributeValue::N("5".into()));
        let (field, message, _) = failure::<Note>(item);
        assert_eq!(
            (field.as_str(), message.as_str()),
            ("body", "Expected string")
        );
    }

    #[test]
    fn schema_attributes_are_checked_and_left_out() {
        let number = |n: &str| AttributeValue::N(n.into());
        let with = |attributes: &[(&str, AttributeValue)]| {
            let mut item = stored();
            for (name, value) in attributes {
                item.insert((*name).into(), value.clone());
            }
            item
        };
        let read = |item| decode::<Note>(item, &table());
        assert_eq!(
            read(with(&[(SCHEMA_ATTRIBUTE, number("1"))])).unwrap(),
            note()
        );
        // A newer build's item that says this build can read it.
        let compatible = with(&[
            (SCHEMA_ATTRIBUTE, number("3")),
            (MIN_SCHEMA_ATTRIBUTE, number("1")),
        ]);
        assert_eq!(read(compatible).unwrap(), note());
        assert_eq!(
            read(with(&[(MIN_SCHEMA_ATTRIBUTE, number("1"))])).unwrap(),
            note()
        );

        let (field, message, _) = failure::<Note>(with(&[(SCHEMA_ATTRIBUTE, s("one"))]));
        assert_eq!(
            (field.as_str(), message.as_str()),
            (SCHEMA_ATTRIBUTE, "the schema version is not a number")
        );
        let (_, message, _) = failure::<Note>(with(&[(MIN_SCHEMA_ATTRIBUTE, s("one"))]));
        assert_eq!(message, "`_min_schema` is not a number");
        let (_, message, _) = failure::<Note>(with(&[(SCHEMA_ATTRIBUTE, number("2"))]));
        assert_eq!(
            message,
            "the item was written with schema 2, and this build knows schema 1 at most"
        );
        let (_, message, _) = failure::<Note>(with(&[(SCHEMA_ATTRIBUTE, number("0"))]));
        assert_eq!(message, "upgrade from schema 0: no upgrade from 0");
    }

    #[test]
    fn an_older_item_is_upgraded_before_it_is_read() {
        let mut item = stored();
        let body = item.remove("body").unwrap();
        item.insert("text".into(), body);
        let read = decode::<NoteV2>(item, &table()).unwrap();
        assert_eq!(read.body.as_deref(), Some("hello"));
        assert_eq!(read.written_at, note().written_at);

        let mut item = stored();
        item.insert(SCHEMA_ATTRIBUTE.into(), AttributeValue::N("2".into()));
        assert_eq!(
            decode::<NoteV2>(item, &table()).unwrap().body.as_deref(),
            Some("hello")
        );

        let mut item = stored();
        item.insert(TYPE_ATTRIBUTE.into(), s("TEAM"));
        assert_eq!(failure::<NoteV2>(item).0, TYPE_ATTRIBUTE);
        let mut item = stored();
        item.insert("id".into(), AttributeValue::Bool(false));
        let (field, _, key) = failure::<NoteV2>(item);
        assert_eq!((field.as_str(), key.pk.as_str()), ("id", "NOTE#1"));
    }

    #[test]
    fn upgrade_removes_the_schema_attributes() {
        let key = ItemKey::default();
        let mut item = stored();
        item.insert(SCHEMA_ATTRIBUTE.into(), AttributeValue::N("1".into()));
        item.insert(MIN_SCHEMA_ATTRIBUTE.into(), AttributeValue::N("1".into()));
        item.insert("text".into(), item["body"].clone());
        item.remove("body");
        upgrade::<NoteV2>(&mut item, &key).unwrap();
        assert!(!item.contains_key(SCHEMA_ATTRIBUTE) && !item.contains_key(MIN_SCHEMA_ATTRIBUTE));
        assert_eq!(item["body"], s("hello"));
    }
}
