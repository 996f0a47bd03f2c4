//! Every rule the derive can check at compile time, each error spanned at the user's tokens.

use singletable_keys::{Segment, Template, TemplateError};
use syn::LitStr;

use crate::ast::{Entity, Field};
use crate::attr::{self, Autogen, RangeOp};
use crate::ctxt::Ctxt;

/// A key template checked against the struct.
pub struct Key {
    /// The template text, valid for [`Template::parse`].
    pub text: String,
    /// For each placeholder, in order, the index of the field that fills it.
    pub fields: Vec<usize>,
}

/// A named range query checked against the sort key template.
pub struct RangeQuery {
    pub name: syn::Ident,
    pub op: RangeOp,
    pub key: Key,
}

/// A secondary index's key templates, checked against the struct.
pub struct IndexQuery {
    /// The index name on the table.
    pub name: String,
    /// The generated query function.
    pub query: syn::Ident,
    pub pk: Key,
    pub sk: Key,
    /// Named range queries on the index sort key.
    pub ranges: Vec<RangeQuery>,
    /// Declared `lookup`: read for the owning tenant and key, without a scope.
    pub lookup: bool,
}

/// The entity's checked key templates.
pub struct Keys {
    pub type_name: String,
    pub pk: Key,
    pub sk: Key,
    pub ranges: Vec<RangeQuery>,
    pub indexes: Vec<IndexQuery>,
    /// The field filled from the tenant scope.
    pub tenant: Option<usize>,
    /// The `#[entity(version)]` field.
    pub version: Option<usize>,
    /// The `#[entity(ttl)]` field.
    pub ttl: Option<usize>,
    /// The `#[entity(unique)]` fields, in declaration order.
    pub unique: Vec<usize>,
    /// The schema version (1 when not declared).
    pub schema: u32,
    /// The oldest schema whose builds can read this one's items (the schema when not declared).
    pub compatible: u32,
}

impl Keys {
    /// The fields any index key is made of, by index.
    pub fn index_fields(&self) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for index in &self.indexes {
            for &i in index.pk.fields.iter().chain(&index.sk.fields) {
                if !out.contains(&i) {
                    out.push(i);
                }
            }
        }
        out
    }
}

impl Keys {
    /// Indices of the fields used in a key, in first-use order, without repeats.
    pub fn fields(&self) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for &i in self.pk.fields.iter().chain(&self.sk.fields) {
            if !out.contains(&i) {
                out.push(i);
            }
        }
        out
    }
}

/// Attribute names the table keeps for itself.
const RESERVED: &[&str] = &["_type", "_timestamp"];

