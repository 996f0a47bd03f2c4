use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "USER", pk = "USER#<id>", sk = "#PROFILE")]
struct User {
    id: String,
    #[entity(unique)]
    emails: Vec<String>,
    #[entity(unique)]
    nickname: Option<Vec<u8>>,
}
fn main() {}
