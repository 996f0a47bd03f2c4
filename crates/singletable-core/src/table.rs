//! The table every entity lives in: its name, key attribute names, separator and indexes.

use std::fmt;
use std::sync::Arc;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::Intercept;
use aws_sdk_dynamodb::Client;

use singletable_keys::{Segment, Template};

use std::collections::HashMap;

use crate::error::{Error, ItemKey, Result};
use crate::retry::RetryPolicy;
use crate::schema::{unique_segments, Schema, UNIQUE_TYPE};

/// Who is writing: what the table's audit context provider returns for each audited write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditContext {
    /// The user or service making the change.
    pub actor: Option<String>,
    /// The request the change belongs to.
    pub request_id: Option<String>,
}

/// One DynamoDB table shared by every entity. Cheap to clone.
///
/// ```no_run
/// # async fn f(client: aws_sdk_dynamodb::Client) {
/// use singletable_core::Table;
///
/// let table = Table::builder(client, "MultiTenantApp")
///     .type_index("TypeIndex")
///     .build();
/// assert_eq!(table.name(), "MultiTenantApp");
/// assert_eq!(table.partition_key(), "pk");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Table {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    name: String,
    partition_key: String,
    sort_key: String,
    separator: char,
    type_index: Option<String>,
    tenant_type_index: Option<String>,
    require_tenant_scope: bool,
    ttl_attribute: Option<String>,
    tenant_resolvers: Vec<TenantResolver>,
    indexes: Vec<Index>,
    cursor_secret: Secret,
    audit_context: Option<ContextProvider>,
    audit_retention: Option<time::Duration>,
    retry: RetryPolicy,
    entities: Vec<Declared>,
    turns: ItemTurns,
}

/// One lock per item that this process is writing with an audit record, made on demand and
/// dropped when its last writer is done.
#[derive(Debug, Default)]
struct ItemTurns(std::sync::Mutex<HashMap<ItemKey, Arc<tokio::sync::Mutex<()>>>>);

/// A writer's turn on one item; the next writer's turn starts when it is dropped.
pub(crate) struct ItemTurn<'t> {
    turns: &'t ItemTurns,
    key: ItemKey,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for ItemTurn<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut turns = self.turns.lock();
        // Only the map holds the lock now: no writer waits for it.
        if turns
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            turns.remove(&self.key);
        }
    }
}

impl ItemTurns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ItemKey, Arc<tokio::sync::Mutex<()>>>> {
        // The map is only read and written in place, never left half-changed by a panic.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An entity declared on the table with [`TableBuilder::entity`], and the declared entities
/// whose keys its templates may also render.
#[derive(Debug)]
struct Declared {
    name: &'static str,
    partition_key: &'static Template<'static>,
    sort_key: &'static Template<'static>,
    /// Its unique fields' stored names, and whether it is tenant-scoped: where its guards live.
    unique: &'static [&'static str],
    tenant_scoped: bool,
    collides_with: Vec<&'static str>,
}

/// A global secondary index entities can declare keys for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Index {
    /// The index name.
    pub name: String,
    /// Its partition key attribute.
    pub partition_key: String,
    /// Its sort key attribute.
    pub sort_key: String,
}

/// The id of a tenant, as it appears in keys.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TenantId(Arc<str>);

impl TenantId {
    /// A tenant id. It is checked like every key value (not empty, no separator, no control
    /// character) when an operation renders it.
    pub fn new(id: impl AsRef<str>) -> Self {
        TenantId(Arc::from(id.as_ref()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for TenantId {
    fn from(id: &str) -> Self {
        TenantId::new(id)
    }
}

impl From<String> for TenantId {
    fn from(id: String) -> Self {
        TenantId(Arc::from(id))
    }
}

/// A function that finds the tenant when no tenant scope is set.
#[derive(Clone)]
struct TenantResolver(Arc<dyn Fn() -> Option<TenantId> + Send + Sync>);

impl std::fmt::Debug for TenantResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TenantResolver")
    }
}

/// A function that tells who is writing, for audit records and `_deleted_by`.
#[derive(Clone)]
struct ContextProvider(Arc<dyn Fn() -> AuditContext + Send + Sync>);

impl std::fmt::Debug for ContextProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContextProvider")
    }
}

