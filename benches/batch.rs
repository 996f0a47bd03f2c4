//! Batch write throughput against DynamoDB Local: singletable's `BatchWrite` against the plain
//! SDK sending the same `BatchWriteItem` chunks (25 items, the same concurrency, unprocessed
//! items resent), measured side by side in one run.
//!
//! ```sh
//! cargo bench --bench batch                    # 20 rounds of 1,000 items per side
//! BENCH_ITEMS=500 cargo bench --bench batch
//! ```

mod common;

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use futures::{StreamExt, TryStreamExt};
use singletable::prelude::*;
use singletable::BatchWrite;
use singletable_local::DynamoDbLocal;

use common::{cpu_ns, hand_encode, now_millis, sample_team, Team};

const ROUNDS: usize = 20;
const CONCURRENCY: usize = 4;

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("batch: skipped; run it with `cargo bench --bench batch`");
        return;
    }
    let items: usize = std::env::var("BENCH_ITEMS")
        .ok()
        .map(|value| value.parse().expect("BENCH_ITEMS is a number"))
        .unwrap_or(1000);
    let local = DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(local, items));
}

/// `count` distinct teams for round `round` of side `side`.
fn teams(side: &str, round: usize, count: usize) -> Vec<Team> {
    (0..count)
        .map(|n| {
            let mut team = sample_team();
            team.id = format!("{side}-{round}-{n}");
            team
        })
        .collect()
}

async fn ours(table: &Table, teams: &[Team]) {
    let mut batch = BatchWrite::new(table);
    batch.concurrency(CONCURRENCY);
    for team in teams {
        batch.put(team).expect("valid team");
    }
    batch.send().await.expect("batch written");
}

async fn raw(table: &Table, teams: &[Team]) {
    let created = now_millis();
    let writes: Vec<WriteRequest> = teams
        .iter()
        .map(|team| {
            let item = hand_encode(team, created).expect("valid team");
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("put request");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    let chunks: Vec<Vec<WriteRequest>> = writes.chunks(25).map(<[WriteRequest]>::to_vec).collect();
    futures::stream::iter(chunks)
        .map(|mut pending| async move {
            while !pending.is_empty() {
                let output = table
                    .client()
                    .batch_write_item()
                    .request_items(table.name(), pending)
                    .send()
                    .await?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(table.name()))
                    .unwrap_or_default();
            }
            Ok::<_, aws_sdk_dynamodb::Error>(())
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .expect("raw batch written");
}

async fn run(local: &DynamoDbLocal, items: usize) {
    let table = Table::builder(
        local.client().await,
        singletable_local::unique_table_name("bench-batch"),
    )
    .entity::<Team>()
    .build();
    table.create_table().await.expect("table created");
    let (mut ours_cpu, mut raw_cpu, mut ours_wall, mut raw_wall) =
        (0u64, 0u64, Duration::ZERO, Duration::ZERO);
    // Warm both sides up, then alternate which side goes first.
    ours(&table, &teams("warm-ours", 0, 100)).await;
    raw(&table, &teams("warm-raw", 0, 100)).await;
    for round in 0..ROUNDS {
        let (ours_teams, raw_teams) = (teams("ours", round, items), teams("raw", round, items));
        for side in [round % 2, 1 - round % 2] {
            let (cpu, wall) = (cpu_ns(), Instant::now());
            if side == 0 {
                ours(&table, &ours_teams).await;
                ours_cpu += cpu_ns() - cpu;
                ours_wall += wall.elapsed();
            } else {
                raw(&table, &raw_teams).await;
                raw_cpu += cpu_ns() - cpu;
                raw_wall += wall.elapsed();
            }
        }
    }
    let total = (ROUNDS * items) as f64;
    let per_second = |wall: Duration| total / wall.as_secs_f64();
    let per_item = |cpu: u64| cpu as f64 / total / 1000.0;
    println!("\n## batch write: {ROUNDS} rounds of {items} items per side, {CONCURRENCY} chunks in flight\n");
    println!("| side | items/s | client CPU µs per item |");
    println!("|---|---:|---:|");
    println!(
        "| singletable `BatchWrite` | {:.0} | {:.1} |",
        per_second(ours_wall),
        per_item(ours_cpu)
    );
    println!(
        "| raw SDK, same chunks | {:.0} | {:.1} |",
        per_second(raw_wall),
        per_item(raw_cpu)
    );
    println!(
        "\nthroughput ours / raw: {:.3}×; CPU per item ours / raw: {:.3}×",
        per_second(ours_wall) / per_second(raw_wall),
        ours_cpu as f64 / raw_cpu as f64
    );
}
