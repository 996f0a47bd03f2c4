use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "EVENT", pk = "EVENT#<day><seq>", sk = "#METADATA")]
struct Event {
    day: String,
    seq: u32,
}
fn main() {}
