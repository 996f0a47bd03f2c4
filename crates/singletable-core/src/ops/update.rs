//! `update`: changes fields of an existing item and returns the updated entity.
//!
//! The derive wraps [`Update`] in a typed builder whose setters exist only for non-key fields
//! (and `add_*`/`subtract_*` only for numeric ones); this type does the work once for all.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::marker::PhantomData;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde::Serialize;
use tracing::Instrument;

use super::{capacity_request, condition, record_capacity, sdk_error, span};
use crate::autogen;
use crate::entity::Entity;
use crate::error::{Error, ItemKey, Result};
use crate::expr::{Condition, Names};
use crate::item::{self, Item, REVISION_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::key;
use crate::later::Later;
use crate::table::Table;
use crate::{KeyPart, Template};

/// `clause`, ready for one more comma-separated action.
fn next(clause: &mut String) -> &mut String {
    if !clause.is_empty() {
        clause.push_str(", ");
    }
    clause
}

/// A field's `serialize_with` function, as serde calls it for DynamoDB attributes.
pub type SerializeWith<V> =
    fn(
        &V,
        serde_dynamo::Serializer,
    ) -> std::result::Result<serde_dynamo::AttributeValue, serde_dynamo::Error>;

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
}

/// What an update does to one attribute.
#[derive(Clone, Debug)]
enum Action {
    Set(AttributeValue),
    Remove,
    Add(AttributeValue),
    Subtract(AttributeValue),
    SetIfAbsent(AttributeValue),
    Append(AttributeValue),
    Prepend(AttributeValue),
}

