//! Deploying a flow from Rust: the builder's options reach the server, the parameters' JSON
//! Schema comes from the flow's argument types, and the server checks runs against it.

use std::time::Duration;

use flowgate::testing::harness;
use flowgate::{ApiError, CollisionStrategy, DeployError, Deployments, Schedule, flow};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Serialize, Deserialize, schemars::JsonSchema, Debug, Clone, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Region {
    Eu,
    Us,
}

#[flow]
fn nightly_etl(day: String, region: Region, limit: Option<u32>) -> u64 {
    let _ = (day, region);
    limit.unwrap_or(10).into()
}

#[flow]
async fn report(pages: u32) -> u32 {
    pages
}

#[test]
fn a_deployment_is_applied_with_its_options_and_a_schema_from_the_argument_types() {
    let h = harness();
    h.post("/work_pools/", json!({"name": "etl", "type": "process"}));
    h.post("/work_pools/etl/queues/", json!({"name": "night"}));
    let deployed = nightly_etl::deployment("nightly")
        .work_pool("etl")
        .work_queue("night")
        .schedule(Schedule::cron("0 3 * * *").timezone("Europe/Berlin"))
        .interval(Duration::from_secs(3600))
        .parameter("day", "monday")
        .tags(["etl", "nightly"])
        .concurrency_limit(2)
        .collision_strategy(CollisionStrategy::CancelNew)
        .command("etl-binary --run")
        .env("RUST_LOG", "info")
        .description("Loads yesterday's rows")
        .version("1.2")
        .apply()
        .unwrap();
    assert_eq!(deployed.full_name(), "nightly-etl/nightly");
    assert_eq!(deployed.work_pool.as_deref(), Some("etl"));

    let d = h.get(&format!("/deployments/{}", deployed.id));
    assert_eq!(d["work_queue_name"], "night");
    assert_eq!(d["parameters"], json!({"day": "monday"}));
    assert_eq!(d["tags"], json!(["etl", "nightly"]));
    assert_eq!(d["concurrency_limit"], 2);
    assert_eq!(d["concurrency_options"]["collision_strategy"], "CANCEL_NEW");
    assert_eq!(d["entrypoint"], "etl-binary --run");
    assert_eq!(d["job_variables"]["env"]["RUST_LOG"], "info");
    assert_eq!(d["version"], "1.2");
    assert_eq!(d["enforce_parameter_schema"], true);
    let schedules = d["schedules"].as_array().unwrap();
    assert_eq!(schedules[0]["schedule"]["cron"], "0 3 * * *");
    assert_eq!(schedules[0]["schedule"]["timezone"], "Europe/Berlin");
    assert_eq!(schedules[1]["schedule"]["interval"], 3600.0);

    let schema = &d["parameter_openapi_schema"];
    assert_eq!(schema["properties"]["day"]["type"], "string");
    assert_eq!(schema["properties"]["region"]["$ref"], "#/$defs/Region");
    assert_eq!(schema["required"], json!(["day", "region"]), "{schema:#}");

    // The server checks runs against the schema, naming the field.
    let path = format!("/deployments/{}/create_flow_run", deployed.id);
    let run = h.post(&path, json!({"parameters": {"region": "eu", "limit": 3}}));
    assert_eq!(
        run["parameters"],
        json!({"day": "monday", "region": "eu", "limit": 3})
    );
    let refused = h.try_post(&path, json!({"parameters": {"region": "mars"}}));
    let Err(ApiError::Refused { status, detail, .. }) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(status, 422);
    assert!(detail.contains("'region'"), "{detail}");
    let misspelt = h.try_post(&path, json!({"parameters": {"region": "us", "limt": 1}}));
    assert!(
        matches!(&misspelt, Err(ApiError::Refused { status: 422, detail, .. }) if detail.contains("limt")),
        "{misspelt:?}"
    );

    // Applying again updates the same deployment.
    let again = nightly_etl::deployment("nightly")
        .work_pool("etl")
        .parameter("day", "friday")
        .apply()
        .unwrap();
    assert_eq!(again.id, deployed.id);
}

#[test]
fn a_default_the_flow_cannot_take_is_refused_before_anything_is_sent() {
    let h = harness();
    let wrong = nightly_etl::deployment("x")
        .parameter("limit", "ten")
        .apply();
    assert!(
        matches!(&wrong, Err(DeployError::Invalid { message, .. }) if message.starts_with("parameter `limit`")),
        "{wrong:?}"
    );
    let unknown = nightly_etl::deployment("x").parameter("days", 1).apply();
    assert!(
        matches!(&unknown, Err(DeployError::Invalid { message, .. }) if message.contains("`days` is not an argument")),
        "{unknown:?}"
    );
    let no_pool = nightly_etl::deployment("x").work_pool("missing").apply();
    assert!(
        matches!(&no_pool, Err(DeployError::Api(ApiError::Refused { status: 404, detail, .. })) if detail.contains("missing")),
        "{no_pool:?}"
    );
    let deployments = h.post("/deployments/filter", json!({}));
    assert_eq!(deployments, json!([]), "nothing was created");
}

#[tokio::test(flavor = "multi_thread")]
async fn several_deployments_apply_together_from_async_code() {
    let h = harness();
    let applied = Deployments::new()
        .with(nightly_etl::deployment("a"))
        .with(report::deployment("b").cron("*/5 * * * *"))
        .apply_async()
        .await
        .unwrap();
    let names: Vec<String> = applied.iter().map(|d| d.full_name()).collect();
    assert_eq!(names, ["nightly-etl/a", "report/b"]);
    assert!(applied[1].parameter_schema["properties"]["pages"].is_object());
    // The command a worker runs is, by default, this program itself.
    let d = h.get(&format!("/deployments/{}", applied[1].id));
    let exe = std::env::current_exe().unwrap();
    assert_eq!(d["entrypoint"], format!("'{}'", exe.display()));
}
