//! Tenant isolation: a tenant-scoped entity is reached only through the tenant scope, and no
//! crafted value reaches another tenant's items.

use futures::StreamExt;
use singletable::prelude::*;
use singletable::tenant;

use crate::model::*;
use crate::{count_requests, raw_items, table_with};

async fn table() -> Table {
    table_with("tenancy", |b| {
        b.index("GSI1", "gsi1pk", "gsi1sk")
            .tenant_type_index("TenantTypeIndex")
    })
    .await
}

fn note(id: &str, title: &str) -> NewNote {
    NewNote {
        id: id.into(),
        title: title.into(),
        body: format!("body of {id}"),
    }
}

/// Tenants A and B, each with the same three notes.
async fn two_tenants(table: &Table) {
    for t in ["A", "B"] {
        tenant::scope(t, async {
            for id in ["1", "2", "3"] {
                Note::create(table, note(id, "same")).await.unwrap();
            }
        })
        .await;
    }
}

fn items_of(items: &[singletable::item::Item], tenant: &str) -> Vec<singletable::item::Item> {
    let mut of: Vec<_> = items
        .iter()
        .filter(|i| i["tenant_id"].as_s().unwrap() == tenant)
        .cloned()
        .collect();
    of.sort_by_key(|i| i["sk"].as_s().unwrap().clone());
    of
}

#[tokio::test]
async fn without_a_scope_every_operation_fails_before_any_request() {
    let table = table().await;
    let (results, requests) = count_requests(async {
        let key = NoteKey { id: "1" };
        let partition = NotePartition::default();
        vec![
            Note::create(&table, note("1", "t")).await.map(drop),
            Note::get(&table, key).await.map(drop),
            Note::update(&table, key)
                .set(Note::FIELDS.body, "x")
                .send()
                .await
                .map(drop),
            Note::delete(&table, key).await.map(drop),
            Note::query(&table, partition).all().await.map(drop),
            Note::query(&table, partition)
                .starting("1")
                .all()
                .await
                .map(drop),
            Note::by_title(&table, NoteByTitle { title: "t" })
                .all()
                .await
                .map(drop),
            NoteKey { id: "1" }.item_key(&table).map(drop),
        ]
    })
    .await;
    for result in results {
        assert!(
            matches!(result, Err(Error::MissingTenant { entity: "NOTE" })),
            "{result:?}"
        );
    }
    assert_eq!(requests, 0);
}

#[tokio::test]
async fn each_tenant_reads_only_its_own_items() {
    let table = table().await;
    two_tenants(&table).await;
    let raw = raw_items(&table).await;
    assert_eq!(raw.len(), 6);
    assert_eq!(
        items_of(&raw, "A")[0]["pk"].as_s().unwrap(),
        "TENANT#A#NOTES"
    );

    tenant::scope("A", async {
        let all = Note::query(&table, NotePartition::default())
            .all()
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|n| n.tenant_id == "A"));
        let one = Note::get(&table, NoteKey { id: "2" })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(one.tenant_id, "A");
        let titled = Note::by_title(&table, NoteByTitle { title: "same" })
            .all()
            .await
            .unwrap();
        assert_eq!(titled.len(), 3);
        assert!(titled.iter().all(|n| n.tenant_id == "A"));
        let pages = Note::query(&table, NotePartition::default())
            .page(2, None)
            .await
            .unwrap();
        assert!(pages.items.iter().all(|n| n.tenant_id == "A"));
        let streamed: Vec<_> = Note::query(&table, NotePartition::default())
            .stream()
            .collect()
            .await;
        assert!(streamed
            .iter()
            .all(|n| n.as_ref().unwrap().tenant_id == "A"));
        // Listing goes through the tenant type index, keyed by tenant and type.
        let listed = Note::list_all(&table).all().await.unwrap();
        let mut ids: Vec<_> = listed.iter().map(|n| n.id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["1", "2", "3"]);
        assert!(listed.iter().all(|n| n.tenant_id == "A"));
    })
    .await;

    // Operations and builders made outside the scope read the tenant when they run inside it.
    let one = tenant::scope("B", Note::get(&table, NoteKey { id: "2" })).await;
    assert_eq!(one.unwrap().unwrap().tenant_id, "B");
    let query = Note::query(&table, NotePartition::default()).all();
    let all = tenant::scope("B", query).await.unwrap();
    assert!(all.len() == 3 && all.iter().all(|n| n.tenant_id == "B"));
    let listed = tenant::scope("B", Note::list_all(&table).all())
        .await
        .unwrap();
    assert!(listed.len() == 3 && listed.iter().all(|n| n.tenant_id == "B"));
    let titled = Note::by_title(&table, NoteByTitle { title: "same" }).all();
    assert_eq!(tenant::scope("B", titled).await.unwrap().len(), 3);
    let update = Note::update(&table, NoteKey { id: "2" })
        .set(Note::FIELDS.title, "B's")
        .send();
    assert_eq!(tenant::scope("B", update).await.unwrap().tenant_id, "B");
    let untouched = tenant::scope("A", Note::get(&table, NoteKey { id: "2" })).await;
    assert_ne!(untouched.unwrap().unwrap().title, "B's");
}

