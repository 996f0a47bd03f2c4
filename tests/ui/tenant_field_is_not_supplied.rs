use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "NOTE", pk = "TENANT#<tenant_id>", sk = "NOTE#<id>")]
struct Note {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
}

fn main() {
    // The tenant comes from the scope: neither the key nor the create input takes it.
    let _ = NoteKey { tenant_id: "other", id: "1" };
    let _ = NewNote { tenant_id: "other".into(), id: "1".into() };
}
