use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "PROFILE", pk = "PROFILE#<id>", sk = "#PROFILE", schema = 2)]
struct Profile {
    id: String,
    first_name: String,
}

fn main() {}
