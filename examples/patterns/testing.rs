//! Test helpers of the seed's "Testing with Multi-Tenancy": each test gets a fresh tenant of
//! its own (a ULID-like, time-ordered id), runs in its scope, and deletes every item of that
//! tenant when it ends, so tests share a table without seeing each other's data.
//!
//! ```ignore
//! #[tokio::test]
//! async fn creates_a_user() {
//!     let table = shared_table().await;
//!     TestTenant::<AppItem>::with(&table, |tenant| async move {
//!         User::create(&table, new_user()).await?;       // in `tenant`'s scope
//!         assert_eq!(User::query(&table, Default::default()).count().await?, 1);
//!         Ok(())
//!     })
//!     .await
//!     .unwrap();                                          // the tenant's items are gone here
//! }
//! ```

use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use singletable::{tenant, Result, Table, TableSchema, TenantDeletion, TenantId};

/// A fresh tenant for one test, whose items are deleted by [`cleanup`](Self::cleanup).
///
/// A tenant that is dropped without its cleanup (a test that returned early or panicked
/// outside [`with`](Self::with)) says so on stderr: cleaning up needs requests, which a `Drop`
/// cannot await.
#[must_use = "a test tenant's items stay in the table until `cleanup()` is awaited"]
pub struct TestTenant<'t, S: TableSchema> {
    table: &'t Table,
    id: TenantId,
    cleaned: bool,
    schema: PhantomData<fn() -> S>,
}

impl<'t, S: TableSchema> TestTenant<'t, S> {
    /// A tenant no other test uses: `test-` and a UUIDv7, which sorts by creation time as the
    /// seed's ULIDs do.
    pub fn new(table: &'t Table) -> Self {
        let id = format!("test-{}", uuid::Uuid::now_v7().simple());
        TestTenant {
            table,
            id: TenantId::from(id),
            cleaned: false,
            schema: PhantomData,
        }
    }

    pub fn id(&self) -> &TenantId {
        &self.id
    }

    /// Runs `future` in the tenant's scope.
    pub async fn scope<F: Future>(&self, future: F) -> F::Output {
        tenant::scope(self.id.clone(), future).await
    }

    /// Deletes every item of the tenant (its entities of `S`, their unique guards and audit
    /// records), and reports what it deleted.
    pub async fn cleanup(mut self) -> Result<TenantDeletion> {
        self.cleaned = true;
        let reason = "test cleanup";
        let deletion = S::delete_tenant(self.table).send();
        tenant::as_tenant(self.id.clone(), reason, deletion).await
    }

    /// Runs `test` with a fresh tenant, in its scope, and cleans the tenant up afterwards,
    /// whether the test succeeded, failed or panicked (the panic goes on after the cleanup).
    /// Returns the test's result and what the cleanup deleted.
    pub async fn with<T, F, Fut>(table: &'t Table, test: F) -> Result<(T, TenantDeletion)>
    where
        F: FnOnce(TenantId) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let tenant = Self::new(table);
        let outcome = AssertUnwindSafe(tenant.scope(test(tenant.id().clone())))
            .catch_unwind()
            .await;
        let deletion = tenant.cleanup().await;
        match outcome {
            Ok(result) => Ok((result?, deletion?)),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl<S: TableSchema> Drop for TestTenant<'_, S> {
    fn drop(&mut self) {
        if !self.cleaned {
            eprintln!(
                "test tenant `{}` was dropped without `cleanup()`: its items stay in table `{}`",
                self.id,
                self.table.name()
            );
        }
    }
}
