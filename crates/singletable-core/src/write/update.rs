//! The plan of an update: its actions settled (stamps, index keys, version), rendered into an
//! `UpdateItem` expression once, or, for an audited entity, once per attempt against the item as
//! it was read.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use aws_sdk_dynamodb::types::AttributeValue;

use super::audited;
use super::condition;
use crate::error::{Error, ItemKey, Result};
use crate::expr::{Condition, Names};
use crate::item::{self, Item, REVISION_ATTRIBUTE, TYPE_ATTRIBUTE, WRITE_ATTRIBUTE};
use crate::schema::Schema;
use crate::table::Table;

/// `clause`, ready for one more comma-separated action.
fn next(clause: &mut String) -> &mut String {
    if !clause.is_empty() {
        clause.push_str(", ");
    }
    clause
}

/// An update ready to send: its key and rendered expressions.
pub(crate) struct Built<'t> {
    pub(crate) table: &'t Table,
    pub(crate) key: ItemKey,
    pub(crate) update: String,
    pub(crate) condition: String,
    pub(crate) names: HashMap<String, String>,
    pub(crate) values: HashMap<String, AttributeValue>,
    pub(crate) expected: Option<u64>,
    /// The item as it will be stored, when the update was rendered against a snapshot.
    pub(crate) after: Option<Item>,
    /// The write token this update stores, when it is not idempotent: a retry after a lost
    /// reply that finds it on the item knows its first attempt was applied.
    pub(crate) token: Option<AttributeValue>,
}

/// Refuses an update of `attribute` that would make the item disagree with its key, its
/// indexes or its tenant, or that would forge what the library keeps on items.
pub(crate) fn writable<E: Schema>(table: &Table, attribute: &str) -> Result<()> {
    let index_key = table
        .indexes()
        .iter()
        .any(|index| index.partition_key == attribute || index.sort_key == attribute);
    let what = if attribute == table.partition_key() || attribute == table.sort_key() {
        "a key attribute"
    } else if index_key {
        "an index key attribute"
    } else if item::is_internal(attribute) {
        "an attribute the library keeps"
    } else if Some(attribute) == E::TENANT_FIELD {
        "the tenant field"
    } else if E::KEY_FIELDS.contains(&attribute) {
        "a field the keys are made of"
    } else if Some(attribute) == E::VERSION {
        "the version, which every write moves on"
    } else if Some(attribute) == table.ttl_attribute() {
        "the expiry attribute (set it with `set_expiry`)"
    } else {
        return Ok(());
    };
    Err(Error::InvalidRequest {
        entity: E::TYPE,
        reason: format!("an update cannot write `{attribute}`: it is {what}"),
    })
}

/// What an update does to one attribute.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    Set(AttributeValue),
    Remove,
    Add(AttributeValue),
    Subtract(AttributeValue),
    SetIfAbsent(AttributeValue),
    Append(AttributeValue),
    Prepend(AttributeValue),
}

/// A checked update whose actions are settled, ready to render once or, for an audited entity,
/// once per attempt against the item as it was read.
pub(crate) struct Plan<'t, E> {
    pub(crate) table: &'t Table,
    pub(crate) key: ItemKey,
    pub(crate) actions: Vec<(Cow<'static, str>, Action)>,
    pub(crate) condition: Option<Condition<E>>,
    pub(crate) expected: Option<u64>,
    /// For an upsert, the item it creates where there is none: its attributes that no action
    /// changes are set only where the item does not have them yet.
    pub(crate) create: Option<Item>,
}

