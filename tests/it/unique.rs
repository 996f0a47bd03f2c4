//! Unique fields: `#[entity(unique)]` values are held by guard items written, moved and deleted
//! in the transaction that writes their owner, on every write path; the table holds a guard
//! exactly for each live value.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, AuditAction, BatchWrite, Error, Transaction};
use time::{Duration, OffsetDateTime};

use crate::{count_requests, raw_items, table_with};

/// A member of a tenant: its email is unique in the tenant, its handle too when it has one.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "MEMBER", pk = "TENANT#<tenant_id>#MEMBER#<id>", sk = "#MEMBER")]
#[serde(rename_all = "camelCase")]
struct Member {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    #[entity(unique)]
    email: String,
    #[entity(unique)]
    handle: Option<String>,
    name: String,
    #[serde(default)]
    logins: i64,
}

/// An organization whose slug is unique across the table; deleting it is a soft delete.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "ORG", pk = "ORG#<id>", sk = "#ORG", soft_delete)]
struct Org {
    id: String,
    #[entity(unique)]
    slug: String,
    name: String,
}

/// An audited account with a unique code.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "LEDGER", pk = "LEDGER#<id>", sk = "#LEDGER", audit)]
struct Ledger {
    id: String,
    #[entity(unique)]
    code: String,
    cents: i64,
}

/// An invitation whose code is unique until it expires.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "INVITE", pk = "INVITE#<id>", sk = "#INVITE")]
struct Invite {
    id: String,
    #[entity(unique)]
    code: String,
    #[entity(ttl)]
    expires_at: i64,
}

const T1: &str = "t1";
const T2: &str = "t2";

async fn table(prefix: &str) -> Table {
    table_with(prefix, |b| {
        b.entity::<Member>()
            .entity::<Org>()
            .entity::<Ledger>()
            .entity::<Invite>()
    })
    .await
}

fn member(id: &str, email: &str) -> NewMember {
    NewMember {
        id: id.into(),
        email: email.into(),
        handle: None,
        name: format!("member {id}"),
        logins: 0,
    }
}

fn org(id: &str, slug: &str) -> Org {
    Org {
        id: id.into(),
        slug: slug.into(),
        name: format!("org {id}"),
    }
}

