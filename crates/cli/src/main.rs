//! `flowgate`: the server, and the command line for people and scripts.

// Commands print through `out` (a closed pipe ends them quietly); `println!` would panic.
#![warn(clippy::print_stdout)]

mod automation_cmd;
mod automation_report;
mod client;
mod concurrency_limit_cmd;
mod deployment_cmd;
mod event_cmd;
mod flow_run_cmd;
mod out;
mod paused_input;
mod run_ref;
mod server_cmd;
mod stop_signals;
mod table;
mod tag_limit_cmd;
mod work_pool_cmd;
mod work_queue_cmd;
mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: the server allocates many short-lived JSON values per event; glibc's allocator
/// spent a fifth of ingest time in malloc/free and fragmented the heap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Flowgate: workflow orchestration. Runs the server and inspects what it records.
#[derive(Parser)]
#[command(name = "flowgate", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server.
    Server {
        #[command(subcommand)]
        command: server_cmd::ServerCommand,
    },
    /// Inspect flow runs.
    FlowRun {
        #[command(flatten)]
        api: client::ApiArgs,
        #[command(subcommand)]
        command: flow_run_cmd::FlowRunCommand,
    },
    /// Manage work pools: where runs wait for workers.
    WorkPool {
        #[command(flatten)]
        api: client::ApiArgs,
        #[command(subcommand)]
        command: work_pool_cmd::WorkPoolCommand,
    },
    /// Manage a pool's work queues: priorities and limits.
    WorkQueue {
        #[command(flatten)]
        api: client::ApiArgs,
        #[command(subcommand)]
        command: work_queue_cmd::WorkQueueCommand,
    },
    /// Manage deployments and ask for their runs.
    Deployment {
        #[command(flatten)]
        api: client::ApiArgs,
        #[command(subcommand)]
        command: deployment_cmd::DeploymentCommand,
    },
    /// Manage global concurrency limits and rate limits.
    #[command(alias = "gcl")]
    GlobalConcurrencyLimit {
        #[command(flatten)]
        api: client::ApiArgs,
        #[command(subcommand)]
        command: concurrency_limit_cmd::GlobalLimitCommand,
    },
    /// Manage task-run concurrency limits by tag.
    ConcurrencyLimit {
        #[command(flatten)]
        api: client::ApiArgs,
        #[command(subcommand)]
        command: tag_limit_cmd::TagLimitCommand,
    },
    /// Manage automations: triggers and the actions they run, and why they (did not) fire.
    Automation {
        #[command(flatten)]
        api: client::ApiArgs,
        #[command(subcommand)]
        command: automation_cmd::AutomationCommand,
    },
    /// List, follow and emit events.
    Event {
        #[command(flatten)]
        api: client::ApiArgs,
        #[command(subcommand)]
        command: event_cmd::EventCommand,
    },
    /// Run a pool's flow runs as processes.
    Worker {
        #[command(flatten)]
        api: client::ApiArgs,
        #[command(subcommand)]
        command: worker::WorkerCommand,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors exit 1 like every other failure; --help and --version exit 0.
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Server { command } => server_cmd::run(command).await,
            Command::FlowRun { api, command } => flow_run_cmd::run(api.client()?, command).await,
            Command::WorkPool { api, command } => work_pool_cmd::run(api.client()?, command).await,
            Command::WorkQueue { api, command } => {
                work_queue_cmd::run(api.client()?, command).await
            }
            Command::Deployment { api, command } => {
                deployment_cmd::run(api.client()?, command).await
            }
            Command::GlobalConcurrencyLimit { api, command } => {
                concurrency_limit_cmd::run(api.client()?, command).await
            }
            Command::ConcurrencyLimit { api, command } => {
                tag_limit_cmd::run(api.client()?, command).await
            }
            Command::Automation { api, command } => {
                automation_cmd::run(api.client()?, command).await
            }
            Command::Event { api, command } => event_cmd::run(api.client()?, command).await,
            Command::Worker { api, command } => worker::run(api.client()?, command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
