use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(
    type = "MEMBER",
    pk = "ORG#<organization_id>",
    sk = "MEMBER#<id>",
    index(
        name = "GSI2",
        query = "by_referrer",
        pk = "REFERRER#<referrer>",
        sk = "JOINED#<joined>#<id>",
        range(name = "with_id", eq = "MEMBER#<id>")
    )
)]
struct Member {
    organization_id: String,
    id: String,
    referrer: String,
    joined: u32,
}
fn main() {}
