//! The lifecycle of a tenant, from the table's schema: its tenants are listed only across
//! tenants; one tenant's items — its entities, the guards of its unique values, its audit
//! records — are deleted (resumably, never touching another tenant's item, whatever its
//! `_tenant_type` says), exported as DynamoDB JSON lines and imported back byte for byte, and an
//! import refuses a line that is not the scope's tenant's.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, BatchWrite, Error, RetryPolicy, TenantCheckpoint};
use singletable_local::{DynamoDbLocal, Faults};

use crate::{count_requests, raw_items, table_with};

type Raw = HashMap<String, AttributeValue>;

/// An organization of a tenant; every write of it leaves an audit record.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "LC_ORG", pk = "LC#<tenant_id>#ORG#<id>", sk = "#ORG", audit)]
#[serde(rename_all = "camelCase")]
struct Org {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    name: String,
}

/// A user of a tenant, whose email is unique in the tenant (a guard item per email).
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "LC_USER", pk = "LC#<tenant_id>#USER#<id>", sk = "#USER")]
#[serde(rename_all = "camelCase")]
struct User {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    #[entity(unique)]
    email: String,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "LC_TEAM", pk = "LC#<tenant_id>#TEAM#<id>", sk = "#TEAM")]
#[serde(rename_all = "camelCase")]
struct Team {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    name: String,
}

/// A document in a folder; deleting it is a soft delete.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "LC_DOC",
    pk = "LC#<tenant_id>#FOLDER#<folder>",
    sk = "DOC#<id>",
    soft_delete
)]
#[serde(rename_all = "camelCase")]
struct Doc {
    #[entity(tenant)]
    tenant_id: String,
    folder: String,
    id: String,
    title: String,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "LC_TASK", pk = "LC#<tenant_id>#TASK#<id>", sk = "#TASK")]
#[serde(rename_all = "camelCase")]
struct Task {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    done: bool,
    estimate: f64,
}

/// A note with attributes of most DynamoDB types, so that JSON lines carry them all.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "LC_NOTE", pk = "LC#<tenant_id>#NOTE#<id>", sk = "#NOTE")]
#[serde(rename_all = "camelCase")]
struct Note {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    text: String,
    tags: Vec<String>,
    marks: BTreeMap<String, u32>,
    pinned: Option<bool>,
}

/// A plan every tenant shares: no tenant's item.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "LC_PLAN", pk = "LC_PLAN#<id>", sk = "#PLAN")]
struct Plan {
    id: String,
    price: u32,
}

#[derive(TableSchema, Debug)]
enum LcItem {
    Org(Org),
    User(User),
    Team(Team),
    Doc(Doc),
    Task(Task),
    Note(Note),
    Plan(Plan),
}

impl LcItem {
    /// The tenant of a tenant-scoped entity.
    fn tenant(&self) -> Option<&str> {
        match self {
            LcItem::Org(org) => Some(&org.tenant_id),
            LcItem::User(user) => Some(&user.tenant_id),
            LcItem::Team(team) => Some(&team.tenant_id),
            LcItem::Doc(doc) => Some(&doc.tenant_id),
            LcItem::Task(task) => Some(&task.tenant_id),
            LcItem::Note(note) => Some(&note.tenant_id),
            LcItem::Plan(plan) => {
                assert!(plan.price % 100 == 0);
                None
            }
        }
    }
}

fn describe(builder: singletable::TableBuilder) -> singletable::TableBuilder {
    LcItem::declare(builder).tenant_type_index("TenantTypeIndex")
}

async fn table(prefix: &str) -> Table {
    table_with(prefix, describe).await
}

/// How many items of each tenant-scoped type a tenant gets, and how many of its docs are then
/// soft-deleted.
#[derive(Clone, Copy)]
struct Counts {
    orgs: usize,
    users: usize,
    teams: usize,
    docs: usize,
    tasks: usize,
    notes: usize,
    trashed: usize,
}

impl Counts {
    fn items(&self) -> usize {
        self.orgs + self.users + self.teams + self.docs + self.tasks + self.notes
    }

