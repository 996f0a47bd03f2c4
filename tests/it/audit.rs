//! Audit trail: every write of an audited entity carries its record in the same transaction.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, AuditAction, AuditContext, AuditRecord, AuditTrail, Error, Transaction};

use crate::{raw_items, table_with};

#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "ACCOUNT",
    pk = "TENANT#<tenant_id>#ACCOUNT#<id>",
    sk = "#METADATA",
    audit,
    soft_delete
)]
#[serde(rename_all = "camelCase")]
struct Account {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    name: String,
    plan: String,
    seats: i64,
    #[serde(default)]
    tags: Vec<String>,
    note: Option<String>,
}

fn account(id: &str) -> NewAccount {
    NewAccount {
        id: id.into(),
        name: format!("account {id}"),
        plan: "free".into(),
        seats: 1,
        tags: vec!["new".into()],
        note: Some("first".into()),
    }
}

async fn audited_table(prefix: &str) -> singletable::Table {
    table_with(prefix, |builder| {
        builder
            .entity::<Account>()
            .ttl_attribute("expiresAt")
            .audit_retention(time::Duration::days(90))
            .audit_context(|| AuditContext {
                actor: Some("alice".into()),
                request_id: Some("req-1".into()),
            })
    })
    .await
}

/// The changes of a record as `field -> (old, new)` in plain text, for comparison.
fn changes(record: &AuditRecord) -> BTreeMap<String, (Option<String>, Option<String>)> {
    let text = |value: &Option<aws_sdk_dynamodb::types::AttributeValue>| {
        value.as_ref().map(|v| match v {
            aws_sdk_dynamodb::types::AttributeValue::S(s)
            | aws_sdk_dynamodb::types::AttributeValue::N(s) => s.clone(),
            other => format!("{other:?}"),
        })
    };
    record
        .changes
        .iter()
        .map(|(name, change)| (name.clone(), (text(&change.old), text(&change.new))))
        .collect()
}

fn pair(old: &str, new: &str) -> (Option<String>, Option<String>) {
    (Some(old.into()), Some(new.into()))
}

#[tokio::test]
async fn an_update_of_three_fields_records_exactly_those_three() {
    let table = audited_table("audit3").await;
    tenant::scope("t1", async {
        let created = Account::create(&table, account("a")).await.unwrap();
        let updated = Account::update(&table, created.key())
            .set(Account::FIELDS.name, "Acme")
            .set(Account::FIELDS.plan, "pro")
            .add(Account::FIELDS.seats, 4)
            .send()
            .await
            .unwrap();
        assert_eq!((updated.name.as_str(), updated.seats), ("Acme", 5));
        let stored = Account::get(&table, created.key()).await.unwrap();
        assert_eq!(
            stored,
            Some(updated),
            "the returned entity is what is stored"
        );

        let trail = Account::audit_trail(&table, created.key())
            .all()
            .await
            .unwrap();
        assert_eq!(trail.len(), 2, "one record per write: {trail:#?}");
        let update = &trail[0];
        assert_eq!(update.action, AuditAction::Update);
        assert_eq!(
            changes(update),
            BTreeMap::from([
                ("name".to_owned(), pair("account a", "Acme")),
                ("plan".to_owned(), pair("free", "pro")),
                ("seats".to_owned(), pair("1", "5")),
            ])
        );
        assert_eq!(update.changes["seats"].new_as::<i64>().unwrap(), Some(5));
        assert_eq!(update.actor.as_deref(), Some("alice"));
        assert_eq!(update.request_id.as_deref(), Some("req-1"));
        assert_eq!(update.tenant_id.as_deref(), Some("t1"));
        assert_eq!(
            (update.entity_type.as_str(), update.entity_id.as_str()),
            ("ACCOUNT", "a")
        );
        assert_eq!(update.revision, Some(2));

        let create = &trail[1];
        assert_eq!(create.action, AuditAction::Create);
        assert_eq!(create.revision, Some(1));
        assert!(create.changes.values().all(|c| c.old.is_none()));
        let fields: Vec<&str> = create.changes.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            ["id", "name", "note", "plan", "seats", "tags", "tenantId"],
            "every field, no key or internal attribute"
        );
    })
    .await;
}

