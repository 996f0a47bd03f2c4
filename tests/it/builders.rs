//! The public builders take any number: page sizes, limits, concurrency, attempts, segments
//! and retry delays from 0 to the type's maximum never panic, and either run or fail with an
//! error.

use std::time::Duration;

use proptest::prelude::*;
use singletable::prelude::*;
use singletable::{AuditTrail, BatchGet, BatchWrite, RetryPolicy};

use crate::model::*;
use crate::table_with;

/// Numbers where overflow and allocation bugs live, and arbitrary ones.
fn number() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(usize::MAX),
        Just(usize::MAX / 2 + 1),
        Just(i32::MAX as usize + 1),
        any::<usize>(),
        0..200usize,
    ]
}

fn wide() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0), Just(1), Just(u32::MAX), any::<u32>(), 0..100u32]
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        (0..u64::MAX).prop_map(Duration::from_nanos),
    ]
}

#[test]
fn builders_take_any_number_without_panicking() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let table = runtime.block_on(table_with("builders", |b| b));
    runtime.block_on(async {
        for i in 0..3 {
            Event::create(
                &table,
                NewEvent {
                    stream: "s".into(),
                    seq: seq(i),
                    kind: "k".into(),
                    size: 1,
                    note: None,
                    labels: vec![],
                },
            )
            .await
            .unwrap();
        }
    });
    let config = ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    };
    proptest!(config, |(
        size in number(), limit in number(), page_size in number(),
        concurrency in number(), attempts in wide(), segments in wide(),
        base in duration(), max in duration(), deadline in duration(),
    )| {
        let policy = RetryPolicy::default()
            .max_attempts(attempts)
            .base_delay(base)
            .max_delay(max)
            .deadline(deadline);
        let table = declare(Table::builder(table.client().clone(), table.name()))
            .type_index("TypeIndex")
            .retry(policy)
            .build();
        runtime.block_on(async {
            let partition = || EventPartition { stream: "s" };
            let _ = Event::query(&table, partition()).page(size, None).await;
            let all = Event::query(&table, partition())
                .limit(limit)
                .page_size(page_size)
                .all()
                .await
                .unwrap();
            prop_assert!(all.len() <= 3.min(limit));
            let _ = AuditTrail::by_id(&table, "EVENT", "s").page(size, None).await;
            let mut batch = BatchWrite::new(&table);
            batch.concurrency(concurrency).max_attempts(attempts);
            batch.send().await.unwrap();
            let mut get = BatchGet::new(&table);
            get.concurrency(concurrency).max_attempts(attempts);
            let slot = get.get::<Event>(EventKey { stream: "s", seq: "00000" }).unwrap();
            prop_assert!(get.send().await.unwrap().take(slot).unwrap().is_some());
            let backfill = Event::backfill(&table)
                .segments(segments)
                .concurrency(concurrency)
                .page_size(page_size);
            // A scan of a million segments is too slow for a test; building one is checked.
            if segments <= 16 {
                backfill.run().await.unwrap();
            }
            Ok(())
        })?;
    });
}
