use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(pk = "ORG#<id>", sk = "#METADATA")]
struct Organization {
    id: String,
}
fn main() {}
