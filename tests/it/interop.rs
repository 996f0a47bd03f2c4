//! Sharing a table with dynamodb-provider 3.1.3: items stored exactly as that library writes the
//! seed's SaaS model (`shared/seeds/000`) read back field for field through every read API, and
//! items singletable writes carry no attribute outside the documented set
//! (`docs/coming-from-typescript.md`).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use singletable::audit::Change;
use singletable::item::Item;
use singletable::prelude::*;
use singletable::{tenant, AuditAction, AuditContext, AuditRecord, AuditTrail, ItemKey};
use singletable_local::DynamoDbLocal;
use time::macros::datetime;
use time::OffsetDateTime;

use crate::raw_items;

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

/// The seed's `Organization` (`orgPartition.use('metadata')`, `paramMatch: { organizationId:
/// 'id' }`).
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
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
    pub created_by: String,
}

/// The seed's `Team` (`orgPartition.use('teams')`).
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
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

/// The seed's `TeamMember` (`orgPartition.use('teamMembers')`). The seed's type has no
/// `organizationId`, but its `create` passes one and stores it; here it is the key field.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "TEAM_MEMBER",
    pk = "TENANT#<tenant_id>#ORG#<organization_id>",
    sk = "TEAM#<team_id>#MEMBER#<id>",
    range(name = "of_team", begins_with = "TEAM#<team_id>#MEMBER#")
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

/// The seed's `Project` (`teamPartition.use('projects')`), soft-deleted here.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "PROJECT",
    pk = "TENANT#<tenant_id>#TEAM#<team_id>",
    sk = "PROJECT#<id>",
    audit,
    soft_delete
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

/// Not in the seed: an entity with every other internal attribute singletable writes (an index,
/// an expiry, a version, a schema above 1).
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "INVITE",
    pk = "TENANT#<tenant_id>#INVITE#<email>",
    sk = "#INVITE",
    index(
        name = "GSI1",
        query = "by_team",
        pk = "TENANT#<tenant_id>#TEAM#<team_id>",
        sk = "INVITE#<email>"
    ),
    schema = 2,
    upgrade = invite_reminders
)]
#[serde(rename_all = "camelCase")]
pub struct Invite {
    #[entity(tenant)]
    pub tenant_id: String,
    pub email: String,
    pub team_id: String,
    pub reminders: i64,
    #[entity(version)]
    pub version: u64,
    #[entity(ttl)]
    #[serde(with = "singletable::timestamp")]
    pub expires_at: OffsetDateTime,
}

/// Schema 1 invites had no reminder count.
fn invite_reminders(_from: u32, item: &mut Item) -> Result<(), String> {
    item.entry("reminders".into())
        .or_insert(AttributeValue::N("0".into()));
    Ok(())
}

/// The seed's `teamWithMembers`.
#[derive(Collection, Debug, Clone, PartialEq)]
#[collection(root = Team)]
pub struct TeamWithMembers {
    pub team: Team,
    #[collection(on(team_id = id), order_by = username)]
    pub members: Vec<TeamMember>,
}

/// The seed's `organizationComplete`.
#[derive(Collection, Debug, Clone, PartialEq)]
#[collection(root = Organization)]
pub struct OrganizationComplete {
    pub organization: Organization,
    #[collection(order_by = name)]
    pub teams: Vec<TeamWithMembers>,
}

/// The same items declared without a tenant scope, as an operator's service that lists every
/// tenant's items through the type index would (the type index is not keyed by tenant, so a
/// tenant-scoped entity never reads it).
mod everyone {
    use serde::{Deserialize, Serialize};
    use singletable::prelude::*;
    use time::OffsetDateTime;

    use super::{Plan, Role};

