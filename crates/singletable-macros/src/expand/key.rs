//! The borrowed parameter structs: `<Entity>Key<'k>` (every placeholder of pk and sk) with its
//! `EntityKey` impl, and `<Entity>Partition<'k>` (the placeholders of pk) with `PartitionKey`; or,
//! when the sort key has no placeholders, `<Entity>Partition` is the key type, marked
//! `NamesPartition`, which the runtime's one `PartitionKey` impl covers.

use proc_macro2::{Delimiter, Group, Literal, TokenStream, TokenTree};
use quote::{format_ident, quote, ToTokens, TokenStreamExt};
use singletable_keys::{Segment, Template};
use syn::Ident;

use super::{append_path, private, Names};
use crate::ast::{Entity, Field};
use crate::validate::{option_inner, Key, Keys};

/// The key and partition structs, and their impls.
pub fn expand(entity: &Entity, keys: &Keys, names: &Names) -> (TokenStream, TokenStream) {
    let private = private();
    let ident = entity.ident;
    let (key, partition) = (&names.key, &names.partition);
    let key_doc = format!(
        "The key of [`{ident}`]: partition `{}`, sort `{}`.",
        keys.pk.text, keys.sk.text
    );
    let partition_doc = format!("A partition of [`{ident}`]: `{}`.", keys.pk.text);
    let (key_fields, partition_fields) = (
        supplied(keys, &keys.fields()),
        supplied(keys, &keys.pk.fields),
    );
    let key_struct = params_struct(entity, key, &key_fields, &key_doc);
    // When the sort key has no parameters of its own, what names a partition names a key: the
    // partition is the key type, not a second struct with the same members, and its
    // `PartitionKey` impl is the runtime's for every such key.
    let names_partition = partition_fields == key_fields;
    let partition_struct = if names_partition {
        let vis = entity.vis;
        let doc = format!("{partition_doc} The same parameters as [`{key}`].");
        quote!(#[doc = #doc] #vis type #partition<'k> = #key<'k>;)
    } else {
        params_struct(entity, partition, &partition_fields, &partition_doc)
    };
    let self_field = |f: &Field| {
        let name = format_ident!("{}", f.param_name());
        quote!(self.#name)
    };
    let pk_values = values(entity, keys, &keys.pk, self_field);
    let sk_values = values(entity, keys, &keys.sk, self_field);
    let bind_key = bind_tenant(entity, keys, &keys.fields());
    let bind_partition = bind_tenant(entity, keys, &keys.pk.fields);
    let partition_impl = if names_partition {
        quote! {
            #[automatically_derived]
            impl #private::NamesPartition for #key<'_> {}
        }
    } else {
        quote! {
            #[automatically_derived]
            impl<'k> #private::PartitionKey for #partition<'k> {
                #[inline]
                fn partition_key(&self, table: &#private::Table) -> #private::Result<#private::String> {
                    let separator = table.separator();
                    #bind_partition
                    #private::render_partition::<#ident>(#pk_values, separator)
                }
            }
        }
    };
    let definitions = quote! {
        #key_struct
        #partition_struct
    };
    let impls = quote! {
        #[automatically_derived]
        impl<'k> #private::EntityKey for #key<'k> {
            #[inline]
            fn item_key(&self, table: &#private::Table) -> #private::Result<#private::ItemKey> {
                let separator = table.separator();
                #bind_key
                #private::render_key::<#ident>(#pk_values, #sk_values, separator)
            }
        }

        #partition_impl
    };
    (definitions, impls)
}

/// A struct of borrowed values, one per field in `fields` (named by its placeholder). It has no
/// `PartialEq` or `Hash`: what identifies an item is the rendered `ItemKey`, which has both, and
/// every derive is compiled for every entity.
fn params_struct(entity: &Entity, name: &Ident, fields: &[usize], doc: &str) -> TokenStream {
    let vis = entity.vis;
    if fields.is_empty() {
        return quote! {
            #[doc = #doc]
            #[derive(Clone, Copy, Debug, Default)]
            #vis struct #name<'k>(::core::marker::PhantomData<&'k ()>);
        };
    }
    let members = fields.iter().map(|&i| {
        let field = &entity.fields[i];
        let param = format_ident!("{}", field.param_name());
        let ty = borrowed_type(field.ty);
        quote!(pub #param: #ty)
    });
    let copy = copy_impls(name);
    quote! {
        #[doc = #doc]
        #[derive(Debug)]
        #vis struct #name<'k> {
            #(#members,)*
        }
        #copy
    }
}

/// `Copy` and `Clone` for a struct of borrowed values `name<'k>`, written out: the derives add a
/// `TrivialClone` impl and a bound check per field, compiled for every entity.
pub fn copy_impls(name: &Ident) -> TokenStream {
    quote! {
        #[automatically_derived]
        impl ::core::marker::Copy for #name<'_> {}

        #[automatically_derived]
        impl ::core::clone::Clone for #name<'_> {
            #[inline]
            fn clone(&self) -> Self {
                *self
            }
        }
    }
}

/// `&[value, ...]` for a template's placeholders: the tenant from the scope (bound by
/// [`bind_tenant`]), every other one from `source` (an expression of its borrowed type).
pub fn values(
    entity: &Entity,
    keys: &Keys,
    key: &Key,
    source: impl Fn(&Field) -> TokenStream,
) -> TokenStream {
    let private = private();
    let fields = key.fields.iter().map(|&i| {
        if Some(i) == keys.tenant {
            return quote!(#private::key_part(&__tenant.as_str()));
        }
        let field = &entity.fields[i];
        // Index keys may use `Option` fields; their borrowed values are of the inner type.
        key_part(option_inner(field.ty).unwrap_or(field.ty), source(field))
    });
    quote!(&[#(#fields),*])
}

/// The fields a caller supplies among `fields`: all but the tenant, which the scope supplies.
pub fn supplied(keys: &Keys, fields: &[usize]) -> Vec<usize> {
    fields
        .iter()
        .copied()
        .filter(|&i| Some(i) != keys.tenant)
        .collect()
}

/// `let __tenant = current_tenant(table)?;` when `fields` hold the tenant; nothing otherwise.
/// `table` must be in scope.
pub fn bind_tenant(entity: &Entity, keys: &Keys, fields: &[usize]) -> TokenStream {
    let private = private();
    let ident = entity.ident;
    match keys.tenant {
        Some(tenant) if fields.contains(&tenant) => {
            quote!(let __tenant = #private::current_tenant::<#ident>(table)?;)
        }
        _ => TokenStream::new(),
    }
}

/// A `&dyn KeyPart` from `value`, an expression of type [`borrowed_type`]`(ty)`. Written with
/// the field's own type tokens, so a type that is not a key part is reported at the field.
pub fn key_part(ty: &syn::Type, value: TokenStream) -> TokenStream {
    let private = private();
    if is_string(ty) {
        quote!(#private::key_part(&#value))
    } else {
        quote!(#private::key_part::<#ty>(#value))
    }
}

/// `&'k str` for a `String` field, `&'k T` for any other.
pub fn borrowed_type(ty: &syn::Type) -> TokenStream {
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
    let fields: Vec<&Field> = supplied(keys, &keys.fields())
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
    let segments = segments.iter().map(SegmentTokens);
    quote!(#private::Template::from_segments(#text, &[#(#segments),*]))
}

/// `<private>::Segment::Literal("...")`, `::Separator` or `::Param("...")`, appended token by
/// token (a template has many segments, and each quoted stream costs bridge calls).
struct SegmentTokens<'a>(&'a Segment<'a>);

impl ToTokens for SegmentTokens<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let (variant, text) = match self.0 {
            Segment::Literal(text) => ("Literal", Some(text)),
            Segment::Separator => ("Separator", None),
            Segment::Param(name) => ("Param", Some(name)),
        };
        tokens.append(private());
        append_path(tokens, &["Segment", variant]);
        if let Some(text) = text {
            let text = TokenTree::Literal(Literal::string(text));
            tokens.append(Group::new(Delimiter::Parenthesis, text.into()));
        }
    }
}
