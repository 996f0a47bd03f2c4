//! Every operation's future is `Send`: each runs on a task of its own (`tokio::spawn`), as it
//! would in an axum handler or a worker. This module does not compile if one is not.

use futures::StreamExt;
use singletable::prelude::*;
use singletable::{tenant, AuditTrail, BatchGet, BatchWrite, Transaction};

use crate::model::*;
use crate::table_with;

/// Runs `$body` (which uses `$table`, an owned clone of `$from`) on a spawned task and
/// returns its `Result<(), Error>` with the value dropped.
macro_rules! spawned {
    ($from:ident => $table:ident, $body:expr) => {{
        let $table = $from.clone();
        tokio::spawn(async move { $body.map(drop) })
    }};
}

fn counter(name: &str) -> NewCounter {
    NewCounter {
        name: name.into(),
        value: 0,
        label: "l".into(),
    }
}

#[tokio::test]
async fn every_operation_runs_on_a_spawned_task() {
    let table = table_with("spawn", |b| {
        b.index("GSI1", "gsi1pk", "gsi1sk")
            .tenant_type_index("TenantTypeIndex")
    })
    .await;
    let now = singletable::autogen::now();
    let doc = || Doc {
        folder: "f".into(),
        id: "d".into(),
        title: "t".into(),
    };
    let doc_key = || DocKey {
        folder: "f",
        id: "d",
    };
    let counter_key = || CounterKey { name: "c" };
    let handles = vec![
        spawned!(table => t, Counter::create(&t, counter("c")).await),
        spawned!(table => t, Counter::get(&t, counter_key()).await),
        spawned!(table => t, Counter::update(&t, counter_key()).add(Counter::FIELDS.value, 1).send().await),
        spawned!(table => t, doc().put(&t).await),
        spawned!(table => t, doc().put_if(&t, Doc::FIELDS.title.eq("t".to_owned())).await),
        spawned!(table => t, Doc::delete(&t, doc_key()).await),
        spawned!(table => t, Doc::restore(&t, doc_key()).await),
        spawned!(table => t, Doc::get_including_deleted(&t, doc_key()).await),
        spawned!(
            table => t,
            Doc::delete_if(&t, doc_key(), Doc::FIELDS.title.eq("t".to_owned())).await
        ),
        spawned!(table => t, Doc::trash(&t, DocPartition { folder: "f" }).await),
        spawned!(
            table => t,
            Doc::empty_trash(&t, DocPartition { folder: "f" }, now).await
        ),
        spawned!(table => t, Doc::purge(&t, doc_key()).await),
        spawned!(table => t, Doc::query(&t, DocPartition { folder: "f" }).all().await),
        spawned!(
            table => t,
            Doc::query(&t, DocPartition { folder: "f" }).page(10, None).await
        ),
        spawned!(table => t, {
            let items: Vec<_> = Doc::query(&t, DocPartition { folder: "f" })
                .stream()
                .collect()
                .await;
            Ok::<_, Error>(items)
        }),
        spawned!(table => t, Counter::list_all(&t).all().await),
        spawned!(table => t, Counter::list_by_creation(&t, now, now).all().await),
        spawned!(table => t, FolderWithDocs::get(&t, FolderKey { folder: "f" }).await),
        spawned!(table => t, AuditTrail::by_id(&t, "COUNTER", "c").all().await),
        spawned!(table => t, Counter::backfill(&t).run().await),
        spawned!(table => t, {
            let mut batch = BatchWrite::new(&t);
            batch.put(&doc())?;
            batch.send().await
        }),
        spawned!(table => t, {
            let mut batch = BatchGet::new(&t);
            let slot = batch.get::<Doc>(doc_key())?;
            batch.send().await?.take(slot)
        }),
        spawned!(table => t, {
            let mut tx = Transaction::new(&t);
            tx.create::<Counter>(counter("tx"))?;
            tx.update(Counter::update(&t, CounterKey { name: "c" }).set(Counter::FIELDS.label, "x"))?;
            tx.send().await
        }),
        spawned!(
            table => t,
            tenant::scope("t1", async {
                Note::by_title(&t, NoteByTitle { title: "x" }).all().await
            })
            .await
        ),
    ];
    for handle in handles {
        // The answers are not the point here (some find nothing); each ran on its own task.
        let _ = handle.await.expect("the task ran to its end");
    }
}
