//! Transactional reads: several entity types read at one point in time in one request, by the
//! read rules of `get`; limits, duplicates and the tenant binding checked before any request.

use singletable::prelude::*;
use singletable::{tenant, Transaction, TransactionGet};
use time::{Duration, OffsetDateTime};

use crate::model::*;
use crate::{count_requests, raw_items, table, table_with};

async fn organization(table: &Table, tenant_id: &str) -> Organization {
    Organization::create(
        table,
        NewOrganization {
            tenant_id: tenant_id.into(),
            name: "Acme".into(),
            plan: Plan::Pro,
            max_users: 5,
            description: None,
        },
    )
    .await
    .unwrap()
}

async fn team(table: &Table, org: &Organization) -> Team {
    Team::create(
        table,
        NewTeam {
            tenant_id: org.tenant_id.clone(),
            organization_id: org.id.clone(),
            name: "Core".into(),
            description: Some("the core team".into()),
        },
    )
    .await
    .unwrap()
}

async fn doc(table: &Table, id: &str) -> Doc {
    Doc::create(
        table,
        NewDoc {
            folder: "f".into(),
            id: id.into(),
            title: format!("doc {id}"),
        },
    )
    .await
    .unwrap()
}

fn note(id: &str, body: &str) -> NewNote {
    NewNote {
        id: id.into(),
        title: "t".into(),
        body: body.into(),
    }
}

#[tokio::test]
async fn entities_of_several_types_are_read_in_one_request() {
    let table = table("txget").await;
    let org = organization(&table, "t1").await;
    let team = team(&table, &org).await;
    let event = sample_event("s", 1);
    event.put(&table).await.unwrap();
    let doc = doc(&table, "a").await;

    let (got, requests) = count_requests(async {
        let mut read = TransactionGet::new(&table);
        let org_slot = read.get::<Organization>(org.key()).unwrap();
        let team_slot = read.get::<Team>(team.key()).unwrap();
        let event_slot = read.get::<Event>(event.key()).unwrap();
        let doc_slot = read.get::<Doc>(doc.key()).unwrap();
        assert_eq!(read.len(), 4);
        let mut got = read.send().await.unwrap();
        (
            got.take(org_slot).unwrap(),
            got.take(team_slot).unwrap(),
            got.take(event_slot).unwrap(),
            got.take(doc_slot).unwrap(),
        )
    })
    .await;
    assert_eq!(requests, 1, "one TransactGetItems request");
    assert_eq!(got, (Some(org), Some(team), Some(event), Some(doc)));
}

#[tokio::test]
async fn missing_keys_read_as_none_next_to_found_ones() {
    let table = table("txget").await;
    let event = sample_event("s", 1);
    event.put(&table).await.unwrap();

    let mut read = TransactionGet::new(&table);
    let before = read
        .get::<Event>(EventKey {
            stream: "s",
            seq: &seq(0),
        })
        .unwrap();
    let found = read.get::<Event>(event.key()).unwrap();
    let other_stream = read
        .get::<Event>(EventKey {
            stream: "elsewhere",
            seq: &seq(1),
        })
        .unwrap();
    let marker = read
        .get::<Marker>(MarkerKey {
            stream: "s",
            seq: &seq(1),
        })
        .unwrap();
    let mut got = read.send().await.unwrap();
    assert_eq!(got.take(before).unwrap(), None);
    assert_eq!(got.take(found).unwrap(), Some(event));
    assert_eq!(got.take(other_stream).unwrap(), None);
    assert_eq!(got.take(marker).unwrap(), None);
}

