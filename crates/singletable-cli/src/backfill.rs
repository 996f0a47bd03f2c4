//! `backfill` (also `reindex`): brings the items of an entity up to date — its schema, its index
//! keys, `_tenant_type` — with the runtime's [`Backfill`](singletable_core::Backfill), showing
//! progress on a terminal. `--dry-run` counts what it would write; `--worker K/N` takes worker
//! K's share of the segments, so N processes split one run.
//!
//! Upgrades are Rust functions of the entity, so the entities a binary can backfill are the
//! ones it registers: a service builds its own command with
//! `singletable_cli::run_with(Cli::parse(), &Entities::new().entity::<Profile>(), &mut out)`.
//! The stock `singletable` binary registers none and says so.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use futures::future::BoxFuture;
use indicatif::{ProgressBar, ProgressStyle};
use singletable_core::{tenant, BackfillReport, Entity, Progress, Table};

use crate::connect::Target;
use crate::describe::{EntityFile, IndexKeysFile, TableFile};
use crate::error::{Error, Result};

/// Arguments of `backfill`.
#[derive(clap::Args, Clone, Debug)]
pub struct BackfillArgs {
    /// The `_type` of the entity to backfill
    #[arg(long = "type", value_name = "TYPE")]
    pub entity: String,
    /// The table [default: `name` in --file]
    #[arg(long)]
    pub table: Option<String>,
    /// Table description (key attribute names, separator, indexes)
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Parallel scan segments
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub segments: u32,
    /// Writes in flight per segment
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub concurrency: u32,
    /// Save the position here after every page, and resume from it when it exists
    #[arg(long, value_name = "PATH")]
    pub checkpoint: Option<PathBuf>,
    /// Read only worker K's share of the segments, of N workers (K from 0 to N-1); run all N
    /// with the same --segments, each with its own --checkpoint
    #[arg(long, value_name = "K/N", value_parser = parse_worker)]
    pub worker: Option<(u32, u32)>,
    /// Count what would be written (items to upgrade or re-index), writing nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The tenant whose items to process, for a tenant-scoped entity
    #[arg(long, value_name = "ID", conflicts_with = "all_tenants")]
    pub tenant: Option<String>,
    /// Process every tenant's items, for a tenant-scoped entity
    #[arg(long)]
    pub all_tenants: bool,
}

/// Reads `K/N`.
fn parse_worker(text: &str) -> std::result::Result<(u32, u32), String> {
    let invalid = || format!("`{text}` is not K/N, such as 3/8 (worker 3 of 8, counted from 0)");
    let (index, of) = text.split_once('/').ok_or_else(invalid)?;
    let (index, of): (u32, u32) = (
        index.trim().parse().map_err(|_| invalid())?,
        of.trim().parse().map_err(|_| invalid())?,
    );
    if of == 0 || index >= of {
        return Err(format!(
            "worker {index} of {of}: K counts from 0 and must be below N"
        ));
    }
    Ok((index, of))
}

/// Runs the backfill of one registered entity type.
type BackfillFn = for<'a> fn(
    &'a Table,
    &'a BackfillArgs,
    Box<dyn Fn(&Progress) + Send + Sync>,
) -> BoxFuture<'a, singletable_core::Result<BackfillReport>>;

/// The entities a command can backfill, by `_type`, and that [`TableFile::of`] describes.
#[derive(Default)]
pub struct Entities {
    registered: Vec<(&'static str, u32, BackfillFn)>,
    described: Vec<fn() -> EntityFile>,
}

impl std::fmt::Debug for Entities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let types: Vec<_> = self.registered.iter().map(|(t, ..)| t).collect();
        f.debug_struct("Entities").field("types", &types).finish()
    }
}

impl Entities {
    /// No entity.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `E` available to `backfill --type <E::TYPE>`, and to the description of the
    /// table's entities ([`TableFile::of`]).
    pub fn entity<E: Entity>(mut self) -> Self {
        self.registered.push((E::TYPE, E::SCHEMA, backfill_of::<E>));
        self.described.push(describe::<E>);
        self
    }

    /// Whether no entity is registered.
    pub fn is_empty(&self) -> bool {
        self.registered.is_empty()
    }

    /// The description of each registered entity, in the order of registration.
    pub(crate) fn describe(&self) -> Vec<EntityFile> {
        self.described.iter().map(|describe| describe()).collect()
    }
}

