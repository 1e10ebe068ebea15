//! Automations and events in the browser: the empty automations page explains them; the
//! three-step form (generated from the wire types' schemas) creates an event trigger that
//! pauses a work pool, shows the server's refusal beside the action's field, and round-trips
//! through its JSON view; the list shows it and its switch disables and enables it; after an
//! event sent over the API it fires, and its page shows the trigger's state and the firing with
//! its action's outcome; the event feed shows the event (its JSON as text), filtered in the URL,
//! and new events arrive live; the dashboard lists the pool and the firing. Also: a sequence's
//! matched part and a metric's value on their pages, editing and deleting from the page, a
//! compound built from its parts in the form (a part's refusal beside that part's field), and
//! the feed's pages as links with the filter in the address.

use flowgate::testing::harness;
use serde_json::{Value, json};

use crate::webdriver::Browser;

const NAME: &str = "pause etl on ui.test";

/// Chooses the option labelled `label` of the select `css`, as a person picking it would.
fn choose(b: &Browser, css: &str, label: &str) {
    let chosen = b.js(&format!(
        "const s = document.querySelector({css:?}); const o = [...s.options].find(o => o.textContent === {label:?});
         if (!o) return false; s.value = o.value; s.dispatchEvent(new Event('change', {{bubbles: true}})); return true;"
    ));
    assert_eq!(chosen, json!(true), "{css} offers {label}");
}

/// `document.querySelector(css).textContent`.
fn text(b: &Browser, css: &str) -> String {
    let v = b.js(&format!(
        "const e = document.querySelector({css:?}); return e ? e.textContent : ''"
    ));
    v.as_str().unwrap_or_default().to_owned()
}

/// A screenshot of the page in the dark theme; the page is left in the light one.
fn dark_screenshot(b: &Browser, name: &str) {
    b.theme("dark");
    // The theme's colours fade in (0.12 s): the picture is taken once they have.
    std::thread::sleep(std::time::Duration::from_millis(400));
    b.screenshot(name);
    b.theme("light");
}

/// A script: whether a success toast (shown once the server took a change) ends with `end`.
fn toast_ending(end: &str) -> String {
    format!(
        "return [...document.querySelectorAll('.toast.success')].some(t => t.textContent.endsWith({end:?}))"
    )
}

/// An event about `resource` named `name`, occurring now, its id and time made by the page.
fn event(b: &Browser, name: &str, resource: &str) -> Value {
    let made = b.js("return [crypto.randomUUID(), new Date().toISOString()]");
    json!([{"id": made[0], "occurred": made[1], "event": name,
            "resource": {"prefect.resource.id": resource, "prefect.resource.name": "the thing"},
            "payload": {"note": "<b>not markup</b>"}}])
}

