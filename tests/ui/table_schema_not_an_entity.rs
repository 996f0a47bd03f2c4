use singletable::TableSchema;

struct Invoice {
    number: u32,
}

#[derive(TableSchema)]
enum AppItem {
    Invoice(Invoice),
}

fn main() {}