/// What the derive says of `E`: its type, key templates, tenant placeholder and index keys.
fn describe<E: Entity>() -> EntityFile {
    let index_keys = E::INDEXES
        .iter()
        .map(|keys| {
            let templates = IndexKeysFile {
                pk: keys.pk.to_string(),
                sk: keys.sk.to_string(),
            };
            (keys.index.to_owned(), templates)
        })
        .collect();
    EntityFile {
        entity_type: E::TYPE.to_owned(),
        pk: E::PARTITION_KEY.to_string(),
        sk: Some(E::SORT_KEY.to_string()),
        tenant: E::TENANT_PARAM.map(str::to_owned),
        indexes: E::INDEXES
            .iter()
            .map(|keys| keys.index.to_owned())
            .collect(),
        index_keys,
        ranges: Vec::new(),
    }
}

fn backfill_of<'a, E: Entity>(
    table: &'a Table,
    args: &'a BackfillArgs,
    progress: Box<dyn Fn(&Progress) + Send + Sync>,
) -> BoxFuture<'a, singletable_core::Result<BackfillReport>> {
    let mut backfill = E::backfill(table)
        .segments(args.segments)
        .concurrency(args.concurrency as usize)
        .on_progress(progress);
    if let Some(path) = &args.checkpoint {
        backfill = backfill.checkpoint(path);
    }
    if let Some((index, of)) = args.worker {
        backfill = backfill.worker(index, of);
    }
    if args.dry_run {
        backfill = backfill.dry_run();
    }
    match (&args.tenant, args.all_tenants) {
        (Some(tenant), _) => Box::pin(tenant::scope(tenant.as_str(), backfill.run())),
        (None, true) => Box::pin(tenant::across_tenants(
            "singletable backfill --all-tenants",
            backfill.run(),
        )),
        (None, false) => Box::pin(backfill.run()),
    }
}

/// Backfills `args.entity` on `table`, printing the counts; an error when any item could not
/// be upgraded.
pub async fn backfill(
    target: &Target,
    table: &str,
    file: Option<&TableFile>,
    entities: &Entities,
    args: &BackfillArgs,
    out: &mut dyn Write,
) -> Result<()> {
    let Some((entity, schema, run)) = entities.registered.iter().find(|(t, ..)| *t == args.entity)
    else {
        let known: Vec<&str> = entities.registered.iter().map(|(t, ..)| *t).collect();
        return Err(Error::Invalid(if known.is_empty() {
            format!(
                "this binary knows no entity to backfill `{}` with; upgrades are Rust functions, \
                 so build a command that registers them: \
                 `singletable_cli::run_with(cli, &Entities::new().entity::<YourEntity>(), &mut out)`",
                args.entity
            )
        } else {
            format!(
                "no entity `{}` is registered for backfill; registered: {}",
                args.entity,
                known.join(", ")
            )
        }));
    };
    let table_handle = match file {
        Some(file) => file.table(target.client.clone(), table),
        None => Table::builder(target.client.clone(), table).build(),
    };
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(format!("bringing {entity} up to date (schema {schema})"));
    let shown = bar.clone();
    let progress = Box::new(move |p: &Progress| shown.set_message(counts(p)));
    let report = run(&table_handle, args, progress).await;
    bar.finish_and_clear();
    let report = report.map_err(|e| Error::core(e, table, &target.place))?;
    let write = |out: &mut dyn Write, text: String| {
        writeln!(out, "{text}").map_err(|source| Error::Io {
            action: "cannot write the output",
            source,
        })
    };
    let resumed = match (report.dry_run, report.resumed) {
        (true, _) => " (dry run: nothing written)",
        (false, true) => " (resumed)",
        (false, false) => "",
    };
    write(
        out,
        format!(
            "{entity} schema {schema}{resumed}: {}",
            counts(&report.progress)
        ),
    )?;
    for (key, cause) in &report.failures {
        write(out, format!("  not brought up to date: {key}: {cause}"))?;
    }
    if report.progress.failed > 0 {
        return Err(Error::Invalid(format!(
            "{} items of `{entity}` could not be brought up to date; they stay as they are",
            report.progress.failed
        )));
    }
    Ok(())
}

fn counts(p: &Progress) -> String {
    format!(
        "scanned {}, upgraded {}, re-indexed {}, already current {}, failed {} ({} of {} segments done)",
        p.scanned, p.upgraded, p.reindexed, p.current, p.failed, p.segments_done, p.segments
    )
}
