//! Client CPU per operation, singletable against the plain `aws-sdk-dynamodb` calls that send the
//! same requests, end to end against DynamoDB Local: every comparison in one process, against
//! one DynamoDB Local, printed as one table of ratios.
//!
//! The project's target: singletable costs at most 1.10× the CPU of the raw SDK calls.
//!
//! ```sh
//! cargo bench --bench roundtrip                   # 4000 calls per operation and side
//! BENCH_ITERS=500 cargo bench --bench roundtrip   # quicker
//! BENCH_OPS=get,update cargo bench --bench roundtrip
//! ```
//!
//! Operations: `create`, `get`, `query10` and `query100` (the first page of 10 or 100 teams of
//! a partition of 150, per item), `batch` (a `BatchWrite` of 100 puts, sent as 4 chunks of 25 at
//! once, against the same chunks sent by hand with their unprocessed items resent, per item),
//! `retry` (the get through the table's retry policy against the same get through a table that
//! never retries: what the retry layer costs when nothing fails), `update`, `audited` (an update
//! of an `#[entity(audit)]` entity: a consistent read, then the update and its audit record in
//! one transaction, against the same requests written by hand), `noise` (the raw create
//! measured against itself: how far from 1.00 two identical sides land on this machine), and
//! `coalesced` (1,000 concurrent gets through a `Loader`, which sends them as `BatchGetItem`
//! requests, against 1,000 concurrent raw `GetItem`s of the same items, per item; its target is
//! 0.30×). All run by default; queries and batches run a quarter as many calls.
//!
//! DynamoDB Local is started by `singletable-local` (or `DYNAMODB_ENDPOINT` is used). The Java
//! server is another process, so only this process's CPU is counted: the sum of `sum_exec_runtime`
//! (nanoseconds, `/proc/self/task/*/schedstat`) over its threads, or `utime + stime` from
//! `/proc/self/stat` (clock ticks) where schedstat is missing. The runtime is tokio's
//! `current_thread`, so the requests run on the calling thread.
//!
//! Each operation runs in rounds that alternate between the two sides (which side goes first
//! alternates too), so that noise from the machine falls on both. Before measuring, one request of
//! each kind (every chunk of a batch) is captured from both sides with an interceptor and
//! compared, so the raw side is checked to send what singletable sends.

mod common;

