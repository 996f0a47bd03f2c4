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
        range(name = "count", eq = "JOINED#<joined>"),
        range(name = "joined", eq = "JOINED#<joined>"),
        range(name = "joined", le = "JOINED#<joined>")
    )
)]
struct Member {
    organization_id: String,
    id: String,
    referrer: String,
    joined: u32,
}
fn main() {}