pub fn check(cx: &mut Ctxt, entity: &Entity, input: &syn::DeriveInput) -> Option<Keys> {
    let attrs = &entity.attrs;
    let type_name = match &attrs.type_name {
        Some(lit) if lit.value().is_empty() => {
            cx.error_spanned_by(lit, "entity `type` cannot be empty");
            None
        }
        Some(lit) if lit.value().starts_with('_') => {
            cx.error_spanned_by(
                lit,
                "entity types starting with `_` are reserved for the library's own items, such as the `_UNIQUE` guards of unique fields",
            );
            None
        }
        Some(lit) => Some(lit.value()),
        None => {
            if !attrs.malformed {
                cx.error_spanned_by(
                    &input.ident,
                    "missing `#[entity(type = \"...\")]`: the `_type` every item of this entity carries",
                );
            }
            None
        }
    };
    let pk = key(cx, entity, attrs.pk.as_ref(), "pk");
    let sk = key(cx, entity, attrs.sk.as_ref(), "sk");
    // Field rules run even when a template failed, so every mistake shows at once.
    let key_fields: Vec<usize> = pk
        .iter()
        .chain(&sk)
        .flat_map(|k| k.fields.clone())
        .collect();
    for (i, field) in entity.fields.iter().enumerate() {
        check_field(cx, field, key_fields.contains(&i), attrs.serde_default);
    }
    check_params(cx, entity, &key_fields);
    let sk = sk?;
    let ranges = range_queries(cx, entity, &attrs.ranges, &sk, "the sort key template");
    let mut indexes: Vec<IndexQuery> = Vec::new();
    // The attribute of each checked index, for errors: an index that failed has no query.
    let mut declared: Vec<&attr::IndexAttr> = Vec::new();
    for index in &attrs.indexes {
        let Some(query) = index_query(cx, entity, index) else {
            continue;
        };
        if indexes.iter().any(|i| i.name == query.name) {
            cx.error_spanned_by(&index.name, format!("duplicate index `{}`", query.name));
        }
        if indexes.iter().any(|i| i.query == query.query) {
            cx.error_spanned_by(&index.query, format!("duplicate query `{}`", query.query));
        }
        indexes.push(query);
        declared.push(index);
    }
    let pk = pk?;
    let tenant = tenant_field(cx, entity, &pk);
    if let Some(tenant) = tenant {
        for (index, attr) in indexes.iter().zip(declared) {
            let param = entity.fields[tenant].param_name();
            if index.lookup && index.pk.fields.contains(&tenant) {
                cx.error_spanned_by(
                    &attr.pk,
                    format!(
                        "lookup `{}` has `<{param}>` in its pk: a lookup finds the tenant, so its key cannot need it; drop `lookup` for an index read in a tenant's scope",
                        index.name,
                    ),
                );
            } else if !index.lookup && !index.pk.fields.contains(&tenant) {
                cx.error_spanned_by(
                    &attr.pk,
                    format!(
                        "index `{}` of a tenant-scoped entity must have `<{param}>` in its pk: an index partition without the tenant would list every tenant's items; declare it `lookup` to find the owning tenant and key only",
                        index.name,
                    ),
                );
            }
        }
    }
    let version = version_field(cx, entity, &key_fields);
    let ttl = ttl_field(cx, entity, &key_fields);
    let unique = unique_fields(cx, entity, &key_fields);
    let schema = schema(cx, entity);
    let compatible = compatible(cx, entity, schema);
    Some(Keys {
        type_name: type_name?,
        pk,
        sk,
        ranges,
        indexes,
        tenant,
        version,
        ttl,
        unique,
        schema,
        compatible,
    })
}

/// `compatible = M`: builds of schema M (from 1) to this one's can read its items, so M is at
/// most the schema; the schema when not declared.
fn compatible(cx: &mut Ctxt, entity: &Entity, schema: u32) -> u32 {
    let Some(lit) = &entity.attrs.compatible else {
        return schema;
    };
    match lit.base10_parse::<u32>() {
        Ok(n) if (1..schema).contains(&n) => n,
        _ if schema == 1 => {
            cx.error_spanned_by(
                lit,
                "`compatible` needs `schema = N` (N from 2): it names an older schema whose builds can read this one's items",
            );
            schema
        }
        _ => {
            cx.error_spanned_by(
                lit,
                format!(
                    "`compatible` names an older schema whose builds can read items of schema {schema}: a whole number from 1, below {schema}"
                ),
            );
            schema
        }
    }
}

/// `schema = N` (from 1) and `upgrade = f`: a schema past 1 needs an upgrade from the older
/// ones, and an upgrade needs a schema to upgrade to.
fn schema(cx: &mut Ctxt, entity: &Entity) -> u32 {
    let attrs = &entity.attrs;
    let schema = match &attrs.schema {
        None => 1,
        Some(lit) => match lit.base10_parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => {
                cx.error_spanned_by(lit, "the schema version is a whole number from 1");
                1
            }
        },
    };
    match (&attrs.upgrade, &attrs.schema) {
        (None, Some(lit)) if schema > 1 => cx.error_spanned_by(
            lit,
            format!(
                "items written before schema {schema} need `upgrade = path::to::fn`, a `fn(from: u32, item: &mut Item) -> Result<(), String>` that brings an item of schema `from` to `from + 1`"
            ),
        ),
        (Some(upgrade), _) if schema == 1 => cx.error_spanned_by(
            upgrade,
            "`upgrade` needs `schema = N` (N from 2): the version items are upgraded to",
        ),
        _ => {}
    }
    schema
}

