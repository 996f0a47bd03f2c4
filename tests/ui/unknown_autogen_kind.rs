use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "ORG", pk = "ORG#<id>", sk = "#METADATA")]
struct Organization {
    #[entity(autogen = uuid4)]
    id: String,
}
fn main() {}
