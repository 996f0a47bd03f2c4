//! The audit log of a whole tenant: every audit record of its entities, newest first, by time
//! range, filtered by actor, action and entity type.
//!
//! Each audit record of a tenant-scoped entity carries `_tenant_type = <tenant>#AUDIT_LOG`
//! when the table has a tenant type index, and that index sorts by `_timestamp`, the time of
//! the record: the log is one partition of the index, read backwards. Filters on actor, action
//! and entity type run on the server (they cost the read capacity of the records they skip).
//! Records expire with the table's audit retention
//! ([`TableBuilder::audit_retention`](crate::TableBuilder::audit_retention)) through the
//! time-to-live attribute, and leave the log with them.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::{decode, AuditRecord};
use crate::cursor::Fingerprint;
use crate::error::{Error, Result};
use crate::item::{self, Item, TENANT_TYPE_ATTRIBUTE, TIMESTAMP_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::ops::query::Page;
use crate::request;
use crate::table::Table;
use crate::write::record::{AuditAction, AUDIT_TYPE};

/// How many records one request of a page evaluates at least: filters may let few through,
/// and a request per missing record would be slow.
const MIN_EVALUATED: usize = 100;

/// The audit records of the current tenant, newest first; read with [`all`](Self::all) or
/// [`page`](Self::page).
///
/// ```no_run
/// # use singletable_core::{audit::{AuditAction, AuditLog}, tenant, Result, Table};
/// # async fn run(table: &Table, from: time::OffsetDateTime, to: time::OffsetDateTime) -> Result<()> {
/// let page = tenant::scope(
///     "tenant-1",
///     AuditLog::of_tenant(table)
///         .between(from, to)
///         .actor("user-7")
///         .action(AuditAction::Update)
///         .entity_type("PROJECT")
///         .page(50, None),
/// )
/// .await?;
/// for record in &page.items {
///     println!("{} {} {}", record.timestamp, record.entity_type, record.entity_id);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a log is read by `all()` or `page()`"]
pub struct AuditLog<'t> {
    table: &'t Table,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    actor: Option<String>,
    action: Option<AuditAction>,
    entity_type: Option<String>,
}

/// The request a log sends, made in the tenant scope it is read in.
struct Plan {
    index: String,
    partition: String,
    key_condition: String,
    filter: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    fingerprint: Fingerprint,
}

impl<'t> AuditLog<'t> {
    /// Every audit record of the tenant of the scope it is read in (or the one the table's
    /// resolvers find); with no tenant, reading fails with [`Error::MissingTenant`] before any
    /// request. The table needs a tenant type index.
    pub fn of_tenant(table: &'t Table) -> Self {
        AuditLog {
            table,
            from: None,
            to: None,
            actor: None,
            action: None,
            entity_type: None,
        }
    }

    /// Only records made from `from` to `to`, both included (to the millisecond).
    pub fn between(self, from: OffsetDateTime, to: OffsetDateTime) -> Self {
        self.since(from).until(to)
    }

    /// Only records made at `from` or later.
    pub fn since(mut self, from: OffsetDateTime) -> Self {
        self.from = Some(from);
        self
    }

    /// Only records made at `to` or earlier.
    pub fn until(mut self, to: OffsetDateTime) -> Self {
        self.to = Some(to);
        self
    }

    /// Only records of writes by `actor` (the audit context's actor, stored as `userId`).
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Only records of `action`.
    pub fn action(mut self, action: AuditAction) -> Self {
        self.action = Some(action);
        self
    }

    /// Only records of entities of type `entity_type` (their `_type`).
    pub fn entity_type(mut self, entity_type: impl Into<String>) -> Self {
        self.entity_type = Some(entity_type.into());
        self
    }

