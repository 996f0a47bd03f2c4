//! Projections: a struct of some of an entity's fields, read with a `ProjectionExpression` that
//! asks DynamoDB for those fields only, plus what the read guards of a full read check.
//!
//! `#[derive(Projection)]` implements [`Projection`] and checks, when the struct compiles, that
//! every field is a field of the entity with the same type and the same stored (serde) name.
//! A projected read applies the guards of a full read: the `_type` check, soft-delete and
//! expiry as that read applies them, the schema check and the tenant check on the item's
//! tenant attribute, which is read for that even when the projection does not hold it.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;

use crate::codec::{self, Item};
use crate::error::{Error, Result};
use crate::expr::Names;
use crate::item::{self, DELETED_ATTRIBUTE, SCHEMA_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::schema::Schema;
use crate::table::Table;

/// Some of an entity's fields, read without the rest of the item.
///
/// Implemented by `#[derive(Projection)]` with `#[projection(of = Entity)]`; read it with
/// `Entity::get_as`, `Query::project` (queries, index queries and listings) and
/// `BatchGet::get_as`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a projection",
    note = "derive it with `#[derive(Projection, Deserialize)]` and `#[projection(of = Entity)]`"
)]
pub trait Projection: DeserializeOwned + Send + 'static {
    /// The entity this is a projection of.
    type Entity: Schema;
    /// The stored (serde) names of the fields, the same as the entity's.
    const FIELDS: &'static [&'static str];
}

/// The attributes a read of `P` asks for: its fields, the key attributes, and what the read
/// guards look at. `None` reads the whole item: an entity with a schema past 1 may meet items of
/// an older schema, and an upgrade works on the whole item.
pub(crate) fn attributes<P: Projection>(table: &Table) -> Option<Vec<String>> {
    type E<P> = <P as Projection>::Entity;
    if E::<P>::SCHEMA > 1 {
        return None;
    }
    let mut attributes: Vec<String> = Vec::with_capacity(P::FIELDS.len() + 6);
    let mut add = |name: &str| {
        if !attributes.iter().any(|a| a == name) {
            attributes.push(name.to_owned());
        }
    };
    P::FIELDS.iter().for_each(|field| add(field));
    add(table.partition_key());
    add(table.sort_key());
    add(TYPE_ATTRIBUTE);
    add(SCHEMA_ATTRIBUTE);
    if E::<P>::SOFT_DELETE {
        add(DELETED_ATTRIBUTE);
    }
    // Reads by key treat an item past the table's expiry as absent, whatever its entity.
    if let Some(ttl) = table.ttl_attribute() {
        add(ttl);
    }
    if let Some(tenant) = E::<P>::TENANT_FIELD {
        add(tenant);
    }
    Some(attributes)
}

/// The `ProjectionExpression` of `attributes`, with its names in `names`.
pub(crate) fn expression(attributes: &[String], names: &mut Names) -> String {
    let placeholders: Vec<String> = attributes.iter().map(|a| names.name(a)).collect();
    placeholders.join(", ")
}

/// Decodes a (projected) item of `P`'s entity into `P`, with the checks a full decode makes:
/// its `_type`, its schema and, for a tenant-scoped entity, its tenant attribute against the
/// current tenant.
pub(crate) fn decode<P: Projection>(mut item: Item, table: &Table) -> Result<P> {
    type E<P> = <P as Projection>::Entity;
    let key = item::item_key_of(&item, table);
    let item_type = match item.get(TYPE_ATTRIBUTE) {
        Some(AttributeValue::S(s)) => s.as_str(),
        _ => "",
    };
    item::check_type::<E<P>>(item_type, &key)?;
    item::upgrade::<E<P>>(&mut item, &key)?;
    if let Some(field) = E::<P>::TENANT_FIELD {
        // The key carried the scope's tenant; an item that says otherwise is not returned.
        let Some(AttributeValue::S(owner)) = item.get(field) else {
            return Err(Error::Decode {
                entity: E::<P>::TYPE,
                key,
                field: field.into(),
                message: "the item has no tenant".into(),
            });
        };
        crate::tenant::check_tenant::<E<P>>(owner, table)?;
    }
    item.retain(|name, _| P::FIELDS.contains(&name.as_str()));
    codec::from_item(item).map_err(|e| Error::Decode {
        entity: E::<P>::TYPE,
        key,
        field: e.field,
        message: e.message,
    })
}

/// Whether `E` stores its field `field` under `stored`: the listed name of a renamed field, the
/// field's own name otherwise (also when `E` has no field `field`: the compiler reports that one
/// at the projection's field). For `#[derive(Projection)]`.
#[doc(hidden)]
pub const fn stored_as<E: Schema>(field: &str, stored: &str) -> bool {
    let renamed = E::RENAMED_FIELDS;
    let mut i = 0;
    while i < renamed.len() {
        if singletable_keys::const_eq(renamed[i].0, field) {
            return singletable_keys::const_eq(renamed[i].1, stored);
        }
        i += 1;
    }
    singletable_keys::const_eq(field, stored)
}

/// Holds when an entity's field type `Self` is a projection's field type `T`.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the projection's field is `{T}`, and the entity's field is `{Self}`",
    label = "a projection field has the type of the entity's field",
    note = "declare the projection's field as `{Self}`"
)]
pub trait SameType<T> {}

impl<T> SameType<T> for T {}

/// Checks, at compile time, that a projection field of type `U` has the type of the entity's
/// field `_entity_field`. The entity's type is inferred from the field itself (no coercion
/// can make a `Box<U>` pass for a `U`). For `#[derive(Projection)]`.
#[doc(hidden)]
pub fn same_type<U, T: SameType<U>>(_entity_field: &T) {}
