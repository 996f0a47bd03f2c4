//! The `Entity` impl: type name, templates, how create input becomes an entity, update stamps.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;

use super::key::{borrow_from_self, template_const};
use super::new::is_supplied;
use super::{private, Names};
use crate::ast::{Entity, Field};
use crate::attr::Autogen;
use crate::validate::Keys;

pub fn expand(entity: &Entity, keys: &Keys, names: &Names) -> TokenStream {
    let private = private();
    let ident = entity.ident;
    let Names {
        key,
        partition,
        new,
        query,
        ..
    } = names;
    let type_name = &keys.type_name;
    let (pk, sk) = (template_const(&keys.pk.text), template_const(&keys.sk.text));
    let borrow_key = borrow_from_self(entity, keys, names);
    let fill = entity.fields.iter().map(|f| {
        let name = f.ident;
        let value = initial_value(f);
        quote!(#name: #value)
    });
    let stamps: Vec<TokenStream> = entity
        .fields
        .iter()
        .filter_map(|f| {
            let value = generate(f, &f.attrs.on_update.as_ref()?.value);
            let set = set_call(f, quote!(update), quote!(&value));
            Some(quote! {{
                let value = #value;
                #set;
            }})
        })
        .collect();
    let stamp_update = (!stamps.is_empty()).then(|| {
        quote! {
            #[inline]
            fn stamp_update(update: &mut #private::Stamps, now: #private::OffsetDateTime) {
                #(#stamps)*
            }
        }
    });
    let index_items = super::index::entity_items(entity, keys);
    let unique_items = super::unique::entity_items(entity, keys);
    let soft_delete = entity.attrs.soft_delete.then(|| {
        quote!(
            const SOFT_DELETE: bool = true;
        )
    });
    let schema = entity.attrs.upgrade.as_ref().map(|upgrade| {
        let (version, compatible) = (keys.schema, keys.compatible);
        quote! {
            const SCHEMA: u32 = #version;
            const COMPATIBLE: u32 = #compatible;

            #[inline]
            fn upgrade(from: u32, item: &mut #private::Item) -> ::core::result::Result<(), #private::String> {
                #upgrade(from, item)
            }
        }
    });
    let audit = entity.attrs.audit.then(|| {
        quote!(
            const AUDITED: bool = true;
        )
    });
    let ttl_items = keys.ttl.map(|i| {
        let (field, ty) = (entity.fields[i].ident, entity.fields[i].ty);
        quote! {
            const EXPIRES: bool = true;

            #[inline]
            fn expires_at(&self) -> #private::Option<i64> {
                <#ty as #private::Expiry>::epoch_seconds(&self.#field)
            }
        }
    });
    let version_items = keys.version.map(|i| {
        let (field, stored) = (entity.fields[i].ident, &entity.fields[i].stored_name);
        quote! {
            const VERSION: #private::Option<&'static str> = #private::Some(#stored);

            #[inline]
            fn version(&self) -> #private::Option<u64> {
                #private::Some(self.#field)
            }
        }
    });
    let versioned = keys.version.map(|_| {
        quote! {
            #[automatically_derived]
            impl #private::Versioned for #ident {}
        }
    });
    let mut key_fields: Vec<&str> = Vec::new();
    for &i in keys
        .pk
        .fields
        .iter()
        .chain(&keys.sk.fields)
        .chain(keys.tenant.as_ref())
    {
        let name = entity.fields[i].stored_name.as_str();
        if !key_fields.contains(&name) {
            key_fields.push(name);
        }
    }
    // A field serde skips is not stored: no projection can read it.
    let renamed: Vec<TokenStream> = entity
        .fields
        .iter()
        .filter_map(|f| {
            let rust = f.ident.unraw().to_string();
            let stored = if f.attrs.serde_skip {
                ""
            } else {
                f.stored_name.as_str()
            };
            (rust != stored).then(|| quote!((#rust, #stored)))
        })
        .collect();
    let renamed_fields = (!renamed.is_empty()).then(|| {
        quote!(const RENAMED_FIELDS: &'static [(&'static str, &'static str)] = &[#(#renamed),*];)
    });
    let tenant_items = keys.tenant.map(|i| {
        let field = entity.fields[i].ident;
        let param = entity.fields[i].param_name();
        let stored = &entity.fields[i].stored_name;
        // The default is the placeholder.
        let tenant_field = (*stored != param).then(|| {
            quote!(const TENANT_FIELD: #private::Option<&'static str> = #private::Some(#stored);)
        });
        quote! {
            const TENANT_PARAM: #private::Option<&'static str> = #private::Some(#param);
            #tenant_field

            #[inline]
            fn tenant(&self) -> #private::Option<&str> {
                #private::Some(&self.#field)
            }
        }
    });
    let new_binding = if entity.fields.iter().any(is_supplied) {
        quote!(new)
    } else {
        quote!(_)
    };
    quote! {
        #[automatically_derived]
        impl #private::Schema for #ident {
            const TYPE: &'static str = #type_name;
            const PARTITION_KEY: &'static #private::Template<'static> = &#pk;
            const SORT_KEY: &'static #private::Template<'static> = &#sk;
            const KEY_FIELDS: &'static [&'static str] = &[#(#key_fields),*];
            #renamed_fields

            type Key<'k> = #key<'k>;
            type New = #new;
            type Partition<'k> = #partition<'k>;

            #[inline]
            fn from_new(
                #new_binding: #new,
                now: #private::OffsetDateTime,
                table: &#private::Table,
            ) -> #private::Result<Self> {
                let _ = (now, table);
                #private::Ok(#ident {
                    #(#fill,)*
                })
            }

            #tenant_items
            #version_items
            #ttl_items
            #soft_delete
            #audit
            #schema

            #index_items
            #unique_items
            #stamp_update

            #[inline]
            fn key(&self) -> #key<'_> {
                #borrow_key
            }
        }

        #[automatically_derived]
        impl #private::Entity for #ident {
            type Query<'t> = #query<'t>;
        }

        #versioned
    }
}

