//! Unique fields (`#[entity(unique)]`): one guard item per value an item holds, written, moved
//! and deleted in the transaction that writes that item, so that no two items of the entity (of
//! one tenant, for a tenant-scoped entity) hold the same value.
//!
//! Every write of an entity with unique fields is made from a consistent read of its item, as an
//! audited entity's is (see [`audited`](super::audited)), and this module turns the item before
//! and after the write into the guard writes, once for every path: single operations, upserts,
//! transactions, batches. A value that moves frees its old guard (a delete held on this item
//! owning it, or on there being none, for an item written before the field was unique) and takes
//! the new one (a put held on there being none, or on this item owning it already, so that a
//! write retried after a lost reply takes it again); the item's own write holds on its still
//! having the values it was read with. A soft-deleted item keeps its values, and their guards,
//! until it is purged: restoring it must not find them taken.
//!
//! A guard carries its owner's expiry (the table's time-to-live attribute), so that DynamoDB
//! removes it with its owner, and a guard whose owner has expired may be taken by another item,
//! as reads no longer see the expired owner either; a later write of the expired owner leaves
//! its old guards alone. Values are read from the items decoded, as key text: the same text on
//! every path. The layout is described at [`UNIQUE_TYPE`](crate::item::UNIQUE_TYPE).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::single::{Action, Write};
use crate::error::{Error, ItemKey, Result};
use crate::item::{self, Item, OWNER_ATTRIBUTE, TIMESTAMP_ATTRIBUTE, TYPE_ATTRIBUTE, UNIQUE_TYPE};
use crate::key;
use crate::schema::Schema;
use crate::table::Table;

/// What one guard write does: take a value for its owner (a put) or free it (a delete).
#[derive(Clone, Debug)]
pub(crate) struct Guard {
    pub(crate) entity: &'static str,
    /// The unique field's stored name.
    pub(crate) field: &'static str,
    /// The value, as key text.
    pub(crate) value: String,
    /// Whether the write takes the value rather than frees it.
    pub(crate) takes: bool,
    /// The key of the item that holds (or held) the value.
    pub(crate) owner: ItemKey,
}

impl Guard {
    /// The error of this guard write when its condition failed: the value is another item's.
    pub(crate) fn refused(&self) -> Error {
        match self.takes {
            true => Error::Duplicate {
                entity: self.entity,
                field: self.field,
                value: self.value.clone(),
            },
            false => Error::ConditionFailed {
                entity: self.entity,
                key: self.owner.clone(),
                reason: format!(
                    "the guard of its `{}` `{}` names another item as its holder",
                    self.field, self.value
                ),
            },
        }
    }
}

/// The unique values of one stored item of `E`.
struct Held {
    tenant: Option<String>,
    /// In the order of [`Schema::UNIQUE`].
    values: Vec<Option<String>>,
    expires: Option<i64>,
}

/// What `item` holds, when it is an item of `E` (deleted or not). An item as it was before a
/// write holds nothing once it has expired: another item may have taken its values since.
fn held<E: Schema>(table: &Table, item: Option<&Item>, before: bool) -> Result<Option<Held>> {
    let now = crate::autogen::now().unix_timestamp();
    let of_type = |item: &&Item| {
        item.get(TYPE_ATTRIBUTE)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            == Some(E::TYPE)
    };
    let expired = |item: &&Item| before && item::is_expired(item, table, now);
    let Some(item) = item.filter(|item| of_type(item) && !expired(item)) else {
        return Ok(None);
    };
    let entity: E = item::decode(item.clone(), table)?;
    let mut values = entity.unique_values();
    let values = E::UNIQUE
        .iter()
        .map(|field| {
            let at = values.iter().position(|(name, _)| name == field)?;
            values.swap_remove(at).1
        })
        .collect();
    Ok(Some(Held {
        tenant: entity.tenant().map(str::to_owned),
        values,
        expires: entity
            .expires_at()
            .filter(|_| table.ttl_attribute().is_some()),
    }))
}

/// Refuses the values of `entity` that no guard key can be made of (empty, containing the
/// separator or a control character, too long), before any request.
pub(crate) fn check<E: Schema>(table: &Table, entity: &E) -> Result<()> {
    for (field, value) in entity.unique_values() {
        if let Some(value) = value {
            key::render_unique::<E>(field, entity.tenant(), &value, table.separator())?;
        }
    }
    Ok(())
}

