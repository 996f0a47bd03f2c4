//! `/collection`: a collection as a tree. The address names the collection and the values of
//! its root entity's key placeholders (`?name=TeamWithMembers&tenant_id=t1&organization_id=o1&id=a`);
//! the page reads the root's partition with one Query (narrowed to the root's sort key when
//! every joined entity's sort key extends it, as the runtime's collections do), following its
//! pages, and draws the root with its joined items nested under it, joined by relation or by
//! type as the description says. Soft-deleted and expired items are left out, as collection
//! reads leave them out.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as Extract};
use axum::http::StatusCode;
use maud::{html, Markup};
use singletable_core::item::DELETED_ATTRIBUTE;
use singletable_core::Template;

use super::{
    address, fields, item_links, layout, params, params_form, render_key, show, PageError, Params,
    RawItem, SortKey, State,
};
use crate::describe::{CollectionFile, EntityFile, JoinFile, TableFile};

/// The most items a collection page reads: a tree larger than this is no longer readable.
const MAX_ITEMS: usize = 5_000;

/// An item with what is joined to it, by field.
struct Node<'a> {
    item: &'a RawItem,
    joins: Vec<(&'a str, Vec<Node<'a>>)>,
}

pub(super) async fn page(
    Extract(state): Extract<Arc<State>>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<(StatusCode, Markup), PageError> {
    let params = params(query)?;
    let file = &state.file;
    let Some(name) = params.get("name").filter(|n| !n.is_empty()) else {
        let body = html! {
            h1 { "Collections" }
            @if file.collections.is_empty() { p { "The description declares no collection." } }
            ul {
                @for collection in &file.collections {
                    li {
                        a href=(address("/collection", &[("name", &collection.name)])) { (collection.name) }
                        " rooted at " span.type { (collection.root) }
                    }
                }
            }
        };
        return Ok((StatusCode::OK, layout("Collections", "collection", body)));
    };
    let collection = file.collection(name).ok_or_else(|| {
        PageError::BadRequest(format!("no collection `{name}` in the description"))
    })?;
    let root = state.entity(&collection.root)?;
    let fields: Vec<String> = root.params().collect();
    let form = params_form(
        "/collection",
        &[("name", name)],
        &fields,
        &params,
        "Show collection",
    );
    let title = format!("{name} ({})", collection.root);
    if !fields.iter().any(|f| params.contains_key(f)) {
        let body = html! { h1 { (title) } p { "The key of the root:" } (form) };
        return Ok((StatusCode::OK, layout(name, "collection", body)));
    }
    let keys = render_key(
        &root.entity_type,
        "pk",
        &root.pk,
        &params,
        state.separator(),
    )
    .and_then(|pk| {
        let sk = match &root.sk {
            Some(template) => render_key(
                &root.entity_type,
                "sk",
                template,
                &params,
                state.separator(),
            )?,
            None => String::new(),
        };
        Ok((pk, sk))
    });
    let (pk, sk) = match keys {
        Ok(keys) => keys,
        Err(PageError::BadRequest(message)) => {
            let body = html! { h1 { (title) } p.error data-error { (message) } (form) };
            return Ok((StatusCode::BAD_REQUEST, layout(name, "collection", body)));
        }
        Err(other) => return Err(other),
    };
    let narrow = narrows(file, collection, root);
    let prefix = narrow.then(|| SortKey::BeginsWith(sk.clone()));
    let items = read(&state, &pk, prefix.as_ref()).await?;
    let nested = format!("{sk}{}", state.separator());
    let members: Vec<&RawItem> = items
        .iter()
        .filter(|item| !narrow || item.sk == sk || item.sk.starts_with(&nested))
        .collect();
    let root_item = members
        .iter()
        .find(|item| item.sk == sk && item.entity_type.as_deref() == Some(&root.entity_type));
    let body = match root_item {
        None => html! {
            h1 { (title) }
            (form)
            p.error data-error {
                "No " (root.entity_type) " item at partition " code { (pk) } " sort key " code { (sk) }
            }
        },
        Some(root_item) => {
            let pool: Vec<&RawItem> = members
                .iter()
                .copied()
                .filter(|item| !std::ptr::eq(*item, *root_item))
                .collect();
            let tree = Node {
                item: root_item,
                joins: assemble(file, collection, root_item, &pool),
            };
            html! {
                h1 { (title) }
                (form)
                p.lead {
                    "Partition " code { (pk) } ", " (items.len()) " item"
                    @if items.len() != 1 { "s" } " read"
                    @if narrow { " (sort keys from " code { (sk) } ")" }
                }
                ul.tree data-tree=(name) { (node(&state, &tree)) }
            }
        }
    };
    Ok((StatusCode::OK, layout(name, "collection", body)))
}

/// Whether every entity of the tree has a sort key that extends the root's, so that the root's
/// sort key narrows the query.
fn narrows(file: &TableFile, collection: &CollectionFile, root: &EntityFile) -> bool {
    let Some(root_sk) = root.sk.as_deref().and_then(|t| Template::parse(t).ok()) else {
        return false;
    };
    let mut types = Vec::new();
    members(file, collection, &mut types);
    types.iter().all(|entity| {
        entity
            .sk
            .as_deref()
            .and_then(|t| Template::parse(t).ok())
            .is_some_and(|sk| sk.extends(&root_sk))
    })
}

/// Every joined entity of the tree, nested collections' included.
fn members<'f>(file: &'f TableFile, collection: &CollectionFile, out: &mut Vec<&'f EntityFile>) {
    for join in &collection.join {
        if let Some(entity) = join.entity_type.as_deref().and_then(|t| file.entity(t)) {
            out.push(entity);
        }
        if let Some(nested) = join.collection.as_deref().and_then(|n| file.collection(n)) {
            if let Some(entity) = file.entity(&nested.root) {
                out.push(entity);
            }
            members(file, nested, out);
        }
    }
}

