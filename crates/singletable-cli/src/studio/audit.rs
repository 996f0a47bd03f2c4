//! `/audit`: an item's audit trail as a timeline, newest first, each record with the old → new
//! value of every field its write changed. The address names the entity and the values of its
//! key placeholders (`?entity=TEAM&tenant_id=t1&organization_id=o1&id=a`), as the partition
//! and collection pages link to it; the records are read with the runtime's
//! [`AuditTrail`], in the item's tenant scope, one page at a time with its cursor.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as Extract};
use axum::http::StatusCode;
use maud::{html, Markup};
use singletable_core::{tenant, AuditRecord, AuditTrail};
use time::format_description::well_known::Rfc3339;

use super::{
    address, json, layout, params, params_form, render_key, show, template_params, PageError,
    Params, State,
};
use crate::error::Error;

/// Records per page.
const PAGE_SIZE: usize = 20;

pub(super) async fn page(
    Extract(state): Extract<Arc<State>>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<(StatusCode, Markup), PageError> {
    let params = params(query)?;
    let entity_type = params
        .get("entity")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| PageError::BadRequest("the address names no `entity`".into()))?;
    let entity = state.entity(entity_type)?;
    let fields: Vec<String> = entity.params().collect();
    let form = params_form(
        "/audit",
        &[("entity", entity_type)],
        &fields,
        &params,
        "Show trail",
    );
    let title = format!("Audit trail of {entity_type}");
    if !fields.iter().any(|f| params.contains_key(f)) {
        let body = html! { h1 { (title) } p { "The key of the item:" } (form) };
        return Ok((StatusCode::OK, layout(&title, "", body)));
    }
    // Both keys must render, which checks every value as a write would.
    let separator = state.separator();
    let checked = render_key(entity_type, "pk", &entity.pk, &params, separator).and_then(|_| {
        match &entity.sk {
            Some(sk) => render_key(entity_type, "sk", sk, &params, separator).map(drop),
            None => Ok(()),
        }
    });
    if let Err(PageError::BadRequest(message)) = checked {
        let body = html! { h1 { (title) } p.error data-error { (message) } (form) };
        return Ok((StatusCode::BAD_REQUEST, layout(&title, "", body)));
    }
    // The trail's id: the key values other than the tenant, in template order, as the runtime
    // names an entity in its records.
    let mut tenant_id = None;
    let mut id = String::new();
    for template in [Some(&entity.pk), entity.sk.as_ref()].into_iter().flatten() {
        for param in template_params(template) {
            let value = params.get(&param).cloned().unwrap_or_default();
            if entity.tenant.as_deref() == Some(param.as_str()) {
                tenant_id = Some(value);
                continue;
            }
            if !id.is_empty() {
                id.push(separator);
            }
            id.push_str(&value);
        }
    }
    let cursor = params.get("cursor").filter(|c| !c.is_empty());
    let trail = AuditTrail::by_id(&state.table, entity_type, &id)
        .page(PAGE_SIZE, cursor.map(String::as_str));
    let page = match tenant_id {
        Some(tenant) => tenant::scope(tenant, trail).await,
        None => trail.await,
    };
    let page = page.map_err(|error| match error {
        error @ singletable_core::Error::Sdk { .. } => {
            PageError::from(Error::core(error, &state.name, &state.target.place))
        }
        other => PageError::BadRequest(other.to_string()),
    })?;
    let next = page.cursor.as_deref().map(|cursor| {
        let mut link: Vec<(&str, &str)> = params
            .iter()
            .filter(|(name, _)| name.as_str() != "cursor")
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        link.push(("cursor", cursor));
        address("/audit", &link)
    });
    let body = html! {
        h1 { (title) }
        (form)
        p.lead { "Entity id " code { (id) } ", newest first." }
        @if page.items.is_empty() {
            p data-no-records { "No audit record: the entity is not audited, or the item was never written." }
        }
        ol.timeline data-timeline {
            @for record in &page.items { (entry(record)) }
        }
        nav.pages { @if let Some(next) = &next { a data-next href=(next) { "older records" } } }
    };
    Ok((StatusCode::OK, layout(&title, "", body)))
}

fn entry(record: &AuditRecord) -> Markup {
    let at = record
        .timestamp
        .format(&Rfc3339)
        .unwrap_or_else(|_| record.timestamp.to_string());
    let value = |value: &Option<aws_sdk_dynamodb::types::AttributeValue>| {
        value
            .as_ref()
            .map_or_else(|| "—".to_owned(), |v| show(&json(v)))
    };
    html! {
        li.record data-action=(record.action.as_str()) data-revision=[record.revision] {
            div.when {
                time datetime=(at) { (at) } " "
                span.action { (record.action.as_str()) }
                @if let Some(actor) = &record.actor { " by " span data-actor { (actor) } }
                @if let Some(revision) = record.revision { " · revision " (revision) }
            }
            table.changes {
                @for (field, change) in &record.changes {
                    tr data-change=(field) {
                        th { (field) }
                        td.old data-old { (value(&change.old)) }
                        td.arrow { "→" }
                        td.new data-new { (value(&change.new)) }
                    }
                }
            }
        }
    }
}
