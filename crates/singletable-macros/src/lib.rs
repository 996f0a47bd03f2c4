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
mod projection;
mod table_schema;
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

/// Derives `singletable::TableSchema` for an enum with one variant per entity of a table.
///
/// See the `singletable` crate documentation of `TableSchema`.
#[proc_macro_derive(TableSchema)]
pub fn derive_table_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    table_schema::derive(&input)
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

/// Derives `singletable::Projection` for a struct of some fields of an entity
/// (`#[projection(of = Entity)]`), each with the entity field's name, type and serde name.
///
/// See the `singletable` crate documentation.
#[proc_macro_derive(Projection, attributes(projection))]
pub fn derive_projection(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    projection::derive(&input)
        .unwrap_or_else(|errors| errors.to_compile_error())
        .into()
}
