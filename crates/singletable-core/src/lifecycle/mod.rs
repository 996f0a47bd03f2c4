//! The lifecycle of a tenant, built on the table's schema ([`TableSchema`]): list the tenants of
//! a table, delete every item of one tenant, export a tenant's items as JSON lines and import
//! them back.
//!
//! # A tenant's items
//!
//! On a table with a tenant type index
//! ([`TableBuilder::tenant_type_index`](crate::TableBuilder::tenant_type_index)), every item of
//! a tenant-scoped entity carries `_tenant_type = <tenant>#<TYPE>`, and so do the guards of its
//! unique values (`<tenant>#_UNIQUE`) and its audit records (`<tenant>#AUDIT_LOG`). One tenant's
//! items are then, for each tenant-scoped entity of the schema and for `_UNIQUE` and
//! `AUDIT_LOG`, the partition `<tenant>#<TYPE>` of that index: they are found by key, never by
//! reading another tenant's items. Without a tenant type index every operation here is refused
//! with [`Error::InvalidRequest`].
//!
//! Items written before `_tenant_type` existed (or by another writer, without it) are in no
//! partition of the index: they are found only once re-indexed — run
//! [`Backfill`](crate::Backfill) of each entity in
//! [`tenant::across_tenants`](crate::tenant::across_tenants) first. A backfill re-indexes entity
//! items only; guards and audit records stored without `_tenant_type` stay out of reach.
//! Entities outside the schema are not a tenant's items here.
//!
//! The index may lie: `_tenant_type` is an attribute like any other. So every item an index
//! partition lists is checked against the tenant's key space before it is deleted or exported:
//! an entity's key must be one of the entity's keys with the tenant in its tenant placeholder, a
//! guard's partition key must start with `TENANT#<tenant>#_UNIQUE#`, an audit record's with
//! `TENANT#<tenant>#` (the layouts of [`UNIQUE_TYPE`] and the audit trail). What fails is left
//! alone, logged, and counted as skipped.
//!
//! # Tenancy
//!
//! Listing the tenants is cross-tenant work: it runs only in
//! [`tenant::across_tenants`](crate::tenant::across_tenants). Deleting, exporting and importing
//! work on the tenant of the current [`tenant::scope`](crate::tenant::scope) (or
//! [`tenant::as_tenant`](crate::tenant::as_tenant), which logs why): they take no tenant
//! parameter, so code running for one tenant cannot name another. The table's tenant resolvers
//! are not asked, and none of them runs across tenants. Everywhere else they fail with
//! [`Error::MissingTenant`] before any request.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use futures::{Stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::Instrument;

use crate::batch;
use crate::error::{Error, ItemKey, Result};
use crate::item::{self, Item, TENANT_TYPE_ATTRIBUTE, TYPE_ATTRIBUTE, UNIQUE_TYPE};
use crate::request::{self, sdk_error};
use crate::request::{MAX_PARALLEL_SEGMENTS, MAX_SEGMENTS};
use crate::table::{Table, TenantId};
use crate::table_schema::{Member, TableSchema};
use crate::write::record::{AUDIT_TYPE, TENANT_PREFIX};

/// How many of a tenant's index partitions a deletion works through at once.
const MAX_PARALLEL_KINDS: usize = 8;

/// Index entries read per page by default: a deletion's checkpoint holds the keys of the page
/// under way, so pages are kept small enough for it.
const DEFAULT_PAGE_SIZE: i32 = 500;

/// The longest line an import reads: an item is at most 400 KB, its DynamoDB JSON some more.
const MAX_LINE: usize = 4 * 1024 * 1024;

/// How a deletion, export or import sends its batches: requests in flight, and rounds for what
/// DynamoDB leaves unprocessed (each request also has the table's retries).
#[derive(Clone, Copy, Debug)]
struct Effort {
    concurrency: usize,
    attempts: u32,
}

impl Default for Effort {
    fn default() -> Self {
        Effort {
            concurrency: 4,
            attempts: 10,
        }
    }
}

/// A kind of a tenant's items: what one partition of the tenant type index holds.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// The items of a tenant-scoped entity.
    Entity(&'static Member),
    /// The guards of the tenant's unique values.
    Guard,
    /// The audit records of the tenant's audited entities.
    Audit,
}