fn key(cx: &mut Ctxt, entity: &Entity, lit: Option<&LitStr>, which: &str) -> Option<Key> {
    let Some(lit) = lit else {
        if entity.attrs.malformed {
            return None;
        }
        cx.error_spanned_by(
            entity.ident,
            format!(
                "missing `#[entity({which} = \"...\")]`: every entity needs a {which} template"
            ),
        );
        return None;
    };
    let text = lit.value();
    let template = match Template::parse(&text) {
        Ok(template) => template,
        Err(error) => {
            let hint = match error {
                TemplateError::Empty => {
                    "; write literal text and `<field>` placeholders, like `TENANT#<tenant_id>`"
                }
                _ => "",
            };
            cx.error_spanned_by(lit, format!("invalid {which} template: {error}{hint}"));
            return None;
        }
    };
    let mut fields = Vec::new();
    for param in template.params() {
        match entity.fields.iter().position(|f| f.param_name() == param) {
            Some(i) => fields.push(i),
            None => {
                let hint = did_you_mean(param, entity.fields.iter().map(|f| f.param_name()))
                    .map(|name| format!("; did you mean `{name}`?"))
                    .unwrap_or_default();
                cx.error_spanned_by(
                    lit,
                    format!("unknown placeholder `<{param}>` in {which}: no field `{param}`{hint}"),
                );
            }
        }
    }
    (fields.len() == template.params().count()).then_some(Key { text, fields })
}

/// Methods every generated query has; a range query cannot take their names.
const QUERY_METHODS: &[&str] = &[
    "sort_key",
    "filter",
    "limit",
    "page_size",
    "include_deleted",
    "descending",
    "consistent_read",
    "all",
    "page",
    "stream",
    "count",
    "project",
    "into_query",
];

/// The `#[entity(tenant)]` field: one at most, a `String`, part of the partition key (which is
/// what keeps tenants apart), never generated.
fn tenant_field(cx: &mut Ctxt, entity: &Entity, pk: &Key) -> Option<usize> {
    let mut found: Option<usize> = None;
    for (i, field) in entity.fields.iter().enumerate() {
        let Some(attr) = &field.attrs.tenant else {
            continue;
        };
        if found.is_some() {
            cx.error_spanned_by(attr, "only one field can be the tenant");
            continue;
        }
        let is_string = matches!(field.ty, syn::Type::Path(p) if p.qself.is_none() && p.path.is_ident("String"));
        if !is_string {
            cx.error_spanned_by(
                field.ty,
                "the tenant field is a `String`: it holds the tenant id of the scope",
            );
        }
        if !pk.fields.contains(&i) {
            cx.error_spanned_by(
                attr,
                format!("`{}` is the tenant, so it must be a placeholder of the partition key: tenants are kept apart by partition", field.ident),
            );
        }
        if field.attrs.on_create.is_some() || field.attrs.on_update.is_some() {
            cx.error_spanned_by(
                attr,
                "the tenant comes from the tenant scope; it cannot also be generated",
            );
        }
        found = Some(i);
    }
    found
}

/// The `#[entity(version)]` field: one at most, a `u64` outside the key, never generated.
fn version_field(cx: &mut Ctxt, entity: &Entity, key_fields: &[usize]) -> Option<usize> {
    let mut found: Option<usize> = None;
    for (i, field) in entity.fields.iter().enumerate() {
        let Some(attr) = &field.attrs.version else {
            continue;
        };
        if found.is_some() {
            cx.error_spanned_by(attr, "only one field can be the version");
            continue;
        }
        let is_u64 =
            matches!(field.ty, syn::Type::Path(p) if p.qself.is_none() && p.path.is_ident("u64"));
        if !is_u64 {
            cx.error_spanned_by(field.ty, "the version field is a `u64`");
        }
        if key_fields.contains(&i) {
            cx.error_spanned_by(
                attr,
                "the version changes on every write, so it cannot be part of a key",
            );
        }
        if field.attrs.on_create.is_some() || field.attrs.on_update.is_some() {
            cx.error_spanned_by(attr, "the version starts at 0 and grows by 1 on every write; it cannot also be generated");
        }
        found = Some(i);
    }
    found
}

