//! Entities of the seed's multi-tenant SaaS model, shared by the test modules.

use serde::{Deserialize, Serialize};
use singletable::{Collection, Entity};
use time::OffsetDateTime;

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Pro,
    Enterprise,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "ORGANIZATION",
    pk = "TENANT#<tenant_id>#ORG#<organization_id>",
    sk = "#METADATA"
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Organization {
    #[entity(autogen = uuid, param = "organization_id")]
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub plan: Plan,
    pub max_users: i64,
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

/// A user keyed by a caller-supplied email, so that two creates can collide.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "USER", pk = "TENANT#<tenant_id>#USER#<email>", sk = "#PROFILE")]
pub struct User {
    pub tenant_id: String,
    pub email: String,
    pub display_name: String,
    pub login_count: u32,
    #[entity(autogen = uuid_v7)]
    pub id: uuid::Uuid,
    #[entity(autogen = timestamp)]
    pub created_at: String,
    #[entity(autogen = self::ticket)]
    pub ticket: String,
}

pub fn ticket() -> String {
    "T-0001".to_owned()
}

/// A project under a team, with a numeric sort key part and an optional numeric field.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "PROJECT", pk = "TEAM#<team_id>", sk = "PROJECT#<seq>")]
pub struct Project {
    pub team_id: uuid::Uuid,
    pub seq: u32,
    pub title: String,
    pub budget: Option<f64>,
    pub tags: Vec<String>,
}

/// A team in an organization's partition (`TEAM#<id>`), next to the organization's metadata.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "TEAM",
    pk = "TENANT#<tenant_id>#ORG#<organization_id>",
    sk = "TEAM#<id>"
)]
#[serde(rename_all = "camelCase")]
pub struct Team {
    #[entity(autogen = uuid)]
    pub id: String,
    pub tenant_id: String,
    pub organization_id: String,
    pub name: String,
    pub description: Option<String>,
    #[entity(autogen = count)]
    pub member_count: i64,
}

/// A team member, whose sort key starts with its team's (`TEAM#<team_id>#MEMBER#<id>`).
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
    pub tenant_id: String,
    pub organization_id: String,
    pub team_id: String,
    pub username: String,
    pub role: String,
}

/// Events of a stream with a zero-padded sequence sort key, one range query per operator.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "EVENT",
    pk = "STREAM#<stream>",
    sk = "SEQ#<seq>",
    range(name = "at", eq = "SEQ#<seq>"),
    range(name = "seq_prefix", begins_with = "SEQ#<seq>"),
    range(name = "between", between = "SEQ#<seq>"),
    range(name = "before", lt = "SEQ#<seq>"),
    range(name = "up_to", le = "SEQ#<seq>"),
    range(name = "after", gt = "SEQ#<seq>"),
    range(name = "from", ge = "SEQ#<seq>")
)]
pub struct Event {
    pub stream: String,
    pub seq: String,
    pub kind: String,
    pub size: i64,
    pub note: Option<String>,
    pub labels: Vec<String>,
}

/// Another entity in an event stream's partition, sorted between its events.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "MARKER", pk = "STREAM#<stream>", sk = "SEQ#<seq>#MARKER")]
pub struct Marker {
    pub stream: String,
    pub seq: String,
}

pub fn seq(n: usize) -> String {
    format!("{n:05}")
}

/// A member profile found by email through a secondary index, and by referrer through a sparse one.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "PROFILE",
    pk = "TENANT#<tenant_id>#PROFILE#<id>",
    sk = "#PROFILE",
    index(
        name = "GSI1",
        query = "by_email",
        pk = "TENANT#<tenant_id>#EMAIL#<email>",
        sk = "PROFILE#<id>"
    ),
    index(
        name = "GSI2",
        query = "referred_by",
        pk = "REFERRER#<referrer>",
        sk = "JOINED#<joined>"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[entity(autogen = uuid)]
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub name: String,
    pub referrer: Option<String>,
    pub joined: u32,
}

