//! Secondary indexes: the `INDEXES` templates and `index_keys` of the `Entity` impl, and per
//! index a partition struct (`<Entity><Query>`), a query builder (`<Entity><Query>Query`) with a
//! method per named range on the index sort key, and a query function on the entity.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::key::{bind_tenant, borrowed_type, copy_impls, supplied, template_const, values};
use super::query::{builder_impl, range_method};
use super::{private, Runtime};
use crate::ast::{Entity, Field};
use crate::validate::{option_inner, IndexQuery, Key, Keys};

/// `const INDEXES` and `fn index_keys`, for the `Entity` impl.
pub fn entity_items(entity: &Entity, keys: &Keys) -> TokenStream {
    if keys.indexes.is_empty() {
        return TokenStream::new();
    }
    let private = private();
    let definitions = keys.indexes.iter().map(|index| {
        let (name, pk, sk) = (
            &index.name,
            template_const(&index.pk.text),
            template_const(&index.sk.text),
        );
        quote!(#private::IndexKeys { index: #name, pk: #pk, sk: #sk })
    });
    let renders = keys
        .indexes
        .iter()
        .enumerate()
        .map(|(i, index)| index_key(entity, i, index));
    quote! {
        const INDEXES: &'static [#private::IndexKeys] = &[#(#definitions),*];

        #[inline]
        fn index_keys(
            &self,
            separator: char,
        ) -> #private::Result<::std::vec::Vec<#private::Option<#private::ItemKey>>> {
            #private::Ok(::std::vec![#(#renders),*])
        }
    }
}

/// The keys of one index from `self`, or `None` when an `Option` field it needs is `None`.
fn index_key(entity: &Entity, i: usize, index: &IndexQuery) -> TokenStream {
    let private = private();
    let mut optional: Vec<&Field> = Vec::new();
    for &f in index.pk.fields.iter().chain(&index.sk.fields) {
        let field = &entity.fields[f];
        if option_inner(field.ty).is_some() && !optional.iter().any(|o| o.ident == field.ident) {
            optional.push(field);
        }
    }
    let value = |key: &Key| {
        let parts = key.fields.iter().map(|&f| {
            let field = &entity.fields[f];
            match option_inner(field.ty) {
                Some(inner) => {
                    let bound = format_ident!("__{}", field.ident);
                    quote!(#private::key_part::<#inner>(#bound))
                }
                None => {
                    let (ty, name) = (field.ty, field.ident);
                    quote!(#private::key_part::<#ty>(&self.#name))
                }
            }
        });
        quote!(&[#(#parts),*])
    };
    let (pk, sk) = (value(&index.pk), value(&index.sk));
    let render = quote!(#private::render_index::<Self>(#i, #pk, #sk, separator)?);
    if optional.is_empty() {
        return quote!(#private::Some(#render));
    }
    let sources = optional.iter().map(|f| {
        let name = f.ident;
        quote!(&self.#name)
    });
    let patterns = optional.iter().map(|f| {
        let bound = format_ident!("__{}", f.ident);
        quote!(#private::Some(#bound))
    });
    quote! {
        match (#(#sources,)*) {
            (#(#patterns,)*) => #private::Some(#render),
            _ => #private::None,
        }
    }
}

/// Per index: the partition struct and the query builder struct; and the builder's impls and
/// the query function on the entity.
pub fn expand(entity: &Entity, keys: &Keys) -> (TokenStream, TokenStream) {
    let (private, runtime) = (private(), Runtime);
    let (ident, vis) = (entity.ident, entity.vis);
    let items = keys.indexes.iter().enumerate().map(|(i, index)| {
        let query = &index.query;
        let partition = format_ident!("{ident}{}", pascal_case(&query.to_string()));
        let builder = format_ident!("{partition}Query");
        let fields: Vec<&Field> = supplied(keys, &index.pk.fields)
            .into_iter()
            .map(|f| &entity.fields[f])
            .collect();
        let doc = format!(
            "A partition of index `{}` for [`{ident}::{query}`]: `{}`.",
            index.name, index.pk.text
        );
        let definition = if fields.is_empty() {
            quote! {
                #[doc = #doc]
                #[derive(Clone, Copy, Debug, Default)]
                #vis struct #partition<'k>(::core::marker::PhantomData<&'k ()>);
            }
        } else {
            let members = fields.iter().map(|f| {
                let param = format_ident!("{}", f.param_name());
                let ty = borrowed_type(option_inner(f.ty).unwrap_or(f.ty));
                quote!(pub #param: #ty)
            });
            let copy = copy_impls(&partition);
            quote! {
                #[doc = #doc]
                #[derive(Debug)]
                #vis struct #partition<'k> {
                    #(#members,)*
                }
                #copy
            }
        };
        let values = values(entity, keys, &index.pk, |f| {
            let param = format_ident!("{}", f.param_name());
            quote!(partition.#param)
        });
        let bind = bind_tenant(entity, keys, &index.pk.fields);
        let name = &index.name;
        let query_doc = format!(
            "The [`{ident}`] items in one partition of index `{name}` (`{}`, sorted by `{}`).",
            index.pk.text, index.sk.text
        );
        let builder_doc = format!(
            "A query of [`{ident}`] items in one partition of index `{name}`, started by \
             `{ident}::{query}`; run it with `all`, `page`, `stream` or `count`."
        );
        if index.lookup {
            let lookup_doc = format!(
                "The tenant and key of every [`{ident}`] item whose `{}` in index `{name}` \
                 is the given value; no tenant scope is needed, and no item data is read.",
                index.pk.text
            );
            let lookup = quote! {
                impl #ident {
                    #[doc = #lookup_doc]
                    #[inline]
                    #vis fn #query<'t>(
                        table: &'t #private::Table,
                        partition: #partition<'t>,
                    ) -> #private::Lookup<'t, #ident> {
                        let pk = #private::Later::new(move |table| {
                            #private::render_index_partition::<#ident>(#i, #values, table.separator())
                        });
                        #private::Lookup::new(table, #name, pk)
                    }
                }
            };
            return (definition, lookup);
        }
        let ranges = index.ranges.iter().map(|r| range_method(entity, keys, r));
        let builder_impl = builder_impl(&builder, ident);
        let definitions = quote! {
            #definition

            #[doc = #builder_doc]
            #[must_use = "a query does nothing until it is run"]
            #vis struct #builder<'t>(#runtime::Query<'t, #ident>);
        };
        let impls = quote! {
            #builder_impl

            impl<'t> #builder<'t> {
                #(#ranges)*
            }

            impl #ident {
                #[doc = #query_doc]
                #[inline]
                #vis fn #query<'t>(
                    table: &'t #private::Table,
                    partition: #partition<'t>,
                ) -> #builder<'t> {
                    // Rendered when the query runs, in the tenant scope it runs in.
                    let pk = #private::Later::new(move |table| {
                        #bind
                        #private::render_index_partition::<#ident>(#i, #values, table.separator())
                    });
                    #builder(#private::Query::index(table, #name, pk))
                }
            }
        };
        (definitions, impls)
    });
    let (definitions, impls): (Vec<_>, Vec<_>) = items.unzip();
    (quote!(#(#definitions)*), quote!(#(#impls)*))
}

fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
        })
        .collect()
}