    /// The items of every kind a deletion counts: entities, a guard per user, a record per org.
    fn by_type(&self) -> BTreeMap<&'static str, u64> {
        [
            ("LC_ORG", self.orgs),
            ("LC_USER", self.users),
            ("LC_TEAM", self.teams),
            ("LC_DOC", self.docs),
            ("LC_TASK", self.tasks),
            ("LC_NOTE", self.notes),
            ("_UNIQUE", self.users),
            ("AUDIT_LOG", self.orgs),
        ]
        .into_iter()
        .map(|(name, count)| (name, count as u64))
        .collect()
    }

    fn stored(&self) -> usize {
        self.items() + self.users + self.orgs
    }
}

/// 5,000 items over 6 types, plus 10 guards and 10 audit records (their owners are written in
/// a transaction each, which DynamoDB Local is slow at).
const BIG: Counts = Counts {
    orgs: 10,
    users: 10,
    teams: 1200,
    docs: 1300,
    tasks: 1240,
    notes: 1240,
    trashed: 50,
};

const SMALL: Counts = Counts {
    orgs: 2,
    users: 3,
    teams: 10,
    docs: 12,
    tasks: 8,
    notes: 9,
    trashed: 3,
};

fn note(tenant: &str, i: usize) -> Note {
    Note {
        tenant_id: tenant.into(),
        id: format!("{i:05}"),
        text: format!("note {i} of {tenant}: \"quoted\", naïve ✓"),
        tags: vec!["a".into(), format!("t{}", i % 7)],
        marks: BTreeMap::from([("seen".to_owned(), i as u32), ("stars".to_owned(), 3)]),
        pinned: i.is_multiple_of(3).then_some(i.is_multiple_of(2)),
    }
}

/// Writes `counts` items of `tenant` with one batch (audited and unique writes go as their own
/// transactions inside it), then soft-deletes some docs.
async fn seed(table: &Table, tenant: &str, counts: Counts) {
    let t = || tenant.to_owned();
    let id = |i: usize| format!("{i:05}");
    tenant::scope(tenant, async {
        let mut batch = BatchWrite::new(table);
        batch.concurrency(16);
        for i in 0..counts.orgs {
            batch
                .put(&Org {
                    tenant_id: t(),
                    id: id(i),
                    name: format!("Org {i}"),
                })
                .unwrap();
        }
        for i in 0..counts.users {
            batch
                .put(&User {
                    tenant_id: t(),
                    id: id(i),
                    email: format!("u{i}@{tenant}.example"),
                })
                .unwrap();
        }
        for i in 0..counts.teams {
            batch
                .put(&Team {
                    tenant_id: t(),
                    id: id(i),
                    name: format!("Team {i}"),
                })
                .unwrap();
        }
        for i in 0..counts.docs {
            batch
                .put(&Doc {
                    tenant_id: t(),
                    folder: format!("f{}", i % 10),
                    id: id(i),
                    title: format!("Doc {i}"),
                })
                .unwrap();
        }
        for i in 0..counts.tasks {
            batch
                .put(&Task {
                    tenant_id: t(),
                    id: id(i),
                    done: i.is_multiple_of(2),
                    estimate: i as f64 / 4.0,
                })
                .unwrap();
        }
        for i in 0..counts.notes {
            batch.put(&note(tenant, i)).unwrap();
        }
        batch.send().await.unwrap();
        let trash = (0..counts.trashed).map(|i| async move {
            let folder = format!("f{}", i % 10);
            let key = DocKey {
                folder: &folder,
                id: &id(i),
            };
            Doc::delete(table, key).await.unwrap();
        });
        futures::future::join_all(trash).await;
    })
    .await;
}

async fn seed_plans(table: &Table, count: usize) {
    let mut batch = BatchWrite::new(table);
    for i in 0..count {
        batch
            .put(&Plan {
                id: format!("p{i}"),
                price: i as u32 * 100,
            })
            .unwrap();
    }
    batch.send().await.unwrap();
}

/// Whether a stored item is in `tenant`'s key space: its entities (`LC#<tenant>#`), its guards
/// and audit records (`TENANT#<tenant>#`).
fn owned_by(item: &Raw, tenant: &str) -> bool {
    let pk = item["pk"].as_s().unwrap();
    pk.starts_with(&format!("LC#{tenant}#")) || pk.starts_with(&format!("TENANT#{tenant}#"))
}

