use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use singletable_local::{DynamoDbLocal, TYPE_INDEX};

type TestResult = Result<(), Box<dyn Error>>;

fn port_of(endpoint: &str) -> u16 {
    endpoint
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in endpoint {endpoint:?}"))
}

fn port_open(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

#[tokio::test]
async fn shared_instance_lists_a_fresh_table() -> TestResult {
    let db = DynamoDbLocal::shared()?;
    assert!(std::ptr::eq(db, DynamoDbLocal::shared()?));
    let (client, table) = db.fresh_table("listed").await?;

    let tables = client.list_tables().send().await?;
    assert!(
        tables.table_names().contains(&table),
        "{table} missing from {:?}",
        tables.table_names()
    );
    Ok(())
}

#[tokio::test]
async fn fresh_table_has_the_type_index() -> TestResult {
    let db = DynamoDbLocal::shared()?;
    let (client, table) = db.fresh_table("indexed").await?;

    client
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("user#1".into()))
        .item("sk", AttributeValue::S("profile".into()))
        .item("_type", AttributeValue::S("User".into()))
        .item(
            "_timestamp",
            AttributeValue::S("2026-01-01T00:00:00Z".into()),
        )
        .send()
        .await?;
    let found = client
        .query()
        .table_name(&table)
        .index_name(TYPE_INDEX)
        .key_condition_expression("#type = :type")
        .expression_attribute_names("#type", "_type")
        .expression_attribute_values(":type", AttributeValue::S("User".into()))
        .send()
        .await?;
    assert_eq!(found.count(), 1);
    assert_eq!(
        found.items()[0].get("pk"),
        Some(&AttributeValue::S("user#1".into()))
    );
    Ok(())
}

#[test]
fn dropping_stops_java() -> TestResult {
    let db = DynamoDbLocal::spawn()?;
    let port = port_of(db.endpoint());
    assert!(port_open(port));
    // Drop waits for Java to exit.
    drop(db);
    assert!(!port_open(port), "port {port} still open after drop");
    Ok(())
}

/// Set in the child process started by `java_stops_when_its_owner_is_killed`.
const CHILD_ENV: &str = "SINGLETABLE_LOCAL_TEST_CHILD";
const ENDPOINT_LINE: &str = "child endpoint: ";

/// Runs only as the child of `java_stops_when_its_owner_is_killed`: starts
/// DynamoDB Local, reports its endpoint and waits to be killed.
#[test]
#[ignore = "helper run by java_stops_when_its_owner_is_killed"]
fn child_holds_dynamodb_local() -> TestResult {
    if std::env::var_os(CHILD_ENV).is_none() {
        return Ok(());
    }
    let db = DynamoDbLocal::spawn()?;
    println!("{ENDPOINT_LINE}{}", db.endpoint());
    std::thread::sleep(Duration::from_secs(600));
    Ok(())
}

/// Kills the child process if the test fails before doing so.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(unix)]
#[test]
fn java_stops_when_its_owner_is_killed() -> TestResult {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;

    let mut child = KillOnDrop(
        Command::new(std::env::current_exe()?)
            .args([
                "--exact",
                "child_holds_dynamodb_local",
                "--ignored",
                "--nocapture",
            ])
            .env(CHILD_ENV, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?,
    );
    let stdout = child.0.stdout.take().ok_or("no stdout pipe")?;
    let mut stderr = child.0.stderr.take().ok_or("no stderr pipe")?;
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });

    // Generous, since the child may be the one downloading DynamoDB Local.
    let deadline = Instant::now() + Duration::from_secs(300);
    let endpoint = loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(remaining) {
            Ok(line) => {
                if let Some(endpoint) = line.strip_prefix(ENDPOINT_LINE) {
                    break endpoint.to_owned();
                }
            }
            Err(error) => {
                let _ = child.0.kill();
                let stderr = stderr.join().unwrap_or_default();
                return Err(
                    format!("child reported no endpoint ({error}); stderr:\n{stderr}").into(),
                );
            }
        }
    };
    let port = port_of(&endpoint);
    assert!(port_open(port), "child's DynamoDB Local is not listening");

    // SIGKILL: no destructor or exit handler runs in the child.
    child.0.kill()?;
    child.0.wait()?;

    let deadline = Instant::now() + Duration::from_secs(15);
    while port_open(port) {
        assert!(
            Instant::now() < deadline,
            "Java still listens on {port} after its owner was killed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