impl Kind {
    /// The `_type` of the items of this kind.
    fn type_name(self) -> &'static str {
        match self {
            Kind::Entity(member) => member.type_name(),
            Kind::Guard => UNIQUE_TYPE,
            Kind::Audit => AUDIT_TYPE,
        }
    }

    /// Why `key` is not in `tenant`'s key space as the key of an item of this kind; `None` when
    /// it is.
    fn refuse_key(self, key: &ItemKey, tenant: &TenantId, table: &Table) -> Option<String> {
        let s = table.separator();
        match self {
            Kind::Entity(member) => {
                let parses = member.partition_key().parse_key(&key.pk, s).is_ok()
                    && member.sort_key().parse_key(&key.sk, s).is_ok();
                if !parses {
                    return Some(format!(
                        "the key is not one of `{}`'s keys (`{}`, `{}`)",
                        member.type_name(),
                        member.partition_key(),
                        member.sort_key()
                    ));
                }
                match member.owner(key, table) {
                    Ok(owner) if owner == *tenant => None,
                    Ok(owner) => Some(format!("the key is in tenant `{owner}`'s key space")),
                    Err(error) => Some(error.to_string()),
                }
            }
            Kind::Guard => {
                let prefix = format!("{TENANT_PREFIX}{s}{tenant}{s}{UNIQUE_TYPE}{s}");
                let inside = key.pk.len() > prefix.len() && key.pk.starts_with(&prefix);
                match (inside, key.sk == UNIQUE_TYPE) {
                    (true, true) => None,
                    (false, _) => Some(format!(
                        "a guard of tenant `{tenant}` has a partition key starting with `{prefix}`"
                    )),
                    (true, false) => Some(format!("a guard has the sort key `{UNIQUE_TYPE}`")),
                }
            }
            Kind::Audit => {
                let prefix = format!("{TENANT_PREFIX}{s}{tenant}{s}");
                if key.pk.len() > prefix.len() && key.pk.starts_with(&prefix) {
                    None
                } else {
                    Some(format!(
                        "an audit record of tenant `{tenant}` has a partition key starting with \
                         `{prefix}`"
                    ))
                }
            }
        }
    }

    /// Why the whole `item` (or the `_type` and key an index entry shows of it) is not an item
    /// of this kind in `tenant`'s key space; `None` when it is.
    fn refuse(self, item: &Item, tenant: &TenantId, table: &Table) -> Option<String> {
        let expected = self.type_name();
        match item.get(TYPE_ATTRIBUTE).map(AttributeValue::as_s) {
            Some(Ok(found)) if found == expected => {}
            Some(Ok(found)) => return Some(format!("its `_type` is `{found}`, not `{expected}`")),
            Some(Err(_)) => return Some("its `_type` is not a string".into()),
            None => return Some("it has no `_type`".into()),
        }
        let key = match stored_key(item, table) {
            Ok(key) => key,
            Err(why) => return Some(why),
        };
        if let Some(why) = self.refuse_key(&key, tenant, table) {
            return Some(why);
        }
        let partition = item::tenant_type(tenant.as_str(), expected, table);
        match item.get(TENANT_TYPE_ATTRIBUTE).map(AttributeValue::as_s) {
            None => {}
            Some(Ok(found)) if *found == partition => {}
            Some(_) => {
                return Some(format!(
                    "its `{TENANT_TYPE_ATTRIBUTE}` is not `{partition}`, so it would be listed \
                     with another tenant's items"
                ))
            }
        }
        // The attribute naming the tenant, where the item has one, names this tenant too.
        let field = match self {
            Kind::Entity(member) => member.tenant_field(),
            Kind::Audit => Some("tenantId"),
            Kind::Guard => None,
        };
        match field.and_then(|field| Some((field, item.get(field)?))) {
            None => None,
            Some((_, AttributeValue::S(found))) if found == tenant.as_str() => None,
            Some((field, found)) => {
                Some(format!("its `{field}` is {found:?}, not tenant `{tenant}`"))
            }
        }
    }
}