#[tokio::test]
async fn soft_deleted_and_expired_items_read_as_none_as_get_reads_them() {
    let table = table_with("txget", |b| b.ttl_attribute("ttl")).await;
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let live_doc = doc(&table, "live").await;
    let deleted_doc = doc(&table, "deleted").await;
    Doc::delete(&table, deleted_doc.key()).await.unwrap();
    let session = |id: &str, expires_at| NewSession {
        user: "ada".into(),
        id: id.into(),
        expires_at,
    };
    let live = Session::create(&table, session("live", now + Duration::hours(1)))
        .await
        .unwrap();
    let expired = Session::create(&table, session("expired", now - Duration::hours(1)))
        .await
        .unwrap();
    assert_eq!(raw_items(&table).await.len(), 4, "every item is stored");

    let mut read = TransactionGet::new(&table);
    let live_doc_slot = read.get::<Doc>(live_doc.key()).unwrap();
    let deleted_slot = read.get::<Doc>(deleted_doc.key()).unwrap();
    let live_slot = read.get::<Session>(live.key()).unwrap();
    let expired_slot = read.get::<Session>(expired.key()).unwrap();
    let mut got = read.send().await.unwrap();
    assert_eq!(got.take(live_doc_slot).unwrap(), Some(live_doc.clone()));
    assert_eq!(got.take(deleted_slot).unwrap(), None, "soft-deleted");
    assert_eq!(got.take(live_slot).unwrap(), Some(live.clone()));
    assert_eq!(
        got.take(expired_slot).unwrap(),
        None,
        "expired, not yet deleted"
    );

    // The same answers as `get` gives, one by one.
    assert_eq!(
        Doc::get(&table, live_doc.key()).await.unwrap(),
        Some(live_doc)
    );
    assert_eq!(Doc::get(&table, deleted_doc.key()).await.unwrap(), None);
    assert_eq!(Session::get(&table, live.key()).await.unwrap(), Some(live));
    assert_eq!(Session::get(&table, expired.key()).await.unwrap(), None);

    // Like `get_including_deleted`, a read can ask for the soft-deleted item too.
    let mut read = TransactionGet::new(&table);
    let deleted_slot = read
        .get_including_deleted::<Doc>(deleted_doc.key())
        .unwrap();
    let mut got = read.send().await.unwrap();
    assert_eq!(got.take(deleted_slot).unwrap(), Some(deleted_doc.clone()));
    assert_eq!(
        Doc::get_including_deleted(&table, deleted_doc.key())
            .await
            .unwrap(),
        Some(deleted_doc)
    );
}

#[tokio::test]
async fn an_item_of_another_type_at_the_key_is_not_read_as_the_entity_as_with_get() {
    let table = table("txget").await;
    let event = sample_event("s", 1);
    event.put(&table).await.unwrap();
    let kept = sample_event("s", 2);
    kept.put(&table).await.unwrap();
    // A raw item of another type at the event's key, as a foreign writer could leave it.
    let mut item = raw_items(&table)
        .await
        .into_iter()
        .find(|item| item["sk"].as_s().unwrap() == "SEQ#00001")
        .unwrap();
    item.insert(
        "_type".into(),
        aws_sdk_dynamodb::types::AttributeValue::S("INVOICE".into()),
    );
    table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(item))
        .send()
        .await
        .unwrap();

    let mut read = TransactionGet::new(&table);
    let foreign = read.get::<Event>(event.key()).unwrap();
    let kept_slot = read.get::<Event>(kept.key()).unwrap();
    let mut got = read.send().await.unwrap();
    let err = got.take(foreign).unwrap_err();
    assert!(
        matches!(&err, Error::Decode { entity: "EVENT", field, .. } if field == "_type"),
        "{err:?}"
    );
    assert_eq!(got.take(kept_slot).unwrap(), Some(kept), "other slots read");
    let by_get = Event::get(&table, event.key()).await.unwrap_err();
    assert!(
        matches!(&by_get, Error::Decode { entity: "EVENT", field, .. } if field == "_type"),
        "get reads it the same way: {by_get:?}"
    );
}

#[tokio::test]
async fn more_than_100_keys_are_refused_before_any_request() {
    let table = table("txget").await;
    let events: Vec<Event> = (0..101).map(|n| sample_event("s", n)).collect();
    for event in &events {
        event.put(&table).await.unwrap();
    }

    let (sent, requests) = count_requests(async {
        let mut read = TransactionGet::new(&table);
        for event in &events {
            read.get::<Event>(event.key()).unwrap();
        }
        read.send().await.map(drop)
    })
    .await;
    assert_eq!(requests, 0, "nothing was sent");
    assert!(
        matches!(
            sent,
            Err(Error::Limit {
                entity: "EVENT",
                limit: 100,
                got: 101,
                ..
            })
        ),
        "{sent:?}"
    );

    // 100 keys, the limit itself, go in one request.
    let (read, requests) = count_requests(async {
        let mut read = TransactionGet::new(&table);
        let slots: Vec<_> = events[..100]
            .iter()
            .map(|event| read.get::<Event>(event.key()).unwrap())
            .collect();
        let mut got = read.send().await.unwrap();
        slots
            .into_iter()
            .map(|slot| got.take(slot).unwrap().unwrap())
            .collect::<Vec<_>>()
    })
    .await;
    assert_eq!(requests, 1);
    assert_eq!(read, events[..100]);
}

