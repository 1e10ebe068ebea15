//! Anyone who can call the API can store names, log lines and a paused run's input schema; the
//! UI must show all of it as text. A hostile flow, run, task run, log line, parameters and input
//! schema (field names, titles, enum values, defaults, string bounds, a markdown description,
//! each carrying markup, script and attribute-breaking quotes) are shown on the runs list, the
//! run page and the Resume form: the test checks that no element, attribute or handler came from
//! them, the script never ran, and the hostile text is on the page as text.

use flowgate::testing::harness;
use serde_json::{Value, json};

use crate::webdriver::Browser;

/// Markup that, parsed as HTML anywhere (text, attribute or `<select>`), would add elements or
/// run script; the quotes close attributes in either style.
const EVIL: &str = r#"x"'><img src=x onerror="window.__pwned=1"></select></option><script>window.__pwned=2</script>"#;
/// The same for markdown, without the underscores markdown would rightly read as bold.
const EVIL_MD: &str = r#"x"'><img src=x onerror="window.pwned=1"><script>window.pwned=2</script>"#;

/// True when the page holds no element or attribute the hostile data could have added, and
/// the script never ran.
const CLEAN: &str = r#"
    const inline = [...document.querySelectorAll('*')].some(el =>
        [...el.attributes].some(a => a.name.startsWith('on') || a.name === 'autofocus' || a.value.startsWith('javascript:')));
    const links = [...document.querySelectorAll('a')].some(a => a.protocol === 'javascript:');
    return window.__pwned === undefined && window.pwned === undefined && !inline && !links
        && document.querySelectorAll('img, iframe, object, embed, script:not([src])').length === 0;
"#;

/// `script` (which returns a string) run in the page, as a string.
fn text(b: &Browser, script: &str) -> String {
    b.js(script).as_str().unwrap_or_default().to_owned()
}

