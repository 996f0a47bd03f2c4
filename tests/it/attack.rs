//! Tenant A attacks tenant B through every public operation, and nothing reaches B.
//!
//! Every request the client sends passes an SDK interceptor that keeps its body. From A's
//! scope, with no scope, and with crafted values (the separator, empty, NUL, newline, 2 KB,
//! look-alikes of the separator, B's raw partitions, B's cursors), each operation is tried;
//! afterwards no request body holds B's tenant id, B's items are byte-identical, and a probe
//! of B's partition answers the same whether or not B's item matches it.
//!
//! Operations tried: `create`, `get`, `get_including_deleted`, `put`, `put_if`, `update`
//! (typed and untyped: `set`, `add`, `remove`), `delete`, `delete_if`, `restore`, `purge`,
//! `trash`, `empty_trash`, `query` with `all`/`page`/`stream` and a range, an index query,
//! `list_all`, `list_by_creation`, `Query::partition` and `Query::index` with raw partition
//! texts and filters, `audit_trail`, `AuditTrail::by_id`, `BatchWrite`, `BatchGet`,
//! `Transaction` (`create`, `check`, and actions queued in one scope and sent in another),
//! `Backfill`, and a collection's `get`.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, AuditTrail, BatchGet, BatchWrite, Later, Query, Transaction};

use crate::model::*;
use crate::raw_items;

/// B's tenant id: no request made for A (or for no one) may carry it.
const B: &str = "tenant-b-7f3a";
const A: &str = "tenant-a-19c2";

/// An audited, soft-deleted, tenant-scoped entity, for the paths only such entities have.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "SECRET",
    pk = "TENANT#<tenant_id>#SECRET#<id>",
    sk = "#SECRET",
    audit,
    soft_delete
)]
struct Secret {
    #[entity(tenant)]
    tenant_id: String,
    id: String,
    body: String,
}

/// A tenant-scoped collection root and its members, for collection reads.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "VAULT",
    pk = "TENANT#<tenant_id>#VAULT#<vault_id>",
    sk = "#VAULT"
)]
struct Vault {
    #[entity(tenant)]
    tenant_id: String,
    #[entity(param = "vault_id")]
    id: String,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "ENTRY",
    pk = "TENANT#<tenant_id>#VAULT#<vault_id>",
    sk = "ENTRY#<id>"
)]
struct VaultEntry {
    #[entity(tenant)]
    tenant_id: String,
    vault_id: String,
    id: String,
}

#[derive(Collection, Debug)]
#[collection(root = Vault)]
struct VaultWithEntries {
    vault: Vault,
    entries: Vec<VaultEntry>,
}

/// Keeps the body of every request the client sends.
#[derive(Debug, Clone, Default)]
struct Wiretap(Arc<Mutex<Vec<String>>>);

impl Intercept for Wiretap {
    fn name(&self) -> &'static str {
        "Wiretap"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let body = context
            .request()
            .body()
            .bytes()
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
            .unwrap_or_default();
        self.0.lock().unwrap().push(body);
        Ok(())
    }
}

impl Wiretap {
    fn clear(&self) {
        self.0.lock().unwrap().clear();
    }

