//! `#[entity(...)]` and the parts of `#[serde(...)]` the derive must know, parsed into plain
//! values. Every syntax error is reported at the offending tokens.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Ident, LitInt, LitStr, Path};

use crate::ctxt::Ctxt;

/// Attribute names, in one place.
pub mod sym {
    pub const ENTITY: &str = "entity";
    pub const SERDE: &str = "serde";
}

/// `#[entity(type = "...", pk = "...", sk = "...", range(...)...)]` on the struct.
#[derive(Default)]
pub struct Container {
    pub type_name: Option<LitStr>,
    pub pk: Option<LitStr>,
    pub sk: Option<LitStr>,
    pub ranges: Vec<Range>,
    pub indexes: Vec<IndexAttr>,
    /// `soft_delete`: `delete` marks items instead of removing them.
    pub soft_delete: bool,
    /// `audit`: every write also writes an audit record.
    pub audit: bool,
    /// `schema = 2`: the version of the item layout this struct reads and writes.
    pub schema: Option<LitInt>,
    /// `upgrade = path::to::fn`: brings an item of an older schema to the next one.
    pub upgrade: Option<Path>,
    /// `compatible = 2`: builds of schema 2 and later can read items of this schema.
    pub compatible: Option<LitInt>,
    pub rename_all: Option<String>,
    /// `#[serde(default)]` on the struct: absent attributes read as the default.
    pub serde_default: bool,
    /// `#[entity(...)]` did not parse: what is missing may just be unread.
    pub malformed: bool,
}

/// `index(name = "GSI1", query = "by_email", pk = "...", sk = "...", range(...)...)`: keys this
/// entity writes into a secondary index of the table, the query method that reads it, and named
/// range queries on the index sort key.
pub struct IndexAttr {
    pub name: LitStr,
    pub query: LitStr,
    pub pk: LitStr,
    pub sk: LitStr,
    pub ranges: Vec<Range>,
    /// `lookup`: an index whose key holds no tenant, read before a tenant scope exists for the
    /// owning tenant and key only.
    pub lookup: Option<syn::Path>,
}

/// `range(name = "by_status", begins_with = "STATUS#<status>#")`: a named sort-key query.
pub struct Range {
    pub name: LitStr,
    pub op: RangeOp,
    pub template: LitStr,
}

/// The sort-key operator of a named range query.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RangeOp {
    Eq,
    BeginsWith,
    Between,
    Lt,
    Le,
    Gt,
    Ge,
}

pub const RANGE_OPS: &[(&str, RangeOp)] = &[
    ("eq", RangeOp::Eq),
    ("begins_with", RangeOp::BeginsWith),
    ("between", RangeOp::Between),
    ("lt", RangeOp::Lt),
    ("le", RangeOp::Le),
    ("gt", RangeOp::Gt),
    ("ge", RangeOp::Ge),
];

/// A generated value, as written in `autogen = ...`.
pub enum Autogen {
    Uuid,
    UuidV7,
    Timestamp,
    Count,
    /// A user function, called with no arguments.
    Function(Path),
}

/// An `autogen` value with the tokens it came from, for error spans.
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// `#[entity(...)]` and `#[serde(...)]` on one field.
#[derive(Default)]
pub struct Field {
    /// `param = "organization_id"`: the placeholder this field fills, when not its own name.
    pub param: Option<LitStr>,
    pub on_create: Option<Spanned<Autogen>>,
    pub on_update: Option<Spanned<Autogen>>,
    /// `tenant`: the value comes from the tenant scope.
    pub tenant: Option<Path>,
    /// `version`: checked and incremented by every write (optimistic locking).
    pub version: Option<Path>,
    /// `ttl`: the item's expiry, also stored in the table's time-to-live attribute.
    pub ttl: Option<Path>,
    /// `unique`: no two items of the entity (of one tenant) hold the same value.
    pub unique: Option<Path>,
    pub serde_rename: Option<String>,
    /// `serialize_with`, or `with` + `::serialize`.
    pub serialize_with: Option<Path>,
    /// `with` or `deserialize_with`: serde then no longer reads an absent `Option` as `None`.
    pub custom_deserialize: bool,
    /// `#[serde(default)]` on the field.
    pub serde_default: bool,
    pub serde_skip: bool,
    pub serde_flatten: bool,
}

pub const AUTOGEN_KINDS: &[&str] = &["uuid", "uuid_v7", "timestamp", "count"];

