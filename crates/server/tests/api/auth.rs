//! API keys: with keys configured, every documented route (read from the server's own OpenAPI
//! document, so a new route is covered the day it is added) and every websocket refuses a caller
//! without a valid key, with a 401 and a JSON detail; a resume and a cancel record the key's
//! name, whatever the caller claims.

use super::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const ALICE: &str = "alice-0123456789abcdef";
const BOB: &str = "bob-0123456789abcdef";

async fn keyed_server(db: TestDatabase) -> TestServer {
    TestServer::start_with_keys(
        db,
        &[&format!("alice={ALICE}"), &format!("bob={BOB}")],
        ALICE,
    )
    .await
}

/// `template` with each `{param}` (or `{*param}`) filled with a value of the right shape.
fn fill(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed parameter") + start;
        out.push_str(&Uuid::new_v4().to_string());
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[track_caller]
fn assert_refused(status: reqwest::StatusCode, body: &str, what: &str) {
    assert_eq!(status.as_u16(), 401, "{what} answered {status}: {body}");
    let body: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{what}: {body}"));
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("API key")),
        "{what}: {body}"
    );
}

on_each_backend!(
    every_route_refuses_a_caller_without_a_valid_key,
    async |db: TestDatabase| {
        let s = keyed_server(db).await;
        let document = s.get("/openapi.json").await.expect(200);
        let paths = document["paths"].as_object().expect("paths");
        assert!(paths.len() > 50, "the document lists every route");
        let http = reqwest::Client::new();
        let mut checked = 0;
        for (template, item) in paths {
            for method in item.as_object().expect("path item").keys() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let url = s.url(&fill(template));
                for credentials in [
                    None,
                    Some(format!("Bearer {ALICE}x")),
                    Some("Basic Ym9iOmJvYg==".to_owned()),
                ] {
                    let mut request = http.request(method.clone(), &url).json(&json!({}));
                    if let Some(c) = &credentials {
                        request = request.header("Authorization", c);
                    }
                    let answer = request.send().await.expect("answered");
                    let status = answer.status();
                    let www = answer.headers().get("www-authenticate").cloned();
                    let body = answer.text().await.unwrap();
                    assert_refused(
                        status,
                        &body,
                        &format!("{method} {template} with {credentials:?}"),
                    );
                    assert!(www.is_some(), "{method} {template}: no WWW-Authenticate");
                    checked += 1;
                }
            }
        }
        assert!(checked > 150, "only {checked} requests checked");
        // Beyond the document: an unknown route is refused before it is found missing.
        let unknown = http.get(s.url("/no/such/route")).send().await.unwrap();
        assert_eq!(unknown.status().as_u16(), 401);
        // The key opens every route, the UI's files need none.
        s.get("/flows/filter").await.expect(405);
        let page = http
            .get(s.url("/health").replace("/api/health", "/ui/lib/api.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status().as_u16(), 200);
        s.stop().await;
    }
);

on_each_backend!(
    a_websocket_proves_its_key_in_the_handshake_or_its_auth_frame,
    async |db: TestDatabase| {
        let s = keyed_server(db).await;
        for path in ["/events/in", "/events/out", "/work_pools/p/workers/connect"] {
            for token in [
                json!(null),
                json!("wrong-0123456789abcdef"),
                json!(format!("{ALICE}x")),
            ] {
                let mut ws = s.ws_connect(path).await;
                send_json(&mut ws, &json!({"type": "auth", "token": token})).await;
                let answer = next_json(&mut ws).await;
                assert_eq!(
                    answer["type"], "auth_failure",
                    "{path} with {token}: {answer}"
                );
                assert!(
                    answer["reason"].as_str().unwrap().contains("API key"),
                    "{answer}"
                );
                match next_message(&mut ws).await {
                    Some(Message::Close(Some(frame))) => {
                        assert_eq!(frame.code, CloseCode::Policy, "{path}")
                    }
                    other => panic!("{path}: expected a close frame, got {other:?}"),
                }
            }
            // The key itself, or PREFECT_API_AUTH_STRING's NAME:KEY, is accepted.
            for token in [BOB.to_owned(), format!("bob:{BOB}")] {
                let mut ws = s.ws_connect(path).await;
                send_json(&mut ws, &json!({"type": "auth", "token": token})).await;
                assert_eq!(
                    next_json(&mut ws).await,
                    json!({"type": "auth_success"}),
                    "{path}"
                );
            }
        }
        // A wrong key on the handshake is refused before the upgrade.
        let url = s.url("/events/in").replacen("http://", "ws://", 1);
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Authorization", format!("Bearer {BOB}x").parse().unwrap());
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(answer)) => {
                assert_eq!(answer.status().as_u16(), 401)
            }
            other => panic!(
                "expected a 401 to the handshake, got {:?}",
                other.map(|_| ())
            ),
        }
        s.stop().await;
    }
);

on_each_backend!(
    a_resume_and_a_cancel_record_the_key_not_the_callers_claim,
    async |db: TestDatabase| {
        let s = keyed_server(db).await;
        let flow_id = s.create_flow("keyed").await;
        let run = id(&s.create_flow_run(&flow_id, "r").await);
        s.set_flow_run_state(&run, "RUNNING", json!({}), json!({}))
            .await
            .expect(201);
        s.set_flow_run_state(&run, "PAUSED", json!({"pause_key": "1"}), json!({}))
            .await
            .expect(201);
        s.post_json(
            &format!("/flow_runs/{run}/resume"),
            &json!({"resumed_by": "mallory"}),
        )
        .await
        .expect(201);
        let (resumed, _) = s
            .events(json!({"event": {"name": ["prefect.flow-run.Resumed"]}}))
            .await;
        assert_eq!(resumed.len(), 1, "{resumed:?}");
        assert_eq!(resumed[0]["payload"]["resumed_by"], "alice");

        let cancelled = s
            .set_flow_run_state(
                &run,
                "CANCELLED",
                json!({"cancelled_by": "mallory"}),
                json!({}),
            )
            .await
            .expect(201);
        assert_eq!(cancelled["state"]["state_details"]["cancelled_by"], "alice");
        let stored = s.get(&format!("/flow_runs/{run}")).await.expect(200);
        assert_eq!(stored["state"]["state_details"]["cancelled_by"], "alice");
        s.stop().await;
    }
);

#[tokio::test]
async fn a_server_beyond_loopback_without_keys_refuses_to_start() {
    let db = flowgate_testkit::sqlite();
    let open = flowgate_server::ServerConfig::new("0.0.0.0:0".parse().unwrap(), db.url.clone());
    let err = match flowgate_server::start(open.clone()).await {
        Ok(_) => panic!("an open server beyond loopback started"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("without authentication") && err.contains("--insecure-no-auth"),
        "{err}"
    );
    let mut deliberate = open;
    deliberate.insecure_no_auth = true;
    flowgate_server::start(deliberate)
        .await
        .expect("--insecure-no-auth starts it")
        .stop()
        .await
        .unwrap();
}
