//! `get`: one item by its key.

use tracing::Instrument;

use super::{capacity_request, record_capacity, sdk_error, span};
use crate::entity::Entity;
use crate::error::{ItemKey, Result};
use crate::item;
use crate::table::Table;

pub(crate) async fn get<E: Entity>(
    table: &Table,
    key: Result<ItemKey>,
    deleted_too: bool,
) -> Result<Option<E>> {
    table.admit::<E>()?;
    let key = item::key_item(key?, table);
    let span = span(table, "GetItem", E::TYPE);
    let output = table
        .client()
        .get_item()
        .table_name(table.name())
        .set_key(Some(key))
        .set_return_consumed_capacity(capacity_request(&span))
        .send()
        .instrument(span.clone())
        .await
        .map_err(|e| sdk_error(table, "GetItem", E::TYPE, e))?;
    record_capacity(&span, output.consumed_capacity());
    let now = crate::autogen::now().unix_timestamp();
    output
        .item
        .filter(|item| !item::is_expired(item, table, now))
        .filter(|item| deleted_too || !item::is_deleted(item))
        .map(|item| item::decode(item, table))
        .transpose()
}

/// The item at `key` as stored now, whatever its type, expired or deleted: a consistent read,
/// for writes that must know what they replace.
pub(crate) async fn stored(
    table: &Table,
    entity: &'static str,
    key: &ItemKey,
) -> Result<Option<item::Item>> {
    let span = span(table, "GetItem", entity);
    let output = table
        .client()
        .get_item()
        .table_name(table.name())
        .set_key(Some(item::key_item(key.clone(), table)))
        .consistent_read(true)
        .set_return_consumed_capacity(capacity_request(&span))
        .send()
        .instrument(span.clone())
        .await
        .map_err(|e| sdk_error(table, "GetItem", entity, e))?;
    record_capacity(&span, output.consumed_capacity());
    Ok(output.item)
}
