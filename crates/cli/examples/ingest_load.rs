//! Event-ingest load generator: pushes `prefect.task-run.*` events, shaped like the `prefect`
//! client's, over N websocket connections to `/api/events/in`, then pings every connection. The
//! server answers a ping only once everything sent before it is stored, so the time to the last
//! pong is the time to store every event. With `--automations N`, N enabled automations
//! evaluate every event (see [`load_automation`]), and one more waits for a sentinel event sent
//! after the flood, which says when the trigger engine has taken every event. Prints one JSON
//! line.
//!
//! ```text
//! cargo run --release -p flowgate-cli --example ingest_load -- \
//!     --api-url http://127.0.0.1:4200/api --task-runs 40000 --connections 4
//! ```

use std::time::Instant;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

struct Args {
    api_url: String,
    task_runs: usize,
    connections: usize,
    automations: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        api_url: "http://127.0.0.1:4200/api".into(),
        task_runs: 40_000,
        connections: 4,
        automations: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--api-url" => args.api_url = value,
            "--task-runs" => args.task_runs = value.parse().context("--task-runs")?,
            "--connections" => args.connections = value.parse().context("--connections")?,
            "--automations" => args.automations = value.parse().context("--automations")?,
            other => bail!(
                "unknown flag {other}; use --api-url, --task-runs, --connections, --automations"
            ),
        }
    }
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    Ok(args)
}

