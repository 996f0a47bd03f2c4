use serde::{Deserialize, Serialize};
use singletable::{Entity, Projection};

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "TEAM", pk = "ORG#<organization_id>", sk = "TEAM#<id>")]
pub struct Team {
    pub organization_id: String,
    pub id: String,
    pub member_count: i64,
    pub motto: Box<String>,
}

#[derive(Projection, Deserialize)]
#[projection(of = Team)]
pub struct TeamSize {
    pub id: String,
    pub member_count: u32,
    /// Not even where a reference to the entity's field would deref to it.
    pub motto: String,
}

fn main() {}
