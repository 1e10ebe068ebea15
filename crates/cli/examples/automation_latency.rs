//! Event in to action started: creates a compound automation (two event triggers, `bench.a` and
//! `bench.b`, both required within a minute, acting with `do-nothing`), then, N times, sends
//! `bench.a` and `bench.b` over `/api/events/in` and reads, from `/api/events/out`, the
//! `prefect.automation.action.triggered` event the server records when the action starts. The
//! latency is that event's `occurred` (the server's clock at action start) minus the moment the
//! second event was sent (the same machine's clock). Prints one JSON line.
//!
//! ```text
//! cargo run --release -p flowgate-cli --example automation_latency -- \
//!     --api-url http://127.0.0.1:4200/api --rounds 200
//! ```

use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(api: &str, path: &str) -> anyhow::Result<Ws> {
    let url = format!("{}{path}", api.replacen("http", "ws", 1));
    let mut req = url.as_str().into_client_request()?;
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "prefect".parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .context("websocket connect: is the server running?")?;
    ws.send(Message::text(
        json!({"type": "auth", "token": null}).to_string(),
    ))
    .await?;
    let reply = ws.next().await.context("auth reply")??;
    if !reply.to_text()?.contains("auth_success") {
        bail!("authentication failed: {reply}");
    }
    Ok(ws)
}

fn event(name: &str, round: usize) -> String {
    json!({"id": Uuid::now_v7(), "occurred": jiff::Timestamp::now().to_string(), "event": name,
           "resource": {"prefect.resource.id": format!("bench.thing.{round}")},
           "related": [], "payload": {}})
    .to_string()
}

fn part(name: &str) -> Value {
    json!({"type": "event", "expect": [name], "match": {"prefect.resource.id": "bench.thing.*"},
           "posture": "Reactive", "threshold": 1, "within": 0})
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut api = "http://127.0.0.1:4200/api".to_owned();
    let mut rounds = 200usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().context("a flag needs a value")?;
        match flag.as_str() {
            "--api-url" => api = value,
            "--rounds" => rounds = value.parse().context("--rounds")?,
            other => bail!("unknown flag {other}; use --api-url, --rounds"),
        }
    }
    let automation = json!({"name": "latency", "trigger": {"type": "compound", "require": "all",
        "within": 60, "triggers": [part("bench.a"), part("bench.b")]},
        "actions": [{"type": "do-nothing"}]});
    let created = reqwest::Client::new()
        .post(format!("{api}/automations/"))
        .json(&automation)
        .send()
        .await?;
    if !created.status().is_success() {
        bail!("creating the automation failed: {}", created.text().await?);
    }
    let mut out = connect(&api, "/events/out").await?;
    let filter = json!({"event": {"name": ["prefect.automation.action.triggered"]}});
    out.send(Message::text(
        json!({"type": "filter", "filter": filter}).to_string(),
    ))
    .await?;
    let mut input = connect(&api, "/events/in").await?;
    // Give the engine a moment to load the automation before the first round.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut latencies = Vec::with_capacity(rounds);
    for round in 0..rounds {
        input.send(Message::text(event("bench.a", round))).await?;
        let sent = jiff::Timestamp::now();
        input.send(Message::text(event("bench.b", round))).await?;
        let started = loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), out.next())
                .await
                .context("no action started within 10 s")?
                .context("events/out closed")??;
            let Ok(text) = msg.to_text() else { continue };
            let frame: Value = serde_json::from_str(text)?;
            if let Some(occurred) = frame["event"]["occurred"].as_str() {
                break occurred.parse::<jiff::Timestamp>()?;
            }
        };
        let ms = started.duration_since(sent).as_secs_f64() * 1000.0;
        latencies.push(ms);
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let round2 = |v: f64| (v * 100.0).round() / 100.0;
    println!(
        "{}",
        json!({"mode": "automation-latency", "trigger": "compound of 2", "rounds": rounds,
               "event_to_action_started_ms_median": round2(at(0.5)),
               "p90_ms": round2(at(0.9)), "max_ms": round2(at(1.0))})
    );
    Ok(())
}
