//! The tenant-wide audit log: every audit record of one tenant, newest first, by time range,
//! actor, action and entity type, paginated, kept for the audit retention.

use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, AuditAction, AuditContext, AuditLog, AuditRecord, Error};

use crate::{count_requests, raw_items, table_with};

tokio::task_local! {
    static ACTOR: &'static str;
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "LOG_ACCOUNT",
    pk = "TENANT#<tenant_id>#ACCOUNT#<id>",
    sk = "#METADATA",
    audit
)]
struct LogAccount {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    seats: i64,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "LOG_PROJECT",
    pk = "TENANT#<tenant_id>#PROJECT#<id>",
    sk = "#METADATA",
    audit
)]
struct LogProject {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    name: String,
}

async fn log_table() -> Table {
    table_with("audit-log", |builder| {
        builder
            .entity::<LogAccount>()
            .entity::<LogProject>()
            .tenant_type_index("TenantTypeIndex")
            .ttl_attribute("expiresAt")
            .audit_retention(time::Duration::days(90))
            .audit_context(|| AuditContext {
                actor: ACTOR.try_with(|actor| actor.to_string()).ok(),
                request_id: None,
            })
    })
    .await
}

/// What one write should leave in the log.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    actor: &'static str,
    action: AuditAction,
    entity_type: &'static str,
    entity_id: String,
}

/// `records` as the writes they stand for, in a fixed order: records made in the same
/// millisecond may come in either order.
fn writes(records: &[AuditRecord]) -> Vec<Expected> {
    sorted(records.iter().map(seen).collect())
}

fn sorted(mut expected: Vec<Expected>) -> Vec<Expected> {
    expected.sort_by_key(|e| {
        (
            e.entity_id.clone(),
            e.entity_type,
            e.action.as_str(),
            e.actor,
        )
    });
    expected
}

fn seen(record: &AuditRecord) -> Expected {
    let actor = match record.actor.as_deref() {
        Some("alice") => "alice",
        Some("bob") => "bob",
        other => panic!("unexpected actor {other:?}"),
    };
    Expected {
        actor,
        action: record.action,
        entity_type: match record.entity_type.as_str() {
            "LOG_ACCOUNT" => "LOG_ACCOUNT",
            "LOG_PROJECT" => "LOG_PROJECT",
            other => panic!("unexpected type {other}"),
        },
        entity_id: record.entity_id.clone(),
    }
}

/// Writes, in `tenant`'s scope, 10 accounts and 10 projects, updates half of them and deletes a
/// few, alternating actors; returns what the log should hold, oldest first.
async fn write(table: &Table, tenant_id: &str) -> Vec<Expected> {
    let mut expected = Vec::new();
    for i in 0..10 {
        let actor = if i % 2 == 0 { "alice" } else { "bob" };
        let id = format!("{tenant_id}-{i}");
        let run = async {
            LogAccount::create(
                table,
                NewLogAccount {
                    id: id.clone(),
                    seats: 1,
                },
            )
            .await?;
            LogProject::create(
                table,
                NewLogProject {
                    id: id.clone(),
                    name: "p".into(),
                },
            )
            .await?;
            if i % 2 == 1 {
                LogAccount::update(table, LogAccountKey { id: &id })
                    .add(LogAccount::FIELDS.seats, 2)
                    .send()
                    .await?;
            }
            if i % 5 == 4 {
                LogProject::delete(table, LogProjectKey { id: &id }).await?;
            }
            Ok::<_, Error>(())
        };
        ACTOR
            .scope(actor, tenant::scope(tenant_id, run))
            .await
            .unwrap();
        let mut record = |action, entity_type| {
            expected.push(Expected {
                actor,
                action,
                entity_type,
                entity_id: id.clone(),
            })
        };
        record(AuditAction::Create, "LOG_ACCOUNT");
        record(AuditAction::Create, "LOG_PROJECT");
        if i % 2 == 1 {
            record(AuditAction::Update, "LOG_ACCOUNT");
        }
        if i % 5 == 4 {
            record(AuditAction::Delete, "LOG_PROJECT");
        }
    }
    expected
}

