//! Exporting a tenant's items as JSON lines of DynamoDB JSON, and importing them back.

use super::*;

/// Encodes `item` as one line of DynamoDB JSON (`{"pk":{"S":"..."},...}`), as `serde_dynamo`
/// writes it. Going through `serde_json::Value`, whose maps are sorted, sorts the attributes by
/// name at every level, so the same item always gives the same line.
pub(super) fn to_line(item: Item, entity: &'static str) -> Result<String> {
    if !item.values().all(known) {
        return Err(Error::Encode {
            entity,
            field: "the item".into(),
            message: "it holds an attribute value of a type this SDK does not know".into(),
        });
    }
    let item = serde_dynamo::Item::from(item);
    let encode = |message: String| Error::Encode {
        entity,
        field: "the item".into(),
        message,
    };
    let value = serde_json::to_value(&item).map_err(|e| encode(e.to_string()))?;
    serde_json::to_string(&value).map_err(|e| encode(e.to_string()))
}

/// Whether `value` and every value inside it are of a type the SDK knows (which the conversion
/// to DynamoDB JSON needs).
fn known(value: &AttributeValue) -> bool {
    match value {
        AttributeValue::M(map) => map.values().all(known),
        AttributeValue::L(list) => list.iter().all(known),
        other => !other.is_unknown(),
    }
}

/// What an export found at one index entry: a line, or an item left out.
enum Exported {
    Line(&'static str, String),
    Skipped(&'static str),
}

/// What a finished export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TenantExport {
    /// The tenant whose items were exported.
    pub tenant: TenantId,
    /// The lines written, by `_type` (every kind of the tenant's items, 0 where none).
    pub exported: BTreeMap<&'static str, u64>,
    /// Items the index listed for the tenant that are not in its key space, by `_type`: left
    /// out.
    pub skipped: BTreeMap<&'static str, u64>,
}

/// Exports every item of the scope's tenant as JSON lines: [`TableSchema::export_tenant`].
///
/// Each kind of the tenant's items (as [`DeleteTenant`] finds them) is read from its partition
/// of the tenant type index, keys only, and the items are read whole from the table with
/// strongly consistent `BatchGetItem` reads (an index entry may be stale), checked as the
/// tenant's (an item that is not is left out and counted as skipped), and written one per line
/// in DynamoDB JSON — `{"pk":{"S":"TENANT#t1#ORG#1"},"sk":{"S":"#METADATA"},...}`, as
/// `serde_dynamo` writes it, attributes sorted by name — kind after kind, each in the index's
/// order. Soft-deleted and expired items are exported too: they are stored.
///
/// It runs in the tenant's scope only, as [`DeleteTenant`] does. The runtime does no blocking
/// I/O: [`send`](Self::send) writes to a tokio [`AsyncWrite`] (a `tokio::fs::File`, best behind
/// a `tokio::io::BufWriter`; a `Vec<u8>`), and [`into_stream`](Self::into_stream) hands the
/// lines to the caller to put anywhere.
///
/// ```no_run
/// # use singletable_core::{tenant, Result, Table, TableSchema};
/// # async fn run<AppItem: TableSchema>(table: &Table) -> Result<()> {
/// let mut lines = Vec::new();
/// let export = tenant::scope("tenant-7", AppItem::export_tenant(table).send(&mut lines)).await?;
/// println!("exported {:?}", export.exported);
/// # Ok(())
/// # }
/// ```
#[must_use = "an export does nothing until `send()` is awaited or its stream polled"]
pub struct ExportTenant<'t, S> {
    table: &'t Table,
    page_size: i32,
    effort: Effort,
    schema: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for ExportTenant<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportTenant")
            .field("table", &self.table.name())
            .field("page_size", &self.page_size)
            .field("effort", &self.effort)
            .finish_non_exhaustive()
    }
}

/// Where an export is.
struct ExportState<'t> {
    table: &'t Table,
    /// The tenant and the index, once checked in the scope the export runs in.
    plan: Option<(TenantId, &'t str)>,
    /// The kinds not read to their end, the current one first.
    kinds: VecDeque<Kind>,
    /// Where the current kind's index partition goes on (`None` at its start).
    next: Option<Item>,
    /// What the last page gave and was not handed out yet.
    buffer: VecDeque<Exported>,
}

