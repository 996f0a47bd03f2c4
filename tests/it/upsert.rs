//! Upsert: create-or-update in one request. Generated fields are written only on create, `add`
//! on a missing item starts from zero, concurrent upserts of one item never fail or lose a
//! change, audited entities get a `create` then `update` record, and transactions take them.

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, AuditAction, Error, Transaction};
use time::OffsetDateTime;

use crate::{count_requests, raw_items, table_with};

/// A usage counter of one tenant and month, as a rate limit or a monthly report keeps it.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "USAGE",
    pk = "TENANT#<tenant_id>#USAGE#<month>",
    sk = "METRIC#<metric>"
)]
#[serde(rename_all = "camelCase")]
struct Usage {
    #[entity(tenant)]
    tenant_id: String,
    month: String,
    metric: String,
    count: i64,
    #[entity(autogen = uuid)]
    id: String,
    #[entity(autogen = timestamp)]
    #[serde(with = "singletable::timestamp")]
    first_seen: OffsetDateTime,
    #[entity(autogen(on_update = timestamp))]
    #[serde(default, with = "singletable::timestamp::option")]
    last_seen: Option<OffsetDateTime>,
    note: Option<String>,
}

/// An audited balance.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "BALANCE", pk = "BALANCE#<account>", sk = "#BALANCE", audit)]
struct Balance {
    account: String,
    cents: i64,
}

/// A soft-deletable tag.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "TAG", pk = "TAG#<name>", sk = "#TAG", soft_delete)]
struct Tag {
    name: String,
    uses: i64,
}

async fn table() -> Table {
    table_with("upsert", |b| {
        b.entity::<Usage>().entity::<Balance>().entity::<Tag>()
    })
    .await
}

fn usage(metric: &str) -> NewUsage {
    NewUsage {
        month: "2026-11".into(),
        metric: metric.into(),
        count: 0,
        note: Some("created".into()),
    }
}

const MONTH_KEY: UsageKey<'static> = UsageKey {
    month: "2026-11",
    metric: "api_calls",
};

#[tokio::test]
async fn two_hundred_concurrent_upserts_of_a_missing_counter_end_at_two_hundred() {
    let table = table().await;
    tenant::scope("t1", async {
        let results: Vec<_> = futures::stream::iter(0..200)
            .map(|_| {
                Usage::upsert(&table, usage("api_calls"))
                    .add(Usage::FIELDS.count, 1)
                    .send()
            })
            .buffer_unordered(50)
            .collect()
            .await;
        let counts: Vec<i64> = results.into_iter().map(|r| r.unwrap().count).collect();
        let mut seen = counts.clone();
        seen.sort();
        assert_eq!(
            seen,
            (1..=200).collect::<Vec<_>>(),
            "each upsert saw its own add"
        );
        let stored = Usage::get(&table, MONTH_KEY).await.unwrap().unwrap();
        assert_eq!(stored.count, 200);
    })
    .await;
    assert_eq!(raw_items(&table).await.len(), 1);
}

