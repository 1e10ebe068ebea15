//! Work pools, queues and deployments in the browser: the pools list shows a pool's status from
//! its worker's heartbeat; the pool page lists its queues by priority, and the queue edit form
//! (the shared JSON-Schema form) shows the server's refusal beside the field, cancels without
//! saving, and saves (priorities shift); the deployments page's Run form, generated from the
//! deployment's parameter schema and prefilled with its defaults, shows a bad parameter beside
//! its field and then creates the run, whose page links its deployment, pool and queue; the
//! deployment's page lists its recent runs (a Late one standing out) and opens the same form.

use flowgate::testing::harness;
use serde_json::json;

use crate::webdriver::Browser;

/// The queue names of the pool page's table, in order.
const QUEUE_ORDER: &str = "return [...document.querySelectorAll('#queues tr[data-queue]')].map(r => r.dataset.queue).join(',')";

#[test]
fn a_person_manages_queues_and_runs_a_deployment() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    h.post(
        "/work_pools/",
        json!({"name": "etl", "concurrency_limit": 3}),
    );
    h.post(
        "/work_pools/etl/queues/",
        json!({"name": "high", "priority": 1, "concurrency_limit": 2}),
    );
    h.post(
        "/work_pools/etl/queues/",
        json!({"name": "low", "description": "batch jobs"}),
    );
    h.post("/work_pools/etl/workers/heartbeat", json!({"name": "w1"}));
    let flow = h.post("/flows/", json!({"name": "etl-flow"}));
    let deployment = h.post(
        "/deployments/",
        json!({"name": "nightly", "flow_id": flow["id"], "work_pool_name": "etl",
               "work_queue_name": "high", "parameters": {"n": 3, "who": "ann"},
               "enforce_parameter_schema": true,
               "parameter_openapi_schema": {"type": "object", "required": ["n"], "properties": {
                   "n": {"type": "integer", "title": "N", "maximum": 10},
                   "who": {"type": "string", "title": "Who"}}}}),
    );

    b.open(&format!("{ui}/work-pools"));
    b.wait_for(
        "the pool row",
        "return !!document.querySelector('tr[data-pool=etl]')",
    );
    let row = b.js("return document.querySelector('tr[data-pool=etl]').textContent");
    let row = row.as_str().unwrap();
    assert!(
        row.contains("Ready") && row.contains("0 / 3") && row.contains("1 / 1 online"),
        "{row}"
    );
    b.screenshot("pools-1-list");

    b.click("tr[data-pool=etl] a");
    b.wait_for(
        "the queues",
        "return document.querySelectorAll('#queues tr[data-queue]').length === 3",
    );
    assert_eq!(b.js(QUEUE_ORDER), "high,default,low");
    assert!(b.js("return document.getElementById('workers').textContent.includes('w1')") == true);

    // A priority below 1: the server's reason beside the field; the dialog stays open.
    b.click("tr[data-queue=low] .edit-queue");
    b.wait_for(
        "the form",
        "return !!document.querySelector('#queue-dialog [name=priority]')",
    );
    assert_eq!(
        b.js("return document.querySelector('#queue-fields [name=description]').value"),
        "batch jobs"
    );
    b.type_into("#queue-fields [name=name]", "urgent");
    b.type_into("#queue-fields [name=concurrency_limit]", "5");
    b.type_into("#queue-fields [name=priority]", "0");
    b.click("#queue-save");
    b.wait_for("the priority error", "return (document.querySelector('[data-field=priority] .field-error') || {}).textContent?.includes('1 or more')");
    b.screenshot("pools-2-queue-error");
    // Cancel: nothing is saved.
    b.click("#queue-cancel");
    b.wait_for(
        "the dialog to close",
        "return !document.getElementById('queue-dialog')",
    );
    assert_eq!(h.get("/work_pools/etl/queues/low")["priority"], 3);

    b.click("tr[data-queue=low] .edit-queue");
    b.wait_for(
        "the form",
        "return !!document.querySelector('#queue-dialog [name=priority]')",
    );
    b.type_into("#queue-fields [name=name]", "urgent");
    b.type_into("#queue-fields [name=concurrency_limit]", "5");
    b.type_into("#queue-fields [name=priority]", "1");
    b.click("#queue-save");
    b.wait_for(
        "the saved queue first",
        &format!("{QUEUE_ORDER} === 'urgent,high,default'"),
    );
    let saved = h.get("/work_pools/etl/queues/urgent");
    assert_eq!(
        (
            saved["priority"].clone(),
            saved["concurrency_limit"].clone()
        ),
        (json!(1), json!(5))
    );
    assert_eq!(
        h.get("/work_pools/etl/queues/high")["priority"],
        2,
        "the others shifted"
    );
    b.screenshot("pools-3-queue-saved");

    // Pausing the pool from its page.
    b.click("#pool-pause");
    b.wait_for(
        "the paused badge",
        "return document.querySelector('.page-head .badge').textContent === 'Paused'",
    );
    assert_eq!(h.get("/work_pools/etl")["is_paused"], true);

    // The Run form of a deployment.
    b.open(&format!("{ui}/deployments"));
    b.wait_for(
        "the deployment row",
        "return !!document.querySelector('tr[data-deployment=\"etl-flow/nightly\"]')",
    );
    b.click("tr[data-deployment=\"etl-flow/nightly\"] .run-deployment");
    b.wait_for(
        "the run form",
        "return !!document.querySelector('#run-fields [name=n]')",
    );
    assert_eq!(
        b.js("return document.querySelector('#run-fields [name=n]').value"),
        "3",
        "defaults prefill the form"
    );
    b.type_into("#run-fields [name=n]", "11");
    b.click("#run-submit");
    b.wait_for("the n error", "return (document.querySelector('#run-fields [data-field=n] .field-error') || {}).textContent?.includes('maximum')");
    b.screenshot("pools-4-run-error");
    b.type_into("#run-fields [name=n]", "5");
    b.type_into("#run-fields [name=who]", "bo");
    b.click("#run-submit");
    b.wait_for(
        "the run page",
        "return location.pathname.startsWith('/runs/flow-run/')",
    );
    let id = b.js("return location.pathname.split('/').pop()");
    let run = h.get(&format!("/flow_runs/{}", id.as_str().unwrap()));
    assert_eq!(run["parameters"], json!({"n": 5, "who": "bo"}));
    assert_eq!(run["deployment_id"], deployment["id"]);
    assert_eq!(run["work_queue_name"], "high");
    // The run shows where it came from and waits, as links.
    b.wait_for(
        "the run's deployment, pool and queue",
        "return document.querySelector('#run-deployment-link')?.textContent === 'nightly' \
         && document.querySelector('#run-pool-link')?.textContent === 'etl' \
         && document.querySelector('#run-queue-link')?.textContent === 'high'",
    );
    b.screenshot("pools-5-run-created");

    // The deployment's page: its schedules, parameters, recent runs (a Late one standing out)
    // and its Run button.
    h.post(
        &format!(
            "/deployments/{}/create_flow_run",
            deployment["id"].as_str().unwrap()
        ),
        json!({"name": "late-one", "state": {"type": "SCHEDULED", "name": "Late"}}),
    );
    b.click("#run-deployment-link");
    b.wait_for(
        "the deployment page with both runs",
        "return document.querySelectorAll('#recent-runs tr[data-run]').length === 2",
    );
    assert_eq!(
        b.js("return document.querySelector('#recent-runs tr[data-run=\"late-one\"] .badge.late')?.textContent"),
        "Late",
        "a Late run stands out"
    );
    let params = b.js("return document.querySelector('#deployment-params').textContent");
    assert!(
        params.as_str().unwrap().contains("\"who\": \"ann\""),
        "{params}"
    );
    b.screenshot("pools-6-deployment");
    b.click("#run-deployment");
    b.wait_for(
        "the run form from the deployment page",
        "return document.querySelector('#run-fields [name=n]')?.value === '3'",
    );
    b.click("#run-cancel");
}
