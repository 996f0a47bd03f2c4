use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "USER", pk = "TENANT#<tenant_id>#USER#<email>", sk = "#PROFILE")]
struct User {
    #[entity(tenant, unique)]
    tenant_id: String,
    #[entity(unique)]
    email: String,
}
fn main() {}