#[test]
fn nothing_from_the_api_is_parsed_as_html() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    let field = format!("size{EVIL}");
    let schema = json!({
        "type": "object",
        "title": EVIL,
        "required": [field],
        "properties": {
            field.clone(): {"type": "string", "title": EVIL, "description": EVIL, "enum": ["plain", EVIL], "default": EVIL},
            "count": {"type": "integer", "description": EVIL, "default": EVIL,
                      "minimum": "1\" onfocus=\"window.__pwned=3\" autofocus x=\"", "maximum": EVIL},
            "note": {"type": "string", "default": EVIL, "description": EVIL},
            "flag": {"type": "boolean", "title": EVIL},
            "nested": {"type": "object", "title": EVIL, "properties": {EVIL: {"type": "string", "default": EVIL}}},
            "__proto__": {"type": "string", "default": "no prototype was harmed"},
        },
    });
    let description = format!(
        "## Heading {EVIL_MD}\n**bold {EVIL_MD}** and [a link](javascript:window.pwned=4) `{EVIL}`"
    );
    let flow = h.post("/flows/", json!({"name": format!("flow{EVIL}")}));
    let run = h.post(
        "/flow_runs/",
        json!({"flow_id": flow["id"], "name": format!("run{EVIL}"), "parameters": {EVIL: EVIL},
               "state": {"type": "RUNNING"}}),
    );
    let id = run["id"].as_str().unwrap().to_owned();
    h.post(
        "/task_runs/",
        json!({"flow_run_id": id, "task_key": "evil", "name": format!("task{EVIL}"), "dynamic_key": "0",
               "state": {"type": "COMPLETED"}}),
    );
    h.post(
        "/logs/",
        json!([{"name": "evil", "level": 40, "message": format!("log{EVIL}"),
                "timestamp": "2026-01-01T00:00:00Z", "flow_run_id": id}]),
    );
    for (key, value) in [
        ("paused-1-schema", schema.to_string()),
        ("paused-1-description", Value::from(description).to_string()),
    ] {
        h.post(
            &format!("/flow_runs/{id}/input"),
            json!({"key": key, "value": value}),
        );
    }
    let keyset = json!({"schema": "paused-1-schema", "description": "paused-1-description", "response": "paused-1-response"});
    let paused = h.post(
        &format!("/flow_runs/{id}/set_state"),
        json!({"state": {"type": "PAUSED", "name": "Suspended",
                         "state_details": {"pause_key": "1", "run_input_keyset": keyset}}}),
    );
    assert_eq!(paused["status"], "ACCEPT", "{paused}");

    // The runs list: the flow in the filter and the table, the run's link.
    b.open(&format!("{ui}/runs"));
    b.wait_for(
        "the hostile run in the list",
        "return !!document.querySelector(`a[href*='flow-run']`)",
    );
    assert_eq!(
        text(
            &b,
            "return document.querySelector(`a[href*='flow-run']`).textContent"
        ),
        format!("run{EVIL}")
    );
    assert!(
        text(&b, "return document.getElementById('flow').innerText")
            .contains(&format!("flow{EVIL}"))
    );
    assert_eq!(b.js(CLEAN), json!(true), "the runs list is clean");

    // The run page: title, task run, parameters, log line.
    b.open(&format!("{ui}/runs/flow-run/{id}"));
    b.wait_for("the run page", "return !!document.getElementById('resume') && document.querySelectorAll('.log-line').length > 0");
    assert_eq!(
        text(&b, "return document.querySelector('h1').textContent"),
        format!("run{EVIL}")
    );
    let page = text(&b, "return document.getElementById('app').innerText");
    for shown in [
        format!("task{EVIL}"),
        format!("log{EVIL}"),
        format!("flow{EVIL}"),
    ] {
        assert!(
            page.contains(&shown),
            "{shown:?} is shown as text in {page:?}"
        );
    }
    assert!(
        text(&b, "return document.getElementById('params').textContent")
            .contains("onerror=\\\"window.__pwned=1\\\"")
    );
    assert_eq!(b.js(CLEAN), json!(true), "the run page is clean");

    // The Resume form generated from the hostile schema.
    b.click("#resume");
    b.wait_for(
        "the form",
        "return !!document.querySelector('#resume-fields [name=note]')",
    );
    b.screenshot("hostile-form");
    assert_eq!(b.js(CLEAN), json!(true), "the form is clean");
    assert_eq!(
        text(
            &b,
            "return document.querySelector('#resume-description h3').textContent"
        ),
        format!("Heading {EVIL_MD}"),
        "markdown still renders"
    );
    assert_eq!(
        text(
            &b,
            "return document.querySelector('#resume-description strong').textContent"
        ),
        format!("bold {EVIL_MD}")
    );
    assert_eq!(
        text(
            &b,
            "return document.querySelector('#resume-description code').textContent"
        ),
        EVIL
    );
    assert_eq!(
        b.js("return document.querySelector('#resume-description a').getAttribute('href')"),
        "#",
        "a javascript: link is refused"
    );
    // The hostile field: its label, hint and options are text; its default is selected.
    let select = format!(
        "document.querySelector('#resume-fields select[name=\"' + CSS.escape({}) + '\"]')",
        json!(field)
    );
    assert_eq!(
        b.js(&format!("return {select}.value")),
        json!(json!(EVIL).to_string())
    );
    assert_eq!(
        b.js(&format!(
            "return [...{select}.options].map(o => o.textContent)"
        )),
        json!(["plain", EVIL])
    );
    assert_eq!(
        b.js(&format!(
            "return {select}.closest('.field').querySelector('label').textContent"
        )),
        json!(EVIL)
    );
    // A string where a number belongs is not used at all; a string default is kept as typed.
    assert_eq!(
        b.js("const c = document.querySelector('#resume-fields [name=count]'); return [c.getAttribute('min'), c.getAttribute('max'), c.value]"),
        json!([null, null, ""])
    );
    assert_eq!(
        b.js("return document.querySelector('#resume-fields [name=note]').value"),
        json!(EVIL)
    );
    assert_eq!(
        b.js("return document.querySelector('#resume-fields [name=\"__proto__\"]').value"),
        json!("no prototype was harmed")
    );

    // Submitting: the server refuses the schema (its bounds are not numbers) and says so, as text.
    b.click("#resume-submit");
    b.wait_for(
        "the server's answer",
        "return document.getElementById('resume-error').textContent.length > 0 || !!document.querySelector('.field.invalid')",
    );
    b.screenshot("hostile-refused");
    assert_eq!(b.js(CLEAN), json!(true), "the answer is clean");
    let run = h.post(
        "/flow_runs/filter",
        json!({"flow_runs": {"id": {"any_": [id]}}}),
    );
    assert_eq!(
        run[0]["state_type"], "PAUSED",
        "the invalid schema let nothing through"
    );
}

