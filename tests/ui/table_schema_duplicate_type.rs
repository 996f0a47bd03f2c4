use serde::{Deserialize, Serialize};
use singletable::{Entity, TableSchema};

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "TEAM", pk = "ORG#<organization_id>", sk = "TEAM#<id>")]
struct Team {
    organization_id: String,
    id: String,
}

/// Another entity under the same `_type`: its items would be read as teams.
#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "TEAM", pk = "ORG#<organization_id>", sk = "ARCHIVED#<id>")]
struct ArchivedTeam {
    organization_id: String,
    id: String,
}

#[derive(TableSchema)]
enum AppItem {
    Team(Team),
    ArchivedTeam(ArchivedTeam),
}

fn main() {}
