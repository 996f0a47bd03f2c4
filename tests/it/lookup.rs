//! Lookups: an index without the tenant in its key finds the owning tenant and key of a value
//! before any tenant scope exists, and reads none of the item's data.

use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, Error, Found};

use crate::count_requests;
use crate::projection::tapped_table;

#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "LOOKUP_KEY",
    pk = "TENANT#<tenant_id>#KEY#<id>",
    sk = "#METADATA",
    soft_delete,
    index(
        name = "GSI1",
        query = "by_hash",
        pk = "KEYHASH#<hash>",
        sk = "KEY#<id>",
        lookup
    )
)]
#[serde(rename_all = "camelCase")]
pub struct LookupKey {
    #[entity(tenant)]
    pub tenant_id: String,
    pub id: String,
    pub hash: String,
    pub secret_note: String,
}

fn new_key(tenant_id: &str, id: &str, hash: &str) -> NewLookupKey {
    NewLookupKey {
        id: id.into(),
        hash: hash.into(),
        secret_note: format!("secret of {tenant_id}"),
    }
}

#[tokio::test]
async fn a_lookup_finds_the_tenant_and_key_without_a_scope_and_reads_no_data() {
    let (table, wiretap) = tapped_table("lookup").await;
    for (tenant_id, id, hash) in [("t1", "k1", "h-one"), ("t2", "k2", "h-two")] {
        let new = new_key(tenant_id, id, hash);
        tenant::scope(tenant_id, LookupKey::create(&table, new))
            .await
            .unwrap();
    }
    wiretap.take();

    let found = LookupKey::by_hash(&table, LookupKeyByHash { hash: "h-two" })
        .one()
        .await
        .unwrap()
        .expect("the value is held");
    assert_eq!(found.tenant.as_ref().map(|t| t.as_str()), Some("t2"));
    assert_eq!(found.key.pk, "TENANT#t2#KEY#k2");
    assert_eq!(found.key.sk, "#METADATA");

    // What reached the server, and what came back: keys only, never the item's fields.
    let exchanges = wiretap.take();
    assert_eq!(exchanges.len(), 1, "{exchanges:?}");
    let exchange = &exchanges[0];
    assert!(
        exchange.request.contains("\"IndexName\":\"GSI1\""),
        "{exchange:?}"
    );
    assert!(
        exchange.request.contains("ProjectionExpression"),
        "{exchange:?}"
    );
    assert!(
        exchange.response.contains("TENANT#t2#KEY#k2"),
        "{exchange:?}"
    );
    for field in ["secret", "secretNote", "h-two", "hash"] {
        assert!(!exchange.response.contains(field), "{field}: {exchange:?}");
    }

    // Reading the item is a read in its tenant's scope, and only there.
    let outside = found.get(&table).await;
    assert!(
        matches!(outside, Err(Error::MissingTenant { .. })),
        "{outside:?}"
    );
    let other = tenant::scope("t1", found.get(&table)).await;
    assert!(
        matches!(other, Err(Error::TenantMismatch { .. })),
        "{other:?}"
    );
    let item = tenant::scope("t2", found.get(&table))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item.secret_note, "secret of t2");

    let none = LookupKey::by_hash(&table, LookupKeyByHash { hash: "h-none" })
        .all()
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn a_lookup_skips_deleted_items_and_one_refuses_two_holders() {
    let (table, _) = tapped_table("lookup-two").await;
    for (tenant_id, id) in [("t1", "a"), ("t2", "b"), ("t3", "c")] {
        let new = new_key(tenant_id, id, "shared");
        tenant::scope(tenant_id, LookupKey::create(&table, new))
            .await
            .unwrap();
    }
    let lookup = || LookupKey::by_hash(&table, LookupKeyByHash { hash: "shared" });
    let mut all: Vec<Found<LookupKey>> = lookup().all().await.unwrap();
    all.sort_by(|a, b| a.key.pk.cmp(&b.key.pk));
    let tenants: Vec<&str> = all
        .iter()
        .map(|f| f.tenant.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(tenants, ["t1", "t2", "t3"]);
    let two = lookup().one().await;
    assert!(matches!(two, Err(Error::InvalidRequest { .. })), "{two:?}");

    tenant::scope("t1", LookupKey::delete(&table, LookupKeyKey { id: "a" }))
        .await
        .unwrap();
    tenant::scope("t3", LookupKey::purge(&table, LookupKeyKey { id: "c" }))
        .await
        .unwrap();
    let left = lookup().one().await.unwrap().expect("one holder is left");
    assert_eq!(left.tenant.unwrap().as_str(), "t2");
}

#[tokio::test]
async fn a_lookup_is_one_request_in_any_scope() {
    let (table, _) = tapped_table("lookup-scope").await;
    let new = new_key("t1", "k1", "h1");
    tenant::scope("t1", LookupKey::create(&table, new))
        .await
        .unwrap();
    // In another tenant's scope and across tenants, a lookup answers the same, in one request.
    let lookup = || async {
        LookupKey::by_hash(&table, LookupKeyByHash { hash: "h1" })
            .one()
            .await
            .unwrap()
            .unwrap()
    };
    let (in_other, requests) = count_requests(tenant::scope("t9", lookup())).await;
    assert_eq!(requests, 1);
    let across = tenant::across_tenants("test", lookup()).await;
    assert_eq!(in_other, across);
    assert_eq!(in_other.tenant.unwrap().as_str(), "t1");
}
