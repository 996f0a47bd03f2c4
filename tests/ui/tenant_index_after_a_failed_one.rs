use serde::{Deserialize, Serialize};
use singletable::Entity;

// The second index's error points at the second index, though the first one failed.
#[derive(Entity, Serialize, Deserialize)]
#[entity(
    type = "PROFILE",
    pk = "TENANT#<tenant_id>#PROFILE#<id>",
    sk = "#PROFILE",
    index(name = "GSI1", query = "by_nickname", pk = "TENANT#<tenant_id>#NICK#<nick>", sk = "PROFILE#<id>"),
    index(name = "GSI2", query = "by_email", pk = "EMAIL#<email>", sk = "PROFILE#<id>")
)]
struct Profile {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    email: String,
}

fn main() {}