#[tokio::test]
async fn crafted_values_never_reach_another_tenant() {
    let table = table().await;
    two_tenants(&table).await;
    let b_before = items_of(&raw_items(&table).await, "B");

    // Tenant ids and key values an attacker might get into a scope or a key.
    let long = "A".repeat(2048);
    let crafted = [
        "B#NOTES",
        "A#NOTES#x",
        "A#",
        "",
        "A\u{0}",
        "A\n",
        "#",
        "x#NOTE#1",
        long.as_str(),
    ];
    for value in crafted {
        let attempt = tenant::scope(value, async {
            let results = vec![
                Note::create(&table, note("9", "t")).await.map(drop),
                Note::get(&table, NoteKey { id: "1" }).await.map(drop),
                Note::update(&table, NoteKey { id: "1" })
                    .set(Note::FIELDS.body, "pwned")
                    .send()
                    .await
                    .map(drop),
                Note::delete(&table, NoteKey { id: "1" }).await.map(drop),
                Note::query(&table, NotePartition::default())
                    .all()
                    .await
                    .map(drop),
            ];
            results
        })
        .await;
        for result in attempt {
            assert!(
                matches!(result, Err(Error::InvalidKey { entity: "NOTE", .. })),
                "tenant {value:?}: {result:?}"
            );
        }
    }
    tenant::scope("A", async {
        for value in crafted {
            let key = NoteKey { id: value };
            assert!(
                matches!(Note::get(&table, key).await, Err(Error::InvalidKey { .. })),
                "{value:?}"
            );
            assert!(
                matches!(
                    Note::delete(&table, key).await,
                    Err(Error::InvalidKey { .. })
                ),
                "{value:?}"
            );
            let query = Note::query(&table, NotePartition::default())
                .starting(value)
                .all()
                .await;
            assert!(matches!(query, Err(Error::InvalidKey { .. })), "{value:?}");
        }
        // Look-alikes and long ids are ordinary values: they address A's own (absent) items.
        for value in ["Ｂ", "B\u{200b}", &"B".repeat(2048)] {
            let key = NoteKey { id: value };
            let read = Note::get(&table, key).await;
            assert!(
                matches!(read, Ok(None) | Err(Error::InvalidKey { .. })),
                "{read:?}"
            );
        }
        // An entity of another tenant cannot be written from A's scope.
        let mut stolen = Note::get(&table, NoteKey { id: "1" })
            .await
            .unwrap()
            .unwrap();
        stolen.tenant_id = "B".into();
        stolen.body = "pwned".into();
        let err = stolen.put(&table).await.unwrap_err();
        assert!(
            matches!(err, Error::TenantMismatch { entity: "NOTE", .. }),
            "{err:?}"
        );
    })
    .await;
    for value in ["Ｂ", "B\u{200b}"] {
        tenant::scope(value, async {
            assert!(Note::query(&table, NotePartition::default())
                .all()
                .await
                .unwrap()
                .is_empty());
        })
        .await;
    }

    assert_eq!(
        items_of(&raw_items(&table).await, "B"),
        b_before,
        "B's items are byte-identical"
    );
}

