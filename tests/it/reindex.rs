//! Re-indexing: a backfill writes the keys of an index added after items were stored, and
//! `_tenant_type` for items another writer stored without it, across tenants in the explicit
//! cross-tenant scope; a dry run counts what it would write; a run split across workers reads
//! every segment once and a stopped worker resumes from its own checkpoint.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, Backfill, Error, RetryPolicy};
use singletable_local::{DynamoDbLocal, Faults};

use crate::{count_requests, raw_items, table_with};

/// A member found by email. Schema 2 renamed `fullName` to `name`; the `ByEmail` index was added
/// after the items below were stored.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "MEMBER",
    pk = "TENANT#<tenant_id>#MEMBER#<id>",
    sk = "#MEMBER",
    schema = 2,
    upgrade = rename_full_name,
    index(
        name = "ByEmail",
        query = "by_email",
        pk = "TENANT#<tenant_id>#EMAIL#<email>",
        sk = "MEMBER#<id>"
    )
)]
#[serde(rename_all = "camelCase")]
struct Member {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    email: String,
    name: String,
}

fn rename_full_name(from: u32, item: &mut singletable::item::Item) -> Result<(), String> {
    match (from, item.remove("fullName")) {
        (1, Some(name)) => {
            item.insert("name".into(), name);
            Ok(())
        }
        (from, name) => Err(format!("cannot upgrade from schema {from} with {name:?}")),
    }
}

fn describe(builder: singletable::TableBuilder) -> singletable::TableBuilder {
    builder
        .index("ByEmail", "gsi1pk", "gsi1sk")
        .tenant_type_index("TenantTypeIndex")
        .entity::<Member>()
}

async fn table(prefix: &str) -> Table {
    table_with(prefix, describe).await
}

/// Member `i` of `tenant` as another writer stores it: keys, `_type`, the fields, no index keys,
/// no `_tenant_type`; even members at schema 1 (`fullName`), odd ones at schema 2, and every
/// third without `_timestamp`.
fn stored_member(tenant: &str, i: usize) -> HashMap<String, AttributeValue> {
    let s = |text: &str| AttributeValue::S(text.to_owned());
    let id = format!("{i:05}");
    let mut item = HashMap::from([
        ("pk".to_owned(), s(&format!("TENANT#{tenant}#MEMBER#{id}"))),
        ("sk".to_owned(), s("#MEMBER")),
        ("_type".to_owned(), s("MEMBER")),
        ("tenantId".to_owned(), s(tenant)),
        ("id".to_owned(), s(&id)),
        ("email".to_owned(), s(&format!("m{i}@{tenant}.example"))),
    ]);
    let name = s(&format!("Member {i}"));
    if i.is_multiple_of(2) {
        item.insert("fullName".into(), name);
    } else {
        item.insert("name".into(), name);
        item.insert("_schema".into(), AttributeValue::N("2".into()));
    }
    if !i.is_multiple_of(3) {
        item.insert("_timestamp".into(), s("2026-11-24T04:56:06.559Z"));
    }
    item
}

fn member(tenant: &str, i: usize) -> Member {
    Member {
        tenant_id: tenant.into(),
        id: format!("{i:05}"),
        email: format!("m{i}@{tenant}.example"),
        name: format!("Member {i}"),
    }
}

