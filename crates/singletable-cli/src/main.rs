//! The `singletable` command; the work is done in the library.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use singletable_cli::{Cli, Error};

fn main() -> ExitCode {
    match singletable_cli::run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`singletable inspect | head`): nothing is wrong.
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(error) => {
            // Nothing is left to do if standard error is gone too.
            let _ = writeln!(std::io::stderr(), "error: {error}");
            ExitCode::FAILURE
        }
    }
}
