//! The fault proxy against a real DynamoDB Local.

use std::collections::{BTreeSet, HashMap};
use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use singletable_local::faults::{Fault, ThrottleError};
use singletable_local::{create_table, unique_table_name, DynamoDbLocal, FaultProxy, Faults};

type TestResult = Result<(), Box<dyn Error>>;

/// The same client with the SDK's retries turned off, so each call is one
/// request.
fn without_retries(client: &Client) -> Client {
    let config = client
        .config()
        .to_builder()
        .retry_config(RetryConfig::disabled());
    Client::from_conf(config.build())
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn key(pk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s("item"))])
}

fn put_request(pk: &str) -> Result<WriteRequest, Box<dyn Error>> {
    let mut item = key(pk);
    item.insert("payload".to_owned(), s(&format!("payload of {pk}")));
    Ok(WriteRequest::builder()
        .put_request(PutRequest::builder().set_item(Some(item)).build()?)
        .build())
}

fn pk_of(item: &HashMap<String, AttributeValue>) -> Result<String, Box<dyn Error>> {
    match item.get("pk") {
        Some(AttributeValue::S(pk)) => Ok(pk.clone()),
        other => Err(format!("no string pk in {other:?}").into()),
    }
}

/// The `pk` of every item in `table`, read directly from DynamoDB Local.
async fn stored_keys(direct: &Client, table: &str) -> Result<BTreeSet<String>, Box<dyn Error>> {
    let mut keys = BTreeSet::new();
    let mut start = None;
    loop {
        let page = direct
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in page.items() {
            keys.insert(pk_of(item)?);
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(keys);
        }
    }
}

async fn put(client: &Client, table: &str, pk: &str) -> Result<(), SdkError<PutItemError>> {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(key(pk)))
        .send()
        .await
        .map(drop)
}

async fn is_stored(direct: &Client, table: &str, pk: &str) -> Result<bool, Box<dyn Error>> {
    let found = direct
        .get_item()
        .table_name(table)
        .set_key(Some(key(pk)))
        .consistent_read(true)
        .send()
        .await?;
    Ok(found.item().is_some())
}

/// How a call ended, as a test can tell from the client side.
fn outcome<T, E: ProvideErrorMetadata + Error>(result: &Result<T, SdkError<E>>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(SdkError::ServiceError(error)) => error.err().code().unwrap_or("no code").to_owned(),
        Err(_) => "connection".to_owned(),
    }
}

#[tokio::test]
async fn without_faults_everything_is_forwarded() -> TestResult {
    let db = DynamoDbLocal::shared()?;
    let proxy = db.with_faults(Faults::none().seed(1)).await?;
    assert_ne!(proxy.endpoint(), db.endpoint());
    assert!(proxy.endpoint().starts_with("http://127.0.0.1:"));
    let client = proxy.client().await;

    let table = unique_table_name("faults-none");
    create_table(&client, &table).await?;
    put(&client, &table, "single").await?;
    let got = client
        .get_item()
        .table_name(&table)
        .set_key(Some(key("single")))
        .send()
        .await?;
    assert_eq!(
        got.item().map(pk_of).transpose()?.as_deref(),
        Some("single")
    );

    let pks: Vec<String> = (0..25).map(|i| format!("batch-{i:02}")).collect();
    let requests = pks
        .iter()
        .map(|pk| put_request(pk))
        .collect::<Result<Vec<_>, _>>()?;
    let written = client
        .batch_write_item()
        .request_items(&table, requests)
        .send()
        .await?;
    assert!(written.unprocessed_items().is_none_or(HashMap::is_empty));

    let keys = KeysAndAttributes::builder()
        .set_keys(Some(pks.iter().map(|pk| key(pk)).collect()))
        .build()?;
    let read = client
        .batch_get_item()
        .request_items(&table, keys)
        .send()
        .await?;
    let responses = read
        .responses()
        .and_then(|r| r.get(&table))
        .ok_or("no responses")?;
    assert_eq!(responses.len(), 25);

    let direct = db.client().await;
    let mut expected: BTreeSet<String> = pks.into_iter().collect();
    expected.insert("single".to_owned());
    assert_eq!(stored_keys(&direct, &table).await?, expected);

    let injected = proxy.injected();
    assert_eq!(injected.total_faults(), 0, "{injected:?}");
    assert_eq!(injected.proxy_errors, 0, "{injected:?}");
    assert!(injected.requests >= 5, "{injected:?}");
    assert_eq!(injected.forwarded, injected.requests, "{injected:?}");
    assert_eq!(proxy.injected_for("BatchWriteItem").forwarded, 1);
    assert!(proxy.decisions().iter().all(|d| d.fault.is_none()));
    Ok(())
}

