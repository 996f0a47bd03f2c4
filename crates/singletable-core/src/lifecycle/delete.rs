//! Deleting every item of one tenant, resumably, with a count per type.

use super::*;

/// A key as a checkpoint stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct StoredKey {
    pk: String,
    sk: String,
}

impl From<&ItemKey> for StoredKey {
    fn from(key: &ItemKey) -> Self {
        StoredKey {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
        }
    }
}

impl From<&StoredKey> for ItemKey {
    fn from(key: &StoredKey) -> Self {
        ItemKey {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
        }
    }
}

/// The saved position of a tenant's deletion, handed to [`DeleteTenant::on_progress`] after
/// every step and taken back by [`DeleteTenant::resume`]. Serialize it (it implements
/// `serde::Serialize` and `Deserialize`) to resume in another process.
///
/// For each kind of the tenant's items it holds the counts so far, where the index partition's
/// reading goes on, and the keys of the page under way: read and checked, not yet known to be
/// deleted. A resumed deletion deletes those first, and counts them then, so every key is counted
/// once over all the runs of a deletion, even when the index (which is eventually consistent)
/// still lists an item that was deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantCheckpoint {
    table: String,
    schema: String,
    tenant: String,
    types: BTreeMap<String, TypeCheckpoint>,
}

/// The progress of a tenant's deletion over one kind of its items (one `_type`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCheckpoint {
    deleted: u64,
    skipped: u64,
    /// Whether the index partition was read to its end.
    read_all: bool,
    /// Where reading the index partition goes on (its `LastEvaluatedKey`, string attributes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<BTreeMap<String, String>>,
    /// Keys read and checked whose deletion is not confirmed yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<StoredKey>,
}

impl TenantCheckpoint {
    /// The tenant whose items are deleted.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The table the items are deleted from.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The progress over each kind of the tenant's items, by `_type`.
    pub fn types(&self) -> impl Iterator<Item = (&str, &TypeCheckpoint)> {
        self.types
            .iter()
            .map(|(name, progress)| (name.as_str(), progress))
    }

    /// The items deleted so far, over every kind.
    pub fn deleted(&self) -> u64 {
        self.types.values().map(|progress| progress.deleted).sum()
    }

    /// Whether every kind of the tenant's items is done.
    pub fn is_done(&self) -> bool {
        self.types.values().all(TypeCheckpoint::is_done)
    }
}

impl TypeCheckpoint {
    /// Items of the kind whose deletion was confirmed (by every run of the deletion so far).
    pub fn deleted(&self) -> u64 {
        self.deleted
    }

    /// Index entries left alone because the item is not in the tenant's key space.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Whether the index partition was read to its end and everything read was deleted.
    pub fn is_done(&self) -> bool {
        self.read_all && self.pending.is_empty()
    }
}

/// What a finished tenant deletion did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TenantDeletion {
    /// The tenant whose items were deleted.
    pub tenant: TenantId,
    /// The items deleted, by `_type` (every kind of the tenant's items, 0 where none): each
    /// key the index listed for the tenant, that lies in its key space, and whose delete
    /// DynamoDB confirmed, counted once over every run of the deletion (a resumed one counts on
    /// from its checkpoint). `BatchWriteItem` does not tell whether an item was still there: an
    /// item someone else deleted between the read and the delete counts too.
    pub deleted: BTreeMap<&'static str, u64>,
    /// Index entries left alone, by `_type`: their key or attributes say another tenant (or
    /// another type), whatever their `_tenant_type` says.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Whether the deletion resumed from a checkpoint.
    pub resumed: bool,
}

/// Called with the checkpoint after every step of a deletion.
type CheckpointFn = Arc<dyn Fn(&TenantCheckpoint) + Send + Sync>;