/// Bytes that never show in `Debug` output or logs.
#[derive(Default)]
struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<none>"
        } else {
            "<redacted>"
        })
    }
}

impl Table {
    /// Starts a table description with the defaults: keys `pk`/`sk`, separator `#`, no type index.
    pub fn builder(client: Client, name: impl Into<String>) -> TableBuilder {
        TableBuilder {
            inner: Inner {
                client,
                name: name.into(),
                partition_key: "pk".into(),
                sort_key: "sk".into(),
                separator: singletable_keys::DEFAULT_SEPARATOR,
                type_index: None,
                tenant_type_index: None,
                require_tenant_scope: false,
                ttl_attribute: None,
                tenant_resolvers: Vec::new(),
                indexes: Vec::new(),
                cursor_secret: Secret::default(),
                audit_context: None,
                audit_retention: None,
                retry: RetryPolicy::default(),
                entities: Vec::new(),
                turns: ItemTurns::default(),
            },
        }
    }

    /// How the table retries requests that failed for a passing reason.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }

    /// The SDK client, for requests this crate does not make. Its own retries are off: the
    /// table's [`RetryPolicy`] retries the requests this crate makes.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The table name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Name of the partition key attribute.
    pub fn partition_key(&self) -> &str {
        &self.inner.partition_key
    }

    /// Name of the sort key attribute.
    pub fn sort_key(&self) -> &str {
        &self.inner.sort_key
    }

    /// The character that joins key parts.
    pub fn separator(&self) -> char {
        self.inner.separator
    }

    /// Name of the global secondary index on `_type`/`_timestamp`, if the table has one.
    pub fn type_index(&self) -> Option<&str> {
        self.inner.type_index.as_deref()
    }

    /// Name of the global secondary index on `_tenant_type`/`_timestamp`, which lists a
    /// tenant-scoped entity's items of one tenant, if the table has one.
    pub fn tenant_type_index(&self) -> Option<&str> {
        self.inner.tenant_type_index.as_deref()
    }

    /// Whether every entity used with this table must be tenant-scoped
    /// ([`TableBuilder::require_tenant_scope`]).
    pub fn requires_tenant_scope(&self) -> bool {
        self.inner.require_tenant_scope
    }

    /// Refuses batch writes of `E` unless the table declares it and no other declared entity's
    /// key templates can render the same key: a batch write has no condition to stop it from
    /// replacing or deleting another type's item.
    pub(crate) fn check_batch_writes<E: Schema>(&self) -> Result<()> {
        let refuse = |reason: String| {
            Err(Error::InvalidRequest {
                entity: E::TYPE,
                reason,
            })
        };
        let declared = self.inner.entities.iter().find(|e| {
            e.name == E::TYPE && e.partition_key == E::PARTITION_KEY && e.sort_key == E::SORT_KEY
        });
        match declared {
            None => refuse(format!(
                "a batch writes without conditions, so it writes only entities the table \
                 declares; declare it with `Table::builder(..).entity::<{}>()` (with every \
                 other entity of the table)",
                std::any::type_name::<E>()
                    .rsplit("::")
                    .next()
                    .unwrap_or(E::TYPE)
            )),
            Some(declared) if !declared.collides_with.is_empty() => refuse(format!(
                "its key templates may render the same key as {}, so a batch write could \
                 replace or delete such an item; write it one by one or in a transaction",
                declared.collides_with.join(", ")
            )),
            Some(_) => Ok(()),
        }
    }

