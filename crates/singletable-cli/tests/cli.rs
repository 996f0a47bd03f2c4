//! The `singletable` binary against a real DynamoDB Local.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, KeyType};
use aws_sdk_dynamodb::Client;
use singletable_local::{unique_table_name, DynamoDbLocal};

const DESCRIPTION: &str = r##"
partition_key = "pk"
sort_key = "sk"
type_index = "TypeIndex"
ttl_attribute = "expiresAt"

[[index]]
name = "ByEmail"
partition_key = "gsi1pk"
sort_key = "gsi1sk"

[[entity]]
type = "ORGANIZATION"
pk = "TENANT#<tenant_id>#ORG#<id>"
sk = "#METADATA"

[[entity]]
type = "TEAM"
pk = "TENANT#<tenant_id>#ORG#<organization_id>"
sk = "TEAM#<id>"
"##;

fn endpoint() -> String {
    DynamoDbLocal::shared()
        .expect("DynamoDB Local starts")
        .endpoint()
        .to_owned()
}

/// Runs the binary with `args` against the shared DynamoDB Local.
fn singletable(args: &[&str]) -> Output {
    let endpoint = endpoint();
    Command::new(env!("CARGO_BIN_EXE_singletable"))
        .args(["--endpoint", &endpoint])
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

fn stderr(output: &Output) -> String {
    assert!(!output.status.success(), "succeeded unexpectedly");
    String::from_utf8(output.stderr.clone()).expect("UTF-8 errors")
}

/// A description file in the temporary folder, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}.toml", unique_table_name("cli")));
        std::fs::write(&path, text).expect("temporary file written");
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("UTF-8 temporary path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn client_for(endpoint: &str) -> Client {
    let credentials =
        aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .load()
        .await;
    Client::new(&config)
}

/// A fresh table with keys `pk`/`sk` and its client.
async fn fresh_table(prefix: &str) -> (Client, String) {
    DynamoDbLocal::shared()
        .expect("DynamoDB Local starts")
        .fresh_table(prefix)
        .await
        .expect("table created")
}

async fn put(client: &Client, table: &str, attributes: &[(&str, AttributeValue)]) {
    let item: HashMap<String, AttributeValue> = attributes
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect();
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .expect("item written");
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// An organization, a team and a member of tenant `t1`, and an organization of tenant `t2`.
async fn seed(client: &Client, table: &str) {
    let items: [&[(&str, AttributeValue)]; 4] = [
        &[
            ("pk", s("TENANT#t1#ORG#o1")),
            ("sk", s("#METADATA")),
            ("_type", s("ORGANIZATION")),
            ("_timestamp", s("2026-01-01T00:00:00.000Z")),
            ("name", s("Acme")),
        ],
        &[
            ("pk", s("TENANT#t1#ORG#o1")),
            ("sk", s("TEAM#team1")),
            ("_type", s("TEAM")),
            ("_timestamp", s("2026-01-02T00:00:00.000Z")),
            ("name", s("Core")),
            ("memberCount", AttributeValue::N("3".into())),
        ],
        &[
            ("pk", s("TENANT#t1#ORG#o1")),
            ("sk", s("TEAM#team1#MEMBER#u1")),
            ("_type", s("TEAM_MEMBER")),
            ("username", s("ann")),
        ],
        &[
            ("pk", s("TENANT#t2#ORG#o2")),
            ("sk", s("#METADATA")),
            ("_type", s("ORGANIZATION")),
            ("name", s("Other")),
        ],
    ];
    for item in items {
        put(client, table, item).await;
    }
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(output)).expect("one JSON document")
}

/// A port nobody listens on, for a while at least.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Kills the child if the test ends before it exits.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn local_prints_an_endpoint_that_answers_and_stops_on_sigterm() {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_singletable"))
        .args(["local", "--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("piped stdout");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = lines.send(line);
    });
    // The first start on a machine installs DynamoDB Local.
    let line = received
        .recv_timeout(Duration::from_secs(300))
        .expect("an endpoint line");
    let endpoint = line.trim_end();
    assert_eq!(endpoint, format!("http://127.0.0.1:{port}"));

    let client = client_for(endpoint).await;
    client
        .list_tables()
        .send()
        .await
        .expect("ListTables answers");

    let killed = Command::new("kill")
        .args(["-TERM", &running.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = running.0.try_wait().expect("wait works") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exited with {status}");
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
        "DynamoDB Local still listens after the command exited"
    );
}

#[tokio::test]
async fn create_table_makes_the_described_keys_indexes_and_ttl() {
    let table = unique_table_name("cli-create");
    let file = TempFile::new(DESCRIPTION);
    let out = stdout(&singletable(&[
        "create-table",
        "--file",
        file.path(),
        "--table",
        &table,
    ]));
    assert!(
        out.starts_with(&format!("created table `{table}` at {}\n", endpoint())),
        "{out}"
    );
    assert!(
        out.contains("index  ByEmail: gsi1pk (partition), gsi1sk (sort)"),
        "{out}"
    );

    let client = client_for(&endpoint()).await;
    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("the table exists");
    let description = described.table().expect("a description");
    let schema: Vec<(&str, &KeyType)> = description
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type()))
        .collect();
    assert_eq!(schema, [("pk", &KeyType::Hash), ("sk", &KeyType::Range)]);
    let indexes: BTreeSet<(String, Vec<String>)> = description
        .global_secondary_indexes()
        .iter()
        .map(|index| {
            let keys = index
                .key_schema()
                .iter()
                .map(|k| k.attribute_name().to_owned())
                .collect();
            (index.index_name().unwrap_or_default().to_owned(), keys)
        })
        .collect();
    let expected: BTreeSet<(String, Vec<String>)> = [
        ("TypeIndex", ["_type", "_timestamp"]),
        ("ByEmail", ["gsi1pk", "gsi1sk"]),
    ]
    .into_iter()
    .map(|(name, keys)| (name.to_owned(), keys.map(str::to_owned).to_vec()))
    .collect();
    assert_eq!(indexes, expected);
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .expect("DescribeTimeToLive answers");
    let ttl_attribute = ttl
        .time_to_live_description()
        .and_then(|d| d.attribute_name());
    assert_eq!(ttl_attribute, Some("expiresAt"));
}

