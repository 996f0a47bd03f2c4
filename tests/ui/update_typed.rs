use serde::{Deserialize, Serialize};
use singletable::{Entity, Table};

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "TEAM", pk = "ORG#<organization_id>", sk = "TEAM#<id>")]
struct Team {
    organization_id: String,
    id: String,
    name: String,
    member_count: i64,
}

fn update(table: &Table) {
    let key = TeamKey { organization_id: "o", id: "t" };
    // A key field has no setter.
    let _ = Team::update(table, key).set_id("x");
    // A misspelt field has no setter.
    let _ = Team::update(table, key).set_nmae("x");
    // Values are typed.
    let _ = Team::update(table, key).set_member_count("3");
    // Only numeric fields can be added to.
    let _ = Team::update(table, key).add_name(1);
}

fn main() {}
