use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "ORG", pk = "ORG#<id>", sk = "#METADATA")]
struct Organization {
    id: String,
    #[serde(with = "time::serde::rfc3339::option")]
    updated_at: Option<time::OffsetDateTime>,
}
fn main() {}
