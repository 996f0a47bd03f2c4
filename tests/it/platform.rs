//! The platform example's scenario (seed 002), checked: every number of its report and of the
//! table it leaves, and that API keys are stored only as hashes, found only by their hash, and
//! readable only in their organization's scope.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use singletable::prelude::*;
use singletable::{tenant, Error, Table};
use singletable_local::DynamoDbLocal;

// The example's own code, so the test runs exactly what `cargo run --example platform` runs.
#[path = "../../examples/platform/model.rs"]
#[allow(dead_code)]
mod model;
#[path = "../../examples/platform/scenario.rs"]
#[allow(dead_code)]
mod scenario;
#[path = "../../examples/platform/service.rs"]
#[allow(dead_code)]
mod service;

use model::{ApiKey, ApiKeyByHash, Member, MemberByEmail, Plan, PlatformItem, Role};
use scenario::{OrganizationLine, Report};
use service::PlatformError;

/// A fresh table with the scenario run on it.
async fn run(prefix: &str) -> (Table, Report) {
    let local = DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let name = singletable_local::unique_table_name(prefix);
    let table = model::table(Table::builder(local.client().await, name));
    table.create_table().await.expect("table is created");
    let report = scenario::run(&table, time::OffsetDateTime::now_utc())
        .await
        .expect("the scenario runs");
    (table, report)
}

fn line(id: &str, name: &str, plan: Plan, counts: (i64, i64, usize, usize)) -> OrganizationLine {
    OrganizationLine {
        id: id.into(),
        name: name.into(),
        plan,
        users: counts.0,
        projects: counts.1,
        live_keys: counts.2,
        revoked_keys: counts.3,
    }
}