#[tokio::test]
async fn create_table_twice_says_the_table_exists() {
    let table = unique_table_name("cli-twice");
    let file = TempFile::new(&format!("name = \"{table}\"\n"));
    stdout(&singletable(&["create-table", "--file", file.path()]));
    let error = stderr(&singletable(&["create-table", "--file", file.path()]));
    assert_eq!(
        error,
        format!("error: table `{table}` already exists at {}\n", endpoint())
    );
}

#[tokio::test]
async fn inspect_a_partition_as_a_table_parses_keys_with_the_templates() {
    let (client, table) = fresh_table("cli-partition").await;
    seed(&client, &table).await;
    let file = TempFile::new(DESCRIPTION);
    let out = stdout(&singletable(&[
        "inspect",
        "--table",
        &table,
        "--file",
        file.path(),
        "--partition",
        "TENANT#t1#ORG#o1",
    ]));
    let expected = "\
ORGANIZATION (1 item)
  pk TENANT#t1#ORG#o1  sk #METADATA
    keys        tenant_id = t1, id = o1
    name        \"Acme\"
    _timestamp  \"2026-01-01T00:00:00.000Z\"  (internal)
    _type       \"ORGANIZATION\"  (internal)

TEAM (1 item)
  pk TENANT#t1#ORG#o1  sk TEAM#team1
    keys         tenant_id = t1, organization_id = o1, id = team1
    memberCount  3
    name         \"Core\"
    _timestamp   \"2026-01-02T00:00:00.000Z\"  (internal)
    _type        \"TEAM\"  (internal)

TEAM_MEMBER (1 item)
  pk TENANT#t1#ORG#o1  sk TEAM#team1#MEMBER#u1
    keys      TENANT = t1, ORG = o1, TEAM = team1, MEMBER = u1
    username  \"ann\"
    _type     \"TEAM_MEMBER\"  (internal)
  1 of 1 item has no _timestamp: the type index does not list it; run `singletable reindex --type TEAM_MEMBER`

3 items
";
    assert_eq!(out, expected);
}

