//! `put`: create or replace.

use crate::error::{Error, Result};
use crate::expr::Condition;
use crate::schema::Schema;
use crate::table::Table;
use crate::write::put::{prepare, PreparedPut};
use crate::write::single::{self, Action, Outcome, Write};
use crate::write::{audited, condition};

/// Writes `entity`, replacing what is at its key (where `user` holds). A versioned entity
/// replaces only the version it holds and is stored with the next one.
pub(crate) async fn put<E: Schema>(
    table: &Table,
    entity: &E,
    user: Option<Condition<E>>,
) -> Result<()> {
    let prepared = prepare(table, entity, user.as_ref())?;
    if audited::from_read::<E>() {
        return audited::put::<E>(table, prepared).await;
    }
    let PreparedPut {
        key,
        item,
        condition,
        names,
        values,
        expected,
    } = prepared;
    let write = Write {
        entity: E::TYPE,
        key: key.clone(),
        action: Action::Put(item),
        condition,
        names,
        values,
        returns: None,
    };
    match single::send(table, write).await? {
        Outcome::Done(_) => Ok(()),
        Outcome::Refused { stored: None, .. } => Err(Error::ConditionFailed {
            entity: E::TYPE,
            key,
            reason: "the write's condition did not hold".into(),
        }),
        Outcome::Refused { stored, .. } => {
            Err(condition::failed::<E>(key, stored.as_ref(), expected))
        }
    }
}
