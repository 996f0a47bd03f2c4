//! `backfill`: rewrites the items of an entity written with an older schema, with the runtime's
//! [`Backfill`](singletable_core::Backfill), showing progress on a terminal.
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
use singletable_core::{BackfillReport, Entity, Progress, Table};

use crate::connect::Target;
use crate::describe::TableFile;
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
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub segments: u32,
    /// Writes in flight per segment
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub concurrency: u32,
    /// Save the position here after every page, and resume from it when it exists
    #[arg(long, value_name = "PATH")]
    pub checkpoint: Option<PathBuf>,
}

/// Runs the backfill of one registered entity type.
type BackfillFn = for<'a> fn(
    &'a Table,
    &'a BackfillArgs,
    Box<dyn Fn(&Progress) + Send + Sync>,
) -> BoxFuture<'a, singletable_core::Result<BackfillReport>>;

/// The entities a command can backfill, by `_type`.
#[derive(Default)]
pub struct Entities {
    registered: Vec<(&'static str, u32, BackfillFn)>,
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

    /// Makes `E` available to `backfill --type <E::TYPE>`.
    pub fn entity<E: Entity>(mut self) -> Self {
        self.registered.push((E::TYPE, E::SCHEMA, backfill_of::<E>));
        self
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
    Box::pin(backfill.run())
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
    bar.set_message(format!("backfilling {entity} to schema {schema}"));
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
    let resumed = if report.resumed { " (resumed)" } else { "" };
    write(
        out,
        format!(
            "{entity} schema {schema}{resumed}: {}",
            counts(&report.progress)
        ),
    )?;
    for (key, cause) in &report.failures {
        write(out, format!("  not upgraded: {key}: {cause}"))?;
    }
    if report.progress.failed > 0 {
        return Err(Error::Invalid(format!(
            "{} items of `{entity}` could not be upgraded; they keep their old schema",
            report.progress.failed
        )));
    }
    Ok(())
}

fn counts(p: &Progress) -> String {
    format!(
        "scanned {}, upgraded {}, already current {}, failed {} ({} of {} segments done)",
        p.scanned, p.upgraded, p.current, p.failed, p.segments_done, p.segments
    )
}
