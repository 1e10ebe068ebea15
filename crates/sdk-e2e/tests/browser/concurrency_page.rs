//! The Concurrency page: a limit held full by a flow run's lease, a waiter blocked on it, the
//! row opened to show the lease's holder (gone once released), and the page's Active switch
//! turned off: the waiter goes through. Both tabs list their limits with their slots; a tag
//! limit's row shows the task run holding it. Screenshots in light and dark.

use std::sync::mpsc;
use std::time::Duration;

use flowgate::concurrency;
use flowgate::testing::harness;
use serde_json::json;

use crate::webdriver::Browser;

#[test]
fn the_active_switch_disables_a_limit_and_its_waiters_go_through() {
    let Some(b) = Browser::start() else { return };
    let h = harness();
    let ui = h.api_url().trim_end_matches("/api").to_owned();
    h.post(
        "/v2/concurrency_limits/",
        json!({"name": "warehouse", "limit": 1}),
    );
    h.post(
        "/v2/concurrency_limits/",
        json!({"name": "github-api", "limit": 5, "slot_decay_per_second": 0.5}),
    );
    h.post(
        "/concurrency_limits/",
        json!({"tag": "database", "concurrency_limit": 2}),
    );
    // The slot, held by a flow run (as Prefect's client holds one: a lease with a holder).
    let flow = h.post("/flows/", json!({"name": "nightly"}));
    let run = h.post(
        "/flow_runs/",
        json!({"flow_id": flow["id"], "name": "nightly-load"}),
    );
    let held = h.post(
        "/v2/concurrency_limits/increment-with-lease",
        json!({"names": ["warehouse"], "slots": 1, "mode": "concurrency", "lease_duration": 300,
               "holder": {"type": "flow_run", "id": run["id"]}}),
    );

    // A waiter, blocked until the limit has room or stops limiting.
    let (through, waited) = mpsc::channel();
    let waiter = {
        let url = h.api_url();
        std::thread::spawn(move || {
            let _served = flowgate::testing::connect(&url);
            let guard = concurrency("warehouse", 1).acquire();
            through
                .send(guard.map(|g| g.lease_id()))
                .expect("the test listens");
        })
    };
    b.open(&format!("{ui}/concurrency"));
    b.wait_for(
        "the global limits",
        "return document.querySelectorAll('#limits tr[data-limit]').length === 2",
    );
    let row = "document.querySelector('tr[data-limit=\"warehouse\"]')";
    b.wait_for(
        "the warehouse's slot taken",
        &format!("return {row}.children[2].textContent === '1'"),
    );
    assert_eq!(
        b.js(&format!(
            "return [...{row}.children].slice(0, 4).map(c => c.textContent)"
        )),
        json!(["warehouse", "1", "1", "0"])
    );
    // Its row opens on who holds the slot: the flow run, linked, and when the lease expires.
    b.click("tr[data-limit=\"warehouse\"] button[data-action=holders]");
    let panel = "document.querySelector('[data-holders=\"warehouse\"]')";
    b.wait_for(
        "the lease's holder listed",
        &format!("return {panel}?.querySelectorAll('li[data-lease]').length === 1"),
    );
    let lease = b.js(&format!(
        "const li = {panel}.querySelector('li[data-lease]'); return [li.dataset.lease, li.querySelector('a').getAttribute('href'), li.textContent]"
    ));
    assert_eq!(lease[0], held["lease_id"]);
    assert_eq!(
        lease[1],
        format!("/runs/flow-run/{}", run["id"].as_str().unwrap())
    );
    let text = lease[2].as_str().unwrap();
    assert!(
        text.starts_with("flow run nightly-load · 1 slot · expires in "),
        "{text}"
    );
    b.wait_for(
        "the waiter counted",
        &format!("return {panel}.textContent.includes('1 request waiting')"),
    );
    b.screenshot("concurrency-light");
    b.theme("dark");
    b.screenshot("concurrency-dark");
    b.theme("light");
    assert!(
        waited.try_recv().is_err(),
        "the waiter went through while the limit was full"
    );

    b.click("tr[data-limit=\"warehouse\"] input[role=switch]");
    waited
        .recv_timeout(Duration::from_secs(20))
        .expect("the waiter went through once the limit was disabled")
        .expect("no error");
    waiter.join().expect("the waiter finished");
    assert_eq!(h.get("/v2/concurrency_limits/warehouse")["active"], false);
    b.wait_for(
        "the switch shown off",
        &format!("return {row}.querySelector('input[role=switch]').checked === false"),
    );
    h.post(
        "/v2/concurrency_limits/decrement-with-lease",
        json!({"lease_id": held["lease_id"]}),
    );
    b.wait_for(
        "the released lease gone from the holders",
        &format!("return {panel}?.textContent === 'No one holds a slot.'"),
    );

    // The Task Run tab lists tag limits, by tag.
    b.click("button[data-tab=\"task-run\"]");
    b.wait_for(
        "the tag limits",
        "return document.querySelectorAll('#limits tr[data-limit]').length === 1 && new URLSearchParams(location.search).get('tab') === 'task-run'",
    );
    assert_eq!(
        b.js("return [...document.querySelector('tr[data-limit=\"database\"]').children].slice(0, 3).map(c => c.textContent)"),
        json!(["database", "2", "0"])
    );

    // A task run takes the tag's slot: the open row lists it by name, linked to its page.
    let task = h.post(
        "/task_runs/",
        json!({"flow_run_id": run["id"], "task_key": "load", "name": "load-orders"}),
    );
    let slot = json!({"names": ["database"], "task_run_id": task["id"]});
    h.post("/concurrency_limits/increment", slot.clone());
    b.click("tr[data-limit=\"database\"] button[data-action=holders]");
    let panel = "document.querySelector('[data-holders=\"database\"]')";
    b.wait_for(
        "the task run holding the tag",
        &format!("return {panel}?.querySelector('li[data-task-run] a')?.textContent === 'task run load-orders'"),
    );
    assert_eq!(
        b.js(&format!(
            "return {panel}.querySelector('li[data-task-run] a').getAttribute('href')"
        )),
        json!(format!("/runs/task-run/{}", task["id"].as_str().unwrap()))
    );
    b.screenshot("concurrency-tags-light");
    h.post("/concurrency_limits/decrement", slot);
    b.wait_for(
        "the task run gone once it gave the slot back",
        &format!("return {panel}?.textContent === 'No task run holds a slot.'"),
    );
}
