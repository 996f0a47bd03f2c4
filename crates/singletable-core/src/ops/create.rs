//! `create`: a conditional put that never replaces an existing item.

use crate::autogen;
use crate::error::{Error, Result};
use crate::item;
use crate::schema::{EntityKey, Schema};
use crate::table::Table;
use crate::write::audited;
use crate::write::single::{self, Outcome, Write};

pub(crate) async fn create<E: Schema>(table: &Table, new: E::New) -> Result<E> {
    crate::tenant::admit::<E>(table)?;
    let now = autogen::now();
    let entity = E::from_new(new, now, table)?;
    let key = entity.key().item_key(table)?;
    let item = item::encode(&entity, key.clone(), now, table)?;
    if audited::from_read::<E>() {
        audited::create::<E>(table, key, item).await?;
        return Ok(entity);
    }
    match single::send(table, Write::create::<E>(table, key.clone(), item)).await? {
        Outcome::Done(_) => Ok(entity),
        Outcome::Refused {
            stored,
            maybe_applied,
        } => {
            // After an attempt whose reply was lost, the item found may be this very write:
            // it holds the generated fields and creation time of this create, to the
            // millisecond. Then the create succeeded.
            let ours = maybe_applied
                && stored.is_some_and(|stored| {
                    item::encode(&entity, key.clone(), now, table).is_ok_and(|sent| stored == sent)
                });
            match ours {
                true => Ok(entity),
                false => Err(Error::AlreadyExists {
                    entity: E::TYPE,
                    key,
                }),
            }
        }
    }
}