#[tokio::test]
async fn throttled_requests_are_not_forwarded() -> TestResult {
    let db = DynamoDbLocal::shared()?;
    let (direct, table) = db.fresh_table("faults-throttle").await?;
    let proxy = db.with_faults(Faults::none().throttle(1.0)).await?;
    let client = without_retries(&proxy.client().await);

    let error = put(&client, &table, "throttled")
        .await
        .err()
        .ok_or("a throttled put succeeded")?;
    let service_error = error.as_service_error().ok_or("not a service error")?;
    assert!(
        service_error.is_provisioned_throughput_exceeded_exception(),
        "{service_error:?}"
    );
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(400));
    assert!(!is_stored(&direct, &table, "throttled").await?);

    let injected = proxy.injected();
    assert_eq!(injected.throttles, 1, "{injected:?}");
    assert_eq!(injected.forwarded, 0, "{injected:?}");
    assert_eq!(proxy.injected_for("PutItem").throttles, 1);
    assert_eq!(proxy.injected_for("GetItem").requests, 0);

    // The other throttling error DynamoDB answers with.
    let proxy = db
        .with_faults(
            Faults::none()
                .throttle(1.0)
                .throttle_error(ThrottleError::Throttling),
        )
        .await?;
    let client = without_retries(&proxy.client().await);
    let result = put(&client, &table, "throttled").await;
    assert_eq!(outcome(&result), "ThrottlingException");
    Ok(())
}

#[tokio::test]
async fn the_sdk_retries_server_errors() -> TestResult {
    let db = DynamoDbLocal::shared()?;
    let (direct, table) = db.fresh_table("faults-500").await?;
    let proxy = db.with_faults(Faults::none().server_error(1.0)).await?;
    // The default three attempts, with shorter pauses between them.
    let client = proxy.client().await;
    let retries = RetryConfig::standard().with_initial_backoff(Duration::from_millis(10));
    let client = Client::from_conf(client.config().to_builder().retry_config(retries).build());

    let result = put(&client, &table, "failing").await;
    assert_eq!(outcome(&result), "InternalServerError");
    let error = result.err().ok_or("a put succeeded")?;
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert_eq!(proxy.injected().server_errors, 3, "{:?}", proxy.injected());
    assert!(!is_stored(&direct, &table, "failing").await?);
    Ok(())
}

#[tokio::test]
async fn reset_connections_are_not_forwarded() -> TestResult {
    let db = DynamoDbLocal::shared()?;
    let (direct, table) = db.fresh_table("faults-reset").await?;
    let proxy = db.with_faults(Faults::none().reset(1.0)).await?;
    let client = without_retries(&proxy.client().await);

    let result = put(&client, &table, "reset").await;
    assert_eq!(outcome(&result), "connection", "{result:?}");
    assert!(!is_stored(&direct, &table, "reset").await?);
    assert_eq!(proxy.injected().resets, 1);
    assert_eq!(proxy.injected().forwarded, 0);
    Ok(())
}

