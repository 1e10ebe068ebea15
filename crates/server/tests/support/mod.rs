// Each test binary includes this module and uses a different subset of it.
#![allow(dead_code)]

//! Helpers for the API tests: a real server on a throwaway database of either backend, an HTTP client that
//! reads every answer as JSON, Prefect-protocol websockets, and builders for client-shaped events.

use std::time::Duration;

use flowgate_server::{ApiKeys, Clock, RunningServer, ServerConfig};
use flowgate_testkit::TestDatabase;
use futures_util::{SinkExt, StreamExt};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

/// A websocket to the server.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any single expected reply may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A server started for one test, with its own database.
pub struct TestServer {
    server: RunningServer,
    /// The server's clock: a manual one moves only when the test advances it.
    pub clock: Clock,
    http: reqwest::Client,
    /// Dropped only after the server: it owns the SQLite file.
    db: TestDatabase,
}

/// An HTTP answer: its status and its body read as JSON (`null` when empty).
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: StatusCode,
    /// The body.
    pub body: Value,
}

impl Reply {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self.body
    }

    /// Asserts an error answer: the status, and a JSON `detail` mentioning every needle.
    #[track_caller]
    pub fn expect_error(self, status: u16, needles: &[&str]) {
        let body = self.expect(status);
        let detail = body["detail"]
            .as_str()
            .unwrap_or_else(|| panic!("error body has no string detail: {body}"));
        for needle in needles {
            assert!(
                detail.contains(needle),
                "detail {detail:?} does not mention {needle:?}"
            );
        }
    }
}

impl TestServer {
    /// Starts a server on a free port over `db`, which it keeps until it is stopped.
    pub async fn start(db: TestDatabase) -> TestServer {
        TestServer::start_with_clock(db, Clock::system()).await
    }

    /// [`TestServer::start`] on a manual clock standing at the current time: time-based services
    /// act only when the test moves the clock.
    pub async fn start_on_manual_clock(db: TestDatabase) -> TestServer {
        let now = flowgate_core::Micros::from_timestamp(jiff::Timestamp::now());
        TestServer::start_with_clock(db, Clock::manual(now)).await
    }

    async fn start_with_clock(db: TestDatabase, clock: Clock) -> TestServer {
        TestServer::start_with(db, clock, ApiKeys::default(), None).await
    }

    /// A server requiring `keys` (each `NAME=KEY` or `KEY`) whose helpers send `Authorization:
    /// Bearer key` with every request (websockets excepted: they prove themselves in their
    /// auth frame).
    pub async fn start_with_keys(db: TestDatabase, keys: &[&str], key: &str) -> TestServer {
        let keys = ApiKeys::parse(keys.iter().copied()).expect("valid test keys");
        TestServer::start_with(db, Clock::system(), keys, Some(key)).await
    }