/// Every live item of the partition (sort keys beginning with `prefix`), up to [`MAX_ITEMS`].
async fn read(
    state: &State,
    pk: &str,
    prefix: Option<&SortKey>,
) -> Result<Vec<RawItem>, PageError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let ttl = state.file.ttl_attribute.as_deref();
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let (page, last) = state.query(pk, prefix, None, start).await?;
        items.extend(page.into_iter().filter(|item| {
            let deleted = item.attribute(DELETED_ATTRIBUTE).is_some();
            let expired = ttl
                .and_then(|ttl| item.attribute(ttl))
                .and_then(serde_json::Value::as_f64)
                .is_some_and(|at| at < now);
            !deleted && !expired
        }));
        if items.len() > MAX_ITEMS {
            return Err(PageError::BadRequest(format!(
                "the collection has more than {MAX_ITEMS} items, too many to draw; browse its \
                 partition instead"
            )));
        }
        match last {
            Some(last) => start = Some(last),
            None => return Ok(items),
        }
    }
}

/// The joins of `collection` under `parent`, from `pool`.
fn assemble<'a>(
    file: &'a TableFile,
    collection: &'a CollectionFile,
    parent: &'a RawItem,
    pool: &[&'a RawItem],
) -> Vec<(&'a str, Vec<Node<'a>>)> {
    collection
        .join
        .iter()
        .map(|join| {
            let nested = join.collection.as_deref().and_then(|n| file.collection(n));
            let child_type = nested.map_or(join.entity_type.as_deref(), |c| Some(c.root.as_str()));
            let mut children: Vec<&RawItem> = pool
                .iter()
                .copied()
                .filter(|item| item.entity_type.as_deref() == child_type)
                .filter(|item| related(join, parent, item))
                .collect();
            if let Some(order) = &join.order_by {
                children.sort_by(|a, b| compare(a.attribute(order), b.attribute(order)));
            }
            let nodes = children
                .into_iter()
                .map(|item| Node {
                    item,
                    joins: nested.map_or_else(Vec::new, |c| assemble(file, c, item, pool)),
                })
                .collect();
            (join.field.as_str(), nodes)
        })
        .collect()
}

/// Whether `child` belongs to `parent` by the join's relation (always, for a join by type).
fn related(join: &JoinFile, parent: &RawItem, child: &RawItem) -> bool {
    join.on.iter().all(|(child_param, parent_param)| {
        let value = child.key(child_param);
        value.is_some() && value == parent.key(parent_param)
    })
}

/// Numbers by value, everything else by its text; an absent value last.
fn compare(a: Option<&serde_json::Value>, b: Option<&serde_json::Value>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            _ => show(a).cmp(&show(b)),
        },
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn node(state: &State, node: &Node<'_>) -> Markup {
    let item = node.item;
    html! {
        li.node data-node=(item.type_name()) {
            details open {
                summary {
                    span.type { (item.type_name()) } " "
                    code.key { (item.sk) }
                    @for (name, value) in &item.keys {
                        " " span.param { (name) " = " span data-param=(name) { (value) } }
                    }
                    " " (item_links(state, item))
                }
                (fields(&item.attributes, false))
                @for (field, children) in &node.joins {
                    div.join data-children=(field) {
                        h4 { code { (field) } " (" (children.len()) ")" }
                        ul.tree {
                            @for child in children { (self::node(state, child)) }
                        }
                    }
                }
            }
        }
    }
}
