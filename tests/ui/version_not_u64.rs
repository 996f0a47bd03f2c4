use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "COUNTER", pk = "COUNTER#<name>", sk = "#COUNTER")]
struct Counter {
    name: String,
    #[entity(version)]
    version: String,
}
fn main() {}
