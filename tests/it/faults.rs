//! The runtime under injected faults: throttling, HTTP 500s, reset connections, lost replies
//! (a request applied whose answer never arrives) and partial batches, from the
//! `singletable-local` fault proxy in front of DynamoDB Local.
//!
//! Each test runs for two seeds of the proxy's random decisions. The data is set up and checked
//! through a direct client; only the work under test goes through the proxy, with the table's
//! default retry policy. It covers:
//!
//! - batch writes of 10,000 entities store each exactly once;
//! - batch reads of 10,000 keys return every entity and leave nothing unprocessed;
//! - creates whose reply was lost recognise their own write instead of reporting a spurious
//!   `AlreadyExists`;
//! - `add` updates retried after a lost reply are applied once (write tokens);
//! - transactions (sent with a client request token) are never half applied, and one whose
//!   effects are stored despite an error reports `OutcomeUnknown`;
//! - a query following 30 pages returns every item once;
//! - a batch of audited entities stores no write without its record, and no record without
//!   its write.
//!
//! Every test also asserts that the proxy did inject the faults it is about, so a proxy that
//! stopped failing requests cannot make it pass.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Instant;

use futures::StreamExt;
use singletable::prelude::*;
use singletable::{BatchGet, BatchWrite, ItemKey, RetryPolicy, Transaction};
use singletable_local::faults::Injected;
use singletable_local::{DynamoDbLocal, FaultProxy, Faults};

use crate::model::{self, *};
use crate::raw_items;

/// The seeds every test runs with.
const SEEDS: [u64; 2] = [0x5eed_0001, 0x5eed_0002];

/// The fault rates of every test: 10% throttling, 5% HTTP 500, 5% reset connections, 5% lost
/// replies and 30% partial batches.
fn faults(seed: u64) -> Faults {
    Faults::none()
        .seed(seed)
        .throttle(0.10)
        .server_error(0.05)
        .reset(0.05)
        .lost_reply(0.05)
        .partial_batch(0.30)
}

/// A fresh table (every model entity declared, type index), created and reached directly,
/// without faults.
async fn direct_table(prefix: &str) -> Table {
    let local = DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let name = singletable_local::unique_table_name(prefix);
    let table = describe(Table::builder(local.client().await, name)).build();
    table.create_table().await.expect("table is created");
    table
}

/// The table description shared by the direct and the faulty handle of a table.
fn describe(builder: singletable::TableBuilder) -> singletable::TableBuilder {
    model::declare(builder.type_index("TypeIndex"))
        .entity::<Ledger>()
        .retry(RetryPolicy::default())
}

/// An audited entity: each write carries its audit record.
#[derive(Entity, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "LEDGER", pk = "LEDGER#<id>", sk = "#LEDGER", audit)]
struct Ledger {
    id: String,
    cents: i64,
}

/// The same table as `direct`, reached through a fault proxy seeded with `seed`.
async fn through_faults(direct: &Table, seed: u64) -> (Table, FaultProxy) {
    let proxy = DynamoDbLocal::shared()
        .expect("DynamoDB Local starts")
        .with_faults(faults(seed))
        .await
        .expect("the fault proxy starts");
    let table = describe(Table::builder(proxy.client().await, direct.name())).build();
    (table, proxy)
}

/// Asserts that every kind of fault in `kinds` was injected at least once.
fn assert_injected(injected: &Injected, kinds: &[&str], what: &str, seed: u64) {
    for kind in kinds {
        let count = match *kind {
            "throttles" => injected.throttles,
            "server_errors" => injected.server_errors,
            "resets" => injected.resets,
            "lost_replies" => injected.lost_replies,
            "partial_batches" => injected.partial_batches,
            other => panic!("no fault kind {other}"),
        };
        assert!(
            count > 0,
            "seed {seed:#x}: no {kind} injected on {what}: {injected:?}"
        );
    }
}

/// The pk/sk of a raw item.
fn raw_key(item: &singletable::item::Item) -> (String, String) {
    let text = |name: &str| {
        item.get(name)
            .and_then(|value| value.as_s().ok())
            .cloned()
            .unwrap_or_else(|| panic!("item without {name}: {item:?}"))
    };
    (text("pk"), text("sk"))
}

/// 10,000 entities of three types: 4,000 events, 3,000 markers, 3,000 projects.
struct TenThousand {
    events: Vec<Event>,
    markers: Vec<Marker>,
    projects: Vec<Project>,
}

