//! Soft delete: `delete` of a `#[entity(soft_delete)]` entity marks the item with `_deleted_at`,
//! which reads, queries and collections then skip; `restore` brings it back, `trash` lists the
//! deleted items of a partition and `purge` removes an item for good.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use futures::{StreamExt, TryStreamExt};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::query::Query;
use crate::error::{Error, ItemKey, Result};
use crate::expr::{Condition, Names};
use crate::item::{self, DELETED_ATTRIBUTE, DELETED_BY_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::later::Later;
use crate::schema::Schema;
use crate::table::Table;
use crate::write::single::{self, Action, Outcome, Write};
use crate::write::{audited, condition};

/// Marks the item at `key` deleted (where `user` holds); returns it, or `None` when there is no
/// live item.
pub(crate) async fn mark<E: Schema>(
    table: &Table,
    key: ItemKey,
    user: Option<Condition<E>>,
) -> Result<Option<E>> {
    let write = Write::mark::<E>(table, key.clone(), user.as_ref())?;
    match single::send(table, write).await? {
        Outcome::Done(item) => Ok(Some(item::decode(item.unwrap_or_default(), table)?)),
        Outcome::Refused { stored: None, .. } => Ok(None),
        Outcome::Refused {
            stored: Some(old), ..
        } if item::is_deleted(&old) => Ok(None),
        Outcome::Refused { stored, .. } => Err(condition::failed::<E>(key, stored.as_ref(), None)),
    }
}

/// Removes the deletion mark of the item at `key`.
pub(crate) async fn restore<E: Schema>(table: &Table, key: Result<ItemKey>) -> Result<E> {
    crate::tenant::admit::<E>(table)?;
    let key = key?;
    if audited::from_read::<E>() {
        return audited::mark::<E>(table, key.clone(), None, false)
            .await?
            .ok_or(Error::NotFound {
                entity: E::TYPE,
                key,
            });
    }
    let mut names = Names::default();
    let deleted = names.name(DELETED_ATTRIBUTE);
    let deleted_by = names.name(DELETED_BY_ATTRIBUTE);
    let expression =
        format!("attribute_exists(#pk) AND #type = :type AND attribute_exists({deleted})");
    let update = format!("REMOVE {deleted}, {deleted_by}");
    match send_mark::<E>(table, &key, update, expression, names).await? {
        Outcome::Done(item) => item::decode(item.unwrap_or_default(), table),
        Outcome::Refused { .. } => Err(Error::NotFound {
            entity: E::TYPE,
            key,
        }),
    }
}

/// A soft-deleted entity, as [`Entity::trash`](crate::Entity::trash) lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Trashed<E> {
    /// The entity as it was deleted.
    pub entity: E,
    /// When it was deleted.
    pub deleted_at: OffsetDateTime,
    /// Who deleted it, when the table's audit context knew.
    pub deleted_by: Option<String>,
}

/// The deleted items of the partition `pk`, most recently deleted first.
pub(crate) async fn trash<E: Schema>(table: &Table, pk: Result<String>) -> Result<Vec<Trashed<E>>> {
    let mut items = Query::<E>::partition(table, Later::ready(pk))
        .only_deleted()
        .items()
        .await?;
    let text = |item: &item::Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    // The timestamps sort as text; newest first.
    items.sort_by_key(|item| std::cmp::Reverse(text(item, DELETED_ATTRIBUTE)));
    items
        .into_iter()
        .map(|item| {
            let key = item::item_key_of(&item, table);
            let at = text(&item, DELETED_ATTRIBUTE).unwrap_or_default();
            let deleted_at = OffsetDateTime::parse(&at, &Rfc3339).map_err(|e| Error::Decode {
                entity: E::TYPE,
                key,
                field: DELETED_ATTRIBUTE.into(),
                message: e.to_string(),
            })?;
            let deleted_by = text(&item, DELETED_BY_ATTRIBUTE);
            Ok(Trashed {
                entity: item::decode(item, table)?,
                deleted_at,
                deleted_by,
            })
        })
        .collect()
}

/// Purges the items of partition `pk` deleted before `cutoff`; returns how many.
pub(crate) async fn empty_trash<E: Schema>(
    table: &Table,
    pk: Result<String>,
    cutoff: OffsetDateTime,
) -> Result<usize> {
    let before = crate::timestamp::text(cutoff);
    let items = Query::<E>::partition(table, Later::ready(pk))
        .only_deleted()
        .items()
        .await?;
    // ISO timestamps of equal width compare as text.
    let expired: Vec<ItemKey> = items
        .iter()
        .filter(|old| {
            old.get(DELETED_ATTRIBUTE)
                .and_then(|v| v.as_s().ok())
                .is_some_and(|at| *at < before)
        })
        .map(|old| item::item_key_of(old, table))
        .collect();
    if audited::from_read::<E>() {
        // Each purge carries its audit record or frees its unique values, so each is a
        // transaction of its own.
        let purged = expired.len();
        futures::stream::iter(expired)
            .map(|key| audited::delete::<E>(table, key, None, true))
            .buffer_unordered(PURGE_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        return Ok(purged);
    }
    // Each delete holds only where the item is still this entity's and still deleted before
    // the cutoff: one restored (or replaced) since the listing is left alone.
    let purged: Vec<bool> = futures::stream::iter(expired)
        .map(|key| purge_deleted::<E>(table, key, &before))
        .buffer_unordered(PURGE_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(purged.into_iter().filter(|purged| *purged).count())
}

/// Deletes the item of `E` at `key` if it was soft-deleted before `before`; whether it did.
async fn purge_deleted<E: Schema>(table: &Table, key: ItemKey, before: &str) -> Result<bool> {
    let write = Write {
        entity: E::TYPE,
        key: key.clone(),
        action: Action::Delete,
        condition: "#type = :type AND #deleted < :before".into(),
        names: HashMap::from([
            ("#type".to_owned(), TYPE_ATTRIBUTE.to_owned()),
            ("#deleted".to_owned(), DELETED_ATTRIBUTE.to_owned()),
        ]),
        values: HashMap::from([
            (":type".to_owned(), AttributeValue::S(E::TYPE.into())),
            (":before".to_owned(), AttributeValue::S(before.to_owned())),
        ]),
        returns: None,
    };
    Ok(matches!(
        single::send(table, write).await?,
        Outcome::Done(_)
    ))
}

/// Audited purges sent at once by `empty_trash`.
const PURGE_CONCURRENCY: usize = 8;

/// One `UpdateItem` of the deletion mark, returning the item as it is afterwards. Setting or
/// removing the mark twice leaves the same item, so a retried lost reply does no harm.
async fn send_mark<E: Schema>(
    table: &Table,
    key: &ItemKey,
    update: String,
    condition: String,
    names: Names,
) -> Result<Outcome> {
    let (names, values) = condition::with_type_guard::<E>(table, names);
    let write = Write {
        entity: E::TYPE,
        key: key.clone(),
        action: Action::Update(update),
        condition,
        names,
        values,
        returns: Some(ReturnValue::AllNew),
    };
    single::send(table, write).await
}
