//! Lookups: which tenant and key hold a value, found before any tenant scope exists.
//!
//! A service often knows a value before it knows the tenant: the hash of an API key in a
//! request header, the email a user signs in with. An index whose key does not contain the
//! tenant, declared `lookup` on the entity, answers that question:
//!
//! ```ignore
//! #[entity(
//!     type = "API_KEY",
//!     pk = "TENANT#<tenant_id>#KEY#<id>",
//!     sk = "#METADATA",
//!     index(name = "GSI2", query = "by_hash", pk = "APIKEY#<hash>", sk = "APIKEY", lookup),
//! )]
//! ```
//!
//! `ApiKey::by_hash(&table, ApiKeyByHash { hash: &hash }).all()` returns every item of that
//! value as a [`Found`]: its tenant and key, never its data. The request projects only the key
//! attributes and what tells a live item from a deleted or expired one, so nothing else of the
//! item leaves DynamoDB. Reading the item is an ordinary read in that tenant's scope:
//! [`Found::get`] refuses any other scope.

use std::marker::PhantomData;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{Error, ItemKey, Result};
use crate::item::{self, Item, DELETED_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::later::Later;
use crate::request;
use crate::schema::Schema;
use crate::table::{Table, TenantId};

/// A lookup of the items of `E` that hold a value, built by the query method the derive
/// generates for an index declared `lookup`; run it with [`all`](Self::all) or
/// [`one`](Self::one).
#[must_use = "a lookup does nothing until it is run"]
#[derive(Debug)]
pub struct Lookup<'t, E> {
    table: &'t Table,
    index: &'static str,
    pk: Later<'t, String>,
    entity: PhantomData<fn() -> E>,
}

/// An item a [`Lookup`] found: the tenant that owns it and its key, without its data.
pub struct Found<E> {
    /// The tenant whose key space holds the item; `None` for an entity without tenant.
    pub tenant: Option<TenantId>,
    /// The item's key.
    pub key: ItemKey,
    entity: PhantomData<fn() -> E>,
}

// By hand: derives would ask `E` for the same traits, which a `Found` never holds an `E` for.
impl<E> Clone for Found<E> {
    fn clone(&self) -> Self {
        Found {
            tenant: self.tenant.clone(),
            key: self.key.clone(),
            entity: PhantomData,
        }
    }
}

impl<E> PartialEq for Found<E> {
    fn eq(&self, other: &Self) -> bool {
        (&self.tenant, &self.key) == (&other.tenant, &other.key)
    }
}

impl<E> Eq for Found<E> {}

impl<E> std::fmt::Debug for Found<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Found")
            .field("tenant", &self.tenant)
            .field("key", &self.key)
            .finish()
    }
}

impl<'t, E: Schema> Lookup<'t, E> {
    /// A lookup in the partition `pk` of the index `index`.
    #[doc(hidden)]
    pub fn new(table: &'t Table, index: &'static str, pk: Later<'t, String>) -> Self {
        Lookup {
            table,
            index,
            pk,
            entity: PhantomData,
        }
    }

    /// Every live item of `E` holding the value, following every page.
    pub async fn all(self) -> Result<Vec<Found<E>>> {
        let table = self.table;
        crate::tenant::admit::<E>(table)?;
        let pk = self.pk.make(table)?;
        let index = table
            .index(self.index)
            .ok_or_else(|| Error::InvalidRequest {
                entity: E::TYPE,
                reason: format!("the table declares no index `{}`", self.index),
            })?;
        let now = crate::autogen::now().unix_timestamp();
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let (items, last) =
                fetch::<E>(table, self.index, &index.partition_key, &pk, start).await?;
            for item in items {
                if item::is_expired(&item, table, now)
                    || (E::SOFT_DELETE && item::is_deleted(&item))
                {
                    continue;
                }
                found.push(Found::of(item, table)?);
            }
            match last {
                Some(last) => start = Some(last),
                None => return Ok(found),
            }
        }
    }

    /// The one live item holding the value, if any; more than one is
    /// [`Error::InvalidRequest`] (declare the field `unique` to keep values apart).
    pub async fn one(self) -> Result<Option<Found<E>>> {
        let mut found = self.all().await?;
        if found.len() > 1 {
            return Err(Error::InvalidRequest {
                entity: E::TYPE,
                reason: format!("{} items hold the looked-up value, not one", found.len()),
            });
        }
        Ok(found.pop())
    }
}

impl<E: Schema> Found<E> {
    fn of(item: Item, table: &Table) -> Result<Self> {
        let key = item::item_key_of(&item, table);
        let tenant = match E::TENANT_PARAM {
            Some(_) => Some(crate::tenant::of_key::<E>(&key, table)?),
            None => None,
        };
        Ok(Found {
            tenant,
            key,
            entity: PhantomData,
        })
    }

    /// Reads the item, in the scope of the tenant that owns it (any other scope, or none, is
    /// refused before any request), with the guards of every read by key.
    pub async fn get(&self, table: &Table) -> Result<Option<E>> {
        if let Some(tenant) = &self.tenant {
            crate::tenant::check_tenant::<E>(tenant.as_str(), table)?;
        }
        crate::ops::get::get::<E>(table, Ok(self.key.clone()), false).await
    }
}

/// One Query of the lookup partition: the items' keys and liveness, and where the next page
/// starts.
async fn fetch<E: Schema>(
    table: &Table,
    index: &'static str,
    partition_key: &str,
    pk: &str,
    start: Option<Item>,
) -> Result<(Vec<Item>, Option<Item>)> {
    let mut projection = vec!["#pk", "#sk", "#type"];
    let mut names = vec![
        ("#pk", table.partition_key()),
        ("#sk", table.sort_key()),
        ("#type", TYPE_ATTRIBUTE),
        ("#index", partition_key),
    ];
    if E::SOFT_DELETE {
        projection.push("#deleted");
        names.push(("#deleted", DELETED_ATTRIBUTE));
    }
    if let Some(ttl) = table.ttl_attribute() {
        projection.push("#ttl");
        names.push(("#ttl", ttl));
    }
    let names = names
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let output = request::query(table, E::TYPE, |request| {
        request
            .index_name(index)
            .key_condition_expression("#index = :pk")
            // An index may hold several entities' keys: only `E`'s are found.
            .filter_expression("#type = :type")
            .projection_expression(projection.join(", "))
            .set_expression_attribute_names(Some(names))
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .expression_attribute_values(":type", AttributeValue::S(E::TYPE.to_owned()))
            .set_exclusive_start_key(start)
    })
    .await?;
    Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
}
