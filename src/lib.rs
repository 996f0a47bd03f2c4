//! Compile-checked single-table design for DynamoDB.
//!
//! Derive [`Entity`](macro@Entity) on a plain struct. Its key templates are checked against the
//! struct when it compiles, and it gets typed operations that run on a [`Table`] with
//! `aws-sdk-dynamodb`:
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use singletable::prelude::*;
//! use time::OffsetDateTime;
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(type = "TEAM", pk = "TENANT#<tenant_id>#ORG#<organization_id>", sk = "TEAM#<id>")]
//! #[serde(rename_all = "camelCase")]
//! pub struct Team {
//!     #[entity(autogen = uuid)]
//!     pub id: String,
//!     pub tenant_id: String,
//!     pub organization_id: String,
//!     pub name: String,
//!     pub description: Option<String>,
//!     #[entity(autogen = count)]
//!     pub member_count: i64,
//!     #[entity(autogen = timestamp)]
//!     #[serde(with = "time::serde::rfc3339")]
//!     pub created_at: OffsetDateTime,
//!     #[entity(autogen(on_update = timestamp))]
//!     #[serde(default, with = "time::serde::rfc3339::option")]
//!     pub updated_at: Option<OffsetDateTime>,
//! }
//!
//! # async fn run(client: aws_sdk_dynamodb::Client) -> Result<(), singletable::Error> {
//! let table = Table::builder(client, "MultiTenantApp").type_index("TypeIndex").build();
//!
//! // `create` takes only what a caller must supply; generated fields come back filled in.
//! let team = Team::create(&table, NewTeam {
//!     tenant_id: "tenant-1".into(),
//!     organization_id: "org-1".into(),
//!     name: "Engineering".into(),
//!     description: None,
//! })
//! .await?;
//!
//! // Keys are typed structs with one field per placeholder.
//! let key = TeamKey { tenant_id: "tenant-1", organization_id: "org-1", id: &team.id };
//! let same: Option<Team> = Team::get(&table, key).await?;
//!
//! // Setters exist for non-key fields only; `add_`/`subtract_` for numbers, `remove_` for options.
//! let team = Team::update(&table, key).add_member_count(1).remove_description().send().await?;
//! let gone: Option<Team> = Team::delete(&table, key).await?;
//! # Ok(()) }
//! ```
//!
//! # Attributes
//!
//! On the struct, `#[entity(...)]` takes:
//!
//! | attribute | meaning |
//! |---|---|
//! | `type = "TEAM"` | the `_type` every item of the entity carries |
//! | `pk = "TENANT#<tenant_id>#ORG#<organization_id>"` | partition key template |
//! | `sk = "TEAM#<id>"` | sort key template |
//!
//! A template is literal text and `<name>` placeholders; `#` separates key parts and is written
//! as the table's separator. Each placeholder names a field (or a field's `param`); each part holds
//! at most one placeholder, so a key always parses back into its values.
//!
//! On a field, `#[entity(...)]` takes:
//!
//! | attribute | meaning |
//! |---|---|
//! | `autogen = uuid` / `uuid_v7` | a new v4 / v7 UUID on create (`String` or `Uuid`) |
//! | `autogen = timestamp` | the creation time (`OffsetDateTime`, ISO `String`, `i64` ms, or an `Option` of one) |
//! | `autogen = count` | zero on create (any number type) |
//! | `autogen = path::to::function` | the function's result on create (a single name must be a kind above; write `self::name` for a local function) |
//! | `autogen(on_update = timestamp)` | stamped on every update; `None` (or the creation time) on create |
//! | `autogen(on_create = .., on_update = ..)` | both |
//! | `param = "organization_id"` | this field fills `<organization_id>` (dynamodb-provider's `paramMatch`) |
//!
//! Generated fields are not part of the create input (`New<Entity>`); fields stamped on update
//! have no setter.
//!
//! # What the derive generates
//!
//! For `struct Team`: `TeamKey<'k>` (borrowed key, one field per placeholder), `NewTeam` (create
//! input), `TeamUpdate<'t>` (update builder) and `impl Entity for Team`.
//!
//! # Stored items
//!
//! An item holds its key attributes, its fields under their serde names (a `None` is not stored),
//! `_type` and `_timestamp` (creation time, ISO-8601 UTC with milliseconds). The internal
//! attributes are removed before decoding, and a field serialized under one of their names is
//! refused ([`Error::ReservedAttribute`], or a compile error for `_type`/`_timestamp`).
//!
//! # Queries, indexes and collections
//!
//! `E::query(&table, EPartition { .. })` reads one partition (only `E`'s items), narrowed by
//! named range queries (`#[entity(range(name = "by_status", begins_with = "STATUS#<status>#"))]`)
//! and filtered with `E::FIELDS`; `all()`, `page(n, cursor)` and `stream()` run it. Secondary
//! indexes are declared with `#[entity(index(name, query, pk, sk))]` and get a typed query
//! function; `list_all`/`list_by_creation` read the type index. `#[derive(Collection)]` reads a
//! root entity and the items joined to it with one query; see [`Collection`].
//!
//! # Tenancy
//!
//! An `#[entity(tenant)]` field is filled from [`tenant::scope`] and is absent from keys,
//! partitions and create inputs; see the [`tenant`] module.
//!
//! # Writes
//!
//! Updates and deletes take typed conditions (`.condition(E::FIELDS.plan.eq(..))`,
//! `E::delete_if`, `E::put_if`); an `#[entity(version)]` field gives optimistic locking
//! ([`Error::VersionConflict`]); [`Transaction`] applies several writes and checks together;
//! [`BatchWrite`] and [`BatchGet`] move many items across entity types; an `#[entity(ttl)]` field
//! sets the item's expiry.
//!
//! # Errors
//!
//! Every operation returns [`Result`]; [`Error`] names the entity type, the item's key and the
//! cause. A key value that is empty, contains the separator or a control character is refused
//! with [`Error::InvalidKey`] before any request is made.

pub use singletable_core::*;
pub use singletable_macros::{Collection, Entity};

/// Everything an application needs in scope: `use singletable::prelude::*;`.
pub mod prelude {
    pub use singletable_core::{Collection, Entity, EntityKey, Error, Joinable, Table};
    pub use singletable_macros::{Collection, Entity};
}