impl TenThousand {
    fn new() -> Self {
        TenThousand {
            events: (0..4000)
                .map(|n| sample_event(&format!("s{}", n % 7), n))
                .collect(),
            markers: (0..3000).map(sample_marker).collect(),
            projects: (0..3000).map(sample_project).collect(),
        }
    }

    /// One batch writing all of them, 8 requests at once.
    fn batch<'t>(&self, table: &'t Table) -> BatchWrite<'t> {
        let mut batch = BatchWrite::new(table);
        batch.concurrency(8);
        for event in &self.events {
            batch.put(event).unwrap();
        }
        for marker in &self.markers {
            batch.put(marker).unwrap();
        }
        for project in &self.projects {
            batch.put(project).unwrap();
        }
        assert_eq!(batch.len(), 10_000);
        batch
    }

    /// The items a write of each of them stores, by key, without the `_timestamp` of the write.
    fn items(&self, table: &Table) -> HashMap<(String, String), singletable::item::Item> {
        fn encoded<E: Entity>(entity: &E, table: &Table) -> singletable::item::Item {
            let key = entity.key().item_key(table).unwrap();
            let at = time::OffsetDateTime::UNIX_EPOCH;
            let mut item = singletable::__private::encode(entity, key, at, table).unwrap();
            item.remove("_timestamp");
            item
        }
        let events = self.events.iter().map(|e| encoded(e, table));
        let markers = self.markers.iter().map(|m| encoded(m, table));
        let projects = self.projects.iter().map(|p| encoded(p, table));
        events
            .chain(markers)
            .chain(projects)
            .map(|item| (raw_key(&item), item))
            .collect()
    }

    /// The stored keys of all of them.
    fn keys(&self, table: &Table) -> HashSet<(String, String)> {
        let key = |key: ItemKey| (key.pk, key.sk);
        let events = self.events.iter().map(|e| e.key().item_key(table));
        let markers = self.markers.iter().map(|m| m.key().item_key(table));
        let projects = self.projects.iter().map(|p| p.key().item_key(table));
        events
            .chain(markers)
            .chain(projects)
            .map(|k| key(k.unwrap()))
            .collect()
    }
}

