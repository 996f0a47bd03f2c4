//! Keys and partitions made when an operation runs, not when it is built.
//!
//! A tenant-scoped key reads the tenant of the scope it is rendered in. Builders (updates,
//! queries, audit trails) keep their typed key and render it when they are sent, so
//! `tenant::scope(t, Team::query(&table, partition).all())` runs in `t`'s scope even though the
//! query was built before the scope was entered.

use std::fmt;

use crate::error::Result;
use crate::table::Table;

/// A value made from the table when an operation runs.
#[doc(hidden)]
pub struct Later<'t, T>(Box<Make<'t, T>>);

/// How a [`Later`] value is made.
type Make<'t, T> = dyn FnOnce(&Table) -> Result<T> + Send + 't;

impl<'t, T> Later<'t, T> {
    /// Makes the value with `make` when the operation runs.
    pub fn new(make: impl FnOnce(&Table) -> Result<T> + Send + 't) -> Self {
        Later(Box::new(make))
    }

    /// A value made already (or the error making it gave).
    pub fn ready(value: Result<T>) -> Self
    where
        T: Send + 't,
    {
        Later(Box::new(move |_| value))
    }

    /// Makes the value.
    pub(crate) fn make(self, table: &Table) -> Result<T> {
        (self.0)(table)
    }
}

impl<T> fmt::Debug for Later<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(made when the operation runs)")
    }
}