impl<'t, S: TableSchema> ExportTenant<'t, S> {
    /// An export of the scope's tenant's items of `S` on `table`: pages of 500 index entries,
    /// 4 `BatchGetItem` requests at once.
    pub fn new(table: &'t Table) -> Self {
        ExportTenant {
            table,
            page_size: DEFAULT_PAGE_SIZE,
            effort: Effort::default(),
            schema: PhantomData,
        }
    }

    /// Reads at most `entries` index entries per page (default 500).
    pub fn page_size(mut self, entries: usize) -> Self {
        self.page_size = i32::try_from(entries.max(1)).unwrap_or(i32::MAX);
        self
    }

    /// Sends at most `requests` `BatchGetItem` requests at once (default 4).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.effort.concurrency = requests.max(1);
        self
    }

    /// Reports keys as unread after `attempts` rounds in a row (default 10) in which DynamoDB
    /// read none of a chunk's keys, as [`BatchGet::max_attempts`](crate::BatchGet::max_attempts).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.effort.attempts = attempts.max(1);
        self
    }

    /// Writes every item of the tenant to `writer`, one line of DynamoDB JSON each (ended by
    /// `\n`), and flushes it. Fails, before anything is written, outside one tenant's scope or
    /// without a tenant type index; [`Error::Unprocessed`] when keys could not be read after
    /// the retries (the lines before them are written). A failure of the writer is
    /// [`Error::InvalidRequest`], with the I/O error.
    pub async fn send<W: AsyncWrite + Unpin + Send>(self, mut writer: W) -> Result<TenantExport> {
        let tenant = scope_tenant::<S>(self.table, "exporting a tenant")?;
        let kinds = kinds::<S>("exporting a tenant")?;
        let zero = || {
            kinds
                .iter()
                .map(|kind| (kind.type_name(), 0u64))
                .collect::<BTreeMap<_, _>>()
        };
        let (mut exported, mut skipped) = (zero(), zero());
        let span = tracing::info_span!(
            "export_tenant",
            table = self.table.name(),
            schema = S::NAME,
            tenant = %tenant
        );
        let io = |error: std::io::Error| Error::InvalidRequest {
            entity: S::NAME,
            reason: format!("exporting tenant `{tenant}`: cannot write the export: {error}"),
        };
        let lines = self.exported();
        futures::pin_mut!(lines);
        async {
            while let Some(out) = lines.try_next().await? {
                match out {
                    Exported::Line(type_name, mut line) => {
                        line.push('\n');
                        writer.write_all(line.as_bytes()).await.map_err(io)?;
                        *exported.entry(type_name).or_default() += 1;
                    }
                    Exported::Skipped(type_name) => *skipped.entry(type_name).or_default() += 1,
                }
            }
            writer.flush().await.map_err(io)
        }
        .instrument(span)
        .await?;
        tracing::info!(schema = S::NAME, tenant = %tenant, exported = ?exported, skipped = ?skipped, "tenant exported");
        Ok(TenantExport {
            tenant,
            exported,
            skipped,
        })
    }

    /// The lines of the export (without their `\n`), read a page at a time as the stream is
    /// consumed. The first item is the error when the export cannot run (outside one tenant's
    /// scope, without a tenant type index); poll it in the tenant's scope.
    pub fn into_stream(self) -> impl Stream<Item = Result<String>> + Send + 't {
        self.exported().try_filter_map(|out| async move {
            Ok(match out {
                Exported::Line(_, line) => Some(line),
                Exported::Skipped(_) => None,
            })
        })
    }

    /// What the export finds, index entry by index entry.
    fn exported(self) -> impl Stream<Item = Result<Exported>> + Send + 't {
        let state = ExportState {
            table: self.table,
            plan: None,
            kinds: VecDeque::new(),
            next: None,
            buffer: VecDeque::new(),
        };
        let (page_size, effort) = (self.page_size, self.effort);
        futures::stream::try_unfold(state, move |mut state| async move {
            let table = state.table;
            let (tenant, index) = match &state.plan {
                Some(plan) => plan.clone(),
                None => {
                    let tenant = scope_tenant::<S>(table, "exporting a tenant")?;
                    let index = tenant_type_index::<S>(table, "exporting a tenant")?;
                    state.kinds = kinds::<S>("exporting a tenant")?.into();
                    state.plan = Some((tenant.clone(), index));
                    (tenant, index)
                }
            };
            loop {
                if let Some(out) = state.buffer.pop_front() {
                    return Ok(Some((out, state)));
                }
                let Some(kind) = state.kinds.front().copied() else {
                    return Ok(None);
                };
                let type_name = kind.type_name();
                let partition = item::tenant_type(tenant.as_str(), type_name, table);
                let page = read_page(
                    table,
                    index,
                    &partition,
                    type_name,
                    state.next.take(),
                    page_size,
                )
                .await?;
                match page.next {
                    Some(next) => state.next = Some(next),
                    None => {
                        state.kinds.pop_front();
                    }
                }
                state.buffer = export_page(table, kind, &tenant, page.entries, effort).await?;
            }
        })
    }
}

