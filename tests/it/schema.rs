//! Schema versions: older items are upgraded on read, and a backfill rewrites them, resuming
//! from its checkpoint after a stop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{BatchWrite, Error};

use crate::{raw_items, table, table_with};

/// Schema 1: one `name`.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "PROFILE", pk = "PROFILE#<id>", sk = "#PROFILE")]
#[serde(rename_all = "camelCase")]
struct ProfileV1 {
    id: String,
    name: String,
}

/// Schema 2 of the same items: the name split in two.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "PROFILE", pk = "PROFILE#<id>", sk = "#PROFILE", schema = 2, upgrade = split_name)]
#[serde(rename_all = "camelCase")]
struct Profile {
    id: String,
    first_name: String,
    last_name: String,
}

fn split_name(from: u32, item: &mut singletable::item::Item) -> Result<(), String> {
    if from != 1 {
        return Err(format!("no upgrade from schema {from}"));
    }
    let name = match item.remove("name") {
        Some(AttributeValue::S(name)) => name,
        other => return Err(format!("`name` is {other:?}, not a string")),
    };
    let (first, last) = name.split_once(' ').unwrap_or((&name, ""));
    item.insert("firstName".into(), AttributeValue::S(first.into()));
    item.insert("lastName".into(), AttributeValue::S(last.into()));
    Ok(())
}

/// Schema 3: adds an optional `nickname`, which builds of schema 2 may ignore.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "PROFILE",
    pk = "PROFILE#<id>",
    sk = "#PROFILE",
    schema = 3,
    compatible = 2,
    upgrade = to_three
)]
#[serde(rename_all = "camelCase")]
struct ProfileV3 {
    id: String,
    first_name: String,
    last_name: String,
    nickname: Option<String>,
}

fn to_three(from: u32, item: &mut singletable::item::Item) -> Result<(), String> {
    match from {
        1 => split_name(from, item),
        // Schema 3 only added an optional field.
        _ => Ok(()),
    }
}

fn v1(i: usize) -> ProfileV1 {
    ProfileV1 {
        id: format!("{i:05}"),
        name: format!("Ada{i} Lovelace{i}"),
    }
}

/// The schema an item records (schema 1 by the attribute's absence).
fn schema_of(item: &singletable::item::Item) -> &str {
    item.get("_schema").map_or("1", |v| v.as_n().unwrap())
}