/// Stores `count` members of each tenant with plain batch writes.
async fn store(table: &Table, tenants: &[&str], count: usize) {
    let requests: Vec<WriteRequest> = tenants
        .iter()
        .flat_map(|tenant| (0..count).map(move |i| stored_member(tenant, i)))
        .map(|item| {
            let put = PutRequest::builder().set_item(Some(item)).build().unwrap();
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    for chunk in requests.chunks(25) {
        let mut pending = HashMap::from([(table.name().to_owned(), chunk.to_vec())]);
        while !pending.is_empty() {
            let output = table
                .client()
                .batch_write_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .unwrap();
            pending = output.unprocessed_items.unwrap_or_default();
        }
    }
}

async fn listed(table: &Table, tenant: &str) -> Vec<Member> {
    let mut members = tenant::scope(tenant, Member::list_all(table).all())
        .await
        .unwrap();
    members.sort_by(|a, b| a.id.cmp(&b.id));
    members
}

fn indexed(item: &HashMap<String, AttributeValue>) -> bool {
    ["gsi1pk", "gsi1sk", "_tenant_type", "_timestamp"]
        .iter()
        .all(|name| item.contains_key(*name))
}

#[tokio::test]
async fn items_stored_without_index_attributes_are_found_after_reindexing() {
    let table = table("reindex").await;
    store(&table, &["A", "B", "C"], 10).await;
    let before = raw_items(&table).await;

    // Before: the listing of a tenant and the index miss every item, though they are stored.
    assert_eq!(listed(&table, "A").await, []);
    let by_email = |tenant: &'static str| {
        let table = table.clone();
        tenant::scope(tenant, async move {
            Member::by_email(
                &table,
                MemberByEmail {
                    email: &format!("m3@{tenant}.example"),
                },
            )
            .all()
            .await
            .unwrap()
        })
    };
    assert_eq!(by_email("A").await, []);

    // A dry run across tenants counts every item and writes nothing.
    let dry = tenant::across_tenants(
        "count unindexed members",
        Member::backfill(&table).dry_run().run(),
    )
    .await
    .unwrap();
    assert!(dry.dry_run);
    assert_eq!(
        (
            dry.progress.scanned,
            dry.progress.upgraded,
            dry.progress.reindexed,
            dry.progress.current
        ),
        (30, 15, 15, 0),
        "{dry:?}"
    );
    assert_eq!(
        sorted(raw_items(&table).await),
        sorted(before.clone()),
        "a dry run writes nothing"
    );

    // In one tenant's scope, only that tenant's items are brought up to date.
    let only_a = tenant::scope("A", Member::backfill(&table).run())
        .await
        .unwrap();
    assert_eq!(
        (
            only_a.progress.scanned,
            only_a.progress.upgraded,
            only_a.progress.reindexed
        ),
        (10, 5, 5)
    );
    let after_a = raw_items(&table).await;
    for item in &after_a {
        let tenant = item["tenantId"].as_s().unwrap();
        assert_eq!(indexed(item), tenant == "A", "{item:?}");
        if tenant != "A" {
            assert!(before.contains(item), "another tenant's item is untouched");
        }
    }
    assert_eq!(
        listed(&table, "A").await,
        (0..10).map(|i| member("A", i)).collect::<Vec<_>>()
    );
    assert_eq!(by_email("A").await, [member("A", 3)]);

    // Outside a scope a backfill of a tenant-scoped entity is refused; in the cross-tenant
    // scope every other operation still is.
    let outside = Member::backfill(&table).run().await.unwrap_err();
    assert!(
        matches!(outside, Error::MissingTenant { .. }),
        "{outside:?}"
    );
    let listing = tenant::across_tenants("a listing is not cross-tenant work", async {
        Member::list_all(&table).all().await
    })
    .await
    .unwrap_err();
    assert!(
        matches!(listing, Error::MissingTenant { .. }),
        "{listing:?}"
    );

    // Across tenants, the rest.
    let rest = tenant::across_tenants(
        "re-index members after adding ByEmail",
        Member::backfill(&table).segments(3).run(),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            rest.progress.scanned,
            rest.progress.upgraded,
            rest.progress.reindexed,
            rest.progress.current,
            rest.progress.failed
        ),
        (30, 10, 10, 10, 0),
        "{rest:?}"
    );
    let items = raw_items(&table).await;
    assert_eq!(items.len(), 30);
    for item in &items {
        assert!(indexed(item), "{item:?}");
        let tenant = item["tenantId"].as_s().unwrap();
        assert_eq!(
            item["_tenant_type"].as_s().unwrap(),
            &format!("{tenant}#MEMBER")
        );
        assert_eq!(item["_schema"].as_n().unwrap(), "2");
        assert!(!item.contains_key("fullName"));
    }
    for tenant in ["A", "B", "C"] {
        let expected: Vec<Member> = (0..10).map(|i| member(tenant, i)).collect();
        assert_eq!(listed(&table, tenant).await, expected);
    }
    assert_eq!(by_email("C").await, [member("C", 3)]);

    let again = tenant::across_tenants("check", Member::backfill(&table).run())
        .await
        .unwrap();
    assert_eq!((again.progress.scanned, again.progress.current), (30, 30));
}

