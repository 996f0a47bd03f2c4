//! The data model of the platform: one table, every item in the key space of the organization
//! (the tenant) that owns it.
//!
//! | entity | pk | sk |
//! |---|---|---|
//! | [`Organization`] | `TENANT#<org>#ORG` | `#METADATA` |
//! | [`Member`] | `TENANT#<org>#USER#<user_id>` | `#MEMBERSHIP` |
//! | [`Project`] | `TENANT#<org>#PROJECT#<project_id>` | `#METADATA` |
//! | [`UsageRecord`] | `TENANT#<org>#PROJECT#<project_id>` | `USAGE#<month>#<id>` |
//! | [`Meter`] | `TENANT#<org>#METER#<month>` | `METRIC#<metric>` |
//! | [`ApiKey`] | `TENANT#<org>#APIKEY#<key_id>` | `#METADATA` |
//! | [`RateWindow`] | `TENANT#<org>#APIKEY#<key_id>` | `RATE#<window>` |
//!
//! Two lookups live in `GSI1`, whose keys hold no tenant: `EMAIL#<email>` finds every
//! membership of an email before anyone knows which organization a user signs in to, and
//! `APIKEY#<hash>` finds the organization and key of a presented API key. A lookup returns the
//! tenant and key only; the item is then read in that tenant's scope.

use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{AuditContext, TableBuilder};
use time::OffsetDateTime;

tokio::task_local! {
    /// The user a request acts for, which audit records name as their actor: what a web
    /// framework's authentication sets per request.
    pub static ACTOR: String;
}

/// Runs `future` as `user`: its audited writes name `user`.
pub async fn as_user<F: std::future::Future>(user: &str, future: F) -> F::Output {
    ACTOR.scope(user.to_owned(), future).await
}

/// The platform's table: the lookup index, a tenant type index (per-organization listings and
/// the organization-wide audit log), time to live (rate windows, audit records kept 90 days, as
/// the seed's `AUDIT_RETENTION_DAYS`), and only tenant-scoped entities.
pub fn table(builder: TableBuilder) -> Table {
    PlatformItem::declare(builder)
        .type_index("TypeIndex")
        .tenant_type_index("TenantTypeIndex")
        .index("GSI1", "gsi1pk", "gsi1sk")
        .ttl_attribute("ttl")
        .audit_retention(time::Duration::days(90))
        .audit_context(|| AuditContext {
            actor: ACTOR.try_with(Clone::clone).ok(),
            request_id: None,
        })
        .require_tenant_scope()
        .build()
}

/// A pricing tier of the seed's cost model.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Starter,
    Pro,
    Enterprise,
}

/// What a plan allows; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub users: Option<i64>,
    pub projects: Option<i64>,
    pub api_calls_per_month: Option<i64>,
}

impl Plan {
    /// The seed's pricing table: users, projects and API calls per month.
    pub const fn limits(self) -> Limits {
        let (users, projects, api_calls_per_month) = match self {
            Plan::Free => (Some(3), Some(1), Some(10_000)),
            Plan::Starter => (Some(10), Some(5), Some(100_000)),
            Plan::Pro => (Some(50), Some(20), Some(1_000_000)),
            Plan::Enterprise => (None, None, None),
        };
        Limits {
            users,
            projects,
            api_calls_per_month,
        }
    }

    /// The plan to suggest when this one's limit is reached.
    pub const fn upgrade(self) -> Option<Plan> {
        match self {
            Plan::Free => Some(Plan::Starter),
            Plan::Starter => Some(Plan::Pro),
            Plan::Pro => Some(Plan::Enterprise),
            Plan::Enterprise => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Starter => "starter",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }
}

/// A member's role in one organization.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
    Viewer,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }
}

/// What a usage record counts.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum UsageKind {
    ApiCalls,
    ComputeMinutes,
}

/// An organization: the tenant. Its counters are moved in the same transaction as the member
/// or project they count, under a condition on the plan's limit.
#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(type = "ORGANIZATION", pk = "TENANT#<tenant_id>#ORG", sk = "#METADATA")]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    #[entity(tenant)]
    pub tenant_id: String,
    pub name: String,
    pub plan: Plan,
    /// Starts at 1: the owner's membership is created with the organization.
    pub user_count: i64,
    #[entity(autogen = count)]
    pub project_count: i64,
    #[entity(autogen = timestamp)]
    #[serde(with = "singletable::timestamp")]
    pub created_at: OffsetDateTime,
}