#[tokio::test]
async fn concurrent_tasks_of_fifty_tenants_never_see_each_other() {
    let table = table().await;
    let tasks = (0..1000).map(|n| {
        let table = table.clone();
        let tenant_name = format!("tenant-{}", n % 50);
        async move {
            tenant::scope(tenant_name.clone(), async {
                // Each task's work continues in a spawned task that carries the scope.
                tenant::spawn(async move {
                    let id = format!("n{n}");
                    let created = Note::create(&table, note(&id, "t")).await.unwrap();
                    assert_eq!(created.tenant_id, tenant_name);
                    let read = Note::get(&table, NoteKey { id: &id })
                        .await
                        .unwrap()
                        .unwrap();
                    assert_eq!(read.tenant_id, tenant_name);
                    let listed = Note::query(&table, NotePartition::default())
                        .all()
                        .await
                        .unwrap();
                    assert!(listed.iter().all(|note| note.tenant_id == tenant_name));
                    assert!(listed.iter().any(|note| note.id == id));
                })
                .await
                .unwrap()
            })
            .await
        }
    });
    futures::stream::iter(tasks)
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    let raw = raw_items(&table).await;
    assert_eq!(raw.len(), 1000);
    for item in raw {
        let tenant = item["tenant_id"].as_s().unwrap();
        assert_eq!(
            item["pk"].as_s().unwrap(),
            &format!("TENANT#{tenant}#NOTES")
        );
        let n: usize = item["id"].as_s().unwrap()[1..].parse().unwrap();
        assert_eq!(tenant, &format!("tenant-{}", n % 50));
    }
}

#[tokio::test]
async fn listing_a_tenant_scoped_entity_needs_the_tenant_type_index() {
    // The type index is keyed by type alone: it is never read for a tenant-scoped entity.
    let table = table_with("tenancy", |b| b.index("GSI1", "gsi1pk", "gsi1sk")).await;
    tenant::scope("A", async {
        Note::create(&table, note("1", "t")).await.unwrap();
        let err = Note::list_all(&table).all().await.unwrap_err();
        assert!(matches!(&err, Error::InvalidRequest { reason, .. } if reason.contains("tenant type index")), "{err:?}");
    })
    .await;
    assert!(
        !raw_items(&table).await[0].contains_key("_tenant_type"),
        "written only for a declared index"
    );
}

