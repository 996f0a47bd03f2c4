//! The phases of the migration, run against one table by the builds that serve in each: the
//! seed's zero-downtime pattern (add the new columns and write both, backfill, verify, read and
//! write the new ones only, drop the old one) with item schema versions.
//!
//! | phase | builds serving | what happens |
//! |---|---|---|
//! | before | 1 | users with one `name` (schema 1) |
//! | expand | 1 and 2 | build 2 writes `name` and its split (schema 2, readable by build 1); build 1 still reads everything and writes schema 1 |
//! | backfill | 2 | every older item rewritten at schema 2 and indexed, across tenants; the copies verified and repaired |
//! | contract | 3 | every item rewritten at schema 3 without `name`; builds 1 and 2 refused |

use std::collections::BTreeMap;

use singletable::prelude::*;
use singletable::{tenant, Progress};

use super::{v1, v2, v3};

/// The tenants, each with its own users.
pub const TENANTS: [&str; 2] = ["acme", "globex"];

/// The users build 1 wrote before the migration: tenant, id, name, email.
pub const BEFORE: [(&str, &str, &str, &str); 9] = [
    ("acme", "u1", "Ada Lovelace", "ada@acme.example"),
    ("acme", "u2", "Grace Brewster Hopper", "grace@acme.example"),
    ("acme", "u3", "Alan Turing", "alan@acme.example"),
    ("acme", "u4", "Edsger Dijkstra", "edsger@acme.example"),
    ("acme", "u5", "Barbara Liskov", "barbara@acme.example"),
    ("globex", "g1", "Linus Torvalds", "linus@globex.example"),
    (
        "globex",
        "g2",
        "Margaret Hamilton",
        "margaret@globex.example",
    ),
    ("globex", "g3", "Donald Knuth", "donald@globex.example"),
    ("globex", "g4", "Frances Allen", "frances@globex.example"),
];

/// The stored `USER` items, counted by what they hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    /// Items by the schema they record (1 when they record none).
    pub by_schema: BTreeMap<u32, usize>,
    /// Items with the old `name`.
    pub with_name: usize,
    /// Items with `firstName` and `lastName`.
    pub with_split: usize,
    /// Items with a `by_last_name` index key.
    pub indexed: usize,
}

/// What each phase found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub before: Census,
    pub expand: Expand,
    pub backfill: Backfilled,
    pub contract: Contracted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expand {
    pub census: Census,
    /// Acme's users as build 1 lists them, and how many of them build 2 wrote.
    pub v1_listed: usize,
    pub v1_listed_schema_2: usize,
    /// Build 1's put over an item of build 2, which would drop `firstName`/`lastName`.
    pub v1_put_refused: bool,
    /// Build 1's update of the `name` of an item of build 2, which goes through.
    pub v1_update_accepted: bool,
    /// Acme's users as build 2 lists them (schema 1 items upgraded as they are read).
    pub v2_listed: usize,
    /// Users named Lovelace that build 2's new index finds: none yet, build 1 wrote her.
    pub v2_found_by_last_name: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backfilled {
    pub progress: Progress,
    pub census: Census,
    pub v2_found_by_last_name: usize,
    /// Items whose `firstName`/`lastName` disagree with `name`: build 1 renamed them during the
    /// expand step. Repaired by build 2, then counted again.
    pub mismatched: usize,
    pub repaired: usize,
    pub mismatched_after_repair: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contracted {
    pub progress: Progress,
    pub census: Census,
    /// Build 1's read of a schema 3 item, and its listing of a tenant's users.
    pub v1_get_refused: bool,
    pub v1_list_refused: bool,
    /// Build 2's read of a schema 3 item, and its put of a copy it read before.
    pub v2_get_refused: bool,
    pub v2_put_refused: bool,
    /// Each tenant's users as build 3 lists them.
    pub v3_listed: BTreeMap<String, usize>,
    pub v3_found_by_last_name: usize,
}

/// The `USER` items of the table, as stored.
pub async fn census(table: &Table) -> Result<Census, Error> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let mut census = Census::default();
    let mut start = None;
    loop {
        let page = table
            .client()
            .scan()
            .table_name(table.name())
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| Error::InvalidRequest {
                entity: "USER",
                reason: format!("scan: {e}"),
            })?;
        for item in page.items() {
            if item.get("_type") != Some(&AttributeValue::S("USER".into())) {
                continue;
            }
            let schema = match item.get("_schema") {
                Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
                _ => 1,
            };
            *census.by_schema.entry(schema).or_default() += 1;
            census.with_name += usize::from(item.contains_key("name"));
            census.with_split +=
                usize::from(item.contains_key("firstName") && item.contains_key("lastName"));
            census.indexed += usize::from(item.contains_key("gsi1pk"));
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(census);
        }
    }
}

/// Whether `outcome` is a refusal to decode an item of a newer schema.
fn newer_schema<T>(outcome: &Result<T, Error>) -> bool {
    matches!(outcome, Err(Error::Decode { field, .. }) if field == "_schema")
}

/// Runs every phase on `table` (fresh), and counts what each leaves.
pub async fn run(table: &Table) -> Result<Report, Error> {
    for (tenant_id, id, name, email) in BEFORE {
        let new = v1::NewUser {
            id: id.into(),
            name: name.into(),
            email: email.into(),
        };
        tenant::scope(tenant_id, v1::User::create(table, new)).await?;
    }
    let before = census(table).await?;

    let expand = Box::pin(expand(table)).await?;
    let backfill = Box::pin(backfill(table)).await?;
    let contract = Box::pin(contract(table)).await?;
    Ok(Report {
        before,
        expand,
        backfill,
        contract,
    })
}