/// The key of a stored item (or index entry): its key attributes, which must be strings.
fn stored_key(item: &Item, table: &Table) -> std::result::Result<ItemKey, String> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(text)) => Ok(text.clone()),
        Some(_) => Err(format!("its key attribute `{name}` is not a string")),
        None => Err(format!("it has no key attribute `{name}`")),
    };
    Ok(ItemKey {
        pk: text(table.partition_key())?,
        sk: text(table.sort_key())?,
    })
}

/// The kinds of `S`'s tenants' items: its tenant-scoped entities, their guards and their audit
/// records. Refused for a schema without a tenant-scoped entity, which has no tenant's items.
fn kinds<S: TableSchema>(what: &str) -> Result<Vec<Kind>> {
    let mut kinds: Vec<Kind> = S::MEMBERS
        .iter()
        .filter(|member| member.tenant_field().is_some())
        .map(Kind::Entity)
        .collect();
    if kinds.is_empty() {
        return Err(Error::InvalidRequest {
            entity: S::NAME,
            reason: format!(
                "{what}: no entity of `{}` is tenant-scoped, so no item of it is a tenant's",
                S::NAME
            ),
        });
    }
    kinds.extend([Kind::Guard, Kind::Audit]);
    Ok(kinds)
}

/// The table's tenant type index; refused without one.
fn tenant_type_index<'t, S: TableSchema>(table: &'t Table, what: &str) -> Result<&'t str> {
    table
        .tenant_type_index()
        .ok_or_else(|| Error::InvalidRequest {
            entity: S::NAME,
            reason: format!(
                "{what} reads the tenant type index, and table `{}` has none; declare it with \
             `Table::builder(..).tenant_type_index(name)` (a global secondary index on \
             `{TENANT_TYPE_ATTRIBUTE}`, sort key `_timestamp`), and re-index items stored before \
             with `Backfill` in `tenant::across_tenants`",
                table.name()
            ),
        })
}

/// The tenant of the current scope, for work on one tenant's items: only an explicit
/// [`tenant::scope`](crate::tenant::scope) — never the table's resolvers, never
/// [`tenant::across_tenants`](crate::tenant::across_tenants). Checked like every key value.
fn scope_tenant<S: TableSchema>(table: &Table, what: &str) -> Result<TenantId> {
    let Some(tenant) = crate::tenant::current() else {
        if let Some(reason) = crate::tenant::crossing() {
            tracing::warn!(schema = S::NAME, %reason, "{what} works on one tenant: refused across tenants");
        }
        return Err(Error::MissingTenant { entity: S::NAME });
    };
    singletable_keys::check_value(tenant.as_str(), table.separator()).map_err(|error| {
        Error::InvalidKey {
            entity: S::NAME,
            source: singletable_keys::KeyError::Value {
                param: "tenant".into(),
                error,
            },
        }
    })?;
    Ok(tenant)
}

/// One page of an index partition: the entries (keys and `_type`), and where the next page
/// starts (`None`: the partition was read to its end).
struct IndexPage {
    entries: Vec<Item>,
    next: Option<Item>,
}

/// Reads one page of the partition `partition` of the tenant type index `index`, from `start`:
/// the table's keys and `_type` of each entry only.
async fn read_page(
    table: &Table,
    index: &str,
    partition: &str,
    entity: &'static str,
    start: Option<Item>,
    page_size: i32,
) -> Result<IndexPage> {
    let output = request::query(table, entity, |request| {
        request
            .index_name(index)
            .key_condition_expression("#tenant_type = :tenant_type")
            .projection_expression("#pk, #sk, #type")
            .expression_attribute_names("#tenant_type", TENANT_TYPE_ATTRIBUTE)
            .expression_attribute_names("#pk", table.partition_key())
            .expression_attribute_names("#sk", table.sort_key())
            .expression_attribute_names("#type", TYPE_ATTRIBUTE)
            .expression_attribute_values(":tenant_type", AttributeValue::S(partition.into()))
            .limit(page_size)
            .set_exclusive_start_key(start)
    })
    .await?;
    Ok(IndexPage {
        entries: output.items.unwrap_or_default(),
        next: output.last_evaluated_key,
    })
}

/// Locks `mutex`; a panic elsewhere cannot leave these counts half-written, so poison is moot.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

mod delete;
mod list;
mod transfer;

