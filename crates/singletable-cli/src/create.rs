//! `create-table`: create the table a description file describes.

use std::io::Write;
use std::path::PathBuf;

use singletable_core::item::{TENANT_TYPE_ATTRIBUTE, TIMESTAMP_ATTRIBUTE, TYPE_ATTRIBUTE};
use singletable_core::Table;

use crate::connect::Target;
use crate::describe::TableFile;
use crate::error::{Error, Result};

/// Options of `create-table`.
#[derive(clap::Args, Clone, Debug)]
pub struct CreateTableArgs {
    /// Table description (TOML)
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
    /// Table name, instead of `name` in the file
    #[arg(long)]
    pub table: Option<String>,
}

/// Runs `create-table`: creates the table `name` that `file` describes with the runtime's
/// `Table::create_table`, and prints what it made to `out`.
pub async fn create_table(
    target: &Target,
    file: &TableFile,
    name: &str,
    out: &mut dyn Write,
) -> Result<Table> {
    let table = file.table(target.client.clone(), name);
    table
        .create_table()
        .await
        .map_err(|e| Error::core(e, name, &target.place))?;
    describe(&table, &target.place, out).map_err(Error::output)?;
    Ok(table)
}

fn describe(table: &Table, place: &str, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "created table `{}` at {place}", table.name())?;
    writeln!(
        out,
        "  keys   {} (partition), {} (sort), separator `{}`",
        table.partition_key(),
        table.sort_key(),
        table.separator()
    )?;
    let indexes = table
        .type_index()
        .map(|name| (name, TYPE_ATTRIBUTE, TIMESTAMP_ATTRIBUTE))
        .into_iter()
        .chain(
            table
                .tenant_type_index()
                .map(|name| (name, TENANT_TYPE_ATTRIBUTE, TIMESTAMP_ATTRIBUTE)),
        )
        .chain(table.indexes().iter().map(|index| {
            (
                index.name.as_str(),
                index.partition_key.as_str(),
                index.sort_key.as_str(),
            )
        }));
    for (name, pk, sk) in indexes {
        writeln!(out, "  index  {name}: {pk} (partition), {sk} (sort)")?;
    }
    if let Some(attribute) = table.ttl_attribute() {
        writeln!(out, "  ttl    {attribute}")?;
    }
    Ok(())
}
