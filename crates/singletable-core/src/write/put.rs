//! The plan of a put: the encoded item and its guards (the item at the key is of this type or
//! absent, the user's condition, the version a versioned entity was read at).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::condition;
use crate::autogen;
use crate::error::{Error, ItemKey, Result};
use crate::expr::{Condition, Names};
use crate::item::{self, Item};
use crate::schema::{EntityKey, Schema};
use crate::table::Table;

/// A put ready to send: the item, and its condition if it has one.
pub(crate) struct PreparedPut {
    pub(crate) key: ItemKey,
    pub(crate) item: Item,
    pub(crate) condition: String,
    pub(crate) names: HashMap<String, String>,
    pub(crate) values: HashMap<String, AttributeValue>,
    pub(crate) expected: Option<u64>,
}

/// Encodes `entity` and its condition: `user`'s, and for a versioned entity "a new item, or the
/// version this entity was read at" (the item is stored with the next version).
pub(crate) fn prepare<E: Schema>(
    table: &Table,
    entity: &E,
    user: Option<&Condition<E>>,
) -> Result<PreparedPut> {
    crate::tenant::admit::<E>(table)?;
    crate::tenant::check_owner(entity, table)?;
    let key = entity.key().item_key(table)?;
    super::unique::check(table, entity)?;
    let mut item = item::encode(entity, key.clone(), autogen::now(), table)?;
    let mut names = Names::default();
    // A key template shared by mistake must not let one entity replace another's item.
    let pk = names.name(table.partition_key());
    let item_type = names.name(item::TYPE_ATTRIBUTE);
    let this_type = names.value(AttributeValue::S(E::TYPE.into()));
    // A put replaces the whole item: over an item a newer build wrote it would drop the fields
    // this build does not know, so it holds only over items of this schema or older.
    let schema = names.name(item::SCHEMA_ATTRIBUTE);
    let this_schema = names.value(AttributeValue::N(E::SCHEMA.to_string()));
    let mut clauses = vec![
        format!("(attribute_not_exists({pk}) OR {item_type} = {this_type})"),
        format!("(attribute_not_exists({schema}) OR {schema} <= {this_schema})"),
    ];
    if let Some(user) = user {
        clauses.push(condition::render(user, &mut names)?);
    }
    let expected = match (E::VERSION, entity.version()) {
        (Some(attribute), Some(version)) => {
            let next = version
                .checked_add(1)
                .ok_or_else(|| Error::InvalidRequest {
                    entity: E::TYPE,
                    reason: "the version cannot grow past u64::MAX".into(),
                })?;
            item.insert(attribute.to_owned(), AttributeValue::N(next.to_string()));
            let name = names.name(attribute);
            let value = names.value(AttributeValue::N(version.to_string()));
            let pk = names.name(table.partition_key());
            clauses.push(format!("(attribute_not_exists({pk}) OR {name} = {value})"));
            Some(version)
        }
        _ => None,
    };
    Ok(PreparedPut {
        key,
        item,
        condition: clauses.join(" AND "),
        names: names.names.into_iter().collect(),
        values: names.values.into_iter().collect(),
        expected,
    })
}
