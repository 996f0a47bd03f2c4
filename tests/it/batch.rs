//! Batch writes and reads across entity types.

use singletable::prelude::*;
use singletable::{BatchGet, BatchWrite};

use crate::model::*;
use crate::{raw_items, table};

fn event(n: usize) -> Event {
    sample_event(&format!("s{}", n % 7), n)
}

#[tokio::test]
async fn ten_thousand_items_of_three_types_written_and_read_back() {
    let table = table("batch").await;
    let (events, markers, projects): (Vec<_>, Vec<_>, Vec<_>) = (
        (0..4000).map(event).collect(),
        (0..3000).map(sample_marker).collect(),
        (0..3000).map(sample_project).collect(),
    );

    let mut batch = BatchWrite::new(&table);
    batch.concurrency(8);
    for n in 0..4000 {
        batch.put(&events[n]).unwrap();
        if n < 3000 {
            batch.put(&markers[n]).unwrap();
            batch.put(&projects[n]).unwrap();
        }
    }
    assert_eq!(batch.len(), 10_000);
    batch.send().await.unwrap();
    assert_eq!(raw_items(&table).await.len(), 10_000);

    let mut get = BatchGet::new(&table);
    let event_slots: Vec<_> = events
        .iter()
        .map(|e| get.get::<Event>(e.key()).unwrap())
        .collect();
    let marker_slots: Vec<_> = markers
        .iter()
        .map(|m| get.get::<Marker>(m.key()).unwrap())
        .collect();
    let project_slots: Vec<_> = projects
        .iter()
        .map(|p| get.get::<Project>(p.key()).unwrap())
        .collect();
    let missing = get
        .get::<Event>(EventKey {
            stream: "nowhere",
            seq: "0",
        })
        .unwrap();
    let mut got = get.send().await.unwrap();
    for (slot, expected) in event_slots.into_iter().zip(&events) {
        assert_eq!(got.take(slot).unwrap().as_ref(), Some(expected));
    }
    for (slot, expected) in marker_slots.into_iter().zip(&markers) {
        assert_eq!(got.take(slot).unwrap().as_ref(), Some(expected));
    }
    for (slot, expected) in project_slots.into_iter().zip(&projects) {
        assert_eq!(got.take(slot).unwrap().as_ref(), Some(expected));
    }
    assert_eq!(got.take(missing).unwrap(), None, "a missing key is None");
}

#[tokio::test]
async fn batch_deletes_and_refuses_bad_input_before_sending() {
    let table = table("batch").await;
    let mut batch = BatchWrite::new(&table);
    for n in 0..30 {
        batch.put(&event(n)).unwrap();
    }
    batch.send().await.unwrap();

    let mut batch = BatchWrite::new(&table);
    let doomed: Vec<Event> = (0..30).map(event).collect();
    for e in &doomed {
        batch.delete::<Event>(e.key()).unwrap();
    }
    batch.send().await.unwrap();
    assert!(raw_items(&table).await.is_empty());

    let mut batch = BatchWrite::new(&table);
    batch.put(&event(1)).unwrap().put(&event(1)).unwrap();
    assert!(
        matches!(batch.send().await, Err(Error::InvalidRequest { .. })),
        "a key written twice"
    );
    let mut bad = event(2);
    bad.stream = "a#b".into();
    assert!(matches!(
        BatchWrite::new(&table).put(&bad),
        Err(Error::InvalidKey { .. })
    ));
    let counter = Counter {
        name: "c".into(),
        value: 0,
        label: "x".into(),
        version: 0,
    };
    assert!(
        matches!(
            BatchWrite::new(&table).put(&counter),
            Err(Error::InvalidRequest { .. })
        ),
        "versions are not checked in batches"
    );
    assert!(raw_items(&table).await.is_empty());
}

#[tokio::test]
async fn a_key_asked_twice_or_of_another_type_reads_sensibly() {
    let table = table("batch").await;
    let e = event(5);
    let mut batch = BatchWrite::new(&table);
    batch.put(&e).unwrap();
    batch.send().await.unwrap();

    let mut get = BatchGet::new(&table);
    let first = get.get::<Event>(e.key()).unwrap();
    let second = get.get::<Event>(e.key()).unwrap();
    // A marker's key template differs, so this is another item (absent).
    let other = get
        .get::<Marker>(MarkerKey {
            stream: &e.stream,
            seq: &e.seq,
        })
        .unwrap();
    let mut got = get.send().await.unwrap();
    assert_eq!(got.take(first).unwrap().as_ref(), Some(&e));
    assert_eq!(got.take(second).unwrap().as_ref(), Some(&e));
    assert_eq!(got.take(other).unwrap(), None);
}

#[tokio::test]
async fn a_batch_read_refuses_an_item_of_another_type_as_get_does() {
    let table = table("batchtype").await;
    let event = event(1);
    let mut batch = BatchWrite::new(&table);
    batch.put(&event).unwrap();
    batch.send().await.unwrap();
    let mut foreign = raw_items(&table).await.remove(0);
    foreign.insert(
        "_type".into(),
        aws_sdk_dynamodb::types::AttributeValue::S("OTHER".into()),
    );
    table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(foreign))
        .send()
        .await
        .unwrap();

    let by_get = Event::get(&table, event.key()).await.unwrap_err();
    let mut get = BatchGet::new(&table);
    let slot = get.get::<Event>(event.key()).unwrap();
    let by_batch = get.send().await.unwrap().take(slot).unwrap_err();
    for error in [by_get, by_batch] {
        match error {
            singletable::Error::Decode { field, .. } => assert_eq!(field, "_type"),
            other => panic!("expected a decode error naming `_type`, got {other:?}"),
        }
    }
}
