//! Background work over every tenant: the seed's cron job (`processAllTenants`) and its admin
//! service (`getTenantStats`, `compareTenants`).
//!
//! Cross-tenant work is explicit, and logged, in two ways: listing the tenants is the one step
//! that reads across tenants, and runs only in `tenant::across_tenants(reason, ..)`; each
//! tenant's work then runs in `tenant::as_tenant(tenant, reason, ..)`, a scope of that tenant
//! alone, where every operation is an ordinary tenant-scoped one. Tenants are worked on
//! concurrently: each task keeps its own scope (a task-local, like the seed's
//! AsyncLocalStorage), so none sees another's tenant.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use singletable::prelude::*;
use singletable::{tenant, Result, TenantId};

use super::model::*;

/// Why the nightly job crosses tenants, as its logs say.
pub const NIGHTLY: &str = "nightly usage rollup";

/// What the nightly job did for one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRollup {
    pub tenant: String,
    pub calls: i64,
    pub total_ms: i64,
    pub by_endpoint: BTreeMap<String, i64>,
    /// Expired subscriptions deleted.
    pub expired_deleted: usize,
}

/// The nightly job for `day`: for every tenant of the table, its API calls of the day summed
/// into a `DailyUsage` item, and its expired subscriptions deleted. At most `concurrency`
/// tenants at once; running it again gives the same rollups (they are puts) and deletes
/// nothing more.
pub async fn nightly(table: &Table, day: &str, concurrency: usize) -> Result<Vec<TenantRollup>> {
    let tenants = tenant::across_tenants(NIGHTLY, AppItem::tenants(table).send()).await?;
    let mut rollups: Vec<TenantRollup> = futures::stream::iter(tenants)
        .map(|tenant| tenant::as_tenant(tenant, NIGHTLY, roll_up(table, day)))
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    rollups.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    Ok(rollups)
}

/// One tenant's part of the nightly job, in its scope.
async fn roll_up(table: &Table, day: &str) -> Result<TenantRollup> {
    let tenant = tenant::current().map_or(String::new(), |t| t.to_string());
    let calls = ApiCall::query(table, ApiCallPartition { day })
        .all()
        .await?;
    let mut by_endpoint = BTreeMap::new();
    for call in &calls {
        *by_endpoint.entry(call.endpoint.clone()).or_insert(0) += 1;
    }
    let total_ms = calls.iter().map(|c| c.duration_ms).sum();
    let usage = DailyUsage {
        tenant_id: tenant.clone(),
        day: day.into(),
        calls: calls.len() as i64,
        total_ms,
        by_endpoint: by_endpoint.clone(),
        rolled_up_at: singletable::autogen::now(),
    };
    usage.put(table).await?;

    let expired = SubscriptionStatus::Expired;
    let expired = Subscription::by_status(table, SubscriptionByStatus { status: &expired })
        .all()
        .await?;
    for subscription in &expired {
        Subscription::delete(table, subscription.key()).await?;
    }
    Ok(TenantRollup {
        tenant,
        calls: usage.calls,
        total_ms,
        by_endpoint,
        expired_deleted: expired.len(),
    })
}

/// The seed's `getTenantStats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantStats {
    pub tenant: String,
    pub active_users: usize,
    pub active_subscriptions: usize,
}

/// The seed's `getTenantStats(tenantId)`: counts of one tenant, in its scope, whatever scope
/// the caller is in.
pub async fn tenant_stats(table: &Table, tenant: TenantId) -> Result<TenantStats> {
    let name = tenant.to_string();
    let counts = async {
        let active = UserStatus::Active;
        let users = User::by_status(table, UserByStatus { status: &active }).count();
        let active = SubscriptionStatus::Active;
        let subs = Subscription::by_status(table, SubscriptionByStatus { status: &active }).count();
        Ok::<_, Error>((users.await?, subs.await?))
    };
    let (active_users, active_subscriptions) =
        tenant::as_tenant(tenant, "admin: tenant stats", counts).await?;
    Ok(TenantStats {
        tenant: name,
        active_users,
        active_subscriptions,
    })
}

/// The seed's `compareTenants`: both tenants' stats at once, each in its own scope.
pub async fn compare_tenants(
    table: &Table,
    a: &str,
    b: &str,
) -> Result<(TenantStats, TenantStats)> {
    futures::try_join!(
        tenant_stats(table, TenantId::from(a)),
        tenant_stats(table, TenantId::from(b))
    )
}