/// Stores `value` (an expression of type `&T`) in `update` (the entity's `Stamps`), through the
/// field's `serialize_with` when it has one, so the attribute matches what `Serialize` writes.
fn set_call(field: &Field, update: TokenStream, value: TokenStream) -> TokenStream {
    let stored = &field.stored_name;
    match &field.attrs.serialize_with {
        Some(with) => quote!(#update.set_with(#stored, #value, #with)),
        None => quote!(#update.set(#stored, #value)),
    }
}

/// The value of a field in a newly created entity.
fn initial_value(field: &Field) -> TokenStream {
    let (private, name, ty) = (private(), field.ident, field.ty);
    if field.attrs.version.is_some() {
        return quote!(0);
    }
    if field.attrs.tenant.is_some() {
        let entity = quote!(Self);
        return quote!(#private::current_tenant::<#entity>(table)?.as_str().to_owned());
    }
    match (&field.attrs.on_create, &field.attrs.on_update) {
        (Some(on_create), _) => generate(field, &on_create.value),
        (None, Some(on_update)) => match on_update.value {
            Autogen::Timestamp => {
                quote!(<#ty as #private::GenerateTimestamp>::before_first_update(now))
            }
            _ => generate(field, &on_update.value),
        },
        (None, None) => quote!(new.#name),
    }
}

/// The expression that generates a value of `field`'s type (`now` is in scope).
fn generate(field: &Field, kind: &Autogen) -> TokenStream {
    let (private, ty) = (private(), field.ty);
    match kind {
        Autogen::Uuid => quote!(<#ty as #private::GenerateId>::uuid_v4()),
        Autogen::UuidV7 => quote!(<#ty as #private::GenerateId>::uuid_v7()),
        Autogen::Timestamp => quote!(<#ty as #private::GenerateTimestamp>::timestamp(now)),
        Autogen::Count => quote!(<#ty as #private::Counter>::zero()),
        Autogen::Function(path) => quote!(#path()),
    }
}