/// An update of one item, built by the generated `<Entity>Update` and sent with `send()`.
///
/// Setting one field twice keeps the last change. Errors found while building (an invalid key,
/// a value that does not encode) are reported by `send()`, before any request.
#[must_use = "an update does nothing until `send()` is awaited"]
#[derive(Debug)]
pub struct Update<'t, E> {
    table: &'t Table,
    /// Rendered when the update is sent, in the tenant scope it is sent in.
    key: Later<'t, ItemKey>,
    actions: Vec<(Cow<'static, str>, Action)>,
    /// Key-part text of the fields set here that secondary index keys are made of; `None`
    /// for a field set to `None`.
    index_sources: Vec<(&'static str, Option<String>)>,
    condition: Option<Condition<E>>,
    expected_version: Option<u64>,
    error: Option<Error>,
    entity: PhantomData<fn() -> E>,
}

impl<'t, E: Entity> Update<'t, E> {
    pub(crate) fn new(table: &'t Table, key: Later<'t, ItemKey>) -> Self {
        Update {
            table,
            key,
            actions: Vec::new(),
            index_sources: Vec::new(),
            condition: None,
            expected_version: None,
            error: None,
            entity: PhantomData,
        }
    }

    /// Sets `attribute` to `value`; a value that encodes as null (`None`) removes the attribute.
    pub fn set<V: Serialize>(&mut self, attribute: &'static str, value: V) {
        self.set_encoded(attribute, serde_dynamo::to_attribute_value(value));
    }

    fn set_encoded(
        &mut self,
        attribute: &'static str,
        value: serde_dynamo::Result<AttributeValue>,
    ) {
        let action = match self.check(attribute, value) {
            Some(AttributeValue::Null(_)) => Action::Remove,
            Some(value) => Action::Set(value),
            None => return,
        };
        self.push(attribute, action);
    }

    /// Like [`set`](Self::set), encoding with a field's `#[serde(with = "...")]` function.
    pub fn set_with<V: ?Sized>(
        &mut self,
        attribute: &'static str,
        value: &V,
        with: SerializeWith<V>,
    ) {
        let encoded = with(value, serde_dynamo::Serializer).map(Into::into);
        self.set_encoded(attribute, encoded);
    }

    /// Writes only where `condition` holds for the item as stored; a second condition is
    /// combined with `and`.
    pub fn condition(&mut self, condition: Condition<E>) {
        self.condition = Some(match self.condition.take() {
            Some(existing) => existing.and(condition),
            None => condition,
        });
    }

    /// Writes only over `version` of a versioned entity (the version it was read at).
    pub fn if_version(&mut self, version: u64) {
        self.expected_version = Some(version);
    }

    /// Sets the item's expiry (epoch seconds) in the table's time-to-live attribute, or removes
    /// it for `None`.
    pub fn set_expiry(&mut self, at: Option<i64>) {
        match item::ttl_attribute::<E>(self.table) {
            Ok(attribute) => {
                let action = at.map_or(Action::Remove, |at| {
                    Action::Set(AttributeValue::N(at.to_string()))
                });
                self.push(attribute.to_owned(), action);
            }
            Err(error) => {
                self.error.get_or_insert(error);
            }
        }
    }

    /// Removes `attribute` from the item.
    pub fn remove(&mut self, attribute: &'static str) {
        self.push(attribute, Action::Remove);
    }

    /// Adds `amount` to a number attribute atomically (a missing attribute counts as zero).
    pub fn add<V: Serialize>(&mut self, attribute: &'static str, amount: V) {
        if let Some(amount) = self.encode(attribute, amount) {
            self.push(attribute, Action::Add(amount));
        }
    }

    /// Subtracts `amount` from a number attribute atomically (a missing attribute counts as zero).
    pub fn subtract<V: Serialize>(&mut self, attribute: &'static str, amount: V) {
        if let Some(amount) = self.encode(attribute, amount) {
            self.push(attribute, Action::Subtract(amount));
        }
    }

    /// Sets `attribute` to `value` only where the item has no such attribute yet.
    pub fn set_if_absent<V: Serialize>(&mut self, attribute: &'static str, value: V) {
        if let Some(value) = self.encode(attribute, value) {
            self.push(attribute, Action::SetIfAbsent(value));
        }
    }

    /// Appends `items` to a list attribute (a missing list counts as empty).
    pub fn append<V: Serialize>(&mut self, attribute: &'static str, items: V) {
        if let Some(items) = self.encode(attribute, items) {
            self.push(attribute, Action::Append(items));
        }
    }

    /// Puts `items` in front of a list attribute (a missing list counts as empty).
    pub fn prepend<V: Serialize>(&mut self, attribute: &'static str, items: V) {
        if let Some(items) = self.encode(attribute, items) {
            self.push(attribute, Action::Prepend(items));
        }
    }

    fn encode<V: Serialize>(
        &mut self,
        attribute: &'static str,
        value: V,
    ) -> Option<AttributeValue> {
        self.check(attribute, serde_dynamo::to_attribute_value(value))
    }

    /// Keeps the first encoding error for `send()` to report.
    fn check(
        &mut self,
        attribute: &'static str,
        value: serde_dynamo::Result<AttributeValue>,
    ) -> Option<AttributeValue> {
        match value {
            Ok(value) => Some(value),
            Err(e) => {
                self.error.get_or_insert(Error::Encode {
                    entity: E::TYPE,
                    field: format!("`{attribute}`"),
                    message: e.to_string(),
                });
                None
            }
        }
    }

    fn push(&mut self, attribute: impl Into<Cow<'static, str>>, action: Action) {
        let attribute = attribute.into();
        match self.actions.iter_mut().find(|(name, _)| *name == attribute) {
            Some(slot) => slot.1 = action,
            None => self.actions.push((attribute, action)),
        }
    }

    /// Records the new value of `param`, a placeholder of a secondary index key, so that
    /// `send()` rewrites that index's keys (or removes them, for `None`).
    pub fn index_source(&mut self, param: &'static str, value: Option<&dyn KeyPart>) {
        let text = value.map(|value| {
            let mut text = String::new();
            value.write_key_part(&mut text);
            text
        });
        match self
            .index_sources
            .iter_mut()
            .find(|(name, _)| *name == param)
        {
            Some(slot) => slot.1 = text,
            None => self.index_sources.push((param, text)),
        }
    }

    /// Rewrites the keys of every index whose templates use a field this update sets. Values the
    /// update does not set come from the item's own key; any other is an error, since the
    /// update cannot know it.
    fn sync_indexes(&mut self, key: &ItemKey) -> Result<()> {
        if self.index_sources.is_empty() {
            return Ok(());
        }
        let separator = self.table.separator();
        let key_values = |template: &Template<'static>, text: &str| {
            let values = template.parse_key(text, separator).unwrap_or_default();
            template
                .params()
                .zip(values.into_iter().map(str::to_owned))
                .collect::<Vec<_>>()
        };
        let mut from_key = key_values(E::PARTITION_KEY, &key.pk);
        from_key.extend(key_values(E::SORT_KEY, &key.sk));
        for (i, index) in E::INDEXES.iter().enumerate() {
            let params: Vec<&str> = index.pk.params().chain(index.sk.params()).collect();
            let touched = self.index_sources.iter().find(|(p, _)| params.contains(p));
            let Some((changed, _)) = touched else {
                continue;
            };
            let (pk_attribute, sk_attribute) =
                item::index_attributes::<E>(self.table, index.index)?;
            let (pk_attribute, sk_attribute) = (pk_attribute.to_owned(), sk_attribute.to_owned());
            // A field set to `None` takes the item out of the index, whatever the others are.
            let cleared = self
                .index_sources
                .iter()
                .any(|(p, v)| v.is_none() && params.contains(p));
            if cleared {
                self.push(pk_attribute, Action::Remove);
                self.push(sk_attribute, Action::Remove);
                continue;
            }
            let mut values: Vec<&str> = Vec::new();
            for param in params {
                let from_update = self.index_sources.iter().find(|(p, _)| *p == param);
                let from_key = from_key.iter().find(|(p, _)| *p == param);
                let value = match (from_update, from_key) {
                    (Some((_, Some(value))), _) | (None, Some((_, value))) => value.as_str(),
                    _ => {
                        return Err(Error::InvalidRequest {
                            entity: E::TYPE,
                            reason: format!(
                            "setting `{changed}` changes the keys of index `{}`, which also need \
                                 `{param}`: set `{param}` in the same update",
                            index.index
                        ),
                        })
                    }
                };
                values.push(value);
            }
            // `values` follows the placeholders of pk, then of sk.
            let parts: Vec<&dyn KeyPart> = values.iter().map(|v| v as &dyn KeyPart).collect();
            let (pk_parts, sk_parts) = parts.split_at(index.pk.params().count());
            let rendered = key::render_index::<E>(i, pk_parts, sk_parts, separator)?;
            self.push(pk_attribute, Action::Set(AttributeValue::S(rendered.pk)));
            self.push(sk_attribute, Action::Set(AttributeValue::S(rendered.sk)));
        }
        Ok(())
    }

    /// Checks the update and settles its actions: the stamps, the index keys and the version.
    pub(crate) fn plan(mut self) -> Result<Plan<'t, E>> {
        self.table.admit::<E>()?;
        let changes_a_field = !self.actions.is_empty();
        E::stamp_update(&mut self, autogen::now());
        let key = std::mem::replace(&mut self.key, Later::ready(Ok(ItemKey::default())));
        let key = key.make(self.table)?;
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        if !changes_a_field {
            return Err(Error::EmptyUpdate {
                entity: E::TYPE,
                key,
            });
        }
        self.sync_indexes(&key)?;
        if let Some(version) = E::VERSION {
            // Every write moves a versioned entity to its next version.
            self.push(version, Action::Add(AttributeValue::N("1".into())));
        }
        Ok(Plan {
            table: self.table,
            key,
            actions: self.actions,
            condition: self.condition,
            expected: self.expected_version,
        })
    }

    /// Sends the update and returns the entity as stored afterwards.
    pub async fn send(self) -> Result<E> {
        let plan = self.plan()?;
        if E::AUDITED {
            return crate::audit::update(plan).await;
        }
        let built = plan.into_built()?;
        let (table, key, expected) = (built.table, built.key, built.expected);
        let span = span(table, "UpdateItem", E::TYPE);
        let request = table
            .client()
            .update_item()
            .table_name(table.name())
            .set_key(Some(item::key_item(key.clone(), table)))
            .update_expression(built.update)
            .condition_expression(built.condition)
            .set_expression_attribute_names(Some(built.names))
            .set_expression_attribute_values(Some(built.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .set_return_consumed_capacity(capacity_request(&span));
        let result = request.send().instrument(span.clone()).await;
        match result {
            Ok(output) => {
                record_capacity(&span, output.consumed_capacity());
                let item = output.attributes.unwrap_or_default();
                item::decode(item, table)
            }
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Err(condition::failed::<E>(key, failed.item(), expected))
                }
                _ => Err(sdk_error(table, "UpdateItem", E::TYPE, error)),
            },
        }
    }
}

