//! The audit trail with soft delete: every change of a document is recorded with who made it
//! and its old and new values, in the same transaction as the change; a deleted document sits
//! in the trash until it is restored or purged.
//!
//! `cargo run --example audit` starts DynamoDB Local by itself (or uses `DYNAMODB_ENDPOINT`).

use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, AuditContext, AuditRecord};
use singletable_local::DynamoDbLocal;

tokio::task_local! {
    /// Who the current request acts for, as authentication would set it.
    static USER: String;
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "DOCUMENT",
    pk = "TENANT#<tenant_id>#FOLDER#<folder>",
    sk = "DOC#<id>",
    audit,
    soft_delete
)]
#[serde(rename_all = "camelCase")]
struct Document {
    #[entity(tenant)]
    tenant_id: String,
    folder: String,
    #[entity(autogen = uuid_v7)]
    id: String,
    title: String,
    body: String,
    #[serde(default)]
    tags: Vec<String>,
}

fn print_trail(trail: &[AuditRecord]) {
    for record in trail {
        let changes: Vec<&str> = record.changes.keys().map(String::as_str).collect();
        println!(
            "  revision {} {:<7} by {:<5} request {} changed {changes:?}",
            record.revision.map_or("-".into(), |r| r.to_string()),
            record.action.as_str(),
            record.actor.as_deref().unwrap_or("-"),
            record.request_id.as_deref().unwrap_or("-"),
        );
    }
}

/// Runs `work` as `user` of tenant `acme`.
async fn as_user<T>(user: &str, work: impl std::future::Future<Output = T>) -> T {
    USER.scope(user.to_owned(), tenant::scope("acme", work))
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let local = DynamoDbLocal::shared()?;
    let name = singletable_local::unique_table_name("audit");
    let requests = std::sync::atomic::AtomicU64::new(0);
    let table = Table::builder(local.client().await, name)
        .ttl_attribute("expiresAt")
        .audit_retention(time::Duration::days(30))
        .audit_context(move || AuditContext {
            actor: USER.try_with(Clone::clone).ok(),
            request_id: Some(format!(
                "req-{}",
                requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            )),
        })
        .build();
    table.create_table().await?;

    let new = NewDocument {
        folder: "plans".into(),
        title: "Roadmap".into(),
        body: "Q1: ship".into(),
        tags: vec!["draft".into()],
    };
    let doc = as_user("ada", Document::create(&table, new)).await?;
    let key = DocumentKey {
        folder: "plans",
        id: &doc.id,
    };
    as_user("grace", async {
        Document::update(&table, key)
            .set(Document::FIELDS.title, "Roadmap 2027")
            .append(Document::FIELDS.tags, vec!["reviewed".to_owned()])
            .send()
            .await
    })
    .await?;

    // A conditional update that does not hold changes nothing and records nothing.
    let refused = as_user("mallory", async {
        Document::update(&table, key)
            .set(Document::FIELDS.body, "gone")
            .condition(Document::FIELDS.title.eq("Something else"))
            .send()
            .await
    })
    .await;
    println!("refused update: {}", refused.unwrap_err());

    as_user("ada", Document::delete(&table, key)).await?;
    let trash = as_user(
        "ada",
        Document::trash(&table, DocumentPartition { folder: "plans" }),
    )
    .await?;
    for trashed in &trash {
        println!(
            "in the trash: {} (deleted by {:?} at {})",
            trashed.entity.title, trashed.deleted_by, trashed.deleted_at
        );
    }
    let hidden = as_user("ada", Document::get(&table, key)).await?;
    println!("get while deleted: {hidden:?}");
    let restored = as_user("grace", Document::restore(&table, key)).await?;
    println!("restored: {} {:?}", restored.title, restored.tags);

    let trail = as_user("ada", Document::audit_trail(&table, key).all()).await?;
    println!("audit trail of {}, newest first:", doc.id);
    print_trail(&trail);
    let update = trail
        .iter()
        .find(|r| r.action == singletable::AuditAction::Update)
        .ok_or("the update is recorded")?;
    println!(
        "title was {:?}, became {:?}",
        update.changes["title"].old_as::<String>()?,
        update.changes["title"].new_as::<String>()?
    );
    Ok(())
}
