//! A no-op flow deployed to a work pool, for `scripts/bench worker-throughput --rust-flow`. Run
//! once with `FLOWGATE_API_URL` set, it deploys `noop/throughput` to the pool `bench` with this
//! program as the command; started by `flowgate worker start --pool bench` for a run, its
//! `Deployments::main` runs that run: it reads the run, its flow and its deployment, and reports
//! the flow's Running and Completed states into it.
//!
//! `cargo build --release -p flowgate --example noop_deployment`

use std::process::ExitCode;

use flowgate::{Deployments, flow};

/// Does nothing: what a run costs is the worker's and the SDK's own work.
#[flow]
fn noop() {}

fn main() -> ExitCode {
    Deployments::new()
        .with(noop::deployment("throughput").work_pool("bench"))
        .main()
}
