//! TableTheory's multi-tenant SaaS platform (seed 002), in Rust on one DynamoDB table: the
//! organization is the tenant, and every item lives in its organization's key space.
//!
//! It shows
//!
//! - users in several organizations, with a membership and a role in each, and signing in by
//!   email: a `lookup` index finds every organization and membership of an email before any
//!   tenant scope exists, and each membership is then read in its own organization's scope;
//! - projects, and usage reports summed per project and billing month with a range query;
//! - API keys shown once and stored as SHA-256 hashes: a request is authenticated by hashing the
//!   presented key and looking the hash up, which names the organization and the key, read then
//!   in that organization's scope;
//! - per-key rate limits: a counter per key and minute, moved by one atomic upsert and
//!   expired by time to live, refusing the requests over the key's `rate_limit`;
//! - the seed's plans (Free, Starter, Pro: users, projects and API calls a month), enforced in
//!   the same transaction as the write they limit;
//! - the 90-day audit log of each organization, queried with the seed's filters: date range,
//!   user, action, resource type, and pages.
//!
//! `cargo run --example platform` starts DynamoDB Local (Java 17 and npm needed) or uses the
//! one at `DYNAMODB_ENDPOINT`, creates a fresh table, runs [`scenario::run`] and prints its
//! report; `tests/it/platform.rs` runs the same scenario and checks every number. The numbers
//! follow from the scenario's fixed data, so the report is the same on every run (the table's
//! name and endpoint go to stderr).

mod model;
mod scenario;
mod service;

use singletable::Table;
use singletable_local::DynamoDbLocal;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let local = DynamoDbLocal::shared()?;
    let name = singletable_local::unique_table_name("platform");
    let table = model::table(Table::builder(local.client().await, name));
    table.create_table().await?;
    eprintln!("table `{}` at {}", table.name(), local.endpoint());

    let report = scenario::run(&table, time::OffsetDateTime::now_utc()).await?;
    print(&report);
    Ok(())
}

fn print(report: &scenario::Report) {
    println!("Organizations (tenants):");
    for o in &report.organizations {
        let limits = o.plan.limits();
        let of = |limit: Option<i64>| limit.map_or("unlimited".to_owned(), |l| l.to_string());
        println!(
            "  {:<8} {:<10} plan {:<8} users {}/{}  projects {}/{}  API keys {} (+{} revoked)",
            o.id,
            o.name,
            o.plan.as_str(),
            o.users,
            of(limits.users),
            o.projects,
            of(limits.projects),
            o.live_keys,
            o.revoked_keys
        );
    }
    println!(
        "Memberships: {} ({} people belong to two organizations)",
        report.memberships, report.people_in_two_organizations
    );

    println!(
        "Sign-in by email (a lookup with no tenant scope; each role read in its organization):"
    );
    for sign_in in &report.sign_ins {
        let orgs: Vec<String> = sign_in
            .memberships
            .iter()
            .map(|(org, role)| format!("{org} ({})", role.as_str()))
            .collect();
        let orgs = if orgs.is_empty() {
            "no organization".to_owned()
        } else {
            orgs.join(", ")
        };
        println!("  {:<22} {orgs}", sign_in.email);
    }

    println!("Refused (nothing written):");
    for r in &report.refusals {
        println!(
            "  {} {:<8} {}: {}",
            r.status, r.organization, r.attempt, r.reason
        );
    }

    println!("Monthly usage (one range query per project and month, summed):");
    for month in &report.usage {
        let allowance = month
            .allowance
            .map_or("unlimited".to_owned(), |a| a.to_string());
        println!(
            "  {:<8} {}  API calls metered {}/{allowance}",
            month.organization, month.month, month.metered_api_calls
        );
        for project in &month.projects {
            println!(
                "    {:<8} {:>8} API calls {:>6} compute minutes  (usage records: {})",
                project.project_id,
                project.total(model::UsageKind::ApiCalls),
                project.total(model::UsageKind::ComputeMinutes),
                project.records
            );
        }
    }

    let r = &report.requests;
    println!(
        "API requests: {} accepted, {} rate limited ({} in one minute on acme's key of 5 a \
         minute, then one in the next minute), {} unauthorized (a revoked and a wrong key)",
        r.accepted,
        r.rate_limited,
        scenario::BURST,
        r.unauthorized
    );
    for (organization, projects) in &r.projects_seen {
        println!("  {organization}'s key sees {projects} projects");
    }
    let (organization, revoked) = &report.revoked;
    println!(
        "  {organization}'s key \"{}\" was revoked: its secret is refused, and it stays in the trash",
        revoked.key.name
    );
    println!(
        "API keys stored as SHA-256 hashes with the prefix `{}`; each secret was shown once",
        report
            .issued
            .first()
            .map_or("", |(_, issued)| issued.key.key_prefix.as_str())
    );

    println!("Audit log, kept 90 days (newest first; filters of the seed):");
    for (organization, log) in &report.audit {
        let join = |counts: Vec<String>| counts.join(", ");
        println!(
            "  {organization}: {} records, {} in the run's date range, {} since the checkpoint",
            log.total, log.between, log.since_checkpoint
        );
        println!(
            "    by user: {}",
            join(
                log.by_actor
                    .iter()
                    .map(|(a, n)| format!("{a} {n}"))
                    .collect()
            )
        );
        println!(
            "    by action: {}",
            join(
                log.by_action
                    .iter()
                    .map(|(a, n)| format!("{a} {n}"))
                    .collect()
            )
        );
        println!(
            "    by resource type: {}",
            join(
                log.by_type
                    .iter()
                    .map(|(t, n)| format!("{t} {n}"))
                    .collect()
            )
        );
        let pages: Vec<String> = log.pages.iter().map(usize::to_string).collect();
        println!(
            "    projects the owner created: {}; pages of 5: {}",
            log.projects_created_by_owner,
            pages.join(" + ")
        );
    }
}
