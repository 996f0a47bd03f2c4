//! `#[derive(Entity)]` for singletable.
//!
//! The derive parses the struct into a model (`ast`), checks every rule it can at compile time
//! (`validate`), then emits small impls that call the runtime through
//! `::singletable::__private` (`expand`). Use it through the `singletable` crate.

mod ast;
mod attr;
mod case;
mod collection;
mod ctxt;
mod expand;
mod validate;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `singletable::Collection` for a struct of a root entity and the items joined to it.
///
/// See the `singletable` crate documentation for the attributes.
#[proc_macro_derive(Collection, attributes(collection))]
pub fn derive_collection(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    collection::derive(&input)
        .unwrap_or_else(|errors| errors.to_compile_error())
        .into()
}

/// Derives `singletable::Entity` for a struct with named fields.
///
/// See the `singletable` crate documentation for the attributes.
#[proc_macro_derive(Entity, attributes(entity))]
pub fn derive_entity(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive_entity(&input)
        .unwrap_or_else(|errors| errors.to_compile_error())
        .into()
}