/// The `#[entity(unique)]` fields: stored, outside the key (a key is unique already), not the
/// version (which every write changes). Their types must be key parts (`Option`s of key parts),
/// which the compiler checks through `unique_value`.
fn unique_fields(cx: &mut Ctxt, entity: &Entity, key_fields: &[usize]) -> Vec<usize> {
    let mut found = Vec::new();
    for (i, field) in entity.fields.iter().enumerate() {
        let Some(attr) = &field.attrs.unique else {
            continue;
        };
        let name = field.ident;
        if key_fields.contains(&i) {
            cx.error_spanned_by(
                attr,
                format!("`{name}` is part of the key, which no two items share already; `unique` is for fields outside the key"),
            );
        } else if field.attrs.tenant.is_some() {
            cx.error_spanned_by(
                attr,
                "the tenant field cannot be unique: every item of a tenant holds it",
            );
        }
        if field.attrs.version.is_some() {
            cx.error_spanned_by(
                attr,
                "the version changes on every write, so it cannot be unique",
            );
        }
        if field.attrs.serde_skip {
            cx.error_spanned_by(
                attr,
                format!("`{name}` is not stored (`#[serde(skip)]`), so its values cannot be kept unique"),
            );
        }
        found.push(i);
    }
    found
}

/// The `#[entity(ttl)]` field: one at most, outside the key (its type is checked by the
/// compiler through `Expiry`).
fn ttl_field(cx: &mut Ctxt, entity: &Entity, key_fields: &[usize]) -> Option<usize> {
    let mut found: Option<usize> = None;
    for (i, field) in entity.fields.iter().enumerate() {
        let Some(attr) = &field.attrs.ttl else {
            continue;
        };
        if found.is_some() {
            cx.error_spanned_by(attr, "only one field can be the expiry");
            continue;
        }
        if key_fields.contains(&i) {
            cx.error_spanned_by(attr, "the expiry can change, so it cannot be part of a key");
        }
        found = Some(i);
    }
    found
}

fn index_query(cx: &mut Ctxt, entity: &Entity, index: &attr::IndexAttr) -> Option<IndexQuery> {
    let name = index.name.value();
    let query = match syn::parse_str::<syn::Ident>(&index.query.value()) {
        Ok(query) => Some(query),
        Err(_) => {
            cx.error_spanned_by(
                &index.query,
                format!("`{}` is not a function name", index.query.value()),
            );
            None
        }
    };
    let pk = key(cx, entity, Some(&index.pk), &format!("index `{name}` pk"));
    let sk = key(cx, entity, Some(&index.sk), &format!("index `{name}` sk"));
    for &i in pk.iter().chain(&sk).flat_map(|k| &k.fields) {
        let field = &entity.fields[i];
        if field.attrs.serde_skip || field.attrs.serde_flatten {
            cx.error_spanned_by(
                field.ident,
                format!(
                    "`{}` is used in index `{name}`, so it must be stored",
                    field.ident
                ),
            );
        }
    }
    let sk = sk?;
    let what = format!("index `{name}`'s sort key template");
    let ranges = range_queries(cx, entity, &index.ranges, &sk, &what);
    if let (Some(lookup), Some(range)) = (&index.lookup, index.ranges.first()) {
        cx.error_spanned_by(
            &range.name,
            "a lookup has no range queries: it returns every item holding the value",
        );
        cx.error_spanned_by(lookup, "this index is a lookup");
    }
    Some(IndexQuery {
        name,
        query: query?,
        pk: pk?,
        sk,
        ranges,
        lookup: index.lookup.is_some(),
    })
}

