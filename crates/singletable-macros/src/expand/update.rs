//! `<Entity>Update<'t>`: the typed update builder. Setters exist only for fields outside the key;
//! `add_*`/`subtract_*` only for numeric fields; `remove_*` only for `Option` fields.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{in_key, private, Names};
use crate::ast::{Entity, Field};
use crate::validate::{is_numeric, is_option, option_inner, vec_element, Keys};

pub fn expand(entity: &Entity, keys: &Keys, names: &Names) -> TokenStream {
    let private = private();
    let (ident, vis, update) = (entity.ident, entity.vis, &names.update);
    let in_key = in_key(keys);
    let setters = entity
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| {
            !in_key(*i)
                && f.attrs.on_update.is_none()
                && f.attrs.version.is_none()
                && !f.attrs.serde_skip
        })
        .map(|(i, f)| setters(f, keys.index_fields().contains(&i), keys.ttl == Some(i)));
    let if_version = keys.version.map(|_| {
        quote! {
            /// Writes only over `version`, the version the entity was read at;
            /// `Error::VersionConflict` when another write came first.
            #[inline]
            pub fn if_version(mut self, version: u64) -> Self {
                self.0.if_version(version);
                self
            }
        }
    });
    let doc = format!(
        "An update of one [`{ident}`], started by `{ident}::update` and sent with `send` (of \
         `singletable::UpdateBuilder`)."
    );
    quote! {
        #[doc = #doc]
        #[must_use = "an update does nothing until `send()` is awaited"]
        #vis struct #update<'t>(#private::Update<'t, #ident>);

        #[automatically_derived]
        impl<'t> #private::UpdateBuilder<'t> for #update<'t> {
            type Entity = #ident;

            #[inline]
            fn into_update(self) -> #private::Update<'t, #ident> {
                self.0
            }

            #[inline]
            fn from_update(update: #private::Update<'t, #ident>) -> Self {
                #update(update)
            }
        }

        impl<'t> #update<'t> {
            #(#setters)*

            #if_version
        }
    }
}

/// The setters of one field. A field that index keys are made of also tells the update its new
/// key-part value, and gets no `add_`/`subtract_` (the new number is not known before writing).
fn setters(field: &Field, index_source: bool, expiry: bool) -> TokenStream {
    let private = private();
    let (name, ty, stored) = (field.ident, field.ty, &field.stored_name);
    let raw = name.to_string();
    let raw = raw.trim_start_matches("r#");
    let set = format_ident!("set_{raw}");
    let param = field.param_name();
    let (mut store, mut unset) = (
        set_call(field, quote!(self.0), quote!(&value)),
        TokenStream::new(),
    );
    if index_source {
        let part = match option_inner(ty) {
            Some(inner) => quote!(value.as_ref().map(|v| #private::key_part::<#inner>(v))),
            None => quote!(::core::option::Option::Some(#private::key_part::<#ty>(&value))),
        };
        store.extend(quote!(; self.0.index_source(#param, #part)));
        unset = quote!(self.0.index_source(#param, ::core::option::Option::None););
    }
    if expiry {
        store.extend(quote!(; self.0.set_expiry(<#ty as #private::Expiry>::epoch_seconds(&value))));
        unset.extend(quote!(self.0.set_expiry(::core::option::Option::None);));
    }
    let set_doc = format!("Sets `{raw}`.");
    let mut out = quote! {
        #[doc = #set_doc]
        pub fn #set(mut self, value: impl ::core::convert::Into<#ty>) -> Self {
            let value: #ty = value.into();
            #store;
            self
        }
    };
    if is_option(ty) {
        let remove = format_ident!("remove_{raw}");
        let remove_doc = format!("Removes `{raw}` (it reads back as `None`).");
        out.extend(quote! {
            #[doc = #remove_doc]
            #[inline]
            pub fn #remove(mut self) -> Self {
                self.0.remove(#stored);
                #unset
                self
            }
        });
    }
    if let (Some(inner), false) = (option_inner(ty), index_source || expiry) {
        let if_absent = format_ident!("set_{raw}_if_absent");
        let if_absent_doc = format!("Sets `{raw}` only where the stored item has none yet.");
        out.extend(quote! {
            #[doc = #if_absent_doc]
            pub fn #if_absent(mut self, value: impl ::core::convert::Into<#inner>) -> Self {
                let value: #inner = value.into();
                self.0.set_if_absent(#stored, &value);
                self
            }
        });
    }
    if let (Some(element), None) = (vec_element(ty), &field.attrs.serialize_with) {
        let (append, prepend) = (
            format_ident!("append_{raw}"),
            format_ident!("prepend_{raw}"),
        );
        let append_doc = format!("Appends `items` to `{raw}` atomically.");
        let prepend_doc = format!("Puts `items` in front of `{raw}` atomically.");
        out.extend(quote! {
            #[doc = #append_doc]
            #[inline]
            pub fn #append(mut self, items: ::std::vec::Vec<#element>) -> Self {
                self.0.append(#stored, &items);
                self
            }

            #[doc = #prepend_doc]
            #[inline]
            pub fn #prepend(mut self, items: ::std::vec::Vec<#element>) -> Self {
                self.0.prepend(#stored, &items);
                self
            }
        });
    }
    if is_numeric(ty) && !index_source {
        let amount = option_inner(ty).unwrap_or(ty);
        let (add, subtract) = (format_ident!("add_{raw}"), format_ident!("subtract_{raw}"));
        let add_doc = format!("Adds `amount` to `{raw}` atomically.");
        let subtract_doc = format!("Subtracts `amount` from `{raw}` atomically.");
        out.extend(quote! {
            #[doc = #add_doc]
            #[inline]
            pub fn #add(mut self, amount: #amount) -> Self {
                self.0.add(#stored, amount);
                self
            }

            #[doc = #subtract_doc]
            #[inline]
            pub fn #subtract(mut self, amount: #amount) -> Self {
                self.0.subtract(#stored, amount);
                self
            }
        });
    }
    out
}

/// Stores `value` (an expression of type `&T`) in `update` (an `Update`), through the field's
/// `serialize_with` when it has one, so the attribute matches what `Serialize` writes.
pub fn set_call(field: &Field, update: TokenStream, value: TokenStream) -> TokenStream {
    let stored = &field.stored_name;
    match &field.attrs.serialize_with {
        Some(with) => quote!(#update.set_with(#stored, #value, #with)),
        None => quote!(#update.set(#stored, #value)),
    }
}
