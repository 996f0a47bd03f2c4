//! Change feeds: the table's stream (read through the DynamoDB Streams API of DynamoDB Local) and
//! Lambda's stream events decode into the table schema's enum, every write once, in write order
//! per item, resumable from a serialized checkpoint.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue::S;
use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{
    tenant, ChangeAction, ChangeEvent, ChangeFeed, ChangeReader, Checkpoint, ItemKey,
    LambdaStreamEvent,
};
use singletable_local::DynamoDbLocal;

use crate::count_requests;

/// A tenant's task, deleted softly.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "CF_TASK",
    pk = "CF#<tenant_id>#TASK#<id>",
    sk = "#TASK",
    soft_delete
)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    #[entity(tenant)]
    pub tenant_id: String,
    pub id: String,
    pub title: String,
}

/// A price plan every tenant shares.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "CF_PLAN", pk = "CF_PLAN#<id>", sk = "#PLAN")]
pub struct Plan {
    pub id: String,
    pub price: u32,
}

/// The table's schema.
#[derive(TableSchema, Debug, Clone, PartialEq)]
pub enum Feed {
    Task(Task),
    Plan(Plan),
}

/// The shared part only: no entity is tenant-scoped.
#[derive(TableSchema, Debug, Clone, PartialEq)]
pub enum Shared {
    Plan(Plan),
}

/// A fresh table with a stream of new and old images, and its stream's ARN.
async fn table() -> (Table, String) {
    let local = DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let name = singletable_local::unique_table_name("change-feed");
    let table = Feed::declare(Table::builder(local.client().await, name)).build();
    let arn = table
        .create_table_with_stream()
        .await
        .expect("table is created");
    (table, arn)
}

/// One write of the script, and the event it must give.
#[derive(Clone, Debug, PartialEq)]
struct Expected {
    action: ChangeAction,
    old: Option<String>,
    new: Option<String>,
    tenant: String,
}

/// The tenants, and the keys' ids: 20 tasks over two tenants.
fn keys() -> Vec<(&'static str, String)> {
    (0..20)
        .map(|k| (if k % 2 == 0 { "a" } else { "b" }, format!("t{k}")))
        .collect()
}

/// 50 writes to one task, five times: create, update twice, soft delete, restore, update four
/// times, purge. Returns the events they must give, in order.
async fn write_task(table: &Table, tenant_id: &str, id: &str) -> Vec<Expected> {
    let key = || TaskKey { id };
    let mut expected = Vec::new();
    let mut current: Option<String> = None;
    let mut expect = |action, new: Option<String>, current: &mut Option<String>| {
        expected.push(Expected {
            action,
            old: current.clone(),
            new: new.clone(),
            tenant: tenant_id.to_owned(),
        });
        *current = new;
    };
    for cycle in 0..5 {
        let title = |step: usize| format!("{id} cycle {cycle} step {step}");
        let new = NewTask {
            id: id.into(),
            title: title(0),
        };
        Task::create(table, new).await.unwrap();
        expect(ChangeAction::Created, Some(title(0)), &mut current);
        for step in 1..10 {
            match step {
                3 => {
                    Task::delete(table, key()).await.unwrap().unwrap();
                    let same = current.clone();
                    expect(ChangeAction::SoftDeleted, same, &mut current);
                }
                4 => {
                    Task::restore(table, key()).await.unwrap();
                    let same = current.clone();
                    expect(ChangeAction::Restored, same, &mut current);
                }
                9 => {
                    Task::purge(table, key()).await.unwrap().unwrap();
                    expect(ChangeAction::Deleted, None, &mut current);
                }
                _ => {
                    Task::update(table, key())
                        .set(Task::FIELDS.title, title(step))
                        .send()
                        .await
                        .unwrap();
                    expect(ChangeAction::Updated, Some(title(step)), &mut current);
                }
            }
        }
    }
    expected
}