#[tokio::test]
async fn the_scenario_reports_the_seeds_numbers() {
    let (table, report) = Box::pin(run("platform")).await;
    Box::pin(the_table_holds_what_the_scenario_wrote(&table)).await;

    assert_eq!(
        report.organizations,
        [
            line("acme", "Acme Corp", Plan::Pro, (3, 3, 1, 0)),
            line("globex", "Globex", Plan::Starter, (3, 2, 1, 1)),
            line("initech", "Initech", Plan::Free, (3, 1, 1, 0)),
        ]
    );
    assert_eq!(report.memberships, 9);
    assert_eq!(report.people_in_two_organizations, 4);

    let sign_ins: Vec<(&str, Vec<(&str, Role)>)> = report
        .sign_ins
        .iter()
        .map(|s| {
            let orgs = s
                .memberships
                .iter()
                .map(|(o, r)| (o.as_str(), *r))
                .collect();
            (s.email.as_str(), orgs)
        })
        .collect();
    assert_eq!(
        sign_ins,
        [
            (
                "ada@example.com",
                vec![("acme", Role::Admin), ("globex", Role::Member)]
            ),
            (
                "grace@example.com",
                vec![("acme", Role::Admin), ("initech", Role::Admin)]
            ),
            (
                "linus@example.com",
                vec![("globex", Role::Admin), ("initech", Role::Member)]
            ),
            (
                "margaret@example.com",
                vec![("globex", Role::Member), ("initech", Role::Viewer)]
            ),
            ("alan@example.com", vec![("acme", Role::Viewer)]),
            ("barbara@example.com", vec![]),
        ],
        "grace was promoted in acme; barbara's invitation was over initech's plan"
    );

    let refusals: Vec<(u16, &str, &str)> = report
        .refusals
        .iter()
        .map(|r| (r.status, r.organization.as_str(), r.attempt.as_str()))
        .collect();
    assert_eq!(
        refusals,
        [
            (403, "acme", "alan creates project ml"),
            (402, "initech", "grace invites barbara"),
            (402, "initech", "grace creates project reports"),
            (402, "initech", "tps reports 3000 api_calls in 2026-02"),
        ]
    );
    assert_eq!(
        report.refusals[1].reason,
        "the free plan's limit of users is 3; upgrade to starter for more"
    );
    assert_eq!(
        report.refusals[3].reason,
        "the free plan's limit of API calls a month is 10000; upgrade to starter for more"
    );

    // (organization, month) -> metered API calls, and per project (API calls, compute
    // minutes, records).
    type Usage<'a> = BTreeMap<(&'a str, &'a str), (i64, Vec<(&'a str, i64, i64, usize)>)>;
    let usage: Usage = report
        .usage
        .iter()
        .map(|m| {
            let projects = m
                .projects
                .iter()
                .map(|p| {
                    let api = p.total(model::UsageKind::ApiCalls);
                    let compute = p.total(model::UsageKind::ComputeMinutes);
                    (p.project_id.as_str(), api, compute, p.records)
                })
                .collect();
            let key = (m.organization.as_str(), m.month.as_str());
            (key, (m.metered_api_calls, projects))
        })
        .collect();
    let expected: Usage = BTreeMap::from([
        (
            ("acme", "2026-01"),
            (
                230_000,
                vec![
                    ("data", 0, 0, 0),
                    ("mobile", 30_000, 0, 1),
                    ("web", 200_000, 340, 3),
                ],
            ),
        ),
        (
            ("acme", "2026-02"),
            (
                400_000,
                vec![
                    ("data", 200_000, 1_250, 2),
                    ("mobile", 50_000, 0, 2),
                    ("web", 150_000, 410, 2),
                ],
            ),
        ),
        (
            ("globex", "2026-01"),
            (
                90_000,
                vec![("billing", 30_000, 0, 1), ("portal", 60_000, 0, 1)],
            ),
        ),
        (
            ("globex", "2026-02"),
            (
                90_000,
                vec![("billing", 50_000, 0, 1), ("portal", 40_000, 90, 2)],
            ),
        ),
        (("initech", "2026-01"), (6_500, vec![("tps", 6_500, 15, 3)])),
        (("initech", "2026-02"), (9_000, vec![("tps", 9_000, 0, 3)])),
    ]);
    assert_eq!(usage, expected);
    // The meters hold exactly what the records sum to: nothing over the plan was counted.
    for month in &report.usage {
        let summed: i64 = month
            .projects
            .iter()
            .map(|p| p.total(model::UsageKind::ApiCalls))
            .sum();
        assert_eq!(month.metered_api_calls, summed, "{month:?}");
    }

    let requests = &report.requests;
    assert_eq!(
        (
            requests.accepted,
            requests.rate_limited,
            requests.unauthorized
        ),
        (7, 3, 2),
        "5 of the burst of 8, one in the next minute, one of globex's; a revoked and a wrong key"
    );
    assert_eq!(
        requests.projects_seen,
        BTreeMap::from([("acme".to_owned(), 3), ("globex".to_owned(), 2)])
    );

    let audit: BTreeMap<&str, &service::AuditSummary> =
        report.audit.iter().map(|(o, s)| (o.as_str(), s)).collect();
    let counts = |pairs: &[(&str, usize)]| -> BTreeMap<String, usize> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    let by = |map: &BTreeMap<&'static str, usize>| -> BTreeMap<String, usize> {
        map.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    let acme = audit["acme"];
    assert_eq!(
        (acme.total, acme.between, acme.since_checkpoint),
        (8, 8, 2),
        "3 memberships, 3 projects; then a promotion and a key"
    );
    assert_eq!(
        acme.by_actor,
        counts(&[("ada", 7), ("grace", 1), ("alan", 0)])
    );
    assert_eq!(
        by(&acme.by_action),
        counts(&[("create", 7), ("update", 1), ("delete", 0)])
    );
    assert_eq!(
        by(&acme.by_type),
        counts(&[("MEMBER", 4), ("PROJECT", 3), ("API_KEY", 1)])
    );
    assert_eq!(acme.projects_created_by_owner, 2);
    assert_eq!(acme.pages, [5, 3]);

    let globex = audit["globex"];
    assert_eq!(
        (globex.total, globex.between, globex.since_checkpoint),
        (8, 8, 3),
        "3 memberships, 2 projects; then two keys and a revocation"
    );
    assert_eq!(
        globex.by_actor,
        counts(&[("linus", 7), ("margaret", 1), ("ada", 0)])
    );
    assert_eq!(
        by(&globex.by_action),
        counts(&[("create", 7), ("update", 0), ("delete", 1)])
    );
    assert_eq!(
        by(&globex.by_type),
        counts(&[("MEMBER", 3), ("PROJECT", 2), ("API_KEY", 3)])
    );
    assert_eq!(globex.pages, [5, 3]);

    let initech = audit["initech"];
    assert_eq!(
        (initech.total, initech.between, initech.since_checkpoint),
        (5, 5, 1),
        "the refused invitation, project and usage left no record"
    );
    assert_eq!(
        initech.by_actor,
        counts(&[("grace", 5), ("linus", 0), ("margaret", 0), ("barbara", 0)])
    );
    assert_eq!(
        by(&initech.by_type),
        counts(&[("MEMBER", 3), ("PROJECT", 1), ("API_KEY", 1)])
    );
    assert_eq!(initech.pages, [5]);
}

