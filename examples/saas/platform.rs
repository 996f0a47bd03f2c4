//! The multi-tenant SaaS platform of dynamodb-provider's advanced patterns, in Rust:
//! organizations, teams, members and projects in one table with the seed's key layout, its
//! collections, its services (every method), and an audit trail, every operation inside a
//! tenant scope.
//!
//! `main.rs` runs [`example`] and prints what it finds; `tests/it/saas.rs` runs the same
//! scenario and checks the numbers.

use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{AuditContext, AuditRecord, AuditTrail, TableBuilder, Transaction};
use time::OffsetDateTime;

tokio::task_local! {
    /// The user a request acts for, which audit records name: what a web framework's
    /// authentication would set per request.
    pub static USER: String;
}

/// The table layout of the platform: type indexes, tenant scope required, and who is writing
/// taken from [`USER`] for the audit trail (records kept 90 days).
pub fn table(builder: TableBuilder) -> Table {
    builder
        .type_index("TypeIndex")
        .tenant_type_index("TenantTypeIndex")
        .ttl_attribute("expiresAt")
        .audit_retention(time::Duration::days(90))
        .audit_context(|| AuditContext {
            actor: USER.try_with(Clone::clone).ok(),
            request_id: Some(uuid::Uuid::new_v4().to_string()),
        })
        .require_tenant_scope()
        .build()
}

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
    sk = "#METADATA",
    audit
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
    #[serde(with = "singletable::timestamp")]
    pub created_at: OffsetDateTime,
    #[entity(autogen(on_update = timestamp))]
    #[serde(default, with = "singletable::timestamp::option")]
    pub updated_at: Option<OffsetDateTime>,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "TEAM",
    pk = "TENANT#<tenant_id>#ORG#<organization_id>",
    sk = "TEAM#<id>",
    audit
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
    #[serde(with = "singletable::timestamp")]
    pub created_at: OffsetDateTime,
    #[entity(autogen(on_update = timestamp))]
    #[serde(default, with = "singletable::timestamp::option")]
    pub updated_at: Option<OffsetDateTime>,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "TEAM_MEMBER",
    pk = "TENANT#<tenant_id>#ORG#<organization_id>",
    sk = "TEAM#<team_id>#MEMBER#<id>",
    audit
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
    #[serde(with = "singletable::timestamp")]
    pub joined_at: OffsetDateTime,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "PROJECT",
    pk = "TENANT#<tenant_id>#TEAM#<team_id>",
    sk = "PROJECT#<id>",
    audit
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
    #[serde(with = "singletable::timestamp")]
    pub created_at: OffsetDateTime,
    #[entity(autogen(on_update = timestamp))]
    #[serde(default, with = "singletable::timestamp::option")]
    pub updated_at: Option<OffsetDateTime>,
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

/// The seed's `OrganizationService`: each method acts for the tenant of the current scope.
pub struct OrganizationService<'t> {
    pub table: &'t Table,
}

impl OrganizationService<'_> {
    pub async fn create_organization(&self, name: &str, plan: Plan) -> Result<Organization, Error> {
        let max_users = match plan {
            Plan::Free => 5,
            Plan::Pro => 50,
            Plan::Enterprise => 500,
        };
        let new = NewOrganization {
            name: name.into(),
            plan,
            max_users,
        };
        Organization::create(self.table, new).await
    }

    pub async fn get_organization(
        &self,
        organization_id: &str,
    ) -> Result<Option<Organization>, Error> {
        Organization::get(self.table, OrganizationKey { organization_id }).await
    }

    pub async fn get_organization_with_teams(
        &self,
        organization_id: &str,
    ) -> Result<Option<OrganizationComplete>, Error> {
        OrganizationComplete::get(self.table, OrganizationKey { organization_id }).await
    }

    /// The seed's `updateOrganization(id, { name?, plan? })`.
    pub async fn update_organization(
        &self,
        organization_id: &str,
        name: Option<&str>,
        plan: Option<Plan>,
    ) -> Result<Organization, Error> {
        let mut update = Organization::update(self.table, OrganizationKey { organization_id });
        if let Some(name) = name {
            update = update.set(Organization::FIELDS.name, name);
        }
        if let Some(plan) = plan {
            update = update.set(Organization::FIELDS.plan, plan);
        }
        update.send().await
    }
}

