//! Collections: a root and its joined items in one query, joined by type or relation, nested.

use singletable::prelude::*;

use crate::model::*;
use crate::{count_requests, table};

async fn organization(table: &Table) -> Organization {
    let new = NewOrganization {
        tenant_id: "t1".into(),
        name: "Acme".into(),
        plan: Plan::Pro,
        max_users: 50,
        description: None,
    };
    Organization::create(table, new).await.unwrap()
}

async fn team(table: &Table, org: &Organization, name: &str) -> Team {
    let new = NewTeam {
        tenant_id: "t1".into(),
        organization_id: org.id.clone(),
        name: name.into(),
        description: None,
    };
    Team::create(table, new).await.unwrap()
}

async fn member(table: &Table, team: &Team, username: &str, role: &str) -> TeamMember {
    let new = NewTeamMember {
        tenant_id: "t1".into(),
        organization_id: team.organization_id.clone(),
        team_id: team.id.clone(),
        username: username.into(),
        role: role.into(),
    };
    TeamMember::create(table, new).await.unwrap()
}

fn team_key(team: &Team) -> TeamKey<'_> {
    team.key()
}

#[tokio::test]
async fn a_team_with_its_members_sorted_by_username_in_one_query() {
    let table = table("collection").await;
    let org = organization(&table).await;
    let core = team(&table, &org, "Core").await;
    let other = team(&table, &org, "Other").await;
    for name in ["carol", "alice", "bob"] {
        member(&table, &core, name, "member").await;
    }
    member(&table, &other, "zed", "member").await;

    let (found, requests) = count_requests(TeamWithMembers::get(&table, team_key(&core))).await;
    let found = found.unwrap().unwrap();
    assert_eq!(requests, 1);
    assert_eq!(found.team, core);
    let names: Vec<_> = found.members.iter().map(|m| m.username.as_str()).collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    assert!(found.members.iter().all(|m| m.team_id == core.id));

    let roster = TeamRoster::get(&table, team_key(&core))
        .await
        .unwrap()
        .unwrap();
    let names: Vec<_> = roster.members.iter().map(|m| m.username.as_str()).collect();
    assert_eq!(
        names,
        ["carol", "bob", "alice"],
        "joined by type, descending"
    );
}

#[tokio::test]
async fn an_organization_with_teams_and_their_members_in_one_query() {
    let table = table("collection").await;
    let org = organization(&table).await;
    let mut teams = Vec::new();
    for (name, members) in [("A-empty", 0), ("B-pair", 2), ("C-five", 5)] {
        let t = team(&table, &org, name).await;
        for n in 0..members {
            member(&table, &t, &format!("{name}-{n}"), "member").await;
        }
        teams.push(t);
    }
    // Another organization's data in the same table must not appear.
    let other = organization(&table).await;
    let foreign = team(&table, &other, "Foreign").await;
    member(&table, &foreign, "intruder", "member").await;

    let key = OrganizationKey {
        tenant_id: "t1",
        organization_id: &org.id,
    };
    let (found, requests) = count_requests(OrganizationComplete::get(&table, key)).await;
    let found = found.unwrap().unwrap();
    assert_eq!(requests, 1);
    assert_eq!(found.organization, org);
    let shape: Vec<(&str, usize)> = found
        .teams
        .iter()
        .map(|t| (t.team.name.as_str(), t.members.len()))
        .collect();
    assert_eq!(shape, [("A-empty", 0), ("B-pair", 2), ("C-five", 5)]);
    for team in &found.teams {
        assert!(
            team.members.iter().all(|m| m.team_id == team.team.id),
            "every member sits under its own team"
        );
    }
}

#[tokio::test]
async fn a_missing_root_is_none() {
    let table = table("collection").await;
    let key = OrganizationKey {
        tenant_id: "t1",
        organization_id: "missing",
    };
    assert!(OrganizationComplete::get(&table, key)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_collection_larger_than_one_page_returns_every_item() {
    let table = table("collection").await;
    let org = organization(&table).await;
    let big = team(&table, &org, "Big").await;
    let role = "r".repeat(400);
    use futures::StreamExt;
    futures::stream::iter(0..3000)
        .map(|n| {
            let (table, big, role) = (&table, &big, &role);
            async move { member(table, big, &format!("user{n:04}"), role).await }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;

    let (found, requests) = count_requests(TeamWithMembers::get(&table, team_key(&big))).await;
    let found = found.unwrap().unwrap();
    assert_eq!(found.members.len(), 3000);
    assert!(
        requests > 1,
        "3,000 items of ~0.5 KB need more than one 1 MB page ({requests} requests)"
    );
    let names: Vec<_> = found.members.iter().map(|m| m.username.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted);
}
