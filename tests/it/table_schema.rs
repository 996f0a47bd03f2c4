//! The table's schema (`#[derive(TableSchema)]`): any item decodes into the enum as its entity's
//! reads decode it, every entity is declared at once, and items are counted by type within the
//! tenancy rules.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue::S;
use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, BatchWrite};
use singletable_local::DynamoDbLocal;
use time::{Duration, OffsetDateTime};

use crate::{count_requests, raw_items, table_with};

/// A tenant's organization, stored in camelCase (its tenant field is `tenantId`).
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "TS_ORG", pk = "TS#<tenant_id>#ORG#<id>", sk = "#ORG")]
#[serde(rename_all = "camelCase")]
pub struct Org {
    #[entity(tenant)]
    pub tenant_id: String,
    pub id: String,
    pub display_name: String,
}

/// A member of an organization, stored in snake case, deleted softly.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "TS_MEMBER",
    pk = "TS#<tenant_id>#ORG#<org_id>",
    sk = "MEMBER#<id>",
    soft_delete
)]
pub struct Member {
    #[entity(tenant)]
    pub tenant_id: String,
    pub org_id: String,
    pub id: String,
}

/// A tenant's access token, which expires.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "TS_TOKEN", pk = "TS#<tenant_id>#TOKEN#<id>", sk = "#TOKEN")]
#[serde(rename_all = "camelCase")]
pub struct Token {
    #[entity(tenant)]
    pub tenant_id: String,
    pub id: String,
    #[entity(ttl)]
    #[serde(with = "singletable::timestamp")]
    pub expires_at: OffsetDateTime,
}

/// A price plan every tenant shares.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "TS_PLAN", pk = "TS_PLAN#<id>", sk = "#PLAN")]
pub struct Plan {
    pub id: String,
    pub price: u32,
}

/// A feature flag every tenant shares.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "TS_FLAG", pk = "TS_FLAG#<name>", sk = "#FLAG")]
pub struct Flag {
    pub name: String,
    pub on: bool,
}

/// The multi-tenant application's table.
#[derive(TableSchema, Debug, PartialEq)]
pub enum AppItem {
    Org(Org),
    Member(Member),
    Token(Token),
    Plan(Plan),
}

/// The shared data only: no entity is tenant-scoped.
#[derive(TableSchema, Debug, PartialEq)]
pub enum SharedItem {
    Plan(Plan),
    Flag(Flag),
}

async fn table() -> Table {
    table_with("table-schema", |b| AppItem::declare(b).ttl_attribute("ttl")).await
}

