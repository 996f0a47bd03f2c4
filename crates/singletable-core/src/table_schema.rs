//! The table's schema: one declaration of the entities that share a table (ElectroDB's
//! service), from which their keys are checked against each other when the code compiles, any
//! item of the table decodes into a typed enum, every entity is declared on a table builder,
//! and the table's items are counted by type.
//!
//! `#[derive(TableSchema)]` implements [`TableSchema`] for an enum with one variant per entity:
//!
//! ```ignore
//! #[derive(TableSchema)]
//! enum AppItem {
//!     Organization(Organization),
//!     Team(Team),
//! }
//! ```
//!
//! For every pair of entities, the derive adds a `const` check that stops compilation when their
//! key templates can render the same primary key, or when they have the same `_type`: decided by
//! [`keys_may_collide_const`](singletable_keys::keys_may_collide_const), which gives the answer
//! [`TableBuilder::build`] gives at run time with the table's separator (a template's `#` stands
//! for any separator alike, unless a literal holds the separator, which no key can then render).
//!
//! Decoding dispatches on `_type` to the entity's own decode, with its guards: in a tenant
//! scope, an item of a tenant-scoped entity decodes only if it is the scope's tenant's.
//!
//! Counting scans the table in parallel segments through the request layer; [`CountByType`]
//! says what it counts, and in which tenant scope it may run.

use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;

use aws_sdk_dynamodb::types::AttributeValue;
use futures::{StreamExt, TryStreamExt};

use crate::error::{Error, ItemKey, Result};
use crate::item::{self, Item, DELETED_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::request;
use crate::request::{MAX_PARALLEL_SEGMENTS, MAX_SEGMENTS};
use crate::schema::Schema;
use crate::table::{Table, TableBuilder, TenantId};
use crate::Template;

/// DynamoDB's limit on the operands of one `IN`.
const MAX_IN_OPERANDS: usize = 100;

/// The entities sharing a table, as one enum with a variant per entity:
/// `#[derive(TableSchema)]` implements it (the `singletable` crate's `TableSchema` derive has a
/// complete example).
///
/// ```ignore
/// let table = AppItem::declare(Table::builder(client, "MultiTenantApp")).build();
/// let item: AppItem = AppItem::decode(raw_item, &table)?;
/// let counts = tenant::across_tenants("nightly metrics", AppItem::count_by_type(&table).send()).await?;
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a table schema",
    note = "derive it with `#[derive(TableSchema)]` on an enum with one variant per entity, such as `Team(Team)`"
)]
pub trait TableSchema: Sized + Send + 'static {
    /// The name of the enum, which errors name.
    const NAME: &'static str;
    /// The `_type` of every entity, in the order of the variants.
    const TYPES: &'static [&'static str];
    /// What the runtime needs to know of each entity, in the order of the variants.
    #[doc(hidden)]
    const MEMBERS: &'static [Member];

    /// Decodes any item of the table into the variant its `_type` names, as that entity's own
    /// reads decode it (tenant check included). An item of no entity of the schema is
    /// [`Error::UnknownType`], naming its `_type`.
    fn decode(item: Item, table: &Table) -> Result<Self>;

    /// The `_type` of this value's entity.
    fn entity_type(&self) -> &'static str;

    /// Declares every entity of the schema on `builder`, as
    /// [`TableBuilder::entity`] does for one.
    fn declare(builder: TableBuilder) -> TableBuilder {
        Self::MEMBERS
            .iter()
            .fold(builder, |builder, member| (member.declare)(builder))
    }

    /// Counts the items of each entity in the table, with a parallel scan that reads the whole
    /// table; see [`CountByType`] for what is counted in which tenant scope.
    fn count_by_type(table: &Table) -> CountByType<'_, Self> {
        CountByType::new(table)
    }

    /// Lists the tenants that have items of the schema in the table, from its tenant type
    /// index; cross-tenant work, run only in
    /// [`tenant::across_tenants`](crate::tenant::across_tenants). See [`Tenants`](crate::Tenants).
    ///
    /// ```no_run
    /// # use singletable_core::{tenant, Result, Table, TableSchema};
    /// # async fn run<AppItem: TableSchema>(table: &Table) -> Result<()> {
    /// let tenants = tenant::across_tenants("monthly billing", AppItem::tenants(table).send()).await?;
    /// # Ok(())
    /// # }
    /// ```
    fn tenants(table: &Table) -> crate::lifecycle::Tenants<'_, Self> {
        crate::lifecycle::Tenants::new(table)
    }

    /// Deletes every item of the scope's tenant — its entities of the schema, their unique
    /// guards and audit records — resumably. See [`DeleteTenant`](crate::DeleteTenant).
    ///
    /// ```no_run
    /// # use singletable_core::{tenant, Result, Table, TableSchema};
    /// # async fn run<AppItem: TableSchema>(table: &Table) -> Result<()> {
    /// let reason = "tenant-7 closed its account";
    /// let deleted = tenant::as_tenant("tenant-7", reason, AppItem::delete_tenant(table).send()).await?;
    /// # Ok(())
    /// # }
    /// ```
    fn delete_tenant(table: &Table) -> crate::lifecycle::DeleteTenant<'_, Self> {
        crate::lifecycle::DeleteTenant::new(table)
    }

    /// Exports every item of the scope's tenant as JSON lines of DynamoDB JSON. See
    /// [`ExportTenant`](crate::ExportTenant).
    fn export_tenant(table: &Table) -> crate::lifecycle::ExportTenant<'_, Self> {
        crate::lifecycle::ExportTenant::new(table)
    }

    /// Writes back the JSON lines of an [export](Self::export_tenant) in the scope's tenant,
    /// refusing any line that is not that tenant's item. See [`ImportTenant`](crate::ImportTenant).
    fn import_tenant(table: &Table) -> crate::lifecycle::ImportTenant<'_, Self> {
        crate::lifecycle::ImportTenant::new(table)
    }
}