pub use delete::{DeleteTenant, TenantCheckpoint, TenantDeletion, TypeCheckpoint};
pub use list::Tenants;
pub use transfer::{ExportTenant, ImportTenant, TenantExport, TenantImport};

#[cfg(test)]
mod tests {
    use super::transfer::{read_line, to_line};
    use super::*;

    /// A schema without entities, as no derive makes one.
    struct Empty;

    impl TableSchema for Empty {
        const NAME: &'static str = "Empty";
        const TYPES: &'static [&'static str] = &[];
        const MEMBERS: &'static [Member] = &[];

        fn decode(item: Item, table: &Table) -> Result<Self> {
            Err(crate::table_schema::unknown_type::<Self>(&item, table))
        }

        fn entity_type(&self) -> &'static str {
            ""
        }
    }

    /// A table whose client reaches no endpoint: any request would fail.
    fn offline() -> Table {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .build();
        Table::builder(aws_sdk_dynamodb::Client::from_conf(config), "offline")
            .tenant_type_index("TenantTypeIndex")
            .build()
    }

    fn send<T: Send>(future: T) -> T {
        future
    }

    #[tokio::test]
    async fn every_future_is_send_and_a_schema_without_tenants_is_refused_in_its_scope() {
        let table = offline();
        let listing = crate::tenant::across_tenants("test", send(Empty::tenants(&table).send()));
        assert!(matches!(
            listing.await,
            Err(Error::InvalidRequest { reason, .. }) if reason.contains("no entity of `Empty` is tenant-scoped")
        ));
        let deletion = send(Empty::delete_tenant(&table).send());
        assert!(matches!(
            crate::tenant::scope("t1", deletion).await,
            Err(Error::InvalidRequest { .. })
        ));
        let export = send(Empty::export_tenant(&table).send(Vec::new()));
        assert!(matches!(
            export.await,
            Err(Error::MissingTenant { entity: "Empty" })
        ));
        let stream = send(Empty::export_tenant(&table).into_stream());
        let first = crate::tenant::scope("t1", stream.try_collect::<Vec<_>>()).await;
        assert!(matches!(first, Err(Error::InvalidRequest { .. })));
        let import = send(Empty::import_tenant(&table).send(&b""[..]));
        assert!(matches!(
            crate::tenant::scope("a#b", import).await,
            Err(Error::InvalidKey { .. })
        ));
    }

    #[tokio::test]
    async fn lines_are_read_with_or_without_a_last_newline_and_bounded() {
        let input = b"one\n\ntwo\r\nthree".to_vec();
        let mut reader = &input[..];
        let mut line = Vec::new();
        let mut lines = Vec::new();
        while read_line(&mut reader, &mut line).await.unwrap() {
            lines.push(String::from_utf8(line.clone()).unwrap());
        }
        assert_eq!(lines, ["one\n", "\n", "two\r\n", "three"]);
        let long = vec![b'x'; MAX_LINE + 1];
        let error = read_line(&mut &long[..], &mut line).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_line_is_dynamodb_json_sorted_at_every_level_and_reads_back() {
        let s = |text: &str| AttributeValue::S(text.to_owned());
        let item: Item = HashMap::from([
            ("sk".to_owned(), s("#A")),
            ("pk".to_owned(), s("LC#t1#A#1")),
            (
                "m".to_owned(),
                AttributeValue::M(HashMap::from([
                    ("z".to_owned(), AttributeValue::N("1".into())),
                    ("a".to_owned(), AttributeValue::Bool(true)),
                ])),
            ),
            (
                "l".to_owned(),
                AttributeValue::L(vec![AttributeValue::Null(true)]),
            ),
            ("ss".to_owned(), AttributeValue::Ss(vec!["x".into()])),
        ]);
        let line = to_line(item.clone(), "A").unwrap();
        assert_eq!(
            line,
            r##"{"l":{"L":[{"NULL":true}]},"m":{"M":{"a":{"BOOL":true},"z":{"N":"1"}}},"pk":{"S":"LC#t1#A#1"},"sk":{"S":"#A"},"ss":{"SS":["x"]}}"##
        );
        let back: serde_dynamo::Item = serde_json::from_str(&line).unwrap();
        assert_eq!(Item::from(back), item);
    }
}
