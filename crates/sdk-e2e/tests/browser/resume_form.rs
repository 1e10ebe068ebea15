//! A Rust flow pauses for a shirt order; a person opens the run page, fills in the generated
//! form, meets the server's per-field check and the flow's own validator, then orders a shirt
//! the shop has; the flow completes and logs the order.

use std::time::{Duration, Instant};

use flowgate::testing::{Harness, harness};
use flowgate_sdk_e2e::{Color, Size, get_shirt_order};
use serde_json::json;

use crate::webdriver::Browser;

/// Waits until the shirt flow is paused for the `n`-th time; returns the run's id.
fn paused(h: &Harness, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let runs = h.post(
            "/flow_runs/filter",
            json!({"flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}}}),
        );
        if let Some(run) = runs
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["empirical_policy"]["pause_keys"].as_array().map(Vec::len) == Some(n))
        {
            return run["id"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "the flow did not pause ({n})");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Opens the resume dialog of the run page (waiting for the page's refresh to offer it).
fn open_dialog(b: &Browser) {
    b.wait_for(
        "the Resume button",
        "return !!document.getElementById('resume')",
    );
    b.click("#resume");
    b.wait_for("the form", "return document.getElementById('resume-dialog').open && !!document.querySelector('#resume-fields [name=size]')");
}

#[test]
fn a_person_orders_a_shirt_through_the_resume_form() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    std::thread::scope(|s| {
        let flow = s.spawn(|| {
            let _serve = h.enter();
            get_shirt_order()
        });
        let _cancel = h.cancel_paused_on_panic();
        let run = paused(&h, 1);
        b.open(&format!("{ui}/runs/flow-run/{run}"));
        open_dialog(&b);
        assert_eq!(
            b.js("return document.querySelector('#resume-description h3').textContent"),
            "Pick a shirt",
            "markdown is rendered"
        );
        assert_eq!(
            b.js("return document.querySelector('#resume-fields [name=color]').value"),
            "\"black\"",
            "initial data prefills the form"
        );
        assert_eq!(
            b.js("return window.__xss === undefined"),
            true,
            "markup in the description is shown, not run"
        );
        assert_eq!(
            b.js(
                "return document.getElementById('resume-description').textContent.includes('<img')"
            ),
            true
        );
        b.screenshot("1-form");

        // An out-of-range count: the server's check is shown beside the field; typing is kept.
        b.click("#resume-fields [name=size] option[value='\"small\"']");
        b.click("#resume-fields [name=color] option[value='\"green\"']");
        b.type_into("#resume-fields [name=count]", "11");
        b.click("#resume-submit");
        b.wait_for("the count error", "return document.querySelector('[data-field=count] .field-error').textContent.length > 0");
        assert_eq!(
            b.js("return document.querySelector('#resume-fields [name=size]').value"),
            "\"small\"",
            "what was typed is kept"
        );
        b.screenshot("2-field-error");

        // Small and green passes the schema; the flow's validator sends it back with its message.
        b.type_into("#resume-fields [name=count]", "2");
        b.click("#resume-submit");
        let again = paused(&h, 2);
        assert_eq!(again, run);
        b.js("location.reload(); return true");
        open_dialog(&b);
        b.wait_for("the validator's message", "return document.getElementById('resume-description').textContent.includes('Green is only in-stock')");
        b.screenshot("3-validator-message");

        b.click("#resume-fields [name=size] option[value='\"medium\"']");
        b.click("#resume-fields [name=color] option[value='\"red\"']");
        b.type_into("#resume-fields [name=count]", "2");
        b.click("#resume-submit");
        let order = flow.join().expect("the flow completes");
        assert_eq!(
            (order.size, order.color, order.count),
            (Size::Medium, Color::Red, 2)
        );
        b.wait_for(
            "the completed badge",
            "return !!document.querySelector('.badge.COMPLETED')",
        );
        b.wait_for(
            "the resumes table",
            "return document.getElementById('resumes').textContent.includes('medium')",
        );
        assert_eq!(
            b.js("return document.getElementById('resumes').textContent.includes('the web UI')"),
            true,
            "who resumed is shown"
        );
        b.screenshot("4-completed");
    });
    let runs = h.post(
        "/flow_runs/filter",
        json!({"flows": {"name": {"any_": ["get-shirt-order"]}}}),
    );
    let logs = h.post(
        "/logs/filter",
        json!({"logs": {"flow_run_id": {"any_": [runs[0]["id"]]}}}),
    );
    let messages: Vec<&str> = logs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert!(
        messages.contains(&"Shirt order: 2 Medium Red shirt(s)"),
        "{messages:?}"
    );
    // The theme toggle switches to the other theme, and the page follows.
    let before = b.js("return getComputedStyle(document.body).backgroundColor");
    b.click("#theme");
    assert!(
        b.js("return document.documentElement.dataset.theme")
            .is_string()
    );
    assert_ne!(
        b.js("return getComputedStyle(document.body).backgroundColor"),
        before
    );
    b.screenshot("5-completed-other-theme");
}
