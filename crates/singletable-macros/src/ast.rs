//! The model of a `#[derive(Entity)]` input: the struct, its fields and their attributes.

use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Ident, Type, Visibility};

use crate::attr;
use crate::case;
use crate::ctxt::Ctxt;

pub struct Entity<'a> {
    pub ident: &'a Ident,
    pub vis: &'a Visibility,
    pub attrs: attr::Container,
    pub fields: Vec<Field<'a>>,
}

pub struct Field<'a> {
    pub ident: &'a Ident,
    pub vis: &'a Visibility,
    pub ty: &'a Type,
    pub attrs: attr::Field,
    /// The attribute name serde writes this field under.
    pub stored_name: String,
}

impl<'a> Entity<'a> {
    /// Reads the input; `None` (with errors in `cx`) when it is not a plain struct.
    pub fn from_ast(cx: &mut Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let fields = named_fields(cx, input, "Entity")?;
        if !input.generics.params.is_empty() {
            cx.error_spanned_by(&input.generics, "an entity cannot have generic parameters");
            return None;
        }
        let attrs = attr::Container::parse(cx, &input.attrs);
        let rename_all = attrs.rename_all.as_deref();
        let fields = fields
            .iter()
            .filter_map(|field| {
                let ident = field.ident.as_ref()?;
                let attrs = attr::Field::parse(cx, &field.attrs);
                let stored_name = stored_name(ident, &attrs, rename_all);
                Some(Field {
                    ident,
                    vis: &field.vis,
                    ty: &field.ty,
                    attrs,
                    stored_name,
                })
            })
            .collect();
        Some(Entity {
            ident: &input.ident,
            vis: &input.vis,
            attrs,
            fields,
        })
    }
}

/// The attribute name serde writes a field under: its `rename`, or its name under the
/// container's `rename_all`.
pub fn stored_name(ident: &Ident, attrs: &attr::Field, rename_all: Option<&str>) -> String {
    let rust_name = ident.unraw().to_string();
    attrs.serde_rename.clone().unwrap_or_else(|| {
        rename_all
            .and_then(|rule| case::apply(rule, &rust_name))
            .unwrap_or(rust_name)
    })
}

/// The fields of a struct with named fields; `None` (with an error in `cx`) for anything else.
pub fn named_fields<'a>(
    cx: &mut Ctxt,
    input: &'a DeriveInput,
    derive: &str,
) -> Option<&'a syn::punctuated::Punctuated<syn::Field, syn::Token![,]>> {
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => Some(&fields.named),
            _ => {
                cx.error_spanned_by(
                    input,
                    format!("`#[derive({derive})]` needs a struct with named fields"),
                );
                None
            }
        },
        _ => {
            cx.error_spanned_by(
                &input.ident,
                format!("`#[derive({derive})]` works only on structs"),
            );
            None
        }
    }
}

impl Field<'_> {
    /// The placeholder name this field fills: its `param`, or its own name.
    pub fn param_name(&self) -> String {
        match &self.attrs.param {
            Some(param) => param.value(),
            None => self.ident.unraw().to_string(),
        }
    }
}