#[tokio::test]
async fn inspect_a_scan_as_json_groups_every_item_by_type() {
    let (client, table) = fresh_table("cli-scan-json").await;
    seed(&client, &table).await;
    put(&client, &table, &[("pk", s("LOOSE#x")), ("sk", s("ITEM"))]).await;
    let file = TempFile::new(DESCRIPTION);
    let document = json(&singletable(&[
        "inspect",
        "--table",
        &table,
        "--file",
        file.path(),
        "--format",
        "json",
    ]));

    let groups: Vec<&str> = document
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        groups,
        ["(no _type)", "ORGANIZATION", "TEAM", "TEAM_MEMBER"]
    );
    let organizations = document["ORGANIZATION"].as_array().expect("an array");
    assert_eq!(organizations.len(), 2);
    assert_eq!(
        organizations[1],
        serde_json::json!({
            "pk": "TENANT#t2#ORG#o2",
            "sk": "#METADATA",
            "keys": { "tenant_id": "t2", "id": "o2" },
            "item": {
                "pk": "TENANT#t2#ORG#o2",
                "sk": "#METADATA",
                "_type": "ORGANIZATION",
                "name": "Other"
            }
        })
    );
    let team = &document["TEAM"][0];
    assert_eq!(
        team["keys"],
        serde_json::json!({ "tenant_id": "t1", "organization_id": "o1", "id": "team1" })
    );
    assert_eq!(team["item"]["memberCount"], serde_json::json!(3));
    assert_eq!(
        document["(no _type)"][0]["keys"],
        serde_json::json!({ "LOOSE": "x" })
    );
}

#[tokio::test]
async fn inspect_without_a_file_splits_keys_on_the_separator() {
    let (client, table) = fresh_table("cli-split").await;
    seed(&client, &table).await;
    let document = json(&singletable(&[
        "inspect",
        "--table",
        &table,
        "--partition",
        "TENANT#t1#ORG#o1",
        "--format",
        "json",
    ]));
    assert_eq!(
        document["TEAM"][0]["keys"],
        serde_json::json!({ "TENANT": "t1", "ORG": "o1", "TEAM": "team1" })
    );
    assert_eq!(
        document["ORGANIZATION"][0]["keys"],
        serde_json::json!({ "TENANT": "t1", "ORG": "o1" })
    );
    assert!(document.get("TEAM_MEMBER").is_some());
}

#[tokio::test]
async fn inspect_a_scan_as_a_table_reads_every_page() {
    let (client, table) = fresh_table("cli-pages").await;
    // A scan page holds about 1 MB, so eight items of 350 KB take three pages.
    let payload = "x".repeat(350 * 1024);
    for i in 0..8 {
        let pk = format!("BLOB#{i}");
        put(
            &client,
            &table,
            &[
                ("pk", s(&pk)),
                ("sk", s("#DATA")),
                ("_type", s("BLOB")),
                ("data", s(&payload)),
            ],
        )
        .await;
    }
    let out = stdout(&singletable(&["inspect", "--table", &table]));
    assert!(out.starts_with("BLOB (8 items)\n"), "{}", &out[..80]);
    for i in 0..8 {
        assert!(out.contains(&format!("  pk BLOB#{i}  sk #DATA\n    keys   BLOB = {i}\n")));
    }
    assert!(out.ends_with("\n8 items\n"));
}

#[tokio::test]
async fn inspect_stops_at_the_limit() {
    let (client, table) = fresh_table("cli-limit").await;
    seed(&client, &table).await;
    let document = json(&singletable(&[
        "inspect", "--table", &table, "--limit", "2", "--format", "json",
    ]));
    let count: usize = document
        .as_object()
        .expect("an object")
        .values()
        .map(|items| items.as_array().expect("an array").len())
        .sum();
    assert_eq!(count, 2);
}

/// A description with both type indexes, a tenant-scoped `TEAM` and a `USER` in `ByEmail`.
const INDEXED: &str = r##"
type_index = "TypeIndex"
tenant_type_index = "TenantTypeIndex"

[[index]]
name = "ByEmail"
partition_key = "gsi1pk"
sort_key = "gsi1sk"

[[entity]]
type = "TEAM"
pk = "TENANT#<tenant_id>#ORG#<organization_id>"
sk = "TEAM#<id>"
tenant = "tenant_id"

[[entity]]
type = "USER"
pk = "USER#<id>"
sk = "#PROFILE"
indexes = ["ByEmail"]
"##;