/// A user's membership of one organization, with the role they hold there. A user in three
/// organizations has three memberships, one in each tenant's key space; the `by_email` lookup
/// finds them all.
#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "MEMBER",
    pk = "TENANT#<tenant_id>#USER#<user_id>",
    sk = "#MEMBERSHIP",
    audit,
    index(
        name = "GSI1",
        query = "by_email",
        pk = "EMAIL#<email>",
        sk = "USER#<user_id>",
        lookup
    )
)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    #[entity(tenant)]
    pub tenant_id: String,
    pub user_id: String,
    #[entity(unique)]
    pub email: String,
    pub name: String,
    pub role: Role,
    #[entity(autogen = timestamp)]
    #[serde(with = "singletable::timestamp")]
    pub joined_at: OffsetDateTime,
}

#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "PROJECT",
    pk = "TENANT#<tenant_id>#PROJECT#<project_id>",
    sk = "#METADATA",
    audit
)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    #[entity(tenant)]
    pub tenant_id: String,
    #[entity(param = "project_id")]
    pub id: String,
    pub name: String,
    pub environment: String,
    pub created_by: String,
}

/// One report of resource usage, in its project's partition, sorted by billing month.
#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "USAGE",
    pk = "TENANT#<tenant_id>#PROJECT#<project_id>",
    sk = "USAGE#<month>#<id>",
    range(name = "in_month", begins_with = "USAGE#<month>#")
)]
#[serde(rename_all = "camelCase")]
pub struct UsageRecord {
    #[entity(tenant)]
    pub tenant_id: String,
    pub project_id: String,
    /// The billing month, `2026-01`.
    pub month: String,
    #[entity(autogen = uuid_v7)]
    pub id: String,
    pub kind: UsageKind,
    pub quantity: i64,
}

/// A running total of one metric of an organization in one billing month, which the plan's
/// monthly limit is checked against.
#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "METER",
    pk = "TENANT#<tenant_id>#METER#<month>",
    sk = "METRIC#<metric>"
)]
#[serde(rename_all = "camelCase")]
pub struct Meter {
    #[entity(tenant)]
    pub tenant_id: String,
    pub month: String,
    pub metric: String,
    pub count: i64,
}

/// An API key: its SHA-256 hash and a display prefix. The key itself is shown once, when it is
/// issued, and stored nowhere. Revoking is a soft delete, which lookups skip.
#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "API_KEY",
    pk = "TENANT#<tenant_id>#APIKEY#<key_id>",
    sk = "#METADATA",
    audit,
    soft_delete,
    index(
        name = "GSI1",
        query = "by_hash",
        pk = "APIKEY#<hash>",
        sk = "APIKEY#<key_id>",
        lookup
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    #[entity(tenant)]
    pub tenant_id: String,
    #[entity(autogen = uuid, param = "key_id")]
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub scopes: Vec<String>,
    /// Requests per minute.
    pub rate_limit: i64,
    pub key_prefix: String,
    /// Lowercase hex SHA-256 of the key.
    pub hash: String,
    pub created_by: String,
}

/// The requests one key made in one minute, counted by atomic upserts and gone (time to live)
/// once the minute is long past.
#[derive(Entity, Serialize, Deserialize, Debug, Clone)]
#[entity(
    type = "RATE_WINDOW",
    pk = "TENANT#<tenant_id>#APIKEY#<key_id>",
    sk = "RATE#<window>"
)]
#[serde(rename_all = "camelCase")]
pub struct RateWindow {
    #[entity(tenant)]
    pub tenant_id: String,
    pub key_id: String,
    /// The minute, `2026-03-14T10:15`.
    pub window: String,
    pub count: i64,
    #[entity(ttl)]
    #[serde(with = "singletable::timestamp")]
    pub expires_at: OffsetDateTime,
}

/// Every entity of the table: their keys are checked against each other when this compiles,
/// and the table is described from it. (Its values come from `PlatformItem::decode`, which the
/// scenario does not need.)
#[allow(dead_code)]
#[derive(TableSchema, Debug)]
pub enum PlatformItem {
    Organization(Organization),
    Member(Member),
    Project(Project),
    UsageRecord(UsageRecord),
    Meter(Meter),
    ApiKey(ApiKey),
    RateWindow(RateWindow),
}
