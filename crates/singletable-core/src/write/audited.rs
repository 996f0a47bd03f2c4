//! Writing an audited entity, or one with unique fields: each write in one transaction with
//! its audit record and the guards of the unique values it takes or frees (see
//! [`unique`](super::unique)), from a consistent read of the item, held to the revision that
//! read found.
//!
//! Each operation is a *plan*: given the item as read, what to write (or that nothing needs
//! writing). [`write`] runs a plan alone, reading and trying again when another writer came
//! between; [`deferred`] makes a plan one action of a user's [`Transaction`](crate::Transaction).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::condition;
use super::mark::DeletionMark;
use super::put::PreparedPut;
use super::record::{record, AuditAction};
use super::single::{Action, Write};
use super::unique::{self, Guard};
use super::update::{refused, Plan};
use crate::error::{Error, ItemKey, Result};
use crate::expr::{Condition, Names};
use crate::item::{self, Item, REVISION_ATTRIBUTE, TYPE_ATTRIBUTE};
use crate::request::{self, sdk_error};
use crate::retry::full_jitter;
use crate::schema::Schema;
use crate::table::Table;

/// Whether `E`'s writes are made here, from a read of the item: an audited entity's (for the old
/// values of its records) and an entity's with unique fields (for the guards of the values each
/// write replaces).
pub(crate) fn from_read<E: Schema>() -> bool {
    E::AUDITED || !E::UNIQUE.is_empty()
}

/// How many times a write whose item changed under it is read and tried again (within the
/// table's retry deadline): enough for hundreds of writers of one item to each get through.
pub(crate) const ATTEMPTS: u32 = 100;

/// The wait before attempt `attempt` (from 1): full jitter keeps writers that collided from
/// colliding again.
pub(crate) async fn pause(table: &Table, attempt: u32) {
    let ceiling =
        Duration::from_millis(5 << attempt.min(10)).min(table.retry_policy().max_delay_of());
    tokio::time::sleep(full_jitter(ceiling)).await;
}

/// The revision an audited item holds (0 before its first audited write).
fn revision_of(item: &Item) -> u64 {
    item.get(REVISION_ATTRIBUTE)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The revision the next write of `old` stores.
pub(crate) fn next_revision(old: &Item) -> AttributeValue {
    AttributeValue::N((revision_of(old) + 1).to_string())
}

/// The condition that `E`'s item is still as it was read (`old`; `None`: absent): at the same
/// revision, holding the same unique values. Its names and values are put into
/// `names`/`values` under placeholders no other clause uses.
pub(crate) fn guard<E: Schema>(
    table: &Table,
    old: Option<&Item>,
    names: &mut HashMap<String, String>,
    values: &mut HashMap<String, AttributeValue>,
) -> String {
    match old {
        None => {
            names.insert("#guardpk".into(), table.partition_key().into());
            "attribute_not_exists(#guardpk)".into()
        }
        Some(old) => {
            names.insert("#revision".into(), REVISION_ATTRIBUTE.into());
            let mut condition = match old.get(REVISION_ATTRIBUTE) {
                Some(at) => {
                    values.insert(":revision".into(), at.clone());
                    "#revision = :revision".to_owned()
                }
                None => "attribute_not_exists(#revision)".to_owned(),
            };
            if let Some(held) = unique::hold::<E>(old, names, values) {
                condition.push_str(" AND ");
                condition.push_str(&held);
            }
            condition
        }
    }
}

/// What one item of a write's transaction is.
#[derive(Clone, Debug)]
pub(crate) enum Part {
    /// The write of the entity's item.
    Item,
    /// Its audit record.
    Record,
    /// The guard of a unique value it takes or frees.
    Guard(Guard),
}

/// One item of a write's transaction: what it is, the key it writes, and the request item.
pub(crate) struct Made {
    pub(crate) part: Part,
    pub(crate) key: ItemKey,
    pub(crate) item: TransactWriteItem,
}

/// The transaction of one write of `E`'s item at `key` from `old` to `after`: `write` first,
/// then the audit record of an audited entity, then the guards of the unique values it takes
/// or frees.
fn made<E: Schema>(
    table: &Table,
    key: &ItemKey,
    write: TransactWriteItem,
    action: AuditAction,
    old: Option<&Item>,
    after: Option<&Item>,
) -> Result<Vec<Made>> {
    let mut made = vec![Made {
        part: Part::Item,
        key: key.clone(),
        item: write,
    }];
    if E::AUDITED {
        let record = record_of::<E>(table, key, action, old, after)?;
        let record_key = record
            .put()
            .map(|put| item::item_key_of(put.item(), table))
            .unwrap_or_default();
        made.push(Made {
            part: Part::Record,
            key: record_key,
            item: record,
        });
    }
    for (guard, write) in unique::guards::<E>(table, key, old, after)? {
        made.push(Made {
            key: write.key.clone(),
            item: write.into_transact(table)?,
            part: Part::Guard(guard),
        });
    }
    Ok(made)
}

/// The error of a canceled transaction whose items are `parts` and whose cancellation reasons
/// have `codes`, in the same order: that of the first guard whose condition failed; `None` when
/// none did.
pub(crate) fn guard_refused<'a>(
    parts: impl IntoIterator<Item = &'a Part>,
    codes: impl IntoIterator<Item = Option<&'a str>>,
) -> Option<Error> {
    parts
        .into_iter()
        .zip(codes)
        .find_map(|(part, code)| match (part, code) {
            (Part::Guard(guard), Some("ConditionalCheckFailed")) => Some(guard.refused()),
            _ => None,
        })
}

