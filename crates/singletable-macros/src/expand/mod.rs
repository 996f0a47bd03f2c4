//! Code generation. Everything here runs after validation succeeded and only emits tokens.
//!
//! Every generated function that is not generic is `#[inline]`: a crate that defines entities then
//! compiles none of them, nor the generic runtime code each would instantiate for its entity,
//! until it calls them (a non-generic public function is compiled where it is defined, used or
//! not). Async operations return the runtime's futures instead of wrapping them in an `async fn`,
//! which would be one more state machine per entity.

mod entity;
mod fields;
mod index;
mod key;
mod new;
mod query;
mod unique;

use proc_macro2::{Punct, Spacing, Span, TokenStream};
use quote::{format_ident, quote, ToTokens, TokenStreamExt};
use syn::{DeriveInput, Ident};

use crate::ast::Entity;
use crate::ctxt::Ctxt;
use crate::validate::{self, Keys};

pub fn derive_entity(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::default();
    let entity = Entity::from_ast(&mut cx, input);
    let keys = entity
        .as_ref()
        .and_then(|e| validate::check(&mut cx, e, input));
    cx.check()?;
    // Validation reports every problem it finds, so both are present here.
    let (Some(entity), Some(keys)) = (entity, keys) else {
        return Ok(TokenStream::new());
    };
    let names = Names::of(entity.ident);
    let (key, key_impls) = key::expand(&entity, &keys, &names);
    let new = new::expand(&entity, &names);
    let (query, query_impls) = query::expand(&entity, &keys, &names);
    let (fields, fields_impl) = fields::expand(&entity, &keys, &names);
    let (indexes, index_impls) = index::expand(&entity, &keys);
    let entity_impl = entity::expand(&entity, &keys, &names);
    let private = private();
    // The types are defined where the entity is; everything else is in one block that names
    // the runtime by a short local path (less for the compiler to read and resolve).
    Ok(quote! {
        #key
        #new
        #query
        #fields
        #indexes
        #[doc(hidden)]
        const _: () = {
            use #Runtime as #private;
            #key_impls
            #query_impls
            #fields_impl
            #index_impls
            #entity_impl
        };
    })
}

/// Names of the generated types.
struct Names {
    key: Ident,
    partition: Ident,
    new: Ident,
    query: Ident,
    fields: Ident,
}

impl Names {
    fn of(entity: &Ident) -> Self {
        Names {
            key: format_ident!("{entity}Key"),
            partition: format_ident!("{entity}Partition"),
            new: format_ident!("New{entity}"),
            query: format_ident!("{entity}Query"),
            fields: format_ident!("{entity}Fields"),
        }
    }
}

/// The hidden path generated code reaches the runtime through, `::singletable::__private`,
/// for the definitions outside the block of impls.
///
/// Appended token by token: interpolating a token stream into `quote!` costs several calls
/// across the compiler's proc-macro bridge, and a derive on every entity of a crate makes many.
#[derive(Clone, Copy)]
struct Runtime;

impl ToTokens for Runtime {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        append_path(tokens, &["singletable", "__private"]);
    }
}

/// Appends `::name` for each of `names`, token by token (see [`Runtime`]).
fn append_path(tokens: &mut TokenStream, names: &[&str]) {
    for name in names {
        tokens.append(Punct::new(':', Spacing::Joint));
        tokens.append(Punct::new(':', Spacing::Alone));
        tokens.append(Ident::new(name, Span::call_site()));
    }
}

/// What [`Runtime`] is imported as in the block of generated impls. An identifier, not a token
/// stream: quoting it copies one token.
fn private() -> Ident {
    Ident::new("__singletable", proc_macro2::Span::call_site())
}

/// Which fields are in a key, by index.
fn in_key(keys: &Keys) -> impl Fn(usize) -> bool {
    let fields = keys.fields();
    move |i| fields.contains(&i)
}