/// One entity of a table schema, for the runtime: its type, tenancy, lifecycle and the generic
/// operations the schema's non-generic code calls.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Member {
    type_name: &'static str,
    partition_key: &'static Template<'static>,
    sort_key: &'static Template<'static>,
    tenant_field: Option<&'static str>,
    soft_delete: bool,
    declare: fn(TableBuilder) -> TableBuilder,
    admit: fn(&Table) -> Result<()>,
    tenant: fn(&Table) -> Result<TenantId>,
    owner: fn(&ItemKey, &Table) -> Result<TenantId>,
}

impl Member {
    /// The member for the entity `E`.
    pub const fn of<E: Schema>() -> Self {
        Member {
            type_name: E::TYPE,
            partition_key: E::PARTITION_KEY,
            sort_key: E::SORT_KEY,
            tenant_field: E::TENANT_FIELD,
            soft_delete: E::SOFT_DELETE,
            declare: TableBuilder::entity::<E>,
            admit: crate::tenant::admit::<E>,
            tenant: crate::tenant::required::<E>,
            owner: crate::tenant::of_key::<E>,
        }
    }

    /// The entity's `_type`.
    pub const fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The entity's partition key template.
    pub(crate) const fn partition_key(&self) -> &'static Template<'static> {
        self.partition_key
    }

    /// The entity's sort key template.
    pub(crate) const fn sort_key(&self) -> &'static Template<'static> {
        self.sort_key
    }

    /// The stored name of the entity's `#[entity(tenant)]` field, for a tenant-scoped entity.
    pub(crate) const fn tenant_field(&self) -> Option<&'static str> {
        self.tenant_field
    }

    /// Whether the entity is tenant-scoped.
    pub(crate) const fn is_tenant_scoped(&self) -> bool {
        self.tenant_field.is_some()
    }

    /// Refuses the entity on `table` where its own operations are refused (a table that holds
    /// only tenant-scoped entities).
    pub(crate) fn admits(&self, table: &Table) -> Result<()> {
        (self.admit)(table)
    }

    /// The tenant whose key space holds `key`, a key of the tenant-scoped entity: the value of
    /// its tenant placeholder, checked like every tenant.
    pub(crate) fn owner(&self, key: &ItemKey, table: &Table) -> Result<TenantId> {
        (self.owner)(key, table)
    }
}

/// The entity of variant `I` of a table schema, and the variant made of one. Generated code
/// names each entity type here only, so a type that is not an entity is reported once, at its
/// variant, and every use goes through this trait's bound.
#[doc(hidden)]
pub trait Variant<const I: usize>: TableSchema {
    /// The entity the variant holds.
    type Entity: Schema;

    /// The variant holding `entity`.
    fn wrap(entity: Self::Entity) -> Self;
}

impl Member {
    /// The member for the entity of variant `I` of `S`.
    pub const fn of_variant<S: Variant<I>, const I: usize>() -> Self {
        Member::of::<S::Entity>()
    }
}