fn counts(pairs: &[(&'static str, u64)]) -> BTreeMap<&'static str, u64> {
    pairs.iter().copied().collect()
}

async fn create_org(table: &Table, id: &str) -> Org {
    let new = NewOrg {
        id: id.into(),
        display_name: format!("Org {id}"),
    };
    Org::create(table, new).await.unwrap()
}

async fn create_member(table: &Table, org: &str, id: &str) -> Member {
    let new = NewMember {
        org_id: org.into(),
        id: id.into(),
    };
    Member::create(table, new).await.unwrap()
}

async fn create_token(table: &Table, id: &str, expires_in: Duration) -> Token {
    // Whole seconds, as the item stores them to the millisecond.
    let expires_at = (OffsetDateTime::now_utc() + expires_in).replace_nanosecond(0);
    let new = NewToken {
        id: id.into(),
        expires_at: expires_at.unwrap(),
    };
    Token::create(table, new).await.unwrap()
}

async fn create_plan(table: &Table, id: &str) -> Plan {
    let new = NewPlan {
        id: id.into(),
        price: 10,
    };
    Plan::create(table, new).await.unwrap()
}

/// A raw item, as another writer could store it.
async fn put_raw(table: &Table, attributes: &[(&str, &str)]) {
    let mut put = table.client().put_item().table_name(table.name());
    for (name, value) in attributes {
        put = put.item(*name, S((*value).into()));
    }
    put.send().await.unwrap();
}

#[test]
fn types_are_listed_in_variant_order() {
    assert_eq!(
        AppItem::TYPES,
        ["TS_ORG", "TS_MEMBER", "TS_TOKEN", "TS_PLAN"]
    );
    assert_eq!(SharedItem::TYPES, ["TS_PLAN", "TS_FLAG"]);
    assert_eq!(<AppItem as TableSchema>::NAME, "AppItem");
    let plan = AppItem::Plan(Plan {
        id: "p".into(),
        price: 1,
    });
    assert_eq!(plan.entity_type(), "TS_PLAN");
}

#[tokio::test]
async fn declare_declares_every_entity_for_batch_writes() {
    let local = DynamoDbLocal::shared().unwrap();
    let name = singletable_local::unique_table_name("table-schema-declare");
    let declared = SharedItem::declare(Table::builder(local.client().await, &name)).build();
    let bare = Table::builder(local.client().await, &name).build();
    let plan = Plan {
        id: "p".into(),
        price: 1,
    };
    let flag = Flag {
        name: "f".into(),
        on: true,
    };
    let mut batch = BatchWrite::new(&declared);
    batch.put(&plan).unwrap().put(&flag).unwrap();
    let refused = BatchWrite::new(&bare).put(&plan).map(drop);
    assert!(
        matches!(
            refused,
            Err(Error::InvalidRequest {
                entity: "TS_PLAN",
                ..
            })
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn every_entitys_items_decode_from_a_raw_scan() {
    let table = table().await;
    let (org, members, token) = tenant::scope("a", async {
        let org = create_org(&table, "o1").await;
        let members = vec![
            create_member(&table, "o1", "m1").await,
            create_member(&table, "o1", "m2").await,
        ];
        let token = create_token(&table, "t1", Duration::hours(1)).await;
        (org, members, token)
    })
    .await;
    let plan = create_plan(&table, "basic").await;

    let items = raw_items(&table).await;
    assert_eq!(items.len(), 5);
    let mut decoded = Vec::new();
    for item in items {
        let item_type = item["_type"].as_s().unwrap().clone();
        let value = tenant::scope("a", async { AppItem::decode(item, &table) })
            .await
            .unwrap();
        assert_eq!(value.entity_type(), item_type);
        decoded.push(value);
    }
    let expected = [
        AppItem::Org(org),
        AppItem::Member(members[0].clone()),
        AppItem::Member(members[1].clone()),
        AppItem::Token(token),
        AppItem::Plan(plan),
    ];
    for value in &expected {
        assert!(decoded.contains(value), "{value:?} is decoded");
    }
    assert_eq!(decoded.len(), expected.len());
}

#[tokio::test]
async fn decode_checks_the_tenant_as_the_entitys_own_decode_does() {
    let table = table().await;
    tenant::scope("a", create_org(&table, "o1")).await;
    create_plan(&table, "basic").await;
    let items = raw_items(&table).await;
    let org_item = items
        .iter()
        .find(|i| i["_type"].as_s().unwrap() == "TS_ORG");
    let plan_item = items
        .iter()
        .find(|i| i["_type"].as_s().unwrap() == "TS_PLAN");
    let (org_item, plan_item) = (org_item.unwrap().clone(), plan_item.unwrap().clone());

    let in_b = tenant::scope("b", async { AppItem::decode(org_item.clone(), &table) }).await;
    assert!(
        matches!(&in_b, Err(Error::TenantMismatch { entity: "TS_ORG", expected, found })
            if expected == "b" && found == "a"),
        "{in_b:?}"
    );
    let outside = AppItem::decode(org_item, &table);
    assert!(
        matches!(outside, Err(Error::MissingTenant { entity: "TS_ORG" })),
        "{outside:?}"
    );
    // Shared data decodes in any scope, and outside every scope.
    let plan = tenant::scope("b", async { AppItem::decode(plan_item.clone(), &table) }).await;
    assert!(matches!(plan, Ok(AppItem::Plan(_))), "{plan:?}");
    assert!(matches!(
        AppItem::decode(plan_item, &table),
        Ok(AppItem::Plan(_))
    ));
}

#[tokio::test]
async fn an_item_of_another_type_is_unknown_and_named() {
    let table = table().await;
    put_raw(
        &table,
        &[
            ("pk", "INVOICE#1"),
            ("sk", "#INVOICE"),
            ("_type", "INVOICE"),
        ],
    )
    .await;
    put_raw(&table, &[("pk", "LOOSE#1"), ("sk", "#LOOSE")]).await;
    let mut errors: Vec<_> = raw_items(&table)
        .await
        .into_iter()
        .map(|item| AppItem::decode(item, &table).unwrap_err())
        .collect();
    errors.sort_by_key(|e| e.to_string());
    match &errors[..] {
        [invoice, loose] => {
            assert!(
                matches!(invoice, Error::UnknownType { schema: "AppItem", key, found: Some(found), expected }
                    if found == "INVOICE" && key.pk == "INVOICE#1" && *expected == AppItem::TYPES),
                "{invoice:?}"
            );
            assert!(
                invoice.to_string().contains("`_type` `INVOICE`"),
                "{invoice}"
            );
            assert!(
                matches!(loose, Error::UnknownType { found: None, key, .. } if key.pk == "LOOSE#1"),
                "{loose:?}"
            );
            assert!(loose.to_string().contains("no `_type`"), "{loose}");
        }
        other => panic!("two errors expected, got {other:?}"),
    }
}

/// Tenant `a`: one organization, two live members and one deleted, one live token and one
/// expired. Tenant `b`: two organizations and one member. Shared: two plans. Others: an item of
/// a type outside the schema, and an organization whose field names tenant `a` but whose key
/// lies in tenant `b`'s key space.
async fn populate(table: &Table) {
    tenant::scope("a", async {
        create_org(table, "o1").await;
        for id in ["m1", "m2", "m3"] {
            create_member(table, "o1", id).await;
        }
        Member::delete(
            table,
            MemberKey {
                org_id: "o1",
                id: "m3",
            },
        )
        .await
        .unwrap();
        create_token(table, "live", Duration::hours(1)).await;
        create_token(table, "stale", -Duration::minutes(5)).await;
    })
    .await;
    tenant::scope("b", async {
        create_org(table, "o1").await;
        create_org(table, "o2").await;
        create_member(table, "o2", "m1").await;
    })
    .await;
    create_plan(table, "basic").await;
    create_plan(table, "pro").await;
    put_raw(
        table,
        &[
            ("pk", "INVOICE#1"),
            ("sk", "#INVOICE"),
            ("_type", "INVOICE"),
        ],
    )
    .await;
    put_raw(
        table,
        &[
            ("pk", "TS#b#ORG#forged"),
            ("sk", "#ORG"),
            ("_type", "TS_ORG"),
            ("tenantId", "a"),
            ("id", "forged"),
            ("displayName", "Forged"),
        ],
    )
    .await;
}

#[tokio::test]
async fn counts_in_a_tenant_scope_are_that_tenants() {
    let table = table().await;
    populate(&table).await;
    let count = || {
        AppItem::count_by_type(&table)
            .segments(3)
            .page_size(2)
            .send()
    };
    let a = tenant::scope("a", count()).await.unwrap();
    assert_eq!(
        a,
        counts(&[
            ("TS_ORG", 1),
            ("TS_MEMBER", 2),
            ("TS_TOKEN", 1),
            ("TS_PLAN", 2)
        ])
    );
    let b = tenant::scope("b", count()).await.unwrap();
    assert_eq!(
        b,
        counts(&[
            ("TS_ORG", 2),
            ("TS_MEMBER", 1),
            ("TS_TOKEN", 0),
            ("TS_PLAN", 2)
        ])
    );
    let c = tenant::scope("c", count()).await.unwrap();
    assert_eq!(
        c,
        counts(&[
            ("TS_ORG", 0),
            ("TS_MEMBER", 0),
            ("TS_TOKEN", 0),
            ("TS_PLAN", 2)
        ])
    );
}

#[tokio::test]
async fn counts_across_tenants_are_every_tenants() {
    let table = table().await;
    populate(&table).await;
    let every = tenant::across_tenants(
        "test: counts of every tenant",
        AppItem::count_by_type(&table).segments(2).send(),
    )
    .await
    .unwrap();
    // The forged organization is an organization item, whoever it names.
    assert_eq!(
        every,
        counts(&[
            ("TS_ORG", 4),
            ("TS_MEMBER", 3),
            ("TS_TOKEN", 1),
            ("TS_PLAN", 2)
        ])
    );
    let one_segment = tenant::across_tenants("test", AppItem::count_by_type(&table).send())
        .await
        .unwrap();
    assert_eq!(one_segment, every);
}

#[tokio::test]
async fn counting_tenant_scoped_items_outside_a_scope_is_refused_before_any_request() {
    let table = table().await;
    populate(&table).await;
    let (result, requests) = count_requests(AppItem::count_by_type(&table).send()).await;
    assert!(
        matches!(result, Err(Error::MissingTenant { entity: "TS_ORG" })),
        "{result:?}"
    );
    assert_eq!(requests, 0);
    let (counted, requests) =
        count_requests(tenant::scope("a", AppItem::count_by_type(&table).send())).await;
    assert!(counted.is_ok());
    assert_eq!(requests, 4, "one scan per segment");
}

#[tokio::test]
async fn a_schema_of_shared_entities_counts_without_a_scope() {
    let table = table_with("table-schema-shared", SharedItem::declare).await;
    create_plan(&table, "basic").await;
    Flag::create(
        &table,
        NewFlag {
            name: "beta".into(),
            on: true,
        },
    )
    .await
    .unwrap();
    tenant::scope("a", create_org(&table, "o1")).await;
    let shared = SharedItem::count_by_type(&table).send().await.unwrap();
    assert_eq!(shared, counts(&[("TS_PLAN", 1), ("TS_FLAG", 1)]));
    let in_scope = tenant::scope("a", SharedItem::count_by_type(&table).send())
        .await
        .unwrap();
    assert_eq!(in_scope, shared);
}

#[tokio::test]
async fn a_table_of_tenant_scoped_entities_refuses_a_schema_with_shared_ones() {
    let table = table_with("table-schema-strict", |b| {
        AppItem::declare(b).require_tenant_scope()
    })
    .await;
    let (result, requests) =
        count_requests(tenant::scope("a", AppItem::count_by_type(&table).send())).await;
    assert!(
        matches!(
            result,
            Err(Error::InvalidRequest {
                entity: "TS_PLAN",
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(requests, 0);
}