/// A checked update whose actions are settled, ready to render once or, for an audited entity,
/// once per attempt against the item as it was read.
pub(crate) struct Plan<'t, E> {
    pub(crate) table: &'t Table,
    pub(crate) key: ItemKey,
    actions: Vec<(Cow<'static, str>, Action)>,
    condition: Option<Condition<E>>,
    pub(crate) expected: Option<u64>,
}

impl<'t, E: Entity> Plan<'t, E> {
    /// Renders the update. Given the item as stored (`snapshot`, for an audited entity), every
    /// action is resolved against it into a plain SET or REMOVE, the item's revision moves on,
    /// and the write holds only over that revision; `Built::after` is then the item as it will
    /// be stored.
    pub(crate) fn render(&self, snapshot: Option<&Item>) -> Result<Built<'t>> {
        self.render_actions(self.actions.clone(), snapshot)
    }

    /// Renders the update once, moving its actions rather than copying them.
    pub(crate) fn into_built(mut self) -> Result<Built<'t>> {
        let actions = std::mem::take(&mut self.actions);
        self.render_actions(actions, None)
    }

    fn render_actions(
        &self,
        mut actions: Vec<(Cow<'static, str>, Action)>,
        snapshot: Option<&Item>,
    ) -> Result<Built<'t>> {
        let table = self.table;
        let mut after = None;
        let mut names = Names::default();
        let mut condition = String::from("attribute_exists(#pk) AND #type = :type");
        let mut guard = None;
        if let Some(old) = snapshot {
            let mut new = old.clone();
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
            let revision = crate::audit::next_revision(old);
            new.insert(REVISION_ATTRIBUTE.into(), revision.clone());
            actions.push((REVISION_ATTRIBUTE.into(), Action::Set(revision)));
            guard = Some(old);
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
        if let Some(old) = guard {
            condition.push_str(" AND ");
            condition.push_str(&crate::audit::guard(
                table,
                Some(old),
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
        })
    }
}

/// The value `action` leaves in an attribute that holds `old`; `None` removes it. This is what
/// DynamoDB would compute, done here so that an audit record can name the new value.
fn resolve<E: Entity>(
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
