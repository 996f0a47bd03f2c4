use serde::{Deserialize, Serialize};
use singletable::Entity;

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "TEAM", pk = "TEAM#<id>", sk = "#METADATA")]
struct Team {
    #[entity(autogen = uuid)]
    id: String,
    name: String,
}

fn main() {
    let _ = NewTeam { id: "chosen-by-caller".into(), name: "x".into() };
}