    async fn start_with(
        db: TestDatabase,
        clock: Clock,
        api_keys: ApiKeys,
        key: Option<&str>,
    ) -> TestServer {
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), db.url.clone());
        config.api_keys = api_keys;
        let server = flowgate_server::start_with_clock(config, clock.clone())
            .await
            .unwrap_or_else(|e| panic!("server starts on {}: {e:#}", db.backend));
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = key {
            headers.insert(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {key}").parse().expect("header text"),
            );
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("HTTP client");
        TestServer {
            server,
            clock,
            http,
            db,
        }
    }

    /// The URL of an API path such as `/flows/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.api_url())
    }

    /// Sends a request, with a body of the given content type if any.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some((content_type, body)) = body {
            req = req.header(CONTENT_TYPE, content_type).body(body);
        }
        read_reply(req.send().await.expect("request is answered")).await
    }

    /// Sends `method path` with a JSON body and returns the raw response (to read headers).
    pub async fn http_raw(&self, method: Method, path: &str, body: Value) -> reqwest::Response {
        self.http
            .request(method, self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request is answered")
    }

    /// `GET /metrics` (beside the API, not under it): the Prometheus text.
    pub async fn metrics(&self) -> String {
        let url = self.url("").replace("/api", "/metrics");
        let answer = self.http.get(url).send().await.expect("answered");
        assert_eq!(answer.status().as_u16(), 200);
        answer.text().await.expect("metrics text")
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        let body = ("application/json", body.to_string().into_bytes());
        self.request(Method::POST, path, Some(body)).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch_json(&self, path: &str, body: &Value) -> Reply {
        let body = ("application/json", body.to_string().into_bytes());
        self.request(Method::PATCH, path, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Reply {
        self.request(Method::DELETE, path, None).await
    }

    /// Creates the flow `name` (201) and returns its id.
    pub async fn create_flow(&self, name: &str) -> String {
        id(&self
            .post_json("/flows/", &json!({"name": name}))
            .await
            .expect(201))
    }

    /// Creates a flow run of `flow_id` (201) and returns it.
    pub async fn create_flow_run(&self, flow_id: &str, name: &str) -> Value {
        self.post_json("/flow_runs/", &json!({"flow_id": flow_id, "name": name}))
            .await
            .expect(201)
    }

    /// Proposes a state of `state_type` for a flow run, with extra top-level `options` such as
    /// `{"force": true}` and `state_details` such as a `transition_id`.
    pub async fn set_flow_run_state(
        &self,
        run_id: &str,
        state_type: &str,
        details: Value,
        options: Value,
    ) -> Reply {
        let mut body = json!({"state": {"type": state_type, "state_details": details}});
        if let (Value::Object(b), Value::Object(o)) = (&mut body, options) {
            b.extend(o);
        }
        self.post_json(&format!("/flow_runs/{run_id}/set_state"), &body)
            .await
    }

    /// `POST path` (a `/count` endpoint) with `filter`, as a number.
    pub async fn count(&self, path: &str, filter: Value) -> i64 {
        let body = self.post_json(path, &filter).await.expect(200);
        body.as_i64()
            .unwrap_or_else(|| panic!("{path} answered {body}, not a count"))
    }

    /// Events matching an event `filter` object (oldest first), and the total the server reports.
    pub async fn events(&self, mut filter: Value) -> (Vec<Value>, i64) {
        filter["order"] = json!("ASC");
        let page = self
            .post_json("/events/filter", &json!({"filter": filter}))
            .await
            .expect(200);
        let total = page["total"].as_i64().expect("events total");
        let events = page["events"].as_array().expect("events list").clone();
        (events, total)
    }

    /// How many flows, flow runs, task runs, logs and events are stored, to check that a
    /// rejected request wrote nothing.
    pub async fn census(&self) -> [i64; 5] {
        let logs = self
            .post_json("/logs/filter", &json!({"limit": 10_000}))
            .await
            .expect(200);
        [
            self.count("/flows/count", json!({})).await,
            self.count("/flow_runs/count", json!({})).await,
            self.count("/task_runs/count", json!({})).await,
            logs.as_array().expect("log list").len() as i64,
            self.events(json!({})).await.1,
        ]
    }

    /// Opens a websocket on an API path with the `prefect` subprotocol, without authenticating.
    pub async fn ws_connect(&self, path: &str) -> Ws {
        let url = self.url(path).replacen("http://", "ws://", 1);
        let mut req = url.into_client_request().expect("websocket request");
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("prefect"),
        );
        let (ws, response) = tokio_tungstenite::connect_async(req)
            .await
            .expect("websocket handshake");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.as_bytes()),
            Some(&b"prefect"[..]),
            "the server must select the prefect subprotocol"
        );
        ws
    }

    /// Opens a websocket and completes Prefect's auth handshake.
    pub async fn ws_connect_authenticated(&self, path: &str) -> Ws {
        let mut ws = self.ws_connect(path).await;
        send_json(&mut ws, &json!({"type": "auth", "token": null})).await;
        assert_eq!(next_json(&mut ws).await, json!({"type": "auth_success"}));
        ws
    }

    /// Runs `sql` on the server's database directly (see [`TestDatabase::raw`]): to plant
    /// rows as an older version left them.
    pub async fn raw(&self, sql: &str) -> Vec<String> {
        self.db.raw(sql).await
    }

    /// Stops the server and starts another on the same database and clock.
    pub async fn restart(self) -> TestServer {
        let TestServer {
            server, clock, db, ..
        } = self;
        tokio::time::timeout(PATIENCE, server.stop())
            .await
            .expect("server stops in time")
            .expect("server stops cleanly");
        TestServer::start_with_clock(db, clock).await
    }

    /// Asks `probe` every 20 ms until it answers `Some`, failing the test after twice
    /// [`PATIENCE`].
    pub async fn eventually<T, F, Fut>(&self, what: &str, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + PATIENCE * 2;
        loop {
            if let Some(found) = probe().await {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited in vain for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server, failing the test if that takes longer than [`PATIENCE`].
    pub async fn stop(self) {
        tokio::time::timeout(PATIENCE, self.server.stop())
            .await
            .expect("server stops in time")
            .expect("server stops cleanly");
    }
}

/// The `id` of a record as the API returns it.
pub fn id(record: &Value) -> String {
    record["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {record}"))
        .to_owned()
}

async fn read_reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let text = response.text().await.expect("response body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{status} answer is not JSON ({e}): {text:?}"))
    };
    Reply { status, body }
}

/// Sends one JSON text frame.
pub async fn send_json(ws: &mut Ws, v: &Value) {
    ws.send(Message::text(v.to_string()))
        .await
        .expect("websocket send");
}

/// The next frame, failing the test after [`PATIENCE`] or when the connection fails.
pub async fn next_message(ws: &mut Ws) -> Option<Message> {
    tokio::time::timeout(PATIENCE, ws.next())
        .await
        .expect("a websocket frame in time")
        .map(|m| m.expect("websocket frame"))
}