/// Decodes `item` as the entity of variant `I` of `S`, into that variant.
#[doc(hidden)]
pub fn decode_variant<S: Variant<I>, const I: usize>(item: Item, table: &Table) -> Result<S> {
    item::decode::<S::Entity>(item, table).map(S::wrap)
}

/// The position in `types` of `item`'s `_type`, for generated decoding.
#[doc(hidden)]
pub fn type_index(item: &Item, types: &[&str]) -> Option<usize> {
    let found = item.get(TYPE_ATTRIBUTE)?.as_s().ok()?;
    types.iter().position(|t| t == found)
}

/// The error for an item of no entity of `S`.
#[doc(hidden)]
pub fn unknown_type<S: TableSchema>(item: &Item, table: &Table) -> Error {
    Error::UnknownType {
        schema: S::NAME,
        key: item::item_key_of(item, table),
        found: item.get(TYPE_ATTRIBUTE).map(|value| {
            value
                .as_s()
                .cloned()
                .unwrap_or_else(|_| format!("{value:?}"))
        }),
        expected: S::TYPES,
    }
}

/// Counts a table's items by entity type: [`TableSchema::count_by_type`].
///
/// The scan reads only what counting needs: `_type`, and what tells a live item of the tenant
/// from another (the soft-delete mark, the expiry, the key). It counts what reads return:
/// soft-deleted and expired items are left out, as are items of types outside the schema.
///
/// When an entity of the schema is tenant-scoped, counting is cross-tenant work:
///
/// - inside [`tenant::across_tenants`](crate::tenant::across_tenants), it counts every tenant's
///   items;
/// - in one tenant's scope (or with the tenant a table's resolver finds), it counts that tenant's
///   items of the tenant-scoped entities, and every item of the others: the scan keeps only
///   items whose tenant field names the tenant, and of those only items whose key lies in the
///   tenant's key space are counted, so no other tenant's item is ever counted;
/// - with neither, it fails with [`Error::MissingTenant`] before any request.
///
/// A schema with no tenant-scoped entity counts every item in any scope.
#[must_use = "a count does nothing until `send()` is awaited"]
pub struct CountByType<'t, S> {
    table: &'t Table,
    segments: u32,
    page_size: Option<i32>,
    schema: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for CountByType<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountByType")
            .field("table", &self.table.name())
            .field("segments", &self.segments)
            .field("page_size", &self.page_size)
            .finish()
    }
}

/// Whose items a count reads.
enum Tenancy {
    /// Every item: no entity is tenant-scoped, or the count runs across tenants.
    Every,
    /// The tenant-scoped entities' items of this tenant, and every item of the others.
    One(TenantId),
}

/// The request every segment sends, and how its items are counted.
struct Plan {
    members: &'static [Member],
    by_type: HashMap<&'static str, usize>,
    tenancy: Tenancy,
    filter: String,
    projection: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    now: i64,
}

impl<'t, S: TableSchema> CountByType<'t, S> {
    /// A count of `S`'s items on `table`, scanning 4 segments at once.
    pub fn new(table: &'t Table) -> Self {
        CountByType {
            table,
            segments: 4,
            page_size: None,
            schema: PhantomData,
        }
    }

    /// Scans with `segments` segments (1 to DynamoDB's 1,000,000), of which at most 64 are read
    /// at once.
    pub fn segments(mut self, segments: u32) -> Self {
        self.segments = segments.clamp(1, MAX_SEGMENTS);
        self
    }

    /// Reads at most `items` items per scan page (DynamoDB's 1 MB page otherwise).
    pub fn page_size(mut self, items: usize) -> Self {
        self.page_size = Some(i32::try_from(items.max(1)).unwrap_or(i32::MAX));
        self
    }