/// Whether `value` holds `needle` anywhere, in nested lists and maps too.
fn holds(value: &AttributeValue, needle: &str) -> bool {
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => s.contains(needle),
        AttributeValue::Ss(list) | AttributeValue::Ns(list) => {
            list.iter().any(|s| s.contains(needle))
        }
        AttributeValue::L(list) => list.iter().any(|v| holds(v, needle)),
        AttributeValue::M(map) => map
            .iter()
            .any(|(k, v)| k.contains(needle) || holds(v, needle)),
        _ => false,
    }
}

#[tokio::test]
async fn api_keys_are_stored_hashed_and_read_only_in_their_organization() {
    let (table, report) = Box::pin(run("platform-keys")).await;
    let (revoked_org, revoked) = &report.revoked;
    let mut secrets: Vec<(&str, &service::IssuedKey)> =
        report.issued.iter().map(|(o, k)| (o.as_str(), k)).collect();
    secrets.push((revoked_org.as_str(), revoked));
    assert_eq!(secrets.len(), 4);
    let items = crate::raw_items(&table).await;
    for (_, issued) in &secrets {
        only_the_hash_is_stored(&items, issued);
    }
    Box::pin(wrong_and_revoked_keys_are_found_nowhere(&table, revoked)).await;
    let (_, acme_key) = secrets.iter().find(|(o, _)| *o == "acme").unwrap();
    Box::pin(a_key_reads_only_in_its_organization(&table, acme_key)).await;
    Box::pin(an_email_lookup_needs_no_scope(&table)).await;
}

fn only_the_hash_is_stored(items: &[singletable::item::Item], issued: &service::IssuedKey) {
    assert!(issued.secret.starts_with("sk_live_") && issued.secret.len() == 40);
    let anywhere = items.iter().any(|item| {
        item.iter()
            .any(|(k, v)| k.contains(&issued.secret) || holds(v, &issued.secret))
    });
    assert!(!anywhere, "the secret of {:?} is stored", issued.key.name);
    let hash = service::hash_key(&issued.secret);
    assert_eq!(issued.key.hash, hash);
    let with_hash = items
        .iter()
        .filter(|item| item.get("hash") == Some(&AttributeValue::S(hash.clone())))
        .count();
    assert_eq!(with_hash, 1, "the hash is stored, on its key's item");
}

async fn wrong_and_revoked_keys_are_found_nowhere(table: &Table, revoked: &service::IssuedKey) {
    let wrong = service::hash_key("sk_live_00000000000000000000000000000000");
    let lookup = || ApiKey::by_hash(table, ApiKeyByHash { hash: &wrong }).all();
    assert!(lookup().await.unwrap().is_empty());
    assert!(tenant::scope("acme", lookup()).await.unwrap().is_empty());
    let revoked_hash = service::hash_key(&revoked.secret);
    let gone = ApiKey::by_hash(
        table,
        ApiKeyByHash {
            hash: &revoked_hash,
        },
    )
    .one()
    .await
    .unwrap();
    assert!(gone.is_none(), "a revoked key is not found");
    let authenticated = service::authenticate(table, &revoked.secret).await;
    assert!(matches!(authenticated, Err(PlatformError::Unauthorized)));
    let key = model::ApiKeyKey {
        key_id: &revoked.key.id,
    };
    let trashed = tenant::scope("globex", ApiKey::get_including_deleted(table, key))
        .await
        .unwrap();
    assert!(trashed.is_some(), "the revoked key stays in the trash");
}

