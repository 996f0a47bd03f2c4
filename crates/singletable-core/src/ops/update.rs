//! `update`: changes fields of an existing item and returns the updated entity.
//!
//! An update names the fields it changes by their typed handles (`<Entity>::FIELDS`), whose
//! types say which changes fit: only fields outside the key have handles, only numbers are added
//! to, only an `Option` is removed, and a field the library writes has none of these. One
//! generic builder serves every entity, so the derive generates no update code.

use std::borrow::Cow;
use std::marker::PhantomData;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::Serialize;

use crate::autogen;
use crate::autogen::Expiry;
use crate::codec::Stamps;
use crate::error::{Error, ItemKey, Result};
use crate::expr::role::{ExpiresAt, IndexSource, Plain};
use crate::expr::{Condition, Field};
use crate::item::{self, Item, WRITE_ATTRIBUTE};
use crate::key;
use crate::later::Later;
use crate::schema::{EntityKey, Schema, Versioned};
use crate::table::Table;
use crate::write::audited;
use crate::write::single::{self, Outcome, Write};
use crate::write::update::{refused, Action, Plan};
use crate::{KeyPart, Template};

/// An update of one item of entity `E`, started by `E::update` (or `E::upsert`) and sent with
/// [`send`](Self::send).
///
/// ```ignore
/// let team = Team::update(&table, team.key())
///     .set(Team::FIELDS.name, "Platform")
///     .add(Team::FIELDS.member_count, 1)
///     .remove(Team::FIELDS.description)
///     .condition(Team::FIELDS.member_count.lt(50))
///     .send()
///     .await?;
/// ```
///
/// Whatever names the attribute, an update never writes a key attribute, an index key, the
/// tenant field, a field the keys are made of, the version or an attribute the library keeps:
/// the typed methods cannot name them, and a change by name fails `send()` with
/// [`Error::InvalidRequest`] before any request.
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
    /// For an upsert, the item to create where there is none, with its key: made when the
    /// upsert is sent, in the tenant scope it is sent in.
    create: Option<Later<'t, (ItemKey, Item)>>,
    error: Option<Error>,
    entity: PhantomData<fn() -> E>,
}

impl<'t, E: Schema> Update<'t, E> {
    pub(crate) fn new(table: &'t Table, key: Later<'t, ItemKey>) -> Self {
        Update {
            table,
            key,
            actions: Vec::new(),
            index_sources: Vec::new(),
            condition: None,
            expected_version: None,
            create: None,
            error: None,
            entity: PhantomData,
        }
    }

