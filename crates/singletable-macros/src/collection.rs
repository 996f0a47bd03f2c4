//! `#[derive(Collection)]`: a root entity and the entities (or nested collections) joined to it.
//!
//! ```ignore
//! #[derive(Collection)]
//! #[collection(root = Team)]
//! struct TeamWithMembers {
//!     team: Team,
//!     #[collection(on(team_id = id), order_by = username)]
//!     members: Vec<TeamMember>,
//! }
//! ```

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, Type};

use crate::ctxt::Ctxt;
use crate::validate::{option_inner, vec_element};

/// How a joined field holds its items.
enum Shape {
    Many,
    AtMostOne,
}

/// A joined field.
struct Join<'a> {
    ident: &'a Ident,
    element: &'a Type,
    shape: Shape,
    order_by: Option<Ident>,
    descending: bool,
    /// `on(child_field = parent_field)`.
    on: Option<(Ident, Ident)>,
}

pub fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::default();
    let mut root_type: Option<Type> = None;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("collection"))
    {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("root") {
                root_type = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error("unknown collection attribute; expected `root = Entity`"))
            }
        });
        if let Err(e) = result {
            cx.push(e);
        }
    }
    let Some(root_type) = root_type else {
        cx.error_spanned_by(
            &input.ident,
            "missing `#[collection(root = Entity)]`: the entity the collection is read from",
        );
        return cx.check().map(|()| TokenStream::new());
    };
    let Some(fields) = crate::ast::named_fields(&mut cx, input, "Collection") else {
        return cx.check().map(|()| TokenStream::new());
    };
    let same_type = |ty: &Type| quote!(#ty).to_string() == quote!(#root_type).to_string();
    let mut root_field = None;
    let mut joins = Vec::new();
    for field in fields {
        let Some(ident) = field.ident.as_ref() else {
            continue;
        };
        if root_field.is_none() && same_type(&field.ty) {
            root_field = Some(ident);
            continue;
        }
        let (shape, element) = match (vec_element(&field.ty), option_inner(&field.ty)) {
            (Some(element), _) => (Shape::Many, element),
            (_, Some(element)) => (Shape::AtMostOne, element),
            _ => {
                cx.error_spanned_by(
                    &field.ty,
                    "a joined field is a `Vec<_>` or an `Option<_>` of an entity or collection",
                );
                continue;
            }
        };
        let mut join = Join {
            ident,
            element,
            shape,
            order_by: None,
            descending: false,
            on: None,
        };
        for attr in field
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("collection"))
        {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("order_by") {
                    join.order_by = Some(meta.value()?.parse()?);
                } else if meta.path.is_ident("descending") {
                    join.descending = true;
                } else if meta.path.is_ident("on") {
                    meta.parse_nested_meta(|pair| {
                        let child = pair.path.require_ident()?.clone();
                        let parent: Ident = pair.value()?.parse()?;
                        join.on = Some((child, parent));
                        Ok(())
                    })?;
                } else {
                    return Err(meta.error("unknown collection field attribute; expected `order_by`, `descending` or `on(child_field = parent_field)`"));
                }
                Ok(())
            });
            if let Err(e) = result {
                cx.push(e);
            }
        }
        joins.push(join);
    }
    let Some(root_field) = root_field else {
        cx.error_spanned_by(
            &input.ident,
            format!("no field of the root type `{}`", quote!(#root_type)),
        );
        return cx.check().map(|()| TokenStream::new());
    };
    cx.check()?;
    Ok(expand(&input.ident, &root_type, root_field, &joins))
}

fn expand(ident: &Ident, root: &Type, root_field: &Ident, joins: &[Join]) -> TokenStream {
    let private = quote!(::singletable::__private);
    let root_entity = quote_spanned!(root.span()=> <#root as #private::Schema>);
    let checks = joins.iter().map(|join| {
        let element = join.element;
        let name = join.ident.to_string();
        quote_spanned! {element.span()=>
            const _: () = {
                let root = #root_entity::PARTITION_KEY;
                let joined = <<#element as #private::Joinable>::Root as #private::Schema>::PARTITION_KEY;
                if !root.same_shape(joined) {
                    #private::partition_mismatch(root.source(), joined.source(), #name);
                }
            };
        }
    });
    let builds = joins.iter().map(|join| {
        let (name, element) = (join.ident, join.element);
        let order = join.order_by.as_ref().map(|field| {
            let (a, b) = if join.descending {
                (quote!(b), quote!(a))
            } else {
                (quote!(a), quote!(b))
            };
            quote! {
                #name.sort_by(|a, b| {
                    #private::Joinable::root(#a).#field.cmp(&#private::Joinable::root(#b).#field)
                });
            }
        });
        let distribute = match &join.on {
            Some((child, parent)) => quote! {
                #private::by_relation(
                    &roots,
                    #name,
                    |parent: &#root| #private::key_part(&parent.#parent),
                    |child: &#element| #private::key_part(&#private::Joinable::root(child).#child),
                )
            },
            None => quote!(#private::by_type(&roots, #name, stringify!(#name))?),
        };
        quote! {
            let mut #name = #private::children::<#element>(pool)?;
            #order
            let mut #name = #distribute.into_iter();
        }
    });
    let members = joins.iter().map(|join| {
        let name = join.ident;
        match join.shape {
            Shape::Many => quote!(#name: #name.next().unwrap_or_default()),
            Shape::AtMostOne => quote!(#name: #name.next().unwrap_or_default().into_iter().next()),
        }
    });
    let sort_keys = joins.iter().map(|join| {
        let element = join.element;
        quote!(<#element as #private::Joinable>::sort_keys(out);)
    });
    quote! {
        #[doc(hidden)]
        const _: () = {
            #(#checks)*

            #[automatically_derived]
            impl #private::Joinable for #ident {
                type Root = #root;

                #[inline]
                fn root(&self) -> &#root {
                    &self.#root_field
                }

                #[inline]
                fn assemble(
                    roots: ::std::vec::Vec<#root>,
                    pool: &mut #private::Pool<'_>,
                ) -> #private::Result<::std::vec::Vec<Self>> {
                    #(#builds)*
                    ::core::result::Result::Ok(
                        roots
                            .into_iter()
                            .map(|root| #ident { #root_field: root, #(#members,)* })
                            .collect(),
                    )
                }

                #[inline]
                fn sort_keys(out: &mut ::std::vec::Vec<&'static #private::Template<'static>>) {
                    out.push(#root_entity::SORT_KEY);
                    #(#sort_keys)*
                }
            }

            #[automatically_derived]
            impl #private::Collection for #ident {}
        };
    }
}
