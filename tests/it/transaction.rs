//! Transactions: all or nothing, with the reason of each failing action; limits checked first.

use singletable::prelude::*;
use singletable::Transaction;

use crate::model::*;
use crate::{count_requests, raw_items, table};

async fn setup(table: &Table) -> (Organization, Team, TeamMember) {
    let org = Organization::create(
        table,
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
    let team = Team::create(
        table,
        NewTeam {
            tenant_id: "t1".into(),
            organization_id: org.id.clone(),
            name: "Core".into(),
            description: None,
        },
    )
    .await
    .unwrap();
    let member = TeamMember::create(
        table,
        NewTeamMember {
            tenant_id: "t1".into(),
            organization_id: org.id.clone(),
            team_id: team.id.clone(),
            username: "old".into(),
            role: "member".into(),
        },
    )
    .await
    .unwrap();
    (org, team, member)
}

fn new_member(team: &Team, username: &str) -> NewTeamMember {
    NewTeamMember {
        tenant_id: "t1".into(),
        organization_id: team.organization_id.clone(),
        team_id: team.id.clone(),
        username: username.into(),
        role: "member".into(),
    }
}

#[tokio::test]
async fn a_failed_check_cancels_every_action_and_names_itself() {
    let table = table("tx").await;
    let (org, team, member) = setup(&table).await;
    let before = raw_items(&table).await;

    let mut tx = Transaction::new(&table);
    tx.create::<TeamMember>(new_member(&team, "new")).unwrap();
    tx.update(Team::update(&table, team.key()).add(Team::FIELDS.member_count, 1))
        .unwrap();
    tx.check::<Organization>(org.key(), Organization::FIELDS.plan.eq(Plan::Pro))
        .unwrap();
    tx.delete::<TeamMember>(member.key()).unwrap();
    let err = tx.send().await.unwrap_err();
    let Error::TransactionCanceled { reasons } = &err else {
        panic!("expected TransactionCanceled, got {err:?}");
    };
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0].index, 2);
    assert_eq!(reasons[0].entity, "ORGANIZATION");
    assert_eq!(reasons[0].code, "ConditionalCheckFailed");
    assert!(err.to_string().contains("action 2 (ORGANIZATION"), "{err}");
    assert_eq!(raw_items(&table).await, before, "nothing changed");
}

#[tokio::test]
async fn a_transaction_applies_every_action() {
    let table = table("tx").await;
    let (org, team, member) = setup(&table).await;
    let mut tx = Transaction::new(&table);
    let created = tx.create::<TeamMember>(new_member(&team, "new")).unwrap();
    tx.update(Team::update(&table, team.key()).add(Team::FIELDS.member_count, 1))
        .unwrap();
    tx.check::<Organization>(org.key(), Organization::FIELDS.plan.eq(Plan::Free))
        .unwrap();
    tx.delete::<TeamMember>(member.key()).unwrap();
    tx.idempotency_token("tx-1");
    assert_eq!(tx.len(), 4);
    tx.send().await.unwrap();

    assert_eq!(
        TeamMember::get(&table, created.key()).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(TeamMember::get(&table, member.key()).await.unwrap(), None);
    assert_eq!(
        Team::get(&table, team.key())
            .await
            .unwrap()
            .unwrap()
            .member_count,
        1
    );
}

#[tokio::test]
async fn limits_are_checked_before_sending() {
    let table = table("tx").await;
    let (_, team, member) = setup(&table).await;
    let before = raw_items(&table).await;

    let (result, requests) = count_requests(async {
        let mut tx = Transaction::new(&table);
        for n in 0..101 {
            tx.create::<TeamMember>(new_member(&team, &format!("u{n}")))
                .unwrap();
        }
        tx.send().await
    })
    .await;
    assert!(
        matches!(
            result,
            Err(Error::Limit {
                limit: 100,
                got: 101,
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(requests, 0);

    let mut tx = Transaction::new(&table);
    tx.update(TeamMember::update(&table, member.key()).set(TeamMember::FIELDS.role, "admin"))
        .unwrap();
    tx.delete::<TeamMember>(member.key()).unwrap();
    assert!(
        matches!(tx.send().await, Err(Error::InvalidRequest { .. })),
        "two actions on one item"
    );

    let mut big = new_member(&team, "big");
    big.role = "x".repeat(401 * 1024);
    assert!(matches!(
        TeamMember::create(&table, big).await,
        Err(Error::Limit { limit: 409_600, .. })
    ));
    assert_eq!(raw_items(&table).await, before);
}
