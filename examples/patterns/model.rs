//! The entities of the patterns: every one tenant-scoped, as with DynamoBao's `tenancy:
//! { enabled: true }`, so that no operation on them runs without a tenant.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use singletable::prelude::*;
use singletable::{KeyPart, TableBuilder};
use time::OffsetDateTime;

/// The table: `GSI1` for the `by_status` queries of the seed, a tenant type index (which lists a
/// tenant's items, so that a job finds the tenants and a test deletes its tenant's items), and
/// only tenant-scoped entities.
pub fn table(builder: TableBuilder) -> Table {
    AppItem::declare(builder)
        .index("GSI1", "gsi1pk", "gsi1sk")
        .tenant_type_index("TenantTypeIndex")
        .require_tenant_scope()
        .build()
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Invited,
}

impl KeyPart for UserStatus {
    fn write_key_part(&self, out: &mut String) {
        out.push_str(match self {
            UserStatus::Active => "active",
            UserStatus::Invited => "invited",
        })
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionStatus {
    Active,
    Expired,
}

impl KeyPart for SubscriptionStatus {
    fn write_key_part(&self, out: &mut String) {
        out.push_str(match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Expired => "expired",
        })
    }
}

/// The seed's `User`, with its `byStatus` index.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "USER",
    pk = "TENANT#<tenant_id>#USERS",
    sk = "USER#<id>",
    index(
        name = "GSI1",
        query = "by_status",
        pk = "TENANT#<tenant_id>#USER_STATUS#<status>",
        sk = "USER#<id>"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[entity(tenant)]
    pub tenant_id: String,
    pub id: String,
    pub name: String,
    pub email: String,
    pub status: UserStatus,
}

/// The seed's `Subscription`, which the nightly job expires.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "SUBSCRIPTION",
    pk = "TENANT#<tenant_id>#SUBSCRIPTIONS",
    sk = "SUB#<id>",
    index(
        name = "GSI1",
        query = "by_status",
        pk = "TENANT#<tenant_id>#SUB_STATUS#<status>",
        sk = "SUB#<id>"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    #[entity(tenant)]
    pub tenant_id: String,
    pub id: String,
    pub plan: String,
    pub status: SubscriptionStatus,
}

/// One API call of a tenant, in the partition of its day.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "API_CALL",
    pk = "TENANT#<tenant_id>#CALLS#<day>",
    sk = "CALL#<id>"
)]
#[serde(rename_all = "camelCase")]
pub struct ApiCall {
    #[entity(tenant)]
    pub tenant_id: String,
    /// `2026-03-14`.
    pub day: String,
    #[entity(autogen = uuid_v7)]
    pub id: String,
    pub endpoint: String,
    pub duration_ms: i64,
}

/// A tenant's usage of one day, written by the nightly rollup.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "DAILY_USAGE",
    pk = "TENANT#<tenant_id>#ROLLUP",
    sk = "DAY#<day>"
)]
#[serde(rename_all = "camelCase")]
pub struct DailyUsage {
    #[entity(tenant)]
    pub tenant_id: String,
    pub day: String,
    pub calls: i64,
    pub total_ms: i64,
    pub by_endpoint: BTreeMap<String, i64>,
    #[serde(with = "singletable::timestamp")]
    pub rolled_up_at: OffsetDateTime,
}

/// Every entity of the table: what the tenant listing and deletion work over.
#[allow(dead_code)]
#[derive(TableSchema, Debug)]
pub enum AppItem {
    User(User),
    Subscription(Subscription),
    ApiCall(ApiCall),
    DailyUsage(DailyUsage),
}