/// The seed's `TeamService`.
pub struct TeamService<'t> {
    pub table: &'t Table,
}

impl TeamService<'_> {
    pub async fn create_team(
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
        Team::create(self.table, new).await
    }

    pub async fn get_team(
        &self,
        organization_id: &str,
        team_id: &str,
    ) -> Result<Option<TeamWithMembers>, Error> {
        let key = TeamKey {
            organization_id,
            id: team_id,
        };
        TeamWithMembers::get(self.table, key).await
    }

    pub async fn get_organization_teams(&self, organization_id: &str) -> Result<Vec<Team>, Error> {
        Team::query(self.table, TeamPartition { organization_id })
            .all()
            .await
    }

    /// Adds a member and counts it in one transaction (the seed makes two separate writes):
    /// `memberCount` never drifts from the members, and both writes carry their audit records.
    pub async fn add_member(
        &self,
        team: &Team,
        user_id: &str,
        username: &str,
        email: &str,
        role: Role,
    ) -> Result<TeamMember, Error> {
        let mut tx = Transaction::new(self.table);
        let member = tx.create::<TeamMember>(NewTeamMember {
            organization_id: team.organization_id.clone(),
            team_id: team.id.clone(),
            user_id: user_id.into(),
            username: username.into(),
            email: email.into(),
            role,
        })?;
        tx.update(Team::update(self.table, team.key()).add(Team::FIELDS.member_count, 1))?;
        tx.send().await?;
        Ok(member)
    }

    /// Removes a member and uncounts it in one transaction.
    pub async fn remove_member(
        &self,
        organization_id: &str,
        team_id: &str,
        member_id: &str,
    ) -> Result<(), Error> {
        let mut tx = Transaction::new(self.table);
        tx.delete::<TeamMember>(TeamMemberKey {
            organization_id,
            team_id,
            id: member_id,
        })?;
        let team = TeamKey {
            organization_id,
            id: team_id,
        };
        tx.update(Team::update(self.table, team).subtract(Team::FIELDS.member_count, 1))?;
        tx.send().await
    }
}

/// The seed's `ProjectService`.
pub struct ProjectService<'t> {
    pub table: &'t Table,
}

impl ProjectService<'_> {
    pub async fn create_project(
        &self,
        team_id: &str,
        name: &str,
        description: Option<&str>,
    ) -> Result<Project, Error> {
        let new = NewProject {
            team_id: team_id.into(),
            name: name.into(),
            description: description.map(Into::into),
            status: Status::Active,
        };
        Project::create(self.table, new).await
    }

    pub async fn get_project(
        &self,
        team_id: &str,
        project_id: &str,
    ) -> Result<Option<Project>, Error> {
        Project::get(
            self.table,
            ProjectKey {
                team_id,
                id: project_id,
            },
        )
        .await
    }

    /// A team's projects, of one status if given. (The seed's `byStatus` range query compares
    /// the sort key `PROJECT#<id>` with a status, which never matches; status is not part of
    /// the key, so this filters on it.)
    pub async fn get_team_projects(
        &self,
        team_id: &str,
        status: Option<Status>,
    ) -> Result<Vec<Project>, Error> {
        let query = Project::query(self.table, ProjectPartition { team_id });
        match status {
            Some(status) => query.filter(Project::FIELDS.status.eq(status)).all().await,
            None => query.all().await,
        }
    }

    pub async fn archive_project(&self, team_id: &str, project_id: &str) -> Result<Project, Error> {
        Project::update(
            self.table,
            ProjectKey {
                team_id,
                id: project_id,
            },
        )
        .set(Project::FIELDS.status, Status::Archived)
        .send()
        .await
    }
}

/// The seed's `AuditService`. Its `logAction` is called by hand after each write, so a crash
/// between the two loses the record; here `#[entity(audit)]` writes every record in the same
/// transaction as its change, and this service only reads.
pub struct AuditService<'t> {
    pub table: &'t Table,
}

