use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(
    type = "USER",
    pk = "USER#<id>",
    sk = "#PROFILE",
    index(name = "GSI1", query = "by_tags", pk = "TAGS#<tags>", sk = "USER#<id>")
)]
struct User {
    id: String,
    tags: Option<Vec<String>>,
}
fn main() {}