impl Container {
    pub fn parse(cx: &mut Ctxt, attrs: &[Attribute]) -> Self {
        let mut out = Container::default();
        for attr in attrs {
            if attr.path().is_ident(sym::ENTITY) {
                let result = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("range") {
                        out.ranges.push(range(&meta)?);
                        return Ok(());
                    }
                    if meta.path.is_ident("index") {
                        out.indexes.push(index(&meta)?);
                        return Ok(());
                    }
                    if meta.path.is_ident("soft_delete") {
                        out.soft_delete = true;
                        return Ok(());
                    }
                    if meta.path.is_ident("audit") {
                        out.audit = true;
                        return Ok(());
                    }
                    if meta.path.is_ident("schema") {
                        return set_once(&meta, &mut out.schema, meta.value()?.parse()?);
                    }
                    if meta.path.is_ident("upgrade") {
                        return set_once(&meta, &mut out.upgrade, meta.value()?.parse()?);
                    }
                    if meta.path.is_ident("compatible") {
                        return set_once(&meta, &mut out.compatible, meta.value()?.parse()?);
                    }
                    let slot = if meta.path.is_ident("type") {
                        &mut out.type_name
                    } else if meta.path.is_ident("pk") {
                        &mut out.pk
                    } else if meta.path.is_ident("sk") {
                        &mut out.sk
                    } else {
                        return Err(meta.error(format!(
                            "unknown entity attribute `{}`; expected `type`, `pk`, `sk`, `range`, `index`, `soft_delete`, `audit`, `schema`, `upgrade` or `compatible`",
                            path_text(&meta.path)
                        )));
                    };
                    set_once(&meta, slot, meta.value()?.parse()?)
                });
                if let Err(e) = result {
                    out.malformed = true;
                    cx.push(e);
                }
            } else if attr.path().is_ident(sym::SERDE) {
                // serde reports its own syntax errors; read what can be read.
                let _ = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("rename_all") {
                        out.rename_all = serialize_name(&meta)?;
                    } else if meta.path.is_ident("default") {
                        out.serde_default = true;
                        skip_value(&meta)?;
                    } else {
                        skip_value(&meta)?;
                    }
                    Ok(())
                });
            }
        }
        out
    }
}

impl Field {
    pub fn parse(cx: &mut Ctxt, attrs: &[Attribute]) -> Self {
        let mut out = Field::default();
        for attr in attrs {
            if attr.path().is_ident(sym::ENTITY) {
                let result = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("tenant") {
                        set_once(&meta, &mut out.tenant, meta.path.clone())
                    } else if meta.path.is_ident("version") {
                        set_once(&meta, &mut out.version, meta.path.clone())
                    } else if meta.path.is_ident("ttl") {
                        set_once(&meta, &mut out.ttl, meta.path.clone())
                    } else if meta.path.is_ident("unique") {
                        if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                            return Err(meta.error("`unique` takes no value: write `#[entity(unique)]`"));
                        }
                        set_once(&meta, &mut out.unique, meta.path.clone())
                    } else if meta.path.is_ident("param") {
                        set_once(&meta, &mut out.param, meta.value()?.parse()?)
                    } else if meta.path.is_ident("autogen") {
                        if meta.input.peek(syn::Token![=]) {
                            let value = autogen(&meta.value()?.parse()?)?;
                            set_once(&meta, &mut out.on_create, value)
                        } else {
                            meta.parse_nested_meta(|inner| {
                                let slot = if inner.path.is_ident("on_create") {
                                    &mut out.on_create
                                } else if inner.path.is_ident("on_update") {
                                    &mut out.on_update
                                } else {
                                    return Err(inner.error(
                                        "expected `autogen(on_create = ...)` or `autogen(on_update = ...)`",
                                    ));
                                };
                                let value = autogen(&inner.value()?.parse()?)?;
                                set_once(&inner, slot, value)
                            })
                        }
                    } else {
                        Err(meta.error(format!(
                            "unknown field attribute `{}`; expected `autogen`, `param`, `tenant`, `version`, `ttl` or `unique`",
                            path_text(&meta.path)
                        )))
                    }
                });
                if let Err(e) = result {
                    cx.push(e);
                }
            } else if attr.path().is_ident(sym::SERDE) {
                let _ = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("rename") {
                        out.serde_rename = serialize_name(&meta)?;
                    } else if meta.path.is_ident("with") {
                        let module: Path = meta.value()?.parse::<LitStr>()?.parse()?;
                        out.serialize_with = Some(syn::parse_quote!(#module::serialize));
                        out.custom_deserialize = true;
                    } else if meta.path.is_ident("serialize_with") {
                        out.serialize_with = Some(meta.value()?.parse::<LitStr>()?.parse()?);
                    } else if meta.path.is_ident("deserialize_with") {
                        out.custom_deserialize = true;
                        skip_value(&meta)?;
                    } else if meta.path.is_ident("default") {
                        out.serde_default = true;
                        skip_value(&meta)?;
                    } else if meta.path.is_ident("skip") || meta.path.is_ident("skip_serializing") {
                        out.serde_skip = true;
                    } else if meta.path.is_ident("flatten") {
                        out.serde_flatten = true;
                    } else {
                        skip_value(&meta)?;
                    }
                    Ok(())
                });
            }
        }
        out
    }
}

