use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "ORG", pk = "ORG#<id", sk = "#METADATA")]
struct Organization {
    id: String,
}
fn main() {}
