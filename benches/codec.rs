//! CPU cost of singletable's codec against hand-written code and plain `serde_dynamo`, for a
//! ten-field entity: entity → item, item → entity, and key rendering.
//!
//! `cargo bench --bench codec` runs the criterion groups, then times every variant again,
//! interleaved, and prints a markdown table of the ratios (ours / hand-written, ours /
//! serde_dynamo). No network is used: the `Table` holds an offline client.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
use criterion::{criterion_group, BatchSize, Criterion};
use singletable::__private::{decode, encode};
use singletable::prelude::*;
use time::OffsetDateTime;

use common::{
    hand_decode, hand_encode, hand_key, hand_key_unchecked, sample_team, serde_dynamo_decode,
    serde_dynamo_encode, Item, Team,
};

fn offline_table() -> Table {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .build();
    Table::builder(aws_sdk_dynamodb::Client::from_conf(config), "bench").build()
}

fn ours_encode(team: &Team, created: OffsetDateTime, table: &Table) -> Item {
    let key = team.key().item_key(table).expect("valid key");
    encode(team, key, created, table).expect("encodes")
}

fn ours_key(team: &Team, table: &Table) -> singletable::ItemKey {
    team.key().item_key(table).expect("valid key")
}

/// Checks once that every variant produces the same result, so the comparisons are fair.
fn assert_same_results(team: &Team, table: &Table) -> Item {
    let created = team.created_at;
    let ours = ours_encode(team, created, table);
    assert_eq!(ours, hand_encode(team, created).unwrap());
    assert_eq!(ours, serde_dynamo_encode(team, created).unwrap());
    assert_eq!(ours.len(), 14, "ten fields and four internal attributes");

    let decoded: Team = decode(ours.clone(), table).unwrap();
    assert_eq!(&decoded, team);
    assert_eq!(&hand_decode(ours.clone()).unwrap(), team);
    assert_eq!(&serde_dynamo_decode(ours.clone()).unwrap(), team);

    let key = ours_key(team, table);
    let hand = hand_key(&team.tenant_id, &team.organization_id, &team.id).unwrap();
    assert_eq!((key.pk.clone(), key.sk.clone()), hand);
    assert_eq!(
        (key.pk, key.sk),
        hand_key_unchecked(&team.tenant_id, &team.organization_id, &team.id)
    );
    // The hand-written checks refuse what singletable refuses.
    assert!(hand_key("t#1", "o", "i").is_err());
    assert!(hand_key("", "o", "i").is_err());
    assert!(hand_key("t\n", "o", "i").is_err());
    ours
}