#[tokio::test]
async fn lost_replies_are_applied() -> TestResult {
    let db = DynamoDbLocal::shared()?;
    let (direct, table) = db.fresh_table("faults-lost").await?;
    let proxy = db.with_faults(Faults::none().lost_reply(1.0)).await?;
    let client = without_retries(&proxy.client().await);

    let result = put(&client, &table, "lost").await;
    assert_eq!(outcome(&result), "connection", "{result:?}");
    assert!(
        is_stored(&direct, &table, "lost").await?,
        "a lost reply's put was not applied"
    );
    assert_eq!(proxy.injected().lost_replies, 1);
    Ok(())
}

#[tokio::test]
async fn partial_batch_write_reports_the_withheld_items() -> TestResult {
    let db = DynamoDbLocal::shared()?;
    let (direct, table) = db.fresh_table("faults-partial-write").await?;
    let proxy = db
        .with_faults(Faults::none().seed(3).partial_batch(1.0))
        .await?;
    let client = without_retries(&proxy.client().await);

    let pks: BTreeSet<String> = (0..25).map(|i| format!("item-{i:02}")).collect();
    let requests = pks
        .iter()
        .map(|pk| put_request(pk))
        .collect::<Result<Vec<_>, _>>()?;
    let written = client
        .batch_write_item()
        .request_items(&table, requests)
        .send()
        .await?;

    let mut unprocessed = BTreeSet::new();
    for (name, requests) in written.unprocessed_items().ok_or("no UnprocessedItems")? {
        assert_eq!(name, &table);
        for request in requests {
            let item = request.put_request().ok_or("not a put")?.item();
            assert!(item.contains_key("payload"), "the item lost attributes");
            assert!(unprocessed.insert(pk_of(item)?), "reported twice");
        }
    }
    let stored = stored_keys(&direct, &table).await?;
    assert!(!unprocessed.is_empty(), "nothing withheld");
    assert!(!stored.is_empty(), "nothing forwarded");
    assert!(stored.is_disjoint(&unprocessed), "stored and unprocessed");
    let all: BTreeSet<String> = stored.union(&unprocessed).cloned().collect();
    assert_eq!(all, pks);

    let injected = proxy.injected();
    assert_eq!(injected.partial_batches, 1);
    assert_eq!(injected.withheld_items, unprocessed.len() as u64);
    let decisions = proxy.decisions();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].fault, Some(Fault::PartialBatch));
    assert_eq!(decisions[0].withheld, unprocessed.len());

    // Sending the unprocessed items again, without faults, finishes the job.
    proxy.set_enabled(false);
    let again = client
        .batch_write_item()
        .set_request_items(written.unprocessed_items)
        .send()
        .await?;
    assert!(again.unprocessed_items().is_none_or(HashMap::is_empty));
    assert_eq!(stored_keys(&direct, &table).await?, pks);
    Ok(())
}

#[tokio::test]
async fn partial_batch_get_keeps_the_table_settings() -> TestResult {
    let db = DynamoDbLocal::shared()?;
    let (direct, table) = db.fresh_table("faults-partial-get").await?;
    let pks: Vec<String> = (0..30).map(|i| format!("read-{i:02}")).collect();
    for chunk in pks.chunks(25) {
        let requests = chunk
            .iter()
            .map(|pk| put_request(pk))
            .collect::<Result<Vec<_>, _>>()?;
        direct
            .batch_write_item()
            .request_items(&table, requests)
            .send()
            .await?;
    }
    let proxy = db
        .with_faults(Faults::none().for_operation("BatchGetItem", |r| r.partial_batch(1.0)))
        .await?;
    let client = without_retries(&proxy.client().await);

    let keys = KeysAndAttributes::builder()
        .set_keys(Some(pks.iter().map(|pk| key(pk)).collect()))
        .projection_expression("#pk, sk")
        .expression_attribute_names("#pk", "pk")
        .consistent_read(true)
        .build()?;
    let read = client
        .batch_get_item()
        .request_items(&table, keys)
        .send()
        .await?;

    let mut found = BTreeSet::new();
    for item in read
        .responses()
        .and_then(|r| r.get(&table))
        .into_iter()
        .flatten()
    {
        assert!(!item.contains_key("payload"), "projection not applied");
        found.insert(pk_of(item)?);
    }
    let pending = read
        .unprocessed_keys()
        .and_then(|u| u.get(&table))
        .ok_or("no UnprocessedKeys")?;
    assert_eq!(pending.projection_expression(), Some("#pk, sk"));
    assert_eq!(
        pending
            .expression_attribute_names()
            .and_then(|names| names.get("#pk"))
            .map(String::as_str),
        Some("pk")
    );
    assert_eq!(pending.consistent_read(), Some(true));
    let unprocessed = pending
        .keys()
        .iter()
        .map(pk_of)
        .collect::<Result<BTreeSet<_>, _>>()?;
    assert!(!found.is_empty() && !unprocessed.is_empty());
    assert!(found.is_disjoint(&unprocessed));
    let all: BTreeSet<String> = found.union(&unprocessed).cloned().collect();
    assert_eq!(all, pks.iter().cloned().collect());
    assert_eq!(proxy.injected_for("BatchGetItem").partial_batches, 1);
    Ok(())
}