impl AuditService<'_> {
    /// The records of one entity, newest first; `entity_id` is its key values other than the
    /// tenant, joined by `#` (a team: `<organization id>#<team id>`).
    pub async fn get_entity_audit_trail(
        &self,
        entity_type: &str,
        entity_id: &str,
    ) -> Result<Vec<AuditRecord>, Error> {
        AuditTrail::by_id(self.table, entity_type, entity_id)
            .all()
            .await
    }
}

/// What the seed's `example()` finds, and what followed it.
#[derive(Debug)]
pub struct Summary {
    pub organization: Organization,
    pub team_members: usize,
    pub organization_teams: usize,
    pub total_members: usize,
    pub active_projects: usize,
    pub member_count_after_two_additions: i64,
    pub member_count_after_one_removal: i64,
    /// The team's audit trail, newest first.
    pub team_trail: Vec<AuditRecord>,
}

/// The seed's `example()`, then one member removed; run it inside a tenant scope. `report`
/// is told each step.
pub async fn example(
    table: &Table,
    report: &mut dyn FnMut(String),
) -> Result<Summary, Box<dyn std::error::Error + Send + Sync>> {
    let organizations = OrganizationService { table };
    let teams = TeamService { table };
    let projects = ProjectService { table };
    let audit = AuditService { table };

    let org = organizations
        .create_organization("Acme Corp", Plan::Pro)
        .await?;
    report(format!(
        "Created organization: {} ({:?}, {} users max)",
        org.name, org.plan, org.max_users
    ));
    let team = teams
        .create_team(&org.id, "Engineering", Some("Product engineering team"))
        .await?;
    report(format!("Created team: {}", team.name));

    teams
        .add_member(&team, "user1", "john", "john@acme.com", Role::Admin)
        .await?;
    let jane = teams
        .add_member(&team, "user2", "jane", "jane@acme.com", Role::Member)
        .await?;
    let project = projects
        .create_project(
            &team.id,
            "Website Redesign",
            Some("Redesign company website"),
        )
        .await?;
    report(format!("Created project: {}", project.name));
    let legacy = projects
        .create_project(&team.id, "Legacy Migration", None)
        .await?;
    projects.archive_project(&team.id, &legacy.id).await?;
    let archived = projects.get_project(&team.id, &legacy.id).await?;
    report(format!(
        "Archived project: {} ({:?})",
        legacy.name,
        archived.map(|p| p.status)
    ));

    let with_members = teams
        .get_team(&org.id, &team.id)
        .await?
        .ok_or("the team was just created")?;
    let names: Vec<&str> = with_members
        .members
        .iter()
        .map(|m| m.username.as_str())
        .collect();
    report(format!(
        "Team members: {} {names:?}",
        with_members.members.len()
    ));
    let member_count_after_two_additions = with_members.team.member_count;
    report(format!(
        "Team memberCount after two additions: {member_count_after_two_additions}"
    ));

    let complete = organizations
        .get_organization_with_teams(&org.id)
        .await?
        .ok_or("the organization was just created")?;
    report(format!("Organization teams: {}", complete.teams.len()));
    let total_members: usize = complete.teams.iter().map(|t| t.members.len()).sum();
    report(format!("Total members across all teams: {total_members}"));
    let active = projects
        .get_team_projects(&team.id, Some(Status::Active))
        .await?;
    report(format!("Active projects: {}", active.len()));

    teams.remove_member(&org.id, &team.id, &jane.id).await?;
    let member_count_after_one_removal = teams
        .get_organization_teams(&org.id)
        .await?
        .iter()
        .find(|t| t.id == team.id)
        .map_or(0, |t| t.member_count);
    report(format!(
        "Team memberCount after one removal: {member_count_after_one_removal}"
    ));

    let organization = organizations
        .update_organization(&org.id, None, Some(Plan::Enterprise))
        .await?;
    let stored = organizations.get_organization(&org.id).await?;
    report(format!("Organization plan: {:?}", stored.map(|o| o.plan)));

    let team_id = format!("{}#{}", org.id, team.id);
    let team_trail = audit.get_entity_audit_trail("TEAM", &team_id).await?;
    Ok(Summary {
        organization,
        team_members: with_members.members.len(),
        organization_teams: complete.teams.len(),
        total_members,
        active_projects: active.len(),
        member_count_after_two_additions,
        member_count_after_one_removal,
        team_trail,
    })
}