/// The named range queries on the sort key `sk` (described as `what` in errors), each checked,
/// with distinct names.
fn range_queries(
    cx: &mut Ctxt,
    entity: &Entity,
    ranges: &[attr::Range],
    sk: &Key,
    what: &str,
) -> Vec<RangeQuery> {
    let mut checked: Vec<RangeQuery> = Vec::new();
    for range in ranges {
        if let Some(query) = range_query(cx, entity, range, sk, what) {
            if checked.iter().any(|r| r.name == query.name) {
                cx.error_spanned_by(
                    &range.name,
                    format!("duplicate range query `{}`", query.name),
                );
            }
            checked.push(query);
        }
    }
    checked
}

fn range_query(
    cx: &mut Ctxt,
    entity: &Entity,
    range: &attr::Range,
    sk: &Key,
    what: &str,
) -> Option<RangeQuery> {
    let name_text = range.name.value();
    let name = match syn::parse_str::<syn::Ident>(&name_text) {
        Ok(name) if !QUERY_METHODS.contains(&name_text.as_str()) => name,
        Ok(_) => {
            cx.error_spanned_by(
                &range.name,
                format!("`{name_text}` is a method every query has; choose another name"),
            );
            return None;
        }
        Err(_) => {
            cx.error_spanned_by(&range.name, format!("`{name_text}` is not a method name"));
            return None;
        }
    };
    let key = key(
        cx,
        entity,
        Some(&range.template),
        &format!("range `{name_text}`"),
    )?;
    let (Ok(ours), Ok(theirs)) = (Template::parse(&key.text), Template::parse(&sk.text)) else {
        return None;
    };
    if !is_prefix(
        ours.segments(),
        theirs.segments(),
        range.op == RangeOp::BeginsWith,
    ) {
        cx.error_spanned_by(
            &range.template,
            format!(
                "range `{name_text}`: `{}` is not a prefix of {what} `{}`, so it cannot select its items",
                key.text, sk.text
            ),
        );
        return None;
    }
    Some(RangeQuery {
        name,
        op: range.op,
        key,
    })
}

/// Whether `ours` selects keys of `theirs`: the same segments, where the last literal of a
/// `begins_with` may be the start of theirs.
fn is_prefix(ours: &[Segment], theirs: &[Segment], begins_with: bool) -> bool {
    if ours.len() > theirs.len() {
        return false;
    }
    let last = ours.len().saturating_sub(1);
    ours.iter()
        .zip(theirs)
        .enumerate()
        .all(|(i, pair)| match pair {
            (Segment::Literal(a), Segment::Literal(b)) if i == last && begins_with => {
                b.starts_with(a)
            }
            (a, b) => a == b,
        })
}

fn check_field(cx: &mut Ctxt, field: &Field, in_key: bool, container_default: bool) {
    let name = field.ident;
    if in_key {
        if is_option(field.ty) {
            cx.error_spanned_by(
                field.ty,
                format!("`{name}` is used in a key, so it cannot be an `Option`: every key part must have a value"),
            );
        }
        if field.attrs.serde_skip || field.attrs.serde_flatten {
            cx.error_spanned_by(name, format!("`{name}` is used in a key, so it must be stored: remove `#[serde(skip)]`/`#[serde(flatten)]`"));
        }
        if let Some(on_update) = &field.attrs.on_update {
            cx.push(syn::Error::new(
                on_update.span,
                format!("`{name}` is used in a key, and keys never change: it cannot be generated on update"),
            ));
        }
    }
    if is_option(field.ty)
        && field.attrs.custom_deserialize
        && !field.attrs.serde_default
        && !container_default
    {
        cx.error_spanned_by(
            name,
            format!("`{name}` is an `Option` read with a custom serde function, which does not read an absent attribute as `None`; add `#[serde(default)]`"),
        );
    }
    if field.attrs.serde_flatten {
        cx.error_spanned_by(name, "`#[serde(flatten)]` is not supported in an entity: its attribute names are not known at compile time");
    }
    if RESERVED.contains(&field.stored_name.as_str()) {
        cx.error_spanned_by(
            name,
            format!(
                "`{name}` would be stored as `{}`, an attribute the table reserves; rename it",
                field.stored_name
            ),
        );
    }
    if let Some(on_update) = &field.attrs.on_update {
        if !matches!(on_update.value, Autogen::Timestamp | Autogen::Function(_)) {
            cx.push(syn::Error::new(
                on_update.span,
                "`on_update` takes `timestamp` or a path to a function",
            ));
        }
    }
}