#[tokio::test]
async fn reads_upgrade_older_items_and_refuse_newer_ones() {
    let table = table("schemaread").await;
    ProfileV1::create(
        &table,
        NewProfileV1 {
            id: "1".into(),
            name: "Grace Hopper".into(),
        },
    )
    .await
    .unwrap();
    let read = Profile::get(&table, ProfileKey { id: "1" }).await.unwrap();
    assert_eq!(
        read,
        Some(Profile {
            id: "1".into(),
            first_name: "Grace".into(),
            last_name: "Hopper".into()
        })
    );
    assert_eq!(
        schema_of(&raw_items(&table).await[0]),
        "1",
        "a read writes nothing"
    );

    let renamed = Profile::update(&table, ProfileKey { id: "1" })
        .set(Profile::FIELDS.last_name, "Brewster Hopper")
        .send()
        .await
        .unwrap();
    assert_eq!(
        renamed.first_name, "Grace",
        "an update of an older item reads it upgraded"
    );

    Profile::create(
        &table,
        NewProfile {
            id: "2".into(),
            first_name: "Alan".into(),
            last_name: "Turing".into(),
        },
    )
    .await
    .unwrap();
    let err = ProfileV1::get(&table, ProfileV1Key { id: "2" })
        .await
        .unwrap_err();
    match err {
        Error::Decode { field, message, .. } => {
            assert_eq!(field, "_schema");
            assert!(message.contains("schema 2"), "{message}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_backfill_of_5000_items_stops_halfway_and_resumes_without_loss() {
    let table = table_with("backfill", |builder| builder.entity::<ProfileV1>()).await;
    let mut batch = BatchWrite::new(&table);
    for i in 0..5000 {
        batch.put(&v1(i)).unwrap();
    }
    batch.send().await.unwrap();
    let checkpoint = std::env::temp_dir().join(format!("{}.json", table.name()));

    // The first run is stopped once about 2,000 items are through, as a crash would stop it.
    let scanned = Arc::new(AtomicU64::new(0));
    let halfway = Arc::new(tokio::sync::Notify::new());
    let run = {
        let (table, checkpoint) = (table.clone(), checkpoint.clone());
        let (scanned, halfway) = (scanned.clone(), halfway.clone());
        tokio::spawn(async move {
            Profile::backfill(&table)
                .segments(4)
                .concurrency(8)
                .page_size(100)
                .checkpoint(checkpoint)
                .on_progress(move |progress| {
                    scanned.store(progress.scanned, Ordering::SeqCst);
                    if progress.scanned >= 2000 {
                        halfway.notify_one();
                    }
                })
                .run()
                .await
        })
    };
    halfway.notified().await;
    run.abort();
    assert!(run.await.unwrap_err().is_cancelled());
    let upgraded = raw_items(&table)
        .await
        .iter()
        .filter(|i| schema_of(i) == "2")
        .count();
    assert!(
        (2000..5000).contains(&upgraded),
        "stopped halfway: {upgraded} of 5000 upgraded"
    );
    assert!(checkpoint.exists(), "the position was saved");

    let report = Profile::backfill(&table)
        .segments(4)
        .concurrency(8)
        .page_size(100)
        .checkpoint(&checkpoint)
        .run()
        .await
        .unwrap();
    assert!(report.resumed);
    assert_eq!(report.progress.failed, 0, "{:?}", report.failures);
    assert!(
        report.progress.scanned < 5000,
        "the resumed run starts from the checkpoint: {:?}",
        report.progress
    );
    // Writes in flight when the first run stopped may land after the count above.
    let upgraded_now = report.progress.upgraded;
    assert!(upgraded_now > 0 && upgraded_now <= (5000 - upgraded) as u64);
    assert!(
        !checkpoint.exists(),
        "a finished backfill removes its checkpoint"
    );

    let items = raw_items(&table).await;
    assert_eq!(items.len(), 5000, "no item lost or added");
    let mut profiles = Profile::list_all(&table).all().await.unwrap();
    profiles.sort_by(|a, b| a.id.cmp(&b.id));
    let expected: Vec<Profile> = (0..5000)
        .map(|i| Profile {
            id: format!("{i:05}"),
            first_name: format!("Ada{i}"),
            last_name: format!("Lovelace{i}"),
        })
        .collect();
    assert_eq!(profiles, expected);
    assert!(items
        .iter()
        .all(|i| schema_of(i) == "2" && !i.contains_key("name")));

    let again = Profile::backfill(&table).run().await.unwrap();
    assert_eq!(
        (
            again.progress.scanned,
            again.progress.upgraded,
            again.progress.current
        ),
        (5000, 0, 5000)
    );
}

#[tokio::test]
async fn items_that_cannot_be_upgraded_are_counted_and_kept() {
    let table = table("backfillfail").await;
    ProfileV1::create(
        &table,
        NewProfileV1 {
            id: "good".into(),
            name: "Ada Lovelace".into(),
        },
    )
    .await
    .unwrap();
    let mut bad = raw_items(&table).await.remove(0);
    bad.insert("pk".into(), AttributeValue::S("PROFILE#bad".into()));
    bad.insert("id".into(), AttributeValue::S("bad".into()));
    bad.insert("name".into(), AttributeValue::N("7".into()));
    table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(bad.clone()))
        .send()
        .await
        .unwrap();

    let report = Profile::backfill(&table).run().await.unwrap();
    assert_eq!(
        (
            report.progress.scanned,
            report.progress.upgraded,
            report.progress.failed
        ),
        (2, 1, 1)
    );
    assert_eq!(report.failures[0].0.pk, "PROFILE#bad");
    assert!(
        report.failures[0].1.contains("not a string"),
        "{:?}",
        report.failures
    );
    let stored = raw_items(&table).await;
    assert!(stored.contains(&bad), "a failed item is left as it was");
}

#[tokio::test]
async fn a_build_of_schema_2_reads_compatible_schema_3_items_and_refuses_others() {
    let table = table("schemacompat").await;
    let written = ProfileV3::create(
        &table,
        NewProfileV3 {
            id: "1".into(),
            first_name: "Grace".into(),
            last_name: "Hopper".into(),
            nickname: Some("Amazing Grace".into()),
        },
    )
    .await
    .unwrap();
    let stored = raw_items(&table).await.remove(0);
    assert_eq!(stored["_schema"].as_n().unwrap(), "3");
    assert_eq!(stored["_min_schema"].as_n().unwrap(), "2");

    // The build that knows schema 2, still serving during the deploy, reads it.
    let key = ProfileKey { id: "1" };
    let read = Profile::get(&table, key).await.unwrap().unwrap();
    assert_eq!(
        read,
        Profile {
            id: "1".into(),
            first_name: "Grace".into(),
            last_name: "Hopper".into()
        }
    );
    let listed = Profile::list_all(&table).all().await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&read));
    // Its updates keep what it does not know; its puts, which would drop it, are refused.
    Profile::update(&table, key)
        .set(Profile::FIELDS.last_name, "Brewster Hopper")
        .send()
        .await
        .unwrap();
    let refused = read.put(&table).await.unwrap_err();
    match refused {
        Error::ConditionFailed { reason, .. } => {
            assert!(reason.contains("newer build"), "{reason}")
        }
        other => panic!("expected ConditionFailed, got {other:?}"),
    }
    let now = ProfileV3::get(&table, ProfileV3Key { id: "1" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        now,
        ProfileV3 {
            last_name: "Brewster Hopper".into(),
            ..written
        }
    );

    // A build of schema 1 is older than the compatible range: refused as before.
    let err = ProfileV1::get(&table, ProfileV1Key { id: "1" })
        .await
        .unwrap_err();
    match err {
        Error::Decode { field, message, .. } => {
            assert_eq!(field, "_schema");
            assert!(message.contains("readable from schema 2"), "{message}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    // An item of a newer schema not declared compatible is refused by the schema-2 build.
    let mut newer = stored.clone();
    newer.insert("pk".into(), AttributeValue::S("PROFILE#2".into()));
    newer.insert("id".into(), AttributeValue::S("2".into()));
    newer.insert("_schema".into(), AttributeValue::N("4".into()));
    newer.remove("_min_schema");
    table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(newer))
        .send()
        .await
        .unwrap();
    let err = Profile::get(&table, ProfileKey { id: "2" })
        .await
        .unwrap_err();
    match err {
        Error::Decode { message, .. } => assert!(message.contains("schema 4"), "{message}"),
        other => panic!("expected a decode error, got {other:?}"),
    }
}
