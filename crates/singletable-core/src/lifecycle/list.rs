//! Listing the tenants of a table: a parallel scan of the tenant type index, across tenants only.

use super::*;

/// Lists the tenants of a table: [`TableSchema::tenants`].
///
/// A parallel scan of the tenant type index that reads only `_tenant_type`, keeping the tenants
/// of the partitions of the schema's kinds of tenant items (its tenant-scoped entities, `_UNIQUE`
/// and `AUDIT_LOG`). It is cross-tenant work: it runs only in
/// [`tenant::across_tenants`](crate::tenant::across_tenants), and fails anywhere else (in one
/// tenant's scope too) with [`Error::MissingTenant`] before any request.
///
/// ```no_run
/// # use singletable_core::{tenant, Result, Table, TableSchema};
/// # async fn run<AppItem: TableSchema>(table: &Table) -> Result<()> {
/// let reason = "bill every tenant";
/// let tenants = tenant::across_tenants(reason, AppItem::tenants(table).segments(8).send()).await?;
/// let sizes = tenant::across_tenants(reason, AppItem::tenants(table).count_items()).await?;
/// for (tenant, items) in sizes {
///     println!("{tenant}: {items} items");
/// }
/// # Ok(())
/// # }
/// ```
#[must_use = "a listing does nothing until `send()` or `count_items()` is awaited"]
pub struct Tenants<'t, S> {
    table: &'t Table,
    segments: u32,
    page_size: Option<i32>,
    schema: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for Tenants<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants")
            .field("table", &self.table.name())
            .field("segments", &self.segments)
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl<'t, S: TableSchema> Tenants<'t, S> {
    /// A listing of the tenants of `S` on `table`, scanning 4 segments at once.
    pub fn new(table: &'t Table) -> Self {
        Tenants {
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

    /// Reads at most `items` index entries per scan page (DynamoDB's 1 MB page otherwise).
    pub fn page_size(mut self, items: usize) -> Self {
        self.page_size = Some(i32::try_from(items.max(1)).unwrap_or(i32::MAX));
        self
    }

    /// The tenants with at least one item of the schema, sorted by id.
    pub async fn send(self) -> Result<Vec<TenantId>> {
        let counts = self.count_items().await?;
        Ok(counts.into_iter().map(|(tenant, _)| tenant).collect())
    }

    /// The tenants with at least one item of the schema, sorted by id, each with the number of
    /// its items the index lists (entities, guards and audit records; soft-deleted and expired
    /// items too, which are still stored).
    pub async fn count_items(self) -> Result<Vec<(TenantId, u64)>> {
        let table = self.table;
        let Some(reason) = crate::tenant::crossing() else {
            return Err(Error::MissingTenant { entity: S::NAME });
        };
        let index = tenant_type_index::<S>(table, "listing the tenants")?;
        let types: HashSet<&'static str> = kinds::<S>("listing the tenants")?
            .into_iter()
            .map(Kind::type_name)
            .collect();
        let span = tracing::info_span!(
            "list_tenants",
            table = table.name(),
            schema = S::NAME,
            %reason,
            segments = self.segments
        );
        let counts = futures::stream::iter(0..self.segments)
            .map(|segment| self.segment(segment, index, &types))
            .buffer_unordered(MAX_PARALLEL_SEGMENTS)
            .try_fold(
                BTreeMap::<String, u64>::new(),
                |mut total, counts| async move {
                    for (tenant, count) in counts {
                        *total.entry(tenant).or_default() += count;
                    }
                    Ok(total)
                },
            )
            .instrument(span)
            .await?;
        tracing::info!(schema = S::NAME, tenants = counts.len(), "listed tenants");
        Ok(counts
            .into_iter()
            .map(|(tenant, count)| (TenantId::from(tenant), count))
            .collect())
    }

    /// Counts one segment's index entries by tenant.
    async fn segment(
        &self,
        segment: u32,
        index: &str,
        types: &HashSet<&'static str>,
    ) -> Result<HashMap<String, u64>> {
        let table = self.table;
        let separator = table.separator();
        let mut counts: HashMap<String, u64> = HashMap::new();
        let mut start = None;
        loop {
            let output = request::scan(table, S::NAME, |request| {
                request
                    .index_name(index)
                    .segment(segment as i32)
                    .total_segments(self.segments as i32)
                    .projection_expression("#tenant_type")
                    .expression_attribute_names("#tenant_type", TENANT_TYPE_ATTRIBUTE)
                    .set_limit(self.page_size)
                    .set_exclusive_start_key(start)
            })
            .await?;
            for entry in output.items.unwrap_or_default() {
                let Some(Ok(value)) = entry.get(TENANT_TYPE_ATTRIBUTE).map(AttributeValue::as_s)
                else {
                    continue;
                };
                // A tenant id never holds the separator: the type is what follows the first.
                match value.split_once(separator) {
                    Some((tenant, type_name)) if types.contains(type_name) => {
                        *counts.entry(tenant.to_owned()).or_default() += 1;
                    }
                    _ => {}
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(counts);
            }
        }
    }
}