    /// Waits for this process's turn to write the item at `key` with its audit record.
    pub(crate) async fn item_turn(&self, key: &ItemKey) -> ItemTurn<'_> {
        let turns = &self.inner.turns;
        let lock = turns.lock().entry(key.clone()).or_default().clone();
        ItemTurn {
            turns,
            key: key.clone(),
            guard: Some(lock.lock_owned().await),
        }
    }

    /// The first tenant the table's resolvers find.
    pub(crate) fn resolve_tenant(&self) -> Option<TenantId> {
        self.inner
            .tenant_resolvers
            .iter()
            .find_map(|resolve| (resolve.0)())
    }

    /// The table's time-to-live attribute (epoch seconds), if it has one.
    pub fn ttl_attribute(&self) -> Option<&str> {
        self.inner.ttl_attribute.as_deref()
    }

    /// The secondary indexes entities can declare keys for.
    pub fn indexes(&self) -> &[Index] {
        &self.inner.indexes
    }

    /// The index called `name`.
    pub fn index(&self, name: &str) -> Option<&Index> {
        self.inner.indexes.iter().find(|index| index.name == name)
    }

    pub(crate) fn cursor_secret(&self) -> &[u8] {
        &self.inner.cursor_secret.0
    }

    /// Who is writing now, as the table's audit context provider tells.
    pub fn audit_context(&self) -> AuditContext {
        self.inner
            .audit_context
            .as_ref()
            .map(|provide| (provide.0)())
            .unwrap_or_default()
    }

    /// How long audit records are kept before time to live removes them, if set.
    pub fn audit_retention(&self) -> Option<time::Duration> {
        self.inner.audit_retention
    }
}

/// Builds a [`Table`].
#[derive(Debug)]
pub struct TableBuilder {
    inner: Inner,
}

impl TableBuilder {
    /// Name of the partition key attribute (default `pk`).
    pub fn partition_key(mut self, name: impl Into<String>) -> Self {
        self.inner.partition_key = name.into();
        self
    }

    /// Name of the sort key attribute (default `sk`).
    pub fn sort_key(mut self, name: impl Into<String>) -> Self {
        self.inner.sort_key = name.into();
        self
    }

    /// The character that joins key parts (default `#`). Key values may never contain it.
    pub fn separator(mut self, separator: char) -> Self {
        self.inner.separator = separator;
        self
    }

    /// The global secondary index keyed on `_type` (hash) and `_timestamp` (range).
    pub fn type_index(mut self, name: impl Into<String>) -> Self {
        self.inner.type_index = Some(name.into());
        self
    }

    /// The global secondary index keyed on `_tenant_type` (hash: the tenant and the entity type)
    /// and `_timestamp` (range). Items of tenant-scoped entities then carry `_tenant_type`, and
    /// `list_all` lists one tenant's items by key, never reading another tenant's.
    pub fn tenant_type_index(mut self, name: impl Into<String>) -> Self {
        self.inner.tenant_type_index = Some(name.into());
        self
    }

    /// A global secondary index with string keys `partition_key`/`sort_key`, which entities
    /// fill with `#[entity(index(name = "...", pk = "...", sk = "..."))]`.
    pub fn index(
        mut self,
        name: impl Into<String>,
        partition_key: impl Into<String>,
        sort_key: impl Into<String>,
    ) -> Self {
        self.inner.indexes.push(Index {
            name: name.into(),
            partition_key: partition_key.into(),
            sort_key: sort_key.into(),
        });
        self
    }

    /// Makes every entity used with this table tenant-scoped: an operation on an entity without
    /// an `#[entity(tenant)]` field fails before any request, so no shared data slips into a
    /// table that must keep tenants apart.
    pub fn require_tenant_scope(mut self) -> Self {
        self.inner.require_tenant_scope = true;
        self
    }

    /// Adds a resolver of the tenant, asked (after those added before it) when an operation on
    /// a tenant-scoped entity runs outside a tenant scope. A scope always wins.
    pub fn tenant_resolver(
        mut self,
        resolve: impl Fn() -> Option<TenantId> + Send + Sync + 'static,
    ) -> Self {
        self.inner
            .tenant_resolvers
            .push(TenantResolver(Arc::new(resolve)));
        self
    }

    /// The attribute DynamoDB's time to live reads (epoch seconds), which `#[entity(ttl)]`
    /// fields fill. `create_table` turns time to live on for it.
    pub fn ttl_attribute(mut self, name: impl Into<String>) -> Self {
        self.inner.ttl_attribute = Some(name.into());
        self
    }