#[test]
fn a_person_automates_pausing_a_pool_and_watches_it_fire() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    let pool = h.post(
        "/work_pools/",
        json!({"name": "etl", "concurrency_limit": 3}),
    );
    h.post("/work_pools/etl/workers/heartbeat", json!({"name": "w1"}));

    // No automation yet: the page says what they are.
    b.open(&format!("{ui}/automations"));
    b.wait_for(
        "the introduction",
        "return !!document.getElementById('automations-intro')",
    );
    assert!(text(&b, "#automations-intro").contains("Sequence"));
    b.screenshot("automations-1-empty");

    // Step 1, the trigger: ui.test events about resources ui.*.
    b.click("#automations-intro a.primary");
    b.wait_for(
        "the trigger step",
        "return !!document.querySelector('[name=\"trigger.type\"]')",
    );
    assert_eq!(
        b.js("return [...document.querySelector('[name=\"trigger.type\"]').options].map(o => o.textContent).join(',')"),
        "Event,Compound,Sequence,Metric"
    );
    // A metric trigger reads as the seed's: over the last … for ….
    choose(&b, "[name=\"trigger.type\"]", "Metric");
    let metric = text(&b, "#trigger-fields");
    assert!(
        metric.contains("Over the last") && metric.contains("For (seconds)"),
        "{metric}"
    );
    choose(&b, "[name=\"trigger.type\"]", "Event");
    b.click("[data-field=\"trigger.expect\"] .list-editor > button");
    b.type_into("[data-field=\"trigger.expect\"] input", "ui.test");
    b.click("[data-field=\"trigger.match\"] .list-editor > button");
    b.type_into(
        "[data-field=\"trigger.match\"] .map-key",
        "prefect.resource.id",
    );
    b.type_into("[data-field=\"trigger.match\"] .map-value", "ui.*");
    b.wait_for(
        "the trigger's phrase",
        "return document.getElementById('trigger-preview').textContent.includes('ui.test on ui.*')",
    );
    b.screenshot("automations-2-trigger");
    dark_screenshot(&b, "automations-2-trigger-dark");

    // Step 2, the actions: pause a work pool, first without saying which.
    b.click("#automation-next");
    b.click("[data-add=actions]");
    choose(&b, "[name=\"actions.0.type\"]", "Pause work pool");
    b.wait_for(
        "the pool choice",
        "return !!document.querySelector('[name=\"actions.0.work_pool_id\"]')",
    );

    // Step 3, the details; Create is refused, the reason beside the action's pool.
    b.click("#automation-next");
    b.type_into("[name=name]", NAME);
    b.type_into(
        "[name=description]",
        "stop taking work when a ui.test event comes",
    );
    b.click("#automation-save");
    b.wait_for(
        "the refusal beside the pool",
        "return (document.querySelector('[data-field=\"actions.0.work_pool_id\"] .field-error') || {}).textContent?.includes('required')",
    );
    assert_eq!(
        b.js("return document.getElementById('step-actions').classList.contains('active')"),
        true,
        "the form went to the step with the refused field"
    );
    b.screenshot("automations-3-refused");
    choose(&b, "[name=\"actions.0.work_pool_id\"]", "etl");

    // The JSON view shows what the form makes, and what is changed there comes back.
    b.click("#view-json");
    let body: Value = serde_json::from_str(
        b.js("return document.getElementById('automation-json').value")
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["trigger"]["expect"], json!(["ui.test"]));
    assert_eq!(
        body["trigger"]["match"],
        json!({"prefect.resource.id": "ui.*"})
    );
    assert_eq!(
        body["actions"],
        json!([{"type": "pause-work-pool", "source": "selected", "work_pool_id": pool["id"]}])
    );
    b.screenshot("automations-4-json");
    b.js("const t = document.getElementById('automation-json'); const v = JSON.parse(t.value); v.tags = ['ops']; t.value = JSON.stringify(v, null, 2);");
    b.click("#view-form");
    b.wait_for(
        "the form again",
        "return !document.getElementById('step-card').hidden",
    );
    assert_eq!(
        b.js("return document.querySelector('[data-field=tags] input').value"),
        "ops"
    );
    b.click("#automation-next");
    b.click("#automation-save");
    b.wait_for(
        "the automation's page",
        "return location.pathname.startsWith('/automations/automation/')",
    );
    let id = b
        .js("return location.pathname.split('/').pop()")
        .as_str()
        .unwrap()
        .to_owned();
    let saved = h.get(&format!("/automations/{id}"));
    assert_eq!(
        (
            saved["name"].clone(),
            saved["tags"].clone(),
            saved["enabled"].clone()
        ),
        (json!(NAME), json!(["ops"]), json!(true))
    );

    // Listed, with its trigger and action; its switch disables and enables it.
    b.open(&format!("{ui}/automations"));
    let row = format!("tr[data-automation=\"{NAME}\"]");
    b.wait_for(
        "the row",
        &format!("return !!document.querySelector('{row}')"),
    );
    let listed = text(&b, &row);
    assert!(
        listed.contains("ui.test on ui.*")
            && listed.contains("Pause work pool")
            && listed.contains("Never"),
        "{listed}"
    );
    b.click(&format!("{row} .switch input"));
    b.wait_for("the server to take it", &toast_ending(" disabled"));
    assert_eq!(h.get(&format!("/automations/{id}"))["enabled"], false);
    b.screenshot("automations-5-list-disabled");
    b.click(&format!("{row} .switch input"));
    b.wait_for("enabled again", &toast_ending(" enabled"));
    assert_eq!(h.get(&format!("/automations/{id}"))["enabled"], true);

    // An event over the API: it fires, the pool is paused, the page says so.
    b.open(&format!("{ui}/automations/automation/{id}"));
    b.wait_for(
        "the trigger state",
        "return !!document.querySelector('#trigger-state .trigger-node')",
    );
    h.post("/events/", event(&b, "ui.test", "ui.thing"));
    b.wait_for(
        "the firing with its outcome",
        "return (document.querySelector('#firings tr[data-firing] .outcome.ok') || {}).textContent?.includes('Pause work pool')",
    );
    assert_eq!(h.get("/work_pools/etl")["is_paused"], true);
    b.wait_for(
        "the counted event",
        "return document.querySelector('#trigger-state').textContent.includes('Last matched: ui.test')",
    );
    b.screenshot("automations-6-fired");
    dark_screenshot(&b, "automations-6-fired-dark");
    b.theme("light");

    // The event feed: the event, its JSON as text; the filter kept in the URL.
    b.open(&format!("{ui}/events?prefix=ui."));
    b.wait_for(
        "the event",
        "return !!document.querySelector('tr[data-event=\"ui.test\"]')",
    );
    assert_eq!(
        b.js("return document.querySelectorAll('tr.event-row').length"),
        1,
        "the prefix filter holds"
    );
    b.click("tr[data-event=\"ui.test\"]");
    b.wait_for(
        "the event's JSON",
        "return (document.querySelector('#event-dialog pre') || {}).textContent?.includes('<b>not markup</b>')",
    );
    assert_eq!(
        b.js("return document.querySelectorAll('#event-dialog b').length"),
        0
    );
    b.screenshot("automations-7-event");
    b.js("document.querySelector('#event-dialog').close()");
    // Live: a new event shows without a reload.
    b.wait_for(
        "the live feed",
        "return document.getElementById('live-status').dataset.state === 'live'",
    );
    h.post("/events/", event(&b, "ui.live", "ui.other"));
    b.wait_for(
        "the live event",
        "return !!document.querySelector('tr[data-event=\"ui.live\"]')",
    );
    b.screenshot("automations-8-feed");

    // The dashboard: the pool (paused) and the firing.
    b.open(&format!("{ui}/"));
    b.wait_for(
        "the firing on the dashboard",
        &format!("return document.getElementById('firings').textContent.includes({NAME:?})"),
    );
    // The cards fill independently: the pools card may come a moment after the firings.
    b.wait_for(
        "the paused pool on the dashboard",
        "return (document.querySelector('#pools tr[data-pool=etl]') || {}).textContent?.includes('Paused')",
    );
    b.js("document.getElementById('pools').scrollIntoView()");
    b.screenshot("automations-9-dashboard");
}

