//! `singletable studio` end to end: the SaaS example's data in DynamoDB Local, the studio
//! served in-process on 127.0.0.1, and a real headless Chromium reading its pages (after their
//! script ran) and saving screenshots under `target/studio/`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scraper::{ElementRef, Html, Selector};
use singletable::{tenant, AuditAction, Table};
use singletable_cli::studio::Studio;
use singletable_cli::{TableFile, Target};
use singletable_local::DynamoDbLocal;

// The example's own code, so the data is what `cargo run --example saas` writes. `saas.rs`
// loads it too, privately, for its own checks.
#[path = "../../examples/saas/platform.rs"]
#[allow(dead_code, clippy::duplicate_mod)]
mod platform;

use platform::{Role, TeamService};

/// The description the studio draws: the SaaS table, its entities and collections.
const DESCRIPTION: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crates/singletable-cli/examples/table.toml"
);

/// What one tenant's data holds, as the test wrote it.
struct Tenant {
    name: &'static str,
    organization_id: String,
    /// The teams, by name: id and the usernames of its members.
    teams: BTreeMap<String, (String, Vec<String>)>,
    projects: usize,
}

/// Runs the SaaS example in `tenant` as `user`, then adds a team with `extra` members.
async fn write_tenant(table: &Table, name: &'static str, user: &str, extra: &[&str]) -> Tenant {
    let run = async {
        let summary = platform::example(table, &mut |_| {})
            .await
            .expect("the example runs");
        let organization_id = summary.organization.id.clone();
        let teams = TeamService { table };
        if !extra.is_empty() {
            let team = teams
                .create_team(&organization_id, "Platform", None)
                .await
                .unwrap();
            for username in extra {
                let email = format!("{username}@example.com");
                teams
                    .add_member(&team, username, username, &email, Role::Member)
                    .await
                    .unwrap();
            }
        }
        let mut written = BTreeMap::new();
        for team in teams
            .get_organization_teams(&organization_id)
            .await
            .unwrap()
        {
            let members = teams
                .get_team(&organization_id, &team.id)
                .await
                .unwrap()
                .expect("the team exists")
                .members;
            let usernames = members.into_iter().map(|m| m.username).collect();
            written.insert(team.name.clone(), (team.id.clone(), usernames));
        }
        Tenant {
            name,
            organization_id,
            teams: written,
            // The example creates two projects (one archived) and deletes none.
            projects: 2,
        }
    };
    platform::USER
        .scope(user.to_owned(), tenant::scope(name, run))
        .await
}

/// Chromium: `/usr/bin/chromium`, else `chromium` on the PATH. Missing is a failure, not a
/// skip: `.ci/run` installs it.
fn chromium() -> PathBuf {
    let installed = Path::new("/usr/bin/chromium");
    if installed.exists() {
        return installed.to_owned();
    }
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("chromium"))
                .find(|candidate| candidate.exists())
        })
        .expect(
            "chromium is not installed: the studio test drives a real headless Chromium; \
             install the Debian package (`apt-get install chromium`), as .ci/run does",
        )
}

/// Loads `url` in a fresh headless Chromium and returns the DOM after the page's script ran;
/// with `screenshot`, also saves `target/studio/<screenshot>.png`.
async fn load(url: String, screenshot: Option<&'static str>) -> Html {
    let dom = tokio::task::spawn_blocking(move || {
        let profile = std::env::temp_dir().join(format!(
            "singletable-studio-{}",
            singletable_local::unique_table_name("chromium")
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let mut command = Command::new(chromium());
        command.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ]);
        command.arg(format!("--user-data-dir={}", profile.display()));
        if let Some(name) = screenshot {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/studio");
            std::fs::create_dir_all(&dir).unwrap();
            command.arg(format!("--screenshot={}", dir.join(name).display()));
            command.arg("--window-size=1400,1000");
        }
        command.arg("--dump-dom").arg(&url);
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut dom = String::new();
            stdout.read_to_string(&mut dom).map(|_| dom)
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("chromium did not finish loading {url} within 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let dom = reader.join().unwrap().expect("chromium's output");
        let _ = std::fs::remove_dir_all(&profile);
        assert!(status.success(), "chromium failed on {url}: {status}");
        dom
    })
    .await
    .unwrap();
    let page = Html::parse_document(&dom);
    assert!(
        page.select(&css("html[data-scripted=true]"))
            .next()
            .is_some(),
        "the page's script ran: {dom}"
    );
    page
}

fn css(selector: &str) -> Selector {
    Selector::parse(selector).unwrap_or_else(|e| panic!("selector {selector}: {e}"))
}

fn text(element: ElementRef<'_>) -> String {
    element.text().collect::<String>().trim().to_owned()
}

/// The texts of the elements `selector` finds under `root`.
fn texts(root: ElementRef<'_>, selector: &str) -> Vec<String> {
    root.select(&css(selector)).map(text).collect()
}

/// The one element `selector` finds under `root`.
fn one<'a>(root: ElementRef<'a>, selector: &str) -> ElementRef<'a> {
    let found: Vec<_> = root.select(&css(selector)).collect();
    assert_eq!(found.len(), 1, "one `{selector}` in {}", root.html());
    found[0]
}

