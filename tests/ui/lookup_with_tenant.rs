use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(
    type = "PROFILE",
    pk = "TENANT#<tenant_id>#PROFILE#<id>",
    sk = "#PROFILE",
    index(name = "GSI1", query = "by_email", pk = "TENANT#<tenant_id>#EMAIL#<email>", sk = "PROFILE#<id>", lookup)
)]
struct Profile {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    email: String,
}

fn main() {}
