use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(
    type = "PROJECT",
    pk = "TEAM#<team_id>",
    sk = "STATUS#<status>#PROJECT#<id>",
    range(name = "by_status", begins_with = "STATUS#<stauts>#")
)]
struct Project {
    team_id: String,
    status: String,
    id: String,
}
fn main() {}