/// What one attempt of an audited write does, decided from the item as read.
pub(crate) enum Step<T> {
    /// Nothing to write; the operation's answer.
    Done(T),
    /// The write (which must return the old item when its condition fails), the audit action,
    /// the item afterwards (`None`: removed), and the operation's answer.
    Write {
        write: Box<TransactWriteItem>,
        action: AuditAction,
        after: Option<Item>,
        answer: T,
    },
}

/// Runs one write of `E`'s item at `key`: reads the item (unless `read` is false, for a
/// create), asks `plan` what to write, and writes it with its audit record and unique guards.
/// When the item changed between the read and the write, tries again; when the write's own
/// condition failed, returns `fail(item as it was)`; when a guard's did, the guard's error
/// ([`Error::Duplicate`] for a value another item holds).
pub(crate) async fn write<E: Schema, T>(
    table: &Table,
    key: &ItemKey,
    read: bool,
    mut plan: impl FnMut(Option<&Item>) -> Result<Step<T>>,
    fail: impl Fn(Option<&Item>) -> Error,
) -> Result<T> {
    // Writers of one item in this process take turns, so that they do not spend their
    // attempts racing each other; writers in other processes are still caught by the revision.
    let _turn = table.item_turn(key).await;
    let started = std::time::Instant::now();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            if started.elapsed() > table.retry_policy().total_deadline() {
                break;
            }
            pause(table, attempt).await;
        }
        let old = if read {
            request::stored(table, E::TYPE, key).await?
        } else {
            None
        };
        let (write, action, after, answer) = match plan(old.as_ref())? {
            Step::Done(answer) => return Ok(answer),
            Step::Write {
                write,
                action,
                after,
                answer,
            } => (write, action, after, answer),
        };
        let made = made::<E>(table, key, *write, action, old.as_ref(), after.as_ref())?;
        let (parts, items): (Vec<Part>, Vec<TransactWriteItem>) =
            made.into_iter().map(|made| (made.part, made.item)).unzip();
        // One token per attempt: the request layer's retries of a lost reply reuse it, and
        // DynamoDB applies a transaction with a token it has seen once.
        let token = uuid::Uuid::new_v4().to_string();
        let client = table.client();
        let sent = request::send(
            table,
            "TransactWriteItems",
            E::TYPE,
            |capacity| {
                client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .client_request_token(token)
                    .set_return_consumed_capacity(capacity)
            },
            |request| request.send(),
        )
        .await;
        let error = match sent.result {
            Ok(_) => return Ok(answer),
            Err(error) => error,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) =
            error.as_service_error()
        else {
            return Err(request::write_failed(
                table,
                "TransactWriteItems",
                E::TYPE,
                key,
                error,
                sent.maybe_applied,
            ));
        };
        let reasons = canceled.cancellation_reasons();
        let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
        // Another writer came between: its transaction conflicted, or took this audit
        // record's key.
        let contended = parts.iter().enumerate().any(|(i, part)| {
            matches!(
                (part, code(i)),
                (_, "TransactionConflict") | (Part::Record, "ConditionalCheckFailed")
            )
        });
        if code(0) == "ConditionalCheckFailed" {
            let found = reasons.first().and_then(|r| r.item());
            if !read || !raced(old.as_ref(), found) {
                return Err(fail(found));
            }
        } else if let Some(refused) = guard_refused(&parts, reasons.iter().map(|r| r.code())) {
            return Err(refused);
        } else if !contended {
            return Err(sdk_error(table, "TransactWriteItems", E::TYPE, error));
        }
        tracing::debug!(entity = E::TYPE, %key, attempt, "audited write raced another; retrying");
    }
    let reason = "the item kept changing while it was written with its audit record".to_owned();
    tracing::warn!(entity = E::TYPE, %key, "{reason}");
    Err(Error::ConditionFailed {
        entity: E::TYPE,
        key: key.clone(),
        reason,
    })
}

