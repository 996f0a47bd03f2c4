//! The tenant scope: which tenant the current task works for.
//!
//! Entities with a `#[entity(tenant)]` field take that field from the scope, never from the
//! caller: their keys, create inputs and queries have no tenant parameter, so code running for
//! tenant A cannot name tenant B's items. With no scope, such an operation fails with
//! [`Error::MissingTenant`] before any request.
//!
//! The scope is a tokio task-local: concurrent requests never see each other's tenant. A task
//! started with `tokio::spawn` does not inherit it (task-locals belong to one task); start it
//! with [`spawn`] to carry the scope along, or open a new [`scope`] inside it.
//!
//! Where no scope is set, a table's resolvers
//! ([`TableBuilder::tenant_resolver`](crate::TableBuilder::tenant_resolver)) are asked in order;
//! a deployment that serves one tenant can resolve it from its configuration.
//!
//! Work over every tenant (a backfill or re-index of a tenant-scoped entity) runs in
//! [`across_tenants`], a scope that names why it crosses tenants and is logged. It is the only
//! way to work on more than one tenant's items; every operation that works on one tenant's
//! items still fails with [`Error::MissingTenant`] in it.
//!
//! ```no_run
//! # async fn handler() {}
//! # async fn run() {
//! singletable_core::tenant::scope("tenant-1", async {
//!     handler().await; // every tenant-scoped operation in here works on tenant-1's items
//! })
//! .await;
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;

use crate::error::{Error, ItemKey, Result};
use singletable_keys::Template;

use crate::schema::Schema;
use crate::table::Table;
pub use crate::table::TenantId;

tokio::task_local! {
    static SCOPE: Scope;
}

/// What the current task works for.
#[derive(Clone, Debug)]
enum Scope {
    /// One tenant's items.
    Tenant(TenantId),
    /// The items of every tenant, for the reason given.
    AllTenants(Arc<str>),
}

/// Runs `future` for `tenant`. Scopes nest: the innermost one wins.
pub async fn scope<F: Future>(tenant: impl Into<TenantId>, future: F) -> F::Output {
    SCOPE.scope(Scope::Tenant(tenant.into()), future).await
}

/// Runs `f`, which does not await, for `tenant`: the synchronous [`scope`], for work done on
/// items of one tenant at a time from inside another scope (decoding the records of a change
/// feed).
pub(crate) fn sync_scope<R>(tenant: TenantId, f: impl FnOnce() -> R) -> R {
    SCOPE.sync_scope(Scope::Tenant(tenant), f)
}

/// Runs `future` across every tenant, for `reason` (logged, with tracing, when the scope opens).
///
/// In it, the operations that are built to go over a whole table — [`Backfill`](crate::Backfill)
/// of a tenant-scoped entity — read and write every tenant's items, each item in its own
/// tenant's scope; every other operation on a tenant-scoped entity fails with
/// [`Error::MissingTenant`], as outside any scope. A [`scope`] inside it works for one tenant
/// again.
///
/// ```no_run
/// # use singletable_core::{tenant, Backfill, Result, Schema, Table};
/// # async fn run<Member: Schema>(table: &Table) -> Result<()> {
/// let reason = "re-index members after adding ByEmail";
/// let report = tenant::across_tenants(reason, Backfill::<Member>::new(table).run()).await?;
/// # Ok(())
/// # }
/// ```
pub async fn across_tenants<F: Future>(reason: &str, future: F) -> F::Output {
    tracing::info!(reason, "working across tenants");
    SCOPE.scope(Scope::AllTenants(reason.into()), future).await
}

/// Runs `future` for `tenant` on behalf of an operator or a background job that works across
/// tenants. The same as [`scope`], but it logs the crossing so it can be audited.
pub async fn as_tenant<F: Future>(
    tenant: impl Into<TenantId>,
    reason: &str,
    future: F,
) -> F::Output {
    let tenant = tenant.into();
    tracing::info!(tenant = %tenant, reason, "cross-tenant operation");
    scope(tenant, future).await
}

/// The tenant of the current task, if it runs in one tenant's scope.
pub fn current() -> Option<TenantId> {
    match SCOPE.try_with(Scope::clone).ok()? {
        Scope::Tenant(tenant) => Some(tenant),
        Scope::AllTenants(_) => None,
    }
}

