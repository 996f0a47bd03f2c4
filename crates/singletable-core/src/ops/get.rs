//! `get`: one item by its key, whole or as a projection.

use crate::error::{ItemKey, Result};
use crate::expr::Names;
use crate::item::{self, Item};
use crate::projection::{self, Projection};
use crate::request;
use crate::schema::Schema;
use crate::table::Table;

pub(crate) async fn get<E: Schema>(
    table: &Table,
    key: Result<ItemKey>,
    deleted_too: bool,
) -> Result<Option<E>> {
    let item = read::<E>(table, key, None).await?;
    let now = crate::autogen::now().unix_timestamp();
    visible(item, table, deleted_too, now)
}

/// `get` of the projection `P`: the same request with a `ProjectionExpression` of `P`'s fields
/// and what the guards read, and the same guards.
pub(crate) async fn get_projected<P: Projection>(
    table: &Table,
    key: Result<ItemKey>,
) -> Result<Option<P>> {
    let attributes = projection::attributes::<P>(table);
    let item = read::<P::Entity>(table, key, attributes).await?;
    let now = crate::autogen::now().unix_timestamp();
    shown(item, table, <P::Entity as Schema>::SOFT_DELETE, false, now)
        .map(|item| projection::decode::<P>(item, table))
        .transpose()
}

/// The entity that `item`, read by key at `now` (Unix seconds), stands for: see [`shown`];
/// the item decoded, with its `_type` and tenant checked. Reads by key share it.
pub(crate) fn visible<E: Schema>(
    item: Option<Item>,
    table: &Table,
    deleted_too: bool,
    now: i64,
) -> Result<Option<E>> {
    shown(item, table, E::SOFT_DELETE, deleted_too, now)
        .map(|item| item::decode(item, table))
        .transpose()
}

/// `item`, read by key at `now`, unless it has expired, or its entity is `soft_delete`, the item
/// is marked deleted and `deleted_too` is not set. Every read by key (get, projected get, batch
/// get, transactional get) goes through it, then through its entity's decode, which refuses an
/// item of another type.
pub(crate) fn shown(
    item: Option<Item>,
    table: &Table,
    soft_delete: bool,
    deleted_too: bool,
    now: i64,
) -> Option<Item> {
    item.filter(|item| !item::is_expired(item, table, now))
        // `_deleted_at` means deleted only for a `soft_delete` entity, as queries read it.
        .filter(|item| deleted_too || !soft_delete || !item::is_deleted(item))
}

/// The one `GetItem` of `E`'s item at `key`, of only `attributes` when given.
async fn read<E: Schema>(
    table: &Table,
    key: Result<ItemKey>,
    attributes: Option<Vec<String>>,
) -> Result<Option<Item>> {
    crate::tenant::admit::<E>(table)?;
    let key = item::key_item(key?, table);
    let mut names = Names::default();
    let projection = attributes.map(|attributes| projection::expression(&attributes, &mut names));
    let names = (!names.names.is_empty()).then(|| names.names.into_iter().collect());
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
                .set_projection_expression(projection)
                .set_expression_attribute_names(names)
                .set_return_consumed_capacity(capacity)
        },
        |request| request.send(),
    )
    .await;
    let output = sent
        .result
        .map_err(|e| request::sdk_error(table, "GetItem", E::TYPE, e))?;
    Ok(output.item)
}