#[tokio::test]
async fn the_same_key_twice_is_refused_before_any_request() {
    let table = table("txget").await;
    let event = sample_event("s", 1);
    event.put(&table).await.unwrap();

    let (sent, requests) = count_requests(async {
        let mut read = TransactionGet::new(&table);
        read.get::<Event>(event.key()).unwrap();
        read.get::<Event>(sample_event("s", 2).key()).unwrap();
        read.get::<Event>(event.key()).unwrap();
        read.send().await.map(drop)
    })
    .await;
    assert_eq!(requests, 0, "nothing was sent");
    let Err(Error::InvalidRequest { entity, reason }) = sent else {
        panic!("{sent:?}");
    };
    assert_eq!(entity, "EVENT");
    assert!(
        reason.contains("SEQ#00001") && reason.contains("twice"),
        "{reason}"
    );
}

#[tokio::test]
async fn an_empty_read_sends_nothing() {
    let table = table("txget").await;
    let (got, requests) = count_requests(TransactionGet::new(&table).send()).await;
    assert!(got.is_ok(), "{got:?}");
    assert_eq!(requests, 0);
}

#[tokio::test]
async fn a_slot_of_another_read_is_refused() {
    let table = table("txget").await;
    let first = sample_event("s", 1);
    let second = sample_event("s", 2);
    first.put(&table).await.unwrap();
    second.put(&table).await.unwrap();

    let mut one = TransactionGet::new(&table);
    let slot_of_one = one.get::<Event>(first.key()).unwrap();
    let mut other = TransactionGet::new(&table);
    other.get::<Event>(second.key()).unwrap();
    let mut got = other.send().await.unwrap();
    // Same type, same position: only the key tells the slots apart.
    let taken = got.take(slot_of_one);
    assert!(
        matches!(
            taken,
            Err(Error::InvalidRequest {
                entity: "EVENT",
                ..
            })
        ),
        "{taken:?}"
    );
    drop(one);
}

#[tokio::test]
async fn a_read_made_for_one_tenant_is_only_sent_in_its_scope() {
    let table = table_with("txget", |b| b.index("GSI1", "gsi1pk", "gsi1sk")).await;
    for (tenant, body) in [("A", "A's"), ("B", "B's")] {
        tenant::scope(tenant, Note::create(&table, note("1", body)))
            .await
            .unwrap();
    }

    // Keys made in A, sent in B or outside every scope: refused before any request.
    let made_in_a = || {
        tenant::scope("A", async {
            let mut read = TransactionGet::new(&table);
            read.get::<Note>(NoteKey { id: "1" }).unwrap();
            read
        })
    };
    let read = made_in_a().await;
    let (sent, requests) = count_requests(tenant::scope("B", read.send())).await;
    assert_eq!(requests, 0, "nothing was sent");
    assert!(
        matches!(&sent, Err(Error::TenantMismatch { expected, found, .. }) if expected == "B" && found == "A"),
        "{sent:?}"
    );
    let read = made_in_a().await;
    let (sent, requests) = count_requests(read.send()).await;
    assert_eq!(requests, 0, "nothing was sent");
    assert!(
        matches!(sent, Err(Error::MissingTenant { entity: "NOTE" })),
        "{sent:?}"
    );

    // A read holds one tenant's keys: a key made in B joins no read made in A.
    let mut read = made_in_a().await;
    let added = tenant::scope("B", async {
        read.get::<Note>(NoteKey { id: "1" }).map(drop)
    })
    .await;
    assert!(
        matches!(added, Err(Error::TenantMismatch { .. })),
        "{added:?}"
    );

    // In its own scope it reads that tenant's item, not the other's at the same id.
    let note = tenant::scope("A", async {
        let mut read = TransactionGet::new(&table);
        let slot = read.get::<Note>(NoteKey { id: "1" }).unwrap();
        read.send().await.unwrap().take(slot).unwrap()
    })
    .await;
    assert_eq!(
        note.map(|n| (n.tenant_id, n.body)),
        Some(("A".into(), "A's".into()))
    );
}