/// The next text frame as JSON, skipping control frames.
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match next_message(ws).await {
            Some(Message::Text(t)) => return serde_json::from_str(&t).expect("JSON frame"),
            Some(Message::Ping(_) | Message::Pong(_)) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Pings and waits for the pong: `/events/in` answers only once everything sent before the ping
/// is stored. Returns the text frames (as JSON) the server sent before the pong.
pub async fn sync(ws: &mut Ws) -> Vec<Value> {
    let token = Uuid::new_v4().to_string();
    ws.send(Message::Ping(token.clone().into_bytes().into()))
        .await
        .expect("websocket ping");
    let mut frames = Vec::new();
    loop {
        match next_message(ws).await {
            Some(Message::Pong(p)) if p[..] == *token.as_bytes() => return frames,
            Some(Message::Text(t)) => frames.push(serde_json::from_str(&t).expect("JSON frame")),
            Some(Message::Ping(_) | Message::Pong(_)) => continue,
            other => panic!("expected the pong, got {other:?}"),
        }
    }
}

/// A time as Prefect writes it: RFC 3339, microseconds, `Z`.
pub fn stamp(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A task run's lifecycle stage, as the client reports it.
#[derive(Clone, Copy, Debug)]
pub enum Stage {
    /// Created, not started.
    Pending = 0,
    /// Started, 1 ms after Pending.
    Running = 1,
    /// Finished, 2 ms after Pending.
    Completed = 2,
}

/// One task run of a flow run, and when each of its stages happened.
pub struct TaskRun {
    /// The task run's id.
    pub id: Uuid,
    /// The flow run it belongs to.
    pub flow_run_id: String,
    /// When it was created (Pending); Running is 1 ms later, Completed 2 ms later.
    pub base: jiff::Timestamp,
}

impl TaskRun {
    /// A new task run of `flow_run_id`, created now.
    pub fn new(flow_run_id: &str) -> TaskRun {
        TaskRun {
            id: Uuid::now_v7(),
            flow_run_id: flow_run_id.to_owned(),
            base: jiff::Timestamp::now(),
        }
    }

    /// When `stage` happened.
    pub fn at(&self, stage: Stage) -> String {
        stamp(self.base + jiff::SignedDuration::from_millis(stage as i64))
    }

    /// The task run's display name.
    pub fn name(&self) -> String {
        format!("add-{}", &self.id.simple().to_string()[28..])
    }
}

/// The `prefect.task-run.<Stage>` event the `prefect` client emits for `run` entering `stage`.
pub fn task_event(run: &TaskRun, stage: Stage) -> Value {
    let (state_type, from) = match stage {
        Stage::Pending => ("PENDING", Value::Null),
        Stage::Running => ("RUNNING", json!("PENDING")),
        Stage::Completed => ("COMPLETED", json!("RUNNING")),
    };
    let state_name = format!("{stage:?}");
    let mut task_run = json!({
        "name": run.name(), "task_key": "add-83a2f660", "dynamic_key": "a3da",
        "empirical_policy": {"retries": 0}, "tags": [], "labels": {}, "task_inputs": {"x": []},
        "run_count": 0, "flow_run_run_count": 0,
        "expected_start_time": run.at(Stage::Pending), "total_run_time": 0.0,
    });
    if !matches!(stage, Stage::Pending) {
        task_run["start_time"] = json!(run.at(Stage::Running));
        task_run["run_count"] = json!(1);
        task_run["flow_run_run_count"] = json!(1);
    }
    if matches!(stage, Stage::Completed) {
        task_run["end_time"] = json!(run.at(Stage::Completed));
    }
    json!({
        "occurred": run.at(stage),
        "event": format!("prefect.task-run.{state_name}"),
        "resource": {
            "prefect.resource.id": format!("prefect.task-run.{}", run.id),
            "prefect.resource.name": run.name(),
            "prefect.state-type": state_type,
        },
        "related": [{
            "prefect.resource.id": format!("prefect.flow-run.{}", run.flow_run_id),
            "prefect.resource.role": "flow-run",
            "prefect.resource.name": "x",
        }],
        "payload": {
            "intended": {"from": from, "to": state_type},
            "initial_state": null,
            "validated_state": {
                "type": state_type, "name": state_name, "message": "",
                "state_details": {}, "data": null,
            },
            "task_run": task_run,
        },
        "id": Uuid::now_v7(),
        "follows": null,
    })
}

/// A minimal event about `resource_id`, named `name`.
pub fn plain_event(name: &str, resource_id: &str) -> Value {
    json!({
        "id": Uuid::now_v7(),
        "occurred": stamp(jiff::Timestamp::now()),
        "event": name,
        "resource": {"prefect.resource.id": resource_id},
        "related": [],
        "payload": {},
        "follows": null,
    })
}
