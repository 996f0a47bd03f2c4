//! The `singletable` command, for day-to-day work against a single table, local or on AWS.
//!
//! ```text
//! singletable local [--port N]
//! singletable create-table --file table.toml [--table NAME]
//! singletable inspect [--table NAME] [--file table.toml] [--partition PK] [--limit N]
//!                     [--format table|json]
//! singletable backfill --type TYPE [--table NAME] [--file table.toml] [--segments N]
//!                      [--concurrency N] [--checkpoint PATH] [--worker K/N] [--dry-run]
//!                      [--tenant ID | --all-tenants]
//! singletable reindex ...          (the same command)
//! singletable studio --file table.toml [--table NAME] [--port N]
//! ```
//!
//! Every command takes `--endpoint URL` (default: `$DYNAMODB_ENDPOINT`, else AWS) and
//! `--region` (default: the environment or AWS config, else `us-east-1` with an endpoint).
//! With an endpoint and no `AWS_ACCESS_KEY_ID`, dummy credentials are used, as DynamoDB Local
//! needs some, and requests time out after a few seconds.
//!
//! - `local` starts DynamoDB Local (installing it into a cache folder the first time, see
//!   `singletable-local`), prints its endpoint as one line, such as `http://127.0.0.1:8000`,
//!   and runs until Ctrl-C or SIGTERM.
//! - `create-table` creates the table a description file describes, with the runtime's
//!   `Table::create_table`, and prints what it created.
//! - `inspect` reads one partition (`--partition`, a Query) or the whole table (a Scan),
//!   following every page, and prints the items grouped by `_type`. Each item's keys are
//!   parsed back into their parameters: with the entity's templates from `--file`
//!   (`tenant_id = t1, organization_id = o1, id = a`), otherwise by splitting the key on the
//!   separator into literal and value (`TENANT = t1, ORG = o1`). `--format json` prints one
//!   document, `{ "TEAM": [ { "pk": …, "sk": …, "keys": {…}, "item": {…} } ] }`, with
//!   attribute values as plain JSON.
//!
//!   With `--file`, each type's group ends with one line per attribute that some of the
//!   items read lack and an index lists them by (`_timestamp`; `_tenant_type` for an entity
//!   with a `tenant`; the keys of its `indexes`, informational as an index may be sparse), such
//!   as ``3 of 10 items have no _tenant_type: the tenant type index does not list them; run
//!   `singletable reindex --type TEAM --all-tenants` ``, so that a short listing is never left
//!   unexplained (`of the N items read` when `--limit` stopped the reading). The JSON
//!   document has no place for these counts and is unchanged: the same lines go to standard
//!   error, as `warning: TEAM: 3 of 10 items have no _tenant_type: …`.
//! - `backfill`, also called `reindex`, brings the items of one entity up to date (see the
//!   runtime's `Backfill`): items written with an older schema are upgraded, and items missing
//!   the keys of a new or changed index or `_tenant_type` are re-indexed. A parallel scan,
//!   bounded writes, a progress line on a terminal, a resumable `--checkpoint`, and the counts
//!   at the end. `--dry-run` counts what it would write; `--worker K/N` reads worker K's share
//!   of the `--segments` (K from 0), so N machines split one run; a tenant-scoped entity needs
//!   `--tenant ID` or `--all-tenants`. Upgrades are Rust functions, so only a binary that
//!   registers its entities can run it: [`run_with`] with [`Entities`].
//! - `studio` serves a local web app over the table on 127.0.0.1 (`--port`, else a free port),
//!   printing `studio: http://127.0.0.1:PORT/`, until Ctrl-C: the entity chart (entities ×
//!   key attributes, with range queries and collections), item counts per type and per tenant,
//!   a partition browser that takes the parameters of a template and pages through the
//!   partition, collections as trees, and an item's audit trail as a timeline of old → new
//!   values. It draws from `--file`, or, in a binary that registers its entities with
//!   [`run_with`], from their derives ([`TableFile::of`]); it answers `GET` only and writes
//!   nothing; see [`studio`]. A service can also start it in-process with [`studio::Studio`].
//!
//! Errors are printed as one line on standard error, such as
//! `error: table `Orders` does not exist at http://127.0.0.1:8000`, and the exit code is 1.
//!
//! # The table description file
//!
//! TOML. Only `name` is needed by `create-table` (unless `--table` is given); the entities are
//! what `inspect` parses keys with.
//!
//! ```toml
//! name = "MultiTenantApp"          # the table; --table overrides it
//! partition_key = "pk"             # default "pk"
//! sort_key = "sk"                  # default "sk"
//! separator = "#"                  # default "#"; joins key parts
//! type_index = "TypeIndex"         # optional GSI on _type / _timestamp
//! tenant_type_index = "TenantTypeIndex"  # optional GSI on _tenant_type / _timestamp
//! ttl_attribute = "expiresAt"      # optional; time to live is turned on for it
//!
//! [[index]]                        # any number of further GSIs, string keys
//! name = "ByEmail"
//! partition_key = "gsi1pk"
//! sort_key = "gsi1sk"
//!
//! [[entity]]                       # any number; `type` is the items' `_type`
//! type = "TEAM"
//! pk = "TENANT#<tenant_id>#ORG#<organization_id>"
//! sk = "TEAM#<id>"                 # optional
//! tenant = "tenant_id"             # optional; the placeholder that holds the tenant
//! indexes = ["ByEmail"]            # optional; the [[index]]es whose keys its items carry
//!
//! [entity.index_keys]              # optional; the templates of those keys (for `studio`)
//! ByEmail = { pk = "EMAIL#<email>", sk = "TEAM#<id>" }
//!
//! [[entity.range]]                 # any number of named range queries (for `studio`)
//! name = "by_id"                   # and one operator: eq, begins_with, between, lt, le, gt, ge
//! begins_with = "TEAM#<id>"
//!
//! [[collection]]                   # any number (for `studio`): a root and what joins it
//! name = "TeamWithMembers"
//! root = "TEAM"
//! # Each join names an entity (`type`) or a collection described above it (`collection`),
//! # optionally a relation of key parameters (joined item's = root's) and an order.
//! join = [{ field = "members", type = "TEAM_MEMBER", on = { team_id = "id" }, order_by = "username" }]
//! ```
//!
//! Unknown fields are refused, so that a misspelt one is not silently ignored; templates are
//! checked with the same grammar as `#[entity(...)]`, an entity's `tenant` must be a
//! placeholder of its templates and its `indexes` declared `[[index]]`es. `tenant` and
//! `indexes` tell `inspect` what the entity's items must carry to be listed. A collection's
//! root and joined entities must be described and share the root's partition key template, and
//! the parameters of `on` must be key parameters of the joined entity and of the root.
//! `examples/table.toml` in this crate is a complete example.
//!
//! # As a library
//!
//! [`Cli`] is the parsed command line and [`run`] executes it; each command is also a public
//! async function ([`create_table`], [`inspect`], [`studio::studio`]) taking a [`Target`] made by
//! [`Connection::connect`], and [`TableFile`] reads a description into a `Table`.