/// Writers move units between two events in transactions, so their sizes always sum to 100;
/// transactional reads running meanwhile always see that sum (two separate reads could see
/// one event after a transfer and the other before it).
#[tokio::test]
async fn reads_see_concurrent_transactions_whole() {
    const TOTAL: i64 = 100;
    const WRITERS: usize = 4;
    const TRANSFERS: usize = 25;
    let table = table("txget").await;
    let mut from = sample_event("pit", 1);
    from.size = TOTAL;
    let mut to = sample_event("pit", 2);
    to.size = 0;
    from.put(&table).await.unwrap();
    to.put(&table).await.unwrap();

    let done = std::sync::atomic::AtomicUsize::new(0);
    let writer = || async {
        for _ in 0..TRANSFERS {
            loop {
                let mut tx = Transaction::new(&table);
                tx.update(Event::update(&table, from.key()).add(Event::FIELDS.size, -1))
                    .unwrap();
                tx.update(Event::update(&table, to.key()).add(Event::FIELDS.size, 1))
                    .unwrap();
                match tx.send().await {
                    Ok(()) => break,
                    // Another writer's transaction on the same items: try again.
                    Err(Error::TransactionCanceled { .. }) => tokio::task::yield_now().await,
                    Err(other) => panic!("transfer failed: {other:?}"),
                }
            }
        }
        done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    };
    let reader = || async {
        let (mut seen, mut canceled) = (Vec::new(), 0);
        while done.load(std::sync::atomic::Ordering::SeqCst) < WRITERS {
            let mut read = TransactionGet::new(&table);
            let a = read.get::<Event>(from.key()).unwrap();
            let b = read.get::<Event>(to.key()).unwrap();
            match read.send().await {
                Ok(mut got) => {
                    let a = got.take(a).unwrap().unwrap();
                    let b = got.take(b).unwrap().unwrap();
                    seen.push((a.size, b.size));
                }
                Err(Error::TransactionCanceled { reasons }) => {
                    assert!(
                        reasons.iter().all(|r| r.code == "TransactionConflict"),
                        "{reasons:?}"
                    );
                    canceled += 1;
                }
                Err(other) => panic!("read failed: {other:?}"),
            }
        }
        (seen, canceled)
    };
    let writers = futures::future::join_all((0..WRITERS).map(|_| writer()));
    let readers = futures::future::join_all((0..4).map(|_| reader()));
    let (_, reads) = futures::join!(writers, readers);

    let seen: Vec<(i64, i64)> = reads.iter().flat_map(|(seen, _)| seen.clone()).collect();
    let canceled: usize = reads.iter().map(|(_, canceled)| canceled).sum();
    let broken: Vec<_> = seen.iter().filter(|(a, b)| a + b != TOTAL).collect();
    assert!(
        broken.is_empty(),
        "reads saw a transfer half done: {broken:?}"
    );
    let states: std::collections::BTreeSet<_> = seen.iter().collect();
    assert!(
        states.len() > 2,
        "the reads ran while the transfers did: {} reads saw {states:?} ({canceled} canceled)",
        seen.len()
    );
    let end = (
        Event::get(&table, from.key()).await.unwrap().unwrap().size,
        Event::get(&table, to.key()).await.unwrap().unwrap().size,
    );
    let moved = (WRITERS * TRANSFERS) as i64;
    assert_eq!(end, (TOTAL - moved, moved));
}

#[tokio::test]
async fn a_read_of_more_than_4_mb_fails_as_a_whole() {
    let table = table("txget").await;
    let mut read = TransactionGet::new(&table);
    for n in 0..12 {
        let mut event = sample_event("big", n);
        event.note = Some("x".repeat(380_000));
        event.put(&table).await.unwrap();
        read.get::<Event>(event.key()).unwrap();
    }
    // Twelve items of 380 KB: 4.5 MB, over DynamoDB's limit on a transactional read's items.
    let sent = read.send().await;
    assert!(
        matches!(
            &sent,
            Err(Error::Sdk {
                operation: "TransactGetItems",
                ..
            } | Error::TransactionCanceled { .. })
        ),
        "{:?}",
        sent.map(drop)
    );
}