/// Deletes every item of the scope's tenant: [`TableSchema::delete_tenant`].
///
/// Every kind of the tenant's items (each tenant-scoped entity of the schema, `_UNIQUE`
/// guards, `AUDIT_LOG` records; soft-deleted and expired items too) is read from its partition
/// of the tenant type index, keys only, a page at a time, and every key that lies in the
/// tenant's key space is deleted with `BatchWriteItem` in chunks of 25, retried as a
/// [`BatchWrite`](crate::BatchWrite) retries (the table's retry policy per request, unprocessed
/// items with backoff). Up to 8 kinds are worked through at once. The deletes are raw deletes by
/// key: no audit record is written, no guard is freed one by one (the guards are deleted with
/// the rest), and soft delete does not apply.
///
/// It runs in the tenant's scope only ([`tenant::scope`](crate::tenant::scope) or
/// [`tenant::as_tenant`](crate::tenant::as_tenant)); elsewhere, across tenants too, it fails with
/// [`Error::MissingTenant`] before any request.
///
/// It is resumable: [`on_progress`](Self::on_progress) receives a [`TenantCheckpoint`] after
/// every page read and every page deleted; hand the last one to [`resume`](Self::resume) to go
/// on where a stopped run was (a failed request, a crash, a dropped future). A checkpoint of
/// another tenant, table or schema is refused.
///
/// Items written to the tenant while it is deleted may be left; run it again.
///
/// ```no_run
/// # use std::sync::{Arc, Mutex};
/// # use singletable_core::{tenant, Result, Table, TableSchema, TenantCheckpoint};
/// # async fn run<AppItem: TableSchema>(table: &Table, saved: Option<TenantCheckpoint>) -> Result<()> {
/// let last = Arc::new(Mutex::new(None));
/// let keep = last.clone();
/// let mut deletion = AppItem::delete_tenant(table)
///     .on_progress(move |checkpoint| *keep.lock().unwrap() = Some(checkpoint.clone()));
/// if let Some(checkpoint) = saved {
///     deletion = deletion.resume(checkpoint);
/// }
/// let report = tenant::as_tenant("tenant-7", "account closed", deletion.send()).await?;
/// println!("deleted {:?}", report.deleted);
/// # Ok(())
/// # }
/// ```
#[must_use = "a deletion does nothing until `send()` is awaited"]
pub struct DeleteTenant<'t, S> {
    table: &'t Table,
    page_size: i32,
    effort: Effort,
    resume: Option<TenantCheckpoint>,
    on_progress: Option<CheckpointFn>,
    schema: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for DeleteTenant<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeleteTenant")
            .field("table", &self.table.name())
            .field("page_size", &self.page_size)
            .field("effort", &self.effort)
            .field(
                "resume",
                &self.resume.as_ref().map(TenantCheckpoint::tenant),
            )
            .finish_non_exhaustive()
    }
}

/// What the kinds of a deletion share while they run.
struct Shared {
    checkpoint: Mutex<TenantCheckpoint>,
    on_progress: Option<CheckpointFn>,
}

impl Shared {
    /// Reads the progress of `type_name`.
    fn read<T>(&self, type_name: &str, read: impl FnOnce(&TypeCheckpoint) -> T) -> T {
        let checkpoint = lock(&self.checkpoint);
        read(
            checkpoint
                .types
                .get(type_name)
                .unwrap_or(&TypeCheckpoint::default()),
        )
    }

    /// Changes the progress of `type_name` and hands the checkpoint on. The callback runs under
    /// the lock, so checkpoints reach it in the order they were made.
    fn update(&self, type_name: &str, change: impl FnOnce(&mut TypeCheckpoint)) {
        let mut checkpoint = lock(&self.checkpoint);
        change(checkpoint.types.entry(type_name.to_owned()).or_default());
        if let Some(report) = &self.on_progress {
            report(&checkpoint);
        }
    }
}

impl<'t, S: TableSchema> DeleteTenant<'t, S> {
    /// A deletion of the scope's tenant's items of `S` on `table`: pages of 500 index entries,
    /// 4 `BatchWriteItem` requests at once per kind, from the start.
    pub fn new(table: &'t Table) -> Self {
        DeleteTenant {
            table,
            page_size: DEFAULT_PAGE_SIZE,
            effort: Effort::default(),
            resume: None,
            on_progress: None,
            schema: PhantomData,
        }
    }

    /// Reads at most `entries` index entries per page (default 500); a checkpoint holds the
    /// keys of one page per kind.
    pub fn page_size(mut self, entries: usize) -> Self {
        self.page_size = i32::try_from(entries.max(1)).unwrap_or(i32::MAX);
        self
    }

