//! Runs the real `flowgate` binary as a server process for end-to-end tests.

// Each test binary includes this module and uses a different subset of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The Python with `prefect==3.9.1` that runs the real-client tests (`FLOWGATE_TEST_PYTHON`,
/// which the test script sets). Without it the tests named `what` are skipped with a loud
/// notice, unless `FLOWGATE_REQUIRE_PREFECT=1` (as CI sets), which makes that a failure.
pub fn prefect_python(what: &str) -> Option<String> {
    match std::env::var("FLOWGATE_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("FLOWGATE_REQUIRE_PREFECT").as_deref() != Ok("1"),
                "FLOWGATE_REQUIRE_PREFECT=1 but FLOWGATE_TEST_PYTHON is not set"
            );
            eprintln!(
                "\n*** SKIPPING {what}: set FLOWGATE_TEST_PYTHON to a python with prefect==3.9.1 ***\n"
            );
            None
        }
    }
}

/// A command running the project's Python program `tests/prefect_client/<name>.py` with
/// `python` against the API at `api`, with Prefect's home under `home`.
pub fn prefect_program(python: &str, name: &str, api: &str, home: &Path) -> Command {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/prefect_client")
        .join(format!("{name}.py"));
    let mut command = Command::new(python);
    command
        .arg(script)
        .env("PREFECT_API_URL", api)
        .env("PREFECT_HOME", home.join("prefect"))
        .env("PREFECT_SERVER_ANALYTICS_ENABLED", "false");
    command
}

/// A `prefect` command line against `server`, with the client's home in `home`.
pub fn prefect(python: &str, server: &ServerProcess, home: &Path) -> Command {
    let mut cmd = Command::new(python);
    cmd.env("PREFECT_API_URL", &server.api)
        .env("PREFECT_HOME", home.join("prefect"))
        .env("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        // Poll every second instead of ten, so the test takes seconds.
        .env("PREFECT_WORKER_QUERY_SECONDS", "1")
        .env("PREFECT_WORKER_PREFETCH_SECONDS", "1")
        .env("PREFECT_RUNNER_POLL_FREQUENCY", "1");
    cmd
}

/// Stops a worker or serving process (SIGTERM, then SIGKILL) when the test ends, however it ends.
pub struct Worker(pub Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `flowgate server start` process on a free port with its own home.
pub struct ServerProcess {
    child: Child,
    /// The API base URL, e.g. `http://127.0.0.1:43123/api`.
    pub api: String,
    /// Everything the server wrote to stderr so far.
    log: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts the server on `database_url` with `FLOWGATE_HOME=home` and waits until it listens.
    pub fn start(home: &Path, database_url: &str) -> ServerProcess {
        ServerProcess::start_with(home, database_url, &["--log-level", "warn"], &[])
    }

    /// Like [`ServerProcess::start`], on `port`, e.g. to restart a server where its clients
    /// expect it.
    pub fn start_on(home: &Path, database_url: &str, port: u16) -> ServerProcess {
        let port = port.to_string();
        ServerProcess::start_with(
            home,
            database_url,
            &["--log-level", "warn", "--port", &port],
            &[],
        )
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.api
            .rsplit(':')
            .next()
            .and_then(|p| p.split('/').next())
            .and_then(|p| p.parse().ok())
            .expect("the API URL has a port")
    }

    /// [`ServerProcess::start`] with more arguments (a `--port` among them replaces the free
    /// port picked otherwise) and environment variables.
    pub fn start_with(
        home: &Path,
        database_url: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> ServerProcess {
        let any_port: &[&str] = if args.contains(&"--port") {
            &[]
        } else {
            &["--port", "0"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowgate"))
            .args(["server", "start"])
            .args(any_port)
            .args(["--database-url", database_url])
            .args(args)
            .env("FLOWGATE_HOME", home)
            .env_remove("RUST_LOG")
            .env_remove("FLOWGATE_DATABASE_URL")
            .env_remove("FLOWGATE_API_KEYS")
            .env_remove("FLOWGATE_SECRET_KEY")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the flowgate binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stderr).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        let log = Arc::new(Mutex::new(String::new()));
        let api = loop {
            assert!(
                Instant::now() < deadline,
                "server did not report its address in time"
            );
            let line = lines
                .next()
                .expect("server exited before listening")
                .expect("stderr is readable");
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(url) = line.strip_prefix("Flowgate API listening at ") {
                break url.trim().to_owned();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.by_ref().map_while(Result::ok) {
                kept.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        ServerProcess { child, api, log }
    }

    /// What the server has written to stderr (its log) so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill(mut self) {
        self.child.kill().expect("the server can be killed");
        self.child.wait().expect("the killed server is reaped");
    }

    /// Asks the server to shut down with SIGTERM and waits for it to exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        self.child.wait().expect("the server exits")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking JSON client for assertions.
pub struct Api {
    base: String,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Api {
    /// A client for `base`.
    pub fn new(base: &str) -> Api {
        Api::with_headers(base, reqwest::header::HeaderMap::new())
    }

    /// A client for `base` sending `Authorization: Bearer key` with every request.
    pub fn with_key(base: &str, key: &str) -> Api {
        let mut headers = reqwest::header::HeaderMap::new();
        let value = format!("Bearer {key}").parse().expect("header text");
        headers.insert(reqwest::header::AUTHORIZATION, value);
        Api::with_headers(base, headers)
    }

    fn with_headers(base: &str, headers: reqwest::header::HeaderMap) -> Api {
        Api {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .expect("HTTP client"),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    /// `POST path` returning (status, body).
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.rt.block_on(async {
            let r = self
                .http
                .post(format!("{}{path}", self.base))
                .json(body)
                .send()
                .await
                .expect("request is sent");
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        })
    }

    /// `POST path`, tolerating a server that is gone: `(None, Null)` when no answer came.
    pub fn try_post(&self, path: &str, body: &Value) -> (Option<u16>, Value) {
        self.rt.block_on(async {
            let sent = self
                .http
                .post(format!("{}{path}", self.base))
                .json(body)
                .send()
                .await;
            match sent {
                Ok(r) => {
                    let status = r.status().as_u16();
                    match r.json().await {
                        Ok(v) => (Some(status), v),
                        Err(_) if status == 204 => (Some(status), Value::Null),
                        Err(_) => (None, Value::Null),
                    }
                }
                Err(_) => (None, Value::Null),
            }
        })
    }

    /// `GET path` returning (status, body).
    pub fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path)
    }

    /// `DELETE path` returning (status, body; `Null` for a 204).
    pub fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path)
    }

    fn send(&self, method: reqwest::Method, path: &str) -> (u16, Value) {
        self.rt.block_on(async {
            let r = self
                .http
                .request(method, format!("{}{path}", self.base))
                .send()
                .await
                .expect("request is sent");
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        })
    }

    /// Polls `check` every 100 ms until it returns `Some` or `timeout` passes.
    pub fn eventually<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Api) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check(self) {
                return Some(v);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
