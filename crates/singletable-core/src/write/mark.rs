//! The deletion mark of soft delete: `_deleted_at`, and `_deleted_by` when the table's audit
//! context names the actor.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::item::{self, DELETED_ATTRIBUTE, DELETED_BY_ATTRIBUTE};
use crate::table::Table;

/// The mark a soft delete sets: `_deleted_at`, and `_deleted_by` when the table's audit context
/// names the actor (a stale `_deleted_by` is removed otherwise).
pub(crate) struct DeletionMark {
    at: AttributeValue,
    by: Option<AttributeValue>,
}

impl DeletionMark {
    /// The mark of a delete made now, by whom the table's audit context says.
    pub(crate) fn now(table: &Table) -> Self {
        DeletionMark {
            at: AttributeValue::S(crate::autogen::now_text()),
            by: table.audit_context().actor.map(AttributeValue::S),
        }
    }

    /// The update expression that sets the mark (with `also`, more `SET` actions such as
    /// `, #revision = :next`), its names `#deleted`/`#deletedby` and values `:at`/`:by` put
    /// into `names` and `values`.
    pub(crate) fn update(
        &self,
        also: &str,
        names: &mut impl Extend<(String, String)>,
        values: &mut impl Extend<(String, AttributeValue)>,
    ) -> String {
        names.extend([
            ("#deleted".to_owned(), DELETED_ATTRIBUTE.to_owned()),
            ("#deletedby".to_owned(), DELETED_BY_ATTRIBUTE.to_owned()),
        ]);
        values.extend([(":at".to_owned(), self.at.clone())]);
        match &self.by {
            Some(by) => {
                values.extend([(":by".to_owned(), by.clone())]);
                format!("SET #deleted = :at, #deletedby = :by{also}")
            }
            None => format!("SET #deleted = :at{also} REMOVE #deletedby"),
        }
    }

    /// Sets the mark on `item` as the update stores it.
    pub(crate) fn apply(&self, item: &mut item::Item) {
        item.insert(DELETED_ATTRIBUTE.into(), self.at.clone());
        match &self.by {
            Some(by) => item.insert(DELETED_BY_ATTRIBUTE.into(), by.clone()),
            None => item.remove(DELETED_BY_ATTRIBUTE),
        };
    }
}