#[test]
fn an_automations_page_says_which_parts_matched_and_a_metrics_value() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    let sequence = h.post(
        "/automations/",
        json!({"name": "one then two", "actions": [{"type": "do-nothing"}],
               "trigger": {"type": "sequence", "within": 600, "triggers": [
                   {"type": "event", "expect": ["seq.one"]}, {"type": "event", "expect": ["seq.two"]}]}}),
    );
    let metric = h.post(
        "/automations/",
        json!({"name": "flows succeed", "actions": [{"type": "do-nothing"}],
               "trigger": {"type": "metric", "metric": {"name": "successes", "operator": "<",
                           "threshold": 0.7, "range": 600, "firing_for": 600}}}),
    );

    // The first part of the sequence has matched, the second has not.
    b.open(&format!("{ui}/automations"));
    b.wait_for(
        "the list",
        "return document.querySelectorAll('tr[data-automation]').length === 2",
    );
    h.post("/events/", event(&b, "seq.one", "seq.thing"));
    b.open(&format!(
        "{ui}/automations/automation/{}",
        sequence["id"].as_str().unwrap()
    ));
    b.wait_for(
        "the first part matched",
        "return JSON.stringify([...document.querySelectorAll('#trigger-state .part')].map(p => p.dataset.satisfied)) === '[\"true\",\"false\"]'",
    );
    assert!(text(&b, "#trigger-state .parts-count").contains("1 of 2 matched"));
    b.screenshot("automations-10-sequence");

    // One run of three succeeded: the metric reads 33.3%, below its 70% threshold.
    let flow = h.post("/flows/", json!({"name": "etl"}));
    for last in ["COMPLETED", "FAILED", "FAILED"] {
        let run = h.post(
            "/flow_runs/",
            json!({"flow_id": flow["id"], "state": {"type": "PENDING"}}),
        );
        let id = run["id"].as_str().unwrap();
        for state in ["RUNNING", last] {
            h.post(
                &format!("/flow_runs/{id}/set_state"),
                json!({"state": {"type": state}}),
            );
        }
    }
    b.open(&format!(
        "{ui}/automations/automation/{}",
        metric["id"].as_str().unwrap()
    ));
    b.wait_for(
        "the metric's value",
        "return (document.querySelector('#trigger-state .stat-value') || {}).textContent === '33.3%'",
    );
    assert!(text(&b, "#trigger-state .stats").contains("< 70%"));
    assert_eq!(
        b.js("return !!document.querySelector('#trigger-state .gauge.breached')"),
        true
    );
    b.screenshot("automations-11-metric");
}

