//! `<Entity>Query<'t>`: the typed query builder, with a method per named range query.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;

use super::key::{bind_tenant, borrowed_type, supplied, template_const, values};
use super::{private, Names, Runtime};
use crate::ast::{Entity, Field};
use crate::attr::RangeOp;
use crate::validate::{option_inner, Keys, RangeQuery};

/// The query builder struct, and its impls.
pub fn expand(entity: &Entity, keys: &Keys, names: &Names) -> (TokenStream, TokenStream) {
    let runtime = Runtime;
    let (ident, vis, query) = (entity.ident, entity.vis, &names.query);
    let doc = format!(
        "A query of [`{ident}`] items in one partition, started by `{ident}::query`; run it with \
         `all`, `page` or `stream` (methods of `singletable::QueryBuilder`)."
    );
    let ranges = keys.ranges.iter().map(|r| range_method(entity, keys, r));
    let builder = builder_impl(query, ident);
    let definition = quote! {
        #[doc = #doc]
        #[must_use = "a query does nothing until it is run"]
        #vis struct #query<'t>(#runtime::Query<'t, #ident>);
    };
    let impls = quote! {
        #builder

        impl<'t> #query<'t> {
            #(#ranges)*
        }
    };
    (definition, impls)
}

/// The `QueryBuilder` impl of a query wrapper (of the table or of an index): the builder and
/// run methods every query has come from the trait, written once in the runtime.
pub(super) fn builder_impl(wrapper: &Ident, entity: &Ident) -> TokenStream {
    let private = private();
    quote! {
        #[automatically_derived]
        impl<'t> #private::QueryBuilder<'t> for #wrapper<'t> {
            type Entity = #entity;

            #[inline]
            fn into_query(self) -> #private::Query<'t, #entity> {
                self.0
            }

            #[inline]
            fn from_query(query: #private::Query<'t, #entity>) -> Self {
                #wrapper(query)
            }
        }
    }
}

/// The method of one named range query, for a query wrapper (of the table or of an index).
pub(super) fn range_method(entity: &Entity, keys: &Keys, range: &RangeQuery) -> TokenStream {
    let private = private();
    let ident = entity.ident;
    let name = &range.name;
    let template = template_const(&range.key.text);
    let fields: Vec<_> = supplied(keys, &range.key.fields)
        .into_iter()
        .map(|i| &entity.fields[i])
        .collect();
    // One rendering of the template from parameters named with `prefix`.
    let render = |prefix: &str| {
        let param = |f: &Field| format_ident!("{prefix}{}", f.param_name());
        let params = fields.iter().map(|f| param(f));
        // An index sort key may be made of `Option` fields; a range takes their values.
        let types = fields
            .iter()
            .map(|f| borrowed_type(option_inner(f.ty).unwrap_or(f.ty)));
        let args = quote!(#(#params: #types),*);
        let values = values(entity, keys, &range.key, |f| {
            let p = param(f);
            quote!(#p)
        });
        let value = quote!(#private::render_sort::<#ident>(&TEMPLATE, #values, separator));
        (args, value)
    };
    let bind = bind_tenant(entity, keys, &range.key.fields);
    let (op, doc) = match range.op {
        RangeOp::Eq => (quote!(Eq), "equals"),
        RangeOp::BeginsWith => (quote!(BeginsWith), "begins with"),
        RangeOp::Lt => (quote!(Lt), "is less than"),
        RangeOp::Le => (quote!(Le), "is at most"),
        RangeOp::Gt => (quote!(Gt), "is greater than"),
        RangeOp::Ge => (quote!(Ge), "is at least"),
        RangeOp::Between => (quote!(Between), "is between"),
    };
    let doc = format!("Items whose sort key {doc} `{}`.", range.key.text);
    // An upper bound on a prefix takes in every key that continues the prefix: `AT#<T>` as
    // the top of `between` must not leave out `AT#<T>#<id>`.
    let (args, condition) = match range.op {
        RangeOp::Between => {
            let (from_args, from) = render("from_");
            let (to_args, to) = render("to_");
            let condition = quote! {
                #from.and_then(|from| {
                    let to = #private::prefix_upper_bound(&#to?, separator);
                    #private::Ok(#private::SortKey::Between(from, to))
                })
            };
            (quote!(#from_args, #to_args), condition)
        }
        RangeOp::Le | RangeOp::Gt => {
            let (args, value) = render("");
            let condition = quote! {
                #value.map(|prefix| #private::SortKey::#op(#private::prefix_upper_bound(&prefix, separator)))
            };
            (args, condition)
        }
        _ => {
            let (args, value) = render("");
            (args, quote!(#value.map(#private::SortKey::#op)))
        }
    };
    // The tenant is read in a closure, whose `?` ends there.
    let condition = if bind.is_empty() {
        condition
    } else {
        quote!((|| { #bind #condition })())
    };
    quote! {
        #[doc = #doc]
        #[inline]
        pub fn #name<'k>(self, #args) -> Self {
            const TEMPLATE: #private::Template<'static> = #template;
            let table = self.0.table();
            let separator = table.separator();
            let condition = #condition;
            Self(self.0.sort_key_or_error(condition))
        }
    }
}