fn sorted(mut items: Vec<Raw>) -> Vec<Raw> {
    items.sort_by_key(|i| {
        (
            i["pk"].as_s().unwrap().clone(),
            i["sk"].as_s().unwrap().clone(),
        )
    });
    items
}

/// The stored items of `tenant`, and every other, sorted by key.
async fn split(table: &Table, tenant: &str) -> (Vec<Raw>, Vec<Raw>) {
    let (theirs, others) = raw_items(table)
        .await
        .into_iter()
        .partition(|item| owned_by(item, tenant));
    (sorted(theirs), sorted(others))
}

async fn put_raw(table: &Table, item: Raw) {
    let put = PutRequest::builder().set_item(Some(item)).build().unwrap();
    table
        .client()
        .batch_write_item()
        .request_items(
            table.name(),
            vec![WriteRequest::builder().put_request(put).build()],
        )
        .send()
        .await
        .unwrap();
}

/// A copy of `tenant`'s team 0 at a new id whose `_tenant_type` claims it is `claimed`'s.
async fn liar(table: &Table, tenant: &str, claimed: &str) -> Raw {
    let (theirs, _) = split(table, tenant).await;
    let mut item = theirs
        .into_iter()
        .find(|i| i["_type"].as_s().unwrap() == "LC_TEAM")
        .unwrap();
    let s = |text: String| AttributeValue::S(text);
    item.insert("pk".into(), s(format!("LC#{tenant}#TEAM#liar")));
    item.insert("id".into(), s("liar".into()));
    item.insert("_tenant_type".into(), s(format!("{claimed}#LC_TEAM")));
    put_raw(table, item.clone()).await;
    item
}

/// 5,000 items of one tenant over 6 types, with their 10 guards and 10 audit records, are
/// deleted by a run that stops midway — its connection starts refusing every request — and a
/// run resumed from the last checkpoint; two other tenants, a shared entity and an item of
/// another tenant whose `_tenant_type` claims it for the deleted one are left byte for byte.
#[tokio::test]
async fn a_tenant_of_5000_items_is_deleted_stopped_midway_and_resumed_leaving_every_other_item() {
    let direct = table("lifecycle-delete").await;
    let seeding = Instant::now();
    futures::join!(
        seed(&direct, "big", BIG),
        seed(&direct, "small-a", SMALL),
        seed(&direct, "small-b", SMALL),
        seed_plans(&direct, 30),
    );
    let lying = liar(&direct, "small-a", "big").await;
    eprintln!("seeded in {:?}", seeding.elapsed());
    let (big, others) = split(&direct, "big").await;
    assert_eq!(big.len(), BIG.stored());
    assert_eq!(others.len(), 2 * SMALL.stored() + 30 + 1);
    for item in &big {
        let tenant_type = item["_tenant_type"].as_s().unwrap();
        assert!(tenant_type.starts_with("big#"), "{item:?}");
    }

    let local = DynamoDbLocal::shared().unwrap();
    let failing = Arc::new(
        local
            .with_faults(Faults::none().throttle(1.0).enabled(false))
            .await
            .unwrap(),
    );
    let stopping = describe(Table::builder(failing.client().await, direct.name()))
        .retry(RetryPolicy::none())
        .build();
    let last: Arc<Mutex<Option<TenantCheckpoint>>> = Arc::default();
    let (keep, stop) = (last.clone(), failing.clone());
    let deleting = Instant::now();
    let stopped = tenant::scope(
        "big",
        LcItem::delete_tenant(&stopping)
            .page_size(100)
            .max_attempts(1)
            .on_progress(move |checkpoint| {
                if checkpoint.deleted() >= 2000 {
                    stop.set_enabled(true);
                }
                *keep.lock().unwrap() = Some(checkpoint.clone());
            })
            .send(),
    )
    .await;
    assert!(stopped.is_err(), "the first run stopped: {stopped:?}");
    let refused = failing.injected();
    assert!(refused.throttles > 0, "requests were refused: {refused:?}");
    let checkpoint = last.lock().unwrap().clone().expect("a checkpoint was made");
    assert!(!checkpoint.is_done());
    assert_eq!(checkpoint.tenant(), "big");
    let (left, _) = split(&direct, "big").await;
    assert!(
        !left.is_empty() && left.len() < BIG.stored() - 2000 + 1,
        "the run stopped midway: {} of {} items left",
        left.len(),
        BIG.stored()
    );
    assert_eq!(
        checkpoint.deleted() as usize,
        BIG.stored() - left.len(),
        "the checkpoint counts exactly the items deleted"
    );

    // The checkpoint crosses a process boundary as JSON.
    let saved = serde_json::to_string(&checkpoint).unwrap();
    let checkpoint: TenantCheckpoint = serde_json::from_str(&saved).unwrap();

    // Another tenant's scope cannot take it over, nor can it run outside a scope.
    let (mistaken, requests) = count_requests(tenant::scope(
        "small-a",
        LcItem::delete_tenant(&direct)
            .resume(checkpoint.clone())
            .send(),
    ))
    .await;
    match mistaken.unwrap_err() {
        Error::InvalidRequest { reason, .. } => {
            assert!(reason.contains("tenant `big`"), "{reason}")
        }
        other => panic!("another tenant's checkpoint is refused, got {other:?}"),
    }
    assert_eq!(requests, 0);

    let report = tenant::scope(
        "big",
        LcItem::delete_tenant(&direct).resume(checkpoint).send(),
    )
    .await
    .unwrap();
    eprintln!(
        "deleted in {:?} (both runs): {report:?}",
        deleting.elapsed()
    );
    assert!(report.resumed);
    assert_eq!(report.tenant.as_str(), "big");
    assert_eq!(report.deleted, BIG.by_type(), "exact counts over both runs");
    let mut skipped = BIG.by_type();
    skipped.values_mut().for_each(|count| *count = 0);
    skipped.insert("LC_TEAM", 1);
    assert_eq!(report.skipped, skipped, "the lying item was left alone");

    let (big_after, others_after) = split(&direct, "big").await;
    assert_eq!(
        big_after,
        Vec::<Raw>::new(),
        "no item of the tenant is left"
    );
    assert_eq!(others_after, others, "every other item is byte-identical");
    assert!(others_after.contains(&lying));

    // Done: a deletion of a tenant with nothing left deletes nothing.
    let again = tenant::scope("big", LcItem::delete_tenant(&direct).send())
        .await
        .unwrap();
    assert_eq!(again.deleted.values().sum::<u64>(), 0);
}

