//! Unique fields: the `UNIQUE` names and `unique_values` of the `Entity` impl.

use proc_macro2::TokenStream;
use quote::quote;

use super::private;
use crate::ast::Entity;
use crate::validate::{option_inner, Keys};

/// `const UNIQUE` and `fn unique_values`, for the `Entity` impl; nothing without unique fields.
pub fn entity_items(entity: &Entity, keys: &Keys) -> TokenStream {
    if keys.unique.is_empty() {
        return TokenStream::new();
    }
    let private = private();
    let fields: Vec<_> = keys.unique.iter().map(|&i| &entity.fields[i]).collect();
    let names = fields.iter().map(|f| &f.stored_name);
    // Written with the field's own type tokens, so a type that is not a key part is reported at
    // the field.
    let values = fields.iter().map(|f| {
        let (name, stored) = (f.ident, &f.stored_name);
        let value = match option_inner(f.ty) {
            Some(inner) => {
                quote!(self.#name.as_ref().map(|value| #private::unique_value::<#inner>(value)))
            }
            None => {
                let ty = f.ty;
                quote!(#private::Some(#private::unique_value::<#ty>(&self.#name)))
            }
        };
        quote!((#stored, #value))
    });
    quote! {
        const UNIQUE: &'static [&'static str] = &[#(#names),*];

        #[inline]
        fn unique_values(
            &self,
        ) -> ::std::vec::Vec<(&'static str, #private::Option<#private::String>)> {
            ::std::vec![#(#values),*]
        }
    }
}
