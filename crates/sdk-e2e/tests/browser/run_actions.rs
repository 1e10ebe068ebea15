//! Suspending and cancelling a run from its page. A Running run of a deployment offers Suspend,
//! whose dialog says what a suspension does and takes an optional timeout (a bad one is refused
//! beside the field); confirmed, the server holds the run Paused as "Suspended" with a pause key
//! of its own, `pause_reschedule` and the deadline asked for, and the page shows it with Resume in
//! place of Suspend. A run the server would refuse to suspend (not of a deployment) offers no
//! Suspend, and a run that finished while the dialog was open is refused with the server's reason
//! in a toast. Cancel asks a run a worker holds to stop (Cancelling: the worker stops its process
//! and runs the hooks) and cancels any other at once, as `flowgate flow-run cancel` does.

use flowgate::testing::{Harness, harness};
use serde_json::{Value, json};

use crate::runs::{run_to, set_state};
use crate::webdriver::Browser;

/// A run of `deployment` moved to Running through the API, as a worker would.
fn running_run_of(h: &Harness, deployment: &Value, name: &str) -> String {
    let id = deployment["id"].as_str().unwrap();
    let run = h.post(
        &format!("/deployments/{id}/create_flow_run"),
        json!({"name": name}),
    );
    let run = run["id"].as_str().unwrap().to_owned();
    set_state(h, &run, "PENDING");
    set_state(h, &run, "RUNNING");
    run
}

/// Opens `run`'s page and waits for its header (the Cancel button of an unfinished run).
fn open_run(b: &Browser, h: &Harness, run: &str) {
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    b.open(&format!("{ui}/runs/flow-run/{run}"));
    b.wait_for(
        "the run's header",
        "return !!document.querySelector('.page-head #cancel')",
    );
}

fn open_dialog(b: &Browser) {
    b.click("#suspend");
    b.wait_for(
        "the suspend dialog",
        "return document.getElementById('suspend-dialog')?.open === true",
    );
}

#[test]
fn a_running_deployment_run_is_suspended_from_its_page() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let flow = h.post("/flows/", json!({"name": "approvals"}));
    let deployment = h.post(
        "/deployments/",
        json!({"name": "on-demand", "flow_id": flow["id"]}),
    );

    // Not of a deployment: nothing could run it again after a resume, so no Suspend.
    let local = run_to(&h, &flow, "local-run", &[], "RUNNING");
    open_run(&b, &h, &local);
    assert_eq!(
        b.js("return document.getElementById('suspend') === null"),
        true,
        "a run that is not of a deployment offers no Suspend"
    );

    let run = running_run_of(&h, &deployment, "to-suspend");
    open_run(&b, &h, &run);
    open_dialog(&b);
    let text = b.js("return document.getElementById('suspend-dialog').textContent");
    let text = text.as_str().unwrap();
    assert!(
        text.contains("Suspend to-suspend?")
            && text.contains("stops at its next task call")
            && text.contains("its process exits")
            && text.contains("Resuming it schedules it again"),
        "{text}"
    );
    b.screenshot("suspend-1-dialog");

    // A timeout that is not a positive number is refused in the dialog; nothing is sent.
    b.type_into("#suspend-timeout", "-1");
    b.click("#suspend-confirm");
    b.wait_for(
        "the timeout refused",
        "return !document.getElementById('suspend-error').hidden",
    );
    assert_eq!(h.get(&format!("/flow_runs/{run}"))["state_type"], "RUNNING");

    b.type_into("#suspend-timeout", "2");
    b.click("#suspend-confirm");
    b.wait_for(
        "the Suspended badge, with Resume in place of Suspend",
        "return document.querySelector('.page-head .badge')?.textContent === 'Suspended' \
         && !!document.getElementById('resume') && !document.getElementById('suspend')",
    );
    assert_eq!(
        b.js("return document.getElementById('suspend-dialog')"),
        Value::Null,
        "the dialog closed"
    );
    let stored = h.get(&format!("/flow_runs/{run}"));
    assert_eq!(
        (&stored["state_type"], &stored["state_name"]),
        (&json!("PAUSED"), &json!("Suspended"))
    );
    let details = &stored["state"]["state_details"];
    assert_eq!(details["pause_reschedule"], true, "{details}");
    let key = details["pause_key"].as_str().unwrap();
    assert_eq!(key.len(), 32, "a key of its own: {key}");
    assert_eq!(
        stored["empirical_policy"]["pause_keys"],
        json!([key]),
        "the server recorded the pause key"
    );
    // The deadline is two hours ahead (as the browser's clock reads it).
    let ahead = b.js(&format!(
        "return Date.parse('{}') - Date.now()",
        details["pause_timeout"].as_str().unwrap()
    ));
    let ahead = ahead.as_f64().unwrap();
    assert!(
        (7_100_000.0..=7_200_000.0).contains(&ahead),
        "pause_timeout {ahead} ms ahead"
    );
    b.screenshot("suspend-2-suspended");

    // The run finishes while the dialog is open: the server's refusal is a toast.
    let finishing = running_run_of(&h, &deployment, "finishing");
    open_run(&b, &h, &finishing);
    open_dialog(&b);
    set_state(&h, &finishing, "COMPLETED");
    b.click("#suspend-confirm");
    b.wait_for(
        "the refusal's toast",
        "return !!document.querySelector('.toast.error')",
    );
    assert_eq!(
        b.js("return document.querySelector('.toast.error').textContent"),
        "Could not suspend: This run is already in terminal state COMPLETED; propose with \
         force=true to move it."
    );
    assert_eq!(
        h.get(&format!("/flow_runs/{finishing}"))["state_type"],
        "COMPLETED"
    );
    b.screenshot("suspend-3-refused");
}