#[test]
fn automations_and_events_from_the_api_are_shown_as_text() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    let name = format!("auto{EVIL}");
    let automation = h.post(
        "/automations/",
        json!({"name": name, "description": EVIL, "tags": [EVIL],
               "trigger": {"type": "compound", "require": "all", "within": 60, "triggers": [
                   {"type": "event", "expect": [format!("evil{EVIL}")], "match": {EVIL: EVIL}, "for_each": ["prefect.resource.id"]},
                   {"type": "metric", "metric": {"name": "successes", "threshold": 0.5, "operator": "<", "range": 60, "firing_for": 10}}]},
               "actions": [{"type": "do-nothing"}]}),
    );
    let id = automation["id"].as_str().unwrap().to_owned();
    b.open(&format!("{ui}/events"));
    b.wait_for("the feed", "return !!document.getElementById('events')");
    let made = b.js("return [crypto.randomUUID(), new Date().toISOString()]");
    h.post(
        "/events/",
        json!([{"id": made[0], "occurred": made[1], "event": format!("evil{EVIL}"),
                "resource": {"prefect.resource.id": EVIL, "prefect.resource.name": EVIL, EVIL: EVIL},
                "related": [{"prefect.resource.id": EVIL, "prefect.resource.role": EVIL}],
                "payload": {EVIL: EVIL}}]),
    );

    b.open(&format!("{ui}/automations"));
    b.wait_for(
        "the hostile automation",
        "return !!document.querySelector('tr[data-automation]')",
    );
    assert!(
        text(
            &b,
            "return document.getElementById('automations').innerText"
        )
        .contains(&name)
    );
    assert_eq!(b.js(CLEAN), json!(true), "the automations list is clean");

    b.open(&format!("{ui}/automations/automation/{id}"));
    b.wait_for(
        "the trigger state",
        "return document.querySelectorAll('#trigger-state .trigger-node').length === 3",
    );
    assert_eq!(
        text(&b, "return document.querySelector('h1').textContent"),
        name
    );
    assert!(text(&b, "return document.getElementById('app').innerText").contains(EVIL));
    assert_eq!(b.js(CLEAN), json!(true), "the automation page is clean");

    b.open(&format!("{ui}/automations/automation/{id}/edit"));
    b.wait_for(
        "the form",
        "return !!document.querySelector('[name=\"trigger.type\"]')",
    );
    assert_eq!(
        b.js("return document.querySelector('[data-field=\"trigger.triggers.0.match\"] .map-key').value"),
        json!(EVIL)
    );
    b.click("#view-json");
    assert!(
        text(
            &b,
            "return document.getElementById('automation-json').value"
        )
        .contains("onerror")
    );
    assert_eq!(b.js(CLEAN), json!(true), "the automation form is clean");

    b.open(&format!("{ui}/events"));
    let row = format!("tr.event-row[data-id=\"{}\"]", made[0].as_str().unwrap());
    b.wait_for(
        "the hostile event",
        &format!("return !!document.querySelector('{row}')"),
    );
    assert!(text(&b, "return document.getElementById('events').innerText").contains(EVIL));
    b.click(&row);
    b.wait_for(
        "its JSON",
        "return !!document.querySelector('#event-dialog pre')",
    );
    assert!(
        text(
            &b,
            "return document.querySelector('#event-dialog pre').textContent"
        )
        .contains("<script>window.__pwned=2</script>")
    );
    assert_eq!(b.js(CLEAN), json!(true), "the event feed is clean");
    b.screenshot("hostile-event");

    b.open(&format!("{ui}/"));
    b.wait_for(
        "the dashboard",
        "return !!document.querySelector('#firings table')",
    );
    assert_eq!(b.js(CLEAN), json!(true), "the dashboard is clean");
}