#![warn(missing_docs)]

mod backfill;
mod connect;
mod create;
mod describe;
mod error;
mod inspect;
mod local;
pub mod studio;

pub use backfill::{backfill, BackfillArgs, Entities};
pub use connect::{Connection, Target};
pub use create::{create_table, CreateTableArgs};
pub use describe::{
    table_name, CollectionFile, EntityFile, IndexFile, IndexKeysFile, JoinFile, RangeFile,
    TableArgs, TableFile,
};
pub use error::{Error, Result};
pub use inspect::{inspect, parse_key, Format, InspectArgs};
pub use local::{local, LocalArgs};
pub use studio::StudioArgs;

/// The command line.
#[derive(clap::Parser, Clone, Debug)]
#[command(
    name = "singletable",
    version,
    about = "Work with a single-table DynamoDB design"
)]
pub struct Cli {
    /// Where to send requests.
    #[command(flatten)]
    pub connection: Connection,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands. Each is a variant here, an arm in [`run`] and a module of its own.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum Command {
    /// Run DynamoDB Local in the foreground and print its endpoint
    Local(LocalArgs),
    /// Create a table from a description file
    CreateTable(CreateTableArgs),
    /// Print a partition or the whole table, grouped by type, with keys parsed
    Inspect(InspectArgs),
    /// Bring the items of an entity up to date: schema, index keys, `_tenant_type`
    #[command(visible_alias = "reindex")]
    Backfill(BackfillArgs),
    /// Serve a local web app over the table: entity chart, counts, partitions, collections,
    /// audit trails
    Studio(StudioArgs),
}

/// Runs the command, printing its output to standard output. No entity is registered for
/// `backfill`; see [`run_with`].
pub fn run(cli: Cli) -> Result<()> {
    let stdout = std::io::stdout();
    run_with(cli, &Entities::new(), &mut stdout.lock())
}

/// Runs the command with the entities `backfill` can upgrade, printing to `out`.
pub fn run_with(cli: Cli, entities: &Entities, out: &mut dyn std::io::Write) -> Result<()> {
    match &cli.command {
        Command::Local(args) => local(args, out),
        Command::CreateTable(args) => {
            let file = TableFile::load(&args.file)?;
            let name = table_name(args.table.as_deref(), Some(&file))?;
            runtime()?.block_on(async {
                let target = cli.connection.connect().await?;
                create_table(&target, &file, &name, out).await.map(drop)
            })
        }
        Command::Inspect(args) => {
            let (file, name) = args.table.load()?;
            runtime()?.block_on(async {
                let target = cli.connection.connect().await?;
                inspect(&target, &name, file.as_ref(), args, out).await
            })
        }
        Command::Studio(args) => {
            let (file, name) = args.table.load()?;
            runtime()?.block_on(async {
                let target = cli.connection.connect().await?;
                // Without a file, the entities this binary registers, on the default layout.
                let file = file.or_else(|| {
                    let table = singletable_core::Table::builder(target.client.clone(), &name);
                    (!entities.is_empty()).then(|| TableFile::of(&table.build(), entities))
                });
                studio::studio(&target, &name, file, args, out).await
            })
        }
        Command::Backfill(args) => {
            let file = args.file.as_deref().map(TableFile::load).transpose()?;
            let name = table_name(args.table.as_deref(), file.as_ref())?;
            runtime()?.block_on(async {
                let target = cli.connection.connect().await?;
                backfill(&target, &name, file.as_ref(), entities, args, out).await
            })
        }
    }
}

/// The runtime every command runs on; one thread is plenty for a command line tool.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            action: "cannot start the async runtime",
            source,
        })
}
