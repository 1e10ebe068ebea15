//! A run's artifacts rendered on its page (markdown as formatted text with a pipe table, a
//! table artifact as a table, progress as a bar, an image as a picture; markup in an artifact
//! shown as text), the Artifacts page (the latest of each key, a key's versions) and the
//! Variables page (create, edit, delete through the form dialog).

use flowgate::testing::harness;
use serde_json::{Value, json};

use crate::webdriver::Browser;

/// A flow run reporting one artifact of each kind, with `evil` text in its markdown.
fn run_with_artifacts(h: &flowgate::testing::Harness, evil: &str) -> String {
    let flow = h.post("/flows/", json!({"name": "reporting"}));
    let run = h.post(
        "/flow_runs/",
        json!({"flow_id": flow["id"], "name": "weekly"}),
    );
    let run_id = run["id"].as_str().unwrap().to_owned();
    let markdown = format!(
        "# Sales\n\n**Up** 5% {evil}\n\n| region | sales |\n| --- | --- |\n| north | 10 |\n"
    );
    let table = json!([{"region": "north", "sales": 10}, {"region": "south", "sales": null}]);
    for body in [
        json!({"key": "sales-report", "type": "markdown", "data": "old version"}),
        json!({"key": "sales-report", "type": "markdown", "data": markdown, "description": "Weekly"}),
        json!({"key": "sales-table", "type": "table", "data": table.to_string()}),
        json!({"type": "progress", "data": 50.0}),
        json!({"type": "image", "data": "https://example.com/chart.png", "key": "chart"}),
    ] {
        let mut body = body;
        body["flow_run_id"] = json!(run_id);
        h.post("/artifacts/", body);
    }
    run_id
}

#[test]
fn a_runs_artifacts_are_rendered_and_listed_by_key() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    let evil = "<img src=x onerror=\"document.title='pwned'\">";
    let run_id = run_with_artifacts(&h, evil);

    b.open(&format!("{ui}/runs/flow-run/{run_id}"));
    b.wait_for(
        "the run's artifacts",
        "return document.querySelectorAll('#artifacts .artifact').length === 5",
    );
    let md = "document.querySelectorAll('#artifacts .artifact[data-type=markdown]')[0]";
    assert_eq!(
        b.js(&format!(
            "const m = {md}; return [m.querySelector('h2').textContent, m.querySelector('strong').textContent, [...m.querySelectorAll('td')].map(c => c.textContent)]"
        )),
        json!(["Sales", "Up", ["north", "10"]])
    );
    assert!(
        b.js(&format!("return {md}.textContent"))
            .as_str()
            .unwrap()
            .contains(evil),
        "the markup is shown as text"
    );
    assert_eq!(
        b.js("return document.querySelectorAll('#artifacts img:not(.artifact-image)').length"),
        json!(0)
    );
    assert_ne!(b.js("return document.title"), json!("pwned"));
    assert_eq!(
        b.js("return [...document.querySelectorAll('#artifacts .artifact[data-type=table] td')].map(c => c.textContent)"),
        json!(["north", "10", "south", "—"])
    );
    assert_eq!(
        b.js("const p = document.querySelector('#artifacts .artifact[data-type=progress]'); return [p.querySelector('progress').value, p.textContent]"),
        json!([50, "50%"])
    );
    assert_eq!(
        b.js("return document.querySelector('#artifacts img.artifact-image').getAttribute('src')"),
        json!("https://example.com/chart.png")
    );
    b.js("document.getElementById('artifacts').scrollIntoView()");
    b.screenshot("run-artifacts-light");
    b.theme("dark");
    b.screenshot("run-artifacts-dark");
    b.theme("light");

    b.open(&format!("{ui}/artifacts"));
    b.wait_for(
        "the latest of each key",
        "return document.querySelectorAll('tr[data-key]').length === 3",
    );
    assert_eq!(
        b.js("return [...document.querySelectorAll('tr[data-key]')].map(r => r.dataset.key)"),
        json!(["chart", "sales-report", "sales-table"])
    );
    b.screenshot("artifacts-page");
    b.click("tr[data-key=\"sales-report\"] a");
    b.wait_for(
        "the key's versions",
        "return document.querySelectorAll('tr[data-version]').length === 2 && !!document.querySelector('#artifact-shown .artifact strong')",
    );
    b.click("tr[data-version]:last-child button");
    b.wait_for(
        "the old version shown",
        "return document.querySelector('#artifact-shown .artifact').textContent.includes('old version')",
    );
}

