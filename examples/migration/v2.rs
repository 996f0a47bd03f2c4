//! Build 2, the expand step: `first_name` and `last_name` are written alongside `name`, and a
//! `by_last_name` index is added. Its items are schema 2, declared `compatible = 1`: schema 2
//! only added fields, so build 1, still serving during the rolling deploy, reads them as they
//! are (and its puts over them, which would drop the new fields, are refused).
//!
//! `name` stays the field the application reads until the contract step: build 1 still writes
//! only `name`, so `first_name`/`last_name` are a copy that may lag behind it, and they become
//! the truth only once build 1 is gone and the copies are verified.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use singletable::item::Item;
use singletable::prelude::*;

#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "USER",
    pk = "TENANT#<tenant_id>#USERS",
    sk = "USER#<id>",
    schema = 2,
    compatible = 1,
    upgrade = to_schema_2,
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
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

/// The seed's split: the first word, and the rest.
pub fn split(name: &str) -> (String, String) {
    let (first, last) = name.split_once(' ').unwrap_or((name, ""));
    (first.to_owned(), last.to_owned())
}

/// The step from schema 1 to 2 (the seed's `UPDATE users SET first_name = ..., last_name =
/// ...`), which later builds carry too: `first_name` and `last_name` from `name`, which stays.
pub fn split_name(item: &mut Item) -> Result<(), String> {
    let name = match item.get("name") {
        Some(AttributeValue::S(name)) => name.clone(),
        other => return Err(format!("`name` is {other:?}, not a string")),
    };
    let (first, last) = split(&name);
    item.insert("firstName".into(), AttributeValue::S(first));
    item.insert("lastName".into(), AttributeValue::S(last));
    Ok(())
}

fn to_schema_2(from: u32, item: &mut Item) -> Result<(), String> {
    match from {
        1 => split_name(item),
        _ => Err(format!("no upgrade from schema {from}")),
    }
}

/// A new user, written with both forms of the name.
pub fn new_user(id: &str, name: &str, email: &str) -> NewUser {
    let (first_name, last_name) = split(name);
    NewUser {
        id: id.into(),
        name: name.into(),
        first_name,
        last_name,
        email: email.into(),
    }
}

impl User {
    /// Whether the copies agree with `name`.
    pub fn split_agrees(&self) -> bool {
        split(&self.name) == (self.first_name.clone(), self.last_name.clone())
    }

    /// Renames a user, writing both forms of the name (and moving its `by_last_name` key).
    pub async fn rename(table: &Table, id: &str, name: &str) -> Result<User, Error> {
        let (first, last) = split(name);
        User::update(table, UserKey { id })
            .set(User::FIELDS.name, name)
            .set(User::FIELDS.first_name, first)
            .set(User::FIELDS.last_name, last)
            .send()
            .await
    }
}