    fn bodies(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A fresh table on a client with the wiretap, holding B's notes and secret.
async fn setup() -> (Table, Wiretap) {
    let local = singletable_local::DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let wiretap = Wiretap::default();
    let client = local.client().await;
    let config = client
        .config()
        .to_builder()
        .interceptor(wiretap.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let table = declare(
        Table::builder(client, singletable_local::unique_table_name("attack"))
            .type_index("TypeIndex")
            .tenant_type_index("TenantTypeIndex")
            .index("GSI1", "gsi1pk", "gsi1sk")
            .entity::<Secret>()
            .entity::<Vault>()
            .entity::<VaultEntry>(),
    )
    .build();
    table.create_table().await.expect("table is created");
    tenant::scope(B, async {
        for id in ["1", "2"] {
            let new = NewNote {
                id: id.into(),
                title: "plans".into(),
                body: "the secret".into(),
            };
            Note::create(&table, new).await.unwrap();
        }
        let secret = NewSecret {
            id: "s".into(),
            body: "the secret".into(),
        };
        Secret::create(&table, secret).await.unwrap();
        let vault = Vault {
            tenant_id: B.into(),
            id: "1".into(),
        };
        vault.put(&table).await.unwrap();
        let entry = VaultEntry {
            tenant_id: B.into(),
            vault_id: "1".into(),
            id: "e".into(),
        };
        entry.put(&table).await.unwrap();
    })
    .await;
    wiretap.clear();
    (table, wiretap)
}

/// B's items as stored, each written out in a fixed order.
async fn b_items(table: &Table) -> Vec<String> {
    let mut items: Vec<String> = raw_items(table)
        .await
        .into_iter()
        .map(|item| canonical(&AttributeValue::M(item)))
        .filter(|item| item.contains(B))
        .collect();
    items.sort();
    items
}

/// A value written out with map entries in key order, so that equal items read equal.
fn canonical(value: &AttributeValue) -> String {
    match value {
        AttributeValue::M(map) => {
            let mut entries: Vec<_> = map
                .iter()
                .map(|(k, v)| format!("{k}={}", canonical(v)))
                .collect();
            entries.sort();
            format!("{{{}}}", entries.join(","))
        }
        AttributeValue::L(list) => {
            let items: Vec<_> = list.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        other => format!("{other:?}"),
    }
}

/// Whether a request body names a key in B's key space: a partition `TENANT#<B>#...`, or on
/// the tenant type index a partition `<B>#...`, anywhere in the request.
fn reaches_b(body: &str) -> bool {
    fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.contains(B);
    };
    let mut values = Vec::new();
    strings(&json, &mut values);
    values.iter().any(|v| {
        v.starts_with(&format!("TENANT#{B}#"))
            || (body.contains("TenantTypeIndex") && v.starts_with(&format!("{B}#")))
    })
}

/// Values an attacker puts where a key value goes.
fn crafted() -> Vec<String> {
    vec![
        format!("x#{B}"),
        format!("{B}#NOTES"),
        format!("TENANT#{B}#NOTES"),
        String::new(),
        "\0".into(),
        "a\nb".into(),
        "x".repeat(2048),
        format!("＃{B}"),
        format!("{B}\u{2003}"),
        B.to_owned(),
    ]
}

/// Every operation, run in the current scope (if any), with `value` where a key value goes and
/// B's raw partitions where raw texts go. Errors are expected; what matters is what was sent.
async fn every_operation(table: &Table, value: &str, b_cursor: &str) {
    let key = NoteKey { id: value };
    let partition = NotePartition::default();
    let _ = Note::create(
        table,
        NewNote {
            id: value.into(),
            title: value.into(),
            body: "x".into(),
        },
    )
    .await;
    let _ = Note::get(table, key).await;
    let forged = Note {
        tenant_id: B.into(),
        id: value.into(),
        title: "t".into(),
        body: "forged".into(),
    };
    let _ = forged.put(table).await;
    let _ = forged
        .put_if(table, Note::FIELDS.body.eq("the secret".to_owned()))
        .await;
    let _ = Note::update(table, key)
        .set(Note::FIELDS.body, "x")
        .send()
        .await;
    for attribute in ["tenant_id", "_type", "_tenant_type", "gsi1pk", "pk", "id"] {
        let mut raw: singletable::Update<'_, Note> = Note::update(table, NoteKey { id: "1" });
        raw.set_attribute(attribute, B);
        let _ = raw.send().await;
    }
    let mut raw = Note::update(table, key);
    raw.remove_attribute("tenant_id");
    let _ = raw.send().await;
    let _ = Note::delete(table, key).await;
    let _ = Note::delete_if(table, key, Note::FIELDS.body.eq("x".to_owned())).await;
    let _ = Note::query(table, partition).all().await;
    let _ = Note::query(table, partition).starting(value).all().await;
    let _ = Note::query(table, partition).page(usize::MAX, None).await;
    let _ = Note::query(table, partition).page(10, Some(b_cursor)).await;
    let _ = Note::query(table, partition).page(10, Some(value)).await;
    let _ = Note::query(table, partition)
        .page_size(usize::MAX)
        .limit(usize::MAX)
        .stream()
        .collect::<Vec<_>>()
        .await;
    let _ = Note::by_title(table, NoteByTitle { title: value })
        .all()
        .await;
    let _ = Note::list_all(table).all().await;
    let now = singletable::autogen::now();
    let _ = Note::list_by_creation(table, now - time::Duration::days(1), now)
        .all()
        .await;
    for raw in [
        format!("TENANT#{B}#NOTES"),
        format!("TENANT#{value}#NOTES"),
        value.to_owned(),
    ] {
        let filter = Note::FIELDS.body.eq("the secret".to_owned());
        let pk = raw.clone();
        let _ = Query::<Note>::partition(table, Later::ready(Ok(pk)))
            .filter(filter.clone())
            .all()
            .await;
        let pk = format!("TENANT#{B}#TITLE#plans");
        let _ = Query::<Note>::index(table, "GSI1", Later::ready(Ok(pk)))
            .filter(filter)
            .all()
            .await;
    }
    let secret = SecretKey { id: value };
    let _ = Secret::get_including_deleted(table, secret).await;
    let _ = Secret::restore(table, secret).await;
    let _ = Secret::purge(table, secret).await;
    let _ = Secret::trash(table, SecretPartition { id: value }).await;
    let _ = Secret::empty_trash(table, SecretPartition { id: value }, now).await;
    let _ = Secret::audit_trail(table, secret).all().await;
    for (entity_type, id) in [
        (format!("TENANT#{B}#SECRET"), "s".to_owned()),
        ("TENANT".to_owned(), format!("{B}#SECRET#s")),
        ("SECRET".to_owned(), value.to_owned()),
        (value.to_owned(), "s".to_owned()),
    ] {
        let _ = AuditTrail::by_id(table, &entity_type, &id).all().await;
    }
    let mut batch = BatchWrite::new(table);
    let _ = batch.put(&forged);
    let _ = batch.delete::<Note>(key);
    let _ = batch.send().await;
    let mut get = BatchGet::new(table);
    let _ = get.get::<Note>(key);
    if let Ok(got) = get.send().await {
        let _ = got.unprocessed();
    }
    let _ = Note::backfill(table).run().await;
    if let Ok(Some(vault)) = VaultWithEntries::get(table, VaultKey { vault_id: value }).await {
        assert!(
            vault.entries.iter().all(|e| e.tenant_id != B),
            "B's entry was read"
        );
    }
    let mut tx = Transaction::new(table);
    let _ = tx.check::<Note>(key, Note::FIELDS.body.eq("the secret".to_owned()));
    let _ = tx.create::<Note>(NewNote {
        id: value.into(),
        title: "t".into(),
        body: "x".into(),
    });
    let _ = tx.send().await;
}

#[tokio::test]
async fn no_operation_from_tenant_a_or_from_no_scope_reaches_tenant_b() {
    let (table, wiretap) = setup().await;
    let before = b_items(&table).await;
    assert_eq!(
        before.len(),
        6,
        "B's two notes, its secret, its audit record, its vault and entry"
    );
    let b_cursor = tenant::scope(B, async {
        let page = Note::query(&table, NotePartition::default())
            .page(1, None)
            .await
            .unwrap();
        page.cursor.expect("B has a second page")
    })
    .await;
    wiretap.clear();

    for value in crafted() {
        tenant::scope(A, every_operation(&table, &value, &b_cursor)).await;
        every_operation(&table, &value, &b_cursor).await;
        // A crafted value as the scope itself (B's own id there would be B at work).
        if value != B {
            tenant::scope(value.as_str(), every_operation(&table, "1", &b_cursor)).await;
        }
    }

    let bodies = wiretap.bodies();
    assert!(
        bodies.len() > 100,
        "the wiretap saw {} requests: it does not see what is sent",
        bodies.len()
    );
    let reaching: Vec<&String> = bodies.iter().filter(|body| reaches_b(body)).collect();
    assert!(
        reaching.is_empty(),
        "{} of {} requests address B's key space:\n{}",
        reaching.len(),
        bodies.len(),
        reaching
            .iter()
            .take(5)
            .map(|b| b.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(b_items(&table).await, before, "B's items changed");
}

#[tokio::test]
async fn a_probe_of_a_foreign_partition_cannot_tell_a_match_from_none() {
    let (table, wiretap) = setup().await;
    let probe = |body: &'static str| {
        let table = &table;
        async move {
            let pk = format!("TENANT#{B}#NOTES");
            let answer = Query::<Note>::partition(table, Later::ready(Ok(pk)))
                .filter(Note::FIELDS.body.eq(body.to_owned()))
                .all()
                .await;
            format!("{answer:?}")
        }
    };
    for scope in [Some(A), None] {
        let (matching, missing) = match scope {
            Some(a) => (
                tenant::scope(a, probe("the secret")).await,
                tenant::scope(a, probe("nothing like it")).await,
            ),
            None => (probe("the secret").await, probe("nothing like it").await),
        };
        assert_eq!(matching, missing, "the answer tells B's body");
        assert!(matching.starts_with("Err("), "{matching}");
    }
    assert!(wiretap.bodies().is_empty(), "a probe reached DynamoDB");
}

#[tokio::test]
async fn a_transaction_or_batch_built_for_one_tenant_is_not_sent_for_another() {
    let (table, wiretap) = setup().await;
    tenant::scope(A, async {
        Note::create(
            &table,
            NewNote {
                id: "1".into(),
                title: "t".into(),
                body: "A's".into(),
            },
        )
        .await
        .unwrap();
    })
    .await;
    let before = b_items(&table).await;
    wiretap.clear();

    let mut tx = Transaction::new(&table);
    tenant::scope(A, async {
        tx.delete::<Note>(NoteKey { id: "1" }).unwrap();
        tx.update(Note::update(&table, NoteKey { id: "2" }).set(Note::FIELDS.body, "x"))
            .unwrap();
    })
    .await;
    let sent = tenant::scope(B, tx.send()).await;
    assert!(
        matches!(sent, Err(Error::TenantMismatch { .. })),
        "{sent:?}"
    );

    let mut batch = BatchGet::new(&table);
    let slot = tenant::scope(A, async { batch.get::<Note>(NoteKey { id: "1" }) })
        .await
        .unwrap();
    let _ = slot;
    let sent = tenant::scope(B, batch.send()).await;
    assert!(
        matches!(sent, Err(Error::TenantMismatch { .. })),
        "{sent:?}"
    );
    let sent = batch_without_scope(&table).await;
    assert!(matches!(sent, Err(Error::MissingTenant { .. })), "{sent:?}");

    assert!(wiretap.bodies().is_empty(), "a request was sent");
    assert_eq!(b_items(&table).await, before);
    let still = tenant::scope(A, Note::get(&table, NoteKey { id: "1" }))
        .await
        .unwrap();
    assert!(still.is_some(), "A's note was deleted");
}

async fn batch_without_scope(table: &Table) -> singletable::Result<()> {
    let mut batch = BatchWrite::new(table);
    tenant::scope(A, async {
        batch.delete::<Note>(NoteKey { id: "1" }).map(drop)
    })
    .await?;
    batch.send().await
}