#[tokio::test]
async fn a_failed_conditional_update_writes_no_record() {
    let table = audited_table("auditfail").await;
    tenant::scope("t1", async {
        let created = Account::create(&table, account("a")).await.unwrap();
        let err = Account::update(&table, created.key())
            .set(Account::FIELDS.name, "Changed")
            .condition(Account::FIELDS.plan.eq("enterprise"))
            .send()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::ConditionFailed { .. }), "{err:?}");
        let missing = AccountKey { id: "nobody" };
        let err = Account::update(&table, missing)
            .set(Account::FIELDS.name, "x")
            .send()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

        let trail = Account::audit_trail(&table, created.key())
            .all()
            .await
            .unwrap();
        assert_eq!(trail.len(), 1, "only the create: {trail:#?}");
        assert_eq!(trail[0].action, AuditAction::Create);
        assert_eq!(
            Account::get(&table, created.key()).await.unwrap(),
            Some(created)
        );
        assert!(
            Account::audit_trail(&table, missing)
                .all()
                .await
                .unwrap()
                .is_empty(),
            "no record for an update of nothing"
        );
    })
    .await;
}

#[tokio::test]
async fn the_trail_lists_newest_first_in_pages_and_by_id() {
    let table = audited_table("audittrail").await;
    tenant::scope("t1", async {
        let created = Account::create(&table, account("a")).await.unwrap();
        for seats in 2..=6 {
            Account::update(&table, created.key())
                .set(Account::FIELDS.seats, seats)
                .send()
                .await
                .unwrap();
        }
        let trail = Account::audit_trail(&table, created.key())
            .all()
            .await
            .unwrap();
        let revisions: Vec<Option<u64>> = trail.iter().map(|r| r.revision).collect();
        assert_eq!(revisions, [6, 5, 4, 3, 2, 1].map(Some), "newest first");
        assert!(trail.windows(2).all(|w| w[0].timestamp >= w[1].timestamp));
        assert_eq!(changes(&trail[0])["seats"], pair("5", "6"));

        let mut paged = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = Account::audit_trail(&table, created.key())
                .page(4, cursor.as_deref())
                .await
                .unwrap();
            pages += 1;
            paged.extend(page.items);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(paged, trail);
        assert!((2..=3).contains(&pages), "{pages} pages of at most 4");

        // dynamodb-provider's `getEntityAuditTrail(entityType, entityId)`.
        let by_id = AuditTrail::by_id(&table, "ACCOUNT", "a")
            .all()
            .await
            .unwrap();
        assert_eq!(by_id, trail);
    })
    .await;
    let other = tenant::scope("t2", AuditTrail::by_id(&table, "ACCOUNT", "a").all()).await;
    assert!(other.unwrap().is_empty(), "another tenant sees no record");
}

#[tokio::test]
async fn delete_restore_and_purge_are_recorded() {
    let table = audited_table("auditlife").await;
    tenant::scope("t1", async {
        let created = Account::create(&table, account("a")).await.unwrap();
        let deleted = Account::delete(&table, created.key()).await.unwrap();
        assert_eq!(deleted.as_ref(), Some(&created));
        assert_eq!(Account::get(&table, created.key()).await.unwrap(), None);
        assert_eq!(Account::delete(&table, created.key()).await.unwrap(), None);

        let trash = Account::trash(&table, AccountPartition { id: "a" })
            .await
            .unwrap();
        assert_eq!(trash.len(), 1);
        assert_eq!(trash[0].entity, created);
        assert_eq!(trash[0].deleted_by.as_deref(), Some("alice"));

        let restored = Account::restore(&table, created.key()).await.unwrap();
        assert_eq!(restored, created);
        Account::purge(&table, created.key()).await.unwrap();
        assert_eq!(
            Account::get_including_deleted(&table, created.key())
                .await
                .unwrap(),
            None
        );

        let trail = Account::audit_trail(&table, created.key())
            .all()
            .await
            .unwrap();
        let actions: Vec<AuditAction> = trail.iter().map(|r| r.action).collect();
        assert_eq!(
            actions,
            [
                AuditAction::Purge,
                AuditAction::Restore,
                AuditAction::Delete,
                AuditAction::Create
            ]
        );
        let purge = &trail[0];
        assert!(purge.changes.values().all(|c| c.new.is_none()));
        assert_eq!(
            purge.changes["name"].old_as::<String>().unwrap().as_deref(),
            Some("account a")
        );
    })
    .await;
}