/// Reads the whole items of one page of index entries and makes their lines, in the page's
/// order.
async fn export_page(
    table: &Table,
    kind: Kind,
    tenant: &TenantId,
    entries: Vec<Item>,
    effort: Effort,
) -> Result<VecDeque<Exported>> {
    let type_name = kind.type_name();
    let mut out = VecDeque::with_capacity(entries.len());
    let mut keys = Vec::with_capacity(entries.len());
    for entry in &entries {
        match kind.refuse(entry, tenant, table) {
            None => {
                if let Ok(key) = stored_key(entry, table) {
                    keys.push(key);
                }
            }
            Some(why) => {
                let key = item::item_key_of(entry, table);
                tracing::warn!(entity = type_name, tenant = %tenant, %key, %why, "left out of the export: not the tenant's item");
                out.push_back(Exported::Skipped(type_name));
            }
        }
    }
    let (found, left) = batch::read_raw(
        table,
        type_name,
        keys.clone(),
        effort.concurrency,
        effort.attempts,
    )
    .await;
    if !left.is_empty() {
        return Err(Error::Unprocessed {
            operation: "BatchGetItem",
            items: left.into_iter().map(|key| (type_name, key)).collect(),
            cause: None,
        });
    }
    let mut found: HashMap<ItemKey, Item> = found
        .into_iter()
        .filter_map(|item| Some((stored_key(&item, table).ok()?, item)))
        .collect();
    for key in keys {
        // Deleted since the index listed it: nothing to export.
        let Some(item) = found.remove(&key) else {
            continue;
        };
        match kind.refuse(&item, tenant, table) {
            None => out.push_back(Exported::Line(type_name, to_line(item, type_name)?)),
            Some(why) => {
                tracing::warn!(entity = type_name, tenant = %tenant, %key, %why, "left out of the export: not the tenant's item");
                out.push_back(Exported::Skipped(type_name));
            }
        }
    }
    Ok(out)
}

/// Reads one line (up to and with its `\n`, or to the end of the input) into `line`; returns
/// `false` at the end of the input. A line longer than [`MAX_LINE`] is an error, read no further.
pub(super) async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<bool> {
    line.clear();
    let limit = u64::try_from(MAX_LINE)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    (&mut *reader).take(limit).read_until(b'\n', line).await?;
    if line.len() > MAX_LINE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the line is longer than {MAX_LINE} bytes"),
        ));
    }
    Ok(!line.is_empty())
}

/// What a finished import wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TenantImport {
    /// The tenant whose items were written.
    pub tenant: TenantId,
    /// The items written, by `_type` (every kind of the tenant's items, 0 where none).
    pub imported: BTreeMap<&'static str, u64>,
    /// The lines read (blank lines included).
    pub lines: u64,
}

