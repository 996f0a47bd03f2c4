use serde::{Deserialize, Serialize};
use singletable::{Entity, Projection};

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "TEAM", pk = "ORG#<organization_id>", sk = "TEAM#<id>")]
#[serde(rename_all = "camelCase")]
pub struct Team {
    pub organization_id: String,
    pub id: String,
    pub member_count: i64,
}

/// Without the entity's `rename_all`, `member_count` would be read from `member_count`,
/// which the entity writes as `memberCount`.
#[derive(Projection, Deserialize)]
#[projection(of = Team)]
pub struct TeamSize {
    pub id: String,
    pub member_count: i64,
}

fn main() {}