/// Whether `item` is an `E` (deleted or not).
pub(crate) fn is_a<E: Schema>(item: &Item) -> bool {
    item.get(TYPE_ATTRIBUTE)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        == Some(E::TYPE)
}

/// The audit record of a write of `E`'s item at `key` from `old` to `after`.
fn record_of<E: Schema>(
    table: &Table,
    key: &ItemKey,
    action: AuditAction,
    old: Option<&Item>,
    after: Option<&Item>,
) -> Result<TransactWriteItem> {
    let revision = match after {
        Some(after) => revision_of(after),
        None => old.map_or(0, revision_of) + 1,
    };
    record::<E>(table, key, action, old, after, revision)
}

/// A plan as one action of a user's transaction: the write with its audit record and unique
/// guards, made at `send` from the item as read then. Empty when there is nothing to write.
pub(crate) type Deferred<'t> = Box<dyn FnMut(Option<&Item>) -> Result<Vec<Made>> + Send + 't>;

pub(crate) fn deferred<'t, E: Schema, T>(
    table: &'t Table,
    key: ItemKey,
    mut plan: impl FnMut(Option<&Item>) -> Result<Step<T>> + Send + 't,
) -> Deferred<'t> {
    Box::new(move |old| match plan(old)? {
        Step::Done(_) => Ok(Vec::new()),
        Step::Write {
            write,
            action,
            after,
            ..
        } => made::<E>(table, &key, *write, action, old, after.as_ref()),
    })
}

/// Whether a write canceled with `found` as the item (returned by its failed condition) lost a
/// race with another writer since `old` was read, rather than failing its own condition.
pub(crate) fn raced(old: Option<&Item>, found: Option<&Item>) -> bool {
    match (found, old) {
        (None, None) => false,
        (Some(found), Some(old)) => revision_of(found) != revision_of(old),
        _ => true,
    }
}

/// The transaction action of `E`'s write at `key`, made by the plan every write uses.
fn action_of<E: Schema>(
    table: &Table,
    key: ItemKey,
    action: Action,
    condition: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
) -> Result<Box<TransactWriteItem>> {
    let write = Write {
        entity: E::TYPE,
        key,
        action,
        condition,
        names,
        values,
        returns: None,
    };
    write.into_transact(table).map(Box::new)
}

/// Creates the item (at revision 1) where there is none.
pub(crate) fn create_plan<'t, E: Schema>(
    table: &'t Table,
    mut new: Item,
) -> impl FnMut(Option<&Item>) -> Result<Step<()>> + Send + 't {
    new.insert(REVISION_ATTRIBUTE.into(), AttributeValue::N("1".into()));
    move |_| {
        let key = item::item_key_of(&new, table);
        let write = Write::create::<E>(table, key, new.clone()).into_transact(table)?;
        Ok(Step::Write {
            write: Box::new(write),
            action: AuditAction::Create,
            after: Some(new.clone()),
            answer: (),
        })
    }
}

/// `create` of an audited entity.
pub(crate) async fn create<E: Schema>(table: &Table, key: ItemKey, new: Item) -> Result<()> {
    let fail = |_: Option<&Item>| Error::AlreadyExists {
        entity: E::TYPE,
        key: key.clone(),
    };
    write::<E, ()>(table, &key, false, create_plan::<E>(table, new), fail).await
}

