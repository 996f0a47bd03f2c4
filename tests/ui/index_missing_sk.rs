use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(
    type = "USER",
    pk = "USER#<id>",
    sk = "#PROFILE",
    index(name = "GSI1", query = "by_email", pk = "EMAIL#<email>")
)]
struct User {
    id: String,
    email: String,
}
fn main() {}