fn codec(c: &mut Criterion) {
    let table = offline_table();
    let team = sample_team();
    let created = team.created_at;
    let item = assert_same_results(&team, &table);

    let mut group = c.benchmark_group("encode");
    group.bench_function("singletable", |b| {
        b.iter(|| ours_encode(black_box(&team), created, &table))
    });
    group.bench_function("hand-written", |b| {
        b.iter(|| hand_encode(black_box(&team), created).unwrap())
    });
    group.bench_function("serde_dynamo", |b| {
        b.iter(|| serde_dynamo_encode(black_box(&team), created).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("decode");
    group.bench_function("singletable", |b| {
        b.iter_batched(
            || item.clone(),
            |item| decode::<Team>(item, &table).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("hand-written", |b| {
        b.iter_batched(
            || item.clone(),
            |item| hand_decode(item).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("serde_dynamo", |b| {
        b.iter_batched(
            || item.clone(),
            |item| serde_dynamo_decode(item).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("key");
    group.bench_function("singletable", |b| {
        b.iter(|| ours_key(black_box(&team), &table))
    });
    group.bench_function("hand-written", |b| {
        b.iter(|| {
            let team = black_box(&team);
            hand_key(&team.tenant_id, &team.organization_id, &team.id).unwrap()
        })
    });
    group.bench_function("hand-written, no checks", |b| {
        b.iter(|| {
            let team = black_box(&team);
            hand_key_unchecked(&team.tenant_id, &team.organization_id, &team.id)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = codec
}

// ---------------------------------------------------------------------------------------------
// The ratio table: every variant of a group timed in turn, round after round.

/// Rounds per group; each variant runs once per round.
const ROUNDS: usize = 30;
/// Calls per variant and round.
const CALLS: usize = 20_000;
/// Calls timed together: their inputs are made just before, so they are still in cache.
const BATCH: usize = 50;

/// What happens to the results of timed calls.
#[derive(Clone, Copy)]
enum Outputs {
    /// Dropped in the timed loop, as criterion's `iter` does (an encoded item is consumed by the
    /// request).
    DropTimed,
    /// Dropped after the clock stops, as criterion's `iter_batched` does.
    DropUntimed,
}

/// Times `CALLS` calls of `run` on inputs made beforehand by `setup`, in batches of `BATCH`.
fn time_calls<I, O>(
    setup: &mut dyn FnMut() -> I,
    run: &mut dyn FnMut(I) -> O,
    outputs: Outputs,
) -> Duration {
    let mut kept = Vec::with_capacity(BATCH);
    let mut elapsed = Duration::ZERO;
    for _ in 0..CALLS / BATCH {
        let inputs: Vec<I> = (0..BATCH).map(|_| setup()).collect();
        let start = Instant::now();
        match outputs {
            Outputs::DropTimed => {
                for input in inputs {
                    black_box(run(black_box(input)));
                }
            }
            Outputs::DropUntimed => {
                for input in inputs {
                    kept.push(black_box(run(black_box(input))));
                }
            }
        }
        elapsed += start.elapsed();
        kept.clear();
    }
    elapsed
}

type Variant<'a, I, O> = (
    &'a str,
    Box<dyn FnMut() -> I + 'a>,
    Box<dyn FnMut(I) -> O + 'a>,
);

/// Median ns per call of each variant, measured interleaved.
fn measure<I, O>(variants: &mut [Variant<'_, I, O>], outputs: Outputs) -> Vec<f64> {
    // One untimed round warms caches and the allocator.
    for (_, setup, run) in variants.iter_mut() {
        time_calls(setup.as_mut(), run.as_mut(), outputs);
    }
    let mut samples = vec![Vec::with_capacity(ROUNDS); variants.len()];
    for _ in 0..ROUNDS {
        for ((_, setup, run), samples) in variants.iter_mut().zip(&mut samples) {
            let elapsed = time_calls(setup.as_mut(), run.as_mut(), outputs);
            samples.push(elapsed.as_nanos() as f64 / CALLS as f64);
        }
    }
    samples.into_iter().map(median).collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn ratio_table() {
    let table = offline_table();
    let team = sample_team();
    let created = team.created_at;
    let item = ours_encode(&team, created, &table);

    let mut rows = Vec::new();

    let mut encode_variants: Vec<Variant<'_, (), Item>> = vec![
        (
            "singletable",
            Box::new(|| ()),
            Box::new(|()| ours_encode(&team, created, &table)),
        ),
        (
            "hand-written",
            Box::new(|| ()),
            Box::new(|()| hand_encode(&team, created).unwrap()),
        ),
        (
            "serde_dynamo",
            Box::new(|| ()),
            Box::new(|()| serde_dynamo_encode(&team, created).unwrap()),
        ),
    ];
    let ns = measure(&mut encode_variants, Outputs::DropTimed);
    rows.push(("entity → item (key + encode)", ns[0], ns[1], Some(ns[2])));

    let mut decode_variants: Vec<Variant<'_, Item, Team>> = vec![
        (
            "singletable",
            Box::new(|| item.clone()),
            Box::new(|item| decode::<Team>(item, &table).unwrap()),
        ),
        (
            "hand-written",
            Box::new(|| item.clone()),
            Box::new(|item| hand_decode(item).unwrap()),
        ),
        (
            "serde_dynamo",
            Box::new(|| item.clone()),
            Box::new(|item| serde_dynamo_decode(item).unwrap()),
        ),
    ];
    let ns = measure(&mut decode_variants, Outputs::DropUntimed);
    rows.push(("item → entity (decode)", ns[0], ns[1], Some(ns[2])));

    let mut key_variants: Vec<Variant<'_, (), (String, String)>> = vec![
        (
            "singletable",
            Box::new(|| ()),
            Box::new(|()| {
                let key = ours_key(&team, &table);
                (key.pk, key.sk)
            }),
        ),
        (
            "hand-written",
            Box::new(|| ()),
            Box::new(|()| hand_key(&team.tenant_id, &team.organization_id, &team.id).unwrap()),
        ),
        (
            "hand-written, no checks",
            Box::new(|| ()),
            Box::new(|()| hand_key_unchecked(&team.tenant_id, &team.organization_id, &team.id)),
        ),
    ];
    let ns = measure(&mut key_variants, Outputs::DropTimed);
    rows.push(("key rendering (checked)", ns[0], ns[1], None));
    rows.push((
        "key rendering (hand-written without checks)",
        ns[0],
        ns[2],
        None,
    ));

    println!();
    println!(
        "## codec: median of {ROUNDS} interleaved rounds of {CALLS} calls, ns per call \
         (decode: input clone and output drop outside the clock, as in criterion's iter_batched)"
    );
    println!();
    println!(
        "| group | singletable | hand-written | serde_dynamo | ours / hand | ours / serde_dynamo |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (group, ours, hand, serde) in rows {
        let (serde_ns, serde_ratio) = match serde {
            Some(serde) => (format!("{serde:.0}"), format!("{:.2}×", ours / serde)),
            None => ("–".to_owned(), "–".to_owned()),
        };
        println!(
            "| {group} | {ours:.0} | {hand:.0} | {serde_ns} | {:.2}× | {serde_ratio} |",
            ours / hand
        );
    }
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and only checks that the
    // criterion groups run once. `--profile-time` runs one group for a profiler: nothing else.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|arg| arg == "--bench") && !args.iter().any(|arg| arg == "--profile-time") {
        ratio_table();
    }
}