#[tokio::test]
async fn a_share_of_workers_is_checked_before_any_request() {
    let table = table("reindexworkers").await;
    for (index, of, segments) in [(4, 4, 16), (0, 0, 16), (0, 8, 4)] {
        let job = Member::backfill(&table)
            .segments(segments)
            .worker(index, of);
        let (result, requests) = count_requests(tenant::across_tenants("check", job.run())).await;
        match result.unwrap_err() {
            Error::InvalidRequest { reason, .. } => assert!(
                reason.contains(&format!("worker {index} of {of}")),
                "{reason}"
            ),
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
        assert_eq!(requests, 0);
    }
}

/// 5,000 members of 5 tenants are re-indexed by 4 workers over 16 segments. Worker 2 is stopped
/// midway — its connection starts refusing every request, as a crash or a lost network would
/// stop it — and run again from its checkpoint. Every request of the workers goes through a
/// proxy that counts what reached DynamoDB Local: exactly 5,000 writes, and every item indexed,
/// so every item was written exactly once.
#[tokio::test]
async fn five_thousand_items_by_four_workers_with_one_stopped_and_resumed() {
    let direct = table("reindex5000").await;
    let tenants = ["t1", "t2", "t3", "t4", "t5"];
    store(&direct, &tenants, 1000).await;
    let local = DynamoDbLocal::shared().unwrap();
    let steady = local.with_faults(Faults::none()).await.unwrap();
    let failing = Arc::new(
        local
            .with_faults(Faults::none().throttle(1.0).enabled(false))
            .await
            .unwrap(),
    );
    let through = |client, retry| {
        describe(Table::builder(client, direct.name()))
            .retry(retry)
            .build()
    };
    let workers = through(steady.client().await, RetryPolicy::default());
    let stopping = through(failing.client().await, RetryPolicy::none());
    let dir = std::env::temp_dir().join(direct.name());
    std::fs::create_dir_all(&dir).unwrap();
    let checkpoint = |worker: u32| dir.join(format!("worker-{worker}.json"));
    fn run<'t>(table: &'t Table, worker: u32, dir: &std::path::Path) -> Backfill<'t, Member> {
        Member::backfill(table)
            .segments(16)
            .worker(worker, 4)
            .page_size(40)
            .concurrency(8)
            .checkpoint(dir.join(format!("worker-{worker}.json")))
    }
    let reason = "re-index members";

    let others = futures::future::join_all(
        [0, 1, 3].map(|worker| tenant::across_tenants(reason, run(&workers, worker, &dir).run())),
    );
    let stop = failing.clone();
    let stopping_run = tenant::across_tenants(
        reason,
        run(&stopping, 2, &dir)
            .on_progress(move |progress| {
                if progress.scanned >= 400 {
                    stop.set_enabled(true);
                }
            })
            .run(),
    );
    let (reports, stopped) = tokio::join!(others, stopping_run);
    assert!(stopped.is_err(), "worker 2 stopped: {stopped:?}");
    let refused = failing.injected();
    assert!(refused.throttles > 0, "requests were refused: {refused:?}");
    assert!(checkpoint(2).exists(), "worker 2 saved its position");
    let half_done = raw_items(&direct)
        .await
        .iter()
        .filter(|i| indexed(i))
        .count();
    assert!(
        half_done < 5000,
        "worker 2 stopped before the end: {half_done}"
    );
    let mistaken = tenant::across_tenants(
        reason,
        run(&workers, 1, &dir).checkpoint(checkpoint(2)).run(),
    )
    .await
    .unwrap_err();
    match mistaken {
        Error::InvalidRequest { reason, .. } => {
            assert!(reason.contains("worker 2 of 4"), "{reason}")
        }
        other => panic!("another worker's checkpoint is refused, got {other:?}"),
    }

    let resumed = tenant::across_tenants(reason, run(&workers, 2, &dir).run())
        .await
        .unwrap();
    assert!(resumed.resumed);
    assert!(
        resumed.progress.scanned < 1250,
        "worker 2 resumed where it stopped: {:?}",
        resumed.progress
    );
    let mut segments = resumed.progress.segments;
    for report in reports {
        let report = report.unwrap();
        assert!(!report.resumed);
        assert_eq!(report.progress.failed, 0, "{:?}", report.failures);
        segments += report.progress.segments;
    }
    assert_eq!(segments, 16, "the workers share the 16 segments");
    assert!(
        !checkpoint(2).exists(),
        "finished runs remove their checkpoints"
    );

    let writes =
        steady.injected_for("UpdateItem").upstream + failing.injected_for("UpdateItem").upstream;
    assert_eq!(writes, 5000, "every item written exactly once");
    let items = raw_items(&direct).await;
    assert_eq!(items.len(), 5000);
    assert!(items.iter().all(indexed), "every item re-indexed");
    for tenant in tenants {
        let expected: Vec<Member> = (0..1000).map(|i| member(tenant, i)).collect();
        assert_eq!(listed(&direct, tenant).await, expected);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn sorted(mut items: Vec<HashMap<String, AttributeValue>>) -> Vec<HashMap<String, AttributeValue>> {
    items.sort_by_key(|i| i["pk"].as_s().unwrap().clone());
    items
}