async fn a_key_reads_only_in_its_organization(table: &Table, acme_key: &service::IssuedKey) {
    let hash = service::hash_key(&acme_key.secret);
    let found = ApiKey::by_hash(table, ApiKeyByHash { hash: &hash })
        .one()
        .await
        .unwrap()
        .expect("acme's key is found by its hash");
    assert_eq!(found.tenant.as_ref().map(|t| t.as_str()), Some("acme"));
    let from_globex = tenant::scope("globex", found.get(table)).await;
    assert!(
        matches!(from_globex, Err(Error::TenantMismatch { .. })),
        "{from_globex:?}"
    );
    let outside = found.get(table).await;
    assert!(
        matches!(outside, Err(Error::MissingTenant { .. })),
        "{outside:?}"
    );
    let read = tenant::scope("acme", found.get(table))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.id, acme_key.key.id);
    // Nor does globex's scope reach it by its key.
    let key = model::ApiKeyKey {
        key_id: &acme_key.key.id,
    };
    let probe = tenant::scope("globex", ApiKey::get(table, key))
        .await
        .unwrap();
    assert!(probe.is_none());
}

async fn an_email_lookup_needs_no_scope(table: &Table) {
    let email = "ada@example.com";
    let found = Member::by_email(table, MemberByEmail { email })
        .all()
        .await
        .unwrap();
    let mut orgs: Vec<&str> = found
        .iter()
        .filter_map(|f| f.tenant.as_ref().map(|t| t.as_str()))
        .collect();
    orgs.sort();
    assert_eq!(orgs, ["acme", "globex"]);
}

/// What the scenario leaves in the table: its items by type, and expiries.
async fn the_table_holds_what_the_scenario_wrote(table: &Table) {
    let counts = tenant::across_tenants(
        "test: count every organization's items",
        PlatformItem::count_by_type(table).send(),
    )
    .await
    .unwrap();
    assert_eq!(
        counts,
        BTreeMap::from([
            ("ORGANIZATION", 3),
            ("MEMBER", 9),
            ("PROJECT", 6),
            ("USAGE", 21),
            ("METER", 6),
            ("API_KEY", 3),
            ("RATE_WINDOW", 3),
        ]),
        "21 of 22 usage reports; the revoked key is not counted; acme's key used two minutes"
    );
    let acme = tenant::scope("acme", PlatformItem::count_by_type(table).send())
        .await
        .unwrap();
    assert_eq!(
        (acme["MEMBER"], acme["USAGE"], acme["RATE_WINDOW"]),
        (3, 10, 2)
    );

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let items = crate::raw_items(table).await;
    let expiry =
        |item: &singletable::item::Item| -> i64 { item["ttl"].as_n().unwrap().parse().unwrap() };
    let of_type = |t: &str| -> Vec<&singletable::item::Item> {
        items
            .iter()
            .filter(|i| i["_type"] == AttributeValue::S(t.into()))
            .collect()
    };
    let records = of_type("AUDIT_LOG");
    assert_eq!(records.len(), 21, "8 + 8 + 5");
    let ninety_days = 90 * 24 * 3600;
    for record in records {
        let left = expiry(record) - now;
        assert!((ninety_days - 600..=ninety_days).contains(&left), "{left}");
    }
    let windows = of_type("RATE_WINDOW");
    for window in windows {
        let left = expiry(window) - now;
        assert!(
            (0..=180).contains(&left),
            "a rate window expires in minutes: {left}"
        );
    }
}