#[test]
fn variables_are_created_edited_and_deleted_from_the_page() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    h.post(
        "/variables/",
        json!({"name": "existing", "value": [1, 2], "tags": ["t"]}),
    );
    b.open(&format!("{ui}/variables"));
    b.wait_for(
        "the variable with its tag",
        "return document.querySelectorAll('tr[data-variable]').length === 1 && document.querySelector('tr[data-variable=\"existing\"] .tag')?.textContent === 't'",
    );

    b.click("#new-variable");
    b.wait_for(
        "the form",
        "return !!document.querySelector('#variable-dialog [name=value]')",
    );
    b.type_into("#variable-dialog [name=name]", "Bad Name");
    b.type_into("#variable-dialog [name=value]", "{\"limit\": 3}");
    b.click("#variable-dialog [data-field=tags] .list-editor > button");
    b.type_into("#variable-dialog [name=tags]", "nightly");
    b.click("#variable-save");
    b.wait_for(
        "the server's refusal in the dialog",
        "const e = document.querySelector('#variable-dialog .form-error'); return !!e && !e.hidden && e.textContent.includes('lowercase')",
    );
    b.type_into("#variable-dialog [name=name]", "batch-size");
    b.click("#variable-save");
    b.wait_for(
        "the new row",
        "return !!document.querySelector('tr[data-variable=\"batch-size\"]')",
    );
    let made = h.get("/variables/name/batch-size");
    assert_eq!(
        (&made["value"], &made["tags"]),
        (&json!({"limit": 3}), &json!(["nightly"]))
    );
    b.wait_for(
        "the new row's tag",
        "return document.querySelector('tr[data-variable=\"batch-size\"] .tag')?.textContent === 'nightly'",
    );
    b.screenshot("variables-page");

    b.click("tr[data-variable=\"batch-size\"] button[data-action=edit]");
    b.wait_for(
        "the edit form",
        "return document.querySelector('#variable-dialog [name=name]')?.value === 'batch-size'",
    );
    b.wait_for(
        "the tag in the edit form",
        "return document.querySelector('#variable-dialog [name=tags]')?.value === 'nightly'",
    );
    b.type_into("#variable-dialog [name=value]", "\"big\"");
    b.click("#variable-dialog [data-field=tags] .list-editor > button");
    b.type_into(
        "#variable-dialog [data-field=tags] .list-row:last-child input",
        "eu",
    );
    b.click("#variable-save");
    b.wait_for(
        "the changed value",
        "return document.querySelector('tr[data-variable=\"batch-size\"] code')?.textContent === '\"big\"'",
    );
    let changed = h.get("/variables/name/batch-size");
    assert_eq!(
        (&changed["value"], &changed["tags"]),
        (&Value::from("big"), &json!(["nightly", "eu"]))
    );
    b.wait_for(
        "both tags in the row",
        "return [...document.querySelectorAll('tr[data-variable=\"batch-size\"] .tag')].map((t) => t.textContent).join() === 'nightly,eu'",
    );

    b.click("tr[data-variable=\"existing\"] button[data-action=delete]");
    b.click("#confirm-ok");
    b.wait_for(
        "the row gone",
        "return !document.querySelector('tr[data-variable=\"existing\"]')",
    );
    assert_eq!(h.post("/variables/count", json!({})), json!(1));
}