/// Writes back the JSON lines of an [export](ExportTenant) in the scope's tenant:
/// [`TableSchema::import_tenant`].
///
/// Each line is one item in DynamoDB JSON. It is written as it is — every attribute, the
/// library's own included — with `BatchWriteItem` puts in chunks of 25, retried as a
/// [`BatchWrite`](crate::BatchWrite) retries. Like a batch, a put has no condition: it replaces
/// what is at the key. It is meant to restore a tenant whose items were deleted (or to write the
/// same items again, which changes nothing).
///
/// Before an item is written it is checked as the scope's tenant's, and the first line that
/// is not is refused with [`Error::InvalidRequest`] naming the line and the key: a `_type` that
/// is none of the tenant's kinds (a tenant-scoped entity of the schema, `_UNIQUE`, `AUDIT_LOG`)
/// or none at all, a key outside the tenant's key space, a `_tenant_type` or tenant field that
/// names anything else. The lines before it are written; nothing from it on is. Blank lines
/// are skipped; a line holding a key already buffered is written after it, so the last such
/// line wins.
///
/// It runs in the tenant's scope only, as [`DeleteTenant`] does, and reads from a tokio
/// [`AsyncBufRead`] (a `tokio::io::BufReader` of a file; a `&[u8]`).
///
/// ```no_run
/// # use singletable_core::{tenant, Result, Table, TableSchema};
/// # async fn run<AppItem: TableSchema>(table: &Table, lines: Vec<u8>) -> Result<()> {
/// let import = tenant::scope("tenant-7", AppItem::import_tenant(table).send(&lines[..])).await?;
/// println!("imported {:?}", import.imported);
/// # Ok(())
/// # }
/// ```
#[must_use = "an import does nothing until `send()` is awaited"]
pub struct ImportTenant<'t, S> {
    table: &'t Table,
    effort: Effort,
    schema: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for ImportTenant<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportTenant")
            .field("table", &self.table.name())
            .field("effort", &self.effort)
            .finish_non_exhaustive()
    }
}

impl<'t, S: TableSchema> ImportTenant<'t, S> {
    /// An import into the scope's tenant on `table`: 4 `BatchWriteItem` requests at once.
    pub fn new(table: &'t Table) -> Self {
        ImportTenant {
            table,
            effort: Effort::default(),
            schema: PhantomData,
        }
    }

