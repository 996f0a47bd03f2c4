//! `#[derive(Projection)]`: a struct of some of an entity's fields, read without the rest.
//!
//! ```ignore
//! #[derive(Projection, Deserialize)]
//! #[projection(of = Team)]
//! struct TeamName {
//!     id: String,
//!     name: String,
//! }
//! ```
//!
//! This derive cannot see the entity, so the checks are emitted for the compiler, each spanned at
//! the projection's field: code that borrows the entity's field of the same name (an unknown
//! field is the compiler's "no field" error), a bound that the field types are the same
//! (`SameType`), and a const assertion that the field is stored under the entity's name for it
//! (from the entity's `RENAMED_FIELDS`).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, Type};

use crate::ast::{named_fields, stored_name};
use crate::attr;
use crate::ctxt::Ctxt;

/// A field the projection reads.
struct Read<'a> {
    ident: &'a Ident,
    ty: &'a Type,
    stored_name: String,
}

pub fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::default();
    let mut of: Option<Type> = None;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("projection"))
    {
        let result = attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident("of") {
                return Err(meta.error("unknown projection attribute; expected `of = Entity`"));
            }
            if of.is_some() {
                return Err(meta.error("duplicate `of`"));
            }
            of = Some(meta.value()?.parse()?);
            Ok(())
        });
        if let Err(e) = result {
            cx.push(e);
        }
    }
    let fields = named_fields(&mut cx, input, "Projection");
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "a projection cannot have generic parameters",
        );
    }
    if of.is_none() {
        cx.error_spanned_by(
            &input.ident,
            "missing `#[projection(of = Entity)]`: the entity this is a projection of",
        );
    }
    let container = attr::Container::parse(&mut cx, &input.attrs);
    let mut reads = Vec::new();
    for field in fields.into_iter().flatten() {
        let Some(ident) = field.ident.as_ref() else {
            continue;
        };
        let attrs = attr::Field::parse(&mut cx, &field.attrs);
        if attrs.serde_flatten {
            cx.error_spanned_by(ident, "`#[serde(flatten)]` is not supported in a projection: its attribute names are not known at compile time");
        }
        // serde fills a skipped field itself; it is not read.
        if attrs.serde_skip {
            continue;
        }
        reads.push(Read {
            ident,
            ty: &field.ty,
            stored_name: stored_name(ident, &attrs, container.rename_all.as_deref()),
        });
    }
    cx.check()?;
    let Some(of) = of else {
        return Ok(TokenStream::new());
    };
    Ok(expand(&input.ident, &of, &reads))
}

fn expand(ident: &Ident, of: &Type, reads: &[Read]) -> TokenStream {
    let private = quote!(::singletable::__private);
    let entity_name = quote!(#of).to_string().replace(' ', "");
    let names = reads.iter().map(|r| &r.stored_name);
    let types = reads.iter().map(|read| {
        let (name, ty) = (read.ident, read.ty);
        let field = quote_spanned!(name.span()=> &__entity.#name);
        quote_spanned!(ty.span()=> #private::same_type::<#ty, _>(#field);)
    });
    let stored = reads.iter().map(|read| {
        let name = read.ident;
        let (rust, stored) = (name.unraw().to_string(), &read.stored_name);
        let message = format!(
            "`{ident}::{rust}` is stored as `{stored}`, and `{entity_name}` stores its `{rust}` \
             under another name or not at all: give the field the entity field's \
             `#[serde(rename)]` or `#[serde(rename_all)]`"
        );
        quote_spanned! {name.span()=>
            const _: () = if !#private::stored_as::<#of>(#rust, #stored) {
                ::core::panic!(#message)
            };
        }
    });
    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #private::Projection for #ident {
                type Entity = #of;
                const FIELDS: &'static [&'static str] = &[#(#names),*];
            }

            // Never called: it makes the compiler check each field against the entity's.
            #[allow(dead_code)]
            fn __fields(__entity: &#of) {
                #(#types)*
            }

            #(#stored)*
        };
    }
}