    /// Sends at most `requests` `BatchWriteItem` requests at once per kind (default 4).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.effort.concurrency = requests.max(1);
        self
    }

    /// Stops after `attempts` rounds in a row (default 10) in which DynamoDB deleted none of a
    /// chunk's items, as [`BatchWrite::max_attempts`](crate::BatchWrite::max_attempts).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.effort.attempts = attempts.max(1);
        self
    }

    /// Calls `report` with the checkpoint after every page read and every page deleted (and
    /// when a step fails, with what it got done). It runs while the deletion waits: keep it
    /// short (store the checkpoint, or send it to a task that saves it).
    pub fn on_progress(
        mut self,
        report: impl Fn(&TenantCheckpoint) + Send + Sync + 'static,
    ) -> Self {
        self.on_progress = Some(Arc::new(report));
        self
    }

    /// Goes on from `checkpoint`, the last one a stopped deletion of the same tenant handed to
    /// [`on_progress`](Self::on_progress). `send()` refuses a checkpoint of another tenant,
    /// table or schema, and one whose keys are not in the tenant's key space.
    pub fn resume(mut self, checkpoint: TenantCheckpoint) -> Self {
        self.resume = Some(checkpoint);
        self
    }

    /// Deletes the tenant's items to the end. Every kind runs to its end or its first failure;
    /// then the first failure is returned ([`Error::Unprocessed`] names the keys not deleted),
    /// and the last checkpoint handed to [`on_progress`](Self::on_progress) resumes it.
    pub async fn send(self) -> Result<TenantDeletion> {
        let table = self.table;
        let tenant = scope_tenant::<S>(table, "deleting a tenant")?;
        let index = tenant_type_index::<S>(table, "deleting a tenant")?;
        let kinds = kinds::<S>("deleting a tenant")?;
        let (checkpoint, resumed) = self.start(&tenant, &kinds)?;
        let span = tracing::info_span!(
            "delete_tenant",
            table = table.name(),
            schema = S::NAME,
            tenant = %tenant,
            resumed
        );
        let shared = Shared {
            checkpoint: Mutex::new(checkpoint),
            on_progress: self.on_progress.clone(),
        };
        let results: Vec<Result<()>> = futures::stream::iter(kinds.iter().copied())
            .map(|kind| self.delete_kind(kind, index, &tenant, &shared))
            .buffer_unordered(MAX_PARALLEL_KINDS)
            .collect()
            .instrument(span)
            .await;
        results.into_iter().collect::<Result<Vec<()>>>()?;
        let checkpoint = lock(&shared.checkpoint).clone();
        let count = |read: fn(&TypeCheckpoint) -> u64| {
            kinds
                .iter()
                .map(|kind| {
                    let type_name = kind.type_name();
                    (type_name, checkpoint.types.get(type_name).map_or(0, read))
                })
                .collect::<BTreeMap<_, _>>()
        };
        let report = TenantDeletion {
            tenant,
            deleted: count(|progress| progress.deleted),
            skipped: count(|progress| progress.skipped),
            resumed,
        };
        tracing::info!(schema = S::NAME, tenant = %report.tenant, deleted = ?report.deleted, skipped = ?report.skipped, "tenant deleted");
        Ok(report)
    }

    /// The checkpoint to start from, and whether it is a resumed one.
    fn start(&self, tenant: &TenantId, kinds: &[Kind]) -> Result<(TenantCheckpoint, bool)> {
        let table = self.table;
        let fresh = TenantCheckpoint {
            table: table.name().to_owned(),
            schema: S::NAME.to_owned(),
            tenant: tenant.to_string(),
            types: kinds
                .iter()
                .map(|kind| (kind.type_name().to_owned(), TypeCheckpoint::default()))
                .collect(),
        };
        let Some(saved) = self.resume.clone() else {
            return Ok((fresh, false));
        };
        let refuse = |reason: String| Error::InvalidRequest {
            entity: S::NAME,
            reason: format!("cannot resume from the checkpoint: {reason}"),
        };
        if (&saved.table, &saved.schema, &saved.tenant)
            != (&fresh.table, &fresh.schema, &fresh.tenant)
        {
            return Err(refuse(format!(
                "it is of the deletion of tenant `{}`'s items of `{}` on table `{}`; this one \
                 deletes tenant `{}`'s items of `{}` on table `{}`",
                saved.tenant, saved.schema, saved.table, fresh.tenant, fresh.schema, fresh.table
            )));
        }
        let mut checkpoint = fresh;
        for (type_name, progress) in saved.types {
            let Some(kind) = kinds.iter().find(|kind| kind.type_name() == type_name) else {
                return Err(refuse(format!(
                    "it names `{type_name}`, which is not a kind of `{}`'s tenant items",
                    S::NAME
                )));
            };
            // A checkpoint comes from outside: it must not carry a key of another tenant in.
            for key in &progress.pending {
                let key = ItemKey::from(key);
                if let Some(why) = kind.refuse_key(&key, tenant, table) {
                    return Err(refuse(format!(
                        "its `{type_name}` key {key} is not in tenant `{tenant}`'s key space: {why}"
                    )));
                }
            }
            let partition = item::tenant_type(tenant.as_str(), &type_name, table);
            if let Some(next) = &progress.next {
                if next.get(TENANT_TYPE_ATTRIBUTE) != Some(&partition) {
                    return Err(refuse(format!(
                        "its `{type_name}` position is not in the index partition `{partition}`"
                    )));
                }
            }
            checkpoint.types.insert(type_name, progress);
        }
        Ok((checkpoint, true))
    }

    /// Deletes the tenant's items of one kind, from where the checkpoint says.
    async fn delete_kind(
        &self,
        kind: Kind,
        index: &str,
        tenant: &TenantId,
        shared: &Shared,
    ) -> Result<()> {
        let table = self.table;
        let type_name = kind.type_name();
        let partition = item::tenant_type(tenant.as_str(), type_name, table);
        loop {
            let (pending, next, read_all) = shared.read(type_name, |progress| {
                (
                    progress
                        .pending
                        .iter()
                        .map(ItemKey::from)
                        .collect::<Vec<_>>(),
                    progress.next.clone(),
                    progress.read_all,
                )
            });
            if !pending.is_empty() {
                self.delete_keys(type_name, pending, shared).await?;
                continue;
            }
            if read_all {
                let (deleted, skipped) =
                    shared.read(type_name, |progress| (progress.deleted, progress.skipped));
                tracing::info!(entity = type_name, tenant = %tenant, deleted, skipped, "deleted the tenant's items of a type");
                return Ok(());
            }
            let start = next.map(|next| {
                next.into_iter()
                    .map(|(name, value)| (name, AttributeValue::S(value)))
                    .collect::<Item>()
            });
            let page =
                read_page(table, index, &partition, type_name, start, self.page_size).await?;
            let next = page
                .next
                .map(|next| position(&next, table, type_name))
                .transpose()?;
            let mut accepted = Vec::with_capacity(page.entries.len());
            let mut skipped = 0;
            for entry in &page.entries {
                match kind.refuse(entry, tenant, table) {
                    None => {
                        if let Ok(key) = stored_key(entry, table) {
                            accepted.push(StoredKey::from(&key));
                        }
                    }
                    Some(why) => {
                        skipped += 1;
                        let key = item::item_key_of(entry, table);
                        tracing::warn!(entity = type_name, tenant = %tenant, %key, %why, "left alone: not the tenant's item");
                    }
                }
            }
            shared.update(type_name, |progress| {
                progress.read_all = next.is_none();
                progress.next = next;
                progress.pending = accepted;
                progress.skipped += skipped;
            });
        }
    }

    /// Deletes `keys`, the keys of one page, and counts those whose delete was confirmed.
    async fn delete_keys(
        &self,
        type_name: &'static str,
        keys: Vec<ItemKey>,
        shared: &Shared,
    ) -> Result<()> {
        let table = self.table;
        let mut writes = Vec::with_capacity(keys.len());
        for key in keys {
            let request = DeleteRequest::builder()
                .set_key(Some(item::key_item(key.clone(), table)))
                .build()
                .map_err(|e| sdk_error(table, "BatchWriteItem", type_name, e))?;
            let request = WriteRequest::builder().delete_request(request).build();
            writes.push(batch::Write::raw(type_name, key, request));
        }
        let sent =
            batch::write_raw(table, writes, self.effort.concurrency, self.effort.attempts).await;
        let left: HashSet<ItemKey> = match &sent {
            Ok(()) => HashSet::new(),
            Err(Error::Unprocessed { items, .. }) => {
                items.iter().map(|(_, key)| key.clone()).collect()
            }
            // Nothing is known to be done: the whole page stays pending.
            Err(_) => shared.read(type_name, |progress| {
                progress.pending.iter().map(ItemKey::from).collect()
            }),
        };
        shared.update(type_name, |progress| {
            let before = progress.pending.len();
            progress
                .pending
                .retain(|key| left.contains(&ItemKey::from(key)));
            progress.deleted += (before - progress.pending.len()) as u64;
        });
        sent
    }
}

/// A position in an index partition (its `LastEvaluatedKey`) as a checkpoint stores it.
fn position(next: &Item, table: &Table, entity: &'static str) -> Result<BTreeMap<String, String>> {
    next.iter()
        .map(|(name, value)| match value {
            AttributeValue::S(text) => Ok((name.clone(), text.clone())),
            _ => Err(Error::InvalidRequest {
                entity,
                reason: format!(
                    "the position in the tenant type index of table `{}` has a `{name}` that is \
                     not a string; its keys and the index keys must be strings",
                    table.name()
                ),
            }),
        })
        .collect()
}
