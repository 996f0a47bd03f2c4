//! `delete`: removes one item of the entity's type and returns it.

use crate::error::{ItemKey, Result};
use crate::expr::Condition;
use crate::item;
use crate::schema::Schema;
use crate::table::Table;
use crate::write::single::{self, Outcome, Write};
use crate::write::{audited, condition};

/// Deletes the item at `key` (where `user` holds) unless it belongs to another entity type: a
/// key template shared by mistake must not let one entity delete another's items.
pub(crate) async fn delete<E: Schema>(
    table: &Table,
    key: Result<ItemKey>,
    user: Option<Condition<E>>,
    purge: bool,
) -> Result<Option<E>> {
    crate::tenant::admit::<E>(table)?;
    let key = key?;
    if audited::from_read::<E>() {
        return match E::SOFT_DELETE && !purge {
            true => audited::mark::<E>(table, key, user, true).await,
            false => audited::delete::<E>(table, key, user, purge).await,
        };
    }
    if E::SOFT_DELETE && !purge {
        return super::soft_delete::mark::<E>(table, key, user).await;
    }
    let write = Write::delete::<E>(table, key.clone(), user.as_ref())?;
    match single::send(table, write).await? {
        Outcome::Done(old) => old.map(|old| item::decode(old, table)).transpose(),
        // Nothing to delete: the condition found no item to hold on.
        Outcome::Refused { stored: None, .. } => Ok(None),
        Outcome::Refused { stored, .. } => Err(condition::failed::<E>(key, stored.as_ref(), None)),
    }
}
