//! The migration example (seed 003's expand/contract), checked phase by phase: the items of
//! each schema after each phase, build 1 reading build 2's items where they are compatible,
//! and the refusals where they are not.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use singletable::prelude::*;
use singletable::tenant;
use singletable_local::DynamoDbLocal;

// The example's own code, so the test runs exactly what `cargo run --example migration` runs.
#[path = "../../examples/migration/phases.rs"]
#[allow(dead_code)]
mod phases;
#[path = "../../examples/migration/v1.rs"]
#[allow(dead_code)]
mod v1;
#[path = "../../examples/migration/v2.rs"]
#[allow(dead_code)]
mod v2;
#[path = "../../examples/migration/v3.rs"]
#[allow(dead_code)]
mod v3;

use phases::Census;

fn census(
    by_schema: &[(u32, usize)],
    with_name: usize,
    with_split: usize,
    indexed: usize,
) -> Census {
    Census {
        by_schema: by_schema.iter().copied().collect(),
        with_name,
        with_split,
        indexed,
    }
}

async fn migrated() -> (Table, phases::Report) {
    let local = DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let name = singletable_local::unique_table_name("migration");
    let table = Table::builder(local.client().await, name)
        .index("GSI1", "gsi1pk", "gsi1sk")
        .build();
    table.create_table().await.expect("table is created");
    let report = Box::pin(phases::run(&table)).await.expect("the phases run");
    (table, report)
}

#[tokio::test]
async fn each_phase_leaves_its_schemas_and_refuses_what_is_not_compatible() {
    let (table, report) = Box::pin(migrated()).await;

    assert_eq!(report.before, census(&[(1, 9)], 9, 0, 0));

    let expand = &report.expand;
    assert_eq!(
        expand.census,
        census(&[(1, 10), (2, 2)], 12, 2, 2),
        "build 2 wrote two users with both forms, build 1 one more with a name only"
    );
    assert_eq!(
        (expand.v1_listed, expand.v1_listed_schema_2),
        (7, 1),
        "build 1 reads build 2's item: schema 2 is compatible with 1"
    );
    assert!(
        expand.v1_put_refused,
        "a put of build 1 would drop the split"
    );
    assert!(
        expand.v1_update_accepted,
        "an update of build 1 touches its field only"
    );
    assert_eq!(expand.v2_listed, 7, "build 2 reads schema 1 items upgraded");
    assert_eq!(
        expand.v2_found_by_last_name, 0,
        "schema 1 items have no index key yet"
    );

    let backfill = &report.backfill;
    let p = &backfill.progress;
    assert_eq!(
        (p.scanned, p.upgraded, p.reindexed, p.current, p.failed),
        (12, 10, 0, 2, 0)
    );
    assert_eq!(backfill.census, census(&[(2, 12)], 12, 12, 12));
    assert_eq!(backfill.v2_found_by_last_name, 1);
    assert_eq!(
        (
            backfill.mismatched,
            backfill.repaired,
            backfill.mismatched_after_repair
        ),
        (1, 1, 0),
        "the user build 1 renamed during the expand step"
    );

    let contract = &report.contract;
    let p = &contract.progress;
    assert_eq!((p.scanned, p.upgraded, p.current, p.failed), (12, 12, 0, 0));
    assert_eq!(contract.census, census(&[(3, 12)], 0, 12, 12));
    assert!(contract.v1_get_refused && contract.v1_list_refused);
    assert!(contract.v2_get_refused, "schema 3 is not compatible with 2");
    assert!(contract.v2_put_refused, "nor may build 2 write over it");
    assert_eq!(
        contract.v3_listed,
        BTreeMap::from([("acme".to_owned(), 7), ("globex".to_owned(), 5)])
    );
    assert_eq!(contract.v3_found_by_last_name, 1);

    // The renamed user, as build 3 stores and reads it.
    let items = crate::raw_items(&table).await;
    let katherine = items
        .iter()
        .find(|i| i["sk"] == AttributeValue::S("USER#u6".into()))
        .expect("u6 is stored");
    assert!(!katherine.contains_key("name"));
    assert!(
        !katherine.contains_key("_min_schema"),
        "readable from schema 3 only"
    );
    assert_eq!(katherine["lastName"], AttributeValue::S("Goble".into()));
    assert_eq!(
        katherine["gsi1pk"],
        AttributeValue::S("TENANT#acme#LAST#Goble".into())
    );
    let read = tenant::scope("acme", v3::User::get(&table, v3::UserKey { id: "u2" }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.first_name.as_str(), read.last_name.as_str()),
        ("Grace", "Brewster Hopper")
    );
}

#[tokio::test]
async fn a_schema_2_item_says_build_1_may_read_it() {
    let local = DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let name = singletable_local::unique_table_name("migration-compat");
    let table = Table::builder(local.client().await, name)
        .index("GSI1", "gsi1pk", "gsi1sk")
        .build();
    table.create_table().await.unwrap();
    let new = v2::new_user("u1", "Ada Lovelace", "ada@acme.example");
    tenant::scope("acme", v2::User::create(&table, new))
        .await
        .unwrap();
    let stored = crate::raw_items(&table).await.remove(0);
    assert_eq!(stored["_schema"], AttributeValue::N("2".into()));
    assert_eq!(stored["_min_schema"], AttributeValue::N("1".into()));
    assert_eq!(stored["name"], AttributeValue::S("Ada Lovelace".into()));
    assert_eq!(stored["firstName"], AttributeValue::S("Ada".into()));

    let read = tenant::scope("acme", v1::User::get(&table, v1::UserKey { id: "u1" }))
        .await
        .unwrap();
    assert_eq!(read.map(|u| u.name), Some("Ada Lovelace".to_owned()));
}
