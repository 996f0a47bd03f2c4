use serde::{Deserialize, Serialize};
use singletable::{Entity, Projection};

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "TEAM", pk = "ORG#<organization_id>", sk = "TEAM#<id>")]
pub struct Team {
    pub organization_id: String,
    pub id: String,
    pub name: String,
}

#[derive(Projection, Deserialize)]
#[projection(of = Team)]
pub struct TeamName {
    pub id: String,
    pub nme: String,
}

fn main() {}
