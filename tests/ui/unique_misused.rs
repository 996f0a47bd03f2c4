use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "USER", pk = "USER#<id>", sk = "#PROFILE")]
struct User {
    id: String,
    #[entity(version, unique)]
    version: u64,
    #[entity(unique)]
    #[serde(skip)]
    session: String,
    #[entity(unique, unique)]
    email: String,
    #[entity(unique = true)]
    slug: String,
}
fn main() {}
