//! A test harness: an isolated in-process server on a temporary SQLite file, cleaned up after.
//!
//! ```no_run
//! use flowgate::{StateType, flow, testing};
//!
//! #[flow]
//! fn my_favorite_flow() -> i64 {
//!     42
//! }
//!
//! #[test]
//! fn test_my_favorite_flow() {
//!     let h = testing::harness();
//!     assert_eq!(my_favorite_flow(), 42);
//!     let runs = h.flow_runs();
//!     assert_eq!(runs[0].state, StateType::Completed);
//!     assert_eq!(runs[0].result::<i64>(), Some(42));
//! }
//! # fn main() {}
//! ```
//!
//! [`harness`] serves the calling thread, the threads and tasks its flows start, the tokio
//! runtime it was started in (every `tokio::spawn` and `spawn_blocking` of an async test), and
//! what `flowgate::spawn` / `flowgate::spawn_thread` start, until it is dropped; tests running
//! in parallel never see each other's runs. A thread no harness claims is served by the only
//! active harness; with several active, the SDK refuses (an `ApiError::NotServed`) rather than
//! guess, and while any harness is active it never falls back to the default database.
//! [`shared_harness`] starts one harness for the whole test binary instead, for every thread.

mod queries;

use std::sync::{Arc, OnceLock};

use flowgate_wire::states::{SetState, StateCreate};
use serde_json::Value;

use crate::engine::{Engine, HarnessRegistration, OverrideGuard};

/// An isolated server for tests; flows called on this thread use it until it drops.
pub struct Harness {
    engine: Arc<Engine>,
    _guard: Option<OverrideGuard>,
    _active: Option<HarnessRegistration>,
    _dir: Option<tempfile::TempDir>,
}

fn start() -> (Arc<Engine>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory for the test database");
    let url = format!("sqlite:{}", dir.path().join("flowgate.db").display());
    let engine =
        Engine::embedded(&url).unwrap_or_else(|e| panic!("the test harness could not start: {e}"));
    (Arc::new(engine), dir)
}

/// Makes `engine` serve the calling thread (and its runtime) as an active harness.
fn serve(engine: Arc<Engine>, dir: Option<tempfile::TempDir>) -> Harness {
    let guard = Engine::install(engine.clone());
    Harness {
        _active: Some(HarnessRegistration::new(engine.clone())),
        engine,
        _guard: Some(guard),
        _dir: dir,
    }
}

/// Starts a harness for the calling thread.
pub fn harness() -> Harness {
    let (engine, dir) = start();
    serve(engine, Some(dir))
}

/// A harness that serves the calling thread from the server at `api_url` instead of its own
/// (e.g. a `flowgate server start` the test launched); the queries work the same.
pub fn connect(api_url: &str) -> Harness {
    serve(Arc::new(Engine::remote(api_url)), None)
}

/// The harness shared by every test of this binary (started on first use). Flows on threads
/// without their own [`harness`] use it.
pub fn shared_harness() -> &'static Harness {
    static SHARED: OnceLock<Harness> = OnceLock::new();
    let harness = SHARED.get_or_init(|| {
        let (engine, dir) = start();
        Harness {
            engine,
            _guard: None,
            _active: None,
            _dir: Some(dir),
        }
    });
    crate::engine::set_process_default(harness.engine.clone());
    harness
}

/// Cancels the harness's paused runs if dropped during a panic; see
/// [`Harness::cancel_paused_on_panic`].
pub struct CancelPausedOnPanic<'a> {
    harness: &'a Harness,
}

impl Drop for CancelPausedOnPanic<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let paused = self
            .harness
            .flow_runs()
            .into_iter()
            .filter(|r| r.state == crate::StateType::Paused);
        for run in paused {
            let cancel = SetState {
                state: StateCreate {
                    message: Some("the test failed".to_owned()),
                    ..StateCreate::new(crate::StateType::Cancelled)
                },
                force: false,
            };
            let path = format!("/flow_runs/{}/set_state", run.id);
            self.harness.post(&path, serde_json::json!(cancel));
        }
    }
}

/// Keeps a harness serving another thread; see [`Harness::enter`].
pub struct ThreadGuard {
    _guard: OverrideGuard,
}

impl Harness {
    /// Makes this harness serve the calling thread too (e.g. a thread the test spawned), until
    /// the guard drops.
    pub fn enter(&self) -> ThreadGuard {
        ThreadGuard {
            _guard: Engine::install(self.engine.clone()),
        }
    }

    /// A guard that, if the test panics while holding it, cancels every paused run, so a flow
    /// thread waiting in a pause ends and the test reports its failure instead of hanging.
    pub fn cancel_paused_on_panic(&self) -> CancelPausedOnPanic<'_> {
        CancelPausedOnPanic { harness: self }
    }

    /// The harness server's API URL, e.g. to point other clients at it.
    pub fn api_url(&self) -> String {
        self.engine.api_url().to_owned()
    }

    /// Stops the harness's own server, as if it had crashed: to test what a program does when
    /// its server goes away. Flows started after this fail to reach it.
    pub fn stop_server(&self) {
        self.engine.stop_embedded();
    }

    /// `POST path` on the harness server, for assertions the typed queries do not cover (e.g.
    /// `"/events/filter"`).
    pub fn post(&self, path: &str, body: Value) -> Value {
        let api = self.engine.api.clone();
        let path = path.to_owned();
        self.engine
            .block_on(async move { api.post::<Value>("a test query", &path, &body).await })
            .unwrap_or_else(|e| panic!("harness query failed: {e}"))
    }

    /// `POST path` on the harness server, the server's refusal as a value (to assert on it).
    pub fn try_post(&self, path: &str, body: Value) -> Result<Value, crate::ApiError> {
        let api = self.engine.api.clone();
        let path = path.to_owned();
        self.engine
            .block_on(async move { api.post::<Value>("a test request", &path, &body).await })
    }

    /// `GET path` on the harness server (e.g. `"/v2/concurrency_limits/db"`).
    pub fn get(&self, path: &str) -> Value {
        let api = self.engine.api.clone();
        let path = path.to_owned();
        self.engine
            .block_on(async move { api.get::<Value>("a test query", &path).await })
            .unwrap_or_else(|e| panic!("harness query failed: {e}"))
    }
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("api_url", &self.engine.api_url())
            .finish()
    }
}