#[tokio::test]
async fn records_expire_after_the_retention() {
    let table = audited_table("auditttl").await;
    tenant::scope("t1", Account::create(&table, account("a")))
        .await
        .unwrap();
    let records: Vec<_> = raw_items(&table)
        .await
        .into_iter()
        .filter(|item| item["_type"].as_s().unwrap() == "AUDIT_LOG")
        .collect();
    assert_eq!(records.len(), 1);
    let expires: i64 = records[0]["expiresAt"].as_n().unwrap().parse().unwrap();
    let in_90_days = (time::OffsetDateTime::now_utc() + time::Duration::days(90)).unix_timestamp();
    assert!(
        (in_90_days - expires).abs() < 60,
        "{expires} vs {in_90_days}"
    );
    assert_eq!(records[0]["pk"].as_s().unwrap(), "TENANT#t1#ACCOUNT#a");
    assert!(records[0]["sk"].as_s().unwrap().starts_with("AUDIT#20"));
}

#[tokio::test]
async fn transactions_carry_the_records_of_audited_writes() {
    let table = audited_table("audittx").await;
    tenant::scope("t1", async {
        let a = Account::create(&table, account("a")).await.unwrap();
        let mut tx = Transaction::new(&table);
        let b = tx.create::<Account>(account("b")).unwrap();
        tx.update(Account::update(&table, a.key()).add(Account::FIELDS.seats, 1))
            .unwrap();
        tx.send().await.unwrap();
        assert_eq!(
            Account::audit_trail(&table, a.key())
                .all()
                .await
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            Account::audit_trail(&table, b.key())
                .all()
                .await
                .unwrap()
                .len(),
            1
        );

        // A failing check cancels the writes and their records.
        let mut tx = Transaction::new(&table);
        tx.update(Account::update(&table, a.key()).add(Account::FIELDS.seats, 1))
            .unwrap();
        tx.check::<Account>(b.key(), Account::FIELDS.plan.eq("enterprise"))
            .unwrap();
        let err = tx.send().await.unwrap_err();
        let Error::TransactionCanceled { reasons } = &err else {
            panic!("expected a cancellation, got {err:?}");
        };
        // The check is the caller's second action: the update's audit record takes no place.
        let failed: Vec<_> = reasons
            .iter()
            .filter(|r| r.code == "ConditionalCheckFailed")
            .map(|r| (r.index, r.entity, r.audit_record))
            .collect();
        assert_eq!(failed, [(1, "ACCOUNT", false)], "{reasons:?}");
        assert_eq!(
            Account::audit_trail(&table, a.key())
                .all()
                .await
                .unwrap()
                .len(),
            2
        );
        let a = Account::get(&table, a.key()).await.unwrap().unwrap();
        assert_eq!(a.seats, 2);

        // Creating what exists fails at once, without a record.
        let mut tx = Transaction::new(&table);
        tx.create::<Account>(account("b")).unwrap();
        let (result, requests) = crate::count_requests(tx.send()).await;
        assert_eq!(requests, 1, "no read, no retry");
        match result.unwrap_err() {
            Error::TransactionCanceled { reasons } => {
                assert_eq!(reasons.len(), 1, "{reasons:?}");
                assert_eq!(reasons[0].index, 0);
                assert_eq!(reasons[0].code, "ConditionalCheckFailed");
            }
            other => panic!("expected a cancellation, got {other:?}"),
        }
        let trail = Account::audit_trail(&table, b.key()).all().await.unwrap();
        assert_eq!(trail.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn concurrent_writers_each_get_a_record_with_exact_old_values() {
    let table = audited_table("auditrace").await;
    let created = tenant::scope("t1", Account::create(&table, account("a")))
        .await
        .unwrap();
    let writers: Vec<_> = (0..12)
        .map(|_| {
            let table = table.clone();
            tokio::spawn(tenant::scope("t1", async move {
                Account::update(&table, AccountKey { id: "a" })
                    .add(Account::FIELDS.seats, 1)
                    .send()
                    .await
            }))
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    tenant::scope("t1", async {
        let stored = Account::get(&table, created.key()).await.unwrap().unwrap();
        assert_eq!(stored.seats, 13);
        let trail = Account::audit_trail(&table, created.key())
            .all()
            .await
            .unwrap();
        assert_eq!(trail.len(), 13);
        let mut steps: Vec<(i64, i64)> = trail
            .iter()
            .filter(|r| r.action == AuditAction::Update)
            .map(|r| {
                let seats = &r.changes["seats"];
                (
                    seats.old_as().unwrap().unwrap(),
                    seats.new_as().unwrap().unwrap(),
                )
            })
            .collect();
        steps.sort();
        let expected: Vec<(i64, i64)> = (1..13).map(|n| (n, n + 1)).collect();
        assert_eq!(
            steps, expected,
            "each record's old value is what its write replaced"
        );
    })
    .await;
}

#[tokio::test]
async fn a_batch_writes_audited_entities_each_with_its_record() {
    let table = audited_table("auditbatch").await;
    tenant::scope("t1", async {
        let kept = Account::create(&table, account("kept")).await.unwrap();
        let gone = Account::create(&table, account("gone")).await.unwrap();
        let mut batch = singletable::BatchWrite::new(&table);
        let mut renamed = kept.clone();
        renamed.name = "renamed".into();
        batch.put(&renamed).unwrap();
        batch.delete::<Account>(gone.key()).unwrap();
        let imported: Vec<Account> = (0..120)
            .map(|i| Account {
                tenant_id: "t1".into(),
                id: format!("import-{i:03}"),
                name: format!("imported {i}"),
                plan: "pro".into(),
                seats: i,
                tags: Vec::new(),
                note: None,
            })
            .collect();
        for account in &imported {
            batch.put(account).unwrap();
        }
        assert_eq!(batch.len(), 122);
        batch.send().await.unwrap();

        assert_eq!(
            Account::get(&table, kept.key()).await.unwrap(),
            Some(renamed)
        );
        assert_eq!(
            Account::get_including_deleted(&table, gone.key())
                .await
                .unwrap(),
            None
        );
        for account in &imported {
            let trail = Account::audit_trail(&table, account.key())
                .all()
                .await
                .unwrap();
            assert_eq!(trail.len(), 1, "{}", account.id);
            assert_eq!(trail[0].action, AuditAction::Create);
            assert_eq!(trail[0].revision, Some(1));
        }
        let kept_trail = Account::audit_trail(&table, kept.key())
            .all()
            .await
            .unwrap();
        let actions: Vec<_> = kept_trail.iter().map(|r| r.action).collect();
        assert_eq!(actions, [AuditAction::Update, AuditAction::Create]);
        assert_eq!(
            changes(&kept_trail[0])["name"],
            (Some("account kept".into()), Some("renamed".into()))
        );
        let gone_trail = Account::audit_trail(&table, gone.key())
            .all()
            .await
            .unwrap();
        assert_eq!(gone_trail[0].action, AuditAction::Purge);
    })
    .await;
    // Every live account item has its records, and no record lacks its write.
    let items = raw_items(&table).await;
    let accounts = items
        .iter()
        .filter(|i| i["_type"].as_s().unwrap() == "ACCOUNT")
        .count();
    let records = items
        .iter()
        .filter(|i| i["_type"].as_s().unwrap() == "AUDIT_LOG")
        .count();
    assert_eq!((accounts, records), (121, 120 + 2 + 2));
}

#[tokio::test]
async fn two_hundred_concurrent_audited_adds_all_succeed_with_a_record_each() {
    let table = audited_table("audit").await;
    tenant::scope("t1", async {
        let created = Account::create(&table, account("busy")).await.unwrap();
        let key = || AccountKey { id: "busy" };
        let adds: Vec<_> = futures::stream::iter(0..200)
            .map(|_| {
                Account::update(&table, key())
                    .add(Account::FIELDS.seats, 1)
                    .send()
            })
            .buffer_unordered(200)
            .collect()
            .await;
        let failed: Vec<_> = adds.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(
            failed.is_empty(),
            "{} of 200 failed, first: {:?}",
            failed.len(),
            failed.first()
        );
        let now = Account::get(&table, key()).await.unwrap().unwrap();
        assert_eq!(now.seats, created.seats + 200);
        let trail = Account::audit_trail(&table, key()).all().await.unwrap();
        let updates = trail
            .iter()
            .filter(|r| r.action == AuditAction::Update)
            .count();
        assert_eq!(updates, 200, "one record per add");
        let mut revisions: Vec<Option<u64>> = trail.iter().map(|r| r.revision).collect();
        revisions.sort_unstable();
        assert_eq!(
            revisions,
            (1..=201).map(Some).collect::<Vec<_>>(),
            "each revision once"
        );
    })
    .await;
}