/// Stored as another writer would: four teams of which one has everything the indexes need,
/// one no `_tenant_type` and two neither `_tenant_type` nor `_timestamp`; three users of which
/// one has both `ByEmail` keys, one only the partition key and one neither; and an item with
/// no `_type`.
async fn seed_unindexed(client: &Client, table: &str) {
    let at = || ("_timestamp", s("2026-01-01T00:00:00.000Z"));
    let tenant_type = || ("_tenant_type", s("t1#TEAM"));
    let team = |id: &str| {
        vec![
            ("pk", s("TENANT#t1#ORG#o1")),
            ("sk", s(&format!("TEAM#{id}"))),
            ("_type", s("TEAM")),
        ]
    };
    let user = |id: &str| {
        vec![
            ("pk", s(&format!("USER#{id}"))),
            ("sk", s("#PROFILE")),
            ("_type", s("USER")),
            at(),
        ]
    };
    let items = [
        [team("a"), vec![at(), tenant_type()]].concat(),
        [team("b"), vec![at()]].concat(),
        team("c"),
        team("d"),
        [
            user("u1"),
            vec![("gsi1pk", s("EMAIL#a@x")), ("gsi1sk", s("#"))],
        ]
        .concat(),
        [user("u2"), vec![("gsi1pk", s("EMAIL#b@x"))]].concat(),
        user("u3"),
        vec![("pk", s("LOOSE#x")), ("sk", s("ITEM"))],
    ];
    for item in items {
        put(client, table, &item).await;
    }
}

/// The lines of `out` that count items an index does not list.
fn count_lines(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|line| line.contains(" of ") && line.contains(" no "))
        .collect()
}

const TEAM_TIMESTAMP: &str = "2 of 4 items have no _timestamp: the type index and the tenant type \
    index do not list them; run `singletable reindex --type TEAM --all-tenants`";
const TEAM_TENANT_TYPE: &str = "3 of 4 items have no _tenant_type: the tenant type index does \
    not list them; run `singletable reindex --type TEAM --all-tenants`";
const USER_BY_EMAIL: &str = "2 of 3 items have no keys of index ByEmail (gsi1pk, gsi1sk): the \
    index does not list them, as intended if it is sparse; otherwise run `singletable reindex --type USER`";

#[tokio::test]
async fn inspect_counts_the_items_an_index_does_not_list_after_their_group() {
    let (client, table) = fresh_table("cli-gaps").await;
    seed_unindexed(&client, &table).await;
    let file = TempFile::new(INDEXED);
    let out = stdout(&singletable(&[
        "inspect",
        "--table",
        &table,
        "--file",
        file.path(),
    ]));
    let indented = |line: &str| format!("  {line}");
    assert_eq!(
        count_lines(&out),
        [TEAM_TIMESTAMP, TEAM_TENANT_TYPE, USER_BY_EMAIL].map(indented),
        "{out}"
    );
    // Each type's lines close its group.
    assert!(
        out.contains(&format!("  {TEAM_TENANT_TYPE}\n\nUSER (3 items)\n")),
        "{out}"
    );
    assert!(
        out.ends_with(&format!("  {USER_BY_EMAIL}\n\n8 items\n")),
        "{out}"
    );
}

#[tokio::test]
async fn inspect_with_a_limit_counts_over_the_items_read() {
    let (client, table) = fresh_table("cli-gaps-limit").await;
    seed_unindexed(&client, &table).await;
    let file = TempFile::new(INDEXED);
    // The partition's first three teams by sort key: a, b and c.
    let out = stdout(&singletable(&[
        "inspect",
        "--table",
        &table,
        "--file",
        file.path(),
        "--partition",
        "TENANT#t1#ORG#o1",
        "--limit",
        "3",
    ]));
    assert_eq!(
        count_lines(&out),
        [
            "  1 of the 3 items read has no _timestamp: the type index and the tenant type index \
             do not list it; run `singletable reindex --type TEAM --all-tenants`",
            "  2 of the 3 items read have no _tenant_type: the tenant type index does not list \
             them; run `singletable reindex --type TEAM --all-tenants`",
        ],
        "{out}"
    );
}