    #[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[entity(
        type = "ORGANIZATION",
        pk = "TENANT#<tenant_id>#ORG#<organization_id>",
        sk = "#METADATA"
    )]
    #[serde(rename_all = "camelCase")]
    pub struct Organization {
        #[entity(param = "organization_id")]
        pub id: String,
        pub tenant_id: String,
        pub name: String,
        pub plan: Plan,
        pub max_users: i64,
        #[serde(with = "singletable::timestamp")]
        pub created_at: OffsetDateTime,
        #[serde(default, with = "singletable::timestamp::option")]
        pub updated_at: Option<OffsetDateTime>,
        pub created_by: String,
    }

    #[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[entity(
        type = "TEAM",
        pk = "TENANT#<tenant_id>#ORG#<organization_id>",
        sk = "TEAM#<id>"
    )]
    #[serde(rename_all = "camelCase")]
    pub struct Team {
        pub id: String,
        pub tenant_id: String,
        pub organization_id: String,
        pub name: String,
        pub description: Option<String>,
        pub member_count: i64,
        #[serde(with = "singletable::timestamp")]
        pub created_at: OffsetDateTime,
        #[serde(default, with = "singletable::timestamp::option")]
        pub updated_at: Option<OffsetDateTime>,
    }

    #[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[entity(
        type = "TEAM_MEMBER",
        pk = "TENANT#<tenant_id>#ORG#<organization_id>",
        sk = "TEAM#<team_id>#MEMBER#<id>"
    )]
    #[serde(rename_all = "camelCase")]
    pub struct TeamMember {
        pub id: String,
        pub tenant_id: String,
        pub organization_id: String,
        pub team_id: String,
        pub user_id: String,
        pub username: String,
        pub email: String,
        pub role: Role,
        #[serde(with = "singletable::timestamp")]
        pub joined_at: OffsetDateTime,
    }
}

/// A fresh table laid out as the seed's `SingleTable` (`pk`/`sk`, `#`, `TypeIndex` on
/// `_type`/`_timestamp`, `GSI1` on `gsi1pk`/`gsi1sk`), plus what singletable adds: a tenant type
/// index, a time-to-live attribute and an audit context.
async fn shared_table() -> Table {
    let local = DynamoDbLocal::shared().expect("DynamoDB Local starts");
    let name = singletable_local::unique_table_name("interop");
    let table = Table::builder(local.client().await, name)
        .type_index("TypeIndex")
        .tenant_type_index("TenantTypeIndex")
        .index("GSI1", "gsi1pk", "gsi1sk")
        .ttl_attribute("ttl")
        .audit_retention(time::Duration::days(90))
        .audit_context(|| AuditContext {
            actor: Some("alice".into()),
            request_id: Some("req-1".into()),
        })
        .entity::<Organization>()
        .entity::<Team>()
        .entity::<TeamMember>()
        .entity::<Project>()
        .entity::<Invite>()
        .build();
    table.create_table().await.expect("table is created");
    table
}

/// Another handle on `table` for the cross-tenant declarations of [`everyone`].
fn operator_view(table: &Table) -> Table {
    Table::builder(table.client().clone(), table.name())
        .type_index("TypeIndex")
        .entity::<everyone::Organization>()
        .entity::<everyone::Team>()
        .entity::<everyone::TeamMember>()
        .build()
}

