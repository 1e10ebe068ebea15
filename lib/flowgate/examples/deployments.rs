//! Deploying a flow and running it on demand: the program serves its own deployment (as
//! Prefect's `flow.serve()`), and `run_deployment` asks for runs and waits for them. Run with
//! `cargo run -p flowgate --example deployments` (no server needed: an embedded one records
//! the deployment and runs in ~/.flowgate/flowgate.db).
//!
//! For runs on other machines, give the deployment a work pool and make `main` return
//! `Deployments::new().with(..).main()`: run once, it deploys; started by
//! `flowgate worker start --pool POOL`, it runs the run the worker was handed.

use std::time::Duration;

use flowgate::{Deployments, flow, run_deployment, task};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A flow's arguments become the deployment's parameter schema: the server refuses runs
/// whose parameters do not fit it.
#[derive(Serialize, Deserialize, flowgate::schemars::JsonSchema, Clone, Copy, Debug)]
#[schemars(crate = "flowgate::schemars")]
#[serde(rename_all = "lowercase")]
enum Tone {
    Plain,
    Loud,
}

#[task]
fn compose(name: String, tone: Tone) -> String {
    let text = format!("Hello, {name}!");
    match tone {
        Tone::Plain => text,
        Tone::Loud => text.to_uppercase(),
    }
}

#[flow]
fn greet(name: String, tone: Tone) -> String {
    compose(name, tone)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let served = Deployments::new()
        .with(greet::deployment("on-demand").parameter("tone", Tone::Plain))
        .poll_interval(Duration::from_millis(200));
    served.apply()?;
    std::thread::spawn(move || served.serve());

    let run = run_deployment("greet/on-demand", json!({"name": "Ada", "tone": "loud"}))
        .timeout(Duration::from_secs(60))
        .wait()?;
    println!(
        "{} ended {}: {}",
        run.name,
        run.state_name,
        run.result::<String>().unwrap_or_default()
    );

    let refused =
        run_deployment("greet/on-demand", json!({"name": "Bo", "tone": "shrill"})).create();
    if let Err(e) = refused {
        println!("refused: {e}");
    }
    Ok(())
}