    /// Scans the table to its end and returns the number of items of every type of the schema
    /// (0 for a type with none).
    pub async fn send(self) -> Result<BTreeMap<&'static str, u64>> {
        let plan = self.plan()?;
        if plan.members.is_empty() {
            return Ok(BTreeMap::new());
        }
        let counts = futures::stream::iter(0..self.segments)
            .map(|segment| self.segment(segment, &plan))
            .buffer_unordered(MAX_PARALLEL_SEGMENTS)
            .try_fold(
                vec![0u64; plan.members.len()],
                |mut total, counts| async move {
                    total.iter_mut().zip(counts).for_each(|(t, c)| *t += c);
                    Ok(total)
                },
            )
            .await?;
        let mut out: BTreeMap<&'static str, u64> = BTreeMap::new();
        for (member, count) in plan.members.iter().zip(counts) {
            *out.entry(member.type_name).or_default() += count;
        }
        Ok(out)
    }

    /// Decides, before any request, whose items are read and how.
    fn plan(&self) -> Result<Plan> {
        let table = self.table;
        let members = S::MEMBERS;
        for member in members {
            (member.admit)(table)?;
        }
        let scoped = members.iter().find(|m| m.tenant_field.is_some());
        let tenancy = match (scoped, crate::tenant::crossing()) {
            (None, _) => Tenancy::Every,
            (Some(_), Some(reason)) => {
                tracing::info!(schema = S::NAME, %reason, "counting items across tenants");
                Tenancy::Every
            }
            (Some(member), None) => Tenancy::One((member.tenant)(table)?),
        };
        let mut names = HashMap::from([("#type".to_owned(), TYPE_ATTRIBUTE.to_owned())]);
        let mut values = HashMap::new();
        let mut projection = vec!["#type"];
        if members.iter().any(|m| m.soft_delete) {
            names.insert("#deleted".into(), DELETED_ATTRIBUTE.into());
            projection.push("#deleted");
        }
        if let Some(ttl) = table.ttl_attribute() {
            names.insert("#ttl".into(), ttl.into());
            projection.push("#ttl");
        }
        // The types counted whole, and the tenant-scoped ones counted for one tenant.
        let mut whole = Vec::new();
        let mut clauses = Vec::new();
        for (i, member) in members.iter().enumerate() {
            let value = format!(":t{i}");
            values.insert(value.clone(), AttributeValue::S(member.type_name.into()));
            match (&tenancy, member.tenant_field) {
                (Tenancy::One(_), Some(field)) => {
                    let name = format!("#f{i}");
                    names.insert(name.clone(), field.into());
                    clauses.push(format!("(#type = {value} AND {name} = :tenant)"));
                }
                _ => whole.push(value),
            }
        }
        for chunk in whole.chunks(MAX_IN_OPERANDS) {
            clauses.push(format!("#type IN ({})", chunk.join(", ")));
        }
        if let Tenancy::One(tenant) = &tenancy {
            values.insert(":tenant".into(), AttributeValue::S(tenant.to_string()));
            names.insert("#pk".into(), table.partition_key().into());
            names.insert("#sk".into(), table.sort_key().into());
            projection.extend(["#pk", "#sk"]);
        }
        Ok(Plan {
            members,
            by_type: members
                .iter()
                .enumerate()
                .rev()
                .map(|(i, m)| (m.type_name, i))
                .collect(),
            tenancy,
            filter: clauses.join(" OR "),
            projection: projection.join(", "),
            names,
            values,
            now: crate::autogen::now().unix_timestamp(),
        })
    }

    /// Counts one segment's items, by member.
    async fn segment(&self, segment: u32, plan: &Plan) -> Result<Vec<u64>> {
        let table = self.table;
        let mut counts = vec![0u64; plan.members.len()];
        let mut start = None;
        loop {
            let output = request::scan(table, S::NAME, |request| {
                request
                    .segment(segment as i32)
                    .total_segments(self.segments as i32)
                    .filter_expression(&plan.filter)
                    .projection_expression(&plan.projection)
                    .set_expression_attribute_names(Some(plan.names.clone()))
                    .set_expression_attribute_values(Some(plan.values.clone()))
                    .set_limit(self.page_size)
                    .set_exclusive_start_key(start)
            })
            .await?;
            for item in output.items.unwrap_or_default() {
                if let Some(i) = counted(&item, table, plan) {
                    counts[i] += 1;
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(counts);
            }
        }
    }
}

/// The member whose count `item` adds to, if any: a live item of a type of the schema (and,
/// counted for one tenant, in that tenant's key space).
fn counted(item: &Item, table: &Table, plan: &Plan) -> Option<usize> {
    let found = item.get(TYPE_ATTRIBUTE)?.as_s().ok()?;
    let i = *plan.by_type.get(found.as_str())?;
    let member = &plan.members[i];
    if (member.soft_delete && item::is_deleted(item)) || item::is_expired(item, table, plan.now) {
        return None;
    }
    if let (Tenancy::One(tenant), Some(_)) = (&plan.tenancy, member.tenant_field) {
        // The scan matched the tenant field; the key must say the same tenant.
        let owner = (member.owner)(&item::item_key_of(item, table), table).ok()?;
        if owner != *tenant {
            return None;
        }
    }
    Some(i)
}

