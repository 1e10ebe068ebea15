//! SIGTERM and SIGINT (Ctrl-C) as requests to stop, for the long-running commands (the server
//! and the worker). Watched from the start of the command, before it announces itself: a
//! signal sent as soon as the process answers must reach its handler, not meet the default
//! action of a signal nobody watches yet.

use anyhow::Context;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Both stop signals, watched from [`StopSignals::watch`] on.
pub struct StopSignals {
    term: Signal,
    interrupt: Signal,
}

impl StopSignals {
    /// Starts watching both; from here on neither ends the process by itself.
    pub fn watch() -> anyhow::Result<StopSignals> {
        Ok(StopSignals {
            term: signal(SignalKind::terminate()).context("could not watch SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("could not watch SIGINT")?,
        })
    }

    /// Waits for the next one, whichever it is.
    pub async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}
