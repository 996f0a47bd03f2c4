use serde::{Deserialize, Serialize};
use singletable::{Collection, Entity};

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "TEAM", pk = "ORG#<organization_id>", sk = "TEAM#<id>")]
struct Team {
    organization_id: String,
    id: String,
}

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "MEMBER", pk = "ORG#<organization_id>", sk = "TEAM#<team_id>#MEMBER#<id>")]
struct Member {
    organization_id: String,
    team_id: String,
    id: String,
    username: String,
}

#[derive(Collection)]
#[collection(root = Team)]
struct TeamWithMembers {
    team: Team,
    #[collection(on(teamid = id), order_by = usrname)]
    members: Vec<Member>,
}

fn main() {}
