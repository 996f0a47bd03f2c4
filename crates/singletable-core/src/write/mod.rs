//! Write plans: each write of an entity, with the guards it must hold (`_type`, tenant,
//! soft-delete state, version, the audit record, the guards of unique values), made once and
//! sent by the single operations, batches and transactions alike.

pub(crate) mod audited;
pub(crate) mod condition;
pub(crate) mod mark;
pub(crate) mod put;
pub(crate) mod record;
pub(crate) mod single;
pub(crate) mod unique;
pub(crate) mod update;