#[tokio::test]
async fn inspect_as_json_keeps_the_document_and_warns_on_standard_error() {
    let (client, table) = fresh_table("cli-gaps-json").await;
    seed_unindexed(&client, &table).await;
    let file = TempFile::new(INDEXED);
    let output = singletable(&[
        "inspect",
        "--table",
        &table,
        "--file",
        file.path(),
        "--format",
        "json",
    ]);
    let document = json(&output);
    let groups: Vec<(&str, usize)> = document
        .as_object()
        .expect("an object")
        .iter()
        .map(|(name, items)| (name.as_str(), items.as_array().expect("an array").len()))
        .collect();
    assert_eq!(groups, [("(no _type)", 1), ("TEAM", 4), ("USER", 3)]);
    let warnings = String::from_utf8(output.stderr).expect("UTF-8 warnings");
    assert_eq!(
        warnings,
        format!(
            "warning: TEAM: {TEAM_TIMESTAMP}\nwarning: TEAM: {TEAM_TENANT_TYPE}\n\
             warning: USER: {USER_BY_EMAIL}\n"
        )
    );
}

#[tokio::test]
async fn inspect_without_a_file_counts_nothing() {
    let (client, table) = fresh_table("cli-gaps-nofile").await;
    seed_unindexed(&client, &table).await;
    let output = singletable(&["inspect", "--table", &table]);
    let out = stdout(&output);
    assert!(out.ends_with("\n8 items\n"), "{out}");
    assert_eq!(count_lines(&out), Vec::<&str>::new(), "{out}");
    let output = singletable(&["inspect", "--table", &table, "--format", "json"]);
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn a_tenant_that_is_no_placeholder_is_refused() {
    let text = INDEXED.replace("tenant = \"tenant_id\"", "tenant = \"tenant\"");
    let file = TempFile::new(&text);
    let error = stderr(&singletable(&[
        "inspect",
        "--table",
        "T",
        "--file",
        file.path(),
    ]));
    assert_eq!(
        error,
        format!(
            "error: {}: entity `TEAM`: tenant `tenant` is not a placeholder of its templates; \
             placeholders: tenant_id, organization_id, id\n",
            file.path()
        )
    );
}

#[test]
fn an_undeclared_index_of_an_entity_is_refused() {
    let text = INDEXED.replace("indexes = [\"ByEmail\"]", "indexes = [\"ByMail\"]");
    let file = TempFile::new(&text);
    let error = stderr(&singletable(&[
        "inspect",
        "--table",
        "T",
        "--file",
        file.path(),
    ]));
    assert_eq!(
        error,
        format!(
            "error: {}: entity `USER`: index `ByMail` is not a declared `[[index]]`; \
             declared: ByEmail\n",
            file.path()
        )
    );
}

#[test]
fn inspect_of_a_missing_table_says_so() {
    let table = unique_table_name("cli-missing");
    let error = stderr(&singletable(&["inspect", "--table", &table]));
    assert_eq!(
        error,
        format!("error: table `{table}` does not exist at {}\n", endpoint())
    );
}

#[test]
fn an_unreachable_endpoint_fails_fast_with_the_cause() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_singletable"))
        .args(["--endpoint", &endpoint, "inspect", "--table", "Anything"])
        .output()
        .expect("the binary runs");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        stderr(&output),
        format!("error: cannot reach {endpoint}: connection refused\n")
    );
}

#[test]
fn a_bad_description_file_names_the_line() {
    let file = TempFile::new("name = \"T\"\nsort_kye = \"sk\"\n");
    let error = stderr(&singletable(&["create-table", "--file", file.path()]));
    assert!(
        error.starts_with(&format!(
            "error: {}:2:1: unknown field `sort_kye`",
            file.path()
        )),
        "{error}"
    );
}

/// Schema 2 of items first written as `{ id, name }`.
#[derive(singletable::Entity, serde::Serialize, serde::Deserialize, Debug)]
#[entity(type = "PROFILE", pk = "PROFILE#<id>", sk = "#PROFILE", schema = 2, upgrade = split_name)]
#[serde(rename_all = "camelCase")]
struct Profile {
    id: String,
    first_name: String,
    last_name: String,
}

fn split_name(_from: u32, item: &mut singletable::item::Item) -> Result<(), String> {
    let name = match item.remove("name") {
        Some(AttributeValue::S(name)) => name,
        other => return Err(format!("`name` is {other:?}")),
    };
    let (first, last) = name.split_once(' ').unwrap_or((&name, ""));
    item.insert("firstName".into(), s(first));
    item.insert("lastName".into(), s(last));
    Ok(())
}

#[tokio::test]
async fn backfill_in_the_stock_binary_says_how_to_register_entities() {
    let (_, table) = fresh_table("clibackfill").await;
    let output = singletable(&["backfill", "--type", "PROFILE", "--table", &table]);
    let message = stderr(&output);
    assert!(message.contains("knows no entity"), "{message}");
    assert!(message.contains("run_with"), "{message}");
}

