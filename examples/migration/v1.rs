//! Build 1, before the migration: a user has one `name`. Its items are schema 1 (they record
//! no `_schema`).

use serde::{Deserialize, Serialize};
use singletable::prelude::*;

#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "USER", pk = "TENANT#<tenant_id>#USERS", sk = "USER#<id>")]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[entity(tenant)]
    pub tenant_id: String,
    pub id: String,
    pub name: String,
    pub email: String,
}
