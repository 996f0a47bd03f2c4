use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "ORG", pk = "TENANT#<tenat_id>#ORG#<id>", sk = "#METADATA")]
struct Organization {
    id: String,
    tenant_id: String,
}
fn main() {}
