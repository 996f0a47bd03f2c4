//! The entity both benchmarks measure, and the hand-written code a user of the plain SDK would
//! write for it: key rendering, encoding to an item and decoding from one.
//!
//! The hand-written code produces exactly what singletable stores (each benchmark asserts it once
//! before measuring), so the comparisons are of the same work.

// Each benchmark binary uses a different part of this module.
#![allow(dead_code)]

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use singletable::Entity;
use time::format_description::well_known::Rfc3339;
use time::format_description::BorrowedFormatItem;
use time::OffsetDateTime;

/// An item as the SDK holds it.
pub type Item = HashMap<String, AttributeValue>;

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Pro,
    Enterprise,
}

/// The seed's team: ten fields, two key templates with three placeholders.
#[derive(Entity, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[entity(
    type = "TEAM",
    pk = "TENANT#<tenant_id>#ORG#<organization_id>",
    sk = "TEAM#<id>"
)]
#[serde(rename_all = "camelCase")]
pub struct Team {
    #[entity(autogen = uuid)]
    pub id: String,
    pub tenant_id: String,
    pub organization_id: String,
    pub name: String,
    pub description: Option<String>,
    pub plan: Plan,
    pub max_users: i64,
    #[entity(autogen = count)]
    pub member_count: i64,
    #[entity(autogen = timestamp)]
    #[serde(with = "singletable::timestamp")]
    pub created_at: OffsetDateTime,
    #[entity(autogen(on_update = timestamp))]
    #[serde(default, with = "singletable::timestamp::option")]
    pub updated_at: Option<OffsetDateTime>,
}

/// A fully populated team (every optional field set), created at a fixed millisecond instant.
pub fn sample_team() -> Team {
    Team {
        id: "0b6f8d1e-5c3a-4f7e-9a21-6d4b2c8e1f90".into(),
        tenant_id: "tenant-0042".into(),
        organization_id: "7e3c1a9b-2d4f-4b8e-a6c5-1f0e9d8c7b6a".into(),
        name: "Platform Engineering".into(),
        description: Some("Owns the build, deploy and observability stack".into()),
        plan: Plan::Pro,
        max_users: 50,
        member_count: 12,
        created_at: time::macros::datetime!(2026-11-24 04:56:06.559 UTC),
        updated_at: Some(time::macros::datetime!(2026-12-01 10:20:30.123 UTC)),
    }
}

/// The current time cut to milliseconds, as singletable stamps it.
pub fn now_millis() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(u32::from(now.millisecond()) * 1_000_000)
        .unwrap_or(now)
}

// ---------------------------------------------------------------------------------------------
// Hand-written key rendering.

const MAX_PARTITION_KEY: usize = 2048;
const MAX_SORT_KEY: usize = 1024;

/// The checks singletable applies to every key value: not empty, no `#`, no control character.
#[inline]
fn check_part(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        return Err("empty key value");
    }
    if value.chars().any(|c| c == '#' || c.is_control()) {
        return Err("key value contains `#` or a control character");
    }
    Ok(())
}

/// `pk`/`sk` of a team, with the same checks singletable makes.
pub fn hand_key(
    tenant_id: &str,
    organization_id: &str,
    id: &str,
) -> Result<(String, String), &'static str> {
    check_part(tenant_id)?;
    check_part(organization_id)?;
    check_part(id)?;
    let mut pk = String::with_capacity(12 + tenant_id.len() + organization_id.len());
    pk.push_str("TENANT#");
    pk.push_str(tenant_id);
    pk.push_str("#ORG#");
    pk.push_str(organization_id);
    let mut sk = String::with_capacity(5 + id.len());
    sk.push_str("TEAM#");
    sk.push_str(id);
    if pk.len() > MAX_PARTITION_KEY || sk.len() > MAX_SORT_KEY {
        return Err("key too long");
    }
    Ok((pk, sk))
}

/// `pk`/`sk` of a team without any check, for information.
pub fn hand_key_unchecked(tenant_id: &str, organization_id: &str, id: &str) -> (String, String) {
    (
        format!("TENANT#{tenant_id}#ORG#{organization_id}"),
        format!("TEAM#{id}"),
    )
}

// ---------------------------------------------------------------------------------------------
// Hand-written encoding.

/// `_timestamp`: ISO-8601 UTC with milliseconds.
const TIMESTAMP: &[BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
);

pub fn hand_timestamp(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(TIMESTAMP)
        .expect("a year in 0..=9999")
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A time field as `singletable::timestamp` stores it: the form of `_timestamp`.
fn rfc3339(at: OffsetDateTime) -> Result<String, &'static str> {
    Ok(hand_timestamp(at))
}

pub fn plan_name(plan: Plan) -> &'static str {
    match plan {
        Plan::Free => "free",
        Plan::Pro => "pro",
        Plan::Enterprise => "enterprise",
    }
}

/// The four attributes singletable adds to every item.
pub fn insert_internal(item: &mut Item, pk: String, sk: String, created: OffsetDateTime) {
    item.insert("pk".to_owned(), AttributeValue::S(pk));
    item.insert("sk".to_owned(), AttributeValue::S(sk));
    item.insert("_type".to_owned(), s("TEAM"));
    item.insert(
        "_timestamp".to_owned(),
        AttributeValue::S(hand_timestamp(created)),
    );
}

