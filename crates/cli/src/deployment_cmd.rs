//! `flowgate deployment ls | inspect | run | pause | resume | delete`. A deployment is named
//! `FLOW/DEPLOYMENT` (as Prefect's CLI names it), by its id, or by its own name when only one
//! deployment has it.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;
use flowgate_wire::deployments::{
    Deployment, DeploymentFilter, DeploymentFilterRequest, DeploymentFlowRunCreate, Schedule,
};
use flowgate_wire::filters::{AnyOf, NameFilter};
use flowgate_wire::flow_runs::FlowRun;
use flowgate_wire::work_pools::WorkPoolFilter;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::client::{Client, segment};
use crate::flow_run_cmd::{is_terminal, short_time};
use crate::out::{out, outln};
use crate::table;
use crate::work_pool_cmd::limit_cell;

/// Deployment commands.
#[derive(Subcommand)]
pub enum DeploymentCommand {
    /// List deployments by flow and name.
    Ls {
        /// Only deployments whose runs wait in this pool.
        #[arg(long)]
        pool: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one deployment: its pool, queue, schedules, parameters and limit.
    Inspect {
        /// FLOW/DEPLOYMENT, an id, or a deployment name only one deployment has.
        deployment: String,
        /// Print JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Ask for a run of a deployment (it waits in the deployment's queue for a worker).
    Run {
        /// FLOW/DEPLOYMENT, an id, or a deployment name only one deployment has.
        deployment: String,
        /// A parameter, KEY=VALUE; VALUE is read as JSON when it is JSON, else as text.
        #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// All parameters as one JSON object (--param entries are applied over it).
        #[arg(long, value_name = "JSON")]
        params_json: Option<String>,
        /// Wait for the run to finish, printing its states; exit 1 unless it completes.
        #[arg(long)]
        watch: bool,
        /// Print the new run as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pause a deployment: no runs are scheduled or handed out until it is resumed.
    Pause {
        /// FLOW/DEPLOYMENT, an id, or a deployment name only one deployment has.
        deployment: String,
    },
    /// Resume a paused deployment.
    Resume {
        /// FLOW/DEPLOYMENT, an id, or a deployment name only one deployment has.
        deployment: String,
    },
    /// Delete a deployment (and its runs that have not started).
    Delete {
        /// FLOW/DEPLOYMENT, an id, or a deployment name only one deployment has.
        deployment: String,
    },
}

/// Runs a deployment command.
pub async fn run(client: Client, command: DeploymentCommand) -> anyhow::Result<()> {
    match command {
        DeploymentCommand::Ls { pool, json } => ls(&client, pool, json).await,
        DeploymentCommand::Inspect { deployment, json } => {
            inspect(&client, &resolve(&client, &deployment).await?, json).await
        }
        DeploymentCommand::Run {
            deployment,
            params,
            params_json,
            watch,
            json,
        } => {
            let parameters = parameters(params_json.as_deref(), &params)?;
            let d = resolve(&client, &deployment).await?;
            run_deployment(&client, &d, parameters, watch, json).await
        }
        DeploymentCommand::Pause { deployment } => {
            let d = resolve(&client, &deployment).await?;
            client
                .post_empty(&format!("/deployments/{}/pause_deployment", d.id), &())
                .await?;
            outln!("Paused deployment {deployment}: no runs are scheduled or handed out.");
            Ok(())
        }
        DeploymentCommand::Resume { deployment } => {
            let d = resolve(&client, &deployment).await?;
            client
                .post_empty(&format!("/deployments/{}/resume_deployment", d.id), &())
                .await?;
            outln!("Resumed deployment {deployment}.");
            Ok(())
        }
        DeploymentCommand::Delete { deployment } => {
            let d = resolve(&client, &deployment).await?;
            client.delete(&format!("/deployments/{}", d.id)).await?;
            outln!("Deleted deployment {deployment}.");
            Ok(())
        }
    }
}

/// The deployment `reference` names.
async fn resolve(client: &Client, reference: &str) -> anyhow::Result<Deployment> {
    if let Ok(id) = Uuid::parse_str(reference) {
        return client.get(&format!("/deployments/{id}")).await;
    }
    if let Some((flow, name)) = reference.split_once('/') {
        return client
            .get(&format!(
                "/deployments/name/{}/{}",
                segment(flow),
                segment(name)
            ))
            .await;
    }
    let body = DeploymentFilterRequest {
        deployments: Some(DeploymentFilter {
            name: Some(NameFilter {
                any_: Some(vec![reference.to_owned()]),
                like_: None,
            }),
            ..Default::default()
        }),
        limit: Some(10),
        ..Default::default()
    };
    let mut found: Vec<Deployment> = client.post("/deployments/filter", &body).await?;
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!(
            "no deployment is named {reference:?}; `flowgate deployment ls` lists them as FLOW/DEPLOYMENT"
        ),
        n => {
            let flows = client.flow_names(found.iter().map(|d| d.flow_id)).await?;
            let mut message =
                format!("{n} deployments are named {reference:?}; name the one you mean:");
            for d in &found {
                let flow = flows.get(&d.flow_id).map_or("?", String::as_str);
                message.push_str(&format!("\n  {flow}/{}", d.name));
            }
            bail!(message)
        }
    }
}

/// The parameters of a run: `--params-json`, then each `--param KEY=VALUE` over it.
fn parameters(json: Option<&str>, params: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut out = match json {
        None => Map::new(),
        Some(text) => match serde_json::from_str(text).context("--params-json is not JSON")? {
            Value::Object(m) => m,
            other => bail!("--params-json must be a JSON object, not {other}"),
        },
    };
    for p in params {
        let Some((key, value)) = p.split_once('=') else {
            bail!("--param {p:?} is not KEY=VALUE");
        };
        if key.is_empty() {
            bail!("--param {p:?} has no key before `=`");
        }
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
        out.insert(key.to_owned(), value);
    }
    Ok(out)
}

/// A schedule in a few words: `cron 0 9 * * * (Europe/Berlin)`, `every 3600s`.
fn describe_schedule(s: &Schedule) -> String {
    let zone = s.timezone.as_deref().unwrap_or("UTC");
    match (&s.cron, s.interval, &s.rrule) {
        (Some(cron), _, _) => format!("cron {cron} ({zone})"),
        (_, Some(seconds), _) => format!("every {seconds}s"),
        (_, _, Some(rrule)) => format!("rrule {rrule}"),
        _ => "-".to_owned(),
    }
}

/// `READY`, `NOT_READY`, or `PAUSED` for a paused deployment.
fn status(d: &Deployment) -> &str {
    if d.paused { "PAUSED" } else { &d.status }
}

async fn ls(client: &Client, pool: Option<String>, as_json: bool) -> anyhow::Result<()> {
    let body = DeploymentFilterRequest {
        work_pools: pool.map(|p| WorkPoolFilter {
            name: Some(AnyOf::new([p])),
            ..Default::default()
        }),
        limit: Some(1000),
        sort: Some("NAME_ASC".to_owned()),
        ..Default::default()
    };
    let found: Vec<Deployment> = client.post("/deployments/filter", &body).await?;
    if as_json {
        outln!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(());
    }
    if found.is_empty() {
        eprintln!("No deployments found.");
        return Ok(());
    }
    let flows = client.flow_names(found.iter().map(|d| d.flow_id)).await?;
    let mut rows: Vec<Vec<String>> = found
        .iter()
        .map(|d| {
            let flow = flows.get(&d.flow_id).cloned().unwrap_or_default();
            let schedules: Vec<String> = d
                .schedules
                .iter()
                .filter(|s| s.active)
                .map(|s| describe_schedule(&s.schedule))
                .collect();
            vec![
                format!("{flow}/{}", d.name),
                d.work_pool_name.clone().unwrap_or_else(|| "-".into()),
                d.work_queue_name.clone().unwrap_or_else(|| "-".into()),
                status(d).to_owned(),
                d.id.to_string(),
                if schedules.is_empty() {
                    "-".to_owned()
                } else {
                    schedules.join("; ")
                },
            ]
        })
        .collect();
    rows.sort();
    out!(
        "{}",
        table::render(
            &["DEPLOYMENT", "POOL", "QUEUE", "STATUS", "ID", "SCHEDULES"],
            &rows
        )
    );
    Ok(())
}

async fn inspect(client: &Client, d: &Deployment, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        outln!("{}", serde_json::to_string_pretty(d)?);
        return Ok(());
    }
    let flows = client.flow_names([d.flow_id]).await?;
    let flow = flows.get(&d.flow_id).cloned().unwrap_or_default();
    outln!("{flow}/{}", d.name);
    let strategy = d
        .concurrency_options
        .as_ref()
        .map(|o| format!(" ({})", o.collision_strategy))
        .unwrap_or_default();
    let fields = [
        ("ID", d.id.to_string()),
        ("Status", status(d).to_owned()),
        (
            "Pool",
            d.work_pool_name.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "Queue",
            d.work_queue_name.clone().unwrap_or_else(|| "-".into()),
        ),
        ("Entrypoint", d.entrypoint.clone().unwrap_or_default()),
        ("Limit", limit_cell(d.concurrency_limit) + &strategy),
        ("Late runs", d.late_run_policy.clone()),
        ("Parameters", d.parameters.to_string()),
        ("Tags", serde_json::to_string(&d.tags)?),
        ("Last polled", short_time(d.last_polled)),
    ];
    for (k, v) in fields {
        outln!("  {k:<12} {v}");
    }
    for s in &d.schedules {
        let active = if s.active { "" } else { " (inactive)" };
        outln!(
            "  {:<12} {}{active}",
            "Schedule",
            describe_schedule(&s.schedule)
        );
    }
    Ok(())
}

async fn run_deployment(
    client: &Client,
    d: &Deployment,
    parameters: Map<String, Value>,
    watch: bool,
    as_json: bool,
) -> anyhow::Result<()> {
    let body = DeploymentFlowRunCreate {
        parameters: Some(Value::Object(parameters)),
        ..Default::default()
    };
    let run: FlowRun = client
        .post(&format!("/deployments/{}/create_flow_run", d.id), &body)
        .await
        .with_context(|| format!("deployment {:?} did not make a run", d.name))?;
    if as_json {
        outln!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        outln!(
            "Created flow run {:?} ({}) in queue {}.",
            run.name,
            run.id,
            run.work_queue_name.as_deref().unwrap_or("-")
        );
    }
    if !watch {
        return Ok(());
    }
    let mut last = String::new();
    let run = loop {
        let now: FlowRun = client.get(&format!("/flow_runs/{}", run.id)).await?;
        let name = now.state_name.clone().unwrap_or_default();
        if name != last && !as_json {
            outln!("{}  {name}", short_time(Some(now.updated)));
            last = name;
        }
        if is_terminal(&now) {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    match run.state_type {
        Some(flowgate_core::StateType::Completed) => Ok(()),
        _ => {
            let message = run
                .state
                .and_then(|s| s.message)
                .filter(|m| !m.is_empty())
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            bail!(
                "flow run {} ended {}{message}",
                run.id,
                run.state_name.unwrap_or_default()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn params_are_json_when_they_read_as_json() {
        let got = super::parameters(
            Some(r#"{"a": 1, "b": "x"}"#),
            &["b=2".into(), "c=hello world".into(), "d=[1,2]".into()],
        )
        .unwrap();
        assert_eq!(
            serde_json::Value::Object(got),
            json!({"a": 1, "b": 2, "c": "hello world", "d": [1, 2]})
        );
        assert!(super::parameters(None, &["novalue".into()]).is_err());
        assert!(super::parameters(Some("[1]"), &[]).is_err());
    }
}