#[tokio::test]
async fn faults_apply_only_while_enabled() -> TestResult {
    let db = DynamoDbLocal::shared()?;
    let proxy = db
        .with_faults(Faults::none().throttle(1.0).enabled(false))
        .await?;
    let client = without_retries(&proxy.client().await);
    // Setup through the proxy, without faults.
    let table = unique_table_name("faults-switch");
    create_table(&client, &table).await?;
    assert!(put(&client, &table, "before").await.is_ok());
    assert!(proxy.decisions().is_empty());

    proxy.set_enabled(true);
    assert_eq!(
        outcome(&put(&client, &table, "during").await),
        "ProvisionedThroughputExceededException"
    );
    proxy.set_enabled(false);
    assert!(put(&client, &table, "after").await.is_ok());

    assert_eq!(proxy.decisions().len(), 1);
    assert_eq!(proxy.injected().throttles, 1);
    Ok(())
}

/// Sends the same puts through a proxy with `seed` and returns the decisions
/// and what the client saw.
async fn mixed_run(
    db: &DynamoDbLocal,
    seed: u64,
) -> Result<(Vec<Option<Fault>>, Vec<String>), Box<dyn Error>> {
    let (_, table) = db.fresh_table("faults-seed").await?;
    let faults = Faults::none().seed(seed).for_operation("PutItem", |rates| {
        rates
            .throttle(0.2)
            .server_error(0.2)
            .reset(0.15)
            .lost_reply(0.15)
    });
    let proxy = db.with_faults(faults).await?;
    let client = without_retries(&proxy.client().await);
    let mut outcomes = Vec::new();
    for i in 0..30 {
        outcomes.push(outcome(&put(&client, &table, &format!("seeded-{i}")).await));
    }
    let faults: Vec<Option<Fault>> = proxy.decisions().iter().map(|d| d.fault).collect();
    assert_eq!(faults.len(), 30);
    for (fault, outcome) in faults.iter().zip(&outcomes) {
        let expected = match fault {
            None => "ok",
            Some(Fault::Throttle) => "ProvisionedThroughputExceededException",
            Some(Fault::ServerError) => "InternalServerError",
            Some(_) => "connection",
        };
        assert_eq!(outcome, expected, "{fault:?}");
    }
    Ok((faults, outcomes))
}

