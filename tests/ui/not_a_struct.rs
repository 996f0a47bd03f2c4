use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "ORG", pk = "ORG#<id>", sk = "#METADATA")]
enum Organization {
    A,
}
fn main() {}
