//! `/`: the entity chart. One row per entity and one column per key attribute of the table
//! (its partition and sort key, then each index's), each cell the template the entity writes
//! there, as a single-table designer sketches a table; then each entity's range queries and the
//! collections, drawn as trees of their joins.

use std::sync::Arc;

use axum::extract::State as Extract;
use maud::{html, Markup};

use super::{address, layout, State};
use crate::describe::{CollectionFile, JoinFile, TableFile};

pub(super) async fn page(Extract(state): Extract<Arc<State>>) -> Markup {
    let file = &state.file;
    // The key attributes, as (attribute, what it is).
    let mut columns: Vec<(String, String)> = vec![
        (file.partition_key.clone(), "partition key".into()),
        (file.sort_key.clone(), "sort key".into()),
    ];
    for index in &file.indexes {
        columns.push((index.partition_key.clone(), format!("{} pk", index.name)));
        columns.push((index.sort_key.clone(), format!("{} sk", index.name)));
    }
    let body = html! {
        h1 { "Entity chart" }
        p.lead {
            "Table " code data-table { (state.name) } " at " (state.target.place)
            ", separator " code { (file.separator) }
            @if let Some(index) = &file.type_index { ", type index " code { (index) } }
            @if let Some(index) = &file.tenant_type_index { ", tenant type index " code { (index) } }
            @if let Some(ttl) = &file.ttl_attribute { ", time to live " code { (ttl) } }
        }
        table.chart data-chart {
            thead {
                tr {
                    th { "entity (_type)" }
                    @for (attribute, what) in &columns {
                        th { code { (attribute) } br; small { (what) } }
                    }
                    th { "tenant" }
                    th { "range queries" }
                    th { "browse" }
                }
            }
            tbody {
                @for entity in &file.entities {
                    @let name = entity.entity_type.as_str();
                    tr data-entity=(name) {
                        th { (name) }
                        td { code data-template="pk" { (entity.pk) } }
                        td {
                            @if let Some(sk) = &entity.sk { code data-template="sk" { (sk) } }
                        }
                        @for index in &file.indexes {
                            @let keys = entity.index_keys.get(&index.name);
                            @let carried = entity.indexes.contains(&index.name);
                            @for (i, template) in [keys.map(|k| &k.pk), keys.map(|k| &k.sk)].into_iter().enumerate() {
                                td {
                                    @match template {
                                        Some(template) => code data-template=(format!("{}.{}", index.name, if i == 0 { "pk" } else { "sk" })) { (template) },
                                        None if carried => small { "(carried)" },
                                        None => {},
                                    }
                                }
                            }
                        }
                        td { @if let Some(tenant) = &entity.tenant { code { "<" (tenant) ">" } } }
                        td {
                            @for range in &entity.ranges {
                                @for (op, template) in range.operators() {
                                    div data-range=(range.name) {
                                        code { (range.name) } " " (op) " " code { (template) }
                                    }
                                }
                            }
                        }
                        td { a href=(address("/partition", &[("entity", name)])) { "partition" } }
                    }
                }
            }
        }
        h2 { "Collections" }
        @if file.collections.is_empty() {
            p { "The description declares no collection." }
        }
        @for collection in &file.collections {
            section.collection data-collection=(collection.name) {
                h3 {
                    (collection.name)
                    " "
                    a href=(address("/collection", &[("name", &collection.name)])) { "open" }
                }
                ul.tree { (tree(file, collection)) }
            }
        }
    };
    layout("Entity chart", "chart", body)
}

/// A collection's root and its joins, nested collections expanded.
fn tree(file: &TableFile, collection: &CollectionFile) -> Markup {
    let sk = file
        .entity(&collection.root)
        .and_then(|e| e.sk.as_deref())
        .unwrap_or("");
    html! {
        li {
            span.type { (collection.root) } " "
            code { (sk) }
            ul {
                @for join in &collection.join { (joined(file, join)) }
            }
        }
    }
}

fn joined(file: &TableFile, join: &JoinFile) -> Markup {
    let relation: Vec<String> = join
        .on
        .iter()
        .map(|(child, parent)| format!("{child} = {parent}"))
        .collect();
    html! {
        li data-join=(join.field) {
            code { (join.field) } ": "
            @if let Some(entity_type) = &join.entity_type {
                span.type { (entity_type) } " "
                @if let Some(sk) = file.entity(entity_type).and_then(|e| e.sk.as_deref()) { code { (sk) } }
            }
            @if !relation.is_empty() { " on " (relation.join(", ")) }
            @else { " by type" }
            @if let Some(order) = &join.order_by { ", ordered by " code { (order) } }
            @if let Some(nested) = join.collection.as_deref().and_then(|n| file.collection(n)) {
                " (collection " (nested.name) ")"
                ul.tree { (tree(file, nested)) }
            }
        }
    }
}
