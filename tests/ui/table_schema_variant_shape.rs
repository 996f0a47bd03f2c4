use serde::{Deserialize, Serialize};
use singletable::{Entity, TableSchema};

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "TEAM", pk = "ORG#<organization_id>", sk = "TEAM#<id>")]
struct Team {
    organization_id: String,
    id: String,
}

#[derive(TableSchema)]
enum AppItem {
    Team(Team),
    Empty,
    Named { team: Team },
    Pair(Team, Team),
}

#[derive(TableSchema)]
struct NotAnEnum(Team);

fn main() {}
