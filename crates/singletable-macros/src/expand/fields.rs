//! `<Entity>::FIELDS`: a typed handle per non-key field, for filters, conditions and updates.
//! A handle's role (`singletable::role`) says what an update may do with the field.

use proc_macro2::TokenStream;
use quote::quote;

use super::{in_key, private, runtime, Names};
use crate::ast::Entity;
use crate::validate::{option_inner, Keys};

/// The fields struct, and the impl with `FIELDS`.
pub fn expand(entity: &Entity, keys: &Keys, names: &Names) -> (TokenStream, TokenStream) {
    let (private, runtime) = (private(), runtime());
    let (ident, vis, fields) = (entity.ident, entity.vis, &names.fields);
    let in_key = in_key(keys);
    let index_fields = keys.index_fields();
    let handles: Vec<_> = entity
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| !in_key(*i) && !f.attrs.serde_skip)
        .map(|(i, f)| {
            let (vis, name, ty, stored) = (f.vis, f.ident, f.ty, &f.stored_name);
            let index_source = index_fields.contains(&i);
            let role = if f.attrs.version.is_some() || f.attrs.on_update.is_some() {
                quote!(, #runtime::ReadOnly)
            } else if keys.ttl == Some(i) {
                quote!(, #runtime::ExpiresAt)
            } else if index_source {
                quote!(, #runtime::IndexSource)
            } else {
                // The default role.
                TokenStream::new()
            };
            let member = quote!(#vis #name: #runtime::Field<#ident, #ty #role>);
            let mut value = quote!(#private::Field::new(#stored));
            if let Some(with) = &f.attrs.serialize_with {
                value = quote!(#value.serialize_with(#with));
            }
            if index_source {
                let param = f.param_name();
                let key_part = match option_inner(ty) {
                    Some(inner) => quote!(#private::optional_key_part::<#inner>),
                    None => quote!(#private::some_key_part::<#ty>),
                };
                value = quote!(#value.index_source(#param, #key_part));
            }
            (member, quote!(#name: #value))
        })
        .collect();
    let (members, values) = (handles.iter().map(|h| &h.0), handles.iter().map(|h| &h.1));
    let doc = format!(
        "The fields of [`{ident}`] outside its key, for filters, conditions and updates: \
         `{ident}::FIELDS`."
    );
    let definition = quote! {
        #[doc = #doc]
        #vis struct #fields {
            #(#members,)*
        }
    };
    let impls = quote! {
        impl #ident {
            /// Typed handles of the fields outside the key, for filters, conditions and updates.
            #vis const FIELDS: #fields = #fields {
                #(#values,)*
            };
        }
    };
    (definition, impls)
}
