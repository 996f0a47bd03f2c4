//! `New<Entity>`: what a caller supplies to `create`, every field that is not generated.

use proc_macro2::TokenStream;
use quote::quote;

use super::Names;
use crate::ast::Entity;

pub fn expand(entity: &Entity, names: &Names) -> TokenStream {
    let (ident, vis, new) = (entity.ident, entity.vis, &names.new);
    let doc = format!(
        "The fields a caller supplies to create a [`{ident}`]; generated fields are filled in by `create`."
    );
    let members = entity.fields.iter().filter(|f| is_supplied(f)).map(|f| {
        let (vis, name, ty) = (f.vis, f.ident, f.ty);
        quote!(#vis #name: #ty)
    });
    quote! {
        #[doc = #doc]
        #vis struct #new {
            #(#members,)*
        }
    }
}

/// A field the caller supplies on create: not generated on create or update, and not the
/// tenant (which comes from the tenant scope).
pub fn is_supplied(field: &crate::ast::Field) -> bool {
    field.attrs.on_create.is_none()
        && field.attrs.on_update.is_none()
        && field.attrs.tenant.is_none()
        && field.attrs.version.is_none()
}
