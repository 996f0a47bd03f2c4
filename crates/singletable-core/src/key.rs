//! Rendering an entity's typed key into the strings stored in `pk` and `sk`.

use singletable_keys::{KeyError, KeyPart, Template};

use crate::error::{Error, ItemKey, Result};
use crate::schema::{unique_segments, Schema, UNIQUE_TYPE};

/// DynamoDB's limits on key attribute values, in bytes.
const MAX_PARTITION_KEY: usize = 2048;
const MAX_SORT_KEY: usize = 1024;

/// Renders `E`'s key templates with the given values (one per placeholder, in template order).
pub fn render_key<E: Schema>(
    pk_values: &[&dyn KeyPart],
    sk_values: &[&dyn KeyPart],
    separator: char,
) -> Result<ItemKey> {
    Ok(ItemKey {
        pk: render::<E>(E::PARTITION_KEY, pk_values, separator, MAX_PARTITION_KEY)?,
        sk: render::<E>(E::SORT_KEY, sk_values, separator, MAX_SORT_KEY)?,
    })
}

/// Renders the keys of `E`'s `i`-th secondary index.
pub fn render_index<E: Schema>(
    i: usize,
    pk_values: &[&dyn KeyPart],
    sk_values: &[&dyn KeyPart],
    separator: char,
) -> Result<ItemKey> {
    let index = &E::INDEXES[i];
    Ok(ItemKey {
        pk: render::<E>(&index.pk, pk_values, separator, MAX_PARTITION_KEY)?,
        sk: render::<E>(&index.sk, sk_values, separator, MAX_SORT_KEY)?,
    })
}

/// Renders the partition key of `E`'s `i`-th secondary index.
pub fn render_index_partition<E: Schema>(
    i: usize,
    values: &[&dyn KeyPart],
    separator: char,
) -> Result<String> {
    render::<E>(&E::INDEXES[i].pk, values, separator, MAX_PARTITION_KEY)
}

/// Renders `E`'s partition key template.
pub fn render_partition<E: Schema>(values: &[&dyn KeyPart], separator: char) -> Result<String> {
    render::<E>(E::PARTITION_KEY, values, separator, MAX_PARTITION_KEY)
}

/// Renders a sort-key template of one of `E`'s range queries.
pub fn render_sort<E: Schema>(
    template: &Template<'_>,
    values: &[&dyn KeyPart],
    separator: char,
) -> Result<String> {
    render::<E>(template, values, separator, MAX_SORT_KEY)
}

/// The key of the guard item of `value`, a value of `E`'s unique field `field` held by an item
/// of `tenant` (for a tenant-scoped entity), laid out as [`UNIQUE_TYPE`] says. The value (and
/// the tenant) are checked as every key value is.
pub(crate) fn render_unique<E: Schema>(
    field: &str,
    tenant: Option<&str>,
    value: &str,
    separator: char,
) -> Result<ItemKey> {
    let segments = unique_segments(E::TYPE, field, tenant.is_some());
    let template = Template::from_segments("", &segments);
    let values: Vec<&dyn KeyPart> = match &tenant {
        Some(tenant) => vec![tenant, &value],
        None => vec![&value],
    };
    Ok(ItemKey {
        pk: render::<E>(&template, &values, separator, MAX_PARTITION_KEY)?,
        sk: UNIQUE_TYPE.to_owned(),
    })
}

fn render<E: Schema>(
    template: &Template<'_>,
    values: &[&dyn KeyPart],
    separator: char,
    max: usize,
) -> Result<String> {
    let invalid = |source| Error::InvalidKey {
        entity: E::TYPE,
        source,
    };
    let mut out = String::with_capacity(64);
    template
        .render(values, separator, &mut out)
        .map_err(invalid)?;
    if out.len() > max {
        return Err(invalid(KeyError::TooLong {
            len: out.len(),
            max,
        }));
    }
    Ok(out)
}
