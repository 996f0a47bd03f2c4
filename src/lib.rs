//! Compile-checked single-table design for DynamoDB.
//!
//! Derive [`Entity`] on a plain struct; its key templates are checked against the struct at
//! compile time, and it gets typed `create`, `get`, `update`, `delete` and `put` operations that run
//! on a [`Table`] with `aws-sdk-dynamodb`.
//!
//! ```ignore
//! use serde::{Deserialize, Serialize};
//! use singletable::prelude::*;
//!
//! #[derive(Entity, Serialize, Deserialize, Debug, Clone)]
//! #[entity(type = "ORGANIZATION", pk = "TENANT#<tenant_id>#ORG#<id>", sk = "#METADATA")]
//! #[serde(rename_all = "camelCase")]
//! pub struct Organization {
//!     #[entity(autogen = uuid)]
//!     pub id: String,
//!     pub tenant_id: String,
//!     pub name: String,
//!     #[entity(autogen = count)]
//!     pub member_count: i64,
//!     #[entity(autogen = timestamp)]
//!     #[serde(with = "time::serde::rfc3339")]
//!     pub created_at: time::OffsetDateTime,
//!     #[entity(autogen(on_update = timestamp))]
//!     #[serde(with = "time::serde::rfc3339::option")]
//!     pub updated_at: Option<time::OffsetDateTime>,
//! }
//!
//! let org = Organization::create(&table, NewOrganization { tenant_id: "t1".into(), name: "Acme".into() }).await?;
//! let org = Organization::update(&table, org.key()).add_member_count(1).send().await?;
//! ```

pub use singletable_core::*;
pub use singletable_macros::Entity;

/// Everything an application needs in scope: `use singletable::prelude::*;`.
pub mod prelude {
    pub use singletable_core::{Entity, EntityKey, Error, Table};
    pub use singletable_macros::Entity;
}