    /// Every matching record, newest first, following every page.
    pub async fn all(self) -> Result<Vec<AuditRecord>> {
        let plan = self.plan()?;
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let (items, last) = fetch(self.table, &plan, None, start).await?;
            for item in items {
                records.push(decode(item, self.table)?);
            }
            match last {
                Some(last) => start = Some(last),
                None => return Ok(records),
            }
        }
    }

    /// Up to `size` matching records, newest first, from `cursor` (a page's `cursor`; `None`:
    /// the newest). A page holds `size` records unless it is the last: requests go on until
    /// the filters have let through enough.
    pub async fn page(self, size: usize, cursor: Option<&str>) -> Result<Page<AuditRecord>> {
        let table = self.table;
        let plan = self.plan()?;
        let size = size.max(1);
        let partition = (TENANT_TYPE_ATTRIBUTE, plan.partition.as_str());
        let secret = table.cursor_secret();
        let mut start = cursor
            .map(|text| crate::cursor::open(text, plan.fingerprint, secret, AUDIT_TYPE, partition))
            .transpose()?;
        let mut items: Vec<Item> = Vec::with_capacity(size);
        let next = loop {
            let wanted = (size - items.len()).max(MIN_EVALUATED);
            let (page, last) = fetch(table, &plan, Some(wanted), start).await?;
            items.extend(page);
            let more = last.is_some() || items.len() > size;
            items.truncate(size);
            match last {
                Some(last) if items.len() < size => start = Some(last),
                // Full: the page ends at its last record, where the next one starts.
                _ if more => break items.last().map(|item| position(item, table)),
                _ => break None,
            }
        };
        let cursor = next
            .map(|key| crate::cursor::make(&key, plan.fingerprint, secret, AUDIT_TYPE))
            .transpose()?;
        let items = items
            .into_iter()
            .map(|item| decode(item, table))
            .collect::<Result<_>>()?;
        Ok(Page { items, cursor })
    }

    /// Decides, before any request, which tenant's log is read and how.
    fn plan(&self) -> Result<Plan> {
        let table = self.table;
        let tenant =
            crate::tenant::resolved(table).ok_or(Error::MissingTenant { entity: AUDIT_TYPE })?;
        singletable_keys::check_value(tenant.as_str(), table.separator()).map_err(|e| {
            Error::InvalidRequest {
                entity: AUDIT_TYPE,
                reason: format!("the tenant `{tenant}`: {e}"),
            }
        })?;
        let index = table
            .tenant_type_index()
            .ok_or_else(|| Error::InvalidRequest {
                entity: AUDIT_TYPE,
                reason: "a tenant's audit log is read through the tenant type index; declare it \
                         with `Table::builder(..).tenant_type_index(name)`"
                    .into(),
            })?
            .to_owned();
        let partition = item::tenant_type(tenant.as_str(), AUDIT_TYPE, table);
        let s = |text: &str| AttributeValue::S(text.to_owned());
        let mut names = HashMap::from([
            ("#tt".to_owned(), TENANT_TYPE_ATTRIBUTE.to_owned()),
            ("#type".to_owned(), TYPE_ATTRIBUTE.to_owned()),
        ]);
        let mut values = HashMap::from([
            (":tt".to_owned(), s(&partition)),
            (":type".to_owned(), s(AUDIT_TYPE)),
        ]);
        let text = crate::timestamp::text;
        let (from, to) = (self.from.map(text), self.to.map(text));
        let range = match (&from, &to) {
            (Some(_), Some(_)) => Some("#ts BETWEEN :from AND :to"),
            (Some(_), None) => Some("#ts >= :from"),
            (None, Some(_)) => Some("#ts <= :to"),
            (None, None) => None,
        };
        let mut key_condition = "#tt = :tt".to_owned();
        if let Some(range) = range {
            names.insert("#ts".into(), TIMESTAMP_ATTRIBUTE.into());
            key_condition = format!("{key_condition} AND {range}");
        }
        for (name, value) in [(":from", &from), (":to", &to)] {
            if let Some(value) = value {
                values.insert(name.into(), s(value));
            }
        }
        let mut filter = vec!["#type = :type".to_owned()];
        let action = self.action.map(AuditAction::as_str);
        let filters = [
            ("userId", self.actor.as_deref()),
            ("action", action),
            ("entityType", self.entity_type.as_deref()),
        ];
        for (i, (attribute, value)) in filters.into_iter().enumerate() {
            if let Some(value) = value {
                names.insert(format!("#f{i}"), attribute.into());
                values.insert(format!(":f{i}"), s(value));
                filter.push(format!("#f{i} = :f{i}"));
            }
        }
        let fingerprint = Fingerprint::of(&[
            b"tenant audit log",
            partition.as_bytes(),
            from.as_deref().unwrap_or("").as_bytes(),
            to.as_deref().unwrap_or("").as_bytes(),
            filters_text(&filters).as_bytes(),
        ]);
        Ok(Plan {
            index,
            partition,
            key_condition,
            filter: filter.join(" AND "),
            names,
            values,
            fingerprint,
        })
    }
}

/// The filters as one text, each value apart, for the cursor's fingerprint.
fn filters_text(filters: &[(&str, Option<&str>)]) -> String {
    filters
        .iter()
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where a query of the index starts after `item`: its table and index keys.
fn position(item: &Item, table: &Table) -> Item {
    [
        table.partition_key(),
        table.sort_key(),
        TENANT_TYPE_ATTRIBUTE,
        TIMESTAMP_ATTRIBUTE,
    ]
    .into_iter()
    .filter_map(|name| Some((name.to_owned(), item.get(name)?.clone())))
    .collect()
}

/// One Query of the log: up to `limit` records (evaluated before filtering) and where the
/// next one starts.
async fn fetch(
    table: &Table,
    plan: &Plan,
    limit: Option<usize>,
    start: Option<Item>,
) -> Result<(Vec<Item>, Option<Item>)> {
    let output = request::query(table, AUDIT_TYPE, |request| {
        request
            .index_name(&plan.index)
            .key_condition_expression(&plan.key_condition)
            .filter_expression(&plan.filter)
            .set_expression_attribute_names(Some(plan.names.clone()))
            .set_expression_attribute_values(Some(plan.values.clone()))
            .scan_index_forward(false)
            .set_limit(limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX)))
            .set_exclusive_start_key(start)
    })
    .await?;
    Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
}
