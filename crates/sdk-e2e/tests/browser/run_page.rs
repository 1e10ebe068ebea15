//! The seed's elevator, run with the Rust SDK and opened on its run page: the timeline shows
//! three overlapping bars of about 3, 2 and 1 s, a log line names its task run, and clicking a
//! bar shows that task run's logs. Screenshots in light and dark.

use flowgate::testing::harness;
use flowgate::{ThreadPoolTaskRunner, flow, task, wait};
use flowgate_sdk_e2e::elevator;
use serde_json::{Value, json};

use crate::runs::run_to;
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

/// A running run's timeline marks "now" on its axis: inside the axis (left of its line near the
/// right edge) and clear of every tick label (one it would cover is left out).
#[test]
fn a_running_runs_now_label_stands_inside_the_axis_and_clear_of_the_ticks() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let flow = h.post("/flows/", json!({"name": "live-timeline"}));
    let run = run_to(&h, &flow, "live-run", &[], "RUNNING");
    h.post(
        "/task_runs/",
        json!({"flow_run_id": run, "task_key": "step", "dynamic_key": "0", "name": "step-0",
               "state": {"type": "RUNNING"}}),
    );
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    b.open(&format!("{ui}/runs/flow-run/{run}"));
    b.wait_for(
        "the now label and a tick label",
        "return !!document.querySelector('#timeline .tl-now-label') && !!document.querySelector('#timeline .tl-tick-label')",
    );
    let [inside, covered] = [
        "const now = document.querySelector('#timeline .tl-now-label').getBBox(); \
         return now.x >= 0 && now.x + now.width <= document.querySelector('#timeline .tl-axis').width.baseVal.value",
        "const now = document.querySelector('#timeline .tl-now-label').getBBox(); \
         return [...document.querySelectorAll('#timeline .tl-tick-label')].map(t => t.getBBox()) \
           .filter(t => t.x < now.x + now.width && now.x < t.x + t.width).length",
    ]
    .map(|script| b.js(script));
    assert_eq!(inside, true, "the now label lies inside the axis");
    assert_eq!(covered, 0, "no tick label under the now label");
    b.screenshot("run-live");
    b.theme("dark");
    b.screenshot("run-live-dark");
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
/// Performance API measured it from the navigation, and what each step of a pan cost
/// (BENCHMARKS.md).
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

    // Zoomed in, a drag across and down the timeline, one pointer move per frame.
    b.js(&PAN.replace("PAN_STEPS", &PAN_STEPS.to_string()));
    b.wait_for("the pan", "return window.panned != null");
    let pan = b.js("return window.panned");
    assert_eq!(pan["errors"], json!([]), "the pan raised no error");
    let figures = |key: &str| {
        let mut ms: Vec<f64> = pan[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        (at(0.5), at(0.95), at(1.0))
    };
    let (median, p95, max) = figures("work");
    let (script, _, _) = figures("script");
    let (latency, _, _) = figures("latency");
    println!(
        "{}",
        json!({"timeline_pan_10000_task_runs": {"steps": PAN_STEPS, "median_ms": median,
            "p95_ms": p95, "max_ms": max, "long_tasks": pan["long_tasks"],
            "script_median_ms": script, "to_next_frame_median_ms": latency}})
    );
    let drawn: Vec<u64> = pan["drawn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(
        drawn.len() == PAN_STEPS && drawn.iter().all(|n| (1..500).contains(n)),
        "{drawn:?} bars in the document while panning: only the rows in view"
    );
    let (before, after) = (
        pan["before"].as_array().unwrap(),
        pan["after"].as_array().unwrap(),
    );
    assert!(
        !before.is_empty() && !after.is_empty() && before.iter().all(|id| !after.contains(id)),
        "the drag brought other rows into view: {before:?} then {after:?}"
    );
}

const PAN_STEPS: usize = 60;

/// Zooms the timeline in (`+` six times), then drags it left and up by 12 px a step for
/// `PAN_STEPS` steps: a pointer move, then the frame the timeline redraws in. Per step, `work` is
/// the main thread's time on it: handling the event, then from that frame's start until its
/// rendering (style, layout, paint) is done; `script` is the JavaScript part of that (the
/// handler and the redraw); `latency` runs from the event until the frame is rendered, the wait
/// for the frame included. Also the long tasks (over 50 ms) meanwhile, the bars in the document
/// after each step, the rows in view before and after, and any error raised. Leaves them in
/// `window.panned`.
const PAN: &str = r#"
const scroller = document.querySelector('#timeline .tl-scroll');
const rows = scroller.querySelector('svg.tl-rows');
const frame = () => new Promise((done) => requestAnimationFrame(done));
const rendered = () => new Promise((done) => { const c = new MessageChannel(); c.port1.onmessage = done; c.port2.postMessage(0); });
const inView = () => [...rows.querySelectorAll('rect.bar')].map((r) => r.dataset.id);
const errors = [];
addEventListener('error', (e) => errors.push(String(e.message)));
const longTasks = [];
new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => e.duration))).observe({ type: 'longtask' });
window.panned = null;
(async () => {
  for (let i = 0; i < 6; i++) scroller.dispatchEvent(new KeyboardEvent('keydown', { key: '+', bubbles: true, cancelable: true }));
  await frame();
  await rendered();
  const box = rows.getBoundingClientRect();
  let x = box.left + box.width / 2;
  let y = box.top + 100;
  const pointer = (type) => rows.dispatchEvent(new PointerEvent(type, { pointerId: 1, pointerType: 'mouse', isPrimary: true, button: 0, buttons: 1, clientX: x, clientY: y, bubbles: true }));
  const before = inView();
  const script = [];
  const work = [];
  const latency = [];
  const drawn = [];
  pointer('pointerdown');
  for (let i = 0; i < PAN_STEPS; i++) {
    x -= 12;
    y -= 12;
    const began = frame().then(() => performance.now());
    const t = performance.now();
    pointer('pointermove');
    const handled = performance.now();
    await frame();
    const redrawn = performance.now();
    await rendered();
    const end = performance.now();
    const start = await began;
    script.push(handled - t + redrawn - start);
    work.push(handled - t + end - start);
    latency.push(end - t);
    drawn.push(rows.querySelectorAll('rect.bar').length);
  }
  pointer('pointerup');
  const after = inView();
  await frame();
  await rendered();
  window.panned = { script, work, latency, drawn, before, after, long_tasks: longTasks.length, errors };
})().catch((e) => { window.panned = { errors: [String(e)] }; });
"#;
