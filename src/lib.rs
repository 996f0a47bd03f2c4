//! Compile-checked single-table design for DynamoDB.
//!
//! Derive [`Entity`](macro@Entity) on a plain serde struct and describe where its items live with
//! key templates such as `TENANT#<tenant_id>#ORG#<id>`. The templates are checked against the
//! struct when it compiles, and the struct gets typed operations (create, get, update, delete,
//! queries) that run on a [`Table`] through `aws-sdk-dynamodb`. Several entities share one table
//! and, where their partition key templates agree, one partition; [`Collection`](macro@Collection)
//! reads such a partition into a struct of joined entities with one query.
//!
//! The sections below walk through the whole crate:
//!
//! - [Defining entities](#defining-entities): the derive, its attributes, what it generates and
//!   how an item is stored.
//! - [Keys](#keys): templates, typed key structs, what is refused at compile time and at run time.
//! - [Queries](#queries): partitions, named range queries, secondary indexes, pages and cursors.
//! - [Collections](#collections): a root entity with the items joined to it.
//! - [Tenancy](#tenancy): the tenant scope and `#[entity(tenant)]`.
//! - [Transactions and batches](#transactions-and-batches): conditions, optimistic locking,
//!   all-or-nothing writes, batch reads and writes, unique fields.
//! - [Lifecycle](#lifecycle): time to live and soft delete.
//! - [Errors](#errors).
//!
//! The examples that read and write data run against [DynamoDB Local] through the
//! `singletable-local` crate, which starts it (Java 17 and npm needed) or uses the one at
//! `DYNAMODB_ENDPOINT`. The lines that set it up are hidden; in an application, `client` is an
//! `aws_sdk_dynamodb::Client` made from your AWS configuration.
//!
//! [DynamoDB Local]: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.html
//!
//! # Defining entities
//!
//! An entity is a struct with named fields that derives `Entity`, `Serialize` and `Deserialize`.
//! `#[entity(type = ..., pk = ..., sk = ...)]` names its `_type` and its key templates:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use singletable::prelude::*;
//! use time::OffsetDateTime;
//!
//! #[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
//! #[serde(rename_all = "lowercase")]
//! pub enum Plan {
//!     Free,
//!     Pro,
//! }
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(
//!     type = "ORGANIZATION",
//!     pk = "TENANT#<tenant_id>#ORG#<organization_id>",
//!     sk = "#METADATA"
//! )]
//! #[serde(rename_all = "camelCase")]
//! pub struct Organization {
//!     #[entity(autogen = uuid, param = "organization_id")]
//!     pub id: String,
//!     pub tenant_id: String,
//!     pub name: String,
//!     pub plan: Plan,
//!     pub description: Option<String>,
//!     #[entity(autogen = count)]
//!     pub member_count: i64,
//!     #[entity(autogen = timestamp)]
//!     #[serde(with = "singletable::timestamp")]
//!     pub created_at: OffsetDateTime,
//!     #[entity(autogen(on_update = timestamp))]
//!     #[serde(default, with = "singletable::timestamp::option")]
//!     pub updated_at: Option<OffsetDateTime>,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let local = singletable_local::DynamoDbLocal::shared()?;
//! # let (client, table_name) = local.fresh_table("doc-entities").await?;
//! let table = Table::builder(client, table_name).type_index("TypeIndex").build();
//!
//! // `create` takes only what a caller must supply and returns the entity with its generated
//! // fields filled in.
//! let new = NewOrganization {
//!     tenant_id: "tenant-1".into(),
//!     name: "Acme".into(),
//!     plan: Plan::Free,
//!     description: None,
//! };
//! let org = Organization::create(&table, new).await?;
//! assert_eq!(org.member_count, 0);
//! assert_eq!(org.updated_at, None);
//!
//! // A key is a struct with one field per placeholder.
//! let key = OrganizationKey { tenant_id: "tenant-1", organization_id: &org.id };
//! let read = Organization::get(&table, key).await?.ok_or("the organization exists")?;
//! assert_eq!(read.created_at, org.created_at);
//!
//! // An update names fields by their typed handles, which exist only outside the key: `set`
//! // any, `add`/`subtract` numbers, `remove` options. `send` returns the entity as stored.
//! let org = Organization::update(&table, key)
//!     .set(Organization::FIELDS.plan, Plan::Pro)
//!     .set(Organization::FIELDS.description, Some("Anvils and rockets".to_owned()))
//!     .add(Organization::FIELDS.member_count, 2)
//!     .send()
//!     .await?;
//! assert_eq!((org.plan, org.member_count), (Plan::Pro, 2));
//! assert!(org.updated_at.is_some());
//!
//! // The stored item, as the SDK reads it: the key, the fields under their serde names, and
//! // the internal attributes. The key parameter `organization_id` is not stored on its own.
//! use aws_sdk_dynamodb::types::AttributeValue;
//! let output = table
//!     .client()
//!     .get_item()
//!     .table_name(table.name())
//!     .key("pk", AttributeValue::S(format!("TENANT#tenant-1#ORG#{}", org.id)))
//!     .key("sk", AttributeValue::S("#METADATA".into()))
//!     .send()
//!     .await?;
//! let item = output.item().ok_or("the item is stored")?;
//! assert_eq!(item["_type"], AttributeValue::S("ORGANIZATION".into()));
//! assert_eq!(item["tenantId"], AttributeValue::S("tenant-1".into()));
//! assert_eq!(item["memberCount"], AttributeValue::N("2".into()));
//! assert!(item.contains_key("_timestamp"));
//! assert!(!item.contains_key("organizationId"));
//!
//! // `delete` returns what it removed.
//! let removed = Organization::delete(&table, key).await?;
//! assert_eq!(removed.map(|org| org.name), Some("Acme".to_owned()));
//! assert!(Organization::get(&table, key).await?.is_none());
//! # Ok(())
//! # }
//! ```
//!
//! ## Attributes
//!
//! On the struct, `#[entity(...)]` takes:
//!
//! | attribute | meaning |
//! |---|---|
//! | `type = "TEAM"` | the `_type` every item of the entity carries |
//! | `pk = "TENANT#<tenant_id>#ORG#<organization_id>"` | partition key template |
//! | `sk = "TEAM#<id>"` | sort key template |
//! | `range(name = "by_status", begins_with = "STATUS#<status>#")` | a named range query; the operator is one of `eq`, `begins_with`, `between`, `lt`, `le`, `gt`, `ge` (see [Queries](#queries)) |
//! | `index(name = "GSI1", query = "by_owner", pk = "OWNER#<owner>", sk = "PROJECT#<id>")` | keys this entity writes into the table's secondary index `GSI1`, and the query function `by_owner` that reads it; `range(...)` inside it declares a named range query on the index sort key, as for the table's |
//! | `soft_delete` | `delete` marks items instead of removing them (see [Lifecycle](#lifecycle)) |
//! | `audit` | every write also writes an audit record, in the same transaction (see [Audit trail](#audit-trail)) |
//! | `schema = 2, upgrade = path::to::fn` | the item layout version, and the upgrade of older items (see [Schema versions](#schema-versions)) |
//!
//! On a field, `#[entity(...)]` takes:
//!
//! | attribute | meaning |
//! |---|---|
//! | `autogen = uuid` / `uuid_v7` | a new v4 / v7 UUID on create (`String` or `Uuid`) |
//! | `autogen = timestamp` | the creation time (`OffsetDateTime`, ISO `String`, `i64` ms, or an `Option` of one) |
//! | `autogen = count` | zero on create (any integer or float type) |
//! | `autogen = path::to::function` | the function's result on create (a single name must be a kind above; write `self::name` for a local function) |
//! | `autogen(on_update = timestamp)` | stamped on every update; `None` (or the creation time) on create |
//! | `autogen(on_create = .., on_update = ..)` | both |
//! | `param = "organization_id"` | this field fills `<organization_id>` (dynamodb-provider's `paramMatch`) |
//! | `tenant` | the field takes the tenant of the [tenant scope](#tenancy); a `String` that is a placeholder of `pk` |
//! | `version` | a `u64` checked and incremented by every write (see [Transactions and batches](#transactions-and-batches)) |
//! | `ttl` | the item's expiry (`OffsetDateTime`, `i64` epoch seconds, or an `Option` of one), also stored in the table's time-to-live attribute |
//! | `unique` | no two items of the entity (of one tenant, for a tenant-scoped entity) hold the same value; a key-part type or an `Option` of one, outside the key (see [Unique fields](#unique-fields)) |
//!
//! Generated fields, the tenant field and the version are not part of the create input
//! (`New<Entity>`); key fields have no field handle, and updates cannot change fields stamped on
//! update or the version (their handles are `ReadOnly`).
//! `#[serde(rename)]`, `#[serde(rename_all)]`, `#[serde(with)]` and `#[serde(default)]` are
//! honoured: a field is stored, filtered and updated under its serde name.
//!
//! ## What the derive generates
//!
//! For `struct Team`:
//!
//! - `TeamKey<'k>`: the key, one borrowed field per placeholder of `pk` and `sk` (`&str` for a
//!   `String` field, `&T` for any other); `team.key()` borrows it from an entity.
//! - `TeamPartition<'k>`: one borrowed field per placeholder of `pk`, for queries. A key or
//!   partition without placeholders to fill is made with `Default` (`NotePartition::default()`).
//! - `NewTeam`: the create input.
//! - `TeamQuery<'t>`: the query builder returned by `Team::query`, with a method per named range.
//! - `Team::FIELDS` (of type `TeamFields`): a typed [`Field`] handle per field outside the key,
//!   for filters, conditions and updates: `Team::update` returns an [`Update`], one builder for
//!   every entity, whose `set`, `add`, `remove`, ... take these handles. A handle's type says
//!   what fits: only numbers are added to, only an `Option` is removed, an index key's field is
//!   set but not added to, and the version or a field stamped on update is not changed at all.
//! - per `index(...)`: a partition struct named after the query (`TeamByOwner<'k>` for
//!   `query = "by_owner"`), the function `Team::by_owner`, and the query builder it returns
//!   (`TeamByOwnerQuery<'t>`), with a method per named range of the index.
//! - `impl Entity for Team`, whose provided methods are the operations: see [`Entity`].
//!
//! ## Stored items
//!
//! An item holds its key attributes, its fields under their serde names (a `None` is not stored),
//! `_type` and `_timestamp` (creation time, ISO-8601 UTC with milliseconds, such as
//! `2026-11-24T04:56:06.559Z`). Secondary index keys, the time-to-live attribute, `_tenant_type`
//! (with a tenant type index) and `_deleted_at` (soft delete) are added where they apply. The
//! internal attributes are removed before decoding, and a field serialized under one of their
//! names is refused ([`Error::ReservedAttribute`], or a compile error for `_type`/`_timestamp`).
//! A placeholder is filled from a field, so nothing that is only a key parameter is stored.
//!
//! # Keys
//!
//! ## Templates
//!
//! A template is literal text and `<name>` placeholders. `#` separates key parts and is written
//! as the table's separator (`#` unless [`TableBuilder::separator`] says otherwise). Each
//! placeholder names a field, or the field whose `param` it is; each part holds at most one
//! placeholder, so a key always parses back into its values. A placeholder's field must implement
//! [`KeyPart`]: strings, integers, `bool`, `Uuid` and `OffsetDateTime` do, and so can your own
//! types (a unit enum, a newtype id).
//!
//! ## Typed keys
//!
//! Keys and partitions are generated structs, so a key with a missing, misspelt or mistyped
//! value does not compile. They render to the strings stored in `pk` and `sk`:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use singletable::prelude::*;
//! use singletable::{ItemKey, PartitionKey};
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(
//!     type = "TEAM_MEMBER",
//!     pk = "TENANT#<tenant_id>#ORG#<organization_id>",
//!     sk = "TEAM#<team_id>#MEMBER#<id>"
//! )]
//! pub struct TeamMember {
//!     pub tenant_id: String,
//!     pub organization_id: String,
//!     pub team_id: String,
//!     pub id: u32,
//!     pub username: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // No request is made in this example, so the client needs no endpoint or credentials.
//! # let config = aws_sdk_dynamodb::Config::builder()
//! #     .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
//! #     .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
//! #     .build();
//! # let client = aws_sdk_dynamodb::Client::from_conf(config);
//! let table = Table::builder(client, "MultiTenantApp").build();
//!
//! let key = TeamMemberKey { tenant_id: "t1", organization_id: "acme", team_id: "core", id: &7 };
//! assert_eq!(
//!     key.item_key(&table)?,
//!     ItemKey { pk: "TENANT#t1#ORG#acme".into(), sk: "TEAM#core#MEMBER#7".into() }
//! );
//! let partition = TeamMemberPartition { tenant_id: "t1", organization_id: "acme" };
//! assert_eq!(partition.partition_key(&table)?, "TENANT#t1#ORG#acme");
//!
//! // An entity lends its own key. Keys are compared as what they render to.
//! let member = TeamMember {
//!     tenant_id: "t1".into(),
//!     organization_id: "acme".into(),
//!     team_id: "core".into(),
//!     id: 7,
//!     username: "ada".into(),
//! };
//! assert_eq!(member.key().item_key(&table)?, key.item_key(&table)?);
//!
//! // Keys parse back into their values.
//! assert_eq!(TeamMember::SORT_KEY.parse_key("TEAM#core#MEMBER#7", '#')?, ["core", "7"]);
//!
//! // A value that contains the separator would address another partition: it is refused
//! // before any request, as are empty values and control characters.
//! let crafted = TeamMemberKey { tenant_id: "t1#ORG#other", ..key };
//! let err = TeamMember::get(&table, crafted).await.unwrap_err();
//! assert!(matches!(err, Error::InvalidKey { entity: "TEAM_MEMBER", .. }));
//! assert_eq!(
//!     err.to_string(),
//!     "invalid key for TEAM_MEMBER: value of `<tenant_id>` contains the separator `#`"
//! );
//! let empty = TeamMemberKey { team_id: "", ..key };
//! assert!(matches!(TeamMember::delete(&table, empty).await, Err(Error::InvalidKey { .. })));
//! # Ok(())
//! # }
//! ```
//!
//! ## Checked when the struct compiles
//!
//! Each of these is a compile error that points at the attribute or field:
//!
//! - a placeholder that names no field (with a did-you-mean), or a `param` that fills no
//!   placeholder;
//! - a key field whose type does not implement [`KeyPart`], or is an `Option`;
//! - two placeholders in one key part, which could not be told apart when parsing back;
//! - an empty or malformed template, or a missing `type`, `pk` or `sk`;
//! - a range query whose template is not a prefix of the sort key template;
//! - a tenant field that is not a `String` placeholder of `pk`, and a secondary index of a
//!   tenant-scoped entity whose `pk` lacks it;
//! - a field stored as `_type` or `_timestamp`;
//! - a collection whose joined entities do not share the root's partition key template.
//!
//! ```compile_fail
//! use serde::{Deserialize, Serialize};
//! use singletable::Entity;
//!
//! #[derive(Entity, Serialize, Deserialize)]
//! #[entity(type = "TEAM", pk = "ORG#<organisation_id>", sk = "TEAM#<id>")]
//! pub struct Team {
//!     pub organization_id: String,
//!     pub id: String,
//! }
//! // error: unknown placeholder `<organisation_id>` in pk: no field `organisation_id`;
//! //        did you mean `organization_id`?
//! ```
//!
//! ## Refused at run time
//!
//! A value only known at run time is checked when a key is rendered, before any request: an
//! empty value, one that contains the separator or a control character, and a key longer than
//! DynamoDB allows (2048 bytes for a partition key, 1024 for a sort key) give
//! [`Error::InvalidKey`]. This is what keeps a tenant id such as `"a#ORG#b"` from reaching
//! another tenant's items.
//!
//! # Queries
//!
//! `E::query(&table, EPartition { .. })` reads one partition and returns only `E`'s items, even
//! where other entities share the partition and a sort-key prefix. A named range query narrows
//! the sort key with typed values; `E::FIELDS` builds filters; a secondary index gets a query
//! function; [`Entity::list_all`] reads the type index. Every query runs with one of
//!
//! - `all()`: every item, following `LastEvaluatedKey` to the end (or to `limit(n)`);
//! - `page(n, cursor)`: up to `n` items (`n` whenever that many remain, even where other
//!   entities' items are interleaved) and the cursor of the next page (`None` on the last);
//! - `stream()`: the items, reading a page only when the previous one is consumed;
//! - `count()`: the number of items `all()` would return, as a `usize`, counted by DynamoDB
//!   (`Select = COUNT`) over every page with the same conditions and filters (the entity's
//!   `_type`, soft-deleted and expired items, `filter(..)`), without returning them.
//!
//! ```
//! use futures::TryStreamExt;
//! use serde::{Deserialize, Serialize};
//! use singletable::prelude::*;
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(
//!     type = "PROJECT",
//!     pk = "TEAM#<team_id>",
//!     sk = "STATUS#<status>#PROJECT#<id>",
//!     range(name = "by_status", begins_with = "STATUS#<status>#"),
//!     index(
//!         name = "GSI1",
//!         query = "by_owner",
//!         pk = "OWNER#<owner>",
//!         sk = "PROJECT#<id>",
//!         range(name = "ids_between", between = "PROJECT#<id>")
//!     )
//! )]
//! pub struct Project {
//!     pub team_id: String,
//!     pub status: String,
//!     pub id: String,
//!     pub owner: String,
//!     pub budget: i64,
//! }
//!
//! /// Another entity in the same partition, with sort keys next to the projects'.
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(type = "MILESTONE", pk = "TEAM#<team_id>", sk = "STATUS#<status>#MILESTONE#<id>")]
//! pub struct Milestone {
//!     pub team_id: String,
//!     pub status: String,
//!     pub id: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let local = singletable_local::DynamoDbLocal::shared()?;
//! # let client = local.client().await;
//! # let table_name = singletable_local::unique_table_name("doc-queries");
//! let table = Table::builder(client, table_name)
//!     .type_index("TypeIndex")
//!     .index("GSI1", "gsi1pk", "gsi1sk")
//!     .cursor_secret("a secret from the service's configuration")
//!     .build();
//! // The table with its type index and GSI1; production tables usually come from
//! // infrastructure code.
//! table.create_table().await?;
//!
//! for n in 1..=5 {
//!     let new = NewProject {
//!         team_id: "core".into(),
//!         status: if n == 3 { "archived" } else { "active" }.into(),
//!         id: format!("p{n}"),
//!         owner: if n % 2 == 1 { "ada" } else { "grace" }.into(),
//!         budget: n * 1000,
//!     };
//!     Project::create(&table, new).await?;
//! }
//! let milestone = NewMilestone {
//!     team_id: "core".into(),
//!     status: "active".into(),
//!     id: "m1".into(),
//! };
//! Milestone::create(&table, milestone).await?;
//!
//! let core = ProjectPartition { team_id: "core" };
//! assert_eq!(Project::query(&table, core).all().await?.len(), 5);
//!
//! // A named range query: its parameters are the placeholders of its template. The milestone
//! // matches the same sort-key prefix and is still not returned.
//! let active = Project::query(&table, core).by_status("active").all().await?;
//! assert_eq!(active.len(), 4);
//! // Counted by DynamoDB, without reading the items back.
//! assert_eq!(Project::query(&table, core).by_status("active").count().await?, 4);
//!
//! // A filter on fields outside the key, typed by the field (`budget` is an `i64`).
//! let large = Project::query(&table, core).filter(Project::FIELDS.budget.gt(3000)).all().await?;
//! let ids: Vec<_> = large.iter().map(|p| p.id.as_str()).collect();
//! assert_eq!(ids, ["p4", "p5"]);
//!
//! // Pages of two. The cursor is opaque and URL-safe, signed with the table's cursor secret,
//! // and it resumes only the query that made it.
//! let first = Project::query(&table, core).page(2, None).await?;
//! assert_eq!(first.items.len(), 2);
//! let cursor = first.cursor.as_deref();
//! let second = Project::query(&table, core).page(2, cursor).await?;
//! assert_eq!(second.items.len(), 2);
//! let elsewhere = Project::query(&table, core).by_status("active").page(2, cursor).await;
//! assert!(matches!(elsewhere, Err(Error::InvalidCursor { .. })));
//!
//! // A stream reads the next page (of `page_size` items) only when it is needed.
//! let streamed: Vec<String> = Project::query(&table, core)
//!     .page_size(2)
//!     .stream()
//!     .map_ok(|project| project.id)
//!     .try_collect()
//!     .await?;
//! assert_eq!(streamed.len(), 5);
//!
//! // The index query takes the placeholders of the index's `pk`; its named ranges narrow the
//! // index sort key.
//! let adas = Project::by_owner(&table, ProjectByOwner { owner: "ada" }).all().await?;
//! assert_eq!(adas.len(), 3);
//! let some = Project::by_owner(&table, ProjectByOwner { owner: "ada" }).ids_between("p2", "p4");
//! let ids: Vec<_> = some.all().await?.into_iter().map(|p| p.id).collect();
//! assert_eq!(ids, ["p3"]);
//!
//! // Every project of every team, newest first, through the type index.
//! let newest = Project::list_all(&table).descending().limit(2).all().await?;
//! assert_eq!(newest.len(), 2);
//! # Ok(())
//! # }
//! ```
//!
//! A range query's operator is one of `eq`, `begins_with`, `lt`, `le`, `gt`, `ge`, which take
//! the template's values, and `between`, which takes them twice (`from_<name>`, then
//! `to_<name>`). Its template must be a prefix of the sort key template (for `begins_with`, the
//! last literal may stop inside the sort key's); an upper bound (`between`'s second, `le`, and
//! `gt`'s) takes in every key that continues the rendered prefix. A range declared inside an
//! `index(...)` is the same, on the index sort key, and becomes a method of the index query.
//! [`Query::sort_key`] takes a raw [`SortKey`] condition for anything else.
//! Index keys are written on create, rewritten when an update sets a field they are made of,
//! and left out while such a field is `None` (a sparse index). Queries also take `limit`,
//! `descending`, `consistent_read` (not on indexes) and `include_deleted`;
//! [`Entity::list_by_creation`] lists the items created in a time range.
//!
//! # Projections
//!
//! `#[derive(Projection)]` with `#[projection(of = Entity)]` declares a struct of some of an
//! entity's fields. It is read with a `ProjectionExpression`, so DynamoDB returns only its
//! fields (and what the read's guards look at: the key, `_type`, `_schema`, `_deleted_at`, the
//! time-to-live attribute and the tenant field), through one API on every read:
//!
//! - `Entity::get_as::<P>(&table, key)` for a get ([`Entity::get_as`]);
//! - `.project::<P>()` on any query — a partition query, an index query, `list_all` — which
//!   then runs with `all()`, `page(n, cursor)` or `stream()` ([`Query::project`], [`Projected`]);
//! - `batch.get_as::<P>(key)` in a [`BatchGet`], taken like any slot.
//!
//! A projected read keeps every guard of a full one: items of another type, soft-deleted and
//! expired items are left out (or refused) as they are for the entity, and a tenant-scoped
//! entity's item is checked against the current tenant even when the projection does not hold
//! the tenant field. Each field must be a field of the entity, of the same type and stored
//! under the same serde name (repeat the entity's `rename_all`/`rename`); anything else does
//! not compile, with the error at the projection's field. The entity's fields must be visible
//! where the projection is declared. An entity with `schema = N` past 1 is read whole, because
//! an item of an older schema is upgraded whole before it is decoded.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use singletable::prelude::*;
//! use singletable::BatchGet;
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(
//!     type = "ARTICLE",
//!     pk = "BLOG#<blog>",
//!     sk = "ARTICLE#<id>",
//!     index(name = "GSI1", query = "by_author", pk = "AUTHOR#<author>", sk = "ARTICLE#<id>")
//! )]
//! #[serde(rename_all = "camelCase")]
//! pub struct Article {
//!     pub blog: String,
//!     pub id: u32,
//!     pub author: String,
//!     pub title: String,
//!     pub word_count: u32,
//!     pub body: String,
//! }
//!
//! /// An article without its body, for lists of titles.
//! #[derive(Projection, Deserialize, Debug, PartialEq)]
//! #[projection(of = Article)]
//! #[serde(rename_all = "camelCase")]
//! pub struct ArticleTitle {
//!     pub id: u32,
//!     pub title: String,
//!     pub word_count: u32,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let local = singletable_local::DynamoDbLocal::shared()?;
//! # let client = local.client().await;
//! # let table_name = singletable_local::unique_table_name("doc-projections");
//! let table = Table::builder(client, table_name)
//!     .type_index("TypeIndex")
//!     .index("GSI1", "gsi1pk", "gsi1sk")
//!     .build();
//! table.create_table().await?;
//! let body = "Lorem ipsum. ".repeat(2000);
//! for (id, title) in [(1, "Hello"), (2, "Again")] {
//!     let new = NewArticle {
//!         blog: "b".into(),
//!         id,
//!         author: "ada".into(),
//!         title: title.into(),
//!         word_count: 4000,
//!         body: body.clone(),
//!     };
//!     Article::create(&table, new).await?;
//! }
//! let hello = || ArticleTitle { id: 1, title: "Hello".into(), word_count: 4000 };
//!
//! let key = ArticleKey { blog: "b", id: &1 };
//! assert_eq!(Article::get_as::<ArticleTitle>(&table, key).await?, Some(hello()));
//!
//! let titles = Article::query(&table, ArticlePartition { blog: "b" })
//!     .project::<ArticleTitle>()
//!     .all()
//!     .await?;
//! assert_eq!(titles.len(), 2);
//! let by_ada = Article::by_author(&table, ArticleByAuthor { author: "ada" })
//!     .project::<ArticleTitle>()
//!     .page(1, None)
//!     .await?;
//! assert_eq!(by_ada.items, [hello()]);
//! let newest = Article::list_all(&table).descending().project::<ArticleTitle>().all().await?;
//! assert_eq!(newest[0].title, "Again");
//!
//! let mut batch = BatchGet::new(&table);
//! let slot = batch.get_as::<ArticleTitle>(key)?;
//! assert_eq!(batch.send().await?.take(slot)?, Some(hello()));
//! # Ok(())
//! # }
//! ```
//!
//! A field the entity does not have, or of another type, is a compile error at the field:
//!
//! ```compile_fail,E0277
//! # use serde::{Deserialize, Serialize};
//! # use singletable::prelude::*;
//! # #[derive(Entity, Serialize, Deserialize)]
//! # #[entity(type = "ARTICLE", pk = "BLOG#<blog>", sk = "ARTICLE#<id>")]
//! # pub struct Article { pub blog: String, pub id: u32, pub title: String }
//! #[derive(Projection, Deserialize)]
//! #[projection(of = Article)]
//! pub struct ArticleTitle {
//!     pub id: u64, // error: the projection's field is `u64`, and the entity's field is `u32`
//!     pub title: String,
//! }
//! # fn main() {}
//! ```
//!
//! # Collections
//!
//! `#[derive(Collection)]` on a struct of a root entity and joined fields (`Vec<_>` or
//! `Option<_>` of entities or of other collections) gives `C::get(&table, root_key)`: one query
//! over the root's partition, following its pages, narrowed to the root's sort key when every
//! joined entity's sort key extends it. Each item is decoded once and joined in memory, by type
//! (every item of the joined entity) or by relation (`on(child_field = parent_field)`).
//! `order_by = field` sorts a joined field, `descending` reverses it. A joined entity whose
//! partition key template differs from the root's does not compile.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use singletable::prelude::*;
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(type = "ORGANIZATION", pk = "ORG#<organization_id>", sk = "#METADATA")]
//! pub struct Organization {
//!     #[entity(param = "organization_id")]
//!     pub id: String,
//!     pub name: String,
//! }
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(type = "TEAM", pk = "ORG#<organization_id>", sk = "TEAM#<id>")]
//! pub struct Team {
//!     pub organization_id: String,
//!     pub id: String,
//!     pub name: String,
//! }
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(type = "TEAM_MEMBER", pk = "ORG#<organization_id>", sk = "TEAM#<team_id>#MEMBER#<id>")]
//! pub struct TeamMember {
//!     pub organization_id: String,
//!     pub team_id: String,
//!     pub id: String,
//!     pub username: String,
//! }
//!
//! /// A team and its members. Joined by relation, so that it also nests under an organization,
//! /// where the query returns the members of every team.
//! #[derive(Collection, Debug)]
//! #[collection(root = Team)]
//! pub struct TeamWithMembers {
//!     pub team: Team,
//!     #[collection(on(team_id = id), order_by = username)]
//!     pub members: Vec<TeamMember>,
//! }
//!
//! /// An organization, its teams and each team's members.
//! #[derive(Collection, Debug)]
//! #[collection(root = Organization)]
//! pub struct OrganizationComplete {
//!     pub organization: Organization,
//!     #[collection(order_by = name)]
//!     pub teams: Vec<TeamWithMembers>,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let local = singletable_local::DynamoDbLocal::shared()?;
//! # let (client, table_name) = local.fresh_table("doc-collections").await?;
//! let table = Table::builder(client, table_name).build();
//! let acme = || "acme".to_owned();
//! Organization::create(&table, NewOrganization { id: acme(), name: "Acme".into() }).await?;
//! for (id, name) in [("web", "Web"), ("core", "Core")] {
//!     let team = NewTeam { organization_id: acme(), id: id.into(), name: name.into() };
//!     Team::create(&table, team).await?;
//! }
//! let members = [("core", "m1", "linus"), ("core", "m2", "ada"), ("web", "m3", "grace")];
//! for (team_id, id, username) in members {
//!     let member = NewTeamMember {
//!         organization_id: acme(),
//!         team_id: team_id.into(),
//!         id: id.into(),
//!         username: username.into(),
//!     };
//!     TeamMember::create(&table, member).await?;
//! }
//!
//! let core = TeamWithMembers::get(&table, TeamKey { organization_id: "acme", id: "core" })
//!     .await?
//!     .ok_or("team core exists")?;
//! let usernames: Vec<_> = core.members.iter().map(|m| m.username.as_str()).collect();
//! assert_eq!(usernames, ["ada", "linus"]);
//!
//! let org = OrganizationComplete::get(&table, OrganizationKey { organization_id: "acme" })
//!     .await?
//!     .ok_or("organization acme exists")?;
//! let teams: Vec<_> = org.teams.iter().map(|t| (t.team.name.as_str(), t.members.len())).collect();
//! assert_eq!(teams, [("Core", 2), ("Web", 1)]);
//!
//! // `None` when the root item does not exist.
//! let ops = TeamKey { organization_id: "acme", id: "ops" };
//! assert!(TeamWithMembers::get(&table, ops).await?.is_none());
//! # Ok(())
//! # }
//! ```
//!
//! # Tenancy
//!
//! An entity with an `#[entity(tenant)]` field is tenant-scoped: the field is filled from the
//! [tenant scope](tenant::scope) of the running task and is absent from the entity's key,
//! partition and create input, so code running for one tenant has no way to name another's
//! items. Outside a scope such an operation fails with [`Error::MissingTenant`] before any
//! request, unless a [resolver](TableBuilder::tenant_resolver) of the table supplies the tenant.
//! The scope is a tokio task-local: concurrent requests never see each other's tenant, and
//! [`tenant::spawn`] carries it into a spawned task.
//!
//! Keys and partitions are rendered, and the tenant read, when an operation runs rather than
//! when it is built: `tenant::scope(id, Note::get(&table, key))` and
//! `tenant::scope(id, Note::query(&table, partition).all())` both run in `id`'s scope.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use singletable::prelude::*;
//! use singletable::tenant;
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(type = "NOTE", pk = "TENANT#<tenant_id>#NOTES", sk = "NOTE#<id>")]
//! pub struct Note {
//!     #[entity(tenant)]
//!     pub tenant_id: String,
//!     pub id: String,
//!     pub body: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let local = singletable_local::DynamoDbLocal::shared()?;
//! # let client = local.client().await;
//! # let table_name = singletable_local::unique_table_name("doc-tenancy");
//! let table = Table::builder(client, table_name)
//!     // Lists one tenant's items of a type (`list_all`) by key.
//!     .tenant_type_index("TenantTypeIndex")
//!     // Refuses entities without a tenant field, so no shared data lands in this table.
//!     .require_tenant_scope()
//!     .build();
//! table.create_table().await?;
//!
//! // Two tenants, each with a note "1".
//! for tenant_id in ["acme", "globex"] {
//!     let new = NewNote { id: "1".into(), body: format!("{tenant_id}'s note") };
//!     tenant::scope(tenant_id, Note::create(&table, new)).await?;
//! }
//!
//! // The same key names the note of the scope's tenant.
//! let key = NoteKey { id: "1" };
//! let note = tenant::scope("globex", async { Note::get(&table, key).await }).await?;
//! assert_eq!(note.map(|n| n.body), Some("globex's note".to_owned()));
//! let notes = tenant::scope("acme", async { Note::list_all(&table).all().await }).await?;
//! assert_eq!(notes.len(), 1);
//!
//! // Outside a scope nothing is sent.
//! let err = Note::get(&table, key).await.unwrap_err();
//! assert!(matches!(err, Error::MissingTenant { entity: "NOTE" }));
//!
//! // A tenant id is checked like every key value.
//! let crafted = tenant::scope("acme#NOTES", async { Note::get(&table, key).await }).await;
//! assert!(matches!(crafted, Err(Error::InvalidKey { .. })));
//!
//! // An entity carrying another tenant is not written from this scope.
//! let mut note = tenant::scope("acme", async { Note::get(&table, key).await })
//!     .await?
//!     .ok_or("acme's note exists")?;
//! note.tenant_id = "globex".into();
//! let err = tenant::scope("acme", note.put(&table)).await.unwrap_err();
//! assert!(matches!(err, Error::TenantMismatch { .. }));
//!
//! // A spawned task keeps the scope when started with `tenant::spawn`.
//! let task = tenant::scope("acme", async { tenant::spawn(async { tenant::current() }) }).await;
//! assert_eq!(task.await?.map(|t| t.to_string()), Some("acme".to_owned()));
//! # Ok(())
//! # }
//! ```
//!
//! A tenant-scoped entity's secondary indexes must have the tenant in their `pk` (checked at
//! compile time), unless they are lookups (below), and [`Entity::list_all`] reads the tenant
//! type index, never the type index, which is not keyed by tenant. `examples/tenancy.rs` opens
//! the scope per HTTP request in a tower layer.
//!
//! ## Across tenants
//!
//! Work over more than one tenant runs in [`tenant::across_tenants`]`(reason, future)`, a scope
//! that names why it crosses tenants and logs it with tracing. It is the only way to read or
//! write more than one tenant's items: re-indexing ([`Backfill`]), counting by type, listing a
//! table's tenants and reading a change feed accept it, and refuse to run outside it (or in one
//! tenant's scope, work on that tenant only); every operation on one tenant's items still
//! fails with [`Error::MissingTenant`] in it. [`tenant::as_tenant`] opens one tenant's scope
//! for an operator or a job, and logs it.
//!
//! ## Lookups
//!
//! Some values arrive before the tenant is known: the hash of an API key, the email of a user
//! signing in. An index declared `lookup` has no tenant in its key; its query method needs no
//! scope and returns, for each item holding the value, a [`Found`]: the owning tenant and the
//! item's key, never its data (the request projects only keys and what tells a live item from a
//! deleted or expired one). Reading the item is an ordinary read in that tenant's scope.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use singletable::prelude::*;
//! use singletable::tenant;
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(
//!     type = "API_KEY",
//!     pk = "TENANT#<tenant_id>#KEY#<id>",
//!     sk = "#METADATA",
//!     index(name = "GSI1", query = "by_hash", pk = "APIKEY#<hash>", sk = "KEY#<id>", lookup)
//! )]
//! pub struct ApiKey {
//!     #[entity(tenant)]
//!     pub tenant_id: String,
//!     pub id: String,
//!     pub hash: String,
//!     pub scopes: Vec<String>,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let local = singletable_local::DynamoDbLocal::shared()?;
//! # let client = local.client().await;
//! # let table_name = singletable_local::unique_table_name("doc-lookups");
//! let table = Table::builder(client, table_name)
//!     .index("GSI1", "gsi1pk", "gsi1sk")
//!     .build();
//! table.create_table().await?;
//! let new = NewApiKey { id: "k1".into(), hash: "9f86d0".into(), scopes: vec!["read".into()] };
//! tenant::scope("acme", ApiKey::create(&table, new)).await?;
//!
//! // A request presents a key: which tenant is it of? No scope is needed to ask.
//! let found = ApiKey::by_hash(&table, ApiKeyByHash { hash: "9f86d0" })
//!     .one()
//!     .await?
//!     .ok_or("no such key")?;
//! let tenant_id = found.tenant.clone().ok_or("tenant-scoped")?;
//! assert_eq!(tenant_id.as_str(), "acme");
//!
//! // The key's data is read in its tenant's scope, and only there.
//! let key = tenant::scope(tenant_id, found.get(&table)).await?.ok_or("still there")?;
//! assert_eq!(key.scopes, ["read"]);
//! assert!(found.get(&table).await.is_err());
//! # Ok(())
//! # }
//! ```
//!
//! ## A tenant's lifecycle
//!
//! On the table's schema (`#[derive(TableSchema)]`, below) and its tenant type index:
//! [`TableSchema::tenants`] lists the tenants of a table (across tenants only);
//! [`TableSchema::delete_tenant`] deletes every item of the scope's tenant — its entities, their
//! unique guards and audit records — in pages, with a checkpoint to resume from and a count per
//! type, checking each key against the tenant's key space; [`TableSchema::export_tenant`] and
//! [`TableSchema::import_tenant`] write and read a tenant's items as JSON lines of DynamoDB JSON.
//!
//! ```no_run
//! # use singletable::{tenant, Table, TableSchema};
//! # async fn run<AppItem: TableSchema>(table: &Table) -> singletable::Result<()> {
//! let tenants = tenant::across_tenants("billing run", AppItem::tenants(table).send()).await?;
//! let mut file: Vec<u8> = Vec::new(); // or a file, an S3 upload: any `tokio::io::AsyncWrite`
//! let reason = "acme closed its account";
//! tenant::as_tenant("acme", reason, AppItem::export_tenant(table).send(&mut file)).await?;
//! let report = tenant::as_tenant("acme", reason, AppItem::delete_tenant(table).send()).await?;
//! println!("{} tenants; deleted {:?}", tenants.len(), report.deleted);
//! # Ok(())
//! # }
//! ```
//!
//! # Transactions and batches
//!
//! Writes take typed conditions on the stored item: `.condition(E::FIELDS.plan.eq(..))` on an
//! update, [`Entity::put_if`] and [`Entity::delete_if`]; a condition that does not hold gives
//! [`Error::ConditionFailed`] and writes nothing. An `#[entity(version)]` field gives optimistic
//! locking: every write checks and increments it, and `update(..).if_version(v)` writes only
//! over version `v` ([`Error::VersionConflict`] otherwise).
//!
//! A [`Transaction`] applies up to 100 creates, puts, updates, deletes and checks on any entities
//! of the table together, or none of them ([`Error::TransactionCanceled`], with the reason of each
//! failing action). It is refused before sending when it holds over 100 actions or two on one
//! item. [`BatchWrite`] and [`BatchGet`] move many items of any entities: chunked to DynamoDB's
//! limits (25 writes, 100 keys), sent concurrently, and retried with backoff; every chunk runs to
//! its end, and what is still unprocessed after the retries is reported by key in
//! [`Error::Unprocessed`]. A batch write takes no condition, so it writes only entities the
//! table declares with [`TableBuilder::entity`], whose key templates it checks cannot render
//! another declared entity's keys.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use singletable::prelude::*;
//! use singletable::{BatchGet, BatchWrite, Transaction, TransactionGet};
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(type = "TEAM", pk = "ORG#<organization_id>", sk = "TEAM#<id>")]
//! pub struct Team {
//!     pub organization_id: String,
//!     pub id: String,
//!     pub name: String,
//!     #[entity(autogen = count)]
//!     pub member_count: i64,
//!     #[entity(version)]
//!     pub version: u64,
//! }
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(type = "TEAM_MEMBER", pk = "ORG#<organization_id>", sk = "TEAM#<team_id>#MEMBER#<id>")]
//! pub struct TeamMember {
//!     pub organization_id: String,
//!     pub team_id: String,
//!     #[entity(autogen = uuid)]
//!     pub id: String,
//!     pub username: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let local = singletable_local::DynamoDbLocal::shared()?;
//! # let (client, table_name) = local.fresh_table("doc-writes").await?;
//! let table = Table::builder(client, table_name)
//!     .entity::<Team>()
//!     .entity::<TeamMember>()
//!     .build();
//! let new = NewTeam { organization_id: "acme".into(), id: "core".into(), name: "Core".into() };
//! let team = Team::create(&table, new).await?;
//! assert_eq!(team.version, 0);
//!
//! // A condition on the stored item.
//! let err = Team::update(&table, team.key())
//!     .set(Team::FIELDS.name, "Platform")
//!     .condition(Team::FIELDS.name.eq("Web"))
//!     .send()
//!     .await
//!     .unwrap_err();
//! assert!(matches!(err, Error::ConditionFailed { .. }));
//!
//! // Optimistic locking: the first writer at version 0 wins, the second is told.
//! let renamed = Team::update(&table, team.key()).set(Team::FIELDS.name, "Platform").if_version(0).send().await?;
//! assert_eq!(renamed.version, 1);
//! let late = Team::update(&table, team.key()).set(Team::FIELDS.name, "Infra").if_version(0).send().await;
//! assert!(matches!(late, Err(Error::VersionConflict { expected: 0, found: Some(1), .. })));
//!
//! // A member and the team's count change together.
//! let mut tx = Transaction::new(&table);
//! let ada = tx.create::<TeamMember>(NewTeamMember {
//!     organization_id: "acme".into(),
//!     team_id: "core".into(),
//!     username: "ada".into(),
//! })?;
//! tx.update(Team::update(&table, team.key()).add(Team::FIELDS.member_count, 1))?;
//! tx.send().await?;
//!
//! // One failing action cancels them all: here the count's condition fails, so the member is
//! // not created either.
//! let mut tx = Transaction::new(&table);
//! tx.create::<TeamMember>(NewTeamMember {
//!     organization_id: "acme".into(),
//!     team_id: "core".into(),
//!     username: "grace".into(),
//! })?;
//! let full = Team::FIELDS.member_count.lt(1);
//! tx.update(Team::update(&table, team.key()).add(Team::FIELDS.member_count, 1).condition(full))?;
//! let err = tx.send().await.unwrap_err();
//! assert!(matches!(&err, Error::TransactionCanceled { reasons } if reasons[0].index == 1));
//! let members = TeamMember::query(&table, TeamMemberPartition { organization_id: "acme" });
//! assert_eq!(members.all().await?.len(), 1);
//!
//! // Thirty members in two `BatchWriteItem` requests (25 and 5).
//! let mut batch = BatchWrite::new(&table);
//! for n in 0..30 {
//!     batch.put(&TeamMember {
//!         organization_id: "acme".into(),
//!         team_id: "web".into(),
//!         id: format!("w{n:02}"),
//!         username: format!("user{n}"),
//!     })?;
//! }
//! batch.send().await?;
//!
//! // Reads of several entity types by key; each slot gives back its own type.
//! let mut batch = BatchGet::new(&table);
//! let team_slot = batch.get::<Team>(team.key())?;
//! let ada_slot = batch.get::<TeamMember>(ada.key())?;
//! let ops_slot = batch.get::<Team>(TeamKey { organization_id: "acme", id: "ops" })?;
//! let mut got = batch.send().await?;
//! assert_eq!(got.take(team_slot)?.map(|t| t.member_count), Some(1));
//! assert_eq!(got.take(ada_slot)?.map(|m| m.username), Some("ada".to_owned()));
//! assert!(got.take(ops_slot)?.is_none());
//!
//! // Upsert: one request creates the item (with its generated fields) or updates it.
//! let ops = || NewTeam { organization_id: "acme".into(), id: "ops".into(), name: "Ops".into() };
//! let created = Team::upsert(&table, ops()).add(Team::FIELDS.member_count, 1).send().await?;
//! assert_eq!((created.member_count, created.version), (1, 1));
//! let updated = Team::upsert(&table, ops()).add(Team::FIELDS.member_count, 1).send().await?;
//! assert_eq!((updated.member_count, updated.version), (2, 2));
//!
//! // Several items of any types read at one point in time.
//! let mut read = TransactionGet::new(&table);
//! let core = read.get::<Team>(team.key())?;
//! let ops = read.get::<Team>(updated.key())?;
//! let mut got = read.send().await?;
//! let counts = (got.take(core)?.map(|t| t.member_count), got.take(ops)?.map(|t| t.member_count));
//! assert_eq!(counts, (Some(1), Some(2)));
//! # Ok(())
//! # }
//! ```
//!
//! [`Entity::upsert`] creates or updates in one `UpdateItem`: fields the builder sets are
//! written either way (`add` on a missing item starts from zero), the rest of its input and the
//! generated fields only on create. [`TransactionGet`] reads up to 100 items with
//! `TransactGetItems`. A batch writes an `#[entity(audit)]` entity's items each with its audit
//! record, in a transaction of its own, and a `unique` entity's with its guard items.
//!
//! A versioned entity is refused by [`BatchWrite::put`], which cannot check versions; a
//! transaction's puts and updates check them. [`Transaction::idempotency_token`] makes retries of
//! one transaction apply once. Updates also append to and prepend to lists (`append`,
//! `prepend`) and set an `Option` only where none is stored (`set_if_absent`). Item size
//! (400 KB) is checked before anything is sent.
//!
//! ## Unique fields
//!
//! `#[entity(unique)]` on a field outside the key (a user's email, an organization's slug) keeps
//! its value unique among the entity's items: within the tenant for a tenant-scoped entity,
//! across the table otherwise. The field's type is a key part, as key fields' types are, or an
//! `Option` of one (`None` holds no value); its value is checked as key values are (not empty,
//! no separator, no control character). Each value an item holds has a guard item, written,
//! moved and deleted in the same transaction as the item: a create, put, update or upsert that
//! would take a value another item holds fails with [`Error::Duplicate`] naming the field and
//! the value, and writes nothing. A value moved by an update or a put, or freed by a delete or
//! a purge, can be taken by another item as soon as the write returns. A soft-deleted item keeps
//! its values until it is purged, so that it can be restored.
//!
//! To follow its values, every write of such an entity is made from a consistent read of its
//! item, as a transaction held on the item still being as read (its `_revision` and unique
//! values), as an audited entity's writes are: a write costs a read and a transaction.
//! Transactions and batches write the guards of their actions too (a batch sends each write of
//! such an entity alone, as the single operation would).
//!
//! A guard item has the key `_UNIQUE#<TYPE>#<field>#<value>` (after `TENANT#<tenant>#` for a
//! tenant-scoped entity; `<field>` is the stored name) and the sort key `_UNIQUE`, `_type`
//! `_UNIQUE`, and `_owner`, the `{pk, sk}` of the item holding the value (see
//! [`item::UNIQUE_TYPE`]). Entity types cannot start with `_`, so no entity's write, which holds
//! only over its own type, touches a guard, and a batch refuses an entity whose templates could
//! render a guard's key.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use singletable::prelude::*;
//! use singletable::tenant;
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(type = "USER", pk = "TENANT#<tenant_id>#USER#<id>", sk = "#PROFILE")]
//! pub struct User {
//!     #[entity(tenant)]
//!     pub tenant_id: String,
//!     #[entity(autogen = uuid)]
//!     pub id: String,
//!     #[entity(unique)]
//!     pub email: String,
//!     #[entity(unique)]
//!     pub handle: Option<String>,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let local = singletable_local::DynamoDbLocal::shared()?;
//! # let (client, table_name) = local.fresh_table("doc-unique").await?;
//! let table = Table::builder(client, table_name).build();
//! tenant::scope("tenant-1", async {
//!     let new = || NewUser { email: "ada@example.com".into(), handle: None };
//!     let ada = User::create(&table, new()).await?;
//!
//!     // The email is taken in this tenant: nothing is written.
//!     let err = User::create(&table, new()).await.unwrap_err();
//!     assert!(matches!(err, Error::Duplicate { field: "email", .. }));
//!
//!     // Moving the value frees the old one in the same transaction.
//!     User::update(&table, ada.key())
//!         .set(User::FIELDS.email, "ada@lovelace.example")
//!         .send()
//!         .await?;
//!     User::create(&table, new()).await?;
//!     Ok::<_, Error>(())
//! })
//! .await?;
//!
//! // Another tenant may hold the same email.
//! tenant::scope("tenant-2", User::create(&table, NewUser {
//!     email: "ada@example.com".into(),
//!     handle: None,
//! }))
//! .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Lifecycle
//!
//! ## Time to live
//!
//! An `#[entity(ttl)]` field is the item's expiry: it is stored, as epoch seconds, in the
//! attribute named by [`TableBuilder::ttl_attribute`], which DynamoDB's time to live reads
//! ([`Table::create_table`] turns it on). DynamoDB deletes expired items some time after they
//! expire; until then gets, queries and collections treat them as absent. Setting the field in
//! an update moves the expiry; an update can still reach an expired item that DynamoDB has not
//! deleted yet.
//!
//! ## Soft delete
//!
//! With `#[entity(soft_delete)]`, `delete` marks the item (`_deleted_at`) instead of removing
//! it. Gets, queries, collections and updates then treat it as absent;
//! [`Entity::get_including_deleted`] and `include_deleted()` on a query still return it.
//! [`Entity::restore`] removes the mark, [`Entity::trash`] lists the deleted items of a
//! partition, [`Entity::purge`] removes an item for good and [`Entity::empty_trash`] purges the
//! items of a partition deleted before a cutoff.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use singletable::prelude::*;
//! use time::{Duration, OffsetDateTime};
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(type = "SESSION", pk = "USER#<user>", sk = "SESSION#<id>")]
//! pub struct Session {
//!     pub user: String,
//!     pub id: String,
//!     #[entity(ttl)]
//!     #[serde(with = "singletable::timestamp")]
//!     pub expires_at: OffsetDateTime,
//! }
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(type = "DOC", pk = "FOLDER#<folder>", sk = "DOC#<id>", soft_delete)]
//! pub struct Doc {
//!     pub folder: String,
//!     pub id: String,
//!     pub title: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let local = singletable_local::DynamoDbLocal::shared()?;
//! # let client = local.client().await;
//! # let table_name = singletable_local::unique_table_name("doc-lifecycle");
//! let table = Table::builder(client, table_name).ttl_attribute("expiresAt").build();
//! table.create_table().await?;
//!
//! let now = OffsetDateTime::now_utc();
//! let session = |id: &str, expires_at| NewSession {
//!     user: "ada".into(),
//!     id: id.into(),
//!     expires_at,
//! };
//! let live = Session::create(&table, session("live", now + Duration::hours(1))).await?;
//! let stale = Session::create(&table, session("stale", now - Duration::minutes(1))).await?;
//! assert!(Session::get(&table, live.key()).await?.is_some());
//! assert!(Session::get(&table, stale.key()).await?.is_none());
//! let sessions = Session::query(&table, SessionPartition { user: "ada" }).all().await?;
//! assert_eq!(sessions.len(), 1);
//! // An update of the field moves the expiry.
//! Session::update(&table, live.key()).set(Session::FIELDS.expires_at, now - Duration::seconds(1)).send().await?;
//! assert!(Session::get(&table, live.key()).await?.is_none());
//!
//! let folder = DocPartition { folder: "f" };
//! let new = NewDoc { folder: "f".into(), id: "a".into(), title: "Plan".into() };
//! let doc = Doc::create(&table, new).await?;
//! assert!(Doc::delete(&table, doc.key()).await?.is_some());
//! assert!(Doc::get(&table, doc.key()).await?.is_none());
//! assert!(Doc::get_including_deleted(&table, doc.key()).await?.is_some());
//! assert_eq!(Doc::trash(&table, folder).await?.len(), 1);
//!
//! let doc = Doc::restore(&table, doc.key()).await?;
//! assert_eq!(Doc::query(&table, folder).all().await?.len(), 1);
//!
//! Doc::delete(&table, doc.key()).await?;
//! let purged = Doc::empty_trash(&table, folder, OffsetDateTime::now_utc() + Duration::seconds(1))
//!     .await?;
//! assert_eq!(purged, 1);
//! assert!(Doc::get_including_deleted(&table, doc.key()).await?.is_none());
//! # Ok(())
//! # }
//! ```
//!
//! ## Audit trail
//!
//! With `#[entity(audit)]`, every create, update, put, delete, restore and purge of the entity
//! also writes an [`AuditRecord`], in the same `TransactWriteItems` as the change: a change
//! without its record, or a record without its change, cannot exist. A record names the action,
//! each changed field with its old and new value, the actor and request id the table's
//! [`audit_context`](TableBuilder::audit_context) provider returns, and the time. Records live
//! in a partition of their own per entity (`TENANT#<tenant>#<TYPE>#<id>`, sort key
//! `AUDIT#<timestamp>#<revision>`, as in dynamodb-provider's audit log), are listed newest first
//! by [`Entity::audit_trail`] or [`AuditTrail::by_id`], and expire after
//! [`audit_retention`](TableBuilder::audit_retention) through time to live.
//!
//! The old values come from a consistent read just before the write, and the write holds only
//! over the revision it read (an internal `_revision`); when another writer came between, the
//! write is read and made again. A failed condition writes neither the change nor a record.
//! Audited entities can be written in a [`Transaction`] (which then carries their records) and
//! in a [`BatchWrite`], which writes each of them through a transaction of its own.
//!
//! With a tenant type index, [`AuditLog::of_tenant`] reads every audit record of the scope's
//! tenant, newest first: by time range, actor, action and entity type, whole or by page.
//!
//! ```no_run
//! # use singletable::{tenant, AuditAction, AuditLog, Table};
//! # async fn run(table: &Table) -> singletable::Result<()> {
//! let to = singletable::autogen::now();
//! let from = to - time::Duration::days(30);
//! let page = tenant::scope(
//!     "acme",
//!     AuditLog::of_tenant(table)
//!         .between(from, to)
//!         .actor("user-7")
//!         .action(AuditAction::Update)
//!         .entity_type("PROJECT")
//!         .page(50, None),
//! )
//! .await?;
//! println!("{} records, more: {}", page.items.len(), page.cursor.is_some());
//! # Ok(())
//! # }
//! ```
//!
//! ## Schema versions
//!
//! `#[entity(schema = 2, upgrade = path::to::fn)]` declares the version of the item layout the
//! struct reads and writes, and a `fn(from: u32, item: &mut Item) -> Result<(), String>` that
//! brings a stored item of schema `from` to `from + 1`. Items record their schema (`_schema`,
//! absent for schema 1); reads upgrade older items before decoding, and refuse items of a newer
//! schema than the build knows. [`Backfill`] rewrites older items for good: a parallel scan,
//! bounded writes that change only what the upgrade changed (held to the old values, so a
//! concurrent write is never overwritten), a checkpoint file it resumes from, and counts of what
//! it scanned, upgraded and could not upgrade. The `singletable backfill` command runs it with a
//! progress line.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use singletable::prelude::*;
//! use singletable::{AuditAction, AuditContext};
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(type = "ACCOUNT", pk = "ACCOUNT#<id>", sk = "#ACCOUNT", audit, soft_delete)]
//! pub struct Account {
//!     pub id: String,
//!     pub plan: String,
//!     pub seats: i64,
//! }
//!
//! /// Schema 1 of `PROFILE` items had one `name`; schema 2 splits it.
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
//! #[entity(type = "PROFILE", pk = "PROFILE#<id>", sk = "#PROFILE", schema = 2, upgrade = split_name)]
//! pub struct Profile {
//!     pub id: String,
//!     pub first: String,
//!     pub last: String,
//! }
//!
//! fn split_name(from: u32, item: &mut singletable::item::Item) -> Result<(), String> {
//!     use aws_sdk_dynamodb::types::AttributeValue::S;
//!     let Some(S(name)) = item.remove("name") else {
//!         return Err(format!("a schema {from} profile without a `name`"));
//!     };
//!     let (first, last) = name.split_once(' ').unwrap_or((&name, ""));
//!     item.insert("first".into(), S(first.into()));
//!     item.insert("last".into(), S(last.into()));
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let local = singletable_local::DynamoDbLocal::shared()?;
//! # let client = local.client().await;
//! # let table_name = singletable_local::unique_table_name("doc-audit");
//! let table = Table::builder(client, table_name)
//!     .audit_context(|| AuditContext { actor: Some("alice".into()), request_id: None })
//!     .entity::<Account>()
//!     .build();
//! table.create_table().await?;
//!
//! let account = Account::create(&table, NewAccount { id: "a".into(), plan: "free".into(), seats: 1 }).await?;
//! Account::update(&table, account.key()).set(Account::FIELDS.plan, "pro").add(Account::FIELDS.seats, 4).send().await?;
//! Account::delete(&table, account.key()).await?;
//!
//! let trail = Account::audit_trail(&table, account.key()).all().await?;
//! let actions: Vec<_> = trail.iter().map(|r| r.action).collect();
//! assert_eq!(actions, [AuditAction::Delete, AuditAction::Update, AuditAction::Create]);
//! let update = &trail[1];
//! assert_eq!(update.changes.len(), 2, "plan and seats");
//! assert_eq!(update.changes["seats"].old_as::<i64>()?, Some(1));
//! assert_eq!(update.changes["seats"].new_as::<i64>()?, Some(5));
//! assert_eq!(update.actor.as_deref(), Some("alice"));
//! let trash = Account::trash(&table, AccountPartition { id: "a" }).await?;
//! assert_eq!(trash[0].deleted_by.as_deref(), Some("alice"));
//!
//! // A batch writes audited items each with its record.
//! let mut batch = singletable::BatchWrite::new(&table);
//! for id in ["b", "c"] {
//!     batch.put(&Account { id: id.into(), plan: "free".into(), seats: 1 })?;
//! }
//! batch.send().await?;
//! let trail = Account::audit_trail(&table, AccountKey { id: "c" }).all().await?;
//! assert_eq!(trail[0].action, AuditAction::Create);
//!
//! // A schema 1 item, as an older build wrote it.
//! # use aws_sdk_dynamodb::types::AttributeValue::S;
//! table.client().put_item().table_name(table.name())
//!     .item("pk", S("PROFILE#1".into())).item("sk", S("#PROFILE".into()))
//!     .item("_type", S("PROFILE".into()))
//!     .item("id", S("1".into())).item("name", S("Grace Hopper".into()))
//!     .send().await?;
//! let read = Profile::get(&table, ProfileKey { id: "1" }).await?;
//! assert_eq!(read.map(|p| p.last), Some("Hopper".to_owned()), "upgraded on read");
//!
//! let report = Profile::backfill(&table).segments(2).run().await?;
//! assert_eq!((report.progress.scanned, report.progress.upgraded), (1, 1));
//!
//! // A newer build writes schema 3, declared readable by schema 2 builds.
//! let nick = NewProfileV3 { id: "3".into(), first: "Ada".into(), last: "Lovelace".into(), nickname: Some("Countess".into()) };
//! ProfileV3::create(&table, nick).await?;
//! // The schema 2 build, still serving during the deploy, reads it...
//! let read = Profile::get(&table, ProfileKey { id: "3" }).await?.expect("stored");
//! assert_eq!(read.last, "Lovelace");
//! // ...and its puts, which would drop the nickname, are refused.
//! assert!(matches!(read.put(&table).await, Err(Error::ConditionFailed { .. })));
//! # Ok(())
//! # }
//!
//! /// Schema 3 adds a nickname that builds of schema 2 may ignore.
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(type = "PROFILE", pk = "PROFILE#<id>", sk = "#PROFILE", schema = 3, compatible = 2, upgrade = to_three)]
//! pub struct ProfileV3 {
//!     pub id: String,
//!     pub first: String,
//!     pub last: String,
//!     pub nickname: Option<String>,
//! }
//!
//! fn to_three(from: u32, item: &mut singletable::item::Item) -> Result<(), String> {
//!     match from {
//!         1 => split_name(from, item),
//!         _ => Ok(()), // schema 3 only added an optional field
//!     }
//! }
//! ```
//!
//! `compatible = M` on an entity of schema N says that builds which know schema M or later can
//! read its items as they are (the change since M only added fields they may ignore): items
//! record it (`_min_schema`), so during a rolling deploy an older build reads them, while an
//! item of a newer schema not declared compatible is still refused. A `put` replaces the whole
//! item, so a put from a build older than the item's schema is refused
//! ([`Error::ConditionFailed`]) instead of dropping what that build does not know; its updates,
//! which touch only their fields, go through.
//!
//! # Change feeds
//!
//! A table's DynamoDB stream, read through [`ChangeFeed`] with a [`Checkpoint`] to resume from
//! (one reader for the stream, or one per shard), or the records a Lambda function receives
//! ([`LambdaStreamEvent`]), decode into the table schema's enum as [`ChangeEvent`]s: the action
//! (created, updated, deleted, soft-deleted, restored), the key, the tenant, and the old and new
//! items. Reading them is cross-tenant work, in [`tenant::across_tenants`]. The
//! [`change_feed`] module has an example.
//!
//! # Errors
//!
//! Every operation returns [`Result`]; [`Error`] names the entity type, the item's key and the
//! cause. An item that does not decode gives [`Error::Decode`] naming the field, and a request
//! that would break one of DynamoDB's limits (item size, actions in a transaction) is refused
//! with [`Error::Limit`] before it is sent. The SDK client is at hand through [`Table::client`]
//! for requests this crate does not make.

#![warn(missing_docs)]

pub use singletable_core::*;
#[doc = include_str!("table_schema.md")]
pub use singletable_macros::TableSchema;
pub use singletable_macros::{Collection, Entity, Projection};

/// Everything an application needs in scope: `use singletable::prelude::*;`.
pub mod prelude {
    pub use singletable_core::TableSchema;
    pub use singletable_core::{
        Collection, Entity, EntityKey, Error, Joinable, Projection, QueryBuilder, Schema, Table,
    };
    pub use singletable_macros::TableSchema;
    pub use singletable_macros::{Collection, Entity, Projection};
}
