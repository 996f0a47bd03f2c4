use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "NOTE", pk = "NOTES", sk = "NOTE#<tenant_id>#<id>")]
struct Note {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
}
fn main() {}
