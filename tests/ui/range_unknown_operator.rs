use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(
    type = "PROJECT",
    pk = "TEAM#<team_id>",
    sk = "PROJECT#<id>",
    range(name = "starting", starts_with = "PROJECT#")
)]
struct Project {
    team_id: String,
    id: String,
}
fn main() {}