    /// The key that signs page cursors, so that a cursor handed to a client comes back unaltered.
    /// Without one, cursors still only resume their own query within its partition, but a
    /// client that knows the format could forge a position inside that partition. Use the same
    /// secret in every process that serves the same cursors.
    pub fn cursor_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.inner.cursor_secret = Secret(secret.into());
        self
    }

    /// Tells who is writing: the actor and request id that audit records carry (and that
    /// soft delete stores as `_deleted_by`). Called once per audited write; read a task-local,
    /// request extension or the like.
    pub fn audit_context(
        mut self,
        provide: impl Fn() -> AuditContext + Send + Sync + 'static,
    ) -> Self {
        self.inner.audit_context = Some(ContextProvider(Arc::new(provide)));
        self
    }

    /// Keeps audit records for `retention`, after which DynamoDB's time to live removes them.
    /// Needs the table's [`ttl_attribute`](Self::ttl_attribute).
    pub fn audit_retention(mut self, retention: time::Duration) -> Self {
        self.inner.audit_retention = Some(retention);
        self
    }

    /// Declares an entity stored in this table. Batch writes need it: `BatchWriteItem` takes no
    /// condition, so a batch may write an entity only when its key templates cannot render the
    /// key of another declared entity, which [`build`](Self::build) checks from the templates.
    pub fn entity<E: Schema>(mut self) -> Self {
        let same = |e: &Declared| {
            e.name == E::TYPE && e.partition_key == E::PARTITION_KEY && e.sort_key == E::SORT_KEY
        };
        if !self.inner.entities.iter().any(same) {
            self.inner.entities.push(Declared {
                name: E::TYPE,
                partition_key: E::PARTITION_KEY,
                sort_key: E::SORT_KEY,
                unique: E::UNIQUE,
                tenant_scoped: E::TENANT_FIELD.is_some(),
                collides_with: Vec::new(),
            });
        }
        self
    }

    /// How requests that fail for a passing reason are retried (default:
    /// [`RetryPolicy::default`]). The table's client is rebuilt with the SDK's own retries off,
    /// so the policy's attempts are the only ones.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.inner.retry = policy;
        self
    }

    /// Finishes the description.
    pub fn build(mut self) -> Table {
        // One place retries: the table's policy, which also knows when a failed attempt may
        // have been applied. SDK retries underneath would multiply attempts and hide that.
        let config = self.inner.client.config();
        // A client of another table carries it already.
        let keeps_bodies = config
            .interceptors()
            .any(|interceptor| interceptor.name() == crate::sent_body::KeepBody.name());
        let mut config = config.to_builder().retry_config(RetryConfig::disabled());
        if !keeps_bodies {
            config = config.interceptor(crate::sent_body::KeepBody);
        }
        let config = config.build();
        self.inner.client = Client::from_conf(config);
        let separator = self.inner.separator;
        let keys: Vec<_> = self
            .inner
            .entities
            .iter()
            .map(|e| (e.name, e.partition_key, e.sort_key))
            .collect();
        for declared in &mut self.inner.entities {
            declared.collides_with = keys
                .iter()
                .filter(|(name, pk, sk)| {
                    *name != declared.name
                        && singletable_keys::keys_may_collide(
                            (declared.partition_key, declared.sort_key),
                            (pk, sk),
                            separator,
                        )
                })
                .map(|(name, _, _)| *name)
                .collect();
        }
        // The guards of unique values are items too: an entity whose keys could render a
        // guard's key must not be batch-written either.
        let guard_sort = [Segment::Literal(UNIQUE_TYPE)];
        let guard_sort = Template::from_segments(UNIQUE_TYPE, &guard_sort);
        let guards: Vec<Vec<Segment<'static>>> = self
            .inner
            .entities
            .iter()
            .flat_map(|e| {
                e.unique
                    .iter()
                    .map(|field| unique_segments(e.name, field, e.tenant_scoped))
            })
            .collect();
        for declared in &mut self.inner.entities {
            let renders_a_guard = guards.iter().any(|segments| {
                singletable_keys::keys_may_collide(
                    (declared.partition_key, declared.sort_key),
                    (&Template::from_segments("", segments), &guard_sort),
                    separator,
                )
            });
            if renders_a_guard {
                declared
                    .collides_with
                    .push("the guards of unique values (`_UNIQUE`)");
            }
        }
        Table {
            inner: Arc::new(self.inner),
        }
    }
}