impl<'t, E: Schema> Plan<'t, E> {
    /// Renders the update of an audited entity against the item as stored (`None`: absent, which
    /// only an upsert writes to): every action is resolved against it into a plain SET or REMOVE,
    /// the item's revision moves on, and the write holds only over that revision (or absence);
    /// `Built::after` is then the item as it will be stored.
    pub(crate) fn render(&self, snapshot: Option<&Item>) -> Result<Built<'t>> {
        self.render_actions(self.actions.clone(), Some(snapshot), false)
    }

    /// Renders the update once, moving its actions rather than copying them.
    /// With `token`, an update that is not idempotent (it adds, subtracts, appends or moves a
    /// version on) also stores a fresh write token and holds only where the item does not carry
    /// it yet, so that a retry of a lost reply is recognised instead of applied twice.
    pub(crate) fn into_built(mut self, token: bool) -> Result<Built<'t>> {
        let actions = std::mem::take(&mut self.actions);
        self.render_actions(actions, None, token)
    }

    /// `snapshot`: `None` for an entity that is not audited; `Some(item as read)` otherwise.
    fn render_actions(
        &self,
        mut actions: Vec<(Cow<'static, str>, Action)>,
        snapshot: Option<Option<&Item>>,
        token: bool,
    ) -> Result<Built<'t>> {
        let table = self.table;
        if let Some(create) = &self.create {
            let (pk, sk) = (table.partition_key(), table.sort_key());
            let mut create_only: Vec<(Cow<'static, str>, Action)> = create
                .iter()
                .filter(|(name, _)| *name != pk && *name != sk)
                .filter(|(name, _)| !actions.iter().any(|(changed, _)| changed == *name))
                .map(|(name, value)| (Cow::Owned(name.clone()), Action::SetIfAbsent(value.clone())))
                .collect();
            // A stable order keeps the expression the same from one attempt to the next.
            create_only.sort_by(|a, b| a.0.cmp(&b.0));
            actions.extend(create_only);
        }
        let repeats_wrong = actions.iter().any(|(_, action)| {
            matches!(
                action,
                Action::Add(_) | Action::Subtract(_) | Action::Append(_) | Action::Prepend(_)
            )
        });
        let token = (token && repeats_wrong)
            .then(|| AttributeValue::S(uuid::Uuid::new_v4().simple().to_string()));
        if let Some(token) = &token {
            actions.push((WRITE_ATTRIBUTE.into(), Action::Set(token.clone())));
        }
        let mut after = None;
        let mut names = Names::default();
        let mut condition = match self.create {
            Some(_) => String::from("(attribute_not_exists(#pk) OR #type = :type)"),
            None => String::from("attribute_exists(#pk) AND #type = :type"),
        };
        let mut guard = None;
        let absent = Item::new();
        if let Some(read) = snapshot {
            let old = read.unwrap_or(&absent);
            let mut new = match (read, &self.create) {
                // Created by this upsert: its keys, then what the actions set.
                (None, Some(_)) => item::key_item(self.key.clone(), table),
                _ => old.clone(),
            };
            actions = actions
                .into_iter()
                .map(|(attribute, action)| {
                    let value = resolve::<E>(&attribute, action, old.get(attribute.as_ref()))?;
                    let action = match &value {
                        Some(value) => {
                            new.insert(attribute.to_string(), value.clone());
                            Action::Set(value.clone())
                        }
                        None => {
                            new.remove(attribute.as_ref());
                            Action::Remove
                        }
                    };
                    Ok((attribute, action))
                })
                .collect::<Result<_>>()?;
            let revision = audited::next_revision(old);
            new.insert(REVISION_ATTRIBUTE.into(), revision.clone());
            actions.push((REVISION_ATTRIBUTE.into(), Action::Set(revision)));
            guard = Some(read);
            after = Some(new);
        }
        if E::SOFT_DELETE {
            // A soft-deleted item is gone for updates until it is restored.
            let deleted = names.name(item::DELETED_ATTRIBUTE);
            condition.push_str(&format!(" AND attribute_not_exists({deleted})"));
        }
        let expected = self.expected;
        condition::append::<E>(
            &mut condition,
            self.condition.as_ref(),
            expected,
            &mut names,
        )?;
        let mut names_map: HashMap<String, String> = names.names.into_iter().collect();
        let mut values_map: HashMap<String, AttributeValue> = names.values.into_iter().collect();
        names_map.insert("#pk".into(), table.partition_key().into());
        names_map.insert("#type".into(), TYPE_ATTRIBUTE.into());
        values_map.insert(":type".into(), AttributeValue::S(E::TYPE.into()));
        if token.is_some() {
            // The token is the last action's value, `:u<last>`.
            let last = format!(":u{}", actions.len() - 1);
            names_map.insert("#wtoken".into(), WRITE_ATTRIBUTE.into());
            condition.push_str(&format!(
                " AND (attribute_not_exists(#wtoken) OR #wtoken <> {last})"
            ));
        }
        if let Some(read) = guard {
            condition.push_str(" AND ");
            condition.push_str(&audited::guard::<E>(
                table,
                read,
                &mut names_map,
                &mut values_map,
            ));
        }

        // One pass writes both clauses; names and values are placeholders `#aN`/`:uN`.
        let (mut sets, mut removes) = (String::with_capacity(64), String::new());
        for (i, (attribute, action)) in actions.into_iter().enumerate() {
            // Writing to a String cannot fail.
            let operand = match action {
                Action::Set(value) => {
                    let _ = write!(next(&mut sets), "#a{i} = :u{i}");
                    Some(value)
                }
                Action::Add(value) => {
                    let _ = write!(
                        next(&mut sets),
                        "#a{i} = if_not_exists(#a{i}, :zero) + :u{i}"
                    );
                    Some(value)
                }
                Action::Subtract(value) => {
                    let _ = write!(
                        next(&mut sets),
                        "#a{i} = if_not_exists(#a{i}, :zero) - :u{i}"
                    );
                    Some(value)
                }
                Action::SetIfAbsent(value) => {
                    let _ = write!(next(&mut sets), "#a{i} = if_not_exists(#a{i}, :u{i})");
                    Some(value)
                }
                Action::Append(value) => {
                    let _ = write!(
                        next(&mut sets),
                        "#a{i} = list_append(if_not_exists(#a{i}, :empty), :u{i})"
                    );
                    Some(value)
                }
                Action::Prepend(value) => {
                    let _ = write!(
                        next(&mut sets),
                        "#a{i} = list_append(:u{i}, if_not_exists(#a{i}, :empty))"
                    );
                    Some(value)
                }
                Action::Remove => {
                    let _ = write!(next(&mut removes), "#a{i}");
                    None
                }
            };
            names_map.insert(format!("#a{i}"), attribute.into_owned());
            if let Some(value) = operand {
                values_map.insert(format!(":u{i}"), value);
            }
        }
        if sets.contains(":zero") {
            values_map.insert(":zero".into(), AttributeValue::N("0".into()));
        }
        if sets.contains(":empty") {
            values_map.insert(":empty".into(), AttributeValue::L(Vec::new()));
        }
        let mut update = String::with_capacity(sets.len() + removes.len() + 12);
        if !sets.is_empty() {
            update.push_str("SET ");
            update.push_str(&sets);
        }
        if !removes.is_empty() {
            update.push_str(if update.is_empty() {
                "REMOVE "
            } else {
                " REMOVE "
            });
            update.push_str(&removes);
        }
        Ok(Built {
            table,
            key: self.key.clone(),
            update,
            condition,
            names: names_map,
            values: values_map,
            expected,
            after,
            token,
        })
    }
}

