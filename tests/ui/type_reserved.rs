use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "_UNIQUE", pk = "GUARD#<id>", sk = "#GUARD")]
struct Guard {
    id: String,
}
fn main() {}
