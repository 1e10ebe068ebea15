//! `flowgate flow-run ls | inspect | logs | resume | suspend | cancel`; a run is named by its
//! id or its name.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use flowgate_core::orchestration::cancellation_state;
use flowgate_core::{Micros, StateType};
use flowgate_wire::filters::{
    AnyOf, FlowFilter, FlowRunFilter, FlowRunFilterRequest, FlowRunSort, IdFilter, LogFilter,
    LogFilterRequest, LogSort, NameFilter, StateFilter, StateTypeFilter, TaskRunCountRequest,
    TimeFilter,
};
use flowgate_wire::flow_runs::FlowRun;
use flowgate_wire::inputs::ResumeRequest;
use flowgate_wire::logs::Log;
use flowgate_wire::states::{OrchestrationResult, SetState, SetStateStatus, StateCreate};
use serde_json::Value;
use uuid::Uuid;

use crate::client::Client;
use crate::out::{out, outln};
use crate::{paused_input, run_ref, table};

/// Flow-run commands.
#[derive(Subcommand)]
pub enum FlowRunCommand {
    /// List flow runs, newest first.
    Ls {
        /// Only runs in this state: a type (RUNNING, COMPLETED, ...) or a name (AwaitingRetry).
        #[arg(long)]
        state: Vec<String>,
        /// Only runs of this flow.
        #[arg(long)]
        flow: Option<String>,
        /// How many runs to show.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one flow run (and, when it is paused, the input it waits for).
    Inspect {
        /// The flow run's id or name.
        run: String,
        /// Print JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Resume a paused flow run, with the input it waits for.
    Resume {
        /// The flow run's id or name.
        run: String,
        /// The input, as JSON (e.g. '{"size": "medium", "color": "red"}').
        #[arg(long, conflicts_with = "input_file")]
        input: Option<String>,
        /// A file holding the input as JSON.
        #[arg(long)]
        input_file: Option<std::path::PathBuf>,
    },
    /// Suspend a running flow run of a deployment: it stops at its next task call and its
    /// process ends; `flow-run resume` has a worker run it again, reusing its completed tasks.
    Suspend {
        /// The flow run's id or name.
        run: String,
        /// Fail the run if nobody resumes it within this many seconds (no limit by default).
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Cancel a flow run.
    Cancel {
        /// The flow run's id or name.
        run: String,
    },
    /// Print a flow run's logs.
    Logs {
        /// The flow run's id or name.
        run: String,
        /// Keep printing new logs until the run finishes.
        #[arg(long, short)]
        follow: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a flow-run command.
pub async fn run(client: Client, command: FlowRunCommand) -> anyhow::Result<()> {
    match command {
        FlowRunCommand::Ls {
            state,
            flow,
            limit,
            json,
        } => ls(&client, &state, flow, limit, json).await,
        FlowRunCommand::Inspect { run, json } => {
            inspect(&client, run_ref::resolve(&client, &run).await?, json).await
        }
        FlowRunCommand::Logs { run, follow, json } => {
            logs(
                &client,
                run_ref::resolve(&client, &run).await?,
                follow,
                json,
            )
            .await
        }
        FlowRunCommand::Resume {
            run,
            input,
            input_file,
        } => {
            let id = run_ref::resolve(&client, &run).await?;
            resume(&client, id, input, input_file).await
        }
        FlowRunCommand::Suspend { run, timeout } => {
            suspend(&client, run_ref::resolve(&client, &run).await?, timeout).await
        }
        FlowRunCommand::Cancel { run } => {
            cancel(&client, run_ref::resolve(&client, &run).await?).await
        }
    }
}

/// The state filters `--state` asks for: one by type (`RUNNING`), one by name
/// (`AwaitingRetry`); a run matching either is listed.
fn state_filters(states: &[String]) -> Vec<StateFilter> {
    let (types, names): (Vec<_>, Vec<_>) =
        states.iter().partition(|s| StateType::parse(s).is_some());
    let mut filters = Vec::new();
    if !types.is_empty() {
        let types: Vec<_> = types.iter().filter_map(|s| StateType::parse(s)).collect();
        filters.push(StateFilter {
            state_type: Some(StateTypeFilter {
                any_: Some(types),
                not_any_: None,
            }),
            ..Default::default()
        });
    }
    if !names.is_empty() {
        filters.push(StateFilter {
            name: Some(AnyOf::new(names.into_iter().cloned())),
            ..Default::default()
        });
    }
    filters
}

/// Merges result pages (each newest first) into one list, newest first, without duplicates.
fn merge_newest_first(pages: Vec<Vec<FlowRun>>, limit: u32) -> Vec<FlowRun> {
    let mut runs: Vec<FlowRun> = pages.into_iter().flatten().collect();
    runs.sort_by_key(|r| std::cmp::Reverse((r.created, r.id)));
    runs.dedup_by(|a, b| a.id == b.id);
    runs.truncate(limit as usize);
    runs
}

/// A time as `YYYY-MM-DD HH:MM:SS` (UTC), or `-`.
pub fn short_time(t: Option<Micros>) -> String {
    t.map(|m| m.to_timestamp().strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".to_owned())
}

fn duration(run: &FlowRun) -> String {
    let secs = run.estimated_run_time;
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    }
}

async fn ls(
    client: &Client,
    states: &[String],
    flow: Option<String>,
    limit: u32,
    as_json: bool,
) -> anyhow::Result<()> {
    let mut body = FlowRunFilterRequest {
        sort: Some(FlowRunSort::CreatedDesc),
        limit: Some(i64::from(limit)),
        flow_runs: Some(FlowRunFilter::default()),
        flows: flow.map(|flow| FlowFilter {
            name: Some(NameFilter {
                any_: Some(vec![flow]),
                like_: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let filters = state_filters(states);
    let mut pages = Vec::new();
    if filters.is_empty() {
        pages.push(client.post("/flow_runs/filter", &body).await?);
    }
    for state in filters {
        body.flow_runs = Some(FlowRunFilter {
            state: Some(state),
            ..Default::default()
        });
        pages.push(client.post("/flow_runs/filter", &body).await?);
    }
    let runs = merge_newest_first(pages, limit);
    if as_json {
        outln!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(());
    }
    if runs.is_empty() {
        eprintln!("No flow runs found.");
        return Ok(());
    }
    let flows = client.flow_names(runs.iter().map(|r| r.flow_id)).await?;
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                flows.get(&r.flow_id).cloned().unwrap_or_default(),
                r.name.clone(),
                r.state_name.clone().unwrap_or_else(|| "-".to_owned()),
                short_time(r.start_time),
                duration(r),
            ]
        })
        .collect();
    out!(
        "{}",
        table::render(
            &["ID", "FLOW", "NAME", "STATE", "STARTED", "DURATION"],
            &rows
        )
    );
    Ok(())
}

async fn inspect(client: &Client, id: Uuid, as_json: bool) -> anyhow::Result<()> {
    let run: FlowRun = client.get(&format!("/flow_runs/{id}")).await?;
    let of_run = TaskRunCountRequest {
        flow_runs: Some(FlowRunFilter {
            id: Some(IdFilter {
                any_: Some(vec![id]),
                not_any_: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let task_runs: i64 = client.post("/task_runs/count", &of_run).await?;
    let waiting = paused_input::read(client, &run).await;
    if as_json {
        let mut out = serde_json::to_value(&run)?;
        if let Some(input) = &waiting {
            out["run_input"] =
                serde_json::json!({"description": input.description, "schema": input.schema});
        }
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let flows = client.flow_names([run.flow_id]).await?;
    let flow = flows.get(&run.flow_id).cloned().unwrap_or_default();
    outln!("{flow} > {}", run.name);
    let message = run.state.as_ref().and_then(|s| s.message.clone());
    let fields = [
        ("ID", run.id.to_string()),
        (
            "State",
            run.state_name.clone().unwrap_or_else(|| "-".to_owned()),
        ),
        ("Message", message.unwrap_or_default()),
        ("Started", short_time(run.start_time)),
        ("Ended", short_time(run.end_time)),
        ("Duration", duration(&run)),
        ("Run count", run.run_count.to_string()),
        ("Task runs", task_runs.to_string()),
        ("Parameters", run.parameters.to_string()),
        ("Tags", serde_json::to_string(&run.tags)?),
    ];
    for (k, v) in fields {
        outln!("  {k:<11} {v}");
    }
    match waiting {
        Some(input) => {
            outln!(
                "  Waiting for input; resume with: flowgate flow-run resume {} --input '{{…}}'",
                run.name
            );
            out!("{}", paused_input::render(&input));
        }
        None if run.state_type == Some(StateType::Paused) => {
            outln!(
                "  Waiting to be resumed: flowgate flow-run resume {}",
                run.name
            );
        }
        None => {}
    }
    Ok(())
}

async fn resume(
    client: &Client,
    id: Uuid,
    input: Option<String>,
    input_file: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let text = match (input, input_file) {
        (Some(text), _) => Some(text),
        (None, Some(path)) => Some(
            std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        (None, None) => None,
    };
    let who = std::env::var("USER").unwrap_or_else(|_| "someone".to_owned());
    let run_input = text
        .map(|text| serde_json::from_str::<Value>(&text))
        .transpose()
        .context("the input is not valid JSON")?;
    let body = ResumeRequest {
        run_input,
        resumed_by: Some(format!("{who} (flowgate CLI)")),
    };
    let answer: OrchestrationResult = client
        .post(&format!("/flow_runs/{id}/resume"), &body)
        .await?;
    if answer.status == SetStateStatus::Accept {
        outln!("Resumed flow run {id}.");
        return Ok(());
    }
    let reason = answer.reason().unwrap_or("the server refused it");
    let mut message = format!("flow run {id} was not resumed:");
    for failure in reason.split("; ") {
        message.push_str("\n  - ");
        message.push_str(failure);
    }
    anyhow::bail!(message)
}

/// Suspends a run from outside, as Prefect's `suspend_flow_run(flow_run_id=…)` does: `Paused`
/// named `Suspended`, rescheduled on resume, under a pause key of its own. The server refuses a
/// run that is not Running or not a deployment's (`core::orchestration`); the flow learns of it
/// from its state events and stops at its next task call.
async fn suspend(client: &Client, id: Uuid, timeout: Option<u64>) -> anyhow::Result<()> {
    let mut details = serde_json::Map::new();
    details.insert("pause_key".into(), Uuid::new_v4().to_string().into());
    details.insert("pause_reschedule".into(), true.into());
    if let Some(seconds) = timeout {
        let now = Micros::from_timestamp(jiff::Timestamp::now());
        let until = now.plus_seconds(seconds as f64);
        details.insert("pause_timeout".into(), until.to_string().into());
    }
    let body = SetState {
        state: StateCreate {
            name: Some("Suspended".to_owned()),
            message: Some("Suspended from the flowgate CLI".to_owned()),
            state_details: Some(details),
            ..StateCreate::new(StateType::Paused)
        },
        force: false,
    };
    let answer: OrchestrationResult = client
        .post(&format!("/flow_runs/{id}/set_state"), &body)
        .await?;
    if answer.status == SetStateStatus::Accept {
        outln!(
            "Suspended flow run {id}: it stops at its next task call and its process ends. \
             Resume it with `flowgate flow-run resume {id}`."
        );
        return Ok(());
    }
    anyhow::bail!(
        "flow run {id} was not suspended: {} (only a running flow run of a deployment can be \
         suspended)",
        answer.reason().unwrap_or("the server refused it")
    )
}

/// Cancels a run: a run a worker or serving process holds is moved to Cancelling (its holder
/// stops the process and ends it Cancelled), any other straight to Cancelled
/// (`core::orchestration::cancellation_state`).
async fn cancel(client: &Client, id: Uuid) -> anyhow::Result<()> {
    let run: FlowRun = client.get(&format!("/flow_runs/{id}")).await?;
    let held = run.deployment_id.is_some() || run.infrastructure_pid.is_some();
    let target = cancellation_state(run.state_type, held);
    let body = SetState {
        state: StateCreate {
            name: Some(target.default_name().to_owned()),
            message: Some("Cancelled from the flowgate CLI".to_owned()),
            ..StateCreate::new(target)
        },
        force: false,
    };
    let answer: OrchestrationResult = client
        .post(&format!("/flow_runs/{id}/set_state"), &body)
        .await?;
    match answer.status {
        SetStateStatus::Accept if target == StateType::Cancelling => {
            outln!("Cancelling flow run {id}: its worker stops the process.");
            Ok(())
        }
        SetStateStatus::Accept => {
            outln!("Cancelled flow run {id}.");
            Ok(())
        }
        _ => anyhow::bail!(
            "flow run {id} was not cancelled: {}",
            answer.reason().unwrap_or("the server refused it")
        ),
    }
}

fn level_name(level: i64) -> &'static str {
    match level {
        ..=10 => "DEBUG",
        11..=20 => "INFO",
        21..=30 => "WARNING",
        31..=40 => "ERROR",
        _ => "CRITICAL",
    }
}

/// How far back each `--follow` poll looks again, for lines that arrive late with older
/// timestamps (clients send logs in batches).
const LATE_LINES: f64 = 5.0;
/// Lines per page read.
const LOG_PAGE: usize = 1000;

async fn logs(client: &Client, id: Uuid, follow: bool, as_json: bool) -> anyhow::Result<()> {
    let run: FlowRun = client
        .get(&format!("/flow_runs/{id}"))
        .await
        .context("cannot show logs")?;
    // Whether the run had finished before the page below was read. Read after it, a line posted
    // between the two reads just before the run finished would never be printed.
    let mut finished = is_terminal(&run);
    let mut printed: HashSet<Uuid> = HashSet::new();
    let mut since: Option<Micros> = None;
    loop {
        let filter = LogFilter {
            flow_run_id: Some(AnyOf::new([id])),
            timestamp: since.map(|t| TimeFilter {
                after_: Some(t.plus_seconds(-LATE_LINES)),
                before_: None,
            }),
            ..Default::default()
        };
        let mut lines: Vec<Log> = Vec::new();
        loop {
            let body = LogFilterRequest {
                logs: Some(filter.clone()),
                sort: Some(LogSort::TimestampAsc),
                limit: Some(LOG_PAGE as i64),
                offset: Some(lines.len() as i64),
            };
            let page: Vec<Log> = client.post("/logs/filter", &body).await?;
            let full = page.len() == LOG_PAGE;
            lines.extend(page);
            if !full {
                break;
            }
        }
        let mut new = 0;
        for l in &lines {
            since = Some(since.map_or(l.timestamp, |s| s.max(l.timestamp)));
            if !printed.insert(l.id) {
                continue;
            }
            new += 1;
            if as_json {
                outln!("{}", serde_json::to_string(l)?);
            } else {
                let at = l.timestamp.to_timestamp().strftime("%H:%M:%S%.3f");
                outln!(
                    "{at} | {:<8} | {} - {}",
                    level_name(l.level),
                    l.name,
                    l.message
                );
            }
        }
        if !follow || (finished && new == 0) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        finished = is_terminal(&client.get(&format!("/flow_runs/{id}")).await?);
    }
}

/// Whether the run has ended.
pub fn is_terminal(run: &FlowRun) -> bool {
    run.state_type.is_some_and(StateType::is_terminal)
}
