//! Conditions of writes: the user's typed condition, the version check of versioned entities,
//! and what a failed condition means for the caller.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{Error, ItemKey, Result};
use crate::expr::{Condition, Names};
use crate::item::{self, Item, TYPE_ATTRIBUTE};
use crate::schema::Schema;
use crate::table::Table;

/// Appends `AND (<condition>)` to `expression` for the user's condition and the expected
/// version, putting names and values into `names`.
pub(crate) fn append<E: Schema>(
    expression: &mut String,
    condition: Option<&Condition<E>>,
    expected_version: Option<u64>,
    names: &mut Names,
) -> Result<()> {
    if let Some(condition) = condition {
        expression.push_str(" AND ");
        expression.push_str(&render(condition, names)?);
    }
    if let (Some(attribute), Some(version)) = (E::VERSION, expected_version) {
        let name = names.name(attribute);
        let value = names.value(AttributeValue::N(version.to_string()));
        expression.push_str(&format!(" AND {name} = {value}"));
    }
    Ok(())
}

/// The names and values of a write's expressions, with `#pk` (the partition key attribute),
/// `#type` and `:type` (`E`'s type) that its type guard uses:
/// `attribute_not_exists(#pk) OR #type = :type`.
pub(crate) fn with_type_guard<E: Schema>(
    table: &Table,
    names: Names,
) -> (HashMap<String, String>, HashMap<String, AttributeValue>) {
    let mut attributes: HashMap<String, String> = names.names.into_iter().collect();
    let mut values: HashMap<String, AttributeValue> = names.values.into_iter().collect();
    attributes.insert("#pk".into(), table.partition_key().into());
    attributes.insert("#type".into(), TYPE_ATTRIBUTE.into());
    values.insert(":type".into(), AttributeValue::S(E::TYPE.into()));
    (attributes, values)
}

/// `(<condition>)`, its names and values put into `names`.
pub(crate) fn render<E: Schema>(condition: &Condition<E>, names: &mut Names) -> Result<String> {
    let mut out = String::new();
    condition
        .render(names, &mut out)
        .map_err(|message| Error::Encode {
            entity: E::TYPE,
            field: "a condition value".into(),
            message,
        })?;
    // `and`, `or` and `not` render in parentheses of their own; DynamoDB refuses a second pair
    // ("redundant parentheses").
    if !out.starts_with('(') {
        out = format!("({out})");
    }
    Ok(out)
}

/// The error of a write whose condition failed, told from the item as it was (`None`: absent).
pub(crate) fn failed<E: Schema>(
    key: ItemKey,
    old: Option<&Item>,
    expected_version: Option<u64>,
) -> Error {
    let Some(old) = old else {
        return Error::NotFound {
            entity: E::TYPE,
            key,
        };
    };
    let old_type = old.get(TYPE_ATTRIBUTE).and_then(|v| v.as_s().ok());
    if old_type.map(String::as_str) != Some(E::TYPE) {
        return Error::ConditionFailed {
            entity: E::TYPE,
            key,
            reason: format!("the item at this key is not a `{}`", E::TYPE),
        };
    }
    if E::SOFT_DELETE && item::is_deleted(old) {
        return Error::NotFound {
            entity: E::TYPE,
            key,
        };
    }
    if let (Some(attribute), Some(expected)) = (E::VERSION, expected_version) {
        let found = old
            .get(attribute)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok());
        if found != Some(expected) {
            return Error::VersionConflict {
                entity: E::TYPE,
                key,
                expected,
                found,
            };
        }
    }
    let reason = match item::schema_of(old) {
        Some(stored) if stored > E::SCHEMA => format!(
            "the item was written with schema {stored} by a newer build; this build knows schema \
             {} and would replace what it does not know",
            E::SCHEMA
        ),
        _ => "the write's condition did not hold".into(),
    };
    Error::ConditionFailed {
        entity: E::TYPE,
        key,
        reason,
    }
}