/// Updates a live item (or, for an upsert, creates it where there is none), rendered against
/// it so that every changed field has its old and new value.
pub(crate) fn update_plan<'t, E: Schema>(
    plan: Plan<'t, E>,
) -> impl FnMut(Option<&Item>) -> Result<Step<E>> + Send + 't {
    move |old| {
        let table = plan.table;
        let live = old.filter(|old| is_a::<E>(old) && !(E::SOFT_DELETE && item::is_deleted(old)));
        // Only an upsert writes where there is no item, and nothing writes over another type's
        // or a deleted one.
        let upsert = plan.create.is_some();
        if live.is_none() && (old.is_some() || !upsert) {
            return Err(refused::<E>(plan.key.clone(), old, plan.expected, upsert));
        }
        let built = plan.render(live)?;
        let after = built.after.unwrap_or_default();
        let answer = item::decode(after.clone(), table)?;
        let write = action_of::<E>(
            table,
            built.key,
            Action::Update(built.update),
            built.condition,
            built.names,
            built.values,
        )?;
        Ok(Step::Write {
            write,
            action: match live {
                Some(_) => AuditAction::Update,
                None => AuditAction::Create,
            },
            after: Some(after),
            answer,
        })
    }
}

/// `update` of an audited entity.
pub(crate) async fn update<E: Schema>(plan: Plan<'_, E>) -> Result<E> {
    let (table, key, expected) = (plan.table, plan.key.clone(), plan.expected);
    let upsert = plan.create.is_some();
    let fail = |found: Option<&Item>| refused::<E>(key.clone(), found, expected, upsert);
    write::<E, E>(table, &key, true, update_plan(plan), fail).await
}

/// Puts the item: a create where there was none, an update of the fields that differ otherwise.
pub(crate) fn put_plan<'t, E: Schema>(
    table: &'t Table,
    prepared: PreparedPut,
) -> impl FnMut(Option<&Item>) -> Result<Step<()>> + Send + 't {
    move |old| {
        let mut new = prepared.item.clone();
        let revision = old.map_or(AttributeValue::N("1".into()), next_revision);
        new.insert(REVISION_ATTRIBUTE.into(), revision);
        let (mut names, mut values) = (prepared.names.clone(), prepared.values.clone());
        let guard = guard::<E>(table, old, &mut names, &mut values);
        let condition = format!("{} AND {guard}", prepared.condition);
        let key = prepared.key.clone();
        let write = action_of::<E>(
            table,
            key,
            Action::Put(new.clone()),
            condition,
            names,
            values,
        )?;
        let action = if old.is_some() {
            AuditAction::Update
        } else {
            AuditAction::Create
        };
        Ok(Step::Write {
            write,
            action,
            after: Some(new),
            answer: (),
        })
    }
}

/// `put` of an audited entity.
pub(crate) async fn put<E: Schema>(table: &Table, prepared: PreparedPut) -> Result<()> {
    let (key, expected) = (prepared.key.clone(), prepared.expected);
    let fail = |found: Option<&Item>| match found {
        None => Error::ConditionFailed {
            entity: E::TYPE,
            key: key.clone(),
            reason: "the write's condition did not hold".into(),
        },
        found => condition::failed::<E>(key.clone(), found, expected),
    };
    write::<E, ()>(table, &key, true, put_plan::<E>(table, prepared), fail).await
}