/// Writes 1,000 changes (20 tasks of two tenants written at once, each task's writes in order);
/// returns the events expected per key.
async fn write_1000(table: &Table) -> HashMap<ItemKey, Vec<Expected>> {
    let writes = keys().into_iter().map(|(tenant_id, id)| async move {
        let expected = tenant::scope(tenant_id, write_task(table, tenant_id, &id)).await;
        let key = ItemKey {
            pk: format!("CF#{tenant_id}#TASK#{id}"),
            sk: "#TASK".into(),
        };
        (key, expected)
    });
    let expected: HashMap<_, _> = futures::future::join_all(writes)
        .await
        .into_iter()
        .collect();
    assert_eq!(expected.values().map(Vec::len).sum::<usize>(), 1000);
    expected
}

/// What an event says, in the terms of [`Expected`].
fn seen(event: &ChangeEvent<Feed>) -> Expected {
    let title = |item: &Option<Feed>| match item {
        Some(Feed::Task(task)) => {
            assert_eq!(
                Some(task.tenant_id.as_str()),
                event.tenant.as_ref().map(|t| t.as_str())
            );
            Some(task.title.clone())
        }
        other => {
            assert!(other.is_none(), "{other:?}");
            None
        }
    };
    Expected {
        action: event.action,
        old: title(&event.old),
        new: title(&event.new),
        tenant: event.tenant.as_ref().map_or("", |t| t.as_str()).to_owned(),
    }
}

/// Reads from `reader` until it has handed out `count` events, polling while it is caught up
/// (the stream may show writes a moment late), then checks that nothing more comes.
async fn read(reader: &mut ChangeReader<'_, Feed>, count: usize) -> Vec<ChangeEvent<Feed>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut events = Vec::new();
    tenant::across_tenants("change feed test", async {
        while events.len() < count {
            match reader.next().await.unwrap() {
                Some(event) => events.push(event),
                None if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                None => panic!("only {} of {count} events came", events.len()),
            }
        }
    })
    .await;
    events
}

/// The events grouped by key, in the order they came.
fn by_key(events: &[ChangeEvent<Feed>]) -> HashMap<ItemKey, Vec<Expected>> {
    let mut grouped: HashMap<ItemKey, Vec<Expected>> = HashMap::new();
    for event in events {
        assert!(event.is_entity(), "{event:?}");
        assert_eq!(event.entity_type.as_deref(), Some("CF_TASK"));
        assert!(event.created_at.is_some() && !event.expired);
        grouped
            .entry(event.key.clone())
            .or_default()
            .push(seen(event));
    }
    grouped
}

/// One test for both, so that the 1,000 writes are made once.
#[tokio::test]
async fn a_thousand_writes_give_a_thousand_typed_events_in_order_and_a_resumed_consumer_the_same() {
    let (table, arn) = table().await;
    let expected = write_1000(&table).await;
    let streams = DynamoDbLocal::shared().unwrap().streams_client().await;
    let feed = ChangeFeed::<Feed>::new(&table, &streams, arn.as_str());

    // One consumer reads the whole feed.
    let mut reader = feed.read(Checkpoint::new());
    let events = read(&mut reader, 1000).await;
    let more = tenant::across_tenants("change feed test", reader.next()).await;
    assert!(more.unwrap().is_none(), "exactly 1,000 events");
    let sequences: BTreeSet<_> = events.iter().map(|e| &e.sequence_number).collect();
    assert_eq!(sequences.len(), 1000, "no event twice");
    assert_eq!(by_key(&events), expected, "in write order per key");
    let soft = events
        .iter()
        .find(|e| e.action == ChangeAction::SoftDeleted)
        .unwrap();
    assert!(soft.new_image.as_ref().unwrap().contains_key("_deleted_at"));
    assert!(!soft.old_image.as_ref().unwrap().contains_key("_deleted_at"));

    // Another stops in the middle of a page, and resumes from its serialized checkpoint.
    let mut first = feed.read(Checkpoint::new()).page_size(100);
    let before = read(&mut first, 357).await;
    let saved = serde_json::to_string(first.checkpoint()).unwrap();
    drop(first);
    let checkpoint: Checkpoint = serde_json::from_str(&saved).unwrap();
    assert_eq!(checkpoint.stream_arn(), Some(arn.as_str()));
    let mut second = feed.read(checkpoint);
    let after = read(&mut second, 1000 - 357).await;
    let more = tenant::across_tenants("change feed test", second.next()).await;
    assert!(more.unwrap().is_none(), "nothing handed out twice");

    let resumed: Vec<_> = before.into_iter().chain(after).collect();
    let sequences: Vec<_> = resumed.iter().map(|e| &e.sequence_number).collect();
    let whole: Vec<_> = events.iter().map(|e| &e.sequence_number).collect();
    assert_eq!(
        sequences, whole,
        "the union is the 1,000 exactly, in the same order"
    );
    assert_eq!(by_key(&resumed), expected);
}

