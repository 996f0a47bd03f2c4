use serde::{Deserialize, Serialize};
use singletable::{Entity, Table};

#[derive(Entity, Serialize, Deserialize)]
#[entity(type = "COUNTER", pk = "COUNTER#<name>", sk = "#COUNTER")]
struct Counter {
    name: String,
    #[entity(version)]
    version: u64,
}

fn update(table: &Table) {
    // The version moves by itself on every write.
    let _ = Counter::update(table, CounterKey { name: "c" }).set(Counter::FIELDS.version, 7u64);
    let _ = NewCounter { name: "c".into(), version: 3 };
}

fn main() {}
