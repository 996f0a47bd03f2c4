//! `get`: one item by its key.

use crate::error::{ItemKey, Result};
use crate::item;
use crate::request;
use crate::schema::Schema;
use crate::table::Table;

pub(crate) async fn get<E: Schema>(
    table: &Table,
    key: Result<ItemKey>,
    deleted_too: bool,
) -> Result<Option<E>> {
    crate::tenant::admit::<E>(table)?;
    let key = item::key_item(key?, table);
    let client = table.client();
    let sent = request::send(
        table,
        "GetItem",
        E::TYPE,
        |capacity| {
            client
                .get_item()
                .table_name(table.name())
                .set_key(Some(key))
                .set_return_consumed_capacity(capacity)
        },
        |request| request.send(),
    )
    .await;
    let output = sent
        .result
        .map_err(|e| request::sdk_error(table, "GetItem", E::TYPE, e))?;
    let now = crate::autogen::now().unix_timestamp();
    output
        .item
        .filter(|item| !item::is_expired(item, table, now))
        // `_deleted_at` means deleted only for a `soft_delete` entity, as queries read it.
        .filter(|item| deleted_too || !E::SOFT_DELETE || !item::is_deleted(item))
        .map(|item| item::decode(item, table))
        .transpose()
}