#[tokio::test]
async fn a_tenants_log_lists_its_records_newest_first_filtered_and_paged() {
    let table = log_table().await;
    let before = singletable::autogen::now();
    let mut expected = write(&table, "t1").await;
    write(&table, "t2").await;
    expected.reverse();
    assert_eq!(expected.len(), 27);

    let log = || AuditLog::of_tenant(&table);
    let all = tenant::scope("t1", log().all()).await.unwrap();
    assert_eq!(writes(&all), sorted(expected.clone()));
    assert!(all.iter().all(|r| r.tenant_id.as_deref() == Some("t1")));
    assert!(all.windows(2).all(|w| w[0].timestamp >= w[1].timestamp));

    let only = |keep: &dyn Fn(&Expected) -> bool| {
        sorted(expected.iter().filter(|e| keep(e)).cloned().collect())
    };
    let bob = tenant::scope("t1", log().actor("bob").all()).await.unwrap();
    assert_eq!(writes(&bob), only(&|e| e.actor == "bob"));
    let updates = tenant::scope("t1", log().action(AuditAction::Update).all())
        .await
        .unwrap();
    assert_eq!(updates.len(), 5);
    let deleted_projects = tenant::scope(
        "t1",
        log()
            .entity_type("LOG_PROJECT")
            .action(AuditAction::Delete)
            .actor("alice")
            .all(),
    )
    .await
    .unwrap();
    assert_eq!(
        writes(&deleted_projects),
        only(&|e| e.entity_type == "LOG_PROJECT"
            && e.action == AuditAction::Delete
            && e.actor == "alice")
    );
    assert_eq!(deleted_projects.len(), 1);

    // By time: the window of the records of the middle of the run.
    let (newer, older) = (&all[5], &all[20]);
    let window = tenant::scope("t1", log().between(older.timestamp, newer.timestamp).all())
        .await
        .unwrap();
    let inside: Vec<AuditRecord> = all
        .iter()
        .filter(|r| r.timestamp >= older.timestamp && r.timestamp <= newer.timestamp)
        .cloned()
        .collect();
    assert_eq!(writes(&window), writes(&inside));
    assert!(window.windows(2).all(|w| w[0].timestamp >= w[1].timestamp));
    assert!(window.len() >= 16, "{}", window.len());
    let since = tenant::scope("t1", log().since(before).all())
        .await
        .unwrap();
    assert_eq!(since.len(), 27);
    let future = singletable::autogen::now() + time::Duration::hours(1);
    let none = tenant::scope("t1", log().since(future).all())
        .await
        .unwrap();
    assert!(none.is_empty());

    // Pages of 4 with a filter: full pages, the same records as `all`, nothing twice.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = tenant::scope("t1", log().actor("alice").page(4, cursor.as_deref()))
            .await
            .unwrap();
        pages += 1;
        let last = page.cursor.is_none();
        if !last {
            assert_eq!(page.items.len(), 4);
        }
        paged.extend(page.items);
        cursor = page.cursor;
        if last {
            break;
        }
    }
    let alice = only(&|e| e.actor == "alice");
    assert_eq!(writes(&paged), alice);
    assert!(paged.windows(2).all(|w| w[0].timestamp >= w[1].timestamp));
    assert_eq!(pages, alice.len().div_ceil(4));

    // A cursor of one filter does not open another query, nor another tenant's log.
    let first = tenant::scope("t1", log().actor("alice").page(4, None))
        .await
        .unwrap();
    let cursor = first.cursor.unwrap();
    let other_filter = tenant::scope("t1", log().actor("bob").page(4, Some(&cursor))).await;
    assert!(
        matches!(other_filter, Err(Error::InvalidCursor { .. })),
        "{other_filter:?}"
    );
    let other_tenant = tenant::scope("t2", log().actor("alice").page(4, Some(&cursor))).await;
    assert!(
        matches!(other_tenant, Err(Error::InvalidCursor { .. })),
        "{other_tenant:?}"
    );

    // Retention: every record expires 90 days after it was made.
    let records: Vec<_> = raw_items(&table)
        .await
        .into_iter()
        .filter(|item| item["_type"].as_s().unwrap() == "AUDIT_LOG")
        .collect();
    assert_eq!(records.len(), 54);
    for record in &records {
        let at: i64 = record["expiresAt"].as_n().unwrap().parse().unwrap();
        let expected = (before + time::Duration::days(90)).unix_timestamp();
        assert!(
            (expected..expected + 600).contains(&at),
            "{at} vs {expected}"
        );
    }
}

#[tokio::test]
async fn a_log_without_a_tenant_is_refused_before_any_request() {
    let table = log_table().await;
    let (outside, requests) = count_requests(AuditLog::of_tenant(&table).all()).await;
    assert!(
        matches!(outside, Err(Error::MissingTenant { .. })),
        "{outside:?}"
    );
    assert_eq!(requests, 0);
    let across = count_requests(tenant::across_tenants(
        "test",
        AuditLog::of_tenant(&table).page(10, None),
    ))
    .await;
    assert!(
        matches!(across.0, Err(Error::MissingTenant { .. })),
        "{:?}",
        across.0
    );
    assert_eq!(across.1, 0);
    let crafted = tenant::scope("t1#AUDIT_LOG", AuditLog::of_tenant(&table).all()).await;
    assert!(
        matches!(crafted, Err(Error::InvalidRequest { .. })),
        "{crafted:?}"
    );
}