#[tokio::test]
async fn generated_fields_are_written_only_on_create() {
    let table = table().await;
    tenant::scope("t1", async {
        let (created, requests) = count_requests(
            Usage::upsert(&table, usage("api_calls"))
                .add(Usage::FIELDS.count, 5)
                .send(),
        )
        .await;
        let created = created.unwrap();
        assert_eq!(requests, 1, "one request");
        assert_eq!(created.count, 5, "add on a missing item starts from zero");
        assert_eq!(created.note.as_deref(), Some("created"));
        let stamp = raw_items(&table).await[0]["_timestamp"].clone();

        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let mut again = usage("api_calls");
        again.note = Some("ignored: the item exists".into());
        let updated = Usage::upsert(&table, again)
            .add(Usage::FIELDS.count, 2)
            .send()
            .await
            .unwrap();
        assert_eq!(updated.count, 7);
        assert_eq!(updated.id, created.id, "the generated id is the creation's");
        assert_eq!(updated.first_seen, created.first_seen);
        assert_eq!(updated.note.as_deref(), Some("created"));
        assert!(updated.last_seen.unwrap() > created.last_seen.unwrap());
        let item = &raw_items(&table).await[0];
        assert_eq!(
            item["_timestamp"], stamp,
            "`_timestamp` keeps the creation time"
        );
        assert_eq!(item["tenantId"].as_s().unwrap(), "t1");

        let noted = Usage::upsert(&table, usage("api_calls"))
            .set(Usage::FIELDS.note, Some("set either way".into()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            (noted.count, noted.note.as_deref()),
            (7, Some("set either way"))
        );
        // An upsert that sets nothing creates where there is none and changes nothing else.
        let plain = Usage::upsert(&table, usage("logins")).send().await.unwrap();
        assert_eq!(plain.count, 0);
    })
    .await;
}

#[tokio::test]
async fn an_upsert_leaves_other_types_deleted_items_and_failed_conditions_alone() {
    let table = table().await;
    tenant::scope("t1", async {
        Usage::upsert(&table, usage("api_calls"))
            .add(Usage::FIELDS.count, 3)
            .send()
            .await
            .unwrap();
        let refused = Usage::upsert(&table, usage("api_calls"))
            .add(Usage::FIELDS.count, 1)
            .condition(Usage::FIELDS.count.lt(3))
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(refused, Error::ConditionFailed { .. }),
            "{refused:?}"
        );
        assert_eq!(
            Usage::get(&table, MONTH_KEY).await.unwrap().unwrap().count,
            3
        );
        // On a missing item the condition's comparison is false: nothing is created.
        let missing = Usage::upsert(&table, usage("other"))
            .add(Usage::FIELDS.count, 1)
            .condition(Usage::FIELDS.count.lt(3))
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(missing, Error::ConditionFailed { .. }),
            "{missing:?}"
        );
    })
    .await;
    assert_eq!(raw_items(&table).await.len(), 1);

    Tag::create(
        &table,
        NewTag {
            name: "rust".into(),
            uses: 1,
        },
    )
    .await
    .unwrap();
    Tag::delete(&table, TagKey { name: "rust" }).await.unwrap();
    let deleted = Tag::upsert(
        &table,
        NewTag {
            name: "rust".into(),
            uses: 0,
        },
    )
    .add(Tag::FIELDS.uses, 1)
    .send()
    .await
    .unwrap_err();
    assert!(
        matches!(deleted, Error::ConditionFailed { .. }),
        "{deleted:?}"
    );
    let items = raw_items(&table).await;
    let tag = items
        .iter()
        .find(|i| i["_type"].as_s().unwrap() == "TAG")
        .unwrap();
    assert_eq!(
        tag["uses"].as_n().unwrap(),
        "1",
        "a deleted item is not written"
    );

    // An item of another type at the key is never written.
    let mut foreign = tag.clone();
    foreign.insert(
        "pk".into(),
        aws_sdk_dynamodb::types::AttributeValue::S("TAG#go".into()),
    );
    foreign.insert(
        "_type".into(),
        aws_sdk_dynamodb::types::AttributeValue::S("OTHER".into()),
    );
    foreign.remove("_deleted_at");
    table
        .client()
        .put_item()
        .table_name(table.name())
        .set_item(Some(foreign.clone()))
        .send()
        .await
        .unwrap();
    let other = Tag::upsert(
        &table,
        NewTag {
            name: "go".into(),
            uses: 0,
        },
    )
    .add(Tag::FIELDS.uses, 1)
    .send()
    .await
    .unwrap_err();
    assert!(matches!(other, Error::ConditionFailed { .. }), "{other:?}");
    assert!(raw_items(&table).await.contains(&foreign));
}

#[tokio::test]
async fn outside_a_tenant_scope_an_upsert_is_refused_before_any_request() {
    let table = table().await;
    let (result, requests) = count_requests(
        Usage::upsert(&table, usage("api_calls"))
            .add(Usage::FIELDS.count, 1)
            .send(),
    )
    .await;
    assert!(
        matches!(result, Err(Error::MissingTenant { .. })),
        "{result:?}"
    );
    assert_eq!(requests, 0);
}

#[tokio::test]
async fn audited_upserts_record_a_create_then_updates() {
    let table = table().await;
    let new = || NewBalance {
        account: "acme".into(),
        cents: 0,
    };
    let results: Vec<_> = futures::stream::iter(0..20)
        .map(|_| {
            Balance::upsert(&table, new())
                .add(Balance::FIELDS.cents, 100)
                .send()
        })
        .buffer_unordered(10)
        .collect()
        .await;
    for result in results {
        result.unwrap();
    }
    let key = BalanceKey { account: "acme" };
    assert_eq!(
        Balance::get(&table, key).await.unwrap().unwrap().cents,
        2000
    );
    let trail = Balance::audit_trail(&table, key).all().await.unwrap();
    assert_eq!(trail.len(), 20, "one record per upsert");
    let creates = trail
        .iter()
        .filter(|r| r.action == AuditAction::Create)
        .count();
    assert_eq!(creates, 1);
    let mut revisions: Vec<_> = trail.iter().map(|r| r.revision.unwrap()).collect();
    revisions.sort();
    assert_eq!(revisions, (1..=20).collect::<Vec<_>>());
    let first = trail.iter().find(|r| r.revision == Some(1)).unwrap();
    assert_eq!(
        first.changes["cents"].new_as::<i64>().unwrap(),
        Some(100),
        "the create's record holds the created values"
    );
}

#[tokio::test]
async fn transactions_take_upserts() {
    let table = table().await;
    for expected in [1, 2] {
        tenant::scope("t1", async {
            let mut tx = Transaction::new(&table);
            tx.update(Usage::upsert(&table, usage("api_calls")).add(Usage::FIELDS.count, 1))
                .unwrap();
            tx.update(
                Balance::upsert(
                    &table,
                    NewBalance {
                        account: "acme".into(),
                        cents: 0,
                    },
                )
                .add(Balance::FIELDS.cents, 10),
            )
            .unwrap();
            tx.send().await.unwrap();
            let stored = Usage::get(&table, MONTH_KEY).await.unwrap().unwrap();
            assert_eq!(stored.count, expected);
        })
        .await;
        let balance = Balance::get(&table, BalanceKey { account: "acme" })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(balance.cents, 10 * expected);
    }
    let trail = Balance::audit_trail(&table, BalanceKey { account: "acme" })
        .all()
        .await
        .unwrap();
    let actions: Vec<_> = trail.iter().map(|r| r.action).collect();
    assert_eq!(actions, [AuditAction::Update, AuditAction::Create]);
}