fn stamp(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The three events of one task run's life: Pending, Running, Completed.
fn task_run_events(flow_run: &str, index: usize) -> [String; 3] {
    let task = Uuid::now_v7();
    let base = jiff::Timestamp::now();
    let at = |ms: i64| stamp(base + jiff::SignedDuration::from_millis(ms));
    let mut follows = Value::Null;
    ["PENDING", "RUNNING", "COMPLETED"].map(|ty| {
        let step = match ty { "PENDING" => 0, "RUNNING" => 1, _ => 2 };
        let mut task_run = json!({
            "name": format!("small-{index}"), "task_key": "small-1a2b3c", "dynamic_key": index.to_string(),
            "empirical_policy": {"max_retries": 0, "retry_delay_seconds": 0.0, "retries": 0, "retry_delay": 0},
            "tags": [], "labels": {}, "task_inputs": {"x": []}, "run_count": i64::from(step > 0),
            "flow_run_run_count": 1, "expected_start_time": at(0), "total_run_time": 0.0,
        });
        if step > 0 {
            task_run["start_time"] = json!(at(1));
        }
        if step == 2 {
            task_run["end_time"] = json!(at(2));
            task_run["total_run_time"] = json!(0.001);
        }
        let id = Uuid::now_v7();
        let name = &ty[..1].to_owned();
        let title = format!("{name}{}", ty[1..].to_lowercase());
        let event = json!({
            "occurred": at(step), "event": format!("prefect.task-run.{title}"),
            "resource": {"prefect.resource.id": format!("prefect.task-run.{task}"), "prefect.resource.name": format!("small-{index}"),
                         "prefect.state-type": ty, "prefect.state-name": title, "prefect.orchestration": "client"},
            "related": [{"prefect.resource.id": format!("prefect.flow-run.{flow_run}"), "prefect.resource.role": "flow-run", "prefect.resource.name": "load"}],
            "payload": {"intended": {"from": null, "to": ty}, "validated_state": {"type": ty, "name": title, "message": "", "state_details": {}, "data": null}, "task_run": task_run},
            "id": id, "follows": follows,
        });
        follows = json!(id);
        event.to_string()
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let http = reqwest::Client::new();
    let flow: Value = http
        .post(format!("{}/flows/", args.api_url))
        .json(&json!({"name": "ingest-load"}))
        .send()
        .await?
        .json()
        .await?;
    let run: Value = http
        .post(format!("{}/flow_runs/", args.api_url))
        .json(&json!({"flow_id": flow["id"], "state": {"type": "RUNNING"}}))
        .send()
        .await
        .context("is the server running? start it with `flowgate server start`")?
        .json()
        .await?;
    let flow_run = run["id"].as_str().context("flow run id")?.to_owned();
    for i in 0..args.automations {
        let created = http
            .post(format!("{}/automations/", args.api_url))
            .json(&load_automation(i))
            .send()
            .await?;
        if !created.status().is_success() {
            bail!("creating automation {i} failed: {}", created.text().await?);
        }
    }
    let sentinel = match args.automations {
        0 => None,
        _ => Some(create_sentinel(&http, &args.api_url).await?),
    };

    let mut shards: Vec<Vec<String>> = vec![Vec::new(); args.connections];
    for i in 0..args.task_runs {
        shards[i % args.connections].extend(task_run_events(&flow_run, i));
    }
    let total: usize = shards.iter().map(Vec::len).sum();
    let ws_url = format!("{}/events/in", args.api_url.replacen("http", "ws", 1));
    let mut sockets = Vec::new();
    for _ in 0..args.connections {
        let mut req = ws_url.as_str().into_client_request()?;
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "prefect".parse()?);
        let (mut ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .context("websocket connect")?;
        ws.send(Message::text(
            json!({"type": "auth", "token": null}).to_string(),
        ))
        .await?;
        let reply = ws.next().await.context("auth reply")??;
        if !reply.to_text()?.contains("auth_success") {
            bail!("authentication failed: {reply}");
        }
        sockets.push(ws);
    }

    let started = Instant::now();
    let senders = sockets.into_iter().zip(shards).map(|(mut ws, frames)| {
        tokio::spawn(async move {
            for f in frames {
                ws.feed(Message::text(f)).await?;
            }
            ws.send(Message::Ping(b"done".to_vec().into())).await?;
            while let Some(msg) = ws.next().await {
                if let Message::Pong(_) = msg? {
                    break;
                }
            }
            ws.close(None).await?;
            anyhow::Ok(())
        })
    });
    for s in senders.collect::<Vec<_>>() {
        s.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let engine_done = match &sentinel {
        Some(id) => Some(engine_catch_up(&http, &args.api_url, &ws_url, id).await?),
        None => None,
    };

    let count = |path: &'static str, body: Value| {
        let http = http.clone();
        let url = format!("{}{path}", args.api_url);
        async move {
            anyhow::Ok(
                http.post(url)
                    .json(&body)
                    .send()
                    .await?
                    .json::<Value>()
                    .await?,
            )
        }
    };
    let task_runs = count(
        "/task_runs/count",
        json!({"flow_runs": {"id": {"any_": [flow_run]}}}),
    )
    .await?;
    let events = count(
        "/events/filter",
        json!({"filter": {"event": {"prefix": ["prefect.task-run."]}, "related": {"id": [format!("prefect.flow-run.{flow_run}")]}}, "limit": 1}),
    )
    .await?;
    println!(
        "{}",
        json!({
            "events_sent": total, "connections": args.connections, "seconds": (seconds * 1000.0).round() / 1000.0,
            "events_per_s": (total as f64 / seconds).round(), "events_stored": events["total"], "task_runs_stored": task_runs,
            "automations": args.automations,
            "engine_done_after_last_pong_ms": engine_done.map(|d| (d * 1000.0).round()),
        })
    );
    Ok(())
}

/// Automation `i` of the load: a reactive trigger on this flood's task-run events, split by
/// flow run. Every tenth counts them (toward 10,000 in an hour: it fires now and then); the
/// others look for a flow run of another name, so each event is matched against them and
/// dropped.
fn load_automation(i: usize) -> Value {
    let flow_run_name = if i.is_multiple_of(10) {
        "load".to_owned()
    } else {
        format!("other-{i}")
    };
    json!({"name": format!("load-{i}"), "trigger": {"type": "event",
        "expect": ["prefect.task-run.*"], "match": {"prefect.resource.id": "prefect.task-run.*"},
        "match_related": {"prefect.resource.role": "flow-run", "prefect.resource.name": flow_run_name},
        "for_each": ["related:flow-run:prefect.resource.id"], "posture": "Reactive",
        "threshold": 10_000, "within": 3600},
        "actions": [{"type": "do-nothing"}]})
}

async fn create_sentinel(http: &reqwest::Client, api: &str) -> anyhow::Result<String> {
    let body = json!({"name": "sentinel", "trigger": {"type": "event", "expect": ["bench.sentinel"]},
                      "actions": [{"type": "do-nothing"}]});
    let created: Value = http
        .post(format!("{api}/automations/"))
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    Ok(created["id"].as_str().context("automation id")?.to_owned())
}

/// Sends the sentinel event and waits until its automation fired: seconds from now.
async fn engine_catch_up(
    http: &reqwest::Client,
    api: &str,
    ws_url: &str,
    sentinel: &str,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut req = ws_url.into_client_request()?;
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "prefect".parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    ws.send(Message::text(
        json!({"type": "auth", "token": null}).to_string(),
    ))
    .await?;
    ws.next().await.context("auth reply")??;
    let event = json!({"id": Uuid::now_v7(), "occurred": stamp(jiff::Timestamp::now()),
                       "event": "bench.sentinel", "resource": {"prefect.resource.id": "bench"}});
    ws.send(Message::text(event.to_string())).await?;
    let filter = json!({"filter": {"event": {"name": ["prefect.automation.triggered"]},
                                   "resource": {"id": [format!("prefect.automation.{sentinel}")]}}});
    loop {
        let found: Value = http
            .post(format!("{api}/events/filter"))
            .json(&filter)
            .send()
            .await?
            .json()
            .await?;
        if found["total"].as_i64().unwrap_or(0) > 0 {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed().as_secs() > 120 {
            bail!("the sentinel automation did not fire within 2 minutes");
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
