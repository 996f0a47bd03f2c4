use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "ORG", pk = "ORG#<name>", sk = "#METADATA")]
struct Organization {
    #[entity(param = "org_id")]
    id: String,
    name: String,
}

fn main() {}
