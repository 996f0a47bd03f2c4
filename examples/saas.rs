//! The multi-tenant SaaS platform of dynamodb-provider's advanced patterns, in Rust: organizations,
//! teams, members and projects in one table, every operation inside a tenant scope.
//!
//! `cargo run --example saas` starts DynamoDB Local by itself (Java 17 and npm needed), or uses
//! the one at `DYNAMODB_ENDPOINT`, creates a table and runs the seed's `example()`.

use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{tenant, Transaction};
use singletable_local::DynamoDbLocal;
use time::OffsetDateTime;

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Pro,
    Enterprise,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
    Viewer,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Archived,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "ORGANIZATION",
    pk = "TENANT#<tenant_id>#ORG#<organization_id>",
    sk = "#METADATA"
)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    #[entity(autogen = uuid, param = "organization_id")]
    pub id: String,
    #[entity(tenant)]
    pub tenant_id: String,
    pub name: String,
    pub plan: Plan,
    pub max_users: i64,
    #[entity(autogen = timestamp)]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[entity(autogen(on_update = timestamp))]
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "TEAM",
    pk = "TENANT#<tenant_id>#ORG#<organization_id>",
    sk = "TEAM#<id>"
)]
#[serde(rename_all = "camelCase")]
pub struct Team {
    #[entity(autogen = uuid)]
    pub id: String,
    #[entity(tenant)]
    pub tenant_id: String,
    pub organization_id: String,
    pub name: String,
    pub description: Option<String>,
    #[entity(autogen = count)]
    pub member_count: i64,
    #[entity(autogen = timestamp)]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[entity(autogen(on_update = timestamp))]
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "TEAM_MEMBER",
    pk = "TENANT#<tenant_id>#ORG#<organization_id>",
    sk = "TEAM#<team_id>#MEMBER#<id>"
)]
#[serde(rename_all = "camelCase")]
pub struct TeamMember {
    #[entity(autogen = uuid)]
    pub id: String,
    #[entity(tenant)]
    pub tenant_id: String,
    pub organization_id: String,
    pub team_id: String,
    pub user_id: String,
    pub username: String,
    pub email: String,
    pub role: Role,
    #[entity(autogen = timestamp)]
    #[serde(with = "time::serde::rfc3339")]
    pub joined_at: OffsetDateTime,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "PROJECT",
    pk = "TENANT#<tenant_id>#TEAM#<team_id>",
    sk = "PROJECT#<id>"
)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    #[entity(autogen = uuid)]
    pub id: String,
    #[entity(tenant)]
    pub tenant_id: String,
    pub team_id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: Status,
    #[entity(autogen = count)]
    pub task_count: i64,
    #[entity(autogen = timestamp)]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The seed's `teamWithMembers`.
#[derive(Collection, Debug)]
#[collection(root = Team)]
pub struct TeamWithMembers {
    pub team: Team,
    #[collection(on(team_id = id), order_by = username)]
    pub members: Vec<TeamMember>,
}

/// The seed's `organizationComplete`.
#[derive(Collection, Debug)]
#[collection(root = Organization)]
pub struct OrganizationComplete {
    pub organization: Organization,
    #[collection(order_by = name)]
    pub teams: Vec<TeamWithMembers>,
}

/// The seed's services: each method runs for the tenant of the current scope.
struct Services {
    table: Table,
}

impl Services {
    async fn create_organization(&self, name: &str, plan: Plan) -> Result<Organization, Error> {
        let max_users = match plan {
            Plan::Free => 5,
            Plan::Pro => 50,
            Plan::Enterprise => 500,
        };
        Organization::create(
            &self.table,
            NewOrganization {
                name: name.into(),
                plan,
                max_users,
            },
        )
        .await
    }

    async fn organization_with_teams(
        &self,
        organization_id: &str,
    ) -> Result<Option<OrganizationComplete>, Error> {
        OrganizationComplete::get(&self.table, OrganizationKey { organization_id }).await
    }

    async fn create_team(
        &self,
        organization_id: &str,
        name: &str,
        description: Option<&str>,
    ) -> Result<Team, Error> {
        let new = NewTeam {
            organization_id: organization_id.into(),
            name: name.into(),
            description: description.map(Into::into),
        };
        Team::create(&self.table, new).await
    }