/// The work on one tenant's items runs only in that tenant's scope, and the listing of tenants
/// only across tenants; anywhere else they are refused before any request.
#[tokio::test]
async fn tenants_are_listed_only_across_tenants_and_one_tenant_only_in_its_scope() {
    let table = table("lifecycle-list").await;
    futures::join!(
        seed(&table, "acme", SMALL),
        seed(&table, "globex", SMALL),
        seed(&table, "initech", SMALL),
        seed_plans(&table, 5),
    );

    let refused = |result: singletable::Result<()>, requests: usize| {
        assert!(
            matches!(result, Err(Error::MissingTenant { .. })),
            "{result:?}"
        );
        assert_eq!(requests, 0, "refused before any request");
    };
    let (outside, requests) = count_requests(LcItem::tenants(&table).send()).await;
    refused(outside.map(drop), requests);
    let (scoped, requests) =
        count_requests(tenant::scope("acme", LcItem::tenants(&table).send())).await;
    refused(scoped.map(drop), requests);
    let (counted, requests) = count_requests(LcItem::tenants(&table).count_items()).await;
    refused(counted.map(drop), requests);

    let (listed, requests) = count_requests(tenant::across_tenants(
        "list the tenants",
        LcItem::tenants(&table).segments(3).page_size(50).send(),
    ))
    .await;
    let listed: Vec<String> = listed
        .unwrap()
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    assert_eq!(listed, ["acme", "globex", "initech"]);
    assert!(requests >= 3, "a scan of 3 segments: {requests}");
    let counts = tenant::across_tenants("size the tenants", LcItem::tenants(&table).count_items())
        .await
        .unwrap();
    let counts: Vec<(String, u64)> = counts
        .into_iter()
        .map(|(t, n)| (t.as_str().to_owned(), n))
        .collect();
    let each = SMALL.stored() as u64;
    assert_eq!(
        counts,
        [
            ("acme".to_owned(), each),
            ("globex".to_owned(), each),
            ("initech".to_owned(), each)
        ]
    );

    // One tenant's work: outside a scope and across tenants it is refused.
    let reason = "not one tenant's work";
    let (deletion, requests) = count_requests(LcItem::delete_tenant(&table).send()).await;
    refused(deletion.map(drop), requests);
    let (deletion, requests) = count_requests(tenant::across_tenants(
        reason,
        LcItem::delete_tenant(&table).send(),
    ))
    .await;
    refused(deletion.map(drop), requests);
    let (export, requests) = count_requests(tenant::across_tenants(
        reason,
        LcItem::export_tenant(&table).send(Vec::new()),
    ))
    .await;
    refused(export.map(drop), requests);
    let (import, requests) = count_requests(LcItem::import_tenant(&table).send(&b"{}\n"[..])).await;
    refused(import.map(drop), requests);
    assert_eq!(split(&table, "acme").await.0.len(), SMALL.stored());

    // Without a tenant type index, each says how to declare one.
    let plain = table_with("lifecycle-noindex", LcItem::declare).await;
    let (listing, requests) = count_requests(tenant::across_tenants(
        "list",
        LcItem::tenants(&plain).send(),
    ))
    .await;
    let (deletion, deletion_requests) =
        count_requests(tenant::scope("acme", LcItem::delete_tenant(&plain).send())).await;
    for (error, requests) in [
        (listing.unwrap_err(), requests),
        (deletion.unwrap_err(), deletion_requests),
    ] {
        match error {
            Error::InvalidRequest { reason, .. } => {
                assert!(reason.contains("tenant_type_index(name)"), "{reason}")
            }
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
        assert_eq!(requests, 0);
    }
}

/// A tenant exported as JSON lines, deleted, and imported from the lines is stored again byte
/// for byte; the other tenant is untouched throughout.
#[tokio::test]
async fn an_exported_tenant_deleted_and_imported_is_restored_byte_for_byte() {
    let table = table("lifecycle-export").await;
    futures::join!(
        seed(&table, "x", SMALL),
        seed(&table, "y", SMALL),
        seed_plans(&table, 5)
    );
    let (x, others) = split(&table, "x").await;
    assert_eq!(x.len(), SMALL.stored());

    let mut lines = Vec::new();
    let export = tenant::scope(
        "x",
        LcItem::export_tenant(&table).page_size(7).send(&mut lines),
    )
    .await
    .unwrap();
    assert_eq!(export.exported, SMALL.by_type());
    assert_eq!(export.skipped.values().sum::<u64>(), 0);
    let text = String::from_utf8(lines.clone()).unwrap();
    assert_eq!(text.lines().count(), SMALL.stored());
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let pk = value["pk"]["S"].as_str().unwrap();
        assert!(
            pk.starts_with("LC#x#") || pk.starts_with("TENANT#x#"),
            "{line}"
        );
        assert!(value["_type"]["S"].is_string(), "{line}");
    }
    // The entities' lines decode as the schema's entities of the tenant.
    let decoded = tenant::scope("x", async {
        text.lines()
            .map(|line| serde_json::from_str::<serde_dynamo::Item>(line).unwrap())
            .map(Raw::from)
            .filter(|item| item["_type"].as_s().unwrap().starts_with("LC_"))
            .map(|item| LcItem::decode(item, &table).unwrap())
            .collect::<Vec<_>>()
    })
    .await;
    assert_eq!(decoded.len(), SMALL.items());
    assert!(decoded.iter().all(|item| item.tenant() == Some("x")));
    let note = text.lines().find(|l| l.contains("\"LC_NOTE\"")).unwrap();
    assert!(note.contains(r#""tags":{"L":[{"S":"a"},"#), "{note}");
    assert!(note.contains(r#""marks":{"M":{"seen":{"N":"#), "{note}");

    // The stream gives the same lines, in the same order.
    let streamed: Vec<String> = tenant::scope("x", async {
        futures::TryStreamExt::try_collect(LcItem::export_tenant(&table).into_stream()).await
    })
    .await
    .unwrap();
    assert_eq!(streamed, text.lines().collect::<Vec<_>>());

    let deleted = tenant::scope("x", LcItem::delete_tenant(&table).send())
        .await
        .unwrap();
    assert_eq!(deleted.deleted, SMALL.by_type());
    assert_eq!(split(&table, "x").await, (Vec::new(), others.clone()));

    // In another tenant's scope the lines are refused, from the first one, writing nothing.
    let wrong = tenant::scope("y", LcItem::import_tenant(&table).send(&lines[..]))
        .await
        .unwrap_err();
    match wrong {
        Error::InvalidRequest { reason, .. } => {
            assert!(reason.starts_with("line 1: item (pk `LC#x#"), "{reason}");
            assert!(reason.contains("not tenant `y`'s"), "{reason}");
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
    assert_eq!(split(&table, "x").await, (Vec::new(), others.clone()));

    let import = tenant::scope("x", LcItem::import_tenant(&table).send(&lines[..]))
        .await
        .unwrap();
    assert_eq!(import.imported, SMALL.by_type());
    assert_eq!(import.lines, SMALL.stored() as u64);
    assert_eq!(
        split(&table, "x").await,
        (x, others),
        "the tenant is restored byte for byte, the rest untouched"
    );
}

/// An import writes the lines before a refused line and nothing from it on: a line of another
/// tenant, a line whose `_tenant_type` names another tenant, a line without `_type`.
#[tokio::test]
async fn an_import_refuses_a_line_that_is_not_the_tenants_without_writing_it() {
    let table = table("lifecycle-import").await;
    let line = |item: &Raw| {
        let item = serde_dynamo::Item::from(item.clone());
        serde_json::to_string(&item).unwrap()
    };
    let team = |tenant: &str, id: &str| -> Raw {
        let s = |text: &str| AttributeValue::S(text.to_owned());
        HashMap::from([
            ("pk".to_owned(), s(&format!("LC#{tenant}#TEAM#{id}"))),
            ("sk".to_owned(), s("#TEAM")),
            ("_type".to_owned(), s("LC_TEAM")),
            ("_timestamp".to_owned(), s("2026-11-24T04:56:06.559Z")),
            ("_tenant_type".to_owned(), s(&format!("{tenant}#LC_TEAM"))),
            ("tenantId".to_owned(), s(tenant)),
            ("id".to_owned(), s(id)),
            ("name".to_owned(), s(&format!("Team {id}"))),
        ])
    };
    let first = team("x", "first");
    let mut lying = team("x", "lying");
    lying.insert("_tenant_type".into(), AttributeValue::S("y#LC_TEAM".into()));
    let mut untyped = team("x", "untyped");
    untyped.remove("_type");
    let mut shared = team("x", "shared");
    shared.insert("_type".into(), AttributeValue::S("LC_PLAN".into()));
    let refusals = [
        (
            team("y", "intruder"),
            "LC#y#TEAM#intruder",
            "tenant `y`'s key space",
        ),
        (
            lying,
            "LC#x#TEAM#lying",
            "`_tenant_type` is not `x#LC_TEAM`",
        ),
        (untyped, "LC#x#TEAM#untyped", "it has no `_type`"),
        (
            shared,
            "LC#x#TEAM#shared",
            "`_type` `LC_PLAN` is not one of",
        ),
    ];
    for (refused, pk, why) in refusals {
        let after = team("x", "after");
        let input = format!("{}\n\n{}\n{}\n", line(&first), line(&refused), line(&after));
        let error = tenant::scope("x", LcItem::import_tenant(&table).send(input.as_bytes()))
            .await
            .unwrap_err();
        match error {
            Error::InvalidRequest { reason, .. } => {
                assert!(reason.contains("line 3"), "{reason}");
                assert!(reason.contains(pk), "{reason}");
                assert!(reason.contains(why), "{reason}");
            }
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
        let stored = sorted(raw_items(&table).await);
        assert_eq!(
            stored,
            std::slice::from_ref(&first),
            "only the line before it is written"
        );
    }

    let garbled = tenant::scope(
        "x",
        LcItem::import_tenant(&table).send(&b"{\"pk\":{\"S\":1}}\n"[..]),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&garbled, Error::InvalidRequest { reason, .. } if reason.starts_with("line 1 cannot be imported: it is not an item in DynamoDB JSON")),
        "{garbled:?}"
    );
}
