//! The typed key struct, `<Entity>Key<'k>`, and its `EntityKey` impl.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use singletable_keys::{Segment, Template};

use super::{private, Names};
use crate::ast::{Entity, Field};
use crate::validate::{Key, Keys};

pub fn expand(entity: &Entity, keys: &Keys, names: &Names) -> TokenStream {
    let private = private();
    let (ident, vis, key) = (entity.ident, entity.vis, &names.key);
    let fields: Vec<&Field> = keys
        .fields()
        .into_iter()
        .map(|i| &entity.fields[i])
        .collect();
    let doc = format!(
        "The key of [`{ident}`]: partition `{}`, sort `{}`.",
        keys.pk.text, keys.sk.text
    );
    let values = |k: &Key| {
        let fields = k.fields.iter().map(|&i| {
            let field = &entity.fields[i];
            let name = format_ident!("{}", field.param_name());
            // The field's own type tokens: a type that is not a key part is reported there.
            if is_string(field.ty) {
                quote!(#private::key_part(&self.#name))
            } else {
                let ty = field.ty;
                quote!(#private::key_part::<#ty>(self.#name))
            }
        });
        quote!(&[#(#fields),*])
    };
    let (pk_values, sk_values) = (values(&keys.pk), values(&keys.sk));
    let definition = if fields.is_empty() {
        quote! {
            #[doc = #doc]
            #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
            #vis struct #key<'k>(::core::marker::PhantomData<&'k ()>);
        }
    } else {
        let members = fields.iter().map(|f| {
            let name = format_ident!("{}", f.param_name());
            let ty = key_type(f.ty);
            quote!(pub #name: #ty)
        });
        quote! {
            #[doc = #doc]
            #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
            #vis struct #key<'k> {
                #(#members,)*
            }
        }
    };
    quote! {
        #definition

        #[doc(hidden)]
        const _: () = {
            impl<'k> #private::EntityKey for #key<'k> {
                fn item_key(&self, separator: char) -> #private::Result<#private::ItemKey> {
                    #private::render_key::<#ident>(#pk_values, #sk_values, separator)
                }
            }
        };
    }
}

/// `&'k str` for a `String` field, `&'k T` for any other.
fn key_type(ty: &syn::Type) -> TokenStream {
    if is_string(ty) {
        quote!(&'k str)
    } else {
        quote!(&'k #ty)
    }
}

fn is_string(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none() && p.path.is_ident("String"))
}

/// The constructor expression of the key borrowed from `self`'s fields.
pub fn borrow_from_self(entity: &Entity, keys: &Keys, names: &Names) -> TokenStream {
    let key = &names.key;
    let fields: Vec<&Field> = keys
        .fields()
        .into_iter()
        .map(|i| &entity.fields[i])
        .collect();
    if fields.is_empty() {
        return quote!(#key(::core::marker::PhantomData));
    }
    let members = fields.iter().map(|f| {
        let (name, field) = (format_ident!("{}", f.param_name()), f.ident);
        quote!(#name: &self.#field)
    });
    quote!(#key { #(#members),* })
}

/// A `Template::from_segments(...)` constant for a checked template.
pub fn template_const(text: &str) -> TokenStream {
    let private = private();
    // Validation parsed this text already.
    let segments = Template::parse(text)
        .map(|t| t.segments().to_vec())
        .unwrap_or_default();
    let segments = segments.iter().map(|s| match s {
        Segment::Literal(text) => quote!(#private::Segment::Literal(#text)),
        Segment::Separator => quote!(#private::Segment::Separator),
        Segment::Param(name) => quote!(#private::Segment::Param(#name)),
    });
    quote!(#private::Template::from_segments(&[#(#segments),*]))
}
