use serde::{Deserialize, Serialize};
use singletable::{Collection, Entity};

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "TEAM", pk = "ORG#<organization_id>", sk = "TEAM#<id>")]
struct Team {
    organization_id: String,
    id: String,
}

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "PROJECT", pk = "TEAM#<team_id>", sk = "PROJECT#<id>")]
struct Project {
    team_id: String,
    id: String,
}

#[derive(Collection)]
#[collection(root = Team)]
struct TeamWithProjects {
    team: Team,
    projects: Vec<Project>,
}

fn main() {}
