use serde::{Deserialize, Serialize};
use singletable::Entity;

fn upgrade(_from: u32, _item: &mut singletable::item::Item) -> Result<(), String> {
    Ok(())
}

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "USER", pk = "USER#<id>", sk = "#PROFILE", schema = 2, compatible = 2, upgrade = upgrade)]
struct User {
    id: String,
}

fn main() {}
