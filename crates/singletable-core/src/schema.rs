//! The description of an entity that `#[derive(Entity)]` generates: type name, key templates,
//! indexes and field metadata. The runtime's lower layers depend on this trait only; the
//! operations live above, on [`Entity`](crate::Entity).

use serde::de::DeserializeOwned;
use serde::Serialize;
use singletable_keys::Template;
use time::OffsetDateTime;

use crate::codec::Item;
use crate::error::{ItemKey, Result};
use crate::table::Table;

/// What an entity is: its `_type`, key templates, indexes, fields and lifecycle flags, and how
/// its create input becomes a value. `#[derive(Entity)]` implements it.
///
/// This is the description the runtime's lower layers work from; the operations users call are
/// on [`Entity`](crate::Entity), above it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an entity",
    note = "derive it with `#[derive(Entity)]` and `#[entity(type = \"...\", pk = \"...\", sk = \"...\")]`"
)]
pub trait Schema: Serialize + DeserializeOwned + Send + Sync + Sized + 'static {
    /// The `_type` attribute of this entity's items.
    const TYPE: &'static str;
    /// The partition key template.
    const PARTITION_KEY: &'static Template<'static>;
    /// The sort key template.
    const SORT_KEY: &'static Template<'static>;
    /// The secondary indexes this entity writes keys for.
    const INDEXES: &'static [IndexKeys] = &[];
    /// The attribute of the `#[entity(version)]` field, checked and incremented by every write.
    const VERSION: Option<&'static str> = None;
    /// Whether `delete` marks items deleted instead of removing them (`#[entity(soft_delete)]`).
    const SOFT_DELETE: bool = false;
    /// Whether a field sets the item's expiry (`#[entity(ttl)]`).
    const EXPIRES: bool = false;
    /// The key placeholder of the field that takes its value from the tenant scope
    /// (`#[entity(tenant)]`), for a tenant-scoped entity.
    const TENANT_PARAM: Option<&'static str> = None;
    /// The stored (serde) name of the `#[entity(tenant)]` field, for a tenant-scoped entity.
    const TENANT_FIELD: Option<&'static str> = None;
    /// The stored names of the fields the key templates are made of (the tenant field
    /// included). No update may set them: the item would no longer match its key.
    const KEY_FIELDS: &'static [&'static str] = &[];
    /// Whether every write also writes an audit record, in the same transaction
    /// (`#[entity(audit)]`).
    const AUDITED: bool = false;
    /// The version of the item layout this struct reads and writes (`#[entity(schema = N)]`;
    /// 1 when not declared). Items record the version they were written with.
    const SCHEMA: u32 = 1;

    /// Brings a stored item of schema `from` to schema `from + 1`, in place (the
    /// `#[entity(upgrade = f)]` function). Reads apply it to every older item before decoding,
    /// and [`Backfill`](crate::Backfill) writes the upgraded items back.
    fn upgrade(from: u32, item: &mut Item) -> std::result::Result<(), String> {
        let _ = item;
        Err(format!(
            "`{}` has no upgrade from schema {from}",
            Self::TYPE
        ))
    }

    /// The typed key: one field per placeholder of the partition and sort key templates.
    type Key<'k>: EntityKey;
    /// What a caller supplies to create an entity: every field that is not auto-generated.
    type New: Send;
    /// The typed partition: one field per placeholder of the partition key template.
    type Partition<'k>: PartitionKey;

    /// Builds the entity from its create input, filling the auto-generated fields.
    #[doc(hidden)]
    fn from_new(new: Self::New, now: OffsetDateTime, table: &Table) -> Result<Self>;

    /// When the item expires, in epoch seconds (`None`: never).
    fn expires_at(&self) -> Option<i64> {
        None
    }

    /// The version of a versioned entity.
    fn version(&self) -> Option<u64> {
        None
    }

    /// The tenant this entity belongs to, for a tenant-scoped entity.
    fn tenant(&self) -> Option<&str> {
        None
    }

    /// Sets the fields that are stamped on every update.
    #[doc(hidden)]
    fn stamp_update(stamps: &mut crate::codec::Stamps, now: OffsetDateTime) {
        let _ = (stamps, now);
    }

    /// The keys of each of [`INDEXES`](Self::INDEXES), in order; `None` where a field the index
    /// needs is `None` (a sparse index).
    #[doc(hidden)]
    fn index_keys(&self, separator: char) -> Result<Vec<Option<ItemKey>>> {
        let _ = separator;
        Ok(Vec::new())
    }

    /// The key of this entity, borrowed from its fields.
    fn key(&self) -> Self::Key<'_>;
}

/// The key templates an entity declares for one secondary index of the table.
#[derive(Debug)]
pub struct IndexKeys {
    /// The index name, as declared on the table.
    pub index: &'static str,
    /// The index partition key template.
    pub pk: Template<'static>,
    /// The index sort key template.
    pub sk: Template<'static>,
}

/// A typed partition of an entity, generated as `<Entity>Partition`.
pub trait PartitionKey: Send + Sync {
    /// Renders the partition key for `table`, refusing invalid values with
    /// [`Error::InvalidKey`](crate::Error::InvalidKey).
    fn partition_key(&self, table: &Table) -> Result<String>;
}

/// A typed key of an entity, generated as `<Entity>Key`.
pub trait EntityKey: Send + Sync {
    /// Renders the partition and sort key, refusing invalid values with
    /// [`Error::InvalidKey`](crate::Error::InvalidKey).
    fn item_key(&self, table: &Table) -> Result<ItemKey>;
}