/// The item singletable stores for `team`, built by hand (key checks included).
pub fn hand_encode(team: &Team, created: OffsetDateTime) -> Result<Item, &'static str> {
    let (pk, sk) = hand_key(&team.tenant_id, &team.organization_id, &team.id)?;
    let mut item = Item::with_capacity(14);
    insert_internal(&mut item, pk, sk, created);
    item.insert("id".to_owned(), s(&team.id));
    item.insert("tenantId".to_owned(), s(&team.tenant_id));
    item.insert("organizationId".to_owned(), s(&team.organization_id));
    item.insert("name".to_owned(), s(&team.name));
    if let Some(description) = &team.description {
        item.insert("description".to_owned(), s(description));
    }
    item.insert("plan".to_owned(), s(plan_name(team.plan)));
    item.insert(
        "maxUsers".to_owned(),
        AttributeValue::N(team.max_users.to_string()),
    );
    item.insert(
        "memberCount".to_owned(),
        AttributeValue::N(team.member_count.to_string()),
    );
    item.insert(
        "createdAt".to_owned(),
        AttributeValue::S(rfc3339(team.created_at)?),
    );
    if let Some(updated_at) = team.updated_at {
        item.insert(
            "updatedAt".to_owned(),
            AttributeValue::S(rfc3339(updated_at)?),
        );
    }
    Ok(item)
}

/// `serde_dynamo::to_item` plus the four internal attributes (key checks included).
pub fn serde_dynamo_encode(team: &Team, created: OffsetDateTime) -> Result<Item, &'static str> {
    let (pk, sk) = hand_key(&team.tenant_id, &team.organization_id, &team.id)?;
    let mut item: Item = serde_dynamo::to_item(team).map_err(|_| "encode")?;
    item.retain(|_, value| !matches!(value, AttributeValue::Null(_)));
    insert_internal(&mut item, pk, sk, created);
    Ok(item)
}

// ---------------------------------------------------------------------------------------------
// Hand-written decoding.

fn take_s(item: &mut Item, name: &str) -> Result<String, &'static str> {
    match item.remove(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err("missing string attribute"),
    }
}

fn take_opt_s(item: &mut Item, name: &str) -> Result<Option<String>, &'static str> {
    match item.remove(name) {
        Some(AttributeValue::S(value)) => Ok(Some(value)),
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => Err("not a string attribute"),
    }
}

fn take_i64(item: &mut Item, name: &str) -> Result<i64, &'static str> {
    match item.remove(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| "not an i64"),
        _ => Err("missing number attribute"),
    }
}

fn parse_rfc3339(text: &str) -> Result<OffsetDateTime, &'static str> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| "not an RFC 3339 timestamp")
}

/// A team from a stored item, by hand: checks `_type`, drops the internal attributes.
pub fn hand_decode(mut item: Item) -> Result<Team, &'static str> {
    if take_s(&mut item, "_type")? != "TEAM" {
        return Err("not a TEAM");
    }
    item.remove("pk");
    item.remove("sk");
    item.remove("_timestamp");
    item.remove("_write");
    let plan = match take_s(&mut item, "plan")?.as_str() {
        "free" => Plan::Free,
        "pro" => Plan::Pro,
        "enterprise" => Plan::Enterprise,
        _ => return Err("unknown plan"),
    };
    Ok(Team {
        id: take_s(&mut item, "id")?,
        tenant_id: take_s(&mut item, "tenantId")?,
        organization_id: take_s(&mut item, "organizationId")?,
        name: take_s(&mut item, "name")?,
        description: take_opt_s(&mut item, "description")?,
        plan,
        max_users: take_i64(&mut item, "maxUsers")?,
        member_count: take_i64(&mut item, "memberCount")?,
        created_at: parse_rfc3339(&take_s(&mut item, "createdAt")?)?,
        updated_at: take_opt_s(&mut item, "updatedAt")?
            .map(|text| parse_rfc3339(&text))
            .transpose()?,
    })
}

/// `serde_dynamo::from_item`, after removing the internal attributes as singletable does.
pub fn serde_dynamo_decode(mut item: Item) -> Result<Team, &'static str> {
    if take_s(&mut item, "_type")? != "TEAM" {
        return Err("not a TEAM");
    }
    item.remove("pk");
    item.remove("sk");
    item.remove("_timestamp");
    serde_dynamo::from_item(item).map_err(|_| "decode")
}

// ---------------------------------------------------------------------------------------------
// Measuring.

/// CPU time of this process so far, in nanoseconds, and the clock it comes from.
pub fn cpu_ns() -> u64 {
    schedstat_ns().unwrap_or_else(stat_ns)
}

/// The sum of `sum_exec_runtime` over this process's threads.
pub fn schedstat_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        // A thread may exit between the listing and the read.
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// `utime + stime` of `/proc/self/stat`, assuming 100 clock ticks per second.
fn stat_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The command name may contain spaces; the fields after it are plain.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 2..]
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks * 10_000_000
}
