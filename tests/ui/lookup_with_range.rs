use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(
    type = "PROFILE",
    pk = "TENANT#<tenant_id>#PROFILE#<id>",
    sk = "#PROFILE",
    index(
        name = "GSI1",
        query = "by_email",
        pk = "EMAIL#<email>",
        sk = "PROFILE#<id>",
        lookup,
        range(name = "by_id", begins_with = "PROFILE#<id>")
    )
)]
struct Profile {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    email: String,
}

fn main() {}
