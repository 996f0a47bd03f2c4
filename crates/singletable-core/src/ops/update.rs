//! `update`: changes fields of an existing item and returns the updated entity.
//!
//! The derive wraps [`Update`] in a typed builder whose setters exist only for non-key fields
//! (and `add_*`/`subtract_*` only for numeric ones); this type does the work once for all.

use std::marker::PhantomData;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde::Serialize;
use tracing::Instrument;

use super::{capacity_request, record_capacity, sdk_error, span};
use crate::autogen;
use crate::entity::Entity;
use crate::error::{Error, ItemKey, Result};
use crate::item::{self, TYPE_ATTRIBUTE};
use crate::table::Table;

/// A field's `serialize_with` function, as serde calls it for DynamoDB attributes.
pub type SerializeWith<V> =
    fn(
        &V,
        serde_dynamo::Serializer,
    ) -> std::result::Result<serde_dynamo::AttributeValue, serde_dynamo::Error>;

/// What an update does to one attribute.
#[derive(Debug)]
enum Action {
    Set(AttributeValue),
    Remove,
    Add(AttributeValue),
    Subtract(AttributeValue),
}

/// An update of one item, built by the generated `<Entity>Update` and sent with `send()`.
///
/// Setting one field twice keeps the last change. Errors found while building (an invalid key,
/// a value that does not encode) are reported by `send()`, before any request.
#[must_use = "an update does nothing until `send()` is awaited"]
#[derive(Debug)]
pub struct Update<'t, E> {
    table: &'t Table,
    key: Result<ItemKey>,
    actions: Vec<(&'static str, Action)>,
    error: Option<Error>,
    entity: PhantomData<fn() -> E>,
}

impl<'t, E: Entity> Update<'t, E> {
    pub(crate) fn new(table: &'t Table, key: Result<ItemKey>) -> Self {
        Update {
            table,
            key,
            actions: Vec::new(),
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

    fn push(&mut self, attribute: &'static str, action: Action) {
        match self.actions.iter_mut().find(|(name, _)| *name == attribute) {
            Some(slot) => slot.1 = action,
            None => self.actions.push((attribute, action)),
        }
    }

    /// Sends the update and returns the entity as stored afterwards.
    pub async fn send(mut self) -> Result<E> {
        let changes_a_field = !self.actions.is_empty();
        E::stamp_update(&mut self, autogen::now());
        let (table, key) = (self.table, self.key?);
        if let Some(error) = self.error {
            return Err(error);
        }
        if !changes_a_field {
            return Err(Error::EmptyUpdate {
                entity: E::TYPE,
                key,
            });
        }

        let span = span(table, "UpdateItem", E::TYPE);
        let mut request = table
            .client()
            .update_item()
            .table_name(table.name())
            .set_key(Some(item::key_item(key.clone(), table)))
            .condition_expression("attribute_exists(#pk) AND #type = :type")
            .expression_attribute_names("#pk", table.partition_key())
            .expression_attribute_names("#type", TYPE_ATTRIBUTE)
            .expression_attribute_values(":type", AttributeValue::S(E::TYPE.into()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .set_return_consumed_capacity(capacity_request(&span));

        let (mut sets, mut removes) = (Vec::new(), Vec::new());
        for (i, (attribute, action)) in self.actions.into_iter().enumerate() {
            let name = format!("#a{i}");
            let value = format!(":v{i}");
            let operand = match action {
                Action::Set(v) => {
                    sets.push(format!("{name} = {value}"));
                    Some(v)
                }
                Action::Add(v) => {
                    sets.push(format!("{name} = if_not_exists({name}, :zero) + {value}"));
                    Some(v)
                }
                Action::Subtract(v) => {
                    sets.push(format!("{name} = if_not_exists({name}, :zero) - {value}"));
                    Some(v)
                }
                Action::Remove => {
                    removes.push(name.clone());
                    None
                }
            };
            request = request.expression_attribute_names(name, attribute);
            if let Some(operand) = operand {
                request = request.expression_attribute_values(value, operand);
            }
        }
        if sets.iter().any(|clause| clause.contains(":zero")) {
            request = request.expression_attribute_values(":zero", AttributeValue::N("0".into()));
        }
        let mut expression = String::new();
        if !sets.is_empty() {
            expression = format!("SET {}", sets.join(", "));
        }
        if !removes.is_empty() {
            let space = if expression.is_empty() { "" } else { " " };
            expression = format!("{expression}{space}REMOVE {}", removes.join(", "));
        }

        let result = request
            .update_expression(expression)
            .send()
            .instrument(span.clone())
            .await;
        match result {
            Ok(output) => {
                record_capacity(&span, output.consumed_capacity());
                let item = output.attributes.unwrap_or_default();
                item::decode(item, table)
            }
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Err(match failed.item() {
                        None => Error::NotFound {
                            entity: E::TYPE,
                            key,
                        },
                        Some(_) => Error::ConditionFailed {
                            entity: E::TYPE,
                            key,
                            reason: format!("the item at this key is not a `{}`", E::TYPE),
                        },
                    })
                }
                _ => Err(sdk_error(table, "UpdateItem", E::TYPE, error)),
            },
        }
    }
}
