//! DynamoBao's multi-tenancy patterns (seed 004) with singletable's tenant scope, the
//! counterpart of its `TenantContext.runWithTenant`: every operation on a tenant-scoped entity
//! runs for the tenant of the scope it is awaited in, and fails without one.
//!
//! - [`lambda`]: the seed's Lambda handler, event in and response out, the tenant taken from
//!   the authorizer (a header only picks among the tenants it allows). The seed's Express
//!   middleware is `examples/tenancy.rs`: a tower layer that opens the scope per request.
//! - [`jobs`]: the seed's cron job over all tenants (a nightly usage rollup that also deletes
//!   expired subscriptions), listing the tenants in `tenant::across_tenants` and working on each
//!   in `tenant::as_tenant`, several at once; and its admin `compareTenants`.
//! - [`testing`]: the seed's test isolation, a fresh tenant per test whose items are all deleted
//!   when the test ends (`TestTenant`).
//!
//! `cargo run --example patterns` starts DynamoDB Local (Java 17 and npm needed) or uses the
//! one at `DYNAMODB_ENDPOINT`, runs [`demo::run`] on a fresh table and prints what happened;
//! `tests/it/patterns.rs` checks the same numbers and uses `TestTenant` for its own tests.
//!
//! The name is the seed's: these are its integration patterns, one module each.

mod demo;
mod jobs;
mod lambda;
mod model;
mod testing;

use singletable::Table;
use singletable_local::DynamoDbLocal;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let local = DynamoDbLocal::shared()?;
    let name = singletable_local::unique_table_name("patterns");
    let table = model::table(Table::builder(local.client().await, name));
    table.create_table().await?;
    eprintln!("table `{}` at {}", table.name(), local.endpoint());

    let report = demo::run(&table).await?;
    println!("Lambda handler (tenant from the authorizer):");
    for (what, status, body) in &report.responses {
        println!("  {what:<32} -> {status} {body}");
    }
    println!(
        "Test tenant: saw {} users, cleanup deleted {} items, {} left",
        report.test_tenant_users, report.test_tenant_deleted, report.test_tenant_left
    );
    for (night, rollups) in [
        ("first", &report.first_night),
        ("second", &report.second_night),
    ] {
        println!(
            "Nightly job, {night} run over {} tenants (listed across tenants, each rolled up \
             in its own scope):",
            rollups.len()
        );
        for r in rollups.iter() {
            let endpoints: Vec<String> = r
                .by_endpoint
                .iter()
                .map(|(endpoint, n)| format!("{endpoint} {n}"))
                .collect();
            println!(
                "  {:<8} {} calls on {}, {} ms [{}]; expired subscriptions deleted: {}",
                r.tenant,
                r.calls,
                demo::DAY,
                r.total_ms,
                endpoints.join(", "),
                r.expired_deleted
            );
        }
    }
    let (a, b) = &report.comparison;
    println!("compareTenants:");
    for stats in [a, b] {
        println!(
            "  {:<8} {} active users, {} active subscriptions",
            stats.tenant, stats.active_users, stats.active_subscriptions
        );
    }
    Ok(())
}
