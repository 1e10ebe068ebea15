//! `prefect block …` commands (the real `prefect==3.9.1` CLI) against Flowgate: documents
//! listed without the anonymous ones, block types listed, a document deleted, a type of the
//! program's own deleted while Prefect's own are protected; and `/block_capabilities/`.
//! Skipped like the other real-client tests without `FLOWGATE_TEST_PYTHON`.

mod common;

use std::process::Command;

use common::{Api, ServerProcess, prefect_program, prefect_python};

/// `prefect ARGS…` with wide tables; returns (success, stdout + stderr).
fn prefect(
    python: &str,
    server: &ServerProcess,
    home: &std::path::Path,
    args: &[&str],
) -> (bool, String) {
    let out = Command::new(std::path::PathBuf::from(python).with_file_name("prefect"))
        .args(args)
        .env("PREFECT_API_URL", &server.api)
        .env("PREFECT_HOME", home.join("prefect"))
        .env("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        .env("COLUMNS", "250")
        .output()
        .expect("prefect runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The CLI's answers do not depend on the database: one backend is enough.
#[test]
fn prefect_block_commands_list_delete_and_protect() {
    let Some(python) = prefect_python("prefect block CLI tests") else {
        return;
    };
    let db = flowgate_testkit::sqlite();
    let home = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(home.path(), &db.url);
    let out = prefect_program(&python, "blocks_setup", &server.api, home.path())
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "blocks_setup.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("loaded pw-setup"), "{stdout}");
    assert!(
        stdout.contains("nested db.internal ana pw-setup"),
        "{stdout}"
    );
    let run = |args: &[&str]| prefect(&python, &server, home.path(), args);

    let (ok, listed) = run(&["block", "ls"]);
    assert!(ok, "{listed}");
    for slug in [
        "secret/api-key",
        "slack-webhook/alerts",
        "warehouselogin/warehouse",
    ] {
        assert!(listed.contains(slug), "{slug} missing from:\n{listed}");
    }
    assert!(
        !listed.contains("anonymous-"),
        "anonymous documents are hidden:\n{listed}"
    );
    let api = Api::new(&server.api);
    let (_, all) = api.post(
        "/block_documents/filter",
        &serde_json::json!({"block_documents": {"is_anonymous": {"eq_": null}}}),
    );
    assert_eq!(
        all.as_array().unwrap().len(),
        5,
        "asked for, anonymous ones too: {all}"
    );

    let (status, nested) = api.get("/block_types/slug/warehouse/block_documents/name/main");
    assert_eq!(status, 200, "{nested}");
    assert_eq!(
        nested["data"],
        serde_json::json!({"host": "db.internal", "login": {"user": "ana", "password": "********"}}),
        "the login's data in its place, its secret obfuscated"
    );
    let login = &nested["block_document_references"]["login"]["block_document"];
    assert_eq!(
        (&login["name"], &login["block_type"]["slug"]),
        (
            &serde_json::json!("warehouse"),
            &serde_json::json!("warehouselogin")
        ),
        "{nested}"
    );

    let (ok, types) = run(&["block", "type", "ls"]);
    assert!(
        ok && types.contains("warehouselogin") && types.contains("slack-webhook"),
        "{types}"
    );

    let (ok, deleted) = run(&["block", "delete", "secret/api-key"]);
    assert!(
        ok && deleted.contains("Deleted Block 'secret/api-key'"),
        "{deleted}"
    );
    assert!(!run(&["block", "ls"]).1.contains("secret/api-key"));

    let (ok, refused) = run(&["block", "type", "delete", "secret"]);
    assert!(!ok && refused.contains("is a protected block"), "{refused}");
    let (ok, deleted) = run(&["block", "type", "delete", "warehouselogin"]);
    assert!(
        ok && deleted.contains("Deleted Block Type 'warehouselogin'"),
        "{deleted}"
    );
    let (ok, types) = run(&["block", "type", "ls"]);
    assert!(
        ok && !types.contains("warehouselogin") && types.contains("secret"),
        "{types}"
    );
    assert!(
        !run(&["block", "ls"]).1.contains("warehouselogin/warehouse"),
        "its documents went with it"
    );

    let (status, capabilities) = api.get("/block_capabilities/");
    assert_eq!(status, 200, "{capabilities}");
    assert_eq!(capabilities, serde_json::json!(["notify"]));
    let (_, schemas) = api.post("/block_schemas/filter", &serde_json::json!({}));
    let secret_schema = schemas
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["block_type"]["slug"] == "secret")
        .expect("the secret schema");
    let (status, refused) = api.delete(&format!(
        "/block_schemas/{}",
        secret_schema["id"].as_str().unwrap()
    ));
    assert_eq!(status, 403, "{refused}");
}
