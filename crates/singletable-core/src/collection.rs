//! Collections: an entity with the items of its partition that belong to it, read with one
//! query (following its pages), decoded once each and joined in memory.
//!
//! `#[derive(Collection)]` implements [`Joinable`] and [`Collection`] for a struct whose fields
//! are the root entity and its joined entities (or nested collections), as `Vec<_>` or
//! `Option<_>`.

use std::collections::HashMap;
use std::future::Future;

use crate::error::{Error, ItemKey, Result};
use crate::item::{self, Item, TYPE_ATTRIBUTE};
use crate::keys::KeyPart;
use crate::later::Later;
use crate::ops::query::{Query, SortKey};
use crate::schema::{EntityKey, Schema};
use crate::table::Table;
use crate::Template;

/// An entity, or a collection rooted at one, that a collection can join.
pub trait Joinable: Sized + Send + 'static {
    /// The entity this is made from.
    type Root: Schema;

    /// The root entity.
    fn root(&self) -> &Self::Root;

    /// Builds one value per root from the items left in `pool`.
    #[doc(hidden)]
    fn assemble(roots: Vec<Self::Root>, pool: &mut Pool<'_>) -> Result<Vec<Self>>;

    /// The sort key templates of every entity in this tree.
    #[doc(hidden)]
    fn sort_keys(out: &mut Vec<&'static Template<'static>>);
}

/// A root entity with its joined items, derived with `#[derive(Collection)]`.
pub trait Collection: Joinable {
    /// Reads the root at `key` and every item joined to it, with one query (and its pages).
    /// `None` when the root item does not exist.
    fn get(
        table: &Table,
        key: <Self::Root as Schema>::Key<'_>,
    ) -> impl Future<Output = Result<Option<Self>>> + Send {
        // The key is rendered when awaited, inside the caller's tenant scope.
        async move { get::<Self>(table, key.item_key(table)).await }
    }
}

/// Items of one query, by entity type, each decoded when taken.
pub struct Pool<'t> {
    table: &'t Table,
    items: HashMap<String, Vec<Item>>,
}

impl Pool<'_> {
    /// Decodes and removes every item of `E`. Items of types nobody takes are never decoded.
    pub fn take<E: Schema>(&mut self) -> Result<Vec<E>> {
        crate::tenant::admit::<E>(self.table)?;
        let items = self.items.remove(E::TYPE).unwrap_or_default();
        items
            .into_iter()
            .map(|item| item::decode(item, self.table))
            .collect()
    }
}

async fn get<C: Collection>(table: &Table, key: Result<ItemKey>) -> Result<Option<C>> {
    let key = key?;
    let root_sort_key = <C::Root as Schema>::SORT_KEY;
    let mut sort_keys = Vec::new();
    C::sort_keys(&mut sort_keys);
    // When every joined entity's sort key extends the root's (a team and `TEAM#<id>#MEMBER#..`),
    // the root's sort key narrows the query; otherwise the whole partition is read.
    let narrow = sort_keys.iter().all(|t| t.extends(root_sort_key));
    let mut query = Query::<C::Root>::partition(table, Later::ready(Ok(key.pk.clone()))).any_type();
    if narrow {
        query = query.sort_key(SortKey::BeginsWith(key.sk.clone()));
    }
    let items = query.items().await?;

    let nested = format!("{}{}", key.sk, table.separator());
    let mut pool = Pool {
        table,
        items: HashMap::new(),
    };
    let mut root = None;
    let now = crate::autogen::now().unix_timestamp();
    for item in items
        .into_iter()
        .filter(|item| !item::is_expired(item, table, now) && !item::is_deleted(item))
    {
        let sort_key = item.get(table.sort_key()).and_then(|v| v.as_s().ok());
        let is_root = sort_key == Some(&key.sk);
        // `begins_with("TEAM#a")` also matches team `ab`'s items: keep this root's own.
        if narrow && !is_root && !sort_key.is_some_and(|sk| sk.starts_with(&nested)) {
            continue;
        }
        let Some(item_type) = item
            .get(TYPE_ATTRIBUTE)
            .and_then(|v| v.as_s().ok())
            .cloned()
        else {
            continue;
        };
        if is_root && item_type == <C::Root as Schema>::TYPE {
            root = Some(item);
        } else {
            pool.items.entry(item_type).or_default().push(item);
        }
    }
    let Some(root) = root else {
        return Ok(None);
    };
    // Other items of the root's type are joined items too (a parent and its children may be
    // the same entity); the root itself is not.
    let roots = vec![item::decode::<C::Root>(root, table)?];
    Ok(C::assemble(roots, &mut pool)?.pop())
}

/// The children of type `J` in the pool, assembled (for nested collections).
pub fn children<J: Joinable>(pool: &mut Pool<'_>) -> Result<Vec<J>> {
    let roots = pool.take::<J::Root>()?;
    J::assemble(roots, pool)
}

/// Every child, for the one parent: a join by type.
pub fn by_type<P: Schema, J>(
    parents: &[P],
    children: Vec<J>,
    field: &'static str,
) -> Result<Vec<Vec<J>>> {
    match parents.len() {
        0 => Ok(Vec::new()),
        1 => Ok(vec![children]),
        _ => Err(Error::InvalidRequest {
            entity: P::TYPE,
            reason: format!(
                "`{field}` joins by type under several `{}` items; join it by relation with `on(...)`",
                P::TYPE
            ),
        }),
    }
}

/// The children of each parent whose key matches: a join by relation, in O(n).
pub fn by_relation<P, J>(
    parents: &[P],
    children: Vec<J>,
    parent_key: impl Fn(&P) -> &dyn KeyPart,
    child_key: impl Fn(&J) -> &dyn KeyPart,
) -> Vec<Vec<J>> {
    let text = |part: &dyn KeyPart| {
        let mut text = String::new();
        part.write_key_part(&mut text);
        text
    };
    let mut groups: HashMap<String, Vec<J>> = HashMap::new();
    for child in children {
        groups
            .entry(text(child_key(&child)))
            .or_default()
            .push(child);
    }
    parents
        .iter()
        .map(|parent| groups.remove(&text(parent_key(parent))).unwrap_or_default())
        .collect()
}

/// Stops compilation with a message naming both partition templates.
pub const fn partition_mismatch(root: &str, joined: &str, field: &str) {
    const PARTS: usize = 7;
    let parts: [&str; PARTS] = [
        "joined field `",
        field,
        "` has partition key `",
        joined,
        "`, but the collection's root has `",
        root,
        "`: one query reads one partition, so joined entities must share the root's",
    ];
    let mut buffer = [0u8; 1024];
    let mut len = 0;
    let mut i = 0;
    while i < PARTS {
        let bytes = parts[i].as_bytes();
        let mut j = 0;
        while j < bytes.len() && len < buffer.len() {
            buffer[len] = bytes[j];
            len += 1;
            j += 1;
        }
        i += 1;
    }
    match std::str::from_utf8(buffer.split_at(len).0) {
        Ok(message) => panic!("{}", message),
        Err(_) => panic!("a joined entity does not share the collection root's partition key"),
    }
}