/// Builds 1 and 2 serve side by side.
async fn expand(table: &Table) -> Result<Expand, Error> {
    // Build 2 creates a user in each tenant; build 1, on another instance, creates one more.
    let katherine = v2::new_user("u6", "Katherine Johnson", "katherine@acme.example");
    tenant::scope("acme", v2::User::create(table, katherine)).await?;
    let dorothy = v2::new_user("g5", "Dorothy Vaughan", "dorothy@globex.example");
    tenant::scope("globex", v2::User::create(table, dorothy)).await?;
    let mary = v1::NewUser {
        id: "u7".into(),
        name: "Mary Jackson".into(),
        email: "mary@acme.example".into(),
    };
    tenant::scope("acme", v1::User::create(table, mary)).await?;

    tenant::scope("acme", async {
        // Build 1 reads what build 2 wrote.
        let listed = v1::User::query(table, v1::UserPartition::default())
            .all()
            .await?;
        let v1_listed_schema_2 = listed.iter().filter(|u| u.id == "u6").count();
        let mut copy = v1::User::get(table, v1::UserKey { id: "u6" })
            .await?
            .ok_or(Error::InvalidRequest {
                entity: "USER",
                reason: "u6 was just created".into(),
            })?;
        // A put would replace the whole item without the fields build 1 does not know.
        copy.email = "kj@acme.example".into();
        let v1_put_refused = matches!(copy.put(table).await, Err(Error::ConditionFailed { .. }));
        // An update touches only its field: accepted, and the copies now lag behind `name`.
        let rename = v1::User::update(table, v1::UserKey { id: "u6" })
            .set(v1::User::FIELDS.name, "Katherine Goble")
            .send()
            .await;
        let v1_update_accepted = rename.is_ok();

        let v2_listed = v2::User::query(table, v2::UserPartition::default())
            .all()
            .await?
            .len();
        let lovelace = v2::UserByLastName {
            last_name: "Lovelace",
        };
        let v2_found_by_last_name = v2::User::by_last_name(table, lovelace).count().await?;
        Ok(Expand {
            census: census(table).await?,
            v1_listed: listed.len(),
            v1_listed_schema_2,
            v1_put_refused,
            v1_update_accepted,
            v2_listed,
            v2_found_by_last_name,
        })
    })
    .await
}

/// Build 1 is gone. Build 2 rewrites every older item at schema 2 across tenants (which also
/// gives them their `by_last_name` keys), verifies the copies and repairs those build 1 made
/// stale.
async fn backfill(table: &Table) -> Result<Backfilled, Error> {
    let reason = "users: backfill first and last names (schema 2)";
    let report = tenant::across_tenants(reason, v2::User::backfill(table).run()).await?;
    let census = census(table).await?;
    let lovelace = v2::UserByLastName {
        last_name: "Lovelace",
    };
    let found = v2::User::by_last_name(table, lovelace).count();
    let v2_found_by_last_name = tenant::scope("acme", found).await?;

    let mut stale = Vec::new();
    for tenant_id in TENANTS {
        let users = v2::User::query(table, v2::UserPartition::default()).all();
        for user in tenant::scope(tenant_id, users).await? {
            if !user.split_agrees() {
                stale.push(user);
            }
        }
    }
    let mismatched = stale.len();
    for user in &stale {
        let repair = v2::User::rename(table, &user.id, &user.name);
        tenant::as_tenant(user.tenant_id.as_str(), "repair a stale name split", repair).await?;
    }
    let mut mismatched_after_repair = 0;
    for tenant_id in TENANTS {
        let users = v2::User::query(table, v2::UserPartition::default()).all();
        let users = tenant::scope(tenant_id, users).await?;
        mismatched_after_repair += users.iter().filter(|u| !u.split_agrees()).count();
    }
    Ok(Backfilled {
        progress: report.progress,
        census,
        v2_found_by_last_name,
        mismatched,
        repaired: stale.len(),
        mismatched_after_repair,
    })
}

/// Build 3 replaces build 2 and drops `name` from every item, across tenants; what is left of
/// builds 1 and 2 is refused.
async fn contract(table: &Table) -> Result<Contracted, Error> {
    // A copy build 2 read before build 3 took over.
    let held = tenant::scope("acme", v2::User::get(table, v2::UserKey { id: "u1" })).await?;

    let reason = "users: drop name (schema 3)";
    let report = tenant::across_tenants(reason, v3::User::backfill(table).run()).await?;
    let census = census(table).await?;

    let (v1_get_refused, v1_list_refused, v2_get_refused) = tenant::scope("acme", async {
        let v1_get = v1::User::get(table, v1::UserKey { id: "u1" }).await;
        let v1_list = v1::User::query(table, v1::UserPartition::default())
            .all()
            .await;
        let v2_get = v2::User::get(table, v2::UserKey { id: "u1" }).await;
        (
            newer_schema(&v1_get),
            newer_schema(&v1_list),
            newer_schema(&v2_get),
        )
    })
    .await;
    let v2_put_refused = match held {
        Some(held) => {
            let put = tenant::scope("acme", held.put(table)).await;
            matches!(put, Err(Error::ConditionFailed { .. }))
        }
        None => false,
    };

    let mut v3_listed = BTreeMap::new();
    for tenant_id in TENANTS {
        let users = v3::User::query(table, v3::UserPartition::default()).count();
        v3_listed.insert(tenant_id.to_owned(), tenant::scope(tenant_id, users).await?);
    }
    let goble = v3::UserByLastName { last_name: "Goble" };
    let found = v3::User::by_last_name(table, goble).count();
    let v3_found_by_last_name = tenant::scope("acme", found).await?;
    Ok(Contracted {
        progress: report.progress,
        census,
        v1_get_refused,
        v1_list_refused,
        v2_get_refused,
        v2_put_refused,
        v3_listed,
        v3_found_by_last_name,
    })
}