/// The error of an update whose condition did not hold on `stored`. An upsert also writes where
/// there is no item, so there its refusal is the condition's, and a soft-deleted item refuses it
/// until restored.
pub(crate) fn refused<E: Schema>(
    key: ItemKey,
    stored: Option<&Item>,
    expected: Option<u64>,
    upsert: bool,
) -> Error {
    let reason = match stored {
        None if upsert => "the write's condition did not hold",
        Some(item)
            if upsert && audited::is_a::<E>(item) && E::SOFT_DELETE && item::is_deleted(item) =>
        {
            "the item is soft-deleted; restore it before writing to it"
        }
        _ => return condition::failed::<E>(key, stored, expected),
    };
    Error::ConditionFailed {
        entity: E::TYPE,
        key,
        reason: reason.into(),
    }
}

/// The value `action` leaves in an attribute that holds `old`; `None` removes it. This is what
/// DynamoDB would compute, done here so that an audit record can name the new value.
fn resolve<E: Schema>(
    attribute: &str,
    action: Action,
    old: Option<&AttributeValue>,
) -> Result<Option<AttributeValue>> {
    let invalid = |what: &str| Error::InvalidRequest {
        entity: E::TYPE,
        reason: format!("cannot {what} `{attribute}`: it holds {old:?}"),
    };
    Ok(match action {
        Action::Set(value) => Some(value),
        Action::Remove => None,
        Action::SetIfAbsent(value) => Some(old.cloned().unwrap_or(value)),
        Action::Add(amount) => {
            Some(number_sum(old, &amount, false).ok_or_else(|| invalid("add to"))?)
        }
        Action::Subtract(amount) => {
            Some(number_sum(old, &amount, true).ok_or_else(|| invalid("subtract from"))?)
        }
        Action::Append(items) => {
            Some(concat(old, items, false).ok_or_else(|| invalid("append to"))?)
        }
        Action::Prepend(items) => {
            Some(concat(old, items, true).ok_or_else(|| invalid("prepend to"))?)
        }
    })
}

/// `old` with `items` appended (or put in front); a missing `old` counts as empty. `None` when a
/// side is not a list.
fn concat(
    old: Option<&AttributeValue>,
    items: AttributeValue,
    in_front: bool,
) -> Option<AttributeValue> {
    let old = match old {
        Some(old) => old.as_l().ok()?.clone(),
        None => Vec::new(),
    };
    let AttributeValue::L(items) = items else {
        return None;
    };
    let (mut first, second) = if in_front { (items, old) } else { (old, items) };
    first.extend(second);
    Some(AttributeValue::L(first))
}

/// `old + amount` (or `old - amount`), a missing `old` counting as zero: exact for integers,
/// in `f64` otherwise. `None` when a side is not a number.
fn number_sum(
    old: Option<&AttributeValue>,
    amount: &AttributeValue,
    subtract: bool,
) -> Option<AttributeValue> {
    let old = old.map_or(Ok("0"), |o| o.as_n().map(String::as_str)).ok()?;
    let amount = amount.as_n().ok()?;
    let sum = match (old.parse::<i128>(), amount.parse::<i128>()) {
        (Ok(a), Ok(b)) => if subtract {
            a.checked_sub(b)
        } else {
            a.checked_add(b)
        }?
        .to_string(),
        _ => {
            let (a, b) = (old.parse::<f64>().ok()?, amount.parse::<f64>().ok()?);
            (if subtract { a - b } else { a + b }).to_string()
        }
    };
    Some(AttributeValue::N(sum))
}
