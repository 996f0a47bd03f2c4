//! The operations on one entity. Each makes its write plan or read, sends it through the
//! request layer and maps the answer to the entity or to an [`Error`](crate::Error) naming
//! entity and key.

pub mod builder;
pub mod create;
pub mod delete;
pub mod get;
pub mod lookup;
pub(crate) mod put;
pub mod query;
pub mod soft_delete;
pub mod update;