fn check_params(cx: &mut Ctxt, entity: &Entity, key_fields: &[usize]) {
    for (i, field) in entity.fields.iter().enumerate() {
        if let Some(param) = &field.attrs.param {
            if !key_fields.contains(&i) {
                cx.error_spanned_by(
                    param,
                    format!("`<{}>` is not a placeholder of pk or sk", param.value()),
                );
            }
        }
        let name = field.param_name();
        if let Some(first) = entity.fields[..i].iter().find(|f| f.param_name() == name) {
            let span = field
                .attrs
                .param
                .as_ref()
                .map_or(field.ident.span(), LitStr::span);
            cx.push(syn::Error::new(
                span,
                format!(
                    "fields `{}` and `{}` both fill `<{name}>`",
                    first.ident, field.ident
                ),
            ));
        }
    }
}

/// The candidate closest to `name`, when one is close enough to be a typo of it.
pub fn did_you_mean<S: AsRef<str>>(
    name: &str,
    candidates: impl Iterator<Item = S>,
) -> Option<String> {
    candidates
        .map(|c| (strsim::damerau_levenshtein(name, c.as_ref()), c))
        .filter(|(distance, c)| *distance <= (name.len().max(c.as_ref().len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c.as_ref().to_owned())
}

pub fn is_option(ty: &syn::Type) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == "Option")
}

/// `T` of an `Option<T>`.
pub fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
    let segment = last_segment(ty).filter(|s| s.ident == "Option")?;
    match &segment.arguments {
        syn::PathArguments::AngleBracketed(args) => match args.args.first() {
            Some(syn::GenericArgument::Type(inner)) => Some(inner),
            _ => None,
        },
        _ => None,
    }
}

/// `T` of a `Vec<T>`.
pub fn vec_element(ty: &syn::Type) -> Option<&syn::Type> {
    let segment = last_segment(ty).filter(|s| s.ident == "Vec")?;
    match &segment.arguments {
        syn::PathArguments::AngleBracketed(args) => match args.args.first() {
            Some(syn::GenericArgument::Type(inner)) => Some(inner),
            _ => None,
        },
        _ => None,
    }
}

