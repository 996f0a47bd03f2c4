//! `#[derive(TableSchema)]`: the entities sharing a table, one enum variant per entity.
//!
//! ```ignore
//! #[derive(TableSchema)]
//! enum AppItem {
//!     Organization(Organization),
//!     Team(Team),
//! }
//! ```
//!
//! The derive cannot see the entities' attributes, only their types; what it checks of them
//! (distinct `_type`s, key templates that never render the same key) it emits as `const`
//! evaluations of their `Schema` constants, one per pair, which stop compilation with a message
//! naming both entities and their templates.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, Type};

use crate::ctxt::Ctxt;

/// The checked model of the enum.
struct Schema<'a> {
    ident: &'a Ident,
    entities: Vec<Entity<'a>>,
}

/// One variant: `Organization(Organization)`.
struct Entity<'a> {
    variant: &'a Ident,
    ty: &'a Type,
    /// The entity type as written, for messages (`model::Team`).
    name: String,
}

pub fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut cx = Ctxt::default();
    let schema = Schema::from_ast(&mut cx, input);
    match (cx.check(), schema) {
        (Ok(()), Some(schema)) => Ok(expand(&schema)),
        (Ok(()), None) => Ok(TokenStream::new()),
        (Err(errors), _) => {
            // The impl still exists, so uses of the enum report nothing more.
            let mut tokens = errors.to_compile_error();
            if input.generics.params.is_empty() && matches!(input.data, Data::Enum(_)) {
                tokens.extend(fallback(&input.ident));
            }
            Ok(tokens)
        }
    }
}

impl<'a> Schema<'a> {
    /// Reads the input; `None` (with errors in `cx`) when it is not an enum of entities.
    fn from_ast(cx: &mut Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let Data::Enum(data) = &input.data else {
            cx.error_spanned_by(
                &input.ident,
                "`TableSchema` is derived on an enum with one variant per entity of the table, \
                 such as `enum AppItem { Team(Team), TeamMember(TeamMember) }`",
            );
            return None;
        };
        if !input.generics.params.is_empty() {
            cx.error_spanned_by(
                &input.generics,
                "a table schema cannot have generic parameters",
            );
        }
        if data.variants.is_empty() {
            cx.error_spanned_by(
                &input.ident,
                "a table schema needs at least one variant, such as `Team(Team)`",
            );
        }
        let mut entities = Vec::new();
        for variant in &data.variants {
            let field = match &variant.fields {
                Fields::Unnamed(fields) if fields.unnamed.len() == 1 => &fields.unnamed[0],
                fields => {
                    // The entity is the one field's type, or else most likely the variant's name.
                    let entity = match fields.iter().collect::<Vec<_>>().as_slice() {
                        [field] => field.ty.to_token_stream().to_string().replace(' ', ""),
                        _ => variant.ident.to_string(),
                    };
                    cx.error_spanned_by(
                        variant,
                        format!(
                            "each variant holds one entity: write `{}({entity})`",
                            variant.ident
                        ),
                    );
                    continue;
                }
            };
            if let Some((_, discriminant)) = &variant.discriminant {
                cx.error_spanned_by(
                    discriminant,
                    "a table schema's variants have no discriminant",
                );
            }
            entities.push(Entity {
                variant: &variant.ident,
                ty: &field.ty,
                name: field.ty.to_token_stream().to_string().replace(' ', ""),
            });
        }
        Some(Schema {
            ident: &input.ident,
            entities,
        })
    }
}

