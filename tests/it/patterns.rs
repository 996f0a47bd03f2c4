//! The patterns example (seed 004), checked: the Lambda handler's answers, the nightly job over
//! every tenant, the admin comparison, and the test tenant fixture, which these tests also use
//! for their own isolation.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use serde_json::json;
use singletable::prelude::*;
use singletable::{tenant, Table};
use singletable_local::DynamoDbLocal;

// The example's own code, so the test runs exactly what `cargo run --example patterns` runs.
#[path = "../../examples/patterns/demo.rs"]
#[allow(dead_code)]
mod demo;
#[path = "../../examples/patterns/jobs.rs"]
#[allow(dead_code)]
mod jobs;
#[path = "../../examples/patterns/lambda.rs"]
#[allow(dead_code)]
mod lambda;
#[path = "../../examples/patterns/model.rs"]
#[allow(dead_code)]
mod model;
#[path = "../../examples/patterns/testing.rs"]
#[allow(dead_code)]
mod testing;

use model::{AppItem, NewUser, User, UserPartition, UserStatus};
use testing::TestTenant;

async fn fresh_table(prefix: &str) -> Table {
    let local = DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let name = singletable_local::unique_table_name(prefix);
    let table = model::table(Table::builder(local.client().await, name));
    table.create_table().await.expect("table is created");
    table
}

fn rollup(
    tenant: &str,
    calls: i64,
    ms: i64,
    endpoints: &[(&str, i64)],
    expired: usize,
) -> jobs::TenantRollup {
    jobs::TenantRollup {
        tenant: tenant.into(),
        calls,
        total_ms: ms,
        by_endpoint: endpoints.iter().map(|(e, n)| (e.to_string(), *n)).collect(),
        expired_deleted: expired,
    }
}

#[tokio::test]
async fn the_demo_gives_the_seeds_numbers() {
    let table = fresh_table("patterns").await;
    let report = Box::pin(demo::run(&table)).await.unwrap();

    let statuses: Vec<(&str, u16)> = report
        .responses
        .iter()
        .map(|(what, status, _)| (*what, *status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("acme creates ada", 201),
            ("acme creates grace", 201),
            ("acme invites alan", 201),
            ("globex creates linus", 201),
            ("globex creates margaret", 201),
            ("acme creates ada again", 409),
            ("acme lists its active users", 200),
            ("a consultant picks globex", 200),
            ("a consultant picks initech", 403),
            ("a header with no authorizer", 403),
            ("no tenant at all", 400),
            ("a tenant id with the separator", 400),
        ]
    );
    let body = |what: &str| -> serde_json::Value {
        let (_, _, body) = report.responses.iter().find(|(w, ..)| *w == what).unwrap();
        serde_json::from_str(body).unwrap()
    };
    assert_eq!(
        body("acme lists its active users"),
        json!([{ "id": "ada", "name": "Ada" }, { "id": "grace", "name": "Grace" }]),
        "alan is invited, not active; globex's users are not acme's"
    );
    assert_eq!(
        body("a consultant picks globex"),
        json!([{ "id": "linus", "name": "Linus" }, { "id": "margaret", "name": "Margaret" }])
    );
    assert_eq!(
        body("no tenant at all"),
        json!({ "error": "Tenant context required" })
    );

    assert_eq!(
        (
            report.test_tenant_users,
            report.test_tenant_deleted,
            report.test_tenant_left
        ),
        (2, 3, 0),
        "two users and a call, all gone"
    );

    let first = [
        rollup("acme", 5, 1300, &[("/reports", 2), ("/users", 3)], 1),
        rollup("globex", 3, 600, &[("/billing", 2), ("/users", 1)], 1),
        rollup("initech", 0, 0, &[], 0),
    ];
    assert_eq!(report.first_night, first, "the test tenant is not listed");
    let second: Vec<_> = first
        .iter()
        .cloned()
        .map(|r| jobs::TenantRollup {
            expired_deleted: 0,
            ..r
        })
        .collect();
    assert_eq!(
        report.second_night, second,
        "the job runs again to the same result"
    );

    let (acme, globex) = &report.comparison;
    assert_eq!((acme.active_users, acme.active_subscriptions), (2, 2));
    assert_eq!((globex.active_users, globex.active_subscriptions), (2, 0));

    // One rollup item per tenant, each in its own tenant's key space.
    for tenant_id in ["acme", "globex", "initech"] {
        let key = model::DailyUsageKey { day: demo::DAY };
        let usage = tenant::scope(tenant_id, model::DailyUsage::get(&table, key))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(usage.tenant_id, tenant_id);
    }
}

