//! Integration tests against a real DynamoDB Local, one module per capability. DynamoDB Local
//! starts once for the whole binary (or `DYNAMODB_ENDPOINT` is used); each test has its own table.

mod attack;
mod audit;
mod audit_log;
mod batch;
mod builders;
mod change_feed;
mod collection;
mod count;
mod crud;
mod faults;
mod index;
mod interop;
mod lifecycle;
mod loader;
mod lookup;
mod migration;
mod model;
mod patterns;
mod platform;
mod projection;
mod query;
mod reindex;
mod saas;
mod schema;
mod soft_delete;
mod spawn;
mod studio;
mod table_schema;
mod tenancy;
mod timestamps;
mod transaction;
mod transaction_get;
mod ttl;
mod unique;
mod upsert;
mod writes;

use singletable::Table;
use singletable_local::DynamoDbLocal;

/// A fresh table with the default layout (`pk`/`sk`, `#`, type index).
async fn table(prefix: &str) -> Table {
    table_with(prefix, |builder| builder).await
}

/// A fresh table whose description is adjusted by `configure`.
async fn table_with(
    prefix: &str,
    configure: impl FnOnce(singletable::TableBuilder) -> singletable::TableBuilder,
) -> Table {
    let local = DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let name = singletable_local::unique_table_name(prefix);
    let builder =
        model::declare(Table::builder(local.client().await, name).type_index("TypeIndex"));
    let table = configure(builder).build();
    table.create_table().await.expect("table is created");
    table
}

/// Every item in the table, as the plain SDK returns it.
async fn raw_items(table: &Table) -> Vec<singletable::item::Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = table
            .client()
            .scan()
            .table_name(table.name())
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

/// Runs `future` and counts the DynamoDB requests it made (one `dynamodb` span per request).
///
/// One global subscriber counts into a task-local counter, so tests running in parallel count
/// only their own requests (a scoped subscriber per test would race on tracing's callsite cache).
async fn count_requests<F: std::future::Future>(future: F) -> (F::Output, usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Once};
    use tracing_subscriber::layer::{Context, SubscriberExt};

    tokio::task_local! {
        static COUNTER: Arc<AtomicUsize>;
    }
    struct Counter;
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Counter {
        fn on_new_span(
            &self,
            attrs: &tracing::span::Attributes<'_>,
            _: &tracing::span::Id,
            _: Context<'_, S>,
        ) {
            if attrs.metadata().name() == "dynamodb" {
                let _ = COUNTER.try_with(|count| count.fetch_add(1, Ordering::SeqCst));
            }
        }
    }
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(Counter);
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
    });

    let count = Arc::new(AtomicUsize::new(0));
    let output = COUNTER.scope(count.clone(), future).await;
    (output, count.load(Ordering::SeqCst))
}