fn last_segment(ty: &syn::Type) -> Option<&syn::PathSegment> {
    match ty {
        syn::Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the model and validation on `input`; the error messages, or the checked keys.
    fn check_input(input: syn::DeriveInput) -> Result<Keys, Vec<String>> {
        let mut cx = Ctxt::default();
        let keys = Entity::from_ast(&mut cx, &input).and_then(|e| check(&mut cx, &e, &input));
        match cx.check() {
            Ok(()) => Ok(keys.expect("no error means keys")),
            Err(errors) => Err(errors.into_iter().map(|e| e.to_string()).collect()),
        }
    }

    #[test]
    fn maps_placeholders_to_fields_through_param() {
        let keys = check_input(syn::parse_quote! {
            #[entity(type = "ORGANIZATION", pk = "TENANT#<tenant_id>#ORG#<organization_id>", sk = "#METADATA")]
            struct Organization {
                #[entity(autogen = uuid, param = "organization_id")]
                id: String,
                tenant_id: String,
                name: String,
            }
        })
        .unwrap();
        assert_eq!(keys.type_name, "ORGANIZATION");
        assert_eq!(keys.pk.fields, [1, 0]);
        assert!(keys.sk.fields.is_empty());
        assert_eq!(keys.fields(), [1, 0]);
    }

    #[test]
    fn reports_every_error_at_once() {
        let Err(errors) = check_input(syn::parse_quote! {
            #[entity(type = "TEAM", pk = "ORG#<org>", sk = "TEAM#<idd>")]
            struct Team {
                id: Option<String>,
                #[serde(rename = "_timestamp")]
                made: String,
            }
        }) else {
            panic!("expected errors");
        };
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("unknown placeholder `<org>` in pk"));
        assert!(errors[1].contains("`<idd>` in sk: no field `idd`; did you mean `id`?"));
        assert!(errors[2].contains("`made` would be stored as `_timestamp`"));
    }

    #[test]
    fn serde_names_follow_rename_all_and_rename() {
        let input: syn::DeriveInput = syn::parse_quote! {
            #[entity(type = "T", pk = "T#<member_id>", sk = "#M")]
            #[serde(rename_all = "camelCase")]
            struct T {
                member_id: String,
                #[serde(rename = "n")]
                display_name: String,
                r#type: String,
            }
        };
        let mut cx = Ctxt::default();
        let entity = Entity::from_ast(&mut cx, &input).unwrap();
        let names: Vec<&str> = entity
            .fields
            .iter()
            .map(|f| f.stored_name.as_str())
            .collect();
        assert_eq!(names, ["memberId", "n", "type"]);
    }

    #[test]
    fn index_ranges_are_checked_against_the_index_sort_key() {
        let keys = check_input(syn::parse_quote! {
            #[entity(type = "M", pk = "M#<id>", sk = "#M", index(
                name = "GSI2", query = "by_referrer", pk = "REFERRER#<referrer>",
                sk = "JOINED#<joined>#<id>",
                range(name = "joined_between", between = "JOINED#<joined>")
            ))]
            struct M { id: String, referrer: String, joined: String }
        })
        .unwrap();
        let range = &keys.indexes[0].ranges[0];
        assert_eq!(range.name, "joined_between");
        assert_eq!(range.key.fields, [2]);
        assert!(
            keys.ranges.is_empty(),
            "an index range is not a table range"
        );

        let Err(errors) = check_input(syn::parse_quote! {
            #[entity(type = "M", pk = "M#<id>", sk = "JOINED#<joined>", index(
                name = "GSI2", query = "by_referrer", pk = "REFERRER#<referrer>", sk = "AT#<id>",
                range(name = "joined", eq = "JOINED#<joined>"),
                range(name = "limit", eq = "AT#<id>")
            ))]
            struct M { id: String, referrer: String, joined: String }
        }) else {
            panic!("expected errors");
        };
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("not a prefix of index `GSI2`'s sort key template `AT#<id>`"));
        assert!(errors[1].contains("`limit` is a method every query has"));
    }

    #[test]
    fn suggests_close_names_only() {
        let fields = ["tenant_id", "id", "name"];
        assert_eq!(
            did_you_mean("tenat_id", fields.iter()).as_deref(),
            Some("tenant_id")
        );
        assert_eq!(did_you_mean("nme", fields.iter()).as_deref(), Some("name"));
        assert_eq!(did_you_mean("organization", fields.iter()), None);
    }

    #[test]
    fn unique_fields_are_outside_the_key() {
        let keys = check_input(syn::parse_quote! {
            #[entity(type = "U", pk = "U#<id>", sk = "#U")]
            struct U {
                id: String,
                #[entity(unique)]
                email: String,
                name: String,
                #[entity(unique)]
                handle: Option<String>,
            }
        })
        .unwrap();
        assert_eq!(keys.unique, [1, 3]);

        let Err(errors) = check_input(syn::parse_quote! {
            #[entity(type = "_U", pk = "U#<id>", sk = "#U")]
            struct U {
                #[entity(unique)]
                id: String,
            }
        }) else {
            panic!("expected errors");
        };
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("starting with `_` are reserved"));
        assert!(errors[1].contains("`id` is part of the key"));
    }
}
