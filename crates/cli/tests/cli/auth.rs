//! API keys from the command line's side: the CLI sends the key from its environment, and the
//! server refuses to start open beyond loopback or with a weak key.

use serde_json::json;

use crate::*;

/// A server with keys refuses the CLI without one, with a hint; the CLI sends
/// FLOWGATE_API_KEY (or PREFECT_API_KEY), and a cancel records the key's name. (Auth does not
/// touch the database: one backend is enough.)
#[test]
fn the_cli_sends_the_key_from_its_environment() {
    const KEY: &str = "cli-key-0123456789abcdef";
    let db = flowgate_testkit::sqlite();
    let home = tempfile::tempdir().unwrap();
    let keyed = format!("ops={KEY}");
    let server = ServerProcess::start_with(home.path(), &db.url, &["--api-key", &keyed], &[]);
    let ls = ["flow-run", "ls", "--api-url", &server.api];
    Running::start_with_env(&ls, &[]).finish().fails_with(&[
        "requires an API key",
        "HTTP 401",
        "FLOWGATE_API_KEY",
    ]);
    Running::start_with_env(&ls, &[("FLOWGATE_API_KEY", "wrong-0123456789abcdef")])
        .finish()
        .fails_with(&["not valid", "HTTP 401"]);
    Running::start_with_env(&ls, &[("FLOWGATE_API_KEY", KEY)])
        .finish()
        .ok();
    Running::start_with_env(&ls, &[("PREFECT_API_KEY", KEY)])
        .finish()
        .ok();

    let api = Api::with_key(&server.api, KEY);
    let (_, flow) = api.post("/flows/", &json!({"name": "keyed"}));
    let (_, run) = api.post(
        "/flow_runs/",
        &json!({"flow_id": id(&flow), "name": "keyed-1"}),
    );
    let run = id(&run);
    let cancel = ["flow-run", "cancel", &run, "--api-url", &server.api];
    Running::start_with_env(&cancel, &[("FLOWGATE_API_KEY", KEY)])
        .finish()
        .ok();
    let (_, read) = api.get(&format!("/flow_runs/{run}"));
    assert_eq!(
        read["state"]["state_details"]["cancelled_by"], "ops",
        "{read}"
    );
}

/// The server refuses to listen beyond loopback without keys, and refuses a bad key without
/// showing it.
#[test]
fn server_start_refuses_an_open_or_weakly_keyed_server() {
    let db = flowgate_testkit::sqlite();
    let start = ["server", "start", "--port", "0", "--database-url", &db.url];
    flowgate(&[&start[..], &["--host", "0.0.0.0"]].concat()).fails_with(&[
        "without authentication",
        "--api-key",
        "--insecure-no-auth",
    ]);
    let weak = flowgate(&[&start[..], &["--api-key", "ops=hunter2"]].concat());
    weak.fails_with(&["too short"]);
    assert!(!weak.stderr.contains("hunter2"), "{weak:#?}");
}