#[test]
fn an_automation_is_edited_and_deleted_from_its_page() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    let made = h.post(
        "/automations/",
        json!({"name": "late runs", "actions": [{"type": "do-nothing"}],
               "trigger": {"type": "event", "expect": ["prefect.flow-run.Late"], "threshold": 2, "within": 60}}),
    );
    let id = made["id"].as_str().unwrap().to_owned();

    // Edit: the form holds the definition; a new name and threshold are saved with PUT.
    b.open(&format!("{ui}/automations/automation/{id}"));
    b.wait_for(
        "the page",
        "return !!document.getElementById('edit-automation')",
    );
    b.click("#edit-automation");
    b.wait_for(
        "the form with the definition",
        "return (document.querySelector('[name=\"trigger.threshold\"]') || {}).value === '2'",
    );
    b.type_into("[name=\"trigger.threshold\"]", "3");
    b.click("#step-details");
    b.type_into("[name=name]", "very late runs");
    b.click("#automation-save");
    b.wait_for(
        "the page with the new name",
        "return !location.pathname.endsWith('/edit') && document.querySelector('h1')?.textContent === 'very late runs'",
    );
    let saved = h.get(&format!("/automations/{id}"));
    assert_eq!(saved["trigger"]["threshold"], 3);
    assert_eq!(saved["trigger"]["expect"], json!(["prefect.flow-run.Late"]));

    // Delete, after a question: back on the list, which no longer has it.
    b.click("#delete-automation");
    b.wait_for(
        "the question",
        "return !!document.getElementById('confirm-ok')",
    );
    b.click("#confirm-ok");
    b.wait_for(
        "the list",
        "return location.pathname === '/automations' && !!document.getElementById('automations-intro')",
    );
    let left = h.post("/automations/count", json!({}));
    assert_eq!(left, 0);
}