fn text(item: &singletable::item::Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// The guard items in the table, as (pk, owner pk, owner sk).
async fn guards(table: &Table) -> BTreeSet<(String, String, String)> {
    raw_items(table)
        .await
        .iter()
        .filter(|item| text(item, "_type") == "_UNIQUE")
        .map(|item| {
            assert_eq!(text(item, "sk"), "_UNIQUE", "{item:?}");
            let owner = item["_owner"].as_m().expect("the owner is a map");
            let part = |name: &str| owner[name].as_s().unwrap().clone();
            (text(item, "pk"), part("pk"), part("sk"))
        })
        .collect()
}

/// The guard of `value` of the member field `field` in tenant `tenant`, held by member `id`.
fn member_guard(tenant: &str, field: &str, value: &str, id: &str) -> (String, String, String) {
    (
        format!("TENANT#{tenant}#_UNIQUE#MEMBER#{field}#{value}"),
        format!("TENANT#{tenant}#MEMBER#{id}"),
        "#MEMBER".into(),
    )
}

fn org_guard(slug: &str, id: &str) -> (String, String, String) {
    (
        format!("_UNIQUE#ORG#slug#{slug}"),
        format!("ORG#{id}"),
        "#ORG".into(),
    )
}

/// The entity items in the table (guards and audit records aside), by `_type` and pk.
async fn entities(table: &Table) -> BTreeSet<(String, String)> {
    raw_items(table)
        .await
        .iter()
        .map(|item| (text(item, "_type"), text(item, "pk")))
        .filter(|(kind, _)| kind != "_UNIQUE" && kind != "AUDIT_LOG")
        .collect()
}

fn is_duplicate(result: &Result<impl std::fmt::Debug, Error>, field: &str, value: &str) -> bool {
    matches!(
        result,
        Err(Error::Duplicate { field: f, value: v, .. }) if *f == field && v == value
    )
}

#[tokio::test]
async fn a_taken_value_is_refused_as_duplicate_and_nothing_is_written() {
    let table = table("unique-dup").await;
    tenant::scope(T1, async {
        Member::create(&table, member("a", "ann@example.com"))
            .await
            .unwrap();
        let before = raw_items(&table).await;

        let taken = Member::create(&table, member("b", "ann@example.com")).await;
        assert!(
            is_duplicate(&taken, "email", "ann@example.com"),
            "{taken:?}"
        );
        let message = taken.unwrap_err().to_string();
        assert!(
            message.contains("MEMBER") && message.contains("email"),
            "{message}"
        );
        assert!(message.contains("ann@example.com"), "{message}");

        assert_eq!(
            raw_items(&table).await.len(),
            before.len(),
            "nothing written"
        );
        assert_eq!(
            guards(&table).await,
            BTreeSet::from([member_guard(T1, "email", "ann@example.com", "a")]),
            "one guard, for the live value; a handle of `None` holds none"
        );
        assert!(Member::get(&table, MemberKey { id: "b" })
            .await
            .unwrap()
            .is_none());
    })
    .await;
}

#[tokio::test]
async fn an_update_moves_the_value_and_frees_the_old_one() {
    let table = table("unique-update").await;
    tenant::scope(T1, async {
        Member::create(&table, member("a", "ann@example.com"))
            .await
            .unwrap();
        let moved = Member::update(&table, MemberKey { id: "a" })
            .set(Member::FIELDS.email, "ann@new.example.com")
            .set(Member::FIELDS.handle, Some("ann".to_owned()))
            .send()
            .await
            .unwrap();
        assert_eq!(moved.email, "ann@new.example.com");
        assert_eq!(
            guards(&table).await,
            BTreeSet::from([
                member_guard(T1, "email", "ann@new.example.com", "a"),
                member_guard(T1, "handle", "ann", "a"),
            ])
        );

        // The old value is free again; the new ones are not.
        Member::create(&table, member("b", "ann@example.com"))
            .await
            .unwrap();
        let mut taken = member("c", "carl@example.com");
        taken.handle = Some("ann".into());
        let taken = Member::create(&table, taken).await;
        assert!(is_duplicate(&taken, "handle", "ann"), "{taken:?}");
        let taken = Member::update(&table, MemberKey { id: "b" })
            .set(Member::FIELDS.email, "ann@new.example.com")
            .send()
            .await;
        assert!(
            is_duplicate(&taken, "email", "ann@new.example.com"),
            "{taken:?}"
        );
        let b = Member::get(&table, MemberKey { id: "b" }).await.unwrap();
        assert_eq!(
            b.unwrap().email,
            "ann@example.com",
            "the refused update wrote nothing"
        );

        // An update that changes no unique value leaves the guards alone; removing a value
        // frees it.
        Member::update(&table, MemberKey { id: "a" })
            .add(Member::FIELDS.logins, 1)
            .remove(Member::FIELDS.handle)
            .send()
            .await
            .unwrap();
        assert_eq!(
            guards(&table).await,
            BTreeSet::from([
                member_guard(T1, "email", "ann@new.example.com", "a"),
                member_guard(T1, "email", "ann@example.com", "b"),
            ])
        );
    })
    .await;
}

#[tokio::test]
async fn a_delete_frees_the_values() {
    let table = table("unique-delete").await;
    tenant::scope(T1, async {
        let mut new = member("a", "ann@example.com");
        new.handle = Some("ann".into());
        Member::create(&table, new).await.unwrap();
        let deleted = Member::delete(&table, MemberKey { id: "a" }).await.unwrap();
        assert_eq!(deleted.map(|m| m.email).as_deref(), Some("ann@example.com"));
        assert!(guards(&table).await.is_empty());
        assert!(raw_items(&table).await.is_empty());

        let mut again = member("b", "ann@example.com");
        again.handle = Some("ann".into());
        Member::create(&table, again).await.unwrap();
        assert_eq!(guards(&table).await.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn concurrent_creates_of_one_value_have_exactly_one_winner() {
    let table = table("unique-race").await;
    tenant::scope(T1, async {
        let creates = (0..20).map(|n| {
            let table = &table;
            async move { Member::create(table, member(&format!("m{n}"), "same@example.com")).await }
        });
        let results = futures::future::join_all(creates).await;
        let won: Vec<&Member> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(won.len(), 1, "{results:?}");
        assert!(
            results.iter().filter(|r| r.is_err()).all(|r| is_duplicate(
                r,
                "email",
                "same@example.com"
            )),
            "{results:?}"
        );
        let winner = &won[0].id;
        assert_eq!(
            guards(&table).await,
            BTreeSet::from([member_guard(T1, "email", "same@example.com", winner)])
        );
        assert_eq!(entities(&table).await.len(), 1, "one member stored");
    })
    .await;
}

#[tokio::test]
async fn the_same_value_in_two_tenants_is_allowed() {
    let table = table("unique-tenants").await;
    for tenant_id in [T1, T2] {
        tenant::scope(
            tenant_id,
            Member::create(&table, member("a", "ann@example.com")),
        )
        .await
        .unwrap();
    }
    let taken = tenant::scope(T2, Member::create(&table, member("b", "ann@example.com"))).await;
    assert!(
        is_duplicate(&taken, "email", "ann@example.com"),
        "{taken:?}"
    );
    assert_eq!(
        guards(&table).await,
        BTreeSet::from([
            member_guard(T1, "email", "ann@example.com", "a"),
            member_guard(T2, "email", "ann@example.com", "a"),
        ])
    );

    // Without a tenant, the slug of an organization is unique across the table.
    Org::put(&org("o1", "acme"), &table).await.unwrap();
    let taken = Org::put(&org("o2", "acme"), &table).await;
    assert!(is_duplicate(&taken, "slug", "acme"), "{taken:?}");
}

#[tokio::test]
async fn a_put_moves_the_value_of_the_item_it_replaces() {
    let table = table("unique-put").await;
    Org::put(&org("o1", "acme"), &table).await.unwrap();
    // Putting it again with the same value keeps its guard.
    Org::put(&org("o1", "acme"), &table).await.unwrap();
    assert_eq!(
        guards(&table).await,
        BTreeSet::from([org_guard("acme", "o1")])
    );
    Org::put(&org("o1", "acme-inc"), &table).await.unwrap();
    assert_eq!(
        guards(&table).await,
        BTreeSet::from([org_guard("acme-inc", "o1")])
    );
    Org::put(&org("o2", "acme"), &table).await.unwrap();
    assert_eq!(
        guards(&table).await,
        BTreeSet::from([org_guard("acme-inc", "o1"), org_guard("acme", "o2")])
    );
}

#[tokio::test]
async fn a_soft_deleted_item_keeps_its_value_until_purged() {
    let table = table("unique-soft").await;
    Org::put(&org("o1", "acme"), &table).await.unwrap();
    Org::delete(&table, OrgKey { id: "o1" }).await.unwrap();
    assert_eq!(
        guards(&table).await,
        BTreeSet::from([org_guard("acme", "o1")]),
        "a soft delete keeps the value, so that a restore finds it free"
    );
    let taken = Org::put(&org("o2", "acme"), &table).await;
    assert!(is_duplicate(&taken, "slug", "acme"), "{taken:?}");

    let restored = Org::restore(&table, OrgKey { id: "o1" }).await.unwrap();
    assert_eq!(restored.slug, "acme");
    Org::delete(&table, OrgKey { id: "o1" }).await.unwrap();
    Org::purge(&table, OrgKey { id: "o1" }).await.unwrap();
    assert!(guards(&table).await.is_empty());
    assert!(raw_items(&table).await.is_empty());
    Org::put(&org("o2", "acme"), &table).await.unwrap();

    // Emptying the trash frees the values of what it purges.
    Org::delete(&table, OrgKey { id: "o2" }).await.unwrap();
    let later = OffsetDateTime::now_utc() + Duration::minutes(1);
    let purged = Org::empty_trash(&table, OrgPartition { id: "o2" }, later)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    assert!(raw_items(&table).await.is_empty());
}

#[tokio::test]
async fn audited_writes_carry_their_guards_with_their_records() {
    let table = table("unique-audit").await;
    let new = |id: &str, code: &str| NewLedger {
        id: id.into(),
        code: code.into(),
        cents: 0,
    };
    Ledger::create(&table, new("l1", "EUR-1")).await.unwrap();
    let taken = Ledger::create(&table, new("l2", "EUR-1")).await;
    assert!(is_duplicate(&taken, "code", "EUR-1"), "{taken:?}");
    Ledger::update(&table, LedgerKey { id: "l1" })
        .set(Ledger::FIELDS.code, "EUR-2")
        .send()
        .await
        .unwrap();
    Ledger::create(&table, new("l2", "EUR-1")).await.unwrap();
    Ledger::delete(&table, LedgerKey { id: "l1" })
        .await
        .unwrap();

    let guard = |code: &str, id: &str| {
        (
            format!("_UNIQUE#LEDGER#code#{code}"),
            format!("LEDGER#{id}"),
            "#LEDGER".to_owned(),
        )
    };
    assert_eq!(guards(&table).await, BTreeSet::from([guard("EUR-1", "l2")]));
    let trail: Vec<AuditAction> = Ledger::audit_trail(&table, LedgerKey { id: "l1" })
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.action)
        .collect();
    assert_eq!(
        trail,
        [
            AuditAction::Delete,
            AuditAction::Update,
            AuditAction::Create
        ],
        "newest first; the refused create of `l2` recorded nothing"
    );
    let records = raw_items(&table)
        .await
        .iter()
        .filter(|item| text(item, "_type") == "AUDIT_LOG")
        .count();
    assert_eq!(records, 4, "three writes of `l1`, one of `l2`");
}

#[tokio::test]
async fn an_upsert_takes_and_moves_values() {
    let table = table("unique-upsert").await;
    tenant::scope(T1, async {
        let created = Member::upsert(&table, member("a", "ann@example.com"))
            .add(Member::FIELDS.logins, 1)
            .send()
            .await
            .unwrap();
        assert_eq!(
            (created.email.as_str(), created.logins),
            ("ann@example.com", 1)
        );
        assert_eq!(
            guards(&table).await,
            BTreeSet::from([member_guard(T1, "email", "ann@example.com", "a")])
        );

        // An upsert of the existing item that sets the field moves the value.
        Member::upsert(&table, member("a", "ann@example.com"))
            .set(Member::FIELDS.email, "ann@new.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(
            guards(&table).await,
            BTreeSet::from([member_guard(T1, "email", "ann@new.example.com", "a")])
        );

        // An upsert that would create an item with a taken value writes nothing.
        let taken = Member::upsert(&table, member("b", "ann@new.example.com"))
            .add(Member::FIELDS.logins, 1)
            .send()
            .await;
        assert!(
            is_duplicate(&taken, "email", "ann@new.example.com"),
            "{taken:?}"
        );
        assert_eq!(entities(&table).await.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn transactions_write_the_guards_of_their_actions() {
    let table = table("unique-tx").await;
    tenant::scope(T1, async {
        let mut tx = Transaction::new(&table);
        tx.create::<Member>(member("a", "ann@example.com")).unwrap();
        tx.create::<Member>(member("b", "bob@example.com")).unwrap();
        assert_eq!(tx.len(), 2, "guards take no action index");
        tx.send().await.unwrap();
        assert_eq!(
            guards(&table).await,
            BTreeSet::from([
                member_guard(T1, "email", "ann@example.com", "a"),
                member_guard(T1, "email", "bob@example.com", "b"),
            ])
        );

        // A taken value cancels the whole transaction.
        let before = raw_items(&table).await.len();
        let mut tx = Transaction::new(&table);
        tx.create::<Member>(member("c", "carl@example.com"))
            .unwrap();
        tx.create::<Member>(member("d", "ann@example.com")).unwrap();
        let taken = tx.send().await;
        assert!(
            is_duplicate(&taken, "email", "ann@example.com"),
            "{taken:?}"
        );
        assert_eq!(raw_items(&table).await.len(), before, "nothing written");

        // Two actions taking one value.
        let mut tx = Transaction::new(&table);
        tx.create::<Member>(member("c", "carl@example.com"))
            .unwrap();
        tx.create::<Member>(member("d", "carl@example.com"))
            .unwrap();
        let twice = tx.send().await;
        assert!(
            is_duplicate(&twice, "email", "carl@example.com"),
            "{twice:?}"
        );

        // Updates and deletes read the item at `send` and move or free its values.
        let mut tx = Transaction::new(&table);
        tx.update(
            Member::update(&table, MemberKey { id: "a" })
                .set(Member::FIELDS.email, "carl@example.com"),
        )
        .unwrap();
        tx.delete::<Member>(MemberKey { id: "b" }).unwrap();
        tx.send().await.unwrap();
        assert_eq!(
            guards(&table).await,
            BTreeSet::from([member_guard(T1, "email", "carl@example.com", "a")])
        );
        let mut tx = Transaction::new(&table);
        let mut put = Member::get(&table, MemberKey { id: "a" })
            .await
            .unwrap()
            .unwrap();
        put.email = "ann@example.com".into();
        tx.put(&put).unwrap();
        tx.send().await.unwrap();
        assert_eq!(
            guards(&table).await,
            BTreeSet::from([member_guard(T1, "email", "ann@example.com", "a")])
        );
    })
    .await;
}

#[tokio::test]
async fn a_batch_writes_each_item_with_its_guards() {
    let table = table("unique-batch").await;
    let mut batch = BatchWrite::new(&table);
    for (id, slug) in [("o1", "acme"), ("o2", "globex"), ("o3", "initech")] {
        batch.put(&org(id, slug)).unwrap();
    }
    batch.send().await.unwrap();
    assert_eq!(
        guards(&table).await,
        BTreeSet::from([
            org_guard("acme", "o1"),
            org_guard("globex", "o2"),
            org_guard("initech", "o3"),
        ])
    );

    let mut batch = BatchWrite::new(&table);
    batch.put(&org("o4", "acme")).unwrap();
    batch.put(&org("o2", "globex-corp")).unwrap();
    batch.delete::<Org>(OrgKey { id: "o3" }).unwrap();
    let result = batch.send().await;
    match &result {
        Err(Error::Unprocessed { items, cause, .. }) => {
            assert_eq!(items.len(), 1, "{result:?}");
            assert_eq!(items[0].1.pk, "ORG#o4");
            let cause = cause.as_deref();
            assert!(
                matches!(cause, Some(Error::Duplicate { field: "slug", value, .. }) if value == "acme"),
                "{result:?}"
            );
        }
        other => panic!("expected the taken slug to be left undone: {other:?}"),
    }
    assert_eq!(
        guards(&table).await,
        BTreeSet::from([org_guard("acme", "o1"), org_guard("globex-corp", "o2")]),
        "the batch's delete purges, freeing the value"
    );
    assert_eq!(
        entities(&table).await,
        BTreeSet::from([
            ("ORG".to_owned(), "ORG#o1".to_owned()),
            ("ORG".to_owned(), "ORG#o2".to_owned()),
        ])
    );
}

#[tokio::test]
async fn an_invalid_value_is_refused_before_any_request() {
    let table = table("unique-invalid").await;
    let (result, requests) = count_requests(async {
        tenant::scope(T1, Member::create(&table, member("a", "ann#x@example.com"))).await
    })
    .await;
    assert!(
        matches!(result, Err(Error::InvalidKey { .. })),
        "{result:?}"
    );
    assert_eq!(requests, 0);
    let (result, requests) = count_requests(Org::put(&org("o1", ""), &table)).await;
    assert!(
        matches!(result, Err(Error::InvalidKey { .. })),
        "{result:?}"
    );
    assert_eq!(requests, 0);
    assert!(raw_items(&table).await.is_empty());
}

#[tokio::test]
async fn a_guard_follows_its_holders_expiry_and_an_expired_holder_frees_its_value() {
    let table = table_with("unique-ttl", |b| {
        b.entity::<Invite>().ttl_attribute("expires")
    })
    .await;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let invite = |id: &str, expires_at: i64| NewInvite {
        id: id.into(),
        code: "WELCOME".into(),
        expires_at,
    };
    Invite::create(&table, invite("i1", now - 60))
        .await
        .unwrap();
    let guard = raw_items(&table)
        .await
        .into_iter()
        .find(|item| text(item, "_type") == "_UNIQUE")
        .unwrap();
    assert_eq!(
        guard["expires"],
        AttributeValue::N((now - 60).to_string()),
        "removed by time to live with its holder"
    );

    // `i1` has expired (reads no longer see it): its code is free.
    Invite::create(&table, invite("i2", now + 3600))
        .await
        .unwrap();
    let taken = Invite::create(&table, invite("i3", now + 3600)).await;
    assert!(is_duplicate(&taken, "code", "WELCOME"), "{taken:?}");
    assert_eq!(
        guards(&table).await,
        BTreeSet::from([(
            "_UNIQUE#INVITE#code#WELCOME".to_owned(),
            "INVITE#i2".to_owned(),
            "#INVITE".to_owned()
        )])
    );
    // Deleting the expired holder leaves the value to its new holder.
    Invite::delete(&table, InviteKey { id: "i1" })
        .await
        .unwrap();
    assert_eq!(guards(&table).await.len(), 1);
    Invite::delete(&table, InviteKey { id: "i2" })
        .await
        .unwrap();
    assert!(raw_items(&table).await.is_empty());
}

/// An entity whose keys could be those of a guard.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "LOOKALIKE",
    pk = "_UNIQUE#<kind>#<field>#<value>",
    sk = "<sort>"
)]
struct Lookalike {
    kind: String,
    field: String,
    value: String,
    sort: String,
}

#[tokio::test]
async fn a_batch_refuses_an_entity_whose_keys_could_be_a_guards() {
    let table = table_with("unique-lookalike", |b| {
        b.entity::<Org>().entity::<Lookalike>()
    })
    .await;
    let lookalike = Lookalike {
        kind: "ORG".into(),
        field: "slug".into(),
        value: "acme".into(),
        sort: "_UNIQUE".into(),
    };
    let refused = BatchWrite::new(&table).put(&lookalike).map(drop);
    match refused {
        Err(Error::InvalidRequest { reason, .. }) => {
            assert!(reason.contains("`_UNIQUE`"), "{reason}")
        }
        other => panic!("expected the batch to refuse it: {other:?}"),
    }

    // Conditional writes hold over their own type, so neither overwrites the other.
    Org::put(&org("o1", "acme"), &table).await.unwrap();
    let over = lookalike.put(&table).await;
    assert!(
        matches!(over, Err(Error::ConditionFailed { .. })),
        "{over:?}"
    );
    assert_eq!(
        guards(&table).await,
        BTreeSet::from([org_guard("acme", "o1")])
    );
}