    async fn team(
        &self,
        organization_id: &str,
        team_id: &str,
    ) -> Result<Option<TeamWithMembers>, Error> {
        TeamWithMembers::get(
            &self.table,
            TeamKey {
                organization_id,
                id: team_id,
            },
        )
        .await
    }

    /// Adds a member and counts it in one transaction: the count never drifts from the members.
    async fn add_member(
        &self,
        team: &Team,
        user_id: &str,
        username: &str,
        role: Role,
    ) -> Result<TeamMember, Error> {
        let mut tx = Transaction::new(&self.table);
        let member = tx.create::<TeamMember>(NewTeamMember {
            organization_id: team.organization_id.clone(),
            team_id: team.id.clone(),
            user_id: user_id.into(),
            username: username.into(),
            email: format!("{username}@acme.com"),
            role,
        })?;
        let key = TeamKey {
            organization_id: &team.organization_id,
            id: &team.id,
        };
        tx.update(Team::update(&self.table, key).add_member_count(1))?;
        tx.send().await?;
        Ok(member)
    }

    async fn remove_member(&self, member: &TeamMember) -> Result<(), Error> {
        let mut tx = Transaction::new(&self.table);
        tx.delete::<TeamMember>(member.key())?;
        let key = TeamKey {
            organization_id: &member.organization_id,
            id: &member.team_id,
        };
        tx.update(Team::update(&self.table, key).subtract_member_count(1))?;
        tx.send().await
    }

    async fn create_project(
        &self,
        team_id: &str,
        name: &str,
        description: &str,
    ) -> Result<Project, Error> {
        let new = NewProject {
            team_id: team_id.into(),
            name: name.into(),
            description: Some(description.into()),
            status: Status::Active,
        };
        Project::create(&self.table, new).await
    }

    async fn team_projects(
        &self,
        team_id: &str,
        status: Option<Status>,
    ) -> Result<Vec<Project>, Error> {
        let query = Project::query(&self.table, ProjectPartition { team_id });
        match status {
            Some(status) => query.filter(Project::FIELDS.status.eq(status)).all().await,
            None => query.all().await,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let local = DynamoDbLocal::shared()?;
    let table = Table::builder(
        local.client().await,
        singletable_local::unique_table_name("saas"),
    )
    .type_index("TypeIndex")
    .tenant_type_index("TenantTypeIndex")
    .require_tenant_scope()
    .build();
    table.create_table().await?;
    println!("table `{}` at {}", table.name(), local.endpoint());
    let services = Services { table };

    tenant::scope("tenant-1", async {
        let org = services.create_organization("Acme Corp", Plan::Pro).await?;
        println!(
            "Created organization: {} ({:?}, {} users max)",
            org.name, org.plan, org.max_users
        );

        let team = services
            .create_team(&org.id, "Engineering", Some("Product engineering team"))
            .await?;
        println!("Created team: {}", team.name);

        services
            .add_member(&team, "user1", "john", Role::Admin)
            .await?;
        let jane = services
            .add_member(&team, "user2", "jane", Role::Member)
            .await?;
        let temp = services
            .add_member(&team, "user3", "temp", Role::Viewer)
            .await?;
        services.remove_member(&temp).await?;

        let project = services
            .create_project(&team.id, "Website Redesign", "Redesign company website")
            .await?;
        println!("Created project: {}", project.name);

        let with_members = services
            .team(&org.id, &team.id)
            .await?
            .ok_or("team exists")?;
        let names: Vec<&str> = with_members
            .members
            .iter()
            .map(|m| m.username.as_str())
            .collect();
        println!("Team members: {} {names:?}", with_members.members.len());
        println!("Team memberCount: {}", with_members.team.member_count);

        let complete = services
            .organization_with_teams(&org.id)
            .await?
            .ok_or("organization exists")?;
        println!("Organization teams: {}", complete.teams.len());
        let total: usize = complete.teams.iter().map(|t| t.members.len()).sum();
        println!("Total members across all teams: {total}");

        let active = services
            .team_projects(&team.id, Some(Status::Active))
            .await?;
        println!("Active projects: {}", active.len());
        println!("{} joined at {}", jane.username, jane.joined_at);
        Ok::<_, Box<dyn std::error::Error>>(())
    })
    .await
}
