use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "USER", pk = "USER#<email>", sk = "#PROFILE")]
struct User {
    email: Option<String>,
}
fn main() {}