#[tokio::test]
async fn one_consumer_per_shard_reads_the_same_events() {
    let (table, arn) = table().await;
    tenant::scope("a", async {
        for id in ["1", "2", "3"] {
            let new = NewTask {
                id: id.into(),
                title: "t".into(),
            };
            Task::create(&table, new).await.unwrap();
        }
    })
    .await;
    let streams = DynamoDbLocal::shared().unwrap().streams_client().await;
    let feed = ChangeFeed::<Feed>::new(&table, &streams, arn);
    let shards = feed.shards().await.unwrap();
    assert!(!shards.is_empty());
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while events.len() < 3 && Instant::now() < deadline {
        events.clear();
        for shard in &shards {
            let mut reader = feed.read_shard(shard.id(), Checkpoint::new());
            tenant::across_tenants("per shard", async {
                while let Some(event) = reader.next().await.unwrap() {
                    events.push(event);
                }
            })
            .await;
        }
    }
    let ids: Vec<_> = events
        .iter()
        .map(|e| match &e.new {
            Some(Feed::Task(task)) => task.id.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, ["1", "2", "3"]);
}

#[tokio::test]
async fn items_outside_the_schema_are_events_with_their_type_and_raw_images() {
    let (table, arn) = table().await;
    let put = |attributes: &[(&str, &str)]| {
        let mut put = table.client().put_item().table_name(table.name());
        for (name, value) in attributes {
            put = put.item(*name, S((*value).into()));
        }
        put.send()
    };
    put(&[("pk", "AUDIT#1"), ("sk", "LOG#1"), ("_type", "AUDIT_LOG")])
        .await
        .unwrap();
    put(&[
        ("pk", "UNIQUE#email#x"),
        ("sk", "#UNIQUE"),
        ("_type", "_UNIQUE"),
    ])
    .await
    .unwrap();
    put(&[("pk", "OTHER#1"), ("sk", "#OTHER")]).await.unwrap();
    let plan = Plan {
        id: "basic".into(),
        price: 10,
    };
    plan.put(&table).await.unwrap();

    let streams = DynamoDbLocal::shared().unwrap().streams_client().await;
    let feed = ChangeFeed::<Feed>::new(&table, &streams, arn);
    let mut reader = feed.read(Checkpoint::new());
    let events = read(&mut reader, 4).await;
    let kinds: Vec<_> = events
        .iter()
        .map(|e| (e.entity_type.as_deref(), e.is_entity(), e.new.is_some()))
        .collect();
    assert_eq!(
        kinds,
        [
            (Some("AUDIT_LOG"), false, false),
            (Some("_UNIQUE"), false, false),
            (None, false, false),
            (Some("CF_PLAN"), true, true),
        ]
    );
    let audit = &events[0];
    assert_eq!(audit.action, ChangeAction::Created);
    assert_eq!(audit.key.pk, "AUDIT#1");
    assert_eq!(audit.tenant, None);
    assert_eq!(
        audit.new_image.as_ref().unwrap()["_type"],
        S("AUDIT_LOG".into())
    );
    assert_eq!(events[3].new, Some(Feed::Plan(plan)));
}

#[tokio::test]
async fn reading_outside_across_tenants_is_refused_before_any_request() {
    let (table, arn) = table().await;
    let plan = Plan {
        id: "basic".into(),
        price: 10,
    };
    plan.put(&table).await.unwrap();
    let streams = DynamoDbLocal::shared().unwrap().streams_client().await;
    let feed = ChangeFeed::<Feed>::new(&table, &streams, arn.as_str());

    let mut reader = feed.read(Checkpoint::new());
    let (outside, requests) = count_requests(reader.next()).await;
    let (in_one, more) = count_requests(tenant::scope("a", reader.next())).await;
    assert_eq!(requests + more, 0);
    for refused in [outside, in_one] {
        match refused {
            Err(Error::InvalidRequest { entity, reason }) => {
                assert_eq!(entity, "CF_TASK");
                assert!(reason.contains("across_tenants"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    // A schema without tenant-scoped entities reads in any scope.
    let shared = ChangeFeed::<Shared>::new(&table, &streams, arn);
    let mut reader = shared.read(Checkpoint::new());
    let deadline = Instant::now() + Duration::from_secs(20);
    let event = loop {
        match reader.next().await.unwrap() {
            Some(event) => break event,
            None if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            None => panic!("no event"),
        }
    };
    assert_eq!(event.new, Some(Shared::Plan(plan)));
}

#[tokio::test]
async fn a_stream_is_turned_on_for_an_existing_table() {
    let local = DynamoDbLocal::shared().unwrap();
    let name = singletable_local::unique_table_name("change-feed-enable");
    let table = Feed::declare(Table::builder(local.client().await, name)).build();
    table.create_table().await.unwrap();
    assert_eq!(table.stream_arn().await.unwrap(), None);
    let arn = table.enable_stream().await.unwrap();
    assert_eq!(
        table.stream_arn().await.unwrap().as_deref(),
        Some(arn.as_str())
    );
    assert_eq!(table.enable_stream().await.unwrap(), arn, "kept as it is");
}

/// A Lambda DynamoDB stream event, as Lambda delivers it: a task created, soft-deleted and
/// restored, then expired (a REMOVE with only its keys and old image), an audit record, and a
/// plan.
const LAMBDA_EVENT: &str = r##"{
  "Records": [
    {
      "eventID": "c4ca4238a0b923820dcc509a6f75849b",
      "eventName": "INSERT",
      "eventVersion": "1.1",
      "eventSource": "aws:dynamodb",
      "awsRegion": "us-east-1",
      "dynamodb": {
        "ApproximateCreationDateTime": 1700000000,
        "Keys": {"pk": {"S": "CF#a#TASK#t1"}, "sk": {"S": "#TASK"}},
        "NewImage": {
          "pk": {"S": "CF#a#TASK#t1"}, "sk": {"S": "#TASK"},
          "_type": {"S": "CF_TASK"}, "_timestamp": {"S": "2023-11-14T22:13:20.000Z"},
          "tenantId": {"S": "a"}, "id": {"S": "t1"}, "title": {"S": "first"}
        },
        "SequenceNumber": "111100000000000000001",
        "SizeBytes": 150,
        "StreamViewType": "NEW_AND_OLD_IMAGES"
      },
      "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/App/stream/2023-11-14T00:00:00.000"
    },
    {
      "eventID": "c81e728d9d4c2f636f067f89cc14862c",
      "eventName": "MODIFY",
      "eventVersion": "1.1",
      "eventSource": "aws:dynamodb",
      "awsRegion": "us-east-1",
      "dynamodb": {
        "ApproximateCreationDateTime": 1700000001,
        "Keys": {"pk": {"S": "CF#a#TASK#t1"}, "sk": {"S": "#TASK"}},
        "OldImage": {
          "pk": {"S": "CF#a#TASK#t1"}, "sk": {"S": "#TASK"},
          "_type": {"S": "CF_TASK"}, "_timestamp": {"S": "2023-11-14T22:13:20.000Z"},
          "tenantId": {"S": "a"}, "id": {"S": "t1"}, "title": {"S": "first"}
        },
        "NewImage": {
          "pk": {"S": "CF#a#TASK#t1"}, "sk": {"S": "#TASK"},
          "_type": {"S": "CF_TASK"}, "_timestamp": {"S": "2023-11-14T22:13:20.000Z"},
          "_deleted_at": {"S": "2023-11-14T22:13:21.000Z"},
          "tenantId": {"S": "a"}, "id": {"S": "t1"}, "title": {"S": "first"}
        },
        "SequenceNumber": "111100000000000000002",
        "SizeBytes": 190,
        "StreamViewType": "NEW_AND_OLD_IMAGES"
      },
      "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/App/stream/2023-11-14T00:00:00.000"
    },
    {
      "eventID": "eccbc87e4b5ce2fe28308fd9f2a7baf3",
      "eventName": "MODIFY",
      "eventVersion": "1.1",
      "eventSource": "aws:dynamodb",
      "awsRegion": "us-east-1",
      "dynamodb": {
        "ApproximateCreationDateTime": 1700000002,
        "Keys": {"pk": {"S": "CF#a#TASK#t1"}, "sk": {"S": "#TASK"}},
        "OldImage": {
          "pk": {"S": "CF#a#TASK#t1"}, "sk": {"S": "#TASK"},
          "_type": {"S": "CF_TASK"}, "_timestamp": {"S": "2023-11-14T22:13:20.000Z"},
          "_deleted_at": {"S": "2023-11-14T22:13:21.000Z"},
          "tenantId": {"S": "a"}, "id": {"S": "t1"}, "title": {"S": "first"}
        },
        "NewImage": {
          "pk": {"S": "CF#a#TASK#t1"}, "sk": {"S": "#TASK"},
          "_type": {"S": "CF_TASK"}, "_timestamp": {"S": "2023-11-14T22:13:20.000Z"},
          "tenantId": {"S": "a"}, "id": {"S": "t1"}, "title": {"S": "first"}
        },
        "SequenceNumber": "111100000000000000003",
        "SizeBytes": 190,
        "StreamViewType": "NEW_AND_OLD_IMAGES"
      },
      "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/App/stream/2023-11-14T00:00:00.000"
    },
    {
      "eventID": "a87ff679a2f3e71d9181a67b7542122c",
      "eventName": "REMOVE",
      "eventVersion": "1.1",
      "eventSource": "aws:dynamodb",
      "awsRegion": "us-east-1",
      "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
      "dynamodb": {
        "ApproximateCreationDateTime": 1700000003,
        "Keys": {"pk": {"S": "CF#a#TASK#t1"}, "sk": {"S": "#TASK"}},
        "OldImage": {
          "pk": {"S": "CF#a#TASK#t1"}, "sk": {"S": "#TASK"},
          "_type": {"S": "CF_TASK"}, "_timestamp": {"S": "2023-11-14T22:13:20.000Z"},
          "tenantId": {"S": "a"}, "id": {"S": "t1"}, "title": {"S": "first"}
        },
        "SequenceNumber": "111100000000000000004",
        "SizeBytes": 120,
        "StreamViewType": "NEW_AND_OLD_IMAGES"
      },
      "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/App/stream/2023-11-14T00:00:00.000"
    },
    {
      "eventID": "e4da3b7fbbce2345d7772b0674a318d5",
      "eventName": "INSERT",
      "eventVersion": "1.1",
      "eventSource": "aws:dynamodb",
      "awsRegion": "us-east-1",
      "dynamodb": {
        "ApproximateCreationDateTime": 1700000004,
        "Keys": {"pk": {"S": "TENANT#a#AUDIT"}, "sk": {"S": "LOG#2023-11-14T22:13:24.000Z#1"}},
        "NewImage": {
          "pk": {"S": "TENANT#a#AUDIT"}, "sk": {"S": "LOG#2023-11-14T22:13:24.000Z#1"},
          "_type": {"S": "AUDIT_LOG"}, "action": {"S": "DELETE"},
          "changes": {"M": {"title": {"M": {"old": {"S": "first"}, "new": {"NULL": true}}}}},
          "ttl": {"N": "1702592004"}
        },
        "SequenceNumber": "111100000000000000005",
        "SizeBytes": 160,
        "StreamViewType": "NEW_AND_OLD_IMAGES"
      },
      "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/App/stream/2023-11-14T00:00:00.000"
    },
    {
      "eventID": "1679091c5a880faf6fb5e6087eb1b2dc",
      "eventName": "INSERT",
      "eventVersion": "1.1",
      "eventSource": "aws:dynamodb",
      "awsRegion": "us-east-1",
      "dynamodb": {
        "ApproximateCreationDateTime": 1700000005.25,
        "Keys": {"pk": {"S": "CF_PLAN#basic"}, "sk": {"S": "#PLAN"}},
        "NewImage": {
          "pk": {"S": "CF_PLAN#basic"}, "sk": {"S": "#PLAN"},
          "_type": {"S": "CF_PLAN"}, "id": {"S": "basic"}, "price": {"N": "10"}
        },
        "SequenceNumber": "111100000000000000006",
        "SizeBytes": 80,
        "StreamViewType": "NEW_AND_OLD_IMAGES"
      },
      "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/App/stream/2023-11-14T00:00:00.000"
    }
  ]
}"##;

/// A table description for decoding only: no request is made.
async fn offline_table() -> Table {
    let local = DynamoDbLocal::shared().unwrap();
    Feed::declare(Table::builder(local.client().await, "lambda-only")).build()
}

#[tokio::test]
async fn a_lambda_event_decodes_into_typed_events() {
    let table = offline_table().await;
    let event: LambdaStreamEvent = serde_json::from_str(LAMBDA_EVENT).unwrap();
    assert_eq!(event.len(), 6);
    let events = tenant::across_tenants("lambda", async { event.decode::<Feed>(&table) })
        .await
        .unwrap();

    let task = Task {
        tenant_id: "a".into(),
        id: "t1".into(),
        title: "first".into(),
    };
    let summary: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.action,
                e.old.clone(),
                e.new.clone(),
                e.tenant.as_ref().map(|t| t.as_str().to_owned()),
            )
        })
        .collect();
    let t = || Some(Feed::Task(task.clone()));
    let a = || Some("a".to_owned());
    assert_eq!(
        summary,
        [
            (ChangeAction::Created, None, t(), a()),
            (ChangeAction::SoftDeleted, t(), t(), a()),
            (ChangeAction::Restored, t(), t(), a()),
            (ChangeAction::Deleted, t(), None, a()),
            (ChangeAction::Created, None, None, None),
            (
                ChangeAction::Created,
                None,
                Some(Feed::Plan(Plan {
                    id: "basic".into(),
                    price: 10
                })),
                None
            ),
        ]
    );
    assert!(events[3].expired, "removed by its time to live");
    assert!(!events[0].expired);
    assert_eq!(
        events[0].key,
        ItemKey {
            pk: "CF#a#TASK#t1".into(),
            sk: "#TASK".into()
        }
    );
    assert_eq!(events[0].sequence_number, "111100000000000000001");
    assert_eq!(
        events[0].created_at.unwrap().unix_timestamp(),
        1_700_000_000
    );
    assert_eq!(events[5].created_at.unwrap().millisecond(), 250);
    let audit = &events[4];
    assert!(!audit.is_entity());
    assert_eq!(audit.entity_type.as_deref(), Some("AUDIT_LOG"));
    assert_eq!(
        audit.new_image.as_ref().unwrap()["action"],
        S("DELETE".into())
    );
    let sequences: Vec<_> = event.records().map(|r| r.sequence_number()).collect();
    assert_eq!(sequences[5], Some("111100000000000000006"));
}

#[tokio::test]
async fn a_lambda_event_is_refused_outside_across_tenants_unless_nothing_is_tenant_scoped() {
    let table = offline_table().await;
    let event: LambdaStreamEvent = serde_json::from_str(LAMBDA_EVENT).unwrap();
    for result in [
        event.decode::<Feed>(&table).map(drop),
        tenant::scope("a", async { event.decode::<Feed>(&table) })
            .await
            .map(drop),
    ] {
        assert!(
            matches!(
                result,
                Err(Error::InvalidRequest {
                    entity: "CF_TASK",
                    ..
                })
            ),
            "{result:?}"
        );
    }
    let shared = event.decode::<Shared>(&table).unwrap();
    assert_eq!(shared.iter().filter(|e| e.is_entity()).count(), 1);
    assert_eq!(
        shared[0].entity_type.as_deref(),
        Some("CF_TASK"),
        "outside `Shared`, so not decoded"
    );
}

#[tokio::test]
async fn malformed_lambda_records_fail_alone_naming_the_key_and_the_fault() {
    let table = offline_table().await;
    let record = |event_name: &str, change: serde_json::Value| serde_json::json!({"eventID": "e", "eventName": event_name, "dynamodb": change});
    let keys = serde_json::json!({"pk": {"S": "CF#a#TASK#t1"}, "sk": {"S": "#TASK"}});
    let image = |tenant: &str| {
        serde_json::json!({
            "pk": {"S": "CF#a#TASK#t1"}, "sk": {"S": "#TASK"}, "_type": {"S": "CF_TASK"},
            "tenantId": {"S": tenant}, "id": {"S": "t1"}, "title": {"S": "x"}
        })
    };
    let event = serde_json::json!({"Records": [
        record("UPSERT", serde_json::json!({"Keys": keys, "NewImage": image("a"), "SequenceNumber": "1"})),
        record("INSERT", serde_json::json!({"SequenceNumber": "2"})),
        record("INSERT", serde_json::json!({"Keys": keys, "NewImage": {"title": {"X": "y"}}, "SequenceNumber": "3"})),
        record("MODIFY", serde_json::json!({"Keys": keys, "NewImage": image("a"), "SequenceNumber": "4"})),
        record("INSERT", serde_json::json!({"Keys": keys, "NewImage": image("b"), "SequenceNumber": "5"})),
        record("INSERT", serde_json::json!({"Keys": {"pk": {"N": "1"}, "sk": {"S": "x"}}, "SequenceNumber": "6"})),
        record("INSERT", serde_json::json!({"Keys": keys, "NewImage": image("a"), "SequenceNumber": "7"})),
        "not a record",
    ]});
    let event: LambdaStreamEvent = serde_json::from_value(event).unwrap();
    let results: Vec<_> = tenant::across_tenants("lambda", async {
        event
            .records()
            .map(|r| r.decode::<Feed>(&table))
            .collect::<Vec<_>>()
    })
    .await;
    let key = ItemKey {
        pk: "CF#a#TASK#t1".into(),
        sk: "#TASK".into(),
    };
    let invalid = |i: usize| match &results[i] {
        Err(Error::InvalidRecord {
            schema: "Feed",
            record,
            key,
            reason,
        }) => (record.clone(), key.clone(), reason.clone()),
        other => panic!("record {i}: {other:?}"),
    };
    let (record, named, reason) = invalid(0);
    assert_eq!((record.as_str(), named.as_ref()), ("1", Some(&key)));
    assert!(reason.contains("UPSERT"), "{reason}");
    let (_, named, reason) = invalid(1);
    assert_eq!(named, None);
    assert!(reason.contains("no `Keys`"), "{reason}");
    let (_, named, reason) = invalid(2);
    assert_eq!(named.as_ref(), Some(&key));
    assert!(reason.contains("NewImage.title"), "{reason}");
    let (_, _, reason) = invalid(3);
    assert!(reason.contains("OldImage"), "{reason}");
    assert!(
        matches!(&results[4], Err(Error::TenantMismatch { entity: "CF_TASK", expected, found }) if expected == "a" && found == "b"),
        "{:?}",
        results[4]
    );
    let (_, _, reason) = invalid(5);
    assert!(reason.contains("not a string"), "{reason}");
    assert!(results[6].is_ok(), "{:?}", results[6]);
    let (record, _, _) = invalid(7);
    assert_eq!(record, "(unnamed)");
}
