use serde::{Deserialize, Serialize};
use singletable::{Entity, Table};

#[derive(Entity, Serialize, Deserialize)]
#[entity(
    type = "TEAM",
    pk = "ORG#<organization_id>",
    sk = "TEAM#<id>",
    index(name = "GSI1", pk = "SLUG#<slug>", sk = "#TEAM", query = "by_slug")
)]
struct Team {
    organization_id: String,
    id: String,
    name: String,
    slug: String,
    member_count: i64,
}

fn update(table: &Table) {
    let key = TeamKey { organization_id: "o", id: "t" };
    // A key field has no handle.
    let _ = Team::update(table, key).set(Team::FIELDS.id, "x");
    // A misspelt field has no handle.
    let _ = Team::update(table, key).set(Team::FIELDS.nmae, "x");
    // Values are typed.
    let _ = Team::update(table, key).set(Team::FIELDS.member_count, "3");
    // Only numeric fields can be added to.
    let _ = Team::update(table, key).add(Team::FIELDS.name, 1);
    // Only `Option` fields can be removed.
    let _ = Team::update(table, key).remove(Team::FIELDS.name);
    // An index key is made of `slug`: it is set, never added to or appended to.
    let _ = Team::update(table, key).set_if_absent(Team::FIELDS.slug, "x");
    // Only a versioned entity checks versions.
    let _ = Team::update(table, key).if_version(3);
}

fn main() {}