#[tokio::test]
async fn batch_write_of_10_000_entities_stores_each_once() {
    let entities = TenThousand::new();
    for seed in SEEDS {
        let started = Instant::now();
        let direct = direct_table("faults-bw").await;
        let (table, proxy) = through_faults(&direct, seed).await;

        let sent = entities.batch(&table).send().await;
        let injected = proxy.injected_for("BatchWriteItem");
        assert!(
            sent.is_ok(),
            "seed {seed:#x}: the batch write failed under {injected:?}: {sent:?}"
        );

        let items = raw_items(&direct).await;
        let mut seen = HashMap::new();
        for item in &items {
            *seen.entry(raw_key(item)).or_insert(0) += 1;
        }
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "seed {seed:#x}: stored twice: {twice:?}");
        assert_eq!(items.len(), 10_000, "seed {seed:#x}: items stored");
        let stored: HashSet<_> = seen.into_keys().collect();
        assert_eq!(stored, entities.keys(&direct), "seed {seed:#x}");
        // A write sent again after a failed request is rebuilt from the body that request
        // sent: each item must hold exactly what it would have without any fault.
        let expected = entities.items(&direct);
        for mut item in items {
            assert!(item.remove("_timestamp").is_some(), "seed {seed:#x}");
            let key = raw_key(&item);
            assert_eq!(Some(&item), expected.get(&key), "seed {seed:#x}: {key:?}");
        }
        assert_injected(
            &injected,
            &["throttles", "server_errors", "resets", "partial_batches"],
            "BatchWriteItem",
            seed,
        );
        eprintln!(
            "batch write, seed {seed:#x}: {:?}, {injected:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn batch_get_of_10_000_keys_returns_each() {
    let entities = TenThousand::new();
    let direct = direct_table("faults-bg").await;
    entities.batch(&direct).send().await.unwrap();

    for seed in SEEDS {
        let started = Instant::now();
        let (table, proxy) = through_faults(&direct, seed).await;
        let mut get = BatchGet::new(&table);
        get.concurrency(8);
        let events: Vec<_> = (entities.events.iter())
            .map(|e| get.get::<Event>(e.key()).unwrap())
            .collect();
        let markers: Vec<_> = (entities.markers.iter())
            .map(|m| get.get::<Marker>(m.key()).unwrap())
            .collect();
        let projects: Vec<_> = (entities.projects.iter())
            .map(|p| get.get::<Project>(p.key()).unwrap())
            .collect();
        let mut got = get.send().await.unwrap();
        let injected = proxy.injected_for("BatchGetItem");

        assert!(
            got.unprocessed().is_empty(),
            "seed {seed:#x}: {} key(s) unprocessed under {injected:?}, first {:?}",
            got.unprocessed().len(),
            got.unprocessed().first()
        );
        for (slot, expected) in events.into_iter().zip(&entities.events) {
            assert_eq!(
                got.take(slot).unwrap().as_ref(),
                Some(expected),
                "{seed:#x}"
            );
        }
        for (slot, expected) in markers.into_iter().zip(&entities.markers) {
            assert_eq!(
                got.take(slot).unwrap().as_ref(),
                Some(expected),
                "{seed:#x}"
            );
        }
        for (slot, expected) in projects.into_iter().zip(&entities.projects) {
            assert_eq!(
                got.take(slot).unwrap().as_ref(),
                Some(expected),
                "{seed:#x}"
            );
        }
        assert_injected(
            &injected,
            &["throttles", "server_errors", "resets", "partial_batches"],
            "BatchGetItem",
            seed,
        );
        eprintln!(
            "batch get, seed {seed:#x}: {:?}, {injected:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn creates_with_lost_replies_report_no_spurious_already_exists() {
    const CREATES: usize = 2000;
    for seed in SEEDS {
        let started = Instant::now();
        let direct = direct_table("faults-create").await;
        let (table, proxy) = through_faults(&direct, seed).await;

        let results: Vec<Result<Team, Error>> = futures::stream::iter(0..CREATES)
            .map(|n| {
                Team::create(
                    &table,
                    NewTeam {
                        tenant_id: "t1".into(),
                        organization_id: "org".into(),
                        name: format!("team {n}"),
                        description: None,
                    },
                )
            })
            .buffer_unordered(32)
            .collect()
            .await;
        let injected = proxy.injected_for("PutItem");

        let stored: HashSet<(String, String)> =
            raw_items(&direct).await.iter().map(raw_key).collect();
        let mut created = Vec::new();
        let (mut unknown_stored, mut unknown_absent) = (0, 0);
        let mut not_applied = Vec::new();
        let mut already_exists = Vec::new();
        let mut others = Vec::new();
        for result in results {
            match result {
                Ok(team) => created.push(team),
                Err(Error::AlreadyExists { key, .. }) => already_exists.push(key),
                Err(Error::OutcomeUnknown { key, .. }) => {
                    match stored.contains(&(key.pk, key.sk)) {
                        true => unknown_stored += 1,
                        false => unknown_absent += 1,
                    }
                }
                // A request that failed after its retries without any attempt that may have
                // been applied (every attempt throttled, say): it names no key.
                Err(error @ Error::Sdk { .. }) => not_applied.push(error),
                Err(error) => others.push(error),
            }
        }
        assert!(
            already_exists.is_empty(),
            "seed {seed:#x}: {} spurious AlreadyExists under {injected:?}, first {:?}",
            already_exists.len(),
            already_exists.first()
        );
        assert!(
            others.is_empty(),
            "seed {seed:#x}: unexpected errors: {others:?}"
        );

        // Every create that returned Ok stored what it returned.
        let mut get = BatchGet::new(&direct);
        let slots: Vec<_> = (created.iter())
            .map(|team| get.get::<Team>(team.key()).unwrap())
            .collect();
        let mut got = get.send().await.unwrap();
        for (slot, team) in slots.into_iter().zip(&created) {
            assert_eq!(
                got.take(slot).unwrap().as_ref(),
                Some(team),
                "seed {seed:#x}: a create returned Ok without its item"
            );
        }
        // Nothing else is stored: no create whose request certainly failed left an item.
        assert_eq!(
            stored.len(),
            created.len() + unknown_stored,
            "seed {seed:#x}: {} created, {unknown_stored} with an unknown outcome stored, \
             {} failed without effect",
            created.len(),
            not_applied.len()
        );
        assert_eq!(
            created.len() + unknown_stored + unknown_absent + not_applied.len(),
            CREATES
        );
        assert_injected(
            &injected,
            &["throttles", "server_errors", "resets", "lost_replies"],
            "PutItem",
            seed,
        );
        eprintln!(
            "creates, seed {seed:#x}: {:?}: {} ok, {unknown_stored} unknown (stored), \
             {unknown_absent} unknown (absent), {} failed ({:?}); {injected:?}",
            started.elapsed(),
            created.len(),
            not_applied.len(),
            not_applied.first()
        );
    }
}

#[tokio::test]
async fn idempotent_adds_under_lost_replies_count_exactly() {
    const ADDS: i64 = 100;
    for seed in SEEDS {
        let started = Instant::now();
        let direct = direct_table("faults-add").await;
        let initial = Counter::create(
            &direct,
            NewCounter {
                name: "hits".into(),
                value: 0,
                label: "start".into(),
            },
        )
        .await
        .unwrap();
        let (table, proxy) = through_faults(&direct, seed).await;

        let mut failures = Vec::new();
        for n in 1..=ADDS {
            match Counter::update(&table, initial.key())
                .add(Counter::FIELDS.value, 1)
                .send()
                .await
            {
                Ok(counter) => assert_eq!(
                    (counter.value, counter.version),
                    (n, initial.version + n as u64),
                    "seed {seed:#x}: add {n} returned another state"
                ),
                Err(error) => failures.push((n, error)),
            }
        }
        let injected = proxy.injected_for("UpdateItem");
        let unknown = failures
            .iter()
            .filter(|(_, e)| matches!(e, Error::OutcomeUnknown { .. }))
            .count();
        let end = Counter::get(&direct, initial.key()).await.unwrap().unwrap();
        assert!(
            failures.is_empty(),
            "seed {seed:#x}: {} add(s) failed ({unknown} of them OutcomeUnknown, which the \
             write token should have made known), stored value {} under {injected:?}: \
             {failures:?}",
            failures.len(),
            end.value
        );
        assert_eq!(end.value, ADDS, "seed {seed:#x}: {injected:?}");
        assert_eq!(end.version, initial.version + ADDS as u64, "seed {seed:#x}");
        assert_injected(
            &injected,
            &["throttles", "server_errors", "resets", "lost_replies"],
            "UpdateItem",
            seed,
        );
        eprintln!(
            "adds, seed {seed:#x}: {:?}, {injected:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn transactions_are_never_half_applied() {
    const TRANSACTIONS: usize = 500;
    let new_event = |stream: &str, n: usize| {
        let event = sample_event(stream, n);
        NewEvent {
            stream: event.stream,
            seq: event.seq,
            kind: event.kind,
            size: event.size,
            note: event.note,
            labels: event.labels,
        }
    };
    for seed in SEEDS {
        let started = Instant::now();
        let direct = direct_table("faults-tx").await;
        let (table, proxy) = through_faults(&direct, seed).await;

        // Each transaction creates one event in each of two streams, both at sequence `n`.
        let results: Vec<(usize, Result<(), Error>)> = futures::stream::iter(0..TRANSACTIONS)
            .map(|n| {
                let table = &table;
                async move {
                    let mut tx = Transaction::new(table);
                    tx.create::<Event>(new_event("tx-a", n)).unwrap();
                    tx.create::<Event>(new_event("tx-b", n)).unwrap();
                    (n, tx.send().await)
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let injected = proxy.injected_for("TransactWriteItems");

        let stored: HashSet<(String, String)> =
            raw_items(&direct).await.iter().map(raw_key).collect();
        let is_stored = |stream: &str, n: usize| {
            let key = sample_event(stream, n).key().item_key(&direct).unwrap();
            stored.contains(&(key.pk, key.sk))
        };
        let (mut ok, mut unknown_stored, mut unknown_absent, mut failed) = (0, 0, 0, Vec::new());
        let mut half = Vec::new();
        let mut wrong = Vec::new();
        for (n, result) in results {
            let (a, b) = (is_stored("tx-a", n), is_stored("tx-b", n));
            if a != b {
                half.push((n, a, b, result));
                continue;
            }
            match (result, a) {
                (Ok(()), true) => ok += 1,
                (Ok(()), false) => wrong.push((n, "returned Ok, nothing stored".to_owned())),
                (Err(Error::OutcomeUnknown { .. }), true) => unknown_stored += 1,
                (Err(Error::OutcomeUnknown { .. }), false) => unknown_absent += 1,
                (Err(error), true) => {
                    wrong.push((n, format!("stored, but returned {error:?}")));
                }
                (Err(error), false) => failed.push((n, error)),
            }
        }
        assert!(
            half.is_empty(),
            "seed {seed:#x}: {} transaction(s) half applied: {half:?}",
            half.len()
        );
        assert!(
            wrong.is_empty(),
            "seed {seed:#x}: {} transaction(s) applied but reported otherwise than Ok or \
             OutcomeUnknown, under {injected:?}; first: {:?}",
            wrong.len(),
            wrong.first()
        );
        assert_eq!(stored.len(), 2 * (ok + unknown_stored), "seed {seed:#x}");
        assert_injected(
            &injected,
            &["throttles", "server_errors", "resets", "lost_replies"],
            "TransactWriteItems",
            seed,
        );
        eprintln!(
            "transactions, seed {seed:#x}: {:?}: {ok} ok, {unknown_stored} unknown (stored), \
             {unknown_absent} unknown (absent), {} failed without effect ({:?}); {injected:?}",
            started.elapsed(),
            failed.len(),
            failed.first()
        );
    }
}

#[tokio::test]
async fn query_all_of_3000_items_is_complete_under_throttling() {
    const ITEMS: usize = 3000;
    let direct = direct_table("faults-query").await;
    let events: Vec<Event> = (0..ITEMS).map(|n| sample_event("q", n)).collect();
    let mut batch = BatchWrite::new(&direct);
    batch.concurrency(8);
    for event in &events {
        batch.put(event).unwrap();
    }
    batch.send().await.unwrap();

    for seed in SEEDS {
        let started = Instant::now();
        let (table, proxy) = through_faults(&direct, seed).await;
        let found = Event::query(&table, EventPartition { stream: "q" })
            .page_size(100)
            .all()
            .await;
        let injected = proxy.injected_for("Query");
        let found = found.unwrap_or_else(|e| panic!("seed {seed:#x}: {e} under {injected:?}"));

        assert_eq!(found.len(), ITEMS, "seed {seed:#x}: items returned");
        let distinct: BTreeSet<&str> = found.iter().map(|e| e.seq.as_str()).collect();
        assert_eq!(distinct.len(), ITEMS, "seed {seed:#x}: duplicates returned");
        assert_eq!(found, events, "seed {seed:#x}: in sort key order");
        assert!(
            injected.total_faults() > 0,
            "seed {seed:#x}: no fault injected on Query: {injected:?}"
        );
        eprintln!(
            "query, seed {seed:#x}: {:?}, {injected:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn audited_batch_writes_never_store_a_write_without_its_record() {
    for seed in SEEDS {
        let direct = direct_table("faults-abw").await;
        let (table, proxy) = through_faults(&direct, seed).await;
        let ledgers: Vec<Ledger> = (0..300)
            .map(|i| Ledger {
                id: format!("{i:03}"),
                cents: i,
            })
            .collect();
        let mut batch = BatchWrite::new(&table);
        for ledger in &ledgers {
            batch.put(ledger).unwrap();
        }
        let sent = batch.send().await;
        let injected = proxy.injected_for("TransactWriteItems");
        assert_injected(
            &injected,
            &["throttles", "server_errors", "resets", "lost_replies"],
            "TransactWriteItems",
            seed,
        );
        let unprocessed: HashSet<String> = match &sent {
            Ok(()) => HashSet::new(),
            Err(singletable::Error::Unprocessed { items, .. }) => {
                items.iter().map(|(_, key)| key.pk.clone()).collect()
            }
            Err(other) => panic!("seed {seed:#x}: {other:?}"),
        };
        assert!(
            unprocessed.len() < 30,
            "seed {seed:#x}: most writes get through: {sent:?}"
        );

        let items = raw_items(&direct).await;
        let of_type = |t: &str| {
            items
                .iter()
                .filter(|i| i["_type"].as_s().unwrap() == t)
                .collect::<Vec<_>>()
        };
        let written: Vec<String> = of_type("LEDGER")
            .iter()
            .map(|i| i["id"].as_s().unwrap().clone())
            .collect();
        let mut recorded: Vec<String> = of_type("AUDIT_LOG")
            .iter()
            .map(|i| i["entityId"].as_s().unwrap().clone())
            .collect();
        recorded.sort();
        let mut written_sorted = written.clone();
        written_sorted.sort();
        assert_eq!(
            recorded, written_sorted,
            "seed {seed:#x}: one record per stored write, none without its write"
        );
        // A write whose outcome stayed unknown may be both stored and reported; none is
        // neither.
        let stored: HashSet<String> = written.iter().map(|id| format!("LEDGER#{id}")).collect();
        let accounted = stored.union(&unprocessed).count();
        assert_eq!(
            accounted, 300,
            "seed {seed:#x}: every write is stored or reported"
        );
    }
}