#[tokio::test]
async fn backfill_upgrades_a_registered_entity_and_prints_the_counts() {
    let (client, table) = fresh_table("clibackfill").await;
    for i in 0..30 {
        let id = format!("{i:02}");
        put(
            &client,
            &table,
            &[
                ("pk", s(&format!("PROFILE#{id}"))),
                ("sk", s("#PROFILE")),
                ("_type", s("PROFILE")),
                ("id", s(&id)),
                ("name", s(&format!("Ada{i} Lovelace"))),
            ],
        )
        .await;
    }
    let args = [
        "singletable",
        "--endpoint",
        &endpoint(),
        "backfill",
        "--type",
        "PROFILE",
        "--table",
        &table,
        "--segments",
        "3",
    ]
    .map(str::to_owned);
    let (result, out) = run_registered(args.to_vec()).await;
    result.expect("the backfill succeeds");
    assert!(
        out.contains("scanned 30, upgraded 30, re-indexed 0, already current 0, failed 0"),
        "{out}"
    );

    let items = client
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    assert_eq!(items.len(), 30);
    for item in &items {
        assert_eq!(item["_schema"], AttributeValue::N("2".into()));
        assert!(!item.contains_key("name"));
        assert_eq!(item["lastName"], s("Lovelace"));
    }
}

/// Runs `singletable <args>` with `Profile` registered, returning its result and output.
async fn run_registered(args: Vec<String>) -> (singletable_cli::Result<()>, String) {
    use clap::Parser;

    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let entities = singletable_cli::Entities::new().entity::<Profile>();
        let result =
            singletable_cli::run_with(singletable_cli::Cli::parse_from(args), &entities, &mut out);
        (result, String::from_utf8(out).expect("UTF-8 output"))
    })
    .await
    .expect("the command runs")
}

#[tokio::test]
async fn reindex_counts_in_a_dry_run_and_splits_across_workers() {
    use clap::Parser;

    let (client, table) = fresh_table("clireindex").await;
    for i in 0..20 {
        let id = format!("{i:02}");
        // Written at the current schema by another writer, without `_timestamp`, so the type
        // index does not list them.
        put(
            &client,
            &table,
            &[
                ("pk", s(&format!("PROFILE#{id}"))),
                ("sk", s("#PROFILE")),
                ("_type", s("PROFILE")),
                ("_schema", AttributeValue::N("2".into())),
                ("id", s(&id)),
                ("firstName", s("Ada")),
                ("lastName", s("Lovelace")),
            ],
        )
        .await;
    }
    let endpoint = endpoint();
    let args = |extra: &[&str]| {
        let mut args = vec![
            "singletable",
            "--endpoint",
            &endpoint,
            "reindex",
            "--type",
            "PROFILE",
            "--table",
            &table,
            "--segments",
            "4",
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let scan = || async {
        let items = client
            .scan()
            .table_name(&table)
            .send()
            .await
            .unwrap()
            .items
            .unwrap();
        items
            .iter()
            .filter(|i| i.contains_key("_timestamp"))
            .count()
    };

    let (result, out) = run_registered(args(&["--dry-run"])).await;
    result.expect("the dry run succeeds");
    assert!(out.contains("(dry run: nothing written)"), "{out}");
    assert!(
        out.contains("scanned 20, upgraded 0, re-indexed 20"),
        "{out}"
    );
    assert_eq!(scan().await, 0, "a dry run writes nothing");

    let mut reindexed = 0;
    for worker in ["0/2", "1/2"] {
        let (result, out) = run_registered(args(&["--worker", worker])).await;
        result.expect("the worker's share succeeds");
        assert!(out.contains("of 2 segments done"), "{out}");
        let count = out
            .split("re-indexed ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("a count in {out}"));
        reindexed += count;
    }
    assert_eq!(reindexed, 20, "the two workers share the items");
    assert_eq!(scan().await, 20);

    for wrong in ["2/2", "1", "a/b", "0/0"] {
        let parsed = singletable_cli::Cli::try_parse_from(args(&["--worker", wrong]));
        let error = parsed
            .expect_err("an invalid worker is refused")
            .to_string();
        assert!(error.contains("--worker"), "{error}");
    }
}
