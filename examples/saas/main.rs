//! The multi-tenant SaaS platform of dynamodb-provider's advanced patterns, in Rust.
//!
//! `cargo run --example saas` starts DynamoDB Local by itself (Java 17 and npm needed), or uses
//! the one at `DYNAMODB_ENDPOINT`, creates a table, runs the seed's `example()` for one tenant
//! as user `alice`, and prints what it finds and the team's audit trail.

mod platform;

use singletable::{tenant, Table};
use singletable_local::DynamoDbLocal;
use time::format_description::well_known::Rfc3339;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let local = DynamoDbLocal::shared()?;
    let name = singletable_local::unique_table_name("saas");
    let table = platform::table(Table::builder(local.client().await, name));
    table.create_table().await?;
    println!("table `{}` at {}", table.name(), local.endpoint());

    let summary = platform::USER
        .scope(
            "alice".to_owned(),
            tenant::scope(
                "tenant-1",
                platform::example(&table, &mut |line| println!("{line}")),
            ),
        )
        .await?;

    println!(
        "Summary: {} members in the team, {} team in the organization, {} members in total, \
         {} active project, memberCount {} after two additions and {} after one removal, plan {:?}",
        summary.team_members,
        summary.organization_teams,
        summary.total_members,
        summary.active_projects,
        summary.member_count_after_two_additions,
        summary.member_count_after_one_removal,
        summary.organization.plan,
    );
    println!("Team audit trail, newest first:");
    for record in &summary.team_trail {
        let changes: Vec<String> = record
            .changes
            .iter()
            .map(|(field, change)| {
                format!("{field}: {} -> {}", show(&change.old), show(&change.new))
            })
            .collect();
        println!(
            "  {} {:<6} by {} (revision {}) {}",
            record.timestamp.format(&Rfc3339)?,
            record.action.as_str(),
            record.actor.as_deref().unwrap_or("-"),
            record.revision.map_or("-".into(), |r| r.to_string()),
            changes.join(", ")
        );
    }
    let inspect = format!(
        "cargo run -p singletable-cli -- --endpoint {} inspect --table {} --file examples/saas/table.toml",
        local.endpoint(),
        table.name()
    );
    if std::env::var_os("DYNAMODB_ENDPOINT").is_some() {
        println!("Inspect the table: {inspect}");
    } else {
        // This process's DynamoDB Local keeps its tables in memory and stops with it.
        println!(
            "To keep the table for `singletable inspect`, run `cargo run -p singletable-cli -- local` \
             and this example again with DYNAMODB_ENDPOINT set to the endpoint it prints."
        );
    }
    Ok(())
}

/// A stored value in short.
fn show(value: &Option<aws_sdk_dynamodb::types::AttributeValue>) -> String {
    use aws_sdk_dynamodb::types::AttributeValue;
    match value {
        None => "(none)".into(),
        Some(AttributeValue::S(s) | AttributeValue::N(s)) => s.clone(),
        Some(other) => format!("{other:?}"),
    }
}