fn expand(schema: &Schema) -> TokenStream {
    let private = quote!(::singletable::__private);
    let ident = schema.ident;
    let name = ident.to_string();
    // Only the `Variant` impls name the entity types, so a type that is not an entity is
    // reported there once.
    let members_of = quote!(<#ident as #private::TableSchema>::MEMBERS);
    let types = (0..schema.entities.len()).map(|i| quote!(#members_of[#i].type_name()));
    let variants = schema.entities.iter().enumerate().map(|(i, e)| {
        let (variant, ty) = (e.variant, e.ty);
        let entity = quote_spanned!(ty.span()=> #ty);
        quote! {
            #[automatically_derived]
            impl #private::Variant<#i> for #ident {
                type Entity = #entity;

                #[inline]
                fn wrap(entity: #ty) -> Self {
                    #ident::#variant(entity)
                }
            }
        }
    });
    let members =
        (0..schema.entities.len()).map(|i| quote!(#private::Member::of_variant::<#ident, #i>()));
    let decodes = (0..schema.entities.len()).map(|i| {
        quote! {
            ::core::option::Option::Some(#i) => #private::decode_variant::<#ident, #i>(item, table),
        }
    });
    let entity_types = schema.entities.iter().enumerate().map(|(i, e)| {
        let variant = e.variant;
        quote!(#ident::#variant(_) => <Self as #private::TableSchema>::TYPES[#i])
    });
    // Every pair, reported at the later variant's entity type.
    let mut checks = Vec::new();
    for (j, b) in schema.entities.iter().enumerate() {
        for (i, a) in schema.entities[..j].iter().enumerate() {
            let (a_name, b_name) = (&a.name, &b.name);
            checks.push(quote_spanned! {b.ty.span()=>
                const _: () = {
                    let (a, b) = (&#members_of[#i], &#members_of[#j]);
                    if let ::core::option::Option::Some(message) =
                        #private::clash(a, b, #a_name, #b_name).message()
                    {
                        ::core::panic!("{}", message);
                    }
                };
            });
        }
    }
    quote! {
        #[doc(hidden)]
        const _: () = {
            #(#checks)*

            #(#variants)*

            #[automatically_derived]
            impl #private::TableSchema for #ident {
                const NAME: &'static str = #name;
                const TYPES: &'static [&'static str] = &[#(#types),*];
                const MEMBERS: &'static [#private::Member] = &[#(#members),*];

                #[inline]
                fn decode(
                    item: #private::Item,
                    table: &#private::Table,
                ) -> #private::Result<Self> {
                    match #private::type_index(&item, <Self as #private::TableSchema>::TYPES) {
                        #(#decodes)*
                        _ => ::core::result::Result::Err(
                            #private::unknown_type::<Self>(&item, table),
                        ),
                    }
                }

                #[inline]
                fn entity_type(&self) -> &'static str {
                    match self {
                        #(#entity_types,)*
                    }
                }
            }
        };
    }
}

/// The impl emitted next to the errors of an enum that is not a valid schema: it never runs.
fn fallback(ident: &Ident) -> TokenStream {
    let private = quote!(::singletable::__private);
    let name = ident.to_string();
    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #private::TableSchema for #ident {
                const NAME: &'static str = #name;
                const TYPES: &'static [&'static str] = &[];
                const MEMBERS: &'static [#private::Member] = &[];

                fn decode(
                    item: #private::Item,
                    table: &#private::Table,
                ) -> #private::Result<Self> {
                    ::core::result::Result::Err(#private::unknown_type::<Self>(&item, table))
                }

                fn entity_type(&self) -> &'static str {
                    #name
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model of `input`, as variant and entity names, or the error messages.
    fn model(input: DeriveInput) -> Result<Vec<(String, String)>, Vec<String>> {
        let mut cx = Ctxt::default();
        let schema = Schema::from_ast(&mut cx, &input);
        match cx.check() {
            Ok(()) => Ok(schema
                .expect("no error means a model")
                .entities
                .iter()
                .map(|e| (e.variant.to_string(), e.name.clone()))
                .collect()),
            Err(errors) => Err(errors.into_iter().map(|e| e.to_string()).collect()),
        }
    }

    #[test]
    fn each_variant_is_an_entity() {
        let input = syn::parse_quote! {
            enum AppItem {
                Team(Team),
                Member(model::TeamMember),
            }
        };
        assert_eq!(
            model(input).unwrap(),
            [
                ("Team".to_owned(), "Team".to_owned()),
                ("Member".to_owned(), "model::TeamMember".to_owned())
            ]
        );
    }

    #[test]
    fn every_mistake_is_reported() {
        let input = syn::parse_quote! {
            enum AppItem<T> {
                Team,
                Pair(Team, Member),
                Named { team: Team },
                Ok(Ok) = 3,
            }
        };
        let errors = model(input).unwrap_err();
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors[0].contains("generic parameters"));
        assert!(errors[1].contains("write `Team(Team)`"));
        assert!(errors[2].contains("write `Pair(Pair)`"));
        assert!(errors[3].contains("write `Named(Team)`"));
        assert!(errors[4].contains("no discriminant"));
    }

    #[test]
    fn a_struct_or_an_empty_enum_is_refused() {
        let errors = model(syn::parse_quote!(
            struct AppItem;
        ))
        .unwrap_err();
        assert!(errors[0].contains("derived on an enum"));
        let errors = model(syn::parse_quote!(
            enum AppItem {}
        ))
        .unwrap_err();
        assert!(errors[0].contains("at least one variant"));
    }
}
