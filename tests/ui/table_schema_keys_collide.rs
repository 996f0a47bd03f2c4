use serde::{Deserialize, Serialize};
use singletable::{Entity, TableSchema};

#[derive(Entity, Serialize, Deserialize)]
#[entity(
    type = "ORGANIZATION",
    pk = "TENANT#<tenant_id>#ORG#<id>",
    sk = "#METADATA"
)]
struct Organization {
    tenant_id: String,
    id: String,
}

/// Copied from `Organization` with its sort key left as it was.
#[derive(Entity, Serialize, Deserialize)]
#[entity(
    type = "TEAM",
    pk = "TENANT#<tenant_id>#ORG#<organization_id>",
    sk = "#METADATA"
)]
struct Team {
    tenant_id: String,
    organization_id: String,
}

/// Shares the partition but never a key: `TEAM#<team_id>#MEMBER#<id>` is not `#METADATA`.
#[derive(Entity, Serialize, Deserialize)]
#[entity(
    type = "TEAM_MEMBER",
    pk = "TENANT#<tenant_id>#ORG#<organization_id>",
    sk = "TEAM#<team_id>#MEMBER#<id>"
)]
struct TeamMember {
    tenant_id: String,
    organization_id: String,
    team_id: String,
    id: String,
}

#[derive(TableSchema)]
enum AppItem {
    Organization(Organization),
    TeamMember(TeamMember),
    Team(Team),
}

fn main() {}
