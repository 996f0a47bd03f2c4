//! The seed's expand/contract migration (seed 003: split `name` into `first_name` and
//! `last_name` with zero downtime), as builds of one service serving one table in turn.
//!
//! - [`v1`] is the build before: schema 1, one `name`.
//! - [`v2`] is the expand step: schema 2 writes `name` and its split side by side and adds a
//!   `by_last_name` index, declared `compatible = 1` so that build 1 reads its items during the
//!   rolling deploy (build 1's puts over them, which would drop the new fields, are refused; its
//!   updates go through). Once build 1 is gone, build 2 backfills every tenant's older items to
//!   schema 2 (which also indexes them), verifies the copies and repairs the ones build 1 made
//!   stale.
//! - [`v3`] is the contract step: schema 3 drops `name`; its backfill rewrites every item, and
//!   builds 1 and 2 then refuse its items instead of misreading them.
//!
//! The seed has five phases (add the columns, write both, backfill, read and write the new
//! ones only, drop the old one); in items they take three layouts, so three builds.
//!
//! `cargo run --example migration` starts DynamoDB Local (Java 17 and npm needed) or uses the
//! one at `DYNAMODB_ENDPOINT`, runs [`phases::run`] on a fresh table and prints what each phase
//! leaves; `tests/it/migration.rs` runs the same phases and checks every number.

mod phases;
mod v1;
mod v2;
mod v3;

use singletable::Table;
use singletable_local::DynamoDbLocal;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let local = DynamoDbLocal::shared()?;
    let name = singletable_local::unique_table_name("migration");
    let table = Table::builder(local.client().await, name)
        .index("GSI1", "gsi1pk", "gsi1sk")
        .build();
    table.create_table().await?;
    eprintln!("table `{}` at {}", table.name(), local.endpoint());

    let report = phases::run(&table).await?;
    let census = |c: &phases::Census| {
        let schemas: Vec<String> = c
            .by_schema
            .iter()
            .map(|(schema, n)| format!("schema {schema}: {n}"))
            .collect();
        format!(
            "{}; with name {}, with first/last {}, indexed by last name {}",
            schemas.join(", "),
            c.with_name,
            c.with_split,
            c.indexed
        )
    };
    let yes = |refused: bool| if refused { "refused" } else { "accepted" };

    println!("Before (build 1): {}", census(&report.before));

    let e = &report.expand;
    println!("Expand (builds 1 and 2): {}", census(&e.census));
    println!(
        "  build 1 lists {} acme users, {} of them written by build 2; its put over one is {}, \
         its rename of it is {}",
        e.v1_listed,
        e.v1_listed_schema_2,
        yes(e.v1_put_refused),
        yes(!e.v1_update_accepted)
    );
    println!(
        "  build 2 lists {} acme users (older ones upgraded as read); its new index finds {} \
         Lovelace",
        e.v2_listed, e.v2_found_by_last_name
    );

    let b = &report.backfill;
    println!(
        "Backfill (build 2, across tenants): scanned {}, upgraded {}, re-indexed {}, already \
         current {}, failed {}",
        b.progress.scanned,
        b.progress.upgraded,
        b.progress.reindexed,
        b.progress.current,
        b.progress.failed
    );
    println!("  {}", census(&b.census));
    println!(
        "  the index finds {} Lovelace; {} stale split (renamed by build 1) repaired, {} left",
        b.v2_found_by_last_name, b.repaired, b.mismatched_after_repair
    );

    let c = &report.contract;
    println!(
        "Contract (build 3, across tenants): scanned {}, upgraded {}, failed {}",
        c.progress.scanned, c.progress.upgraded, c.progress.failed
    );
    println!("  {}", census(&c.census));
    println!(
        "  build 1: get {}, list {}; build 2: get {}, put of a copy it held {}",
        yes(c.v1_get_refused),
        yes(c.v1_list_refused),
        yes(c.v2_get_refused),
        yes(c.v2_put_refused)
    );
    let listed: Vec<String> = c
        .v3_listed
        .iter()
        .map(|(tenant, n)| format!("{tenant} {n}"))
        .collect();
    println!(
        "  build 3 lists {} users; its index finds {} Goble",
        listed.join(", "),
        c.v3_found_by_last_name
    );
    Ok(())
}
