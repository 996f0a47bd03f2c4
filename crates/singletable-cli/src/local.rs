//! `local`: run DynamoDB Local in the foreground until interrupted.

use std::io::Write;

use singletable_local::DynamoDbLocal;

use crate::error::{Error, Result};

/// Options of `local`.
#[derive(clap::Args, Clone, Debug)]
pub struct LocalArgs {
    /// Port on 127.0.0.1 [default: a free one]
    #[arg(long)]
    pub port: Option<u16>,
}

/// Starts DynamoDB Local (installing it first if needed), writes its endpoint as one line to
/// `out`, and stops it on Ctrl-C (SIGINT) or SIGTERM.
pub fn local(args: &LocalArgs, out: &mut dyn Write) -> Result<()> {
    let runtime = crate::runtime()?;
    let db = match args.port {
        Some(port) => DynamoDbLocal::spawn_on_port(port)?,
        None => DynamoDbLocal::spawn()?,
    };
    // Installed before the endpoint is printed, so that whoever reads it may stop us at once.
    let signals = {
        let _context = runtime.enter();
        Signals::install().map_err(|source| Error::Io {
            action: "cannot listen for signals",
            source,
        })?
    };
    // Scripts read this line to learn the endpoint, so it must not wait in a buffer.
    writeln!(out, "{}", db.endpoint())
        .and_then(|()| out.flush())
        .map_err(Error::output)?;
    runtime.block_on(signals.wait());
    // Dropping stops Java and waits for it to exit.
    drop(db);
    Ok(())
}

#[cfg(unix)]
pub(crate) struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    pub(crate) fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    pub(crate) async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

#[cfg(not(unix))]
pub(crate) struct Signals;

#[cfg(not(unix))]
impl Signals {
    pub(crate) fn install() -> std::io::Result<Self> {
        Ok(Self)
    }

    pub(crate) async fn wait(self) {
        // Without a handler Ctrl-C would end the process before Java is stopped; an error
        // here means no handler could be installed, and then there is nothing to wait for.
        let _ = tokio::signal::ctrl_c().await;
    }
}
