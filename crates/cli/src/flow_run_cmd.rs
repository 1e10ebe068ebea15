//! `flowgate flow-run ls | inspect | logs`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use flowgate_core::{Micros, StateType};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::client::Client;
use crate::table;

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
    /// Show one flow run.
    Inspect {
        /// The flow run's id.
        id: Uuid,
        /// Print JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Resume a paused flow run, with the input it waits for.
    Resume {
        /// The flow run's id.
        id: Uuid,
        /// The input, as JSON (e.g. '{"size": "medium", "color": "red"}').
        #[arg(long, conflicts_with = "input_file")]
        input: Option<String>,
        /// A file holding the input as JSON.
        #[arg(long)]
        input_file: Option<std::path::PathBuf>,
    },
    /// Cancel a flow run.
    Cancel {
        /// The flow run's id.
        id: Uuid,
    },
    /// Print a flow run's logs.
    Logs {
        /// The flow run's id.
        id: Uuid,
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
        FlowRunCommand::Inspect { id, json } => inspect(&client, id, json).await,
        FlowRunCommand::Logs { id, follow, json } => logs(&client, id, follow, json).await,
        FlowRunCommand::Resume {
            id,
            input,
            input_file,
        } => resume(&client, id, input, input_file).await,
        FlowRunCommand::Cancel { id } => cancel(&client, id).await,
    }
}

/// The state filters `--state` asks for: one by type (`RUNNING`), one by name
/// (`AwaitingRetry`); a run matching either is listed.
fn state_filters(states: &[String]) -> Vec<Value> {
    let (types, names): (Vec<_>, Vec<_>) =
        states.iter().partition(|s| StateType::parse(s).is_some());
    let mut filters = Vec::new();
    if !types.is_empty() {
        let types: Vec<_> = types
            .iter()
            .filter_map(|s| StateType::parse(s))
            .map(StateType::as_str)
            .collect();
        filters.push(json!({"type": {"any_": types}}));
    }
    if !names.is_empty() {
        filters.push(json!({"name": {"any_": names}}));
    }
    filters
}

/// Merges result pages (each newest first) into one list, newest first, without duplicates.
fn merge_newest_first(pages: Vec<Value>, limit: u32) -> Vec<Value> {
    let mut runs: Vec<Value> = pages
        .into_iter()
        .flat_map(|p| p.as_array().cloned().unwrap_or_default())
        .collect();
    runs.sort_by(|a, b| {
        let key = |r: &Value| {
            (
                r["created"].as_str().unwrap_or_default().to_owned(),
                r["id"].as_str().unwrap_or_default().to_owned(),
            )
        };
        key(b).cmp(&key(a))
    });
    runs.dedup_by(|a, b| a["id"] == b["id"]);
    runs.truncate(limit as usize);
    runs
}

fn short_time(v: &Value) -> String {
    v.as_str()
        .and_then(|s| Micros::parse(s).ok())
        .map(|m| m.to_timestamp().strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".to_owned())
}

fn duration(run: &Value) -> String {
    let secs = run["estimated_run_time"].as_f64().unwrap_or(0.0);
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    }
}

async fn flow_names(client: &Client, runs: &[Value]) -> anyhow::Result<HashMap<String, String>> {
    let ids: Vec<&str> = runs.iter().filter_map(|r| r["flow_id"].as_str()).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let flows = client
        .post(
            "/flows/filter",
            &json!({"flows": {"id": {"any_": ids}}, "limit": 10000}),
        )
        .await?;
    Ok(flows
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| Some((f["id"].as_str()?.to_owned(), f["name"].as_str()?.to_owned())))
        .collect())
}

async fn ls(
    client: &Client,
    states: &[String],
    flow: Option<String>,
    limit: u32,
    as_json: bool,
) -> anyhow::Result<()> {
    let mut body = json!({"sort": "CREATED_DESC", "limit": limit, "flow_runs": {}});
    if let Some(flow) = flow {
        body["flows"] = json!({"name": {"any_": [flow]}});
    }
    let filters = state_filters(states);
    let mut runs = Vec::new();
    if filters.is_empty() {
        runs.push(client.post("/flow_runs/filter", &body).await?);
    }
    for state in filters {
        body["flow_runs"]["state"] = state;
        runs.push(client.post("/flow_runs/filter", &body).await?);
    }
    let runs = merge_newest_first(runs, limit);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(());
    }
    if runs.is_empty() {
        eprintln!("No flow runs found.");
        return Ok(());
    }
    let flows = flow_names(client, &runs).await?;
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r["id"].as_str().unwrap_or_default().to_owned(),
                flows
                    .get(r["flow_id"].as_str().unwrap_or_default())
                    .cloned()
                    .unwrap_or_default(),
                r["name"].as_str().unwrap_or_default().to_owned(),
                r["state_name"].as_str().unwrap_or("-").to_owned(),
                short_time(&r["start_time"]),
                duration(r),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &["ID", "FLOW", "NAME", "STATE", "STARTED", "DURATION"],
            &rows
        )
    );
    Ok(())
}

