//! Conditional writes, atomic counters and optimistic locking.

use futures::StreamExt;
use singletable::prelude::*;

use crate::model::*;
use crate::{raw_items, table};

fn counter(name: &str) -> NewCounter {
    NewCounter {
        name: name.into(),
        value: 0,
        label: "start".into(),
    }
}

#[tokio::test]
async fn a_condition_that_does_not_hold_writes_nothing() {
    let table = table("writes").await;
    let org = Organization::create(
        &table,
        NewOrganization {
            tenant_id: "t1".into(),
            name: "Acme".into(),
            plan: Plan::Free,
            max_users: 5,
            description: None,
        },
    )
    .await
    .unwrap();
    let f = Organization::FIELDS;
    let before = raw_items(&table).await;

    let err = Organization::update(&table, org.key())
        .set(Organization::FIELDS.name, "X")
        .condition(f.plan.eq(Plan::Pro))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ConditionFailed { entity: "ORGANIZATION", key, .. } if key.sk == "#METADATA"),
        "{err:?}"
    );
    let err = Organization::delete_if(&table, org.key(), f.max_users.gt(10))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConditionFailed { .. }), "{err:?}");
    let mut changed = org.clone();
    changed.name = "Y".into();
    let err = changed
        .put_if(&table, f.name.eq("not the name"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConditionFailed { .. }), "{err:?}");
    assert_eq!(raw_items(&table).await, before);

    let updated = Organization::update(&table, org.key())
        .set(Organization::FIELDS.plan, Plan::Pro)
        .condition(f.plan.eq(Plan::Free))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.plan, Plan::Pro);
    changed.put_if(&table, f.plan.eq(Plan::Pro)).await.unwrap();
    assert_eq!(
        Organization::get(&table, org.key())
            .await
            .unwrap()
            .unwrap()
            .name,
        "Y"
    );
    let deleted = Organization::delete_if(&table, org.key(), f.name.eq("Y"))
        .await
        .unwrap();
    assert_eq!(deleted.map(|o| o.name).as_deref(), Some("Y"));
    assert_eq!(
        Organization::delete_if(&table, org.key(), f.name.eq("Y"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn concurrent_adds_on_one_counter_all_count() {
    let table = table("writes").await;
    let c = Counter::create(&table, counter("hits")).await.unwrap();
    futures::stream::iter(0..200)
        .map(|_| async {
            Counter::update(&table, c.key())
                .add(Counter::FIELDS.value, 1)
                .send()
                .await
                .unwrap()
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let end = Counter::get(&table, c.key()).await.unwrap().unwrap();
    assert_eq!(end.value, 200);
    assert_eq!(end.version, 200, "every write moved the version");
}

#[tokio::test]
async fn a_stale_version_is_a_conflict() {
    let table = table("writes").await;
    let c = Counter::create(&table, counter("v")).await.unwrap();
    assert_eq!(c.version, 0);
    let next = Counter::update(&table, c.key())
        .set(Counter::FIELDS.label, "one")
        .if_version(0)
        .send()
        .await
        .unwrap();
    assert_eq!(next.version, 1);
    let err = Counter::update(&table, c.key())
        .set(Counter::FIELDS.label, "stale")
        .if_version(0)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::VersionConflict {
                entity: "COUNTER",
                expected: 0,
                found: Some(1),
                ..
            }
        ),
        "{err:?}"
    );
    // `put` writes over the version the entity holds, and stores the next one.
    let err = c.put(&table).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::VersionConflict {
                expected: 0,
                found: Some(1),
                ..
            }
        ),
        "{err:?}"
    );
    next.put(&table).await.unwrap();
    assert_eq!(
        Counter::get(&table, c.key())
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
    assert_eq!(
        Counter::get(&table, c.key()).await.unwrap().unwrap().label,
        "one"
    );
}

#[tokio::test]
async fn of_fifty_concurrent_versioned_writers_the_winners_count_the_versions() {
    let table = table("writes").await;
    let c = Counter::create(&table, counter("race")).await.unwrap();
    let outcomes = futures::stream::iter(0..50)
        .map(|n| {
            let table = &table;
            async move {
                let seen = Counter::get(table, CounterKey { name: "race" })
                    .await
                    .unwrap()
                    .unwrap();
                Counter::update(table, seen.key())
                    .set(Counter::FIELDS.label, format!("writer {n}"))
                    .if_version(seen.version)
                    .send()
                    .await
            }
        })
        .buffer_unordered(50)
        .collect::<Vec<_>>()
        .await;
    let wins = outcomes.iter().filter(|o| o.is_ok()).count();
    let conflicts = outcomes
        .iter()
        .filter(|o| matches!(o, Err(Error::VersionConflict { .. })))
        .count();
    assert_eq!(
        wins + conflicts,
        50,
        "every writer either won or got a conflict"
    );
    let end = Counter::get(&table, c.key()).await.unwrap().unwrap();
    assert_eq!(end.version as usize, wins);
    assert!(wins >= 1);
}

#[tokio::test]
async fn lists_grow_atomically_and_absent_values_are_set_once() {
    let table = table("writes").await;
    let team_id = uuid::Uuid::new_v4();
    let project = Project::create(
        &table,
        NewProject {
            team_id,
            seq: 1,
            title: "P".into(),
            budget: None,
            tags: vec!["b".into()],
        },
    )
    .await
    .unwrap();
    let updated = Project::update(&table, project.key())
        .append(Project::FIELDS.tags, vec!["c".into(), "d".into()])
        .send()
        .await
        .unwrap();
    assert_eq!(updated.tags, ["b", "c", "d"]);
    let updated = Project::update(&table, project.key())
        .prepend(Project::FIELDS.tags, vec!["a".into()])
        .send()
        .await
        .unwrap();
    assert_eq!(updated.tags, ["a", "b", "c", "d"]);

    let first = Project::update(&table, project.key())
        .set_if_absent(Project::FIELDS.budget, 10.0)
        .send()
        .await
        .unwrap();
    assert_eq!(first.budget, Some(10.0));
    let second = Project::update(&table, project.key())
        .set_if_absent(Project::FIELDS.budget, 99.0)
        .send()
        .await
        .unwrap();
    assert_eq!(second.budget, Some(10.0), "an existing value is kept");
}

#[tokio::test]
async fn compound_conditions_hold_on_every_write() {
    let table = table("writes-compound").await;
    let new = NewOrganization {
        tenant_id: "t1".into(),
        name: "Acme".into(),
        plan: Plan::Free,
        max_users: 5,
        description: None,
    };
    let org = Organization::create(&table, new).await.unwrap();
    let f = Organization::FIELDS;
    let holds = || {
        f.plan
            .eq(Plan::Free)
            .and(f.max_users.lt(10).or(f.name.eq("x")))
    };
    let fails = || f.plan.eq(Plan::Free).and(f.max_users.gt(10)).not().not();

    // A condition the user builds from `and`, `or` and `not`, alone or with a second one.
    let err = Organization::update(&table, org.key())
        .set(Organization::FIELDS.name, "B")
        .condition(fails())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConditionFailed { .. }), "{err:?}");
    let updated = Organization::update(&table, org.key())
        .set(Organization::FIELDS.name, "B")
        .condition(holds())
        .condition(f.name.eq("Acme"))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.name, "B");
    let err = updated.put_if(&table, fails()).await.unwrap_err();
    assert!(matches!(err, Error::ConditionFailed { .. }), "{err:?}");
    updated.put_if(&table, holds()).await.unwrap();
    let deleted = Organization::delete_if(&table, org.key(), holds().not().not())
        .await
        .unwrap();
    assert_eq!(deleted.map(|o| o.name).as_deref(), Some("B"));
}