use std::collections::HashMap;
use std::error::Error as StdError;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput;
use aws_sdk_dynamodb::operation::get_item::GetItemInput;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::{
    AttributeValue, PutRequest, ReturnValue, ReturnValuesOnConditionCheckFailure, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use singletable::prelude::*;
use singletable_local::DynamoDbLocal;

use common::{
    cpu_ns, hand_decode, hand_encode, hand_key, hand_timestamp, now_millis, sample_team,
    schedstat_ns, Item, NewTeam, Plan, Team, TeamPartition,
};

type Result<T, E = Box<dyn StdError + Send + Sync>> = std::result::Result<T, E>;

/// Calls per round and side: short rounds, so that slow drifts of the machine fall on both sides.
const ROUND: usize = 25;
/// Untimed calls per side before measuring.
const WARM_UP: usize = 100;
/// Items that `get` and `update` cycle through.
const POOL: usize = 200;
/// Gets issued at once on each side of `coalesced`, of as many distinct items.
const COALESCED: usize = 1000;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` (or `--all-targets`) does not, and
    // must not start Java or spend minutes here.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("roundtrip: skipped; run it with `cargo bench --bench roundtrip`");
        return;
    }
    let iters: usize = std::env::var("BENCH_ITERS")
        .ok()
        .map(|value| value.parse().expect("BENCH_ITERS is a number"))
        .unwrap_or(4000);
    let rounds = iters.div_ceil(ROUND).max(1);
    let local = DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime
        .block_on(run(local, rounds))
        .expect("benchmark runs");
}

/// The team of `common`, audited: stored as `TEAM` items that carry a revision.
#[derive(Entity, serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "TEAM",
    pk = "TENANT#<tenant_id>#ORG#<organization_id>",
    sk = "TEAM#<id>",
    audit
)]
#[serde(rename_all = "camelCase")]
pub struct AuditedTeam {
    #[entity(autogen = uuid)]
    pub id: String,
    pub tenant_id: String,
    pub organization_id: String,
    pub name: String,
    pub description: Option<String>,
    pub plan: Plan,
    pub max_users: i64,
    #[entity(autogen = count)]
    pub member_count: i64,
    #[entity(autogen = timestamp)]
    #[serde(with = "singletable::timestamp")]
    pub created_at: time::OffsetDateTime,
    #[entity(autogen(on_update = timestamp))]
    #[serde(default, with = "singletable::timestamp::option")]
    pub updated_at: Option<time::OffsetDateTime>,
}

async fn ours_audited_update(table: &Table, team: &Team, name: &str) -> Result<AuditedTeam> {
    let key = AuditedTeamKey {
        tenant_id: &team.tenant_id,
        organization_id: &team.organization_id,
        id: &team.id,
    };
    Ok(AuditedTeam::update(table, key)
        .set(AuditedTeam::FIELDS.name, name)
        .add(AuditedTeam::FIELDS.member_count, 1)
        .send()
        .await?)
}

/// What a user of the plain SDK writes for the same audited update: read the item, write the
/// change held to its revision together with a record of the old and new values.
async fn raw_audited_update(client: &Client, table: &str, team: &Team, name: &str) -> Result<Team> {
    use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

    let key = raw_key(team)?;
    let old = client
        .get_item()
        .table_name(table)
        .set_key(Some(key.clone()))
        .consistent_read(true)
        .send()
        .await?
        .item
        .ok_or("the team exists")?;
    let n = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse::<i64>().ok());
    let revision = old.get("_revision").and_then(n).unwrap_or(0);
    let count = old.get("memberCount").and_then(n).ok_or("a count")? + 1;
    let now = now_millis();
    let (updated_at, timestamp) = (hand_timestamp(now), hand_timestamp(now));
    let changed = [
        ("name", AttributeValue::S(name.to_owned())),
        ("memberCount", AttributeValue::N(count.to_string())),
        ("updatedAt", AttributeValue::S(updated_at)),
    ];
    let mut new = old.clone();
    let mut changes = HashMap::new();
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key.clone()))
        .update_expression("SET #a0 = :u0, #a1 = :u1, #a2 = :u2, #revision = :next")
        .condition_expression("attribute_exists(#pk) AND #type = :type AND #revision = :revision")
        .expression_attribute_names("#pk", "pk")
        .expression_attribute_names("#type", "_type")
        .expression_attribute_names("#revision", "_revision")
        .expression_attribute_values(":type", AttributeValue::S("TEAM".into()))
        .expression_attribute_values(":revision", AttributeValue::N(revision.to_string()))
        .expression_attribute_values(":next", AttributeValue::N((revision + 1).to_string()))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    for (i, (field, value)) in changed.into_iter().enumerate() {
        update = update
            .expression_attribute_names(format!("#a{i}"), field)
            .expression_attribute_values(format!(":u{i}"), value.clone());
        let mut pair = HashMap::from([("new".to_owned(), value.clone())]);
        if let Some(old) = old.get(field) {
            pair.insert("old".to_owned(), old.clone());
        }
        if old.get(field) != Some(&value) {
            changes.insert(field.to_owned(), AttributeValue::M(pair));
        }
        new.insert(field.to_owned(), value);
    }
    let s = |text: &str| AttributeValue::S(text.to_owned());
    let id = format!("{}#{}#{}", team.tenant_id, team.organization_id, team.id);
    let record = HashMap::from([
        ("pk".to_owned(), s(&format!("TEAM#{id}"))),
        (
            "sk".to_owned(),
            s(&format!("AUDIT#{timestamp}#{:010}", revision + 1)),
        ),
        ("_type".to_owned(), s("AUDIT_LOG")),
        ("_timestamp".to_owned(), s(&timestamp)),
        ("id".to_owned(), s(&uuid::Uuid::new_v4().to_string())),
        ("entityType".to_owned(), s("TEAM")),
        ("entityId".to_owned(), s(&id)),
        ("entityKey".to_owned(), AttributeValue::M(key)),
        ("action".to_owned(), s("update")),
        ("changes".to_owned(), AttributeValue::M(changes)),
        ("timestamp".to_owned(), s(&timestamp)),
        (
            "revision".to_owned(),
            AttributeValue::N((revision + 1).to_string()),
        ),
    ]);
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(record))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", "pk")
        .build()?;
    client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().update(update.build()?).build())
        .transact_items(TransactWriteItem::builder().put(put).build())
        .client_request_token(uuid::Uuid::new_v4().to_string())
        .send()
        .await?;
    new.remove("_revision");
    Ok(hand_decode(new)?)
}

// ---------------------------------------------------------------------------------------------
// The raw SDK side: the requests singletable sends, written by hand.

fn new_team(i: usize) -> NewTeam {
    NewTeam {
        tenant_id: "tenant-0042".into(),
        organization_id: "7e3c1a9b-2d4f-4b8e-a6c5-1f0e9d8c7b6a".into(),
        name: "Platform Engineering".into(),
        description: Some("Owns the build, deploy and observability stack".into()),
        plan: if i.is_multiple_of(2) {
            Plan::Pro
        } else {
            Plan::Free
        },
        max_users: 50,
    }
}

async fn raw_create(client: &Client, table: &str, new: NewTeam) -> Result<Team> {
    let now = now_millis();
    let team = Team {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: new.tenant_id,
        organization_id: new.organization_id,
        name: new.name,
        description: new.description,
        plan: new.plan,
        max_users: new.max_users,
        member_count: 0,
        created_at: now,
        updated_at: None,
    };
    let item = hand_encode(&team, now)?;
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", "pk")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await?;
    Ok(team)
}

fn raw_key(team: &Team) -> Result<Item> {
    let (pk, sk) = hand_key(&team.tenant_id, &team.organization_id, &team.id)?;
    Ok(HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(sk)),
    ]))
}

async fn raw_get(client: &Client, table: &str, team: &Team) -> Result<Option<Team>> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(raw_key(team)?))
        .send()
        .await?;
    Ok(output.item.map(hand_decode).transpose()?)
}

const UPDATE_EXPRESSION: &str =
    "SET #a0 = :u0, #a1 = if_not_exists(#a1, :zero) + :u1, #a2 = :u2, #a3 = :u3";

async fn raw_update(client: &Client, table: &str, team: &Team, name: &str) -> Result<Team> {
    let updated_at = hand_timestamp(now_millis());
    let output = client
        .update_item()
        .table_name(table)
        .set_key(Some(raw_key(team)?))
        // An `add` carries a write token, so that a retry after a lost reply is applied once.
        .condition_expression(
            "attribute_exists(#pk) AND #type = :type \
             AND (attribute_not_exists(#wtoken) OR #wtoken <> :u3)",
        )
        .expression_attribute_names("#pk", "pk")
        .expression_attribute_names("#type", "_type")
        .expression_attribute_values(":type", AttributeValue::S("TEAM".into()))
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .expression_attribute_names("#a0", "name")
        .expression_attribute_values(":u0", AttributeValue::S(name.to_owned()))
        .expression_attribute_names("#a1", "memberCount")
        .expression_attribute_values(":u1", AttributeValue::N("1".into()))
        .expression_attribute_names("#a2", "updatedAt")
        .expression_attribute_values(":u2", AttributeValue::S(updated_at))
        .expression_attribute_names("#a3", "_write")
        .expression_attribute_names("#wtoken", "_write")
        .expression_attribute_values(
            ":u3",
            AttributeValue::S(uuid::Uuid::new_v4().simple().to_string()),
        )
        .expression_attribute_values(":zero", AttributeValue::N("0".into()))
        .update_expression(UPDATE_EXPRESSION)
        .send()
        .await?;
    Ok(hand_decode(output.attributes.unwrap_or_default())?)
}

const NAMES: [&str; 2] = ["Platform Engineering", "Developer Productivity"];

async fn ours_update(table: &Table, team: &Team, name: &str) -> Result<Team> {
    Ok(Team::update(table, team.key())
        .set(Team::FIELDS.name, name)
        .add(Team::FIELDS.member_count, 1)
        .send()
        .await?)
}

/// The organization whose partition `query` reads: `QUERIED` teams, and nothing else.
const QUERIED_ORG: &str = "0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e";
/// Teams in the queried partition: more than the largest page, so every page has a next one.
const QUERIED: usize = 150;

fn queried_team(n: usize) -> Team {
    let mut team = sample_team();
    team.organization_id = QUERIED_ORG.into();
    team.id = format!("q-{n:04}");
    team
}

async fn ours_query(table: &Table, size: usize) -> Result<Vec<Team>> {
    let partition = TeamPartition {
        tenant_id: "tenant-0042",
        organization_id: QUERIED_ORG,
    };
    let page = Team::query(table, partition).page(size, None).await?;
    assert!(page.cursor.is_some(), "the partition holds more");
    Ok(page.items)
}

/// The first page of `size` teams of the queried partition, with the filter on `_type` that a
/// partition shared by several entities needs.
async fn raw_query(client: &Client, table: &str, size: usize) -> Result<Vec<Team>> {
    let output = client
        .query()
        .table_name(table)
        .key_condition_expression("#n0 = :v0")
        .filter_expression("#n1 = :v1")
        .expression_attribute_names("#n0", "pk")
        .expression_attribute_names("#n1", "_type")
        .expression_attribute_values(
            ":v0",
            AttributeValue::S(format!("TENANT#tenant-0042#ORG#{QUERIED_ORG}")),
        )
        .expression_attribute_values(":v1", AttributeValue::S("TEAM".into()))
        .scan_index_forward(true)
        .consistent_read(false)
        .limit(i32::try_from(size)?)
        .send()
        .await?;
    assert!(
        output.last_evaluated_key.is_some(),
        "the partition holds more"
    );
    Ok(output
        .items
        .unwrap_or_default()
        .into_iter()
        .map(hand_decode)
        .collect::<Result<_, _>>()?)
}

/// Items per batch write: four chunks of 25, all in flight at once.
const BATCHED: usize = 100;
/// Batch writes cycle through this many sets of items, overwriting them, so the table stays
/// small however long the benchmark runs.
const BATCH_SETS: usize = 8;
const BATCH_CONCURRENCY: usize = 4;

fn batched_teams(side: &str, set: usize) -> Vec<Team> {
    (0..BATCHED)
        .map(|n| {
            let mut team = sample_team();
            team.id = format!("{side}-{set}-{n:03}");
            team
        })
        .collect()
}

async fn ours_batch(table: &Table, teams: &[Team]) -> Result<()> {
    let mut batch = singletable::BatchWrite::new(table);
    batch.concurrency(BATCH_CONCURRENCY);
    for team in teams {
        batch.put(team)?;
    }
    Ok(batch.send().await?)
}

/// What a user of the plain SDK writes for the same batch: chunks of 25 puts, as many in flight,
/// the unprocessed items of each sent again until none are left.
async fn raw_batch(client: &Client, table: &str, teams: &[Team]) -> Result<()> {
    use futures::{StreamExt, TryStreamExt};

    let created = now_millis();
    let mut chunks = Vec::with_capacity(teams.len().div_ceil(25));
    for teams in teams.chunks(25) {
        let mut chunk = Vec::with_capacity(teams.len());
        for team in teams {
            let put = PutRequest::builder()
                .set_item(Some(hand_encode(team, created)?))
                .build()?;
            chunk.push(WriteRequest::builder().put_request(put).build());
        }
        chunks.push(chunk);
    }
    futures::stream::iter(chunks)
        .map(|mut pending| async move {
            while !pending.is_empty() {
                let output = client
                    .batch_write_item()
                    .request_items(table, pending)
                    .send()
                    .await?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(table))
                    .unwrap_or_default();
            }
            Ok::<_, aws_sdk_dynamodb::Error>(())
        })
        .buffer_unordered(BATCH_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Checking that both sides send the same requests.

#[derive(Clone, Debug, PartialEq)]
enum Captured {
    Put(PutItemInput),
    Get(GetItemInput),
    Update(UpdateItemInput),
    Query(QueryInput),
    Batch(BatchWriteItemInput),
}

/// Records the input of every request, before serialization.
#[derive(Clone, Debug, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

impl Capture {
    fn take(&self) -> Captured {
        self.0
            .lock()
            .unwrap()
            .pop()
            .expect("a request was captured")
    }

    /// Every batch write captured, in the order of their first item's sort key (chunks in
    /// flight together reach the interceptor in any order).
    fn take_batches(&self) -> Vec<Captured> {
        let mut batches: Vec<Captured> = std::mem::take(&mut *self.0.lock().unwrap());
        let first_sk = |captured: &Captured| match captured {
            Captured::Batch(batch) => batch
                .request_items
                .as_ref()
                .and_then(|items| items.values().next())
                .and_then(|writes| writes.first())
                .and_then(|write| write.put_request.as_ref())
                .and_then(|put| put.item.get("sk"))
                .and_then(|sk| sk.as_s().ok())
                .cloned(),
            _ => None,
        };
        batches.sort_by_key(first_sk);
        batches
    }
}

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "Capture"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let captured = if let Some(put) = input.downcast_ref::<PutItemInput>() {
            Captured::Put(put.clone())
        } else if let Some(get) = input.downcast_ref::<GetItemInput>() {
            Captured::Get(get.clone())
        } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
            Captured::Update(update.clone())
        } else if let Some(query) = input.downcast_ref::<QueryInput>() {
            Captured::Query(query.clone())
        } else if let Some(batch) = input.downcast_ref::<BatchWriteItemInput>() {
            Captured::Batch(batch.clone())
        } else {
            return Ok(());
        };
        self.0.lock().unwrap().push(captured);
        Ok(())
    }
}

/// Replaces the values that differ between two calls (new ids, clocks) by a placeholder.
fn normalize(captured: Captured) -> Captured {
    let fixed = || AttributeValue::S("<varies>".into());
    match captured {
        Captured::Put(mut put) => {
            let item = put.item.as_mut().expect("an item");
            for name in ["id", "sk", "createdAt", "_timestamp"] {
                item.insert(name.into(), fixed());
            }
            Captured::Put(put)
        }
        Captured::Update(mut update) => {
            let values = update.expression_attribute_values.as_mut().expect("values");
            values.insert(":u2".into(), fixed());
            values.insert(":u3".into(), fixed());
            Captured::Update(update)
        }
        Captured::Batch(mut batch) => {
            for writes in batch.request_items.as_mut().expect("writes").values_mut() {
                for write in writes {
                    let put = write.put_request.as_mut().expect("a put");
                    put.item.insert("_timestamp".into(), fixed());
                }
            }
            Captured::Batch(batch)
        }
        other => other,
    }
}

/// Sends one request of each kind from both sides through a capturing client and compares them.
async fn assert_same_requests(table: &Table) -> Result<()> {
    let capture = Capture::default();
    let config = table
        .client()
        .config()
        .to_builder()
        .interceptor(capture.clone())
        .build();
    let client = Client::from_conf(config);
    let checked = Table::builder(client.clone(), table.name())
        .entity::<Team>()
        .build();
    let name = table.name();
    let same = |what: &str, ours: Captured, raw: Captured| {
        let (ours, raw) = (normalize(ours), normalize(raw));
        assert_eq!(
            ours, raw,
            "{what}: the raw request differs from singletable's"
        );
    };

    let ours = Team::create(&checked, new_team(0)).await?;
    let ours_put = capture.take();
    let raw = raw_create(&client, name, new_team(0)).await?;
    same("create", ours_put, capture.take());
    assert_eq!(ours.member_count, raw.member_count);

    let got = Team::get(&checked, ours.key()).await?;
    let ours_get = capture.take();
    let raw_got = raw_get(&client, name, &ours).await?;
    same("get", ours_get, capture.take());
    assert_eq!(got.as_ref(), Some(&ours));
    assert_eq!(raw_got.as_ref(), Some(&ours));

    let updated = ours_update(&checked, &ours, NAMES[1]).await?;
    let ours_update = capture.take();
    let raw_updated = raw_update(&client, name, &ours, NAMES[1]).await?;
    same("update", ours_update, capture.take());
    assert_eq!(updated.member_count, 1);
    assert_eq!(raw_updated.member_count, 2);
    assert_eq!(raw_updated.name, NAMES[1]);

    for size in [10, 100] {
        let ours = ours_query(&checked, size).await?;
        let ours_query = capture.take();
        let raw = raw_query(&client, name, size).await?;
        same("query", ours_query, capture.take());
        assert_eq!(ours.len(), size);
        assert_eq!(ours, raw);
    }

    let teams = batched_teams("check", 0);
    ours_batch(&checked, &teams).await?;
    let ours_batches = capture.take_batches();
    raw_batch(&client, name, &teams).await?;
    let raw_batches = capture.take_batches();
    assert_eq!(ours_batches.len(), BATCHED / 25);
    assert_eq!(ours_batches.len(), raw_batches.len());
    for (ours, raw) in ours_batches.into_iter().zip(raw_batches) {
        same("batch write", ours, raw);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Measuring.

/// CPU and wall time of one side of one operation, summed over rounds.
#[derive(Default)]
struct Side {
    cpu_ns: u64,
    wall: Duration,
    calls: usize,
    /// CPU ns per call of each round.
    rounds: Vec<f64>,
}

impl Side {
    fn add(&mut self, cpu_ns: u64, wall: Duration, calls: usize) {
        self.cpu_ns += cpu_ns;
        self.wall += wall;
        self.calls += calls;
        self.rounds.push(cpu_ns as f64 / calls as f64);
    }

    /// The same side counted per item, for calls of `items` items each.
    fn per_item(mut self, items: usize) -> Self {
        self.calls *= items;
        for round in &mut self.rounds {
            *round /= items as f64;
        }
        self
    }

    fn cpu_us(&self) -> f64 {
        self.cpu_ns as f64 / self.calls as f64 / 1000.0
    }

    fn wall_us(&self) -> f64 {
        self.wall.as_secs_f64() * 1e6 / self.calls as f64
    }
}

/// Runs `$body` `$calls` times (with `$i` the call index) and returns CPU ns and wall time.
macro_rules! timed {
    ($calls:expr, |$i:ident| $body:expr) => {{
        let (cpu, wall) = (cpu_ns(), Instant::now());
        for $i in 0..$calls {
            black_box($body);
        }
        (cpu_ns() - cpu, wall.elapsed())
    }};
}

/// Measures one operation: `$ours` and `$raw` alternate by rounds of `ROUND` calls, and which
/// side goes first alternates too.
macro_rules! compare {
    ($rounds:expr, |$i:ident| ours: $ours:expr, raw: $raw:expr) => {{
        let (mut ours, mut raw) = (Side::default(), Side::default());
        timed!(WARM_UP, |$i| $ours);
        timed!(WARM_UP, |$i| $raw);
        for round in 0..$rounds {
            let offset = round * ROUND;
            let ours_first = round % 2 == 0;
            for ours_turn in [ours_first, !ours_first] {
                if ours_turn {
                    let (cpu, wall) = timed!(ROUND, |call| {
                        let $i = offset + call;
                        $ours
                    });
                    ours.add(cpu, wall, ROUND);
                } else {
                    let (cpu, wall) = timed!(ROUND, |call| {
                        let $i = offset + call;
                        $raw
                    });
                    raw.add(cpu, wall, ROUND);
                }
            }
        }
        (ours, raw)
    }};
}

async fn run(local: &DynamoDbLocal, rounds: usize) -> Result<()> {
    let (client, name) = local.fresh_table("bench").await?;
    let table = Table::builder(client.clone(), name.clone())
        .type_index(singletable_local::TYPE_INDEX)
        .entity::<Team>()
        .build();
    let queried: Vec<Team> = (0..QUERIED).map(queried_team).collect();
    ours_batch(&table, &queried).await?;
    assert_same_requests(&table).await?;

    let mut pool = Vec::with_capacity(POOL);
    for i in 0..POOL {
        pool.push(Team::create(&table, new_team(i)).await?);
    }
    let (name, client) = (name.as_str(), &client);

    let ops = std::env::var("BENCH_OPS").unwrap_or_else(|_| {
        "create,get,query10,query100,batch,retry,update,audited,noise,coalesced".into()
    });
    let wanted = |op: &str| ops.split(',').any(|o| o.trim() == op);
    let started = Instant::now();
    let mut results = Vec::new();
    if wanted("create") {
        let sides = compare!(rounds, |i| ours: Team::create(&table, new_team(i)).await?,
            raw: raw_create(client, name, new_team(i)).await?);
        results.push(("create (conditional put)", sides));
    }
    if wanted("get") {
        let sides = compare!(rounds, |i| ours: Team::get(&table, pool[i % POOL].key()).await?.expect("found"),
            raw: raw_get(client, name, &pool[i % POOL]).await?.expect("found"));
        results.push(("get", sides));
    }
    // The retry layer on the fault-free path: the same get through the table's default policy
    // against a table that never retries (no copy of the request kept for a retry).
    if wanted("retry") {
        let once = Table::builder(client.clone(), name)
            .type_index(singletable_local::TYPE_INDEX)
            .retry(singletable::RetryPolicy::none())
            .build();
        let sides = compare!(rounds, |i| ours: Team::get(&table, pool[i % POOL].key()).await?.expect("found"),
            raw: Team::get(&once, pool[i % POOL].key()).await?.expect("found"));
        results.push((
            "retry layer: get with retries vs get without (not raw)",
            sides,
        ));
    }
    // Queries and batches cost more per call and are counted per item: fewer calls of them.
    let fewer = (rounds / 4).max(1);
    for size in [10, 100] {
        if wanted(&format!("query{size}")) {
            let (ours, raw) = compare!(fewer, |_i| ours: ours_query(&table, size).await?,
                raw: raw_query(client, name, size).await?);
            let operation = if size == 10 {
                "query, page of 10, per item"
            } else {
                "query, page of 100, per item"
            };
            results.push((operation, (ours.per_item(size), raw.per_item(size))));
        }
    }
    if wanted("batch") {
        let ours_sets: Vec<Vec<Team>> = (0..BATCH_SETS)
            .map(|set| batched_teams("ours", set))
            .collect();
        let raw_sets: Vec<Vec<Team>> = (0..BATCH_SETS)
            .map(|set| batched_teams("raw", set))
            .collect();
        let (ours, raw) = compare!(fewer, |i| ours: ours_batch(&table, &ours_sets[i % BATCH_SETS]).await?,
            raw: raw_batch(client, name, &raw_sets[i % BATCH_SETS]).await?);
        results.push((
            "batch write, 4 chunks of 25 puts in flight, per item",
            (ours.per_item(BATCHED), raw.per_item(BATCHED)),
        ));
    }
    if wanted("update") {
        let sides = compare!(rounds, |i| ours: ours_update(&table, &pool[i % POOL], NAMES[i % 2]).await?,
            raw: raw_update(client, name, &pool[i % POOL], NAMES[i % 2]).await?);
        results.push(("update (set + add, ALL_NEW)", sides));
    }
    if wanted("audited") {
        // Its own items: audited writes keep a revision the plain ones above do not move.
        let mut audited = Vec::with_capacity(POOL);
        for i in 0..POOL {
            let team = raw_create(client, name, new_team(i)).await?;
            ours_audited_update(&table, &team, NAMES[0]).await?;
            audited.push(team);
        }
        let sides = compare!(rounds, |i| ours: ours_audited_update(&table, &audited[i % POOL], NAMES[i % 2]).await?,
            raw: raw_audited_update(client, name, &audited[i % POOL], NAMES[i % 2]).await?);
        results.push(("audited update (read + transaction of 2)", sides));
    }
    // The noise floor: the raw create against itself, measured the same way.
    if wanted("noise") {
        let sides = compare!(rounds, |i| ours: raw_create(client, name, new_team(i)).await?,
            raw: raw_create(client, name, new_team(i)).await?);
        results.push(("noise floor: raw create vs raw create", sides));
    }
    let mut coalesced_ratio = None;
    if wanted("coalesced") {
        let sides = coalesced(&table, client, name, rounds.div_ceil(COALESCED / ROUND)).await?;
        coalesced_ratio = Some(sides.0.cpu_us() / sides.1.cpu_us());
        results.push((
            "coalesced: 1,000 concurrent loader gets vs 1,000 concurrent raw GetItems, per item (rounds of 1,000)",
            sides,
        ));
    }
    let elapsed = started.elapsed();

    let clock = if schedstat_ns().is_some() {
        "sum of /proc/self/task/*/schedstat"
    } else {
        "utime+stime of /proc/self/stat"
    };
    println!();
    println!(
        "## roundtrip: client CPU per call (or per item), singletable vs raw aws-sdk-dynamodb \
         (alternating rounds of {ROUND} calls per side; {clock}; DynamoDB Local at {})",
        local.endpoint()
    );
    println!();
    println!(
        "| operation | ours CPU µs | raw CPU µs | ours / raw | per-round ratio: median (p25–p75) \
         | ours wall µs | raw wall µs | calls (items) per side |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (operation, (ours, raw)) in results {
        let mut ratios: Vec<f64> = ours
            .rounds
            .iter()
            .zip(&raw.rounds)
            .map(|(ours, raw)| ours / raw)
            .collect();
        ratios.sort_by(f64::total_cmp);
        let quantile = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
        println!(
            "| {operation} | {:.1} | {:.1} | {:.3}× | {:.3}× ({:.3}–{:.3}) | {:.0} | {:.0} | {} |",
            ours.cpu_us(),
            raw.cpu_us(),
            ours.cpu_us() / raw.cpu_us(),
            quantile(0.5),
            quantile(0.25),
            quantile(0.75),
            ours.wall_us(),
            raw.wall_us(),
            ours.calls,
        );
    }
    println!();
    println!(
        "target: ours / raw ≤ 1.10×; measured in {:.1} s",
        elapsed.as_secs_f64()
    );
    if let Some(ratio) = coalesced_ratio {
        println!(
            "coalesced gets: ours / raw = {ratio:.3}× of the raw CPU per item (target ≤ 0.30×)"
        );
    }
    Ok(())
}

/// `COALESCED` concurrent gets of as many items: through a [`singletable::Loader`] (one task's
/// `join_all`, which the loader sends as `BatchGetItem` requests of 100 keys) against the same
/// number of concurrent raw `GetItem`s. Both sides must return the same items; CPU is per item.
async fn coalesced(
    table: &Table,
    client: &Client,
    name: &str,
    rounds: usize,
) -> Result<(Side, Side)> {
    use futures::{StreamExt, TryStreamExt};

    let teams: Vec<Team> = futures::stream::iter(0..COALESCED)
        .map(|i| raw_create(client, name, new_team(i)))
        .buffered(32)
        .try_collect()
        .await?;
    let loader = singletable::Loader::new(table);
    let ours = || async {
        let got =
            futures::future::join_all(teams.iter().map(|t| loader.get::<Team>(t.key()))).await;
        got.into_iter()
            .map(|team| Ok(team?.ok_or("found")?))
            .collect::<Result<Vec<Team>>>()
    };
    let raw = || async {
        let got = futures::future::join_all(teams.iter().map(|t| raw_get(client, name, t))).await;
        got.into_iter()
            .map(|team| team?.ok_or_else(|| "found".into()))
            .collect::<Result<Vec<Team>>>()
    };
    // Untimed: the raw side opens its connections here.
    assert_eq!(ours().await?, teams);
    assert_eq!(raw().await?, teams);
    let (mut ours_side, mut raw_side) = (Side::default(), Side::default());
    for round in 0..rounds.max(3) {
        for ours_turn in [round % 2 == 0, round % 2 == 1] {
            let (cpu, wall) = (cpu_ns(), Instant::now());
            let got = if ours_turn {
                ours().await?
            } else {
                raw().await?
            };
            let (cpu, wall) = (cpu_ns() - cpu, wall.elapsed());
            assert!(got == teams, "both sides return the same items");
            if ours_turn {
                ours_side.add(cpu, wall, COALESCED);
            } else {
                raw_side.add(cpu, wall, COALESCED);
            }
        }
    }
    Ok((ours_side, raw_side))
}
