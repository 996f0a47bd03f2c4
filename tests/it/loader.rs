//! The loader: concurrent gets coalesced into `BatchGetItem` requests, each caller answered as
//! `get` answers it.
//!
//! Batches are sent by the loader's own tasks, outside the caller's task, so requests are
//! counted at the client (an interceptor sees every request the table's client sends, with its
//! keys) rather than by `count_requests`, which counts the caller's task only.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemInput;
use aws_sdk_dynamodb::operation::get_item::GetItemInput;
use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::join_all;
use futures::{FutureExt, StreamExt};
use singletable::prelude::*;
use singletable::{tenant, BatchWrite, Error, Loader, TableBuilder};

use crate::model::*;
use crate::{model, raw_items, table_with};

/// The reads a client sent: operation and number of keys, in order.
#[derive(Clone, Debug, Default)]
struct Reads(Arc<Mutex<Vec<(&'static str, usize)>>>);

impl Reads {
    fn take(&self) -> Vec<(&'static str, usize)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for Reads {
    fn name(&self) -> &'static str {
        "Reads"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let read = if let Some(batch) = input.downcast_ref::<BatchGetItemInput>() {
            let keys = batch
                .request_items
                .iter()
                .flatten()
                .map(|(_, keys)| keys.keys.len())
                .sum();
            ("BatchGetItem", keys)
        } else if input.downcast_ref::<GetItemInput>().is_some() {
            ("GetItem", 1)
        } else {
            return Ok(());
        };
        self.0.lock().unwrap().push(read);
        Ok(())
    }
}

fn plain(builder: TableBuilder) -> TableBuilder {
    builder
}

fn with_notes(builder: TableBuilder) -> TableBuilder {
    builder
        .index("GSI1", "gsi1pk", "gsi1sk")
        .tenant_type_index("TenantTypeIndex")
}

/// A fresh table, and the same table through a client whose reads are recorded.
async fn tables(configure: fn(TableBuilder) -> TableBuilder) -> (Table, Table, Reads) {
    let table = table_with("loader", configure).await;
    let reads = Reads::default();
    let config = table
        .client()
        .config()
        .to_builder()
        .interceptor(reads.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let watched = configure(model::declare(
        Table::builder(client, table.name()).type_index("TypeIndex"),
    ))
    .build();
    (table, watched, reads)
}

async fn put_events(table: &Table, events: &[Event]) {
    let mut batch = BatchWrite::new(table);
    batch.concurrency(8);
    for event in events {
        batch.put(event).unwrap();
    }
    batch.send().await.unwrap();
}

/// Stores `item` as it is, as a foreign writer could.
async fn put_raw(table: &Table, item: singletable::item::Item) {
    table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

fn outcome<T: std::fmt::Debug>(result: &Result<T, Error>) -> String {
    match result {
        Ok(value) => format!("Ok({value:?})"),
        Err(error) => format!("Err({error})"),
    }
}

#[tokio::test]
async fn a_thousand_concurrent_gets_return_what_get_returns_in_ten_requests() {
    let (table, watched, reads) = tables(plain).await;
    let events: Vec<Event> = (0..950)
        .map(|n| sample_event(&format!("s{}", n % 13), n))
        .collect();
    put_events(&table, &events).await;
    // 1,000 distinct keys (950 stored, 50 missing), then 200 of them asked for again.
    let mut keys: Vec<(String, String)> = events
        .iter()
        .map(|e| (e.stream.clone(), e.seq.clone()))
        .collect();
    keys.extend((0..50).map(|n| ("nowhere".to_owned(), seq(n))));
    let again: Vec<_> = (0..200).map(|n| keys[n * 5].clone()).collect();
    keys.extend(again);
    fn key((stream, seq): &(String, String)) -> EventKey<'_> {
        EventKey { stream, seq }
    }

    // The same keys through `get`, a few at a time (a thousand connections at once are slow).
    let by_get: Vec<_> = futures::stream::iter(&keys)
        .map(|k| Event::get(&table, key(k)))
        .buffered(16)
        .collect()
        .await;
    let loader = Loader::new(&watched);
    let by_loader = join_all(keys.iter().map(|k| loader.get::<Event>(key(k)))).await;

    assert_eq!(by_loader.len(), 1200);
    for ((k, got), loaded) in keys.iter().zip(&by_get).zip(&by_loader) {
        assert_eq!(outcome(loaded), outcome(got), "key {k:?}");
    }
    assert_eq!(
        by_loader.iter().filter(|r| matches!(r, Ok(None))).count(),
        60,
        "the 50 missing keys (10 of them asked for twice) read None"
    );
    let sent = reads.take();
    assert!(
        sent.iter()
            .all(|(operation, _)| *operation == "BatchGetItem"),
        "{sent:?}"
    );
    assert!(sent.len() <= 10, "{} requests: {sent:?}", sent.len());
    assert!(sent.iter().all(|(_, keys)| *keys <= 100), "{sent:?}");
    assert_eq!(
        sent.iter().map(|(_, keys)| keys).sum::<usize>(),
        1000,
        "each distinct key read once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spawned_gets_of_four_tenants_gather_in_a_window_and_read_their_own_notes() {
    let (table, watched, reads) = tables(with_notes).await;
    let tenants = ["A", "B", "C", "D"];
    for t in tenants {
        tenant::scope(t, async {
            let created = join_all((0..50).map(|n| {
                Note::create(
                    &table,
                    NewNote {
                        id: n.to_string(),
                        title: format!("{t}/{n}"),
                        body: String::new(),
                    },
                )
            }))
            .await;
            assert!(created.iter().all(Result::is_ok));
        })
        .await;
    }
    let loader = Loader::builder(&watched)
        .window(Duration::from_millis(300))
        .build();
    // 200 distinct keys, each asked for five times, from 1,000 tasks.
    let mut tasks = Vec::with_capacity(1000);
    for _ in 0..5 {
        for t in tenants {
            for n in 0..50 {
                let loader = loader.clone();
                // The task carries the scope it is spawned in.
                tenant::scope(t, async {
                    let task = tenant::spawn(async move {
                        let id = n.to_string();
                        loader.get::<Note>(NoteKey { id: &id }).await
                    });
                    tasks.push((t, n, task));
                })
                .await;
            }
        }
    }
    for (t, n, task) in tasks {
        let note = task.await.unwrap().unwrap().expect("found");
        assert_eq!(
            (note.tenant_id.as_str(), note.title),
            (t, format!("{t}/{n}"))
        );
    }
    let sent = reads.take();
    assert!(sent.len() <= 10, "{} requests: {sent:?}", sent.len());
    assert!(
        sent.iter()
            .all(|(operation, keys)| *operation == "BatchGetItem" && *keys <= 100),
        "{sent:?}"
    );
}

#[tokio::test]
async fn two_tenants_share_a_request_and_each_reads_its_own_item() {
    let (table, watched, reads) = tables(with_notes).await;
    for t in ["A", "B"] {
        tenant::scope(t, async {
            for id in ["1", "2"] {
                let new = NewNote {
                    id: id.into(),
                    title: format!("{t}'s note {id}"),
                    body: String::new(),
                };
                Note::create(&table, new).await.unwrap();
            }
        })
        .await;
    }
    // Note 2 of tenant A claims to be B's, as a foreign writer could leave it.
    let mut item = raw_items(&table)
        .await
        .into_iter()
        .find(|item| {
            item["pk"].as_s().unwrap() == "TENANT#A#NOTES" && item["sk"].as_s().unwrap() == "NOTE#2"
        })
        .unwrap();
    item.insert("tenant_id".into(), AttributeValue::S("B".into()));
    put_raw(&table, item).await;

    let loader = Loader::new(&watched);
    let (a, b, tampered) = tokio::join!(
        tenant::scope("A", loader.get::<Note>(NoteKey { id: "1" })),
        tenant::scope("B", loader.get::<Note>(NoteKey { id: "1" })),
        tenant::scope("A", loader.get::<Note>(NoteKey { id: "2" })),
    );
    assert_eq!(a.unwrap().unwrap().title, "A's note 1");
    assert_eq!(b.unwrap().unwrap().title, "B's note 1");
    let by_get = tenant::scope("A", Note::get(&table, NoteKey { id: "2" })).await;
    assert!(
        matches!(&tampered, Err(Error::TenantMismatch { entity: "NOTE", expected, found }) if expected == "A" && found == "B"),
        "{tampered:?}"
    );
    assert_eq!(outcome(&tampered), outcome(&by_get));
    assert_eq!(reads.take(), [("BatchGetItem", 3)], "one request");

    // Outside any scope: refused before any request, as `get` refuses it.
    let outside = loader.get::<Note>(NoteKey { id: "1" }).await;
    assert!(
        matches!(outside, Err(Error::MissingTenant { entity: "NOTE" })),
        "{outside:?}"
    );
    assert_eq!(
        outcome(&outside),
        outcome(&Note::get(&table, NoteKey { id: "1" }).await)
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(reads.take(), [], "no request");
}

#[tokio::test]
async fn a_soft_deleted_item_reads_none_as_with_get() {
    let (table, watched, _) = tables(plain).await;
    for id in ["kept", "gone"] {
        let new = NewDoc {
            folder: "f".into(),
            id: id.into(),
            title: id.into(),
        };
        Doc::create(&table, new).await.unwrap();
    }
    let gone = DocKey {
        folder: "f",
        id: "gone",
    };
    Doc::delete(&table, gone).await.unwrap();
    assert_eq!(Doc::get(&table, gone).await.unwrap(), None);
    assert!(Doc::get_including_deleted(&table, gone)
        .await
        .unwrap()
        .is_some());

    let loader = Loader::new(&watched);
    let (kept, deleted) = tokio::join!(
        loader.get::<Doc>(DocKey {
            folder: "f",
            id: "kept"
        }),
        loader.get::<Doc>(gone),
    );
    assert_eq!(kept.unwrap().unwrap().title, "kept");
    assert_eq!(
        deleted.unwrap(),
        None,
        "soft-deleted: None, as `get` reads it"
    );
}

#[tokio::test]
async fn an_item_of_another_type_is_the_error_get_gives() {
    let (table, watched, _) = tables(plain).await;
    let (event, kept) = (sample_event("s", 1), sample_event("s", 2));
    put_events(&table, &[event.clone(), kept.clone()]).await;
    let mut item = raw_items(&table)
        .await
        .into_iter()
        .find(|item| item["sk"].as_s().unwrap() == "SEQ#00001")
        .unwrap();
    item.insert("_type".into(), AttributeValue::S("INVOICE".into()));
    put_raw(&table, item).await;

    let loader = Loader::new(&watched);
    let (foreign, other) = tokio::join!(
        loader.get::<Event>(event.key()),
        loader.get::<Event>(kept.key())
    );
    let by_get = Event::get(&table, event.key()).await;
    assert!(
        matches!(&foreign, Err(Error::Decode { entity: "EVENT", field, .. }) if field == "_type"),
        "{foreign:?}"
    );
    assert_eq!(outcome(&foreign), outcome(&by_get));
    assert_eq!(
        other.unwrap(),
        Some(kept),
        "the other caller reads its item"
    );
}

#[tokio::test]
async fn a_dropped_waiter_leaves_the_others_answered() {
    let (table, watched, reads) = tables(plain).await;
    let events: Vec<Event> = (0..40).map(|n| sample_event("s", n)).collect();
    put_events(&table, &events).await;
    let loader = Loader::new(&watched);

    // Waiters that join the batch and are dropped before it is sent: one for each of events
    // 0..10, and one for event 10, which a live caller asks for too.
    for event in &events[..11] {
        let waiter = loader.get::<Event>(event.key());
        assert!(waiter.now_or_never().is_none(), "waits for its batch");
    }
    let live = join_all(events[10..].iter().map(|e| loader.get::<Event>(e.key()))).await;
    for (got, event) in live.into_iter().zip(&events[10..]) {
        assert_eq!(got.unwrap().as_ref(), Some(event));
    }
    assert_eq!(
        reads.take(),
        [("BatchGetItem", 30)],
        "only the keys someone still waits for are read"
    );
    // The loader keeps working.
    assert_eq!(
        loader.get::<Event>(events[0].key()).await.unwrap().as_ref(),
        Some(&events[0])
    );
}

#[tokio::test]
async fn a_failed_batch_names_each_callers_entity_and_key() {
    let local = singletable_local::DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let missing = Table::builder(local.client().await, "no-such-table-for-the-loader")
        .retry(singletable::RetryPolicy::none())
        .build();
    let loader = Loader::builder(&missing).max_attempts(1).build();
    let (event, marker) = (sample_event("s", 1), sample_marker(2));
    let (a, b) = tokio::join!(
        loader.get::<Event>(event.key()),
        loader.get::<Marker>(marker.key())
    );
    let keys = [
        ("EVENT", event.key().item_key(&missing).unwrap()),
        ("MARKER", marker.key().item_key(&missing).unwrap()),
    ];
    for (result, expected) in [a.map(drop), b.map(drop)].into_iter().zip(keys) {
        match result {
            Err(Error::Unprocessed {
                operation: "BatchGetItem",
                items,
                ..
            }) => assert_eq!(items, [expected]),
            other => panic!("expected Unprocessed, got {other:?}"),
        }
    }
}
