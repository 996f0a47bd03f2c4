use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "NOTE", pk = "TENANT#<tenant_id>", sk = "NOTE#<id>")]
struct Note {
    #[entity(tenant)]
    tenant_id: u64,
    id: String,
}
fn main() {}
