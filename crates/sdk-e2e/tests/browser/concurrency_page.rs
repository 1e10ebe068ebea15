//! The Concurrency page: a limit held full by the SDK, a waiter blocked on it, and the page's
//! Active switch turned off: the waiter goes through. Both tabs list their limits with their
//! slots; screenshots in light and dark.

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
    let held = concurrency("warehouse", 1)
        .acquire()
        .expect("the free slot");

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
    drop(held);

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
    b.screenshot("concurrency-tags-light");
}
