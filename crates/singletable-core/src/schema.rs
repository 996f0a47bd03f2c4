//! The description of an entity that `#[derive(Entity)]` generates: type name, key templates,
//! indexes and field metadata. The runtime's lower layers depend on this trait only; the
//! operations live above, on [`Entity`](crate::Entity).

use serde::de::DeserializeOwned;
use serde::Serialize;
use singletable_keys::{Segment, Template};
use time::OffsetDateTime;

use crate::codec::Item;
use crate::error::{ItemKey, Result};
use crate::table::Table;

/// An entity with an `#[entity(version)]` field, whose updates can check the version they
/// read (`if_version`). Implemented by the derive.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no version field",
    note = "mark a `u64` field `#[entity(version)]` to check versions with `if_version`"
)]
pub trait Versioned: Schema {}

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
    /// The stored (serde) name of the `#[entity(tenant)]` field, for a tenant-scoped entity;
    /// its placeholder unless serde stores it under another name.
    const TENANT_FIELD: Option<&'static str> = Self::TENANT_PARAM;
    /// The stored names of the fields the key templates are made of (the tenant field
    /// included). No update may set them: the item would no longer match its key.
    const KEY_FIELDS: &'static [&'static str] = &[];
    /// The fields serde does not store under their Rust name: each one's Rust name and the
    /// attribute it is stored under (`""` for a field serde skips). Every other field is stored
    /// under its own name. `#[derive(Projection)]` checks a projection's names against these.
    #[doc(hidden)]
    const RENAMED_FIELDS: &'static [(&'static str, &'static str)] = &[];
    /// Whether every write also writes an audit record, in the same transaction
    /// (`#[entity(audit)]`).
    const AUDITED: bool = false;
    /// The stored names of the `#[entity(unique)]` fields: no two items of the entity (of one
    /// tenant, for a tenant-scoped entity) hold the same value in one of them, which a guard
    /// item per value ensures (see [`UNIQUE_TYPE`]).
    const UNIQUE: &'static [&'static str] = &[];
    /// The version of the item layout this struct reads and writes (`#[entity(schema = N)]`;
    /// 1 when not declared). Items record the version they were written with.
    const SCHEMA: u32 = 1;
    /// The oldest schema version whose builds can read items written at this one
    /// (`#[entity(schema = 3, compatible = 2)]`: the change since schema 2 only added fields
    /// that older builds may ignore). Such items record it, so that during a rolling deploy a
    /// build that knows schema 2 reads them as they are, while it still refuses items of an
    /// incompatible newer schema. [`SCHEMA`](Self::SCHEMA) when not declared.
    const COMPATIBLE: u32 = Self::SCHEMA;

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

    /// Each of [`UNIQUE`](Self::UNIQUE)'s fields, in order, with its value as key text (`None`
    /// for an `Option` field holding none, which holds no value). The text is checked as key
    /// values are when its guard's key is rendered.
    #[doc(hidden)]
    fn unique_values(&self) -> Vec<(&'static str, Option<String>)> {
        Vec::new()
    }

    /// The key of this entity, borrowed from its fields.
    fn key(&self) -> Self::Key<'_>;
}

/// The `_type` of the guard items that keep the values of `#[entity(unique)]` fields unique, and
/// their sort key.
///
/// A guard item holds one value of one unique field, and names the item that holds it:
///
/// | attribute | value |
/// |---|---|
/// | partition key | `_UNIQUE#<TYPE>#<field>#<value>`, after `TENANT#<tenant>#` for a tenant-scoped entity (joined with the table's separator; `<field>` is the stored name) |
/// | sort key | `_UNIQUE` |
/// | `_type` | `_UNIQUE` |
/// | `_owner` | the key of the item holding the value: a map `{pk, sk}` |
/// | the table's time-to-live attribute | the owner's expiry, when it has one |
///
/// Entity types cannot start with `_` (the derive refuses them), so no entity's item carries
/// this `_type`: every conditional write of an entity, which holds only over its own type, leaves
/// guards alone, and a guard write holds only over a guard. A batch writes without conditions, so
/// it refuses an entity whose key templates could render a guard's key.
pub const UNIQUE_TYPE: &str = "_UNIQUE";

/// The partition key template of the guards of `entity`'s unique field `field` (its stored
/// name), as [`UNIQUE_TYPE`] lays it out: the tenant (for a tenant-scoped entity), then the value.
pub(crate) fn unique_segments<'a>(
    entity: &'a str,
    field: &'a str,
    tenant_scoped: bool,
) -> Vec<Segment<'a>> {
    let mut segments = Vec::with_capacity(11);
    if tenant_scoped {
        segments.extend([
            Segment::Literal("TENANT"),
            Segment::Separator,
            Segment::Param("tenant"),
            Segment::Separator,
        ]);
    }
    segments.extend([
        Segment::Literal(UNIQUE_TYPE),
        Segment::Separator,
        Segment::Literal(entity),
        Segment::Separator,
        Segment::Literal(field),
        Segment::Separator,
        Segment::Param(field),
    ]);
    segments
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

/// A key whose sort key has no parameters of its own: it names a partition too, the one its
/// item is in, and is the entity's [`Schema::Partition`]. `#[derive(Entity)]` implements it
/// instead of a [`PartitionKey`] impl per entity.
#[doc(hidden)]
pub trait NamesPartition: EntityKey {}

impl<K: NamesPartition> PartitionKey for K {
    fn partition_key(&self, table: &Table) -> Result<String> {
        // The sort key has no values: rendering it costs a copy of its literals.
        self.item_key(table).map(|key| key.pk)
    }
}
