//! `<Entity>::FIELDS`: a typed handle per non-key field, for filters, conditions and updates.
//! A handle's role (`singletable::role`) says what an update may do with the field.

use proc_macro2::{Punct, Spacing, TokenStream};
use quote::{quote, ToTokens, TokenStreamExt};

use super::{append_path, in_key, private, Names, Runtime};
use crate::ast::{Entity, Field};
use crate::validate::{option_inner, Keys};

/// The fields struct, and the impl with `FIELDS`.
pub fn expand(entity: &Entity, keys: &Keys, names: &Names) -> (TokenStream, TokenStream) {
    let (private, runtime) = (private(), Runtime);
    let (ident, vis, fields) = (entity.ident, entity.vis, &names.fields);
    let in_key = in_key(keys);
    let index_fields = keys.index_fields();
    let handles: Vec<(&Field, Role, bool)> = entity
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| !in_key(*i) && !f.attrs.serde_skip)
        .map(|(i, f)| {
            let index_source = index_fields.contains(&i);
            let role = if f.attrs.version.is_some() || f.attrs.on_update.is_some() {
                Role::Named("ReadOnly")
            } else if keys.ttl == Some(i) {
                Role::Named("ExpiresAt")
            } else if index_source {
                Role::Named("IndexSource")
            } else {
                Role::Plain
            };
            (f, role, index_source)
        })
        .collect();
    // Quoted as parallel repetitions of the fields' own tokens, not one stream per field.
    let field_vis = handles.iter().map(|h| h.0.vis);
    let field_names: Vec<_> = handles.iter().map(|h| h.0.ident).collect();
    let types = handles.iter().map(|h| h.0.ty);
    let roles = handles.iter().map(|h| h.1);
    let stored = handles.iter().map(|h| &h.0.stored_name);
    let with = handles.iter().map(|h| {
        let with = h.0.attrs.serialize_with.as_ref()?;
        Some(quote!(.serialize_with(#with)))
    });
    let index_source = handles.iter().map(|&(f, _, index_source)| {
        index_source.then(|| {
            let param = f.param_name();
            match option_inner(f.ty) {
                Some(inner) => {
                    quote!(.index_source(#param, #private::optional_key_part::<#inner>))
                }
                None => {
                    let ty = f.ty;
                    quote!(.index_source(#param, #private::some_key_part::<#ty>))
                }
            }
        })
    });
    let doc = format!(
        "The fields of [`{ident}`] outside its key, for filters, conditions and updates: \
         `{ident}::FIELDS`."
    );
    let definition = quote! {
        #[doc = #doc]
        #vis struct #fields {
            #(#field_vis #field_names: #runtime::Field<#ident, #types #roles>,)*
        }
    };
    let impls = quote! {
        impl #ident {
            /// Typed handles of the fields outside the key, for filters, conditions and updates.
            #vis const FIELDS: #fields = #fields {
                #(#field_names: #private::Field::new(#stored) #with #index_source,)*
            };
        }
    };
    (definition, impls)
}

/// A handle's role parameter: nothing for the default role (`Plain`), `, <runtime>::<Role>` for
/// another.
#[derive(Clone, Copy)]
enum Role {
    Plain,
    Named(&'static str),
}

impl ToTokens for Role {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        if let Role::Named(role) = self {
            tokens.append(Punct::new(',', Spacing::Alone));
            Runtime.to_tokens(tokens);
            append_path(tokens, &[role]);
        }
    }
}
