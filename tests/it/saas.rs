//! The SaaS example's scenario, checked: the numbers the seed's `example()` prints, the member
//! count through additions and a removal, the audit trail, and `singletable inspect` on the
//! table it leaves.

use singletable::{tenant, AuditAction, Table};
use singletable_local::DynamoDbLocal;

// The example's own code, so the test runs exactly what `cargo run --example saas` runs.
#[path = "../../examples/saas/platform.rs"]
#[allow(dead_code)]
mod platform;

#[tokio::test]
async fn the_example_scenario_gives_the_seed_numbers_and_a_newest_first_trail() {
    let local = DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let name = singletable_local::unique_table_name("saas");
    let table = platform::table(Table::builder(local.client().await, name.clone()));
    table.create_table().await.unwrap();

    let mut lines = Vec::new();
    let summary = platform::USER
        .scope(
            "alice".to_owned(),
            tenant::scope(
                "tenant-1",
                platform::example(&table, &mut |line| lines.push(line)),
            ),
        )
        .await
        .unwrap();
    assert_eq!(summary.team_members, 2);
    assert_eq!(summary.organization_teams, 1);
    assert_eq!(summary.total_members, 2);
    assert_eq!(summary.active_projects, 1);
    assert_eq!(summary.member_count_after_two_additions, 2);
    assert_eq!(summary.member_count_after_one_removal, 1);
    assert_eq!(summary.organization.plan, platform::Plan::Enterprise);
    assert!(
        lines.contains(&"Active projects: 1".to_owned()),
        "{lines:#?}"
    );

    let trail = &summary.team_trail;
    let actions: Vec<_> = trail.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Update,
            AuditAction::Update,
            AuditAction::Update,
            AuditAction::Create
        ]
    );
    let counts: Vec<_> = trail
        .iter()
        .map(|r| r.changes["memberCount"].new_as::<i64>().unwrap())
        .collect();
    assert_eq!(counts, [Some(1), Some(2), Some(1), Some(0)], "newest first");
    assert!(trail
        .windows(2)
        .all(|w| w[0].revision > w[1].revision && w[1].revision.is_some()));
    assert!(trail.iter().all(|r| r.actor.as_deref() == Some("alice")));

    // `singletable inspect` on the table the example left: every item, keys parsed by the
    // example's description file.
    let args = [
        "singletable",
        "--endpoint",
        local.endpoint(),
        "inspect",
        "--table",
        &name,
        "--file",
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/saas/table.toml"),
        "--format",
        "json",
    ]
    .map(str::to_owned);
    let out = tokio::task::spawn_blocking(move || {
        use clap::Parser;
        let mut out = Vec::new();
        let cli = singletable_cli::Cli::parse_from(args);
        singletable_cli::run_with(cli, &singletable_cli::Entities::new(), &mut out).map(|()| out)
    })
    .await
    .unwrap()
    .expect("inspect succeeds");
    let shown: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let count = |t: &str| shown[t].as_array().map_or(0, Vec::len);
    let stored = crate::raw_items(&table).await;
    let total: usize = shown
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_array().unwrap().len())
        .sum();
    assert_eq!(total, stored.len(), "every item is shown");
    assert_eq!(
        (
            count("ORGANIZATION"),
            count("TEAM"),
            count("TEAM_MEMBER"),
            count("PROJECT")
        ),
        (1, 1, 1, 2)
    );
    let team = &shown["TEAM"][0];
    assert_eq!(team["keys"]["tenant_id"], "tenant-1");
    assert_eq!(team["keys"]["id"], team["item"]["id"]);
    assert_eq!(
        team["keys"]["organization_id"],
        team["item"]["organizationId"]
    );
    assert!(count("AUDIT_LOG") >= 10, "the audit records are items too");
}