const TENANT: &str = "t1";
const ORG: &str = "0b6f7c9a-2f43-4d7e-9a51-6c1de8f2b3a4";
const ENGINEERING: &str = "5f1d2c3b-8a9e-4b7c-a6d5-e4f3a2b1c0d9";
const DESIGN: &str = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";
const RESEARCH: &str = "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f";
const JOHN: &str = "1e2d3c4b-5a69-4788-97a6-b5c4d3e2f100";
const JANE: &str = "2f3e4d5c-6b7a-4899-a8b7-c6d5e4f30211";
const ADA: &str = "3a4f5e6d-7c8b-49aa-b9c8-d7e6f5a41322";
const BOB: &str = "4b5a6f7e-8d9c-4abb-8ad9-e8f7a6b52433";

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn n(number: i64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

fn m<const LEN: usize>(entries: [(&str, AttributeValue); LEN]) -> AttributeValue {
    AttributeValue::M(entries.map(|(k, v)| (k.to_owned(), v)).into())
}

fn item(attributes: Vec<(&str, AttributeValue)>) -> Item {
    attributes
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

fn org_pk() -> String {
    format!("TENANT#{TENANT}#ORG#{ORG}")
}

/// The organization as `OrganizationService.createOrganization` then `updateOrganization`
/// leave it: the stray `organizationId: 'placeholder'` key parameter and the `memberCount` of
/// its `autoGen` are stored too.
fn seed_organization_item() -> Item {
    item(vec![
        ("pk", s(&org_pk())),
        ("sk", s("#METADATA")),
        ("_type", s("ORGANIZATION")),
        ("_timestamp", s("2026-11-24T04:56:06.559Z")),
        ("id", s(ORG)),
        ("tenantId", s(TENANT)),
        ("organizationId", s("placeholder")),
        ("name", s("Acme Corp")),
        ("plan", s("pro")),
        ("maxUsers", n(50)),
        ("memberCount", n(0)),
        ("createdAt", s("2026-11-24T04:56:06.558Z")),
        ("createdBy", s("current-user-id")),
        ("updatedAt", s("2026-11-24T05:12:40.031Z")),
    ])
}

fn seed_organization() -> Organization {
    Organization {
        id: ORG.into(),
        tenant_id: TENANT.into(),
        name: "Acme Corp".into(),
        plan: Plan::Pro,
        max_users: 50,
        created_at: datetime!(2026-11-24 04:56:06.558 UTC),
        updated_at: Some(datetime!(2026-11-24 05:12:40.031 UTC)),
        created_by: "current-user-id".into(),
    }
}

/// A team as `TeamService.createTeam` (with `teamId: 'placeholder'`) and `addMember`'s
/// `memberCount` updates leave it; `undefined` properties are not stored.
fn seed_team_item(team: &Team, timestamp: &str) -> Item {
    let mut attributes = vec![
        ("pk", s(&org_pk())),
        ("sk", s(&format!("TEAM#{}", team.id))),
        ("_type", s("TEAM")),
        ("_timestamp", s(timestamp)),
        ("id", s(&team.id)),
        ("tenantId", s(TENANT)),
        ("organizationId", s(ORG)),
        ("teamId", s("placeholder")),
        ("name", s(&team.name)),
        ("memberCount", n(team.member_count)),
        ("createdAt", s(&iso(team.created_at))),
    ];
    if let Some(description) = &team.description {
        attributes.push(("description", s(description)));
    }
    if let Some(updated_at) = team.updated_at {
        attributes.push(("updatedAt", s(&iso(updated_at))));
    }
    item(attributes)
}

/// JavaScript's `toISOString()`.
fn iso(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    at.format(&format).unwrap()
}

fn seed_teams() -> Vec<Team> {
    let team = |id: &str, name: &str| Team {
        id: id.into(),
        tenant_id: TENANT.into(),
        organization_id: ORG.into(),
        name: name.into(),
        description: None,
        member_count: 0,
        created_at: datetime!(2026-11-24 04:56:07.101 UTC),
        updated_at: None,
    };
    vec![
        Team {
            description: Some("Product engineering team".into()),
            member_count: 2,
            updated_at: Some(datetime!(2026-11-24 04:56:08.447 UTC)),
            ..team(ENGINEERING, "Engineering")
        },
        Team {
            member_count: 1,
            created_at: datetime!(2026-11-24 04:57:12.004 UTC),
            updated_at: Some(datetime!(2026-11-24 04:58:30.990 UTC)),
            ..team(DESIGN, "Design")
        },
        Team {
            created_at: datetime!(2026-11-24 04:59:00.000 UTC),
            ..team(RESEARCH, "Research")
        },
    ]
}

/// A member as `TeamService.addMember` stores it, with its `memberId: 'placeholder'`.
fn seed_member_item(member: &TeamMember, timestamp: &str) -> Item {
    item(vec![
        ("pk", s(&org_pk())),
        (
            "sk",
            s(&format!("TEAM#{}#MEMBER#{}", member.team_id, member.id)),
        ),
        ("_type", s("TEAM_MEMBER")),
        ("_timestamp", s(timestamp)),
        ("id", s(&member.id)),
        ("tenantId", s(TENANT)),
        ("organizationId", s(ORG)),
        ("teamId", s(&member.team_id)),
        ("memberId", s("placeholder")),
        ("userId", s(&member.user_id)),
        ("username", s(&member.username)),
        ("email", s(&member.email)),
        (
            "role",
            s(match member.role {
                Role::Admin => "admin",
                Role::Member => "member",
                Role::Viewer => "viewer",
            }),
        ),
        ("joinedAt", s(&iso(member.joined_at))),
    ])
}

fn seed_members() -> Vec<TeamMember> {
    let member = |id: &str, team: &str, user: &str, name: &str, role, at| TeamMember {
        id: id.into(),
        tenant_id: TENANT.into(),
        organization_id: ORG.into(),
        team_id: team.into(),
        user_id: user.into(),
        username: name.into(),
        email: format!("{name}@acme.com"),
        role,
        joined_at: at,
    };
    vec![
        member(
            JOHN,
            ENGINEERING,
            "user1",
            "john",
            Role::Admin,
            datetime!(2026-11-24 04:56:08.120 UTC),
        ),
        member(
            JANE,
            ENGINEERING,
            "user2",
            "jane",
            Role::Member,
            datetime!(2026-11-24 04:56:08.446 UTC),
        ),
        member(
            ADA,
            DESIGN,
            "user3",
            "ada",
            Role::Viewer,
            datetime!(2026-11-24 04:58:30.989 UTC),
        ),
    ]
}

/// The `_timestamp` dynamodb-provider gives an item, a millisecond after its `createdAt` or
/// `joinedAt`.
fn created(at: OffsetDateTime) -> String {
    iso(at + time::Duration::milliseconds(1))
}

/// Entries of the seed's `AuditService.logAction`: `AuditLog` items in the partition
/// `TENANT#<tenantId>#<entityType>#<entityId>`, sort key `AUDIT#<timestamp>`.
fn seed_audit_items() -> Vec<Item> {
    let entry = |entity_type: &str, entity_id: &str, at: &str, ms: i64, action: &str, id: &str| {
        vec![
            (
                "pk",
                s(&format!("TENANT#{TENANT}#{entity_type}#{entity_id}")),
            ),
            ("sk", s(&format!("AUDIT#{at}"))),
            ("_type", s("AUDIT_LOG")),
            ("_timestamp", s(at)),
            ("id", s(id)),
            ("tenantId", s(TENANT)),
            ("entityType", s(entity_type)),
            ("entityId", s(entity_id)),
            ("timestamp", s(at)),
            ("action", s(action)),
            ("username", s("john")),
            ("userId", s("current-user-id")),
            ("requestId", s(&format!("req-{ms}-k3j9x2m1q"))),
        ]
    };
    let mut update = entry(
        "ORGANIZATION",
        ORG,
        "2026-11-24T05:12:40.032Z",
        1795497160032,
        "update",
        "a2c4e6f8-0b1d-4f3a-8c5e-7a9b1c3d5e7f",
    );
    update.push((
        "changes",
        m([
            ("plan", m([("old", s("free")), ("new", s("pro"))])),
            ("maxUsers", m([("old", n(5)), ("new", n(50))])),
        ]),
    ));
    vec![
        item(entry(
            "ORGANIZATION",
            ORG,
            "2026-11-24T04:56:06.560Z",
            1795496166560,
            "create",
            "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9",
        )),
        item(update),
        item(entry(
            "TEAM_MEMBER",
            BOB,
            "2026-11-24T06:01:15.874Z",
            1795500075874,
            "delete",
            "b3d5f7a9-1c2e-4a4b-9d6f-8b0c2d4e6f80",
        )),
    ]
}

/// The records [`seed_audit_items`] hold, as [`AuditTrail`] reads them.
fn seed_audit_records() -> Vec<AuditRecord> {
    let record = |entity_type: &str, entity_id: &str, id: &str, action, at, ms: i64| AuditRecord {
        id: id.into(),
        tenant_id: Some(TENANT.into()),
        entity_type: entity_type.into(),
        entity_id: entity_id.into(),
        entity_key: None,
        action,
        actor: Some("current-user-id".into()),
        request_id: Some(format!("req-{ms}-k3j9x2m1q")),
        changes: BTreeMap::new(),
        timestamp: at,
        revision: None,
    };
    let change = |old, new| Change {
        old: Some(old),
        new: Some(new),
    };
    vec![
        AuditRecord {
            changes: BTreeMap::from([
                ("maxUsers".into(), change(n(5), n(50))),
                ("plan".into(), change(s("free"), s("pro"))),
            ]),
            ..record(
                "ORGANIZATION",
                ORG,
                "a2c4e6f8-0b1d-4f3a-8c5e-7a9b1c3d5e7f",
                AuditAction::Update,
                datetime!(2026-11-24 05:12:40.032 UTC),
                1795497160032,
            )
        },
        record(
            "ORGANIZATION",
            ORG,
            "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9",
            AuditAction::Create,
            datetime!(2026-11-24 04:56:06.560 UTC),
            1795496166560,
        ),
        record(
            "TEAM_MEMBER",
            BOB,
            "b3d5f7a9-1c2e-4a4b-9d6f-8b0c2d4e6f80",
            AuditAction::Delete,
            datetime!(2026-11-24 06:01:15.874 UTC),
            1795500075874,
        ),
    ]
}

/// Stores every seed item with the plain SDK, as dynamodb-provider's `PutCommand` would.
async fn store_seed(table: &Table) {
    let mut items = vec![seed_organization_item()];
    items.extend(
        seed_teams()
            .iter()
            .map(|team| seed_team_item(team, &created(team.created_at))),
    );
    items.extend(
        seed_members()
            .iter()
            .map(|member| seed_member_item(member, &created(member.joined_at))),
    );
    items.extend(seed_audit_items());
    for item in items {
        table
            .client()
            .put_item()
            .table_name(table.name())
            .set_item(Some(item))
            .send()
            .await
            .expect("seed item is stored");
    }
}

fn team_key(id: &str) -> TeamKey<'_> {
    TeamKey {
        organization_id: ORG,
        id,
    }
}

fn members_of(team: &str) -> Vec<TeamMember> {
    let mut members: Vec<_> = seed_members()
        .into_iter()
        .filter(|m| m.team_id == team)
        .collect();
    members.sort_by(|a, b| a.username.cmp(&b.username));
    members
}

#[tokio::test]
async fn seed_items_read_through_get() {
    let table = shared_table().await;
    store_seed(&table).await;
    tenant::scope(TENANT, async {
        let key = OrganizationKey {
            organization_id: ORG,
        };
        let org = Organization::get(&table, key).await.unwrap();
        assert_eq!(org, Some(seed_organization()));
        for team in seed_teams() {
            let read = Team::get(&table, team_key(&team.id)).await.unwrap();
            assert_eq!(read, Some(team));
        }
        for member in seed_members() {
            let key = TeamMemberKey {
                organization_id: ORG,
                team_id: &member.team_id,
                id: &member.id,
            };
            let read = TeamMember::get(&table, key).await.unwrap();
            assert_eq!(read, Some(member));
        }
    })
    .await;
}

#[tokio::test]
async fn seed_items_read_as_team_with_members() {
    let table = shared_table().await;
    store_seed(&table).await;
    tenant::scope(TENANT, async {
        for team in seed_teams() {
            let read = TeamWithMembers::get(&table, team_key(&team.id))
                .await
                .unwrap();
            let members = members_of(&team.id);
            assert_eq!(read, Some(TeamWithMembers { team, members }));
        }
    })
    .await;
}

#[tokio::test]
async fn seed_items_read_as_organization_complete() {
    let table = shared_table().await;
    store_seed(&table).await;
    let read = tenant::scope(
        TENANT,
        OrganizationComplete::get(
            &table,
            OrganizationKey {
                organization_id: ORG,
            },
        ),
    )
    .await
    .unwrap();
    let mut teams: Vec<_> = seed_teams()
        .into_iter()
        .map(|team| TeamWithMembers {
            members: members_of(&team.id),
            team,
        })
        .collect();
    teams.sort_by(|a, b| a.team.name.cmp(&b.team.name));
    assert_eq!(
        teams.iter().map(|t| t.members.len()).collect::<Vec<_>>(),
        [1, 2, 0],
        "Design, Engineering, Research"
    );
    let expected = OrganizationComplete {
        organization: seed_organization(),
        teams,
    };
    assert_eq!(read, Some(expected));
}

#[tokio::test]
async fn seed_partitions_read_through_queries() {
    let table = shared_table().await;
    store_seed(&table).await;
    tenant::scope(TENANT, async {
        let partition = OrganizationPartition {
            organization_id: ORG,
        };
        let orgs = Organization::query(&table, partition).all().await.unwrap();
        assert_eq!(orgs, [seed_organization()]);

        // The seed's `getOrganizationTeams`: the teams of the partition, not its other items.
        let partition = TeamPartition {
            organization_id: ORG,
        };
        let teams = Team::query(&table, partition).all().await.unwrap();
        let mut expected = seed_teams();
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(teams, expected, "in sort key order");

        let partition = || TeamMemberPartition {
            organization_id: ORG,
        };
        let members = TeamMember::query(&table, partition()).all().await.unwrap();
        let mut expected = seed_members();
        expected.sort_by_key(|m| format!("TEAM#{}#MEMBER#{}", m.team_id, m.id));
        assert_eq!(members, expected, "in sort key order");
        let engineering = TeamMember::query(&table, partition())
            .of_team(ENGINEERING)
            .all()
            .await
            .unwrap();
        let mut expected = members_of(ENGINEERING);
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(engineering, expected);
    })
    .await;
}

/// `value` as JSON, to compare the fields of two structs that share their serde names.
fn json(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap()
}

#[tokio::test]
async fn seed_items_list_through_the_type_index() {
    let table = shared_table().await;
    store_seed(&table).await;
    let operator = operator_view(&table);
    // In `_timestamp` order, which the seed items carry.
    let orgs = everyone::Organization::list_all(&operator)
        .all()
        .await
        .unwrap();
    assert_eq!(json(&orgs), json(&[seed_organization()]));
    let teams = everyone::Team::list_all(&operator).all().await.unwrap();
    assert_eq!(json(&teams), json(&seed_teams()));
    let members = everyone::TeamMember::list_all(&operator)
        .all()
        .await
        .unwrap();
    assert_eq!(json(&members), json(&seed_members()));
    let newest = everyone::TeamMember::list_all(&operator)
        .descending()
        .limit(1)
        .all()
        .await
        .unwrap();
    assert_eq!(newest.first().map(|m| m.id.as_str()), Some(ADA));
}

#[tokio::test]
async fn seed_items_list_through_the_tenant_type_index_after_reindexing() {
    // dynamodb-provider writes no `_tenant_type`, which a tenant-scoped listing reads.
    let table = shared_table().await;
    store_seed(&table).await;
    let before = raw_items(&table).await;
    assert_eq!(
        before.len(),
        10,
        "1 organization, 3 teams, 3 members, 3 audit entries"
    );
    assert!(before.iter().all(|item| !item.contains_key("_tenant_type")));
    tenant::scope(TENANT, async {
        let teams = Team::list_all(&table).all().await.unwrap();
        assert!(teams.is_empty(), "{teams:?}");
    })
    .await;

    // A dry run reports the items a listing would miss, writing nothing.
    let reason = "re-index items stored by dynamodb-provider";
    let dry = tenant::across_tenants(reason, async {
        (
            Organization::backfill(&table)
                .dry_run()
                .run()
                .await
                .unwrap(),
            Team::backfill(&table).dry_run().run().await.unwrap(),
            TeamMember::backfill(&table).dry_run().run().await.unwrap(),
        )
    })
    .await;
    let missing = |r: &singletable::BackfillReport| (r.progress.scanned, r.progress.reindexed);
    assert_eq!(
        (missing(&dry.0), missing(&dry.1), missing(&dry.2)),
        ((1, 1), (3, 3), (3, 3))
    );
    assert_eq!(raw_items(&table).await.len(), 10);
    assert!(raw_items(&table)
        .await
        .iter()
        .all(|item| !item.contains_key("_tenant_type")));

    tenant::across_tenants(reason, async {
        for report in [
            Organization::backfill(&table).run().await.unwrap(),
            Team::backfill(&table).run().await.unwrap(),
            TeamMember::backfill(&table).run().await.unwrap(),
        ] {
            assert_eq!(report.progress.failed, 0, "{:?}", report.failures);
        }
    })
    .await;
    tenant::scope(TENANT, async {
        let orgs = Organization::list_all(&table).all().await.unwrap();
        assert_eq!(json(&orgs), json(&[seed_organization()]));
        let teams = Team::list_all(&table).all().await.unwrap();
        assert_eq!(json(&teams), json(&seed_teams()));
        let members = TeamMember::list_all(&table).all().await.unwrap();
        assert_eq!(json(&members), json(&seed_members()));
    })
    .await;
    // Re-indexing adds `_tenant_type` and nothing else: every attribute the seed stored,
    // stray key parameters included, is as it was.
    let after = raw_items(&table).await;
    for old in &before {
        let new = after
            .iter()
            .find(|item| item["pk"] == old["pk"] && item["sk"] == old["sk"])
            .unwrap();
        let mut added: Vec<&String> = new.keys().filter(|k| !old.contains_key(*k)).collect();
        added.sort();
        let expected: &[&str] = match old["_type"].as_s().unwrap().as_str() {
            "AUDIT_LOG" => &[],
            _ => &["_tenant_type"],
        };
        assert_eq!(added, expected, "{new:?}");
        assert!(old.iter().all(|(name, value)| new.get(name) == Some(value)));
    }
}

#[tokio::test]
async fn seed_audit_entries_read_through_the_audit_trail() {
    let table = shared_table().await;
    store_seed(&table).await;
    let expected = seed_audit_records();
    tenant::scope(TENANT, async {
        // The seed's `getEntityAuditTrail(entityType, entityId)`, newest first.
        let org = AuditTrail::by_id(&table, "ORGANIZATION", ORG)
            .all()
            .await
            .unwrap();
        assert_eq!(org, expected[..2]);
        // The seed's entity id of an organization is its key value: the same partition.
        let key = OrganizationKey {
            organization_id: ORG,
        };
        let of = Organization::audit_trail(&table, key).all().await.unwrap();
        assert_eq!(of, org);
        let page = AuditTrail::by_id(&table, "ORGANIZATION", ORG)
            .page(1, None)
            .await
            .unwrap();
        assert_eq!(page.items, expected[..1]);
        let bob = AuditTrail::by_id(&table, "TEAM_MEMBER", BOB)
            .all()
            .await
            .unwrap();
        assert_eq!(bob, expected[2..]);
    })
    .await;
    let other = tenant::scope("t2", AuditTrail::by_id(&table, "ORGANIZATION", ORG).all()).await;
    let other = other.unwrap();
    assert!(
        other.is_empty(),
        "another tenant's trail partition: {other:?}"
    );
}

/// Every attribute singletable writes on an entity's item besides its fields, on
/// [`shared_table`]: the key attributes, `_type`, `_timestamp`, `_tenant_type`, the soft-delete
/// mark, `_revision`, `_write`, `_schema`, the index keys and the time-to-live attribute, as
/// `docs/coming-from-typescript.md` lists them. (The version is a field.)
const INTERNAL: &[&str] = &[
    "pk",
    "sk",
    "_type",
    "_timestamp",
    "_tenant_type",
    "_deleted_at",
    "_deleted_by",
    "_revision",
    "_write",
    "_schema",
    "gsi1pk",
    "gsi1sk",
    "ttl",
];

/// Every attribute of an audit record singletable writes, as the guide lists them.
const AUDIT_RECORD: &[&str] = &[
    "pk",
    "sk",
    "_type",
    "_timestamp",
    "id",
    "tenantId",
    "entityType",
    "entityId",
    "entityKey",
    "action",
    "changes",
    "timestamp",
    "revision",
    "userId",
    "requestId",
    "ttl",
    "_tenant_type",
];

/// The serde names of `sample`'s fields (`None` fields included, as JSON nulls).
fn fields(sample: &impl Serialize) -> BTreeSet<String> {
    json(sample)
        .as_object()
        .expect("a struct")
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn singletable_items_carry_only_documented_attributes() {
    let table = shared_table().await;
    let (org, team, member, project, invite) = tenant::scope(TENANT, async {
        let new = NewOrganization {
            name: "Acme Corp".into(),
            plan: Plan::Free,
            max_users: 5,
            created_by: "alice".into(),
        };
        let org = Organization::create(&table, new).await.unwrap();
        let org = Organization::update(&table, org.key())
            .set(Organization::FIELDS.plan, Plan::Pro)
            .send()
            .await
            .unwrap();
        org.put(&table).await.unwrap();
        let new = NewTeam {
            organization_id: org.id.clone(),
            name: "Engineering".into(),
            description: Some("Product engineering team".into()),
        };
        let team = Team::create(&table, new).await.unwrap();
        let team = Team::update(&table, team.key())
            .add(Team::FIELDS.member_count, 1)
            .send()
            .await
            .unwrap();
        let member = |username: &str| NewTeamMember {
            organization_id: org.id.clone(),
            team_id: team.id.clone(),
            user_id: format!("user-{username}"),
            username: username.into(),
            email: format!("{username}@acme.com"),
            role: Role::Member,
        };
        let john = TeamMember::create(&table, member("john")).await.unwrap();
        let john = TeamMember::update(&table, john.key())
            .set(TeamMember::FIELDS.role, Role::Admin)
            .send()
            .await
            .unwrap();
        let jane = TeamMember::create(&table, member("jane")).await.unwrap();
        TeamMember::delete(&table, jane.key()).await.unwrap();
        let project = |name: &str| NewProject {
            team_id: team.id.clone(),
            name: name.into(),
            description: None,
            status: Status::Active,
        };
        let kept = Project::create(&table, project("Website")).await.unwrap();
        Project::delete(&table, kept.key()).await.unwrap();
        let kept = Project::restore(&table, kept.key()).await.unwrap();
        let trashed = Project::create(&table, project("Legacy")).await.unwrap();
        Project::delete(&table, trashed.key()).await.unwrap();
        let new = NewInvite {
            email: "ada@acme.com".into(),
            team_id: team.id.clone(),
            reminders: 0,
            expires_at: OffsetDateTime::now_utc() + time::Duration::days(7),
        };
        let invite = Invite::create(&table, new).await.unwrap();
        let invite = Invite::update(&table, invite.key())
            .add(Invite::FIELDS.reminders, 1)
            .send()
            .await
            .unwrap();
        (org, team, john, kept, invite)
    })
    .await;

    let by_type: BTreeMap<&str, BTreeSet<String>> = BTreeMap::from([
        ("ORGANIZATION", fields(&org)),
        ("TEAM", fields(&team)),
        ("TEAM_MEMBER", fields(&member)),
        ("PROJECT", fields(&project)),
        ("INVITE", fields(&invite)),
    ]);
    let items = raw_items(&table).await;
    let mut seen = BTreeSet::new();
    let mut types = BTreeSet::new();
    for item in &items {
        let item_type = item["_type"].as_s().unwrap().as_str();
        types.insert(item_type);
        let allowed = |name: &str| match by_type.get(item_type) {
            Some(fields) => fields.contains(name) || INTERNAL.contains(&name),
            None => item_type == "AUDIT_LOG" && AUDIT_RECORD.contains(&name),
        };
        for name in item.keys() {
            assert!(allowed(name), "`{name}` on a {item_type} item: {item:#?}");
            seen.insert((item_type == "AUDIT_LOG", name.as_str()));
        }
        let timestamp = item["_timestamp"].as_s().unwrap();
        assert!(
            timestamp.len() == 24 && timestamp.ends_with('Z'),
            "`_timestamp` as `toISOString()` writes it: {timestamp}"
        );
    }
    let types: Vec<_> = types.into_iter().collect();
    assert_eq!(
        types,
        [
            "AUDIT_LOG",
            "INVITE",
            "ORGANIZATION",
            "PROJECT",
            "TEAM",
            "TEAM_MEMBER"
        ]
    );
    // Each documented attribute was written by one of the writes above: the lists are not
    // wider than what the library writes.
    for name in INTERNAL {
        assert!(seen.contains(&(false, name)), "no item carries `{name}`");
    }
    for name in AUDIT_RECORD {
        assert!(
            seen.contains(&(true, name)),
            "no audit record carries `{name}`"
        );
    }
    let stray = items
        .iter()
        .filter(|item| item["_type"].as_s().unwrap() == "ORGANIZATION")
        .any(|item| item.contains_key("organizationId"));
    assert!(!stray, "a key parameter is never stored as an attribute");

    // Records singletable writes carry what a seed entry does not.
    let trail = tenant::scope(TENANT, Organization::audit_trail(&table, org.key()).all())
        .await
        .unwrap();
    let revisions: Vec<_> = trail.iter().map(|r| r.revision).collect();
    assert_eq!(
        revisions,
        [Some(3), Some(2), Some(1)],
        "put, update, create"
    );
    let key = ItemKey {
        pk: format!("TENANT#{TENANT}#ORG#{}", org.id),
        sk: "#METADATA".into(),
    };
    assert!(trail.iter().all(|r| r.entity_key.as_ref() == Some(&key)));
}