/// The guard writes of a write of `E`'s item at `key` from `old` to `new` (`None`: absent, or
/// removed): for each unique field whose value changes, the delete of the old value's guard
/// and the put of the new one's; a guard is put again when its owner's expiry changes.
pub(crate) fn guards<E: Schema>(
    table: &Table,
    key: &ItemKey,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Result<Vec<(Guard, Write)>> {
    if E::UNIQUE.is_empty() {
        return Ok(Vec::new());
    }
    let (old, new) = (held::<E>(table, old, true)?, held::<E>(table, new, false)?);
    let value = |held: &Option<Held>, i: usize| -> Option<(Option<String>, String, Option<i64>)> {
        let held = held.as_ref()?;
        let value = held.values.get(i)?.clone()?;
        Some((held.tenant.clone(), value, held.expires))
    };
    let mut out = Vec::new();
    for (i, field) in E::UNIQUE.iter().enumerate() {
        let (before, after) = (value(&old, i), value(&new, i));
        let moved = before.as_ref().map(|b| (&b.0, &b.1)) != after.as_ref().map(|a| (&a.0, &a.1));
        if let (Some((tenant, value, _)), true) = (&before, moved) {
            out.push(guard_write::<E>(
                table,
                key,
                field,
                tenant.as_deref(),
                value,
                None,
                false,
            )?);
        }
        if let Some((tenant, value, expires)) = &after {
            if moved || before.as_ref().map(|b| b.2) != Some(*expires) {
                let guard =
                    guard_write::<E>(table, key, field, tenant.as_deref(), value, *expires, true)?;
                out.push(guard);
            }
        }
    }
    Ok(out)
}

/// The put (`takes`) or delete of the guard of `value` of `E`'s field `field`, held by the item
/// at `owner`.
fn guard_write<E: Schema>(
    table: &Table,
    owner: &ItemKey,
    field: &'static str,
    tenant: Option<&str>,
    value: &str,
    expires: Option<i64>,
    takes: bool,
) -> Result<(Guard, Write)> {
    let key = key::render_unique::<E>(field, tenant, value, table.separator())?;
    let s = |text: &str| AttributeValue::S(text.to_owned());
    let mut names = HashMap::from([
        ("#pk".to_owned(), table.partition_key().to_owned()),
        ("#type".to_owned(), TYPE_ATTRIBUTE.to_owned()),
        ("#owner".to_owned(), OWNER_ATTRIBUTE.to_owned()),
        ("#ownerpk".to_owned(), "pk".to_owned()),
        ("#ownersk".to_owned(), "sk".to_owned()),
    ]);
    let mut values = HashMap::from([
        (":guard".to_owned(), s(UNIQUE_TYPE)),
        (":ownerpk".to_owned(), s(&owner.pk)),
        (":ownersk".to_owned(), s(&owner.sk)),
    ]);
    let owned = "#owner.#ownerpk = :ownerpk AND #owner.#ownersk = :ownersk";
    let (action, condition) = if takes {
        let mut guard = item::key_item(key.clone(), table);
        guard.insert(TYPE_ATTRIBUTE.to_owned(), s(UNIQUE_TYPE));
        // Listed with the tenant's other items in the tenant type index (which needs both keys),
        // so that deleting or exporting a tenant finds its guards too.
        if let Some((name, value)) =
            tenant.and_then(|tenant| item::tenant_type_attribute(tenant, UNIQUE_TYPE, table))
        {
            guard.insert(name, value);
            let now = AttributeValue::S(crate::autogen::now_text());
            guard.insert(TIMESTAMP_ATTRIBUTE.to_owned(), now);
        }
        let holder = [
            ("pk".to_owned(), s(&owner.pk)),
            ("sk".to_owned(), s(&owner.sk)),
        ];
        guard.insert(OWNER_ATTRIBUTE.to_owned(), AttributeValue::M(holder.into()));
        if let (Some(attribute), Some(at)) = (table.ttl_attribute(), expires) {
            guard.insert(attribute.to_owned(), AttributeValue::N(at.to_string()));
        }
        let mine = match table.ttl_attribute() {
            // A guard whose holder has expired is free: reads no longer see that holder.
            Some(attribute) => {
                names.insert("#ttl".to_owned(), attribute.to_owned());
                let now = crate::autogen::now().unix_timestamp();
                values.insert(":now".to_owned(), AttributeValue::N(now.to_string()));
                format!("(({owned}) OR #ttl <= :now)")
            }
            None => owned.to_owned(),
        };
        let condition = format!("attribute_not_exists(#pk) OR (#type = :guard AND {mine})");
        (Action::Put(guard), condition)
    } else {
        let condition = format!("attribute_not_exists(#pk) OR (#type = :guard AND {owned})");
        (Action::Delete, condition)
    };
    let guard = Guard {
        entity: E::TYPE,
        field,
        value: value.to_owned(),
        takes,
        owner: owner.clone(),
    };
    let write = Write {
        entity: E::TYPE,
        key,
        action,
        condition,
        names,
        values,
        returns: None,
    };
    Ok((guard, write))
}

/// The condition that `E`'s item still holds the unique values it had when read as `old`, its
/// names and values put into `names`/`values` under placeholders no other clause uses; `None`
/// for an entity without unique fields.
pub(crate) fn hold<E: Schema>(
    old: &Item,
    names: &mut HashMap<String, String>,
    values: &mut HashMap<String, AttributeValue>,
) -> Option<String> {
    let clauses: Vec<String> = E::UNIQUE
        .iter()
        .enumerate()
        .map(|(i, field)| {
            names.insert(format!("#unique{i}"), (*field).to_owned());
            match old.get(*field) {
                Some(value) => {
                    values.insert(format!(":unique{i}"), value.clone());
                    format!("#unique{i} = :unique{i}")
                }
                None => format!("attribute_not_exists(#unique{i})"),
            }
        })
        .collect();
    (!clauses.is_empty()).then(|| clauses.join(" AND "))
}