/// Why the current task works across tenants, if it runs in [`across_tenants`].
pub(crate) fn crossing() -> Option<Arc<str>> {
    match SCOPE.try_with(Scope::clone).ok()? {
        Scope::AllTenants(reason) => Some(reason),
        Scope::Tenant(_) => None,
    }
}

/// The one tenant an operation works for: the scope's, else (outside every scope) the first the
/// table's resolvers find. Across tenants there is none: that scope is explicit, so no resolver
/// turns it back into one tenant.
pub(crate) fn resolved(table: &Table) -> Option<TenantId> {
    match SCOPE.try_with(Scope::clone) {
        Ok(Scope::Tenant(tenant)) => Some(tenant),
        Ok(Scope::AllTenants(_)) => None,
        Err(_) => table.resolve_tenant(),
    }
}

/// Refuses, before any request, an operation on an entity that is not tenant-scoped when
/// the table was built with [`TableBuilder::require_tenant_scope`](crate::TableBuilder::require_tenant_scope).
pub(crate) fn admit<E: Schema>(table: &Table) -> Result<()> {
    if table.requires_tenant_scope() && E::TENANT_PARAM.is_none() {
        return Err(Error::InvalidRequest {
            entity: E::TYPE,
            reason: format!(
                "table `{}` holds only tenant-scoped entities, and `{}` has no `#[entity(tenant)]` field",
                table.name(),
                E::TYPE
            ),
        });
    }
    Ok(())
}

/// The tenant of an operation on a tenant-scoped `E`: the scope's, or else the first that the
/// table's resolvers find. It is checked like every key value (not empty, no separator, no
/// control character) here, once for every path, so that a crafted scope cannot reach into
/// another tenant's key space wherever the tenant is used: keys, filters, listings, scans.
pub(crate) fn required<E: Schema>(table: &Table) -> Result<TenantId> {
    let tenant = resolved(table).ok_or(Error::MissingTenant { entity: E::TYPE })?;
    check::<E>(tenant.as_str(), table)?;
    Ok(tenant)
}

/// Refuses a tenant id of `E` that is not a valid key value (empty, with the separator, with a
/// control character), which could otherwise reach into another tenant's key space.
fn check<E: Schema>(tenant: &str, table: &Table) -> Result<()> {
    singletable_keys::check_value(tenant, table.separator()).map_err(|error| Error::InvalidKey {
        entity: E::TYPE,
        source: singletable_keys::KeyError::Value {
            param: E::TENANT_PARAM.unwrap_or("tenant").into(),
            error,
        },
    })
}

/// Refuses, before any request, a partition key of a tenant-scoped `E` (rendered from
/// `template`) that does not lie in the current tenant's key space. Raw partition texts reach
/// queries through lower-level APIs; this is what keeps them from naming another tenant's
/// partition, and the answer is the same whether or not anything is stored there.
pub(crate) fn check_partition<E: Schema>(
    table: &Table,
    template: &Template<'_>,
    partition: &str,
) -> Result<()> {
    let Some(param) = E::TENANT_PARAM else {
        return Ok(());
    };
    let tenant = required::<E>(table)?;
    match param_value(template, partition, param, table.separator()) {
        Some(found) if found == tenant.as_str() => Ok(()),
        Some(found) => Err(Error::TenantMismatch {
            entity: E::TYPE,
            expected: tenant.to_string(),
            found: found.to_owned(),
        }),
        None => Err(Error::InvalidRequest {
            entity: E::TYPE,
            reason: format!(
                "the partition is not one of `{template}`, so it is not in tenant `{tenant}`'s key space"
            ),
        }),
    }
}

/// The value of `param` in `key`, a key rendered from `template`.
fn param_value<'k>(
    template: &Template<'_>,
    key: &'k str,
    param: &str,
    separator: char,
) -> Option<&'k str> {
    let values = template.parse_key(key, separator).ok()?;
    template
        .params()
        .zip(values)
        .find_map(|(name, value)| (name == param).then_some(value))
}

