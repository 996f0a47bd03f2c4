//! `<Entity>::FIELDS`: a typed handle per non-key field, for building query filters.

use proc_macro2::TokenStream;
use quote::quote;

use super::{in_key, private, Names};
use crate::ast::Entity;
use crate::validate::Keys;

pub fn expand(entity: &Entity, keys: &Keys, names: &Names) -> TokenStream {
    let private = private();
    let (ident, vis, fields) = (entity.ident, entity.vis, &names.fields);
    let in_key = in_key(keys);
    let filterable: Vec<_> = entity
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| !in_key(*i) && !f.attrs.serde_skip)
        .map(|(_, f)| f)
        .collect();
    let members = filterable.iter().map(|f| {
        let (vis, name, ty) = (f.vis, f.ident, f.ty);
        quote!(#vis #name: #private::Field<#ident, #ty>)
    });
    let values = filterable.iter().map(|f| {
        let (name, ty, stored) = (f.ident, f.ty, &f.stored_name);
        let with = match &f.attrs.serialize_with {
            Some(with) => {
                quote!(::core::option::Option::Some(#with as #private::SerializeWith<#ty>))
            }
            None => quote!(::core::option::Option::None),
        };
        quote!(#name: #private::Field::new(#stored, #with))
    });
    let doc = format!("The fields of [`{ident}`] outside its key, for filters: `{ident}::FIELDS`.");
    quote! {
        #[doc = #doc]
        #vis struct #fields {
            #(#members,)*
        }

        impl #ident {
            /// Typed handles of the fields outside the key, for query filters.
            #vis const FIELDS: #fields = #fields {
                #(#values,)*
            };
        }
    }
}