fn index(meta: &ParseNestedMeta) -> syn::Result<IndexAttr> {
    let (mut name, mut query, mut pk, mut sk) = (None, None, None, None);
    let (mut ranges, mut lookup) = (Vec::new(), None);
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("range") {
            ranges.push(range(&inner)?);
            return Ok(());
        }
        if inner.path.is_ident("lookup") {
            return set_once(&inner, &mut lookup, inner.path.clone());
        }
        let slot = if inner.path.is_ident("name") {
            &mut name
        } else if inner.path.is_ident("query") {
            &mut query
        } else if inner.path.is_ident("pk") {
            &mut pk
        } else if inner.path.is_ident("sk") {
            &mut sk
        } else {
            return Err(inner.error(format!(
                "unknown index attribute `{}`; expected `name`, `query`, `pk`, `sk`, `range` or `lookup`",
                path_text(&inner.path)
            )));
        };
        set_once(&inner, slot, inner.value()?.parse()?)
    })?;
    let missing = |what: &str| meta.error(format!("an index needs `{what} = \"...\"`"));
    Ok(IndexAttr {
        name: name.ok_or_else(|| missing("name"))?,
        query: query.ok_or_else(|| missing("query"))?,
        pk: pk.ok_or_else(|| missing("pk"))?,
        sk: sk.ok_or_else(|| missing("sk"))?,
        ranges,
        lookup,
    })
}

fn range(meta: &ParseNestedMeta) -> syn::Result<Range> {
    let (mut name, mut op) = (None, None);
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("name") {
            return set_once(&inner, &mut name, inner.value()?.parse()?);
        }
        let Some(&(_, kind)) = RANGE_OPS.iter().find(|(word, _)| inner.path.is_ident(word)) else {
            let words: Vec<&str> = RANGE_OPS.iter().map(|(w, _)| *w).collect();
            return Err(inner.error(format!(
                "unknown range attribute `{}`; expected `name` or an operator: {}",
                path_text(&inner.path),
                words.join(", ")
            )));
        };
        if op.is_some() {
            return Err(inner.error("a range query has one operator"));
        }
        op = Some((kind, inner.value()?.parse()?));
        Ok(())
    })?;
    let name = name.ok_or_else(|| meta.error("a range query needs `name = \"...\"`"))?;
    let (op, template) = op.ok_or_else(|| {
        meta.error("a range query needs an operator, like `begins_with = \"STATUS#<status>#\"`")
    })?;
    Ok(Range { name, op, template })
}

/// Reads `autogen = uuid` (a known kind) or `autogen = path::to::function`.
fn autogen(path: &Path) -> syn::Result<Spanned<Autogen>> {
    let span = syn::spanned::Spanned::span(path);
    let value = match path.get_ident().map(Ident::to_string).as_deref() {
        Some("uuid") => Autogen::Uuid,
        Some("uuid_v7") => Autogen::UuidV7,
        Some("timestamp") => Autogen::Timestamp,
        Some("count") => Autogen::Count,
        Some(other) => {
            let message = match crate::validate::did_you_mean(other, AUTOGEN_KINDS.iter()) {
                Some(kind) => format!("unknown autogen kind `{other}`; did you mean `{kind}`?"),
                None => format!(
                    "unknown autogen kind `{other}`; expected one of {}, or a path to a \
                     function such as `self::{other}`",
                    AUTOGEN_KINDS.join(", ")
                ),
            };
            return Err(syn::Error::new(span, message));
        }
        None => Autogen::Function(path.clone()),
    };
    Ok(Spanned { value, span })
}

fn set_once<T>(meta: &ParseNestedMeta, slot: &mut Option<T>, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error(format!("duplicate `{}`", path_text(&meta.path))));
    }
    *slot = Some(value);
    Ok(())
}

/// `rename = "x"` or `rename(serialize = "x", deserialize = "y")`: the name items are written with.
fn serialize_name(meta: &ParseNestedMeta) -> syn::Result<Option<String>> {
    if meta.input.peek(syn::Token![=]) {
        return Ok(Some(meta.value()?.parse::<LitStr>()?.value()));
    }
    let mut name = None;
    meta.parse_nested_meta(|inner| {
        let value = inner.value()?.parse::<LitStr>()?.value();
        if inner.path.is_ident("serialize") {
            name = Some(value);
        }
        Ok(())
    })?;
    Ok(name)
}

fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|inner| skip_value(&inner))?;
    }
    Ok(())
}

fn path_text(path: &Path) -> String {
    quote::quote!(#path).to_string().replace(' ', "")
}