#[tokio::test]
async fn the_same_seed_makes_the_same_decisions() -> TestResult {
    let db = DynamoDbLocal::shared()?;
    let first = mixed_run(db, 11).await?;
    let second = mixed_run(db, 11).await?;
    assert_eq!(first, second);
    for kind in [
        None,
        Some(Fault::Throttle),
        Some(Fault::ServerError),
        Some(Fault::Reset),
        Some(Fault::LostReply),
    ] {
        assert!(first.0.contains(&kind), "no {kind:?} in {:?}", first.0);
    }
    let other = mixed_run(db, 12).await?;
    assert_ne!(first.0, other.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serves_concurrent_clients() -> TestResult {
    let db = DynamoDbLocal::shared()?;
    let (direct, table) = db.fresh_table("faults-concurrent").await?;
    let proxy = db.with_faults(Faults::none()).await?;
    let mut tasks = Vec::new();
    for task in 0..8 {
        let client = proxy.client().await;
        let table = table.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                put(&client, &table, &format!("task-{task}-{i}"))
                    .await
                    .map_err(|error| format!("{error:?}"))?;
            }
            Ok::<_, String>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    assert_eq!(stored_keys(&direct, &table).await?.len(), 80);
    assert_eq!(proxy.injected().forwarded, 80);
    Ok(())
}

#[test]
fn dropping_stops_the_proxy() -> TestResult {
    let db = DynamoDbLocal::shared()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let proxy: FaultProxy = runtime.block_on(db.with_faults(Faults::none()))?;
    let port: u16 = proxy
        .endpoint()
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .ok_or("no port")?;
    // The proxy outlives the runtime it was started from.
    drop(runtime);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok());
    drop(proxy);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    Ok(())
}

/// Sends `request` as is and returns everything the proxy answers until it
/// closes the connection.
fn raw_exchange(endpoint: &str, request: &[u8]) -> Result<String, Box<dyn Error>> {
    use std::io::{Read, Write};
    let addr: SocketAddr = endpoint.trim_start_matches("http://").parse()?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request)?;
    let mut answer = Vec::new();
    // A reset after some bytes still leaves them in `answer`.
    let _ = stream.read_to_end(&mut answer);
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// Whether an answer came from DynamoDB Local's web server, not the proxy.
fn from_dynamodb_local(answer: &str) -> bool {
    answer.to_ascii_lowercase().contains("server: jetty") && !answer.contains("singletable")
}

fn raw_request(target: &str, body: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\n\
         Host: 127.0.0.1\r\n\
         X-Amz-Target: {target}\r\n\
         Content-Type: application/x-amz-json-1.0\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\
         \r\n\
         {body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn malformed_requests_are_forwarded_unchanged() -> TestResult {
    let db = DynamoDbLocal::shared()?;
    let proxy = db.with_faults(Faults::none().partial_batch(1.0)).await?;

    // Not JSON: DynamoDB Local's own error comes back.
    let answer = raw_exchange(
        proxy.endpoint(),
        &raw_request("DynamoDB_20120810.BatchWriteItem", "not json"),
    )?;
    assert!(!answer.starts_with("HTTP/1.1 2"), "{answer}");
    assert!(from_dynamodb_local(&answer), "{answer}");

    // No table in the batch.
    let answer = raw_exchange(
        proxy.endpoint(),
        &raw_request("DynamoDB_20120810.BatchGetItem", r#"{"RequestItems":{}}"#),
    )?;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(from_dynamodb_local(&answer), "{answer}");

    // Not HTTP at all.
    let answer = raw_exchange(proxy.endpoint(), b"hello\r\n\r\n")?;
    assert!(!answer.starts_with("HTTP/1.1 2"), "{answer}");

    let injected = proxy.injected();
    assert_eq!(injected.partial_batches, 0, "{injected:?}");
    assert_eq!(injected.forwarded, 2, "{injected:?}");
    assert_eq!(proxy.injected_for("unknown").requests, 0);

    // Still serving.
    let answer = raw_exchange(
        proxy.endpoint(),
        &raw_request("DynamoDB_20120810.ListTables", "{}"),
    )?;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("TableNames"), "{answer}");
    Ok(())
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_bad_gateway() -> TestResult {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port();
    let proxy = FaultProxy::start(&format!("http://127.0.0.1:{port}"), Faults::none()).await?;
    let client = without_retries(&proxy.client().await);
    let error = client
        .list_tables()
        .send()
        .await
        .err()
        .ok_or("listed tables without DynamoDB")?;
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(502));
    assert_eq!(proxy.injected().proxy_errors, 1);

    assert!(FaultProxy::start("https://127.0.0.1:1", Faults::none())
        .await
        .is_err());
    Ok(())
}