    /// An upsert: the update of the item at `new`'s key, or where there is none the creation of
    /// `new` (with its generated fields) with the update applied to it, in one request.
    pub(crate) fn upsert(table: &'t Table, new: E::New) -> Self
    where
        E::New: Send + 't,
    {
        let mut upsert = Update::new(table, Later::ready(Ok(ItemKey::default())));
        upsert.create = Some(Later::new(move |table| {
            let now = autogen::now();
            let entity = E::from_new(new, now, table)?;
            let key = entity.key().item_key(table)?;
            let item = item::encode(&entity, key.clone(), now, table)?;
            Ok((key, item))
        }));
        upsert
    }

    /// Sets `field` to `value`. `None` removes an `Option` field's attribute.
    ///
    /// ```ignore
    /// Team::update(&table, key).set(Team::FIELDS.name, "Platform").send().await?;
    /// ```
    pub fn set<T: Serialize, R: Settable<T>>(
        mut self,
        field: Field<E, T, R>,
        value: impl Into<T>,
    ) -> Self {
        let value = value.into();
        self.set_encoded(field.attribute(), field.encode(&value));
        if let Some((param, part)) = field.index_part(&value) {
            // The index keys this field is in are rewritten with it (removed for `None`).
            self.index_source(param, part);
        }
        R::settle(&mut self, &value);
        self
    }

    /// Removes an `Option` field (it reads back as `None`).
    pub fn remove<T, R: Removable>(mut self, field: Field<E, Option<T>, R>) -> Self {
        self.push(field.attribute(), Action::Remove);
        if let Some(param) = field.index_param() {
            // A field that is `None` takes the item out of the indexes it is in.
            self.index_source(param, None);
        }
        R::settle_removal(&mut self);
        self
    }

    /// Adds `amount` to a numeric field atomically (a missing attribute counts as zero).
    pub fn add<T: Number>(mut self, field: Field<E, T>, amount: T::Amount) -> Self {
        if let Some(amount) = self.encode(field.attribute(), amount) {
            self.push(field.attribute(), Action::Add(amount));
        }
        self
    }

    /// Subtracts `amount` from a numeric field atomically (a missing attribute counts as zero).
    pub fn subtract<T: Number>(mut self, field: Field<E, T>, amount: T::Amount) -> Self {
        if let Some(amount) = self.encode(field.attribute(), amount) {
            self.push(field.attribute(), Action::Subtract(amount));
        }
        self
    }

    /// Sets an `Option` field to `value` only where the stored item has none yet.
    pub fn set_if_absent<T: Serialize>(
        mut self,
        field: Field<E, Option<T>>,
        value: impl Into<T>,
    ) -> Self {
        let encoded = field.encode(&Some(value.into()));
        if let Some(value) = self.check(field.attribute(), encoded) {
            self.push(field.attribute(), Action::SetIfAbsent(value));
        }
        self
    }

    /// Appends `items` to a `Vec` field atomically (a missing list counts as empty).
    pub fn append<T: Serialize>(mut self, field: Field<E, Vec<T>>, items: Vec<T>) -> Self {
        if let Some(items) = self.check(field.attribute(), field.encode(&items)) {
            self.push(field.attribute(), Action::Append(items));
        }
        self
    }

    /// Puts `items` in front of a `Vec` field atomically (a missing list counts as empty).
    pub fn prepend<T: Serialize>(mut self, field: Field<E, Vec<T>>, items: Vec<T>) -> Self {
        if let Some(items) = self.check(field.attribute(), field.encode(&items)) {
            self.push(field.attribute(), Action::Prepend(items));
        }
        self
    }

    /// Writes only where `condition` (built from the entity's `FIELDS`) holds for the stored
    /// item; `Error::ConditionFailed` otherwise. A second condition is combined with `and`.
    pub fn condition(mut self, condition: Condition<E>) -> Self {
        self.condition = Some(match self.condition.take() {
            Some(existing) => existing.and(condition),
            None => condition,
        });
        self
    }

    /// Writes only over `version`, the version the entity was read at;
    /// `Error::VersionConflict` when another write came first.
    pub fn if_version(mut self, version: u64) -> Self
    where
        E: Versioned,
    {
        self.expected_version = Some(version);
        self
    }

    /// Sets `attribute` by name, for tests of the guards: the typed methods above cannot name
    /// a key, the tenant or an attribute the library keeps, and this is refused by `send()`.
    #[doc(hidden)]
    pub fn set_attribute<V: Serialize>(&mut self, attribute: &'static str, value: V) {
        self.set_encoded(attribute, serde_dynamo::to_attribute_value(value));
    }

    /// Removes `attribute` by name, under the guards of [`set_attribute`](Self::set_attribute).
    #[doc(hidden)]
    pub fn remove_attribute(&mut self, attribute: &'static str) {
        self.push(attribute, Action::Remove);
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

    /// Sets the item's expiry (epoch seconds) in the table's time-to-live attribute, or removes
    /// it for `None`.
    fn set_expiry(&mut self, at: Option<i64>) {
        match item::ttl_attribute::<E>(self.table) {
            Ok(attribute) => {
                let action = at.map_or(Action::Remove, |at| {
                    Action::Set(AttributeValue::N(at.to_string()))
                });
                self.settle(attribute.to_owned(), action);
            }
            Err(error) => {
                self.error.get_or_insert(error);
            }
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

    /// Adds the caller's change of `attribute`, unless it is one no update may write: a key
    /// attribute, an index key, the tenant field, a field the keys are made of, the version or
    /// an attribute the library keeps. Refused changes fail `send()` before any request.
    fn push(&mut self, attribute: &'static str, action: Action) {
        match crate::write::update::writable::<E>(self.table, attribute) {
            Ok(()) => self.settle(attribute, action),
            Err(error) => {
                self.error.get_or_insert(error);
            }
        }
    }

    /// Sets what the update does to `attribute`, as the library settles it (stamps, index keys,
    /// the version, the expiry): a later change of one attribute replaces an earlier one.
    fn settle(&mut self, attribute: impl Into<Cow<'static, str>>, action: Action) {
        let attribute = attribute.into();
        match self.actions.iter_mut().find(|(name, _)| *name == attribute) {
            Some(slot) => slot.1 = action,
            None => self.actions.push((attribute, action)),
        }
    }

    /// Records the new value of `param`, a placeholder of a secondary index key, so that
    /// `send()` rewrites that index's keys (or removes them, for `None`).
    fn index_source(&mut self, param: &'static str, value: Option<&dyn KeyPart>) {
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
                self.settle(pk_attribute, Action::Remove);
                self.settle(sk_attribute, Action::Remove);
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
            self.settle(pk_attribute, Action::Set(AttributeValue::S(rendered.pk)));
            self.settle(sk_attribute, Action::Set(AttributeValue::S(rendered.sk)));
        }
        Ok(())
    }

    /// Checks the update and settles its actions: the stamps, the index keys and the version.
    pub(crate) fn plan(mut self) -> Result<Plan<'t, E>> {
        crate::tenant::admit::<E>(self.table)?;
        let changes_a_field = !self.actions.is_empty();
        let mut stamps = Stamps::default();
        E::stamp_update(&mut stamps, autogen::now());
        for (attribute, value) in stamps.0 {
            self.set_encoded(attribute, value);
        }
        let key = std::mem::replace(&mut self.key, Later::ready(Ok(ItemKey::default())));
        let (key, create) = match self.create.take() {
            Some(create) => {
                let (key, item) = create.make(self.table)?;
                (key, Some(item))
            }
            None => (key.make(self.table)?, None),
        };
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        // An upsert that changes no field still creates the item where there is none.
        if !changes_a_field && create.is_none() {
            return Err(Error::EmptyUpdate {
                entity: E::TYPE,
                key,
            });
        }
        self.sync_indexes(&key)?;
        if let Some(version) = E::VERSION {
            // Every write moves a versioned entity to its next version.
            self.settle(version, Action::Add(AttributeValue::N("1".into())));
        }
        Ok(Plan {
            table: self.table,
            key,
            actions: self.actions,
            condition: self.condition,
            expected: self.expected_version,
            create,
        })
    }

    /// Sends the update (or upsert) and returns the entity as stored afterwards.
    pub async fn send(self) -> Result<E> {
        let plan = self.plan()?;
        if audited::from_read::<E>() {
            return audited::update(plan).await;
        }
        let upsert = plan.create.is_some();
        let built = plan.into_built(true)?;
        let (table, key, expected, token) = (built.table, built.key, built.expected, built.token);
        let write = Write {
            entity: E::TYPE,
            key: key.clone(),
            action: single::Action::Update(built.update),
            condition: built.condition,
            names: built.names,
            values: built.values,
            returns: Some(ReturnValue::AllNew),
        };
        match single::send(table, write).await? {
            Outcome::Done(item) => item::decode(item.unwrap_or_default(), table),
            // The item carries this update's token: an attempt whose reply was lost applied
            // it, and the item is as that attempt left it.
            Outcome::Refused {
                stored: Some(stored),
                ..
            } if token.is_some() && stored.get(WRITE_ATTRIBUTE) == token.as_ref() => {
                item::decode(stored, table)
            }
            Outcome::Refused { stored, .. } => {
                Err(refused::<E>(key, stored.as_ref(), expected, upsert))
            }
        }
    }
}

/// Which fields an update may set (by role `Self`), and what setting one does besides storing the
/// value and rewriting the index keys it is in: the expiry field moves the item's expiry.
#[diagnostic::on_unimplemented(
    message = "an update cannot set a `{T}` field of role `{Self}`",
    note = "`ReadOnly` fields (the version, `on_update` timestamps) are written by every write itself"
)]
pub trait Settable<T> {
    #[doc(hidden)]
    fn settle<E: Schema>(update: &mut Update<'_, E>, value: &T);
}

impl<T> Settable<T> for Plain {
    fn settle<E: Schema>(_: &mut Update<'_, E>, _: &T) {}
}

impl<T> Settable<T> for IndexSource {
    fn settle<E: Schema>(_: &mut Update<'_, E>, _: &T) {}
}

impl<T: Expiry> Settable<T> for ExpiresAt {
    fn settle<E: Schema>(update: &mut Update<'_, E>, value: &T) {
        update.set_expiry(value.epoch_seconds());
    }
}

/// Which `Option` fields an update may remove (by role `Self`), and what removing one does
/// besides removing the attribute and taking the item out of the indexes the field is in.
#[diagnostic::on_unimplemented(
    message = "an update cannot remove a field of role `{Self}`",
    note = "`ReadOnly` fields (the version, `on_update` timestamps) are written by every write itself"
)]
pub trait Removable {
    #[doc(hidden)]
    fn settle_removal<E: Schema>(update: &mut Update<'_, E>);
}

impl Removable for Plain {
    fn settle_removal<E: Schema>(_: &mut Update<'_, E>) {}
}

impl Removable for IndexSource {
    fn settle_removal<E: Schema>(_: &mut Update<'_, E>) {}
}

impl Removable for ExpiresAt {
    fn settle_removal<E: Schema>(update: &mut Update<'_, E>) {
        update.set_expiry(None);
    }
}

/// A numeric field's type, whose stored number an update adds to or subtracts from by an
/// `Amount` (the number itself, also for an `Option` of one).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a number: only numeric fields are added to or subtracted from"
)]
pub trait Number {
    /// What is added or subtracted.
    type Amount: Serialize;
}

macro_rules! numbers {
    ($($number:ty),*) => {$(
        impl Number for $number {
            type Amount = $number;
        }

        impl Number for Option<$number> {
            type Amount = $number;
        }
    )*};
}

numbers!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64);
