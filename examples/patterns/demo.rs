//! The run `cargo run --example patterns` prints and `tests/it/patterns.rs` checks: Lambda
//! events for three tenants, a test tenant that leaves nothing behind, two nights of the
//! background job, and the admin comparison.

use serde_json::json;
use singletable::prelude::*;
use singletable::{tenant, Result};

use super::jobs::{self, TenantRollup, TenantStats};
use super::lambda::{self, ApiGatewayEvent};
use super::model::*;
use super::testing::TestTenant;

/// The day the nightly job rolls up.
pub const DAY: &str = "2026-03-14";

/// What the run found.
#[derive(Debug, Clone)]
pub struct Report {
    /// Each event, its response's status and body.
    pub responses: Vec<(&'static str, u16, String)>,
    /// The test tenant: users it saw, items its cleanup deleted, its items left after.
    pub test_tenant_users: usize,
    pub test_tenant_deleted: u64,
    pub test_tenant_left: usize,
    /// The tenants the nightly job found, and its rollups on two nights.
    pub first_night: Vec<TenantRollup>,
    pub second_night: Vec<TenantRollup>,
    pub comparison: (TenantStats, TenantStats),
}

/// The Lambda events: what each is, and the event.
pub fn events() -> Vec<(&'static str, serde_json::Value)> {
    let authorized = |tenant: &str| json!({ "authorizer": { "tenantId": tenant } });
    let post = |tenant: &str, id: &str, name: &str, invited: bool| {
        let body = json!({ "id": id, "name": name, "email": format!("{id}@{tenant}.example"), "invited": invited });
        json!({
            "httpMethod": "POST",
            "path": "/users",
            "requestContext": authorized(tenant),
            "body": body.to_string(),
        })
    };
    let list = |context: serde_json::Value, headers: serde_json::Value| {
        json!({
            "httpMethod": "GET",
            "path": "/users",
            "queryStringParameters": { "status": "active" },
            "headers": headers,
            "requestContext": context,
        })
    };
    let consultant = json!({ "authorizer": { "tenants": "acme,globex" } });
    vec![
        ("acme creates ada", post("acme", "ada", "Ada", false)),
        ("acme creates grace", post("acme", "grace", "Grace", false)),
        ("acme invites alan", post("acme", "alan", "Alan", true)),
        (
            "globex creates linus",
            post("globex", "linus", "Linus", false),
        ),
        (
            "globex creates margaret",
            post("globex", "margaret", "Margaret", false),
        ),
        ("acme creates ada again", post("acme", "ada", "Ada", false)),
        (
            "acme lists its active users",
            list(authorized("acme"), json!({})),
        ),
        (
            "a consultant picks globex",
            list(consultant.clone(), json!({ "x-tenant-id": "globex" })),
        ),
        (
            "a consultant picks initech",
            list(consultant, json!({ "x-tenant-id": "initech" })),
        ),
        (
            "a header with no authorizer",
            list(json!({}), json!({ "x-tenant-id": "acme" })),
        ),
        ("no tenant at all", list(json!({}), json!({}))),
        (
            "a tenant id with the separator",
            list(authorized("acme#USERS"), json!({})),
        ),
    ]
}

/// API calls: tenant, day, endpoint, milliseconds. One of acme's is of the day before.
pub const CALLS: [(&str, &str, &str, i64); 9] = [
    ("acme", DAY, "/users", 120),
    ("acme", DAY, "/users", 80),
    ("acme", DAY, "/users", 100),
    ("acme", DAY, "/reports", 450),
    ("acme", DAY, "/reports", 550),
    ("acme", "2026-03-13", "/users", 90),
    ("globex", DAY, "/users", 60),
    ("globex", DAY, "/billing", 200),
    ("globex", DAY, "/billing", 340),
];

/// Subscriptions: tenant, id, plan, status.
pub const SUBSCRIPTIONS: [(&str, &str, &str, SubscriptionStatus); 5] = [
    ("acme", "s1", "pro", SubscriptionStatus::Active),
    ("acme", "s2", "team", SubscriptionStatus::Active),
    ("acme", "s3", "starter", SubscriptionStatus::Expired),
    ("globex", "s1", "starter", SubscriptionStatus::Expired),
    ("initech", "s1", "free", SubscriptionStatus::Active),
];

/// Runs everything on `table` (fresh).
pub async fn run(table: &Table) -> Result<Report> {
    let mut responses = Vec::new();
    for (what, event) in events() {
        let event: ApiGatewayEvent =
            serde_json::from_value(event).map_err(|e| Error::InvalidRequest {
                entity: "EVENT",
                reason: e.to_string(),
            })?;
        let response = Box::pin(lambda::handler(table, event)).await;
        responses.push((what, response.status_code, response.body));
    }

    // A test's tenant: its items are deleted when it ends.
    let (test_tenant_users, deletion) = Box::pin(TestTenant::<AppItem>::with(table, |_| async {
        for id in ["t1", "t2"] {
            let new = NewUser {
                id: id.into(),
                name: id.into(),
                email: format!("{id}@test.example"),
                status: UserStatus::Active,
            };
            User::create(table, new).await?;
        }
        let call = NewApiCall {
            day: DAY.into(),
            endpoint: "/users".into(),
            duration_ms: 5,
        };
        ApiCall::create(table, call).await?;
        User::query(table, UserPartition::default()).count().await
    }))
    .await?;
    let test_tenant_deleted = deletion.deleted.values().sum();
    let prefix = format!("TENANT#{}#", deletion.tenant);
    let test_tenant_left = items_under(table, &prefix).await?;

    for (tenant_id, day, endpoint, duration_ms) in CALLS {
        let call = NewApiCall {
            day: day.into(),
            endpoint: endpoint.into(),
            duration_ms,
        };
        tenant::scope(tenant_id, ApiCall::create(table, call)).await?;
    }
    for (tenant_id, id, plan, status) in SUBSCRIPTIONS {
        let new = NewSubscription {
            id: id.into(),
            plan: plan.into(),
            status,
        };
        tenant::scope(tenant_id, Subscription::create(table, new)).await?;
    }

    let first_night = Box::pin(jobs::nightly(table, DAY, 4)).await?;
    let second_night = Box::pin(jobs::nightly(table, DAY, 4)).await?;
    let comparison = Box::pin(jobs::compare_tenants(table, "acme", "globex")).await?;
    Ok(Report {
        responses,
        test_tenant_users,
        test_tenant_deleted,
        test_tenant_left,
        first_night,
        second_night,
        comparison,
    })
}

/// How many items of the table have a partition key starting with `prefix` (a raw scan, as an
/// operator would check).
pub async fn items_under(table: &Table, prefix: &str) -> Result<usize> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let mut count = 0;
    let mut start = None;
    loop {
        let page = table
            .client()
            .scan()
            .table_name(table.name())
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| Error::InvalidRequest {
                entity: "TABLE",
                reason: format!("scan: {e}"),
            })?;
        count += page
            .items()
            .iter()
            .filter(|item| match item.get(table.partition_key()) {
                Some(AttributeValue::S(pk)) => pk.starts_with(prefix),
                _ => false,
            })
            .count();
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(count);
        }
    }
}