#[tokio::test]
async fn a_table_that_requires_tenancy_refuses_shared_entities() {
    let table = table_with("tenancy", |b| {
        b.require_tenant_scope().index("GSI1", "gsi1pk", "gsi1sk")
    })
    .await;
    let (result, requests) = count_requests(async {
        let new = NewUser {
            tenant_id: "t1".into(),
            email: "a@example.com".into(),
            display_name: "A".into(),
            login_count: 0,
        };
        User::create(&table, new).await
    })
    .await;
    assert!(
        matches!(&result, Err(Error::InvalidRequest { entity: "USER", reason }) if reason.contains("tenant")),
        "{result:?}"
    );
    assert_eq!(requests, 0);
    let key = UserKey {
        tenant_id: "t1",
        email: "a@example.com",
    };
    assert!(matches!(
        User::get(&table, key).await,
        Err(Error::InvalidRequest { .. })
    ));
    tenant::scope("A", async {
        Note::create(&table, note("1", "t")).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_table_resolver_supplies_the_tenant_when_no_scope_is_set() {
    let table = table_with("tenancy", |b| {
        b.index("GSI1", "gsi1pk", "gsi1sk")
            .tenant_resolver(|| None)
            .tenant_resolver(|| Some("configured".into()))
    })
    .await;
    let created = Note::create(&table, note("1", "t")).await.unwrap();
    assert_eq!(created.tenant_id, "configured");
    // A scope wins over the resolvers.
    tenant::scope("scoped", async {
        assert_eq!(Note::get(&table, NoteKey { id: "1" }).await.unwrap(), None);
        Note::create(&table, note("1", "t")).await.unwrap();
    })
    .await;
    let mut pks: Vec<_> = raw_items(&table)
        .await
        .iter()
        .map(|i| i["pk"].as_s().unwrap().clone())
        .collect();
    pks.sort();
    assert_eq!(pks, ["TENANT#configured#NOTES", "TENANT#scoped#NOTES"]);
}

/// The table's schema, for the operations that work over a whole table.
#[derive(singletable::TableSchema, Debug)]
enum TenancyItem {
    Note(Note),
}

#[tokio::test]
async fn only_the_cross_tenant_mode_works_on_more_than_one_tenant() {
    use singletable::{AuditLog, Backfill, ChangeFeed, Checkpoint, TableSchema};

    let local = singletable_local::DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let name = singletable_local::unique_table_name("crossing");
    let table = TenancyItem::declare(Table::builder(local.client().await, name))
        .index("GSI1", "gsi1pk", "gsi1sk")
        .tenant_type_index("TenantTypeIndex")
        .build();
    let arn = table.create_table_with_stream().await.unwrap();
    two_tenants(&table).await;
    let streams = local.streams_client().await;
    let feed = ChangeFeed::<TenancyItem>::new(&table, &streams, arn.as_str());

    // The operations built to go over the whole table, each giving how many items (or tenants)
    // it reached.
    let whole_table = || async {
        let mut reader = feed.read(Checkpoint::new());
        let mut events = 0;
        let read = loop {
            match reader.next().await {
                Ok(Some(event)) => {
                    // Each event decodes in the scope of the tenant its key names.
                    let Some(TenancyItem::Note(note)) = &event.new else {
                        panic!("a create: {event:?}")
                    };
                    assert_eq!(
                        event.tenant.map(|t| t.to_string()),
                        Some(note.tenant_id.clone())
                    );
                    events += 1;
                }
                Ok(None) => break Ok(events),
                Err(e) => break Err(e),
            }
        };
        vec![
            TenancyItem::tenants(&table).send().await.map(|t| t.len()),
            TenancyItem::count_by_type(&table)
                .send()
                .await
                .map(|c| c.values().sum::<u64>() as usize),
            Backfill::<Note>::new(&table)
                .dry_run()
                .run()
                .await
                .map(|r| r.progress.scanned as usize),
            read,
        ]
    };

    // Outside any scope, none of them runs, and nothing is sent.
    let (outside, requests) = count_requests(whole_table()).await;
    assert_eq!(requests, 0);
    assert!(outside.iter().all(Result::is_err), "{outside:?}");

    // In one tenant's scope, listing tenants and reading the change feed are refused; counting
    // and re-indexing reach that tenant's items only.
    let (in_one, _) = count_requests(tenant::scope("A", whole_table())).await;
    assert!(in_one[0].is_err() && in_one[3].is_err(), "{in_one:?}");
    assert_eq!(in_one[1].as_ref().ok(), Some(&3));
    assert_eq!(in_one[2].as_ref().ok(), Some(&3));

    // Across tenants, each reaches both tenants.
    let across = tenant::across_tenants("test: every tenant", whole_table()).await;
    let reached: Vec<usize> = across.into_iter().map(Result::unwrap).collect();
    assert_eq!(reached, [2, 6, 6, 6]);

    // And in that mode, every operation on one tenant's items is refused before any request.
    let (one_tenant, requests) = count_requests(tenant::across_tenants("test", async {
        let key = NoteKey { id: "1" };
        vec![
            Note::get(&table, key).await.map(drop),
            Note::list_all(&table).all().await.map(drop),
            Note::query(&table, NotePartition::default())
                .all()
                .await
                .map(drop),
            Note::create(&table, note("9", "t")).await.map(drop),
            AuditLog::of_tenant(&table).all().await.map(drop),
            TenancyItem::delete_tenant(&table).send().await.map(drop),
        ]
    }))
    .await;
    assert_eq!(requests, 0);
    for result in one_tenant {
        assert!(
            matches!(result, Err(Error::MissingTenant { .. })),
            "{result:?}"
        );
    }
}