#[tokio::test]
async fn concurrent_lambda_events_each_run_in_their_own_tenant() {
    let table = fresh_table("patterns-lambda").await;
    let (a, b) = (
        TestTenant::<AppItem>::new(&table),
        TestTenant::<AppItem>::new(&table),
    );
    let post = |tenant: &str, id: usize| {
        let body = json!({ "id": format!("u{id:02}"), "name": tenant, "email": "x@example.com" });
        json!({
            "httpMethod": "POST",
            "path": "/users",
            "requestContext": { "authorizer": { "tenantId": tenant } },
            "body": body.to_string(),
        })
    };
    // 20 events for each tenant, with the same user ids, interleaved and all in flight at once.
    let events: Vec<serde_json::Value> = (0..40)
        .map(|i| {
            post(
                if i % 2 == 0 {
                    a.id().as_str()
                } else {
                    b.id().as_str()
                },
                i / 2,
            )
        })
        .collect();
    let responses = futures::future::join_all(events.into_iter().map(|event| {
        let event: lambda::ApiGatewayEvent = serde_json::from_value(event).unwrap();
        lambda::handler(&table, event)
    }))
    .await;
    assert!(
        responses.iter().all(|r| r.status_code == 201),
        "{responses:?}"
    );

    for tenant in [&a, &b] {
        let users = tenant
            .scope(User::query(&table, UserPartition::default()).all())
            .await
            .unwrap();
        assert_eq!(users.len(), 20);
        assert!(users.iter().all(|u| u.name == tenant.id().as_str()));
    }

    // Cleaning one tenant up leaves the other's items.
    let b_id = b.id().clone();
    let deleted = a.cleanup().await.unwrap();
    assert_eq!(deleted.deleted["USER"], 20);
    let left = tenant::scope(b_id, User::query(&table, UserPartition::default()).count())
        .await
        .unwrap();
    assert_eq!(left, 20);
    let deleted = b.cleanup().await.unwrap();
    assert_eq!(deleted.deleted.values().sum::<u64>(), 20);
    assert!(crate::raw_items(&table).await.is_empty());
}

#[tokio::test]
async fn the_test_tenant_fixture_cleans_up_after_success_failure_and_panic() {
    let table = &fresh_table("patterns-fixture").await;
    let create = |id: &'static str| async move {
        let new = NewUser {
            id: id.into(),
            name: id.into(),
            email: format!("{id}@example.com"),
            status: UserStatus::Active,
        };
        User::create(table, new).await
    };

    let ((seen, tenant), deletion) = TestTenant::<AppItem>::with(table, |tenant| async move {
        create("u1").await?;
        create("u2").await?;
        let seen = User::query(table, UserPartition::default()).count().await?;
        Ok((seen, tenant))
    })
    .await
    .unwrap();
    assert_eq!(seen, 2);
    assert_eq!(deletion.tenant, tenant);
    let deleted: BTreeMap<&str, u64> = deletion
        .deleted
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(t, n)| (*t, *n))
        .collect();
    assert_eq!(deleted, BTreeMap::from([("USER", 2)]));

    // A test that fails: its error comes back, and its tenant is cleaned up all the same.
    let failed = TestTenant::<AppItem>::with(table, |_| async move {
        create("u1").await?;
        create("u1").await?; // already exists
        Ok(())
    })
    .await;
    assert!(
        matches!(failed, Err(Error::AlreadyExists { .. })),
        "{failed:?}"
    );

    // A test that panics: the panic goes on after the cleanup.
    let panicked = AssertUnwindSafe(TestTenant::<AppItem>::with(table, |_| async move {
        create("u1").await?;
        if create("u2").await.is_ok() {
            panic!("the test failed");
        }
        Ok(())
    }))
    .catch_unwind()
    .await;
    assert!(panicked.is_err());

    assert!(
        crate::raw_items(table).await.is_empty(),
        "no test left an item"
    );
    let tenants = tenant::across_tenants("test", AppItem::tenants(table).send())
        .await
        .unwrap();
    assert!(tenants.is_empty());
}

#[tokio::test]
async fn listing_tenants_is_refused_in_a_scope_and_the_job_opens_its_own() {
    let table = fresh_table("patterns-job").await;
    let tenant = TestTenant::<AppItem>::new(&table);
    let call = model::NewApiCall {
        day: demo::DAY.into(),
        endpoint: "/users".into(),
        duration_ms: 7,
    };
    tenant
        .scope(model::ApiCall::create(&table, call))
        .await
        .unwrap();

    // Listing tenants is cross-tenant work: refused in a tenant's scope, and outside any.
    let in_scope = tenant.scope(AppItem::tenants(&table).send()).await;
    assert!(
        matches!(in_scope, Err(Error::MissingTenant { .. })),
        "{in_scope:?}"
    );
    assert!(AppItem::tenants(&table).send().await.is_err());

    // The job opens the scopes it needs itself, from any scope.
    let rollups = tenant
        .scope(jobs::nightly(&table, demo::DAY, 2))
        .await
        .unwrap();
    assert_eq!(rollups.len(), 1);
    assert_eq!(rollups[0].tenant, tenant.id().as_str());
    assert_eq!((rollups[0].calls, rollups[0].total_ms), (1, 7));
    let deleted = tenant.cleanup().await.unwrap();
    assert_eq!(
        (deleted.deleted["API_CALL"], deleted.deleted["DAILY_USAGE"]),
        (1, 1)
    );
}