/// The seed's `teamWithMembers`: a team and its members by username, members joined by relation
/// so that it also nests under an organization.
#[derive(Collection, Debug, Clone, PartialEq)]
#[collection(root = Team)]
pub struct TeamWithMembers {
    pub team: Team,
    #[collection(on(team_id = id), order_by = username)]
    pub members: Vec<TeamMember>,
}

/// A team with every member in the read range, joined by type, newest name first.
#[derive(Collection, Debug)]
#[collection(root = Team)]
pub struct TeamRoster {
    pub team: Team,
    #[collection(order_by = username, descending)]
    pub members: Vec<TeamMember>,
}

/// The seed's `organizationComplete`: an organization, its teams, each team's members.
#[derive(Collection, Debug)]
#[collection(root = Organization)]
pub struct OrganizationComplete {
    pub organization: Organization,
    #[collection(order_by = name)]
    pub teams: Vec<TeamWithMembers>,
}

/// A tenant-scoped note: its tenant comes from the tenant scope, never from the caller.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "NOTE",
    pk = "TENANT#<tenant_id>#NOTES",
    sk = "NOTE#<id>",
    range(name = "starting", begins_with = "NOTE#<id>"),
    index(
        name = "GSI1",
        query = "by_title",
        pk = "TENANT#<tenant_id>#TITLE#<title>",
        sk = "NOTE#<id>"
    )
)]
pub struct Note {
    #[entity(tenant)]
    pub tenant_id: String,
    pub id: String,
    pub title: String,
    pub body: String,
}

/// A counter with optimistic locking.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "COUNTER", pk = "COUNTER#<name>", sk = "#COUNTER")]
pub struct Counter {
    pub name: String,
    pub value: i64,
    pub label: String,
    #[entity(version)]
    pub version: u64,
}

/// A session that expires through the table's time to live.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "SESSION", pk = "USER#<user>", sk = "SESSION#<id>")]
pub struct Session {
    pub user: String,
    pub id: String,
    #[entity(ttl)]
    #[serde(with = "singletable::timestamp")]
    pub expires_at: OffsetDateTime,
}

/// A document that `delete` only marks, to be restored, listed in the trash or purged.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "DOC", pk = "FOLDER#<folder>", sk = "DOC#<id>", soft_delete)]
pub struct Doc {
    pub folder: String,
    pub id: String,
    pub title: String,
}

/// A folder with its documents.
#[derive(Collection, Debug)]
#[collection(root = Folder)]
pub struct FolderWithDocs {
    pub folder: Folder,
    pub docs: Vec<Doc>,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(type = "FOLDER", pk = "FOLDER#<folder>", sk = "#FOLDER")]
pub struct Folder {
    pub folder: String,
    pub name: String,
}

/// The `n`th sample event of `stream`, for bulk tests.
pub fn sample_event(stream: &str, n: usize) -> Event {
    Event {
        stream: stream.into(),
        seq: seq(n),
        kind: "sample".into(),
        size: n as i64,
        note: n.is_multiple_of(3).then(|| format!("note {n}")),
        labels: vec![format!("l{n}")],
    }
}

/// The `n`th sample marker, in one of five streams.
pub fn sample_marker(n: usize) -> Marker {
    Marker {
        stream: format!("m{}", n % 5),
        seq: seq(n),
    }
}

/// The `n`th sample project, of one of eleven teams.
pub fn sample_project(n: usize) -> Project {
    Project {
        team_id: uuid::Uuid::from_u128(n as u128 % 11),
        seq: n as u32,
        title: format!("project {n}"),
        budget: (n % 2 == 1).then_some(n as f64),
        tags: vec![format!("t{}", n % 3)],
    }
}

/// Declares every entity of this model on a table, as batch writes need.
pub fn declare(builder: singletable::TableBuilder) -> singletable::TableBuilder {
    builder
        .entity::<Organization>()
        .entity::<User>()
        .entity::<Project>()
        .entity::<Team>()
        .entity::<TeamMember>()
        .entity::<Event>()
        .entity::<Marker>()
        .entity::<Profile>()
        .entity::<Note>()
        .entity::<Counter>()
        .entity::<Session>()
        .entity::<Doc>()
        .entity::<Folder>()
}
