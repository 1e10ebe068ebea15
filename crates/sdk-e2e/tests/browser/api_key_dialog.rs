//! The UI against a server that requires an API key: the first page asks for the key once (in a
//! dialog saying why), a wrong key is refused with the server's explanation and asked for again,
//! the right key shows the dashboard with the server's runs, and the key is kept for the tab
//! only: a reload asks nothing, the address never holds it, and the event feed's live
//! websocket is let in with it. Screenshot of the dialog in light and dark.

use serde_json::{Value, json};

use crate::webdriver::Browser;

const KEY: &str = "ui-key-0123456789abcdef";

/// A server requiring `KEY` (named `ui`), on its own runtime, with one completed run made
/// through the API with the key.
struct KeyedServer {
    rt: tokio::runtime::Runtime,
    server: flowgate_server::RunningServer,
    _db: flowgate_testkit::TestDatabase,
}

impl KeyedServer {
    fn start() -> KeyedServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let db = flowgate_testkit::sqlite();
        let mut config =
            flowgate_server::ServerConfig::new(([127, 0, 0, 1], 0).into(), db.url.clone());
        config.api_keys = flowgate_server::ApiKeys::parse([format!("ui={KEY}").as_str()]).unwrap();
        let server = rt.block_on(flowgate_server::start(config)).unwrap();
        KeyedServer {
            rt,
            server,
            _db: db,
        }
    }

    /// `POST path` with the key, answered with success (an empty answer is null).
    fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.server.api_url());
        self.rt.block_on(async {
            let resp = reqwest::Client::new()
                .post(url)
                .bearer_auth(KEY)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_success(), "{path}: {}", resp.status());
            let body = resp.bytes().await.unwrap();
            match body.is_empty() {
                true => Value::Null,
                false => serde_json::from_slice(&body).unwrap(),
            }
        })
    }
}

#[test]
fn the_ui_asks_for_the_api_key_once_and_keeps_it_for_the_tab() {
    let Some(b) = Browser::start() else { return };
    let s = KeyedServer::start();
    let ui = s.server.api_url().trim_end_matches("/api").to_owned();
    let flow = s.post("/flows/", json!({"name": "keyed"}));
    let run = s.post(
        "/flow_runs/",
        json!({"flow_id": flow["id"], "name": "keyed-run", "state": {"type": "PENDING"}}),
    );
    for state in ["RUNNING", "COMPLETED"] {
        s.post(
            &format!("/flow_runs/{}/set_state", run["id"].as_str().unwrap()),
            json!({"state": {"type": state}}),
        );
    }

    // The dashboard's requests are refused: one dialog asks, with the server's reason.
    b.open(&format!("{ui}/"));
    b.wait_for(
        "the key dialog",
        "return document.querySelector('#api-key-dialog')?.open === true",
    );
    assert_eq!(
        b.js("return document.querySelectorAll('#api-key-dialog').length"),
        1,
        "several refused requests ask once"
    );
    let reason = b.js("return document.querySelector('#api-key-form p').textContent");
    assert!(
        reason
            .as_str()
            .unwrap()
            .starts_with("Enter one of the API keys"),
        "{reason}"
    );
    b.screenshot("api-key-dialog-light");
    // The modal dialog keeps the theme button out of reach: switch the theme as it does.
    b.js("document.documentElement.dataset.theme = 'dark'; return null");
    b.screenshot("api-key-dialog-dark");
    b.js("document.documentElement.dataset.theme = 'light'; return null");

    // A wrong key: refused, forgotten, and asked for again with why.
    b.type_into("#api-key-input", "not-the-key-0123456789");
    b.click("#api-key-submit");
    b.wait_for(
        "the dialog again, saying the key is not valid",
        "return document.querySelector('#api-key-dialog')?.open === true \
         && document.querySelector('#api-key-form p').textContent.startsWith('That key is not valid')",
    );
    assert_eq!(
        b.js("return sessionStorage.getItem('flowgate.apiKey')"),
        Value::Null
    );

    // The right key: the dashboard counts the server's run, and the tab keeps the key.
    b.type_into("#api-key-input", KEY);
    b.click("#api-key-submit");
    b.wait_for(
        "the dashboard's tiles with the completed run",
        "return document.querySelector('#state-counts .tile[data-state=COMPLETED]')?.dataset.count === '1'",
    );
    assert_eq!(
        b.js("return document.querySelector('#api-key-dialog')?.open ?? false"),
        false
    );
    assert_eq!(
        b.js("return sessionStorage.getItem('flowgate.apiKey')"),
        KEY
    );
    assert_eq!(
        b.js(&format!("return location.href.includes('{KEY}')")),
        false
    );

    // A reload in the same tab asks nothing; the event feed's live websocket is let in.
    b.open(&format!("{ui}/events"));
    b.wait_for(
        "the run's events listed without a dialog",
        "return document.body.textContent.includes('prefect.flow-run.Completed') \
         && !document.querySelector('#api-key-dialog')?.open",
    );
    let made = b.js("return [crypto.randomUUID(), new Date().toISOString()]");
    s.post(
        "/events/",
        json!([{"id": made[0], "occurred": made[1], "event": "acme.order.shipped",
                "resource": {"prefect.resource.id": "acme.order.42"}}]),
    );
    b.wait_for(
        "the new event arriving live",
        "return document.body.textContent.includes('acme.order.shipped')",
    );
}
