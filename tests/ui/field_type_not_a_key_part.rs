use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "DOC", pk = "DOC#<tags>", sk = "#METADATA")]
struct Document {
    tags: Vec<String>,
}
fn main() {}