/// The tenant whose key space holds `key`, an item key of the tenant-scoped `E`: the value of
/// its tenant placeholder, checked like every tenant.
pub(crate) fn of_key<E: Schema>(key: &ItemKey, table: &Table) -> Result<TenantId> {
    let param = E::TENANT_PARAM.ok_or(Error::MissingTenant { entity: E::TYPE })?;
    let separator = table.separator();
    let found = [(E::PARTITION_KEY, &key.pk), (E::SORT_KEY, &key.sk)]
        .into_iter()
        .find_map(|(template, text)| param_value(template, text, param, separator));
    let Some(tenant) = found else {
        return Err(Error::InvalidRequest {
            entity: E::TYPE,
            reason: format!("the key {key} is not one of the entity's keys"),
        });
    };
    check::<E>(tenant, table)?;
    Ok(TenantId::new(tenant))
}

/// Refuses an entity of a tenant other than the current one.
pub(crate) fn check_owner<E: Schema>(entity: &E, table: &Table) -> Result<()> {
    match entity.tenant() {
        Some(owner) => check_tenant::<E>(owner, table),
        None => Ok(()),
    }
}

/// Refuses `owner`, the tenant an item or entity of `E` says it belongs to, unless it is the
/// current tenant.
pub(crate) fn check_tenant<E: Schema>(owner: &str, table: &Table) -> Result<()> {
    let current = required::<E>(table)?;
    if owner == current.as_str() {
        return Ok(());
    }
    Err(Error::TenantMismatch {
        entity: E::TYPE,
        expected: current.to_string(),
        found: owner.to_owned(),
    })
}

/// The tenant a batch or transaction was built in: every tenant-scoped action binds it, and the
/// whole is sent only in that same tenant's scope. Keys are rendered when an action is added,
/// so this is what keeps a transaction built for tenant A from being sent for tenant B (or the
/// reverse) with keys of the other.
#[derive(Clone, Debug, Default)]
pub(crate) struct Binding(Option<TenantId>);

impl Binding {
    /// Binds the current tenant for an action on `E`, refusing a tenant other than the one an
    /// earlier action bound.
    pub(crate) fn bind<E: Schema>(&mut self, table: &Table) -> Result<()> {
        if E::TENANT_PARAM.is_none() {
            return Ok(());
        }
        let tenant = required::<E>(table)?;
        match &self.0 {
            None => self.0 = Some(tenant),
            Some(bound) if *bound == tenant => {}
            Some(bound) => {
                return Err(Error::TenantMismatch {
                    entity: E::TYPE,
                    expected: bound.to_string(),
                    found: tenant.to_string(),
                })
            }
        }
        Ok(())
    }

    /// Refuses to send, before any request, outside the bound tenant's scope.
    pub(crate) fn check(&self, entity: &'static str, table: &Table) -> Result<()> {
        let Some(bound) = &self.0 else {
            return Ok(());
        };
        match resolved(table) {
            Some(now) if now == *bound => Ok(()),
            Some(now) => Err(Error::TenantMismatch {
                entity,
                expected: now.to_string(),
                found: bound.to_string(),
            }),
            None => Err(Error::MissingTenant { entity }),
        }
    }
}

/// `tokio::spawn`, carrying the current tenant scope (if any) into the new task.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match SCOPE.try_with(Scope::clone) {
        Ok(scope) => tokio::spawn(SCOPE.scope(scope, future)),
        Err(_) => tokio::spawn(future),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scopes_nest_and_end() {
        assert_eq!(current(), None);
        scope("a", async {
            assert_eq!(current().unwrap().as_str(), "a");
            scope("b", async { assert_eq!(current().unwrap().as_str(), "b") }).await;
            assert_eq!(current().unwrap().as_str(), "a");
            let inherited = spawn(async { current() }).await.unwrap();
            assert_eq!(inherited.unwrap().as_str(), "a");
            let plain = tokio::spawn(async { current() }).await.unwrap();
            assert_eq!(plain, None, "a plain spawn does not inherit the scope");
        })
        .await;
        assert_eq!(current(), None);
        across_tenants("test", async {
            assert_eq!(current(), None, "across tenants there is no one tenant");
            assert_eq!(crossing().as_deref(), Some("test"));
            let inherited = spawn(async { crossing() }).await.unwrap();
            assert_eq!(inherited.as_deref(), Some("test"));
            scope("a", async { assert_eq!(crossing(), None) }).await;
        })
        .await;
    }
}
