use serde::{Deserialize, Serialize};
use singletable::Entity;

fn upgrade(_from: u32, _item: &mut singletable::item::Item) -> Result<(), String> {
    Ok(())
}

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "PROFILE", pk = "PROFILE#<id>", sk = "#PROFILE", upgrade = upgrade)]
struct Profile {
    id: String,
}

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "ACCOUNT", pk = "ACCOUNT#<id>", sk = "#ACCOUNT", schema = 0)]
struct Account {
    id: String,
}

fn main() {}