/// A condition expression with its names and values.
struct Conditions {
    expression: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

/// The condition `#type = :type`, `user`'s and the revision guard, with their names and values.
fn conditions<E: Schema>(
    table: &Table,
    old: &Item,
    user: Option<&Condition<E>>,
) -> Result<Conditions> {
    let mut names = Names::default();
    let mut expression = String::from("#type = :type");
    condition::append::<E>(&mut expression, user, None, &mut names)?;
    let mut names_map: HashMap<String, String> = names.names.into_iter().collect();
    let mut values: HashMap<String, AttributeValue> = names.values.into_iter().collect();
    names_map.insert("#type".into(), TYPE_ATTRIBUTE.into());
    values.insert(":type".into(), AttributeValue::S(E::TYPE.into()));
    expression.push_str(" AND ");
    expression.push_str(&guard::<E>(table, Some(old), &mut names_map, &mut values));
    Ok(Conditions {
        expression,
        names: names_map,
        values,
    })
}

/// Removes the item where `user` holds, recording every field it had (`Purge` for `purge`,
/// `Delete` otherwise); nothing where there is no item.
pub(crate) fn delete_plan<'t, E: Schema>(
    table: &'t Table,
    key: ItemKey,
    user: Option<Condition<E>>,
    purge: bool,
) -> impl FnMut(Option<&Item>) -> Result<Step<Option<E>>> + Send + 't {
    move |old| {
        let Some(old) = old else {
            return Ok(Step::Done(None));
        };
        if !is_a::<E>(old) {
            return Err(condition::failed::<E>(key.clone(), Some(old), None));
        }
        let Conditions {
            expression,
            names,
            values,
        } = conditions::<E>(table, old, user.as_ref())?;
        let write = action_of::<E>(
            table,
            key.clone(),
            Action::Delete,
            expression,
            names,
            values,
        )?;
        let action = if purge {
            AuditAction::Purge
        } else {
            AuditAction::Delete
        };
        Ok(Step::Write {
            write,
            action,
            after: None,
            answer: Some(item::decode(old.clone(), table)?),
        })
    }
}

/// `delete` (or `purge`) of an audited entity.
pub(crate) async fn delete<E: Schema>(
    table: &Table,
    key: ItemKey,
    user: Option<Condition<E>>,
    purge: bool,
) -> Result<Option<E>> {
    let fail = |found: Option<&Item>| condition::failed::<E>(key.clone(), found, None);
    let plan = delete_plan::<E>(table, key.clone(), user, purge);
    write::<E, Option<E>>(table, &key, true, plan, fail).await
}

/// Sets the deletion mark (`deleted`) or removes it, recording `Delete` or `Restore`; nothing
/// where there is no live item to delete, or no deleted item to restore.
pub(crate) fn mark_plan<'t, E: Schema>(
    table: &'t Table,
    key: ItemKey,
    user: Option<Condition<E>>,
    deleted: bool,
) -> impl FnMut(Option<&Item>) -> Result<Step<Option<E>>> + Send + 't {
    move |old| {
        let Some(old) = old else {
            return Ok(Step::Done(None));
        };
        if !is_a::<E>(old) {
            return Err(condition::failed::<E>(key.clone(), Some(old), None));
        }
        if item::is_deleted(old) == deleted {
            return Ok(Step::Done(None));
        }
        let Conditions {
            expression,
            mut names,
            mut values,
        } = conditions::<E>(table, old, user.as_ref())?;
        let mut after = old.clone();
        let revision = next_revision(old);
        after.insert(REVISION_ATTRIBUTE.into(), revision.clone());
        names.insert("#revision".into(), REVISION_ATTRIBUTE.into());
        values.insert(":next".into(), revision);
        let update = if deleted {
            let mark = DeletionMark::now(table);
            mark.apply(&mut after);
            mark.update(", #revision = :next", &mut names, &mut values)
        } else {
            names.insert("#deleted".into(), item::DELETED_ATTRIBUTE.into());
            names.insert("#deletedby".into(), item::DELETED_BY_ATTRIBUTE.into());
            after.remove(item::DELETED_ATTRIBUTE);
            after.remove(item::DELETED_BY_ATTRIBUTE);
            "SET #revision = :next REMOVE #deleted, #deletedby".to_owned()
        };
        let write = action_of::<E>(
            table,
            key.clone(),
            Action::Update(update),
            expression,
            names,
            values,
        )?;
        let action = if deleted {
            AuditAction::Delete
        } else {
            AuditAction::Restore
        };
        Ok(Step::Write {
            write,
            action,
            answer: Some(item::decode(after.clone(), table)?),
            after: Some(after),
        })
    }
}

/// Soft delete (`deleted`) or restore of an audited entity; `None` where there was nothing to
/// do.
pub(crate) async fn mark<E: Schema>(
    table: &Table,
    key: ItemKey,
    user: Option<Condition<E>>,
    deleted: bool,
) -> Result<Option<E>> {
    let fail = |found: Option<&Item>| condition::failed::<E>(key.clone(), found, None);
    let plan = mark_plan::<E>(table, key.clone(), user, deleted);
    write::<E, Option<E>>(table, &key, true, plan, fail).await
}
