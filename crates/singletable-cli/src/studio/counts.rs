//! `/counts`: how many items of each type the table holds, and of each tenant-scoped entity per
//! tenant, from a parallel scan that reads only the keys and `_type`.
//!
//! Every stored item is counted, soft-deleted and expired ones too (they are still stored, and
//! still cost), and items of types the description does not know, such as audit records.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::extract::State as Extract;
use futures::future::try_join_all;
use maud::{html, Markup};
use singletable_core::item::TYPE_ATTRIBUTE;

use super::{layout, PageError, State};
use crate::error::Error;
use crate::inspect::{key_text, parse_key};

/// Scan segments read at once.
const SEGMENTS: i32 = 4;

/// The counts: by type, and by tenant and type.
#[derive(Default)]
struct Counts {
    by_type: BTreeMap<String, usize>,
    by_tenant: BTreeMap<String, BTreeMap<String, usize>>,
}

pub(super) async fn page(Extract(state): Extract<Arc<State>>) -> Result<Markup, PageError> {
    let segments = (0..SEGMENTS).map(|segment| scan(&state, segment));
    let mut counts = Counts::default();
    for part in try_join_all(segments).await? {
        for (entity_type, count) in part.by_type {
            *counts.by_type.entry(entity_type).or_default() += count;
        }
        for (tenant, types) in part.by_tenant {
            let row = counts.by_tenant.entry(tenant).or_default();
            for (entity_type, count) in types {
                *row.entry(entity_type).or_default() += count;
            }
        }
    }
    let file = &state.file;
    let total: usize = counts.by_type.values().sum();
    // Every described entity has a row, with 0 when it has no item.
    let mut rows: Vec<(&str, usize, bool)> = file
        .entities
        .iter()
        .map(|e| {
            let count = counts.by_type.get(&e.entity_type).copied().unwrap_or(0);
            (e.entity_type.as_str(), count, true)
        })
        .collect();
    rows.extend(
        counts
            .by_type
            .iter()
            .filter(|(t, _)| file.entity(t).is_none())
            .map(|(t, count)| (t.as_str(), *count, false)),
    );
    let scoped: Vec<&str> = file
        .entities
        .iter()
        .filter(|e| e.tenant.is_some())
        .map(|e| e.entity_type.as_str())
        .collect();
    let body = html! {
        h1 { "Item counts" }
        p.lead { "Every item stored in " code { (state.name) } ": " span data-total { (total) } " in all." }
        table.counts {
            thead { tr { th { "type" } th { "items" } } }
            tbody {
                @for (entity_type, count, described) in &rows {
                    tr class=[(!described).then_some("internal")] {
                        th { (entity_type) @if !described { " " small { "(not in the description)" } } }
                        td.number data-count=(entity_type) { (count) }
                    }
                }
            }
        }
        h2 { "Per tenant" }
        @if scoped.is_empty() {
            p { "No entity of the description is tenant-scoped." }
        } @else if counts.by_tenant.is_empty() {
            p { "No item of a tenant-scoped entity." }
        } @else {
            table.counts.tenants {
                thead {
                    tr {
                        th { "tenant" }
                        @for entity_type in &scoped { th { (entity_type) } }
                    }
                }
                tbody {
                    @for (tenant, types) in &counts.by_tenant {
                        tr data-tenant-row=(tenant) {
                            th { (tenant) }
                            @for entity_type in &scoped {
                                td.number data-tenant=(tenant) data-type=(entity_type) {
                                    (types.get(*entity_type).copied().unwrap_or(0))
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout("Counts", "counts", body))
}

/// Counts one segment of a parallel scan, following its pages.
async fn scan(state: &State, segment: i32) -> Result<Counts, PageError> {
    let file = &state.file;
    let mut counts = Counts::default();
    let mut start = None;
    loop {
        let output = state
            .target
            .client
            .scan()
            .table_name(&state.name)
            .segment(segment)
            .total_segments(SEGMENTS)
            .projection_expression("#pk, #sk, #type")
            .expression_attribute_names("#pk", &file.partition_key)
            .expression_attribute_names("#sk", &file.sort_key)
            .expression_attribute_names("#type", TYPE_ATTRIBUTE)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| Error::sdk(e, "Scan", &state.name, &state.target.place))?;
        for item in output.items.unwrap_or_default() {
            count(state, &item, &mut counts);
        }
        match output.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(counts),
        }
    }
}

/// Counts `item` by its type, and by its tenant when its entity is tenant-scoped and its key
/// matches the entity's templates.
fn count(state: &State, item: &HashMap<String, AttributeValue>, counts: &mut Counts) {
    let file = &state.file;
    let entity_type = match item.get(TYPE_ATTRIBUTE) {
        Some(AttributeValue::S(t)) => t.clone(),
        _ => "(no _type)".to_owned(),
    };
    if let Some(entity) = file.entity(&entity_type) {
        if let Some(tenant) = &entity.tenant {
            let pk = key_text(item.get(&file.partition_key));
            let sk = key_text(item.get(&file.sort_key));
            let mut keys = parse_key(&pk, Some(&entity.pk), file.separator);
            keys.extend(parse_key(&sk, entity.sk.as_deref(), file.separator));
            let owner = keys
                .into_iter()
                .find(|(name, _)| name == tenant)
                .map_or_else(|| "(key does not match)".to_owned(), |(_, value)| value);
            *counts
                .by_tenant
                .entry(owner)
                .or_default()
                .entry(entity_type.clone())
                .or_default() += 1;
        }
    }
    *counts.by_type.entry(entity_type).or_default() += 1;
}
