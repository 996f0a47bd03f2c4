//! `put`: create or replace.

use tracing::Instrument;

use super::{capacity_request, record_capacity, sdk_error, span};
use crate::autogen;
use crate::entity::{Entity, EntityKey};
use crate::error::Result;
use crate::item;
use crate::table::Table;

/// Writes `entity`, replacing what is at its key. `_timestamp` becomes the time of this write:
/// a replaced item is a new item.
pub(crate) async fn put<E: Entity>(table: &Table, entity: &E) -> Result<()> {
    table.admit::<E>()?;
    crate::tenant::check_owner(entity, table)?;
    let key = entity.key().item_key(table)?;
    let item = item::encode(entity, key, autogen::now(), table)?;
    let span = span(table, "PutItem", E::TYPE);
    let output = table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(item))
        .set_return_consumed_capacity(capacity_request(&span))
        .send()
        .instrument(span.clone())
        .await
        .map_err(|e| sdk_error(table, "PutItem", E::TYPE, e))?;
    record_capacity(&span, output.consumed_capacity());
    Ok(())
}