#[test]
fn cancel_asks_a_held_run_to_stop_and_cancels_any_other_at_once() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let flow = h.post("/flows/", json!({"name": "cancellable"}));
    let deployment = h.post(
        "/deployments/",
        json!({"name": "held", "flow_id": flow["id"]}),
    );

    // A deployment's run, which a worker holds: asked to stop, the worker ends it. The question
    // comes first; dismissed, nothing changes.
    let held = running_run_of(&h, &deployment, "held-run");
    open_run(&b, &h, &held);
    b.click("#cancel");
    b.wait_for(
        "the question, saying the run is asked to stop",
        "return document.getElementById('confirm-dialog')?.textContent.includes('held-run is asked to stop')",
    );
    b.wait_for(
        "the way out of the question saying it keeps the run going",
        "return document.querySelector('#confirm-dialog button.secondary')?.textContent === 'Keep running'",
    );
    b.click("#confirm-dialog button.secondary");
    b.wait_for(
        "the question gone",
        "return !document.getElementById('confirm-dialog')?.open",
    );
    assert_eq!(
        h.get(&format!("/flow_runs/{held}"))["state_type"],
        "RUNNING"
    );
    b.click("#cancel");
    b.wait_for(
        "the question again",
        "return !!document.getElementById('confirm-dialog')?.open",
    );
    b.click("#confirm-ok");
    b.wait_for(
        "the Cancelling badge",
        "return document.querySelector('.page-head .badge')?.textContent === 'Cancelling'",
    );
    assert_eq!(
        h.get(&format!("/flow_runs/{held}"))["state_type"],
        "CANCELLING"
    );

    // A run no process holds: nothing would stop it, so it is Cancelled at once.
    let local = run_to(&h, &flow, "unheld-run", &[], "RUNNING");
    open_run(&b, &h, &local);
    b.click("#cancel");
    b.wait_for(
        "the question, saying the run is Cancelled now",
        "return document.getElementById('confirm-dialog')?.textContent.includes('unheld-run is Cancelled now')",
    );
    b.click("#confirm-ok");
    b.wait_for(
        "the Cancelled badge, and no Cancel",
        "return document.querySelector('.page-head .badge')?.textContent === 'Cancelled' \
         && !document.getElementById('cancel')",
    );
    assert_eq!(
        h.get(&format!("/flow_runs/{local}"))["state_type"],
        "CANCELLED"
    );
}