/// The status code and body of a plain HTTP/1.1 request to the studio, for what needs no
/// browser: other methods than GET, status codes, and following the page links.
fn fetch(address: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    fetch_as(address, &address.to_string(), method, path)
}

/// [`fetch`] with the `Host` header `host`.
fn fetch_as(address: std::net::SocketAddr, host: &str, method: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP response: {response}"));
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn studio_shows_the_chart_exact_counts_partitions_collections_and_trails() {
    // Fails at once, with what to install, where Chromium is missing.
    chromium();
    let local = DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let name = singletable_local::unique_table_name("studio");
    let table = platform::table(Table::builder(local.client().await, name.clone()));
    table.create_table().await.unwrap();
    let (first, second) = tokio::join!(
        write_tenant(&table, "tenant-1", "alice", &[]),
        write_tenant(&table, "tenant-2", "bob", &["cy", "ada", "bo"]),
    );

    let file = TableFile::load(Path::new(DESCRIPTION)).unwrap();
    // The description is true to the example's Rust model: the entities it registers describe
    // the same layout and keys.
    let registered = singletable_cli::Entities::new()
        .entity::<platform::Organization>()
        .entity::<platform::Team>()
        .entity::<platform::TeamMember>()
        .entity::<platform::Project>();
    let derived = TableFile::of(&table, &registered);
    assert_eq!(
        (&derived.partition_key, &derived.sort_key, derived.separator),
        (&file.partition_key, &file.sort_key, file.separator)
    );
    assert_eq!(
        (
            &derived.type_index,
            &derived.tenant_type_index,
            &derived.ttl_attribute
        ),
        (
            &file.type_index,
            &file.tenant_type_index,
            &file.ttl_attribute
        )
    );
    assert_eq!(derived.entities.len(), 4);
    for entity in &derived.entities {
        let described = file.entity(&entity.entity_type).expect("described");
        assert_eq!(
            (&described.pk, &described.sk, &described.tenant),
            (&entity.pk, &entity.sk, &entity.tenant)
        );
    }
    let target = Target {
        client: local.client().await,
        place: local.endpoint().to_owned(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(Studio::new(target, name.clone(), file.clone()).serve(listener));
    let url = |path: &str| format!("http://{address}{path}");

    let org2 = second.organization_id.as_str();
    let partition_url = url(&format!(
        "/partition?entity=ORGANIZATION&tenant_id=tenant-2&organization_id={org2}"
    ));
    let (engineering_id, _) = &first.teams["Engineering"];
    let audit_url = url(&format!(
        "/audit?entity=TEAM&tenant_id=tenant-1&organization_id={}&id={engineering_id}",
        first.organization_id
    ));
    let collection_url = url(&format!(
        "/collection?name=OrganizationComplete&tenant_id=tenant-2&organization_id={org2}"
    ));
    let (platform_id, _) = &second.teams["Platform"];
    let range_url = url(&format!(
        "/partition?entity=TEAM_MEMBER&tenant_id=tenant-2&organization_id={org2}\
         &range=by_team&team_id={platform_id}"
    ));
    let (chart, counts, partition, collection, audit, range) = tokio::join!(
        load(url("/"), Some("chart.png")),
        load(url("/counts"), Some("counts.png")),
        load(partition_url.clone(), Some("partition.png")),
        load(collection_url, Some("collection.png")),
        load(audit_url, Some("audit.png")),
        load(range_url, None),
    );
    // The chart: every entity, every template, range query and collection of the description.
    let chart = chart.root_element();
    for entity in &file.entities {
        let row = one(
            chart,
            &format!("tr[data-entity=\"{}\"]", entity.entity_type),
        );
        assert_eq!(
            texts(row, "[data-template=pk]"),
            std::slice::from_ref(&entity.pk)
        );
        let sk: Vec<String> = entity.sk.iter().cloned().collect();
        assert_eq!(texts(row, "[data-template=sk]"), sk);
        for (index, keys) in &entity.index_keys {
            assert_eq!(
                texts(row, &format!("[data-template=\"{index}.pk\"]")),
                std::slice::from_ref(&keys.pk)
            );
            assert_eq!(
                texts(row, &format!("[data-template=\"{index}.sk\"]")),
                std::slice::from_ref(&keys.sk)
            );
        }
        for range in &entity.ranges {
            let shown = text(one(row, &format!("[data-range=\"{}\"]", range.name)));
            for (op, template) in range.operators() {
                assert!(shown.contains(op) && shown.contains(template), "{shown}");
            }
        }
    }
    assert_eq!(
        texts(chart, "tr[data-entity] > th"),
        ["ORGANIZATION", "TEAM", "TEAM_MEMBER", "PROJECT", "USER"]
    );
    let team_member = one(chart, "tr[data-entity=TEAM_MEMBER]");
    assert_eq!(
        texts(team_member, "[data-template]"),
        [
            "TENANT#<tenant_id>#ORG#<organization_id>",
            "TEAM#<team_id>#MEMBER#<id>"
        ]
    );
    assert_eq!(
        texts(one(chart, "tr[data-entity=USER]"), "[data-template]"),
        ["USER#<id>", "#PROFILE", "EMAIL#<email>", "USER#<id>"]
    );
    for collection in &file.collections {
        let drawn = one(chart, &format!("[data-collection=\"{}\"]", collection.name));
        for join in &collection.join {
            one(drawn, &format!("[data-join=\"{}\"]", join.field));
        }
    }
    let nested = one(chart, "[data-collection=OrganizationComplete]");
    one(nested, "[data-join=teams] [data-join=members]");

    // Counts: exactly what the test wrote, per type and per tenant.
    let counts = counts.root_element();
    let count = |selector: &str| -> usize {
        text(one(counts, selector))
            .parse()
            .unwrap_or_else(|e| panic!("{selector}: {e}"))
    };
    for tenant in [&first, &second] {
        let members: usize = tenant.teams.values().map(|(_, m)| m.len()).sum();
        let cell = |t: &str| format!("[data-tenant=\"{}\"][data-type={t}]", tenant.name);
        assert_eq!(count(&cell("ORGANIZATION")), 1, "{}", tenant.name);
        assert_eq!(count(&cell("TEAM")), tenant.teams.len(), "{}", tenant.name);
        assert_eq!(count(&cell("TEAM_MEMBER")), members, "{}", tenant.name);
        assert_eq!(count(&cell("PROJECT")), tenant.projects, "{}", tenant.name);
    }
    assert_eq!(
        (first.teams.len(), second.teams.len()),
        (1, 2),
        "tenant-2 has the example's team and Platform"
    );
    assert_eq!(count("[data-count=ORGANIZATION]"), 2);
    assert_eq!(count("[data-count=TEAM]"), 3);
    // tenant-1: john (jane was removed); tenant-2: john and the three added.
    assert_eq!(count("[data-count=TEAM_MEMBER]"), 1 + 4);
    assert_eq!(count("[data-count=PROJECT]"), 4);
    assert_eq!(count("[data-count=USER]"), 0);
    let stored = crate::raw_items(&table).await;
    let audit_records = stored
        .iter()
        .filter(|item| item.get("_type").and_then(|t| t.as_s().ok()) == Some(&"AUDIT_LOG".into()))
        .count();
    assert!(audit_records > 10);
    assert_eq!(count("[data-count=AUDIT_LOG]"), audit_records);
    assert_eq!(count("[data-total]"), stored.len());

    // The lookup form: GET to /partition, the entity and one input per placeholder of its
    // partition key template, which are the names of the address loaded.
    let form = one(partition.root_element(), "form[data-form=partition]");
    assert_eq!(form.value().attr("method"), Some("get"));
    assert_eq!(form.value().attr("action"), Some("/partition"));
    let names: Vec<&str> = form
        .select(&css("[name]"))
        .filter_map(|e| e.value().attr("name"))
        .collect();
    assert_eq!(names, ["entity", "tenant_id", "organization_id"]);
    let values: Vec<&str> = form
        .select(&css("input[name], option[selected]"))
        .filter_map(|e| e.value().attr("value"))
        .collect();
    assert_eq!(values, ["ORGANIZATION", "tenant-2", org2]);

    // The partition, found by parameters: the organization, its teams and their members,
    // grouped by type, decoded, keys parsed back.
    let partition = partition.root_element();
    assert_eq!(
        texts(partition, "[data-partition]"),
        [format!("TENANT#tenant-2#ORG#{org2}")]
    );
    let group = |t: &str| one(partition, &format!("[data-group={t}]"));
    let organization = one(group("ORGANIZATION"), "article.item");
    assert_eq!(texts(organization, "[data-field=name]"), ["Acme Corp"]);
    assert_eq!(texts(organization, "[data-field=plan]"), ["enterprise"]);
    assert_eq!(
        texts(organization, "[data-param]"),
        ["tenant-2", org2],
        "tenant_id and organization_id from the key"
    );
    let mut teams: Vec<(String, String, String)> = group("TEAM")
        .select(&css("article.item"))
        .map(|item| {
            assert_eq!(texts(item, "[data-param=tenant_id]"), ["tenant-2"]);
            assert_eq!(texts(item, "[data-param=organization_id]"), [org2]);
            assert_eq!(texts(item, "[data-field=organizationId]"), [org2]);
            let id = texts(item, "[data-param=id]").concat();
            assert_eq!(texts(item, "[data-field=id]"), std::slice::from_ref(&id));
            let members = texts(item, "[data-field=memberCount]").concat();
            (texts(item, "[data-field=name]").concat(), id, members)
        })
        .collect();
    teams.sort();
    let expected: Vec<(String, String, String)> = second
        .teams
        .iter()
        .map(|(name, (id, members))| (name.clone(), id.clone(), members.len().to_string()))
        .collect();
    assert_eq!(teams, expected);
    let mut members: Vec<(String, String)> = group("TEAM_MEMBER")
        .select(&css("article.item"))
        .map(|item| {
            let team = texts(item, "[data-param=team_id]").concat();
            assert_eq!(
                texts(item, "[data-field=teamId]"),
                std::slice::from_ref(&team)
            );
            (team, texts(item, "[data-field=username]").concat())
        })
        .collect();
    members.sort();
    let mut expected: Vec<(String, String)> = second
        .teams
        .values()
        .flat_map(|(id, usernames)| usernames.iter().map(|u| (id.clone(), u.clone())))
        .collect();
    expected.sort();
    assert_eq!(members, expected);
    assert_eq!(texts(partition, "[data-page-items]"), ["7"]);
    assert!(partition.select(&css("[data-next]")).next().is_none());

    // A range query of the description narrows the partition: one team's members.
    let range = range.root_element();
    let form = one(range, "form[data-form=partition]");
    let names: Vec<&str> = form
        .select(&css("[name]"))
        .filter_map(|e| e.value().attr("name"))
        .collect();
    assert_eq!(
        names,
        ["entity", "tenant_id", "organization_id", "range", "team_id"]
    );
    let mut usernames = texts(range, "article.item [data-field=username]");
    usernames.sort();
    assert_eq!(usernames, ["ada", "bo", "cy"]);
    assert_eq!(
        texts(range, "article.item [data-param=team_id]"),
        [platform_id.as_str(); 3]
    );

    // Paged: three items a page, the next page through the cursor, never more than a page.
    let mut seen = Vec::new();
    let mut next = Some(format!(
        "/partition?entity=ORGANIZATION&tenant_id=tenant-2&organization_id={org2}&size=3"
    ));
    while let Some(path) = next.take() {
        let (status, body) = tokio::task::spawn_blocking(move || fetch(address, "GET", &path))
            .await
            .unwrap();
        assert_eq!(status, 200);
        let page = Html::parse_document(&body);
        let page = page.root_element();
        let sks = texts(page, "article.item [data-sk]");
        assert!(!sks.is_empty() && sks.len() <= 3, "{sks:?}");
        seen.extend(sks);
        next = page
            .select(&css("a[data-next]"))
            .next()
            .and_then(|a| a.value().attr("href"))
            .map(str::to_owned);
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7, "no item twice: {seen:?}");

    // A refused parameter: HTTP 400, and the page says which template and which parameter.
    let (status, body) = tokio::task::spawn_blocking(move || {
        let path = "/partition?entity=TEAM&tenant_id=tenant-2&organization_id=a%23b";
        fetch(address, "GET", path)
    })
    .await
    .unwrap();
    assert_eq!(status, 400);
    let refused = Html::parse_document(&body);
    let message = text(one(refused.root_element(), "[data-error]"));
    assert!(
        message.contains("TENANT#<tenant_id>#ORG#<organization_id>")
            && message.contains("<organization_id>"),
        "{message}"
    );

    // The collection as a tree: the organization, its teams by name, their members nested.
    let collection = collection.root_element();
    let root = one(collection, "[data-tree] > li[data-node=ORGANIZATION]");
    let teams = one(root, ":scope > details > [data-children=teams]");
    let tree: Vec<(String, Vec<String>)> = teams
        .select(&css(":scope > ul > li[data-node=TEAM]"))
        .map(|team| {
            let name = texts(team, ":scope > details > .fields [data-field=name]").concat();
            let members = texts(
                one(team, ":scope > details > [data-children=members]"),
                "li[data-node=TEAM_MEMBER] [data-field=username]",
            );
            (name, members)
        })
        .collect();
    let expected: Vec<(String, Vec<String>)> = second
        .teams
        .iter()
        .map(|(name, (_, members))| {
            let mut members = members.clone();
            members.sort();
            (name.clone(), members)
        })
        .collect();
    assert_eq!(tree, expected, "teams by name, members by username");
    assert_eq!(
        expected[1],
        (
            "Platform".to_owned(),
            vec!["ada".into(), "bo".into(), "cy".into()]
        )
    );

    // The team's audit trail: memberCount old → new, newest first, as the runtime reads it.
    let trail = platform::USER
        .scope(
            "alice".into(),
            tenant::scope(
                "tenant-1",
                singletable::AuditTrail::by_id(
                    &table,
                    "TEAM",
                    &format!("{}#{engineering_id}", first.organization_id),
                )
                .all(),
            ),
        )
        .await
        .unwrap();
    let actions: Vec<AuditAction> = trail.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Update,
            AuditAction::Update,
            AuditAction::Update,
            AuditAction::Create
        ]
    );
    let audit = audit.root_element();
    let records: Vec<_> = audit.select(&css("[data-timeline] > li.record")).collect();
    let shown: Vec<(String, String, String)> = records
        .iter()
        .map(|record| {
            let change = one(*record, "[data-change=memberCount]");
            (
                record
                    .value()
                    .attr("data-action")
                    .unwrap_or_default()
                    .to_owned(),
                text(one(change, "[data-old]")),
                text(one(change, "[data-new]")),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("update".into(), "2".into(), "1".into()),
            ("update".into(), "1".into(), "2".into()),
            ("update".into(), "0".into(), "1".into()),
            ("create".into(), "—".into(), "0".into()),
        ]
    );
    assert!(records
        .iter()
        .all(|r| texts(*r, "[data-actor]") == ["alice"]));

    // Read-only: no route takes a write; nothing but GET is answered.
    let statuses = tokio::task::spawn_blocking(move || {
        [
            ("POST", "/"),
            ("POST", "/partition"),
            ("DELETE", "/partition"),
            ("PUT", "/collection"),
            ("POST", "/audit"),
            ("POST", "/write"),
            ("GET", "/partition?entity=NOPE"),
            ("GET", "/"),
        ]
        .map(|(method, path)| fetch(address, method, path).0)
    })
    .await
    .unwrap();
    assert_eq!(statuses, [405, 405, 405, 405, 405, 404, 400, 200]);
    // Nor is anything served to a page of another site that resolved its name to 127.0.0.1.
    let rebound = tokio::task::spawn_blocking(move || {
        fetch_as(address, "studio.example.com", "GET", "/counts").0
    })
    .await
    .unwrap();
    assert_eq!(rebound, 403);

    server.abort();
}