async fn inspect(client: &Client, id: Uuid, as_json: bool) -> anyhow::Result<()> {
    let run = client.get(&format!("/flow_runs/{id}")).await?;
    let task_runs = client
        .post(
            "/task_runs/count",
            &json!({"flow_runs": {"id": {"any_": [id]}}}),
        )
        .await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&run)?);
        return Ok(());
    }
    let flows = flow_names(client, std::slice::from_ref(&run)).await?;
    let flow = flows
        .get(run["flow_id"].as_str().unwrap_or_default())
        .cloned()
        .unwrap_or_default();
    println!("{flow} > {}", run["name"].as_str().unwrap_or_default());
    let fields = [
        ("ID", run["id"].as_str().unwrap_or_default().to_owned()),
        (
            "State",
            run["state_name"].as_str().unwrap_or("-").to_owned(),
        ),
        (
            "Message",
            run["state"]["message"].as_str().unwrap_or("").to_owned(),
        ),
        ("Started", short_time(&run["start_time"])),
        ("Ended", short_time(&run["end_time"])),
        ("Duration", duration(&run)),
        ("Run count", run["run_count"].to_string()),
        ("Task runs", task_runs.to_string()),
        ("Parameters", run["parameters"].to_string()),
        ("Tags", run["tags"].to_string()),
    ];
    for (k, v) in fields {
        println!("  {k:<11} {v}");
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
    let mut body = json!({"resumed_by": format!("{who} (flowgate CLI)")});
    if let Some(text) = text {
        let input: Value = serde_json::from_str(&text).context("the input is not valid JSON")?;
        body["run_input"] = input;
    }
    let answer = client
        .post(&format!("/flow_runs/{id}/resume"), &body)
        .await?;
    if answer["status"] == "ACCEPT" {
        println!("Resumed flow run {id}.");
        return Ok(());
    }
    let reason = answer["details"]["reason"]
        .as_str()
        .unwrap_or("the server refused it");
    let mut message = format!("flow run {id} was not resumed:");
    for failure in reason.split("; ") {
        message.push_str("\n  - ");
        message.push_str(failure);
    }
    anyhow::bail!(message)
}

async fn cancel(client: &Client, id: Uuid) -> anyhow::Result<()> {
    let body = json!({"state": {"type": "CANCELLED", "name": "Cancelled", "message": "Cancelled from the flowgate CLI"}});
    let answer = client
        .post(&format!("/flow_runs/{id}/set_state"), &body)
        .await?;
    if answer["status"] == "ACCEPT" {
        println!("Cancelled flow run {id}.");
        return Ok(());
    }
    anyhow::bail!(
        "flow run {id} was not cancelled: {}",
        answer["details"]["reason"]
            .as_str()
            .unwrap_or("the server refused it")
    )
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

async fn logs(client: &Client, id: Uuid, follow: bool, as_json: bool) -> anyhow::Result<()> {
    let run = client
        .get(&format!("/flow_runs/{id}"))
        .await
        .context("cannot show logs")?;
    // Whether the run had finished before the page below was read. Read after it, a line posted
    // between the two reads just before the run finished would never be printed.
    let mut finished = is_terminal(&run);
    let mut printed: HashSet<String> = HashSet::new();
    let mut since: Option<Micros> = None;
    loop {
        let mut filter = json!({"flow_run_id": {"any_": [id]}});
        if let Some(t) = since {
            filter["timestamp"] = json!({"after_": t.plus_seconds(-LATE_LINES).to_string()});
        }
        let mut lines = Vec::new();
        loop {
            let body = json!({"logs": filter, "sort": "TIMESTAMP_ASC", "limit": 1000, "offset": lines.len()});
            let page = client.post("/logs/filter", &body).await?;
            let page = page.as_array().cloned().unwrap_or_default();
            let full = page.len() == 1000;
            lines.extend(page);
            if !full {
                break;
            }
        }
        let mut new = 0;
        for l in &lines {
            let line_id = l["id"].as_str().unwrap_or_default().to_owned();
            let at = l["timestamp"].as_str().and_then(|s| Micros::parse(s).ok());
            if let Some(at) = at {
                since = Some(since.map_or(at, |s| s.max(at)));
            }
            if !printed.insert(line_id) {
                continue;
            }
            new += 1;
            if as_json {
                println!("{l}");
            } else {
                let at = at
                    .map(|m| m.to_timestamp().strftime("%H:%M:%S%.3f").to_string())
                    .unwrap_or_default();
                println!(
                    "{at} | {:<8} | {} - {}",
                    level_name(l["level"].as_i64().unwrap_or(20)),
                    l["name"].as_str().unwrap_or_default(),
                    l["message"].as_str().unwrap_or_default()
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

fn is_terminal(run: &Value) -> bool {
    run["state_type"]
        .as_str()
        .and_then(StateType::parse)
        .is_some_and(StateType::is_terminal)
}