/// Why two entities of a table schema cannot share it, found when the schema compiles.
#[doc(hidden)]
pub struct Clash {
    message: [u8; CLASH_CAPACITY],
    len: usize,
}

const CLASH_CAPACITY: usize = 2048;

impl Clash {
    const fn none() -> Self {
        Clash {
            message: [0; CLASH_CAPACITY],
            len: 0,
        }
    }

    /// Appends `text`, as much of it as fits, ending on a character boundary.
    const fn push(mut self, text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut end = bytes.len();
        if end > CLASH_CAPACITY - self.len {
            end = CLASH_CAPACITY - self.len;
            // A character that does not fit whole is left out.
            while end > 0 && (bytes[end] & 0xC0) == 0x80 {
                end -= 1;
            }
        }
        let mut i = 0;
        while i < end {
            self.message[self.len] = bytes[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    /// What is wrong, in words; `None` when the two entities can share the table.
    pub const fn message(&self) -> Option<&str> {
        if self.len == 0 {
            return None;
        }
        match std::str::from_utf8(self.message.split_at(self.len).0) {
            Ok(message) => Some(message),
            Err(_) => Some("two entities of the table schema can render the same key"),
        }
    }
}

/// Why the entities of `first` (named `a` in the schema) and `second` (named `b`) cannot share
/// a table: the same `_type`, or key templates that can render the same primary key.
///
/// It takes members rather than entity types so that a variant whose type is not an entity is
/// reported once, where its member is made, and not again for every pair.
#[doc(hidden)]
pub const fn clash(first: &Member, second: &Member, a: &str, b: &str) -> Clash {
    if singletable_keys::const_eq(first.type_name, second.type_name) {
        return Clash::none()
            .push("entities `")
            .push(a)
            .push("` and `")
            .push(b)
            .push("` both have `type = \"")
            .push(first.type_name)
            .push("\"`, so their items could not be told apart; give each entity of the table a type of its own");
    }
    let (a_keys, b_keys) = (
        (first.partition_key, first.sort_key),
        (second.partition_key, second.sort_key),
    );
    let separator = singletable_keys::DEFAULT_SEPARATOR;
    if !singletable_keys::keys_may_collide_const(a_keys, b_keys, separator) {
        return Clash::none();
    }
    Clash::none()
        .push("entities `")
        .push(a)
        .push("` and `")
        .push(b)
        .push("` can render the same primary key: `")
        .push(a)
        .push("` has pk `")
        .push(first.partition_key.source())
        .push("` and sk `")
        .push(first.sort_key.source())
        .push("`, `")
        .push(b)
        .push("` has pk `")
        .push(second.partition_key.source())
        .push("` and sk `")
        .push(second.sort_key.source())
        .push("`, so a write of one could replace an item of the other; make the literal text of one of their partition or sort keys differ from the other's")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_message_is_cut_at_a_character_boundary() {
        assert!(Clash::none().message().is_none());
        let even = Clash::none().push(&"é".repeat(CLASH_CAPACITY));
        assert_eq!(even.message().unwrap().len(), CLASH_CAPACITY);
        let odd = Clash::none().push("x").push(&"é".repeat(CLASH_CAPACITY));
        let message = odd.message().unwrap();
        assert_eq!(
            message.len(),
            CLASH_CAPACITY - 1,
            "the half `é` is left out"
        );
        assert!(message.starts_with("xé"));
    }

    /// A schema without entities, as no derive makes one.
    struct Empty;

    impl TableSchema for Empty {
        const NAME: &'static str = "Empty";
        const TYPES: &'static [&'static str] = &[];
        const MEMBERS: &'static [Member] = &[];

        fn decode(item: Item, table: &Table) -> Result<Self> {
            Err(unknown_type::<Self>(&item, table))
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
        Table::builder(aws_sdk_dynamodb::Client::from_conf(config), "offline").build()
    }

    #[tokio::test]
    async fn counting_is_send_and_a_schema_without_entities_sends_nothing() {
        fn send<T: Send>(future: T) -> T {
            future
        }
        let table = offline();
        let counts = send(Empty::count_by_type(&table).send()).await.unwrap();
        assert!(counts.is_empty());
    }
}
