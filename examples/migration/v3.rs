//! Build 3, the contract step: `name` is dropped, `first_name` and `last_name` are the truth.
//! Its items are schema 3, and not declared compatible with older builds: builds 1 and 2 need
//! `name`, so they refuse schema 3 items rather than misread them, and their puts are refused.

use serde::{Deserialize, Serialize};
use singletable::item::Item;
use singletable::prelude::*;

#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "USER",
    pk = "TENANT#<tenant_id>#USERS",
    sk = "USER#<id>",
    schema = 3,
    upgrade = to_schema_3,
    index(
        name = "GSI1",
        query = "by_last_name",
        pk = "TENANT#<tenant_id>#LAST#<last_name>",
        sk = "USER#<id>"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[entity(tenant)]
    pub tenant_id: String,
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

/// Each step in turn: 1 to 2 is build 2's split, 2 to 3 drops `name` (the seed's `ALTER TABLE
/// users DROP COLUMN name`).
fn to_schema_3(from: u32, item: &mut Item) -> Result<(), String> {
    match from {
        1 => super::v2::split_name(item),
        2 => {
            item.remove("name");
            Ok(())
        }
        _ => Err(format!("no upgrade from schema {from}")),
    }
}