    /// Sends at most `requests` `BatchWriteItem` requests at once (default 4).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.effort.concurrency = requests.max(1);
        self
    }

    /// Stops after `attempts` rounds in a row (default 10) in which DynamoDB wrote none of a
    /// chunk's items, as [`BatchWrite::max_attempts`](crate::BatchWrite::max_attempts).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.effort.attempts = attempts.max(1);
        self
    }

    /// Reads `reader` to its end and writes every line's item. Fails before any request
    /// outside one tenant's scope or without a tenant type index; at the first line refused
    /// (see the type's docs), after writing the lines before it; with [`Error::Unprocessed`]
    /// naming the items not written after the retries. A failure to read is
    /// [`Error::InvalidRequest`], naming the line, with the I/O error.
    pub async fn send<R: AsyncBufRead + Unpin + Send>(self, mut reader: R) -> Result<TenantImport> {
        let table = self.table;
        let tenant = scope_tenant::<S>(table, "importing a tenant")?;
        tenant_type_index::<S>(table, "importing a tenant")?;
        let kinds = kinds::<S>("importing a tenant")?;
        let mut imported: BTreeMap<&'static str, u64> =
            kinds.iter().map(|kind| (kind.type_name(), 0)).collect();
        let span = tracing::info_span!(
            "import_tenant",
            table = table.name(),
            schema = S::NAME,
            tenant = %tenant
        );
        let flush_at = 25 * self.effort.concurrency * 2;
        let mut buffer: Vec<batch::Write> = Vec::with_capacity(flush_at);
        let mut buffered: HashSet<ItemKey> = HashSet::with_capacity(flush_at);
        let mut lines = 0u64;
        let mut bytes = Vec::new();
        let run = async {
            loop {
                let more = read_line(&mut reader, &mut bytes).await.map_err(|error| {
                    self.refused(lines + 1, None, &format!("cannot read it: {error}"))
                })?;
                if !more {
                    break;
                }
                lines += 1;
                let parsed = self.parse(&bytes, lines, &tenant, &kinds);
                let (kind, key, item) = match parsed {
                    Ok(Some(parsed)) => parsed,
                    Ok(None) => continue,
                    Err(error) => {
                        // The lines before it are written; nothing from it on.
                        self.flush(&mut buffer, &mut buffered, &mut imported)
                            .await?;
                        return Err(error);
                    }
                };
                if buffered.contains(&key) || buffer.len() >= flush_at {
                    // One request may not write a key twice: the earlier line goes first.
                    self.flush(&mut buffer, &mut buffered, &mut imported)
                        .await?;
                }
                let type_name = kind.type_name();
                let request = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| sdk_error(table, "BatchWriteItem", type_name, e))?;
                buffered.insert(key.clone());
                let request = WriteRequest::builder().put_request(request).build();
                buffer.push(batch::Write::raw(type_name, key, request));
            }
            self.flush(&mut buffer, &mut buffered, &mut imported).await
        };
        run.instrument(span).await?;
        tracing::info!(schema = S::NAME, tenant = %tenant, imported = ?imported, lines, "tenant imported");
        Ok(TenantImport {
            tenant,
            imported,
            lines,
        })
    }

    /// The kind, key and item of line `number`; `None` for a blank line; refused unless it is
    /// one of the tenant's items.
    fn parse(
        &self,
        bytes: &[u8],
        number: u64,
        tenant: &TenantId,
        kinds: &[Kind],
    ) -> Result<Option<(Kind, ItemKey, Item)>> {
        let table = self.table;
        let text = std::str::from_utf8(bytes)
            .map_err(|error| self.refused(number, None, &format!("it is not UTF-8: {error}")))?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let parsed: serde_dynamo::Item = serde_json::from_str(text).map_err(|error| {
            self.refused(
                number,
                None,
                &format!("it is not an item in DynamoDB JSON: {error}"),
            )
        })?;
        let item: Item = parsed.into();
        let key = stored_key(&item, table).map_err(|why| self.refused(number, None, &why))?;
        let kind = match item.get(TYPE_ATTRIBUTE) {
            Some(AttributeValue::S(found)) => kinds
                .iter()
                .copied()
                .find(|kind| kind.type_name() == found)
                .ok_or_else(|| {
                    let expected: Vec<&str> = kinds.iter().map(|kind| kind.type_name()).collect();
                    self.refused(
                        number,
                        Some(&key),
                        &format!(
                            "its `_type` `{found}` is not one of the kinds of a tenant's items \
                             ({})",
                            expected.join(", ")
                        ),
                    )
                })?,
            Some(_) => return Err(self.refused(number, Some(&key), "its `_type` is not a string")),
            None => return Err(self.refused(number, Some(&key), "it has no `_type`")),
        };
        if let Some(why) = kind.refuse(&item, tenant, table) {
            return Err(Error::InvalidRequest {
                entity: kind.type_name(),
                reason: format!(
                    "line {number}: item {key} is not tenant `{tenant}`'s: {why}; nothing from \
                     this line on was written"
                ),
            });
        }
        // A put has no condition: a guard or audit record must not land on an entity's item.
        let separator = table.separator();
        let entity = S::MEMBERS.iter().find(|member| {
            member.partition_key().parse_key(&key.pk, separator).is_ok()
                && member.sort_key().parse_key(&key.sk, separator).is_ok()
        });
        if let (Kind::Guard | Kind::Audit, Some(member)) = (kind, entity) {
            return Err(self.refused(
                number,
                Some(&key),
                &format!(
                    "its key is also a key of `{}`, whose item a `{}` would replace",
                    member.type_name(),
                    kind.type_name()
                ),
            ));
        }
        Ok(Some((kind, key, item)))
    }

    /// The error refusing line `number` (of the item at `key`, when it has one).
    fn refused(&self, number: u64, key: Option<&ItemKey>, why: &str) -> Error {
        let item = key.map_or(String::new(), |key| format!(" (item {key})"));
        Error::InvalidRequest {
            entity: S::NAME,
            reason: format!(
                "line {number}{item} cannot be imported: {why}; nothing from this line on was \
                 written"
            ),
        }
    }

    /// Writes the buffered puts and counts them.
    async fn flush(
        &self,
        buffer: &mut Vec<batch::Write>,
        buffered: &mut HashSet<ItemKey>,
        imported: &mut BTreeMap<&'static str, u64>,
    ) -> Result<()> {
        if buffer.is_empty() {
            return Ok(());
        }
        let writes = std::mem::take(buffer);
        buffered.clear();
        let mut written: BTreeMap<&'static str, u64> = BTreeMap::new();
        for write in &writes {
            *written.entry(write.entity()).or_default() += 1;
        }
        let sent = batch::write_raw(
            self.table,
            writes,
            self.effort.concurrency,
            self.effort.attempts,
        )
        .await;
        if sent.is_ok() {
            for (type_name, count) in written {
                *imported.entry(type_name).or_default() += count;
            }
        }
        sent
    }
}
