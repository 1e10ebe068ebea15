//! The overview pages over runs made through the API: the dashboard's counts (from the history
//! route) are the API's counts and its chart holds every run, the runs page's filters live in
//! the URL and survive a reload, the flows page shows each flow's success rate. Screenshots in
//! light and dark.

use flowgate::testing::{Harness, harness};
use serde_json::{Value, json};

use crate::runs::run_to;
use crate::webdriver::Browser;

/// The API's count of runs matching `flow_runs`.
fn count(h: &Harness, flow_runs: Value) -> i64 {
    h.post("/flow_runs/count", json!({"flow_runs": flow_runs}))
        .as_i64()
        .unwrap()
}

#[test]
fn overview_pages_show_true_counts_and_keep_filters_in_the_url() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    let alpha = h.post("/flows/", json!({"name": "alpha"}));
    let beta = h.post("/flows/", json!({"name": "beta"}));
    for i in 0..3 {
        run_to(
            &h,
            &alpha,
            &format!("alpha-ok-{i}"),
            &["nightly"],
            "COMPLETED",
        );
    }
    for i in 0..2 {
        run_to(
            &h,
            &alpha,
            &format!("alpha-bad-{i}"),
            &["nightly"],
            "FAILED",
        );
    }
    run_to(&h, &beta, "beta-going", &[], "RUNNING");
    run_to(&h, &beta, "beta-ok", &["adhoc"], "COMPLETED");

    // The dashboard: one tile per state, each the API's count.
    b.open(&format!("{ui}/"));
    b.wait_for(
        "the state tiles",
        "return document.querySelectorAll('#state-counts .tile').length === 10",
    );
    let tiles = b.js("return Object.fromEntries([...document.querySelectorAll('#state-counts .tile')].map(t => [t.dataset.state, +t.dataset.count]))");
    for state in [
        "COMPLETED",
        "FAILED",
        "RUNNING",
        "PAUSED",
        "SCHEDULED",
        "CRASHED",
    ] {
        assert_eq!(
            tiles[state].as_i64().unwrap(),
            count(&h, json!({"state": {"type": {"any_": [state]}}})),
            "{state} tile in {tiles}"
        );
    }
    assert_eq!(tiles["ALL"], 7);
    assert_eq!(tiles["COMPLETED"], 4);
    // The activity chart: one bar per interval of the window, its runs the tiles' runs.
    b.wait_for(
        "the activity chart",
        "return document.querySelectorAll('#activity g.bucket').length === 60",
    );
    assert_eq!(
        b.js("return [...document.querySelectorAll('#activity g.bucket')].reduce((n, g) => n + +g.dataset.total, 0)"),
        7
    );
    b.wait_for(
        "the failed runs",
        "return document.querySelectorAll('#failing tr[data-run]').length === 2",
    );
    b.screenshot("dashboard-light");
    b.theme("dark");
    b.screenshot("dashboard-dark");
    b.theme("light");

    // The runs page: filters from the URL, kept across a reload, changed by clicking.
    b.open(&format!("{ui}/runs?state=FAILED&flow=alpha&tag=nightly"));
    let rows = "return document.querySelectorAll('tr[data-run]').length";
    b.wait_for(
        "two failed alpha runs",
        &format!("{rows} === 2 && document.getElementById('runs-total').textContent === '2 runs'"),
    );
    b.js("location.reload(); return true");
    b.wait_for(
        "the same two after a reload",
        &format!("{rows} === 2 && document.getElementById('runs-total').textContent === '2 runs'"),
    );
    assert_eq!(
        b.js("return document.getElementById('flow').value"),
        "alpha"
    );
    assert_eq!(
        b.js("return document.getElementById('tag').value"),
        "nightly"
    );
    assert_eq!(
        b.js("return document.querySelector('.chip.FAILED').getAttribute('aria-pressed')"),
        "true"
    );
    b.click(".chip.COMPLETED");
    b.wait_for("five alpha runs", &format!("{rows} === 5"));
    assert_eq!(
        b.js("return new URLSearchParams(location.search).get('state')"),
        "FAILED,COMPLETED"
    );
    b.wait_for(
        "the scatter",
        "return document.querySelectorAll('#scatter circle.dot').length === 5",
    );
    b.screenshot("runs-light");
    b.theme("dark");
    b.screenshot("runs-dark");
    b.theme("light");

    // The flows page: success over finished runs, true run counts.
    b.open(&format!("{ui}/flows"));
    b.wait_for(
        "both flows",
        "return document.querySelectorAll('tr[data-flow] .rate').length === 2",
    );
    let rates = b.js("return Object.fromEntries([...document.querySelectorAll('tr[data-flow]')].map(r => [r.dataset.flow, r.querySelector('.rate').textContent]))");
    assert_eq!(rates, json!({"alpha": "60%", "beta": "100%"}));
    assert_eq!(
        b.js("return document.querySelectorAll('tr[data-flow=alpha] .sparkline rect').length"),
        5
    );
    b.screenshot("flows-light");
    b.theme("dark");
    b.screenshot("flows-dark");
}
