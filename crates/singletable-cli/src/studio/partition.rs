//! `/partition`: the partition browser. The address names an entity and the values of its
//! partition key template's placeholders (`?entity=TEAM&tenant_id=t1&organization_id=o1`),
//! never the raw key; the page shows one page of the partition's items (one Query with a limit,
//! `&size=N`), grouped by type, each decoded with its key parsed back into parameters, and a
//! link to the next page that carries the cursor (`&cursor=...`). With `&range=NAME` and the
//! values of its template, one of the entity's range queries narrows the sort keys.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as Extract};
use axum::http::StatusCode;
use maud::{html, Markup};

use super::{
    address, item_card, layout, make_cursor, open_cursor, params, render_key, template_params,
    PageError, Params, RawItem, SortKey, State, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE,
};
use crate::describe::RangeFile;
use singletable_keys::prefix_upper_bound;

/// The parameters of the address that are not key parameters.
const RESERVED: &[&str] = &["entity", "cursor", "size"];

pub(super) async fn page(
    Extract(state): Extract<Arc<State>>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<(StatusCode, Markup), PageError> {
    let params = params(query)?;
    let Some(entity_type) = params.get("entity").filter(|t| !t.is_empty()) else {
        let body = html! {
            h1 { "Partitions" }
            p { "Choose the entity whose partition key template names the partition." }
            (form(&state, None, &params))
        };
        return Ok((StatusCode::OK, layout("Partitions", "partition", body)));
    };
    let entity = state.entity(entity_type)?;
    let names = template_params(&entity.pk);
    let given = names.iter().any(|name| params.contains_key(name));
    if !given {
        let body = html! {
            h1 { "Partitions of " (entity_type) }
            (form(&state, Some(entity_type), &params))
        };
        return Ok((StatusCode::OK, layout("Partitions", "partition", body)));
    }
    let refused = |message: String| {
        let body = html! {
            h1 { "Partitions of " (entity_type) }
            p.error data-error { (message) }
            (form(&state, Some(entity_type), &params))
        };
        (
            StatusCode::BAD_REQUEST,
            layout("Partitions", "partition", body),
        )
    };
    let pk = match render_key(entity_type, "pk", &entity.pk, &params, state.separator()) {
        Ok(pk) => pk,
        Err(PageError::BadRequest(message)) => return Ok(refused(message)),
        Err(other) => return Err(other),
    };
    let range = match params.get("range").filter(|r| !r.is_empty()) {
        None => None,
        Some(name) => match entity.ranges.iter().find(|r| &r.name == name) {
            Some(range) => Some(range),
            None => {
                let names: Vec<&str> = entity.ranges.iter().map(|r| r.name.as_str()).collect();
                return Ok(refused(format!(
                    "{entity_type} has no range query `{name}`; range queries: {}",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )));
            }
        },
    };
    if let Some(range) = range {
        let fields = range_fields(range, &names);
        if !fields.iter().any(|field| params.contains_key(field)) {
            let body = html! {
                h1 { "Partitions of " (entity_type) }
                (form(&state, Some(entity_type), &params))
            };
            return Ok((StatusCode::OK, layout("Partitions", "partition", body)));
        }
    }
    let sort =
        match range.map(|range| range_condition(entity_type, range, &params, state.separator())) {
            None => None,
            Some(Ok(sort)) => Some(sort),
            Some(Err(PageError::BadRequest(message))) => return Ok(refused(message)),
            Some(Err(other)) => return Err(other),
        };
    let size = match params.get("size").map(|s| s.parse::<usize>()) {
        None => DEFAULT_PAGE_SIZE,
        Some(Ok(size)) if (1..=MAX_PAGE_SIZE).contains(&size) => size,
        Some(_) => {
            return Ok(refused(format!(
                "size `{}` is not a page size from 1 to {MAX_PAGE_SIZE}",
                params["size"]
            )))
        }
    };
    let start = match params.get("cursor").filter(|c| !c.is_empty()) {
        Some(cursor) => match open_cursor(cursor, &state.file, &pk) {
            Ok(start) => Some(start),
            Err(PageError::BadRequest(message)) => return Ok(refused(message)),
            Err(other) => return Err(other),
        },
        None => None,
    };
    let first_page = start.is_none();
    let (items, last) = state.query(&pk, sort.as_ref(), Some(size), start).await?;
    let mut link: Vec<(&str, &str)> = vec![("entity", entity_type.as_str())];
    link.extend(
        params
            .iter()
            .filter(|(name, _)| !RESERVED.contains(&name.as_str()))
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    let size_text = size.to_string();
    if size != DEFAULT_PAGE_SIZE {
        link.push(("size", &size_text));
    }
    let next = last.map(|last| {
        let cursor = make_cursor(&last);
        let mut next = link.clone();
        next.push(("cursor", &cursor));
        address("/partition", &next)
    });
    let groups = group(&items);
    let body = html! {
        h1 { "Partitions of " (entity_type) }
        (form(&state, Some(entity_type), &params))
        p.lead {
            "Partition " code data-partition { (pk) }
            @if let Some(range) = range {
                @for (op, template) in range.operators() {
                    ", range " code { (range.name) } " (" (op) " " code { (template) } ")"
                }
            }
            ": "
            span data-page-items { (items.len()) } " item" @if items.len() != 1 { "s" }
            @if !first_page { " (a later page)" }
            @else if next.is_none() { ", the whole partition" }
        }
        @for (entity_type, items) in &groups {
            section.group data-group=(entity_type) {
                h2 { (entity_type) " " small { "(" (items.len()) ")" } }
                @for item in items { (item_card(&state, item)) }
            }
        }
        nav.pages {
            @if !first_page { a data-first href=(address("/partition", &link)) { "first page" } }
            @if let Some(next) = &next { a data-next href=(next) { "next page" } }
        }
    };
    Ok((StatusCode::OK, layout("Partitions", "partition", body)))
}

/// The items by type, in the order the types first appear.
fn group(items: &[RawItem]) -> Vec<(&str, Vec<&RawItem>)> {
    let mut groups: Vec<(&str, Vec<&RawItem>)> = Vec::new();
    for item in items {
        let entity_type = item.type_name();
        match groups.iter_mut().find(|(t, _)| *t == entity_type) {
            Some((_, group)) => group.push(item),
            None => groups.push((entity_type, vec![item])),
        }
    }
    groups
}

/// The lookup form: the entity, and the placeholders of its partition key template. It sends
/// with GET, so the address it opens is the one a link or a test can open.
fn form(state: &State, entity_type: Option<&str>, params: &Params) -> Markup {
    let entity = entity_type.and_then(|t| state.file.entity(t));
    let fields = entity.map(|e| template_params(&e.pk)).unwrap_or_default();
    let range = entity.and_then(|e| {
        let name = params.get("range")?;
        e.ranges.iter().find(|r| &r.name == name)
    });
    html! {
        form.params method="get" action="/partition" data-form="partition" {
            label {
                span { "entity" }
                select name="entity" data-autosubmit="alone" {
                    @if entity.is_none() { option value="" selected { "choose…" } }
                    @for e in &state.file.entities {
                        option value=(e.entity_type) selected[Some(e.entity_type.as_str()) == entity_type] {
                            (e.entity_type)
                        }
                    }
                }
            }
            @if let Some(entity) = entity {
                code.template { (entity.pk) }
                @for name in &fields {
                    label {
                        span { (name) }
                        input type="text" name=(name) value=[params.get(name)] required;
                    }
                }
                @if !entity.ranges.is_empty() {
                    label {
                        span { "range query" }
                        select name="range" data-autosubmit="keep" {
                            option value="" selected[range.is_none()] { "(the whole partition)" }
                            @for r in &entity.ranges {
                                option value=(r.name) selected[range == Some(r)] { (r.name) }
                            }
                        }
                    }
                }
                @if let Some(range) = range {
                    @for (op, template) in range.operators() {
                        code.template { (op) " " (template) }
                    }
                    @for name in range_fields(range, &fields) {
                        label {
                            span { (name) }
                            input type="text" name=(name) value=[params.get(&name)] required data-range-field;
                        }
                    }
                }
                button type="submit" { "Show partition" }
            }
        }
    }
}

/// The inputs a range query asks for beyond the partition's `known` ones: its template's
/// placeholders, or for `between` each of them twice, as `from_<name>` and `to_<name>`.
fn range_fields(range: &RangeFile, known: &[String]) -> Vec<String> {
    let mut fields = Vec::new();
    for (op, template) in range.operators() {
        for param in template_params(template) {
            if op == "between" {
                fields.push(format!("from_{param}"));
                fields.push(format!("to_{param}"));
            } else if !known.contains(&param) {
                fields.push(param);
            }
        }
    }
    fields
}

/// The sort key condition of `range` with the values of `params`, bounded as the derive's
/// range queries are (see [`prefix_upper_bound`]).
fn range_condition(
    entity_type: &str,
    range: &RangeFile,
    params: &Params,
    separator: char,
) -> Result<SortKey, PageError> {
    let operators = range.operators();
    let [(op, template)] = operators[..] else {
        return Err(PageError::BadRequest(format!(
            "range `{}` has no single operator",
            range.name
        )));
    };
    let which = format!("range `{}`", range.name);
    let render = |prefix: &str| {
        let named: Params = template_params(template)
            .into_iter()
            .filter_map(|param| {
                let value = params.get(&format!("{prefix}{param}"))?;
                Some((param, value.clone()))
            })
            .collect();
        let which = if prefix.is_empty() {
            which.clone()
        } else {
            format!("{which} ({prefix}…)")
        };
        render_key(entity_type, &which, template, &named, separator)
    };
    Ok(match op {
        "between" => {
            let (low, high) = (render("from_")?, render("to_")?);
            if low > high {
                return Err(PageError::BadRequest(format!(
                    "{entity_type}: range `{}`: `from` ({low}) sorts after `to` ({high})",
                    range.name
                )));
            }
            SortKey::Between(low, prefix_upper_bound(&high, separator))
        }
        "eq" => SortKey::Compare("=", render("")?),
        "begins_with" => SortKey::BeginsWith(render("")?),
        "lt" => SortKey::Compare("<", render("")?),
        "le" => SortKey::Compare("<=", prefix_upper_bound(&render("")?, separator)),
        "gt" => SortKey::Compare(">", prefix_upper_bound(&render("")?, separator)),
        _ => SortKey::Compare(">=", render("")?),
    })
}