#[test]
fn the_event_feed_pages_by_links_and_keeps_its_filters_in_the_url() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    b.open(&format!("{ui}/events"));
    b.wait_for("the feed", "return !!document.getElementById('events')");
    let events: Vec<Value> = (0..55)
        .map(|i| event(&b, &format!("page.n{i:02}"), "page.thing")[0].clone())
        .collect();
    h.post("/events/", Value::Array(events));
    h.post("/events/", event(&b, "other.event", "page.thing"));

    // The filter typed in goes into the address and survives a reload.
    b.type_into("#event-prefix", "page.");
    b.click("#event-apply");
    b.wait_for(
        "the filtered first page",
        "return location.search.includes('prefix=page.') && document.querySelectorAll('tr.event-row').length === 50",
    );
    b.open(&format!("{ui}/events?prefix=page."));
    b.wait_for(
        "the first page again",
        "return document.querySelectorAll('tr.event-row').length === 50",
    );
    assert!(text(&b, "#event-pager").contains("1–50 of 55"));
    assert_eq!(
        b.js("return document.getElementById('event-prefix').value"),
        "page."
    );
    // Above the feed, the window's events per hour: the 55 in the newest bars, none elsewhere.
    b.wait_for(
        "the chart's bars",
        "return document.querySelectorAll('#event-chart .bucket').length >= 24",
    );
    assert_eq!(
        b.js("return [...document.querySelectorAll('#event-chart .bucket')].reduce((n, g) => n + Number(g.dataset.count), 0)"),
        55
    );
    assert_eq!(
        b.js("return [...document.querySelectorAll('#event-chart .bucket')].slice(0, -2).every((g) => g.dataset.count === '0')"),
        true
    );
    // Drawn as tall as its count (no stylesheet rule sizes the bar instead).
    assert_eq!(
        b.js("const bars = [...document.querySelectorAll('#event-chart .events-bar')]; const busy = bars.find((r) => r.parentNode.dataset.count !== '0'); return busy.getBoundingClientRect().height > 30 && bars[0].getBoundingClientRect().height === 0"),
        true
    );
    b.screenshot("events-chart");

    // Older: the last five, newest first; the link kept the filter.
    b.click("#events-older");
    b.wait_for(
        "the second page",
        "return document.querySelectorAll('tr.event-row').length === 5",
    );
    assert!(text(&b, "#event-pager").contains("51–55 of 55"));
    assert!(
        b.js("return location.search")
            .as_str()
            .unwrap()
            .contains("page=")
    );
    b.click("#events-newer");
    b.wait_for(
        "the first page",
        "return document.querySelectorAll('tr.event-row').length === 50",
    );
}

#[test]
fn a_compound_trigger_is_built_from_its_parts_in_the_form() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    b.open(&format!("{ui}/automations/create"));
    b.wait_for(
        "the form",
        "return !!document.querySelector('[name=\"trigger.type\"]')",
    );
    choose(&b, "[name=\"trigger.type\"]", "Compound");
    b.type_into("[name=\"trigger.require\"]", "all");
    b.type_into("[name=\"trigger.within\"]", "60");
    for (i, name) in ["a.one", "a.two"].iter().enumerate() {
        b.click("[data-add=\"trigger.triggers\"]");
        let part = format!("[data-field=\"trigger.triggers.{i}.expect\"]");
        b.click(&format!("{part} .list-editor > button"));
        b.type_into(&format!("{part} input"), name);
    }
    // A part's bad threshold: the refusal lands beside that part's field.
    b.type_into("[name=\"trigger.triggers.1.threshold\"]", "0");
    b.wait_for(
        "the phrase",
        "return document.getElementById('trigger-preview').textContent.includes('all of 2 triggers, any order within 1m')",
    );
    b.click("#step-actions");
    b.click("[data-add=actions]");
    b.click("#step-details");
    b.type_into("[name=name]", "both parts");
    b.click("#automation-save");
    b.wait_for(
        "the refusal beside the part",
        "return (document.querySelector('[data-field=\"trigger.triggers.1.threshold\"] .field-error') || {}).textContent?.includes('between 1 and')",
    );
    assert_eq!(
        b.js("return document.getElementById('step-trigger').classList.contains('has-error')"),
        true
    );
    b.screenshot("automations-12-compound-refused");
    b.type_into("[name=\"trigger.triggers.1.threshold\"]", "2");
    b.click("#step-details");
    b.click("#automation-save");
    b.wait_for(
        "the automation's page",
        "return location.pathname.startsWith('/automations/automation/')",
    );
    let id = b.js("return location.pathname.split('/').pop()");
    let saved = h.get(&format!("/automations/{}", id.as_str().unwrap()));
    let t = &saved["trigger"];
    assert_eq!(
        (t["type"].clone(), t["require"].clone(), t["within"].clone()),
        (json!("compound"), json!("all"), json!(60.0))
    );
    assert_eq!(t["triggers"][0]["expect"], json!(["a.one"]));
    assert_eq!(
        (
            t["triggers"][1]["expect"].clone(),
            t["triggers"][1]["threshold"].clone()
        ),
        (json!(["a.two"]), json!(2))
    );
    assert_eq!(saved["actions"], json!([{"type": "do-nothing"}]));
    b.wait_for(
        "both parts waiting",
        "return document.querySelectorAll('#trigger-state .part.waiting').length === 2",
    );
}
