use serde::{Deserialize, Serialize};
use singletable::{Entity, KeyPart};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
struct UserId(String);

impl KeyPart for UserId {
    fn write_key_part(&self, out: &mut String) {
        out.push_str(&self.0)
    }
}

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "USER", pk = "USER#<id>", sk = "#PROFILE")]
struct User {
    id: UserId,
}
fn main() {}
