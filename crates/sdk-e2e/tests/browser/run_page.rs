//! The seed's elevator, run with the Rust SDK and opened on its run page: the timeline shows
//! three overlapping bars of about 3, 2 and 1 s, a log line names its task run, and clicking a
//! bar shows that task run's logs. Screenshots in light and dark.

use flowgate::testing::harness;
use flowgate::{ThreadPoolTaskRunner, flow, task, wait};
use flowgate_sdk_e2e::elevator;
use serde_json::{Value, json};

use crate::webdriver::Browser;

/// The timeline's bars as `[x, width, task-run id]`, left to right in row order.
const BARS: &str = "return [...document.querySelectorAll('#timeline rect.bar')].map(r => [+r.getAttribute('x'), +r.getAttribute('width'), r.dataset.id])";

#[test]
fn the_elevators_timeline_shows_three_stops_at_once() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    {
        let _serve = h.enter();
        elevator();
    }
    let runs = h.post(
        "/flow_runs/filter",
        json!({"flows": {"name": {"any_": ["elevator"]}}}),
    );
    let run = runs[0]["id"].as_str().unwrap().to_owned();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    b.open(&format!("{ui}/runs/flow-run/{run}"));
    b.wait_for(
        "three bars",
        "return document.querySelectorAll('#timeline rect.bar').length === 3",
    );

    // Three bars that overlap, about 3, 2 and 1 s long: concurrency at a glance.
    let bars = b.js(BARS);
    let bars: Vec<(f64, f64)> = bars
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v[0].as_f64().unwrap(), v[1].as_f64().unwrap()))
        .collect();
    for (i, a) in bars.iter().enumerate() {
        for c in &bars[i + 1..] {
            assert!(
                a.0 < c.0 + c.1 && c.0 < a.0 + a.1,
                "bars {a:?} and {c:?} overlap"
            );
        }
    }
    let mut widths: Vec<f64> = bars.iter().map(|b| b.1).collect();
    widths.sort_by(f64::total_cmp);
    let (one, two, three) = (widths[0], widths[1], widths[2]);
    assert!(
        (1.7..2.3).contains(&(two / one)) && (2.5..3.5).contains(&(three / one)),
        "bar widths {widths:?} are about 1 : 2 : 3"
    );
    assert_eq!(
        b.js("return document.querySelector('#timeline .tl-summary').textContent"),
        "3 task runs"
    );

    // A log line names its task run.
    let logs = h.post(
        "/logs/filter",
        json!({"logs": {"flow_run_id": {"any_": [run]}}}),
    );
    let line = logs
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["message"] == "elevator moving to floor 3")
        .expect("the task logged its move");
    let task: Value = h.post(
        "/task_runs/filter",
        json!({"task_runs": {"id": {"any_": [line["task_run_id"]]}}}),
    )[0]
    .clone();
    let name = task["name"].as_str().unwrap();
    let sources = "[...document.querySelectorAll('#logs .log-line')].filter(l => l.textContent.includes('elevator moving to floor 3')).map(l => l.querySelector('.log-source').textContent)";
    b.wait_for("the log line", &format!("return {sources}.length === 1"));
    assert_eq!(
        b.js(&format!("return {sources}")),
        json!([name]),
        "the line names its task run"
    );
    b.screenshot("run-page-light");

    // Clicking that task's bar shows its own logs below the timeline.
    let index = b
        .js(BARS)
        .as_array()
        .unwrap()
        .iter()
        .position(|v| v[2] == task["id"])
        .unwrap();
    b.click(&format!("#timeline rect.bar:nth-of-type({})", index + 1));
    b.wait_for(
        "the task run's details",
        "return (document.querySelector('#selected-task .log-lines') || {textContent: ''}).textContent.includes('elevator stops on floor 3')",
    );
    assert!(
        b.js("return document.querySelector('#selected-task').textContent")
            .as_str()
            .unwrap()
            .contains(name)
    );
    b.theme("dark");
    b.screenshot("run-page-dark");

    // The task run's own page: its state history and logs.
    b.open(&format!(
        "{ui}/runs/task-run/{}",
        task["id"].as_str().unwrap()
    ));
    b.wait_for(
        "the state history",
        "return document.querySelectorAll('#state-history .badge').length >= 2 && document.querySelectorAll('#logs .log-line').length >= 2",
    );
    assert!(
        b.js("return document.getElementById('state-history').textContent")
            .as_str()
            .unwrap()
            .contains("Completed")
    );
    b.screenshot("task-run-dark");
}

#[task]
fn tick(i: u32) -> u32 {
    i
}

#[flow(name = "ten-thousand-ticks", task_runner = ThreadPoolTaskRunner::new(8))]
fn ten_thousand_ticks() -> usize {
    let ticks = tick::map(0..10_000);
    wait(&ticks);
    ticks.len()
}

/// A run of 10,000 task runs: its page says so (true counts, not a capped list's length),
/// draws only the timeline rows in view, and pans. Prints when the page stood complete, as the
/// Performance API measured it from the navigation (BENCHMARKS.md).
#[test]
fn a_run_of_10000_task_runs_shows_its_true_count_and_draws_only_what_is_in_view() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    {
        let _serve = h.enter();
        assert_eq!(ten_thousand_ticks(), 10_000);
    }
    let runs = h.post(
        "/flow_runs/filter",
        json!({"flows": {"name": {"any_": ["ten-thousand-ticks"]}}}),
    );
    let run = runs[0]["id"].as_str().unwrap().to_owned();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    let mut ready = Vec::new();
    for _ in 0..3 {
        b.open(&format!("{ui}/runs/flow-run/{run}"));
        b.wait_for(
            "the page",
            "return performance.getEntriesByName('page:flow-run').length === 1",
        );
        ready.push(
            b.js("return performance.getEntriesByName('page:flow-run')[0].startTime")
                .as_f64()
                .unwrap(),
        );
    }
    ready.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"run_page_10000_task_runs_ready_ms": ready, "median_ms": ready[1]})
    );
    assert_eq!(
        b.js("return document.querySelector('#timeline .tl-summary').textContent"),
        "10,000 task runs"
    );
    assert!(
        b.js(
            "return document.querySelector('.page-head').textContent.includes('10,000 task runs')"
        ) == json!(true),
        "the header counts every task run"
    );
    let drawn = b
        .js("return document.querySelectorAll('#timeline rect.bar').length")
        .as_u64()
        .unwrap();
    assert!(
        (1..500).contains(&drawn),
        "{drawn} bars in the document: only the rows in view are drawn"
    );
    b.screenshot("run-page-10000-light");
}
