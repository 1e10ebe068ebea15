//! A test harness: an isolated in-process server on a temporary SQLite file, cleaned up after.
//!
//! ```no_run
//! use flowgate::{flow, testing};
//!
//! #[flow]
//! fn my_favorite_flow() -> i64 {
//!     42
//! }
//!
//! #[test]
//! fn test_my_favorite_flow() {
//!     let _harness = testing::harness();
//!     assert_eq!(my_favorite_flow(), 42);
//! }
//! ```
//!
//! [`harness`] serves the calling thread (and the tasks its flows start) until it is dropped, so
//! tests running in parallel never see each other's runs. [`shared_harness`] starts one harness
//! for the whole test binary instead, for every thread.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::engine::{Engine, OverrideGuard};

/// An isolated server for tests; flows called on this thread use it until it drops.
pub struct Harness {
    engine: Arc<Engine>,
    _guard: Option<OverrideGuard>,
    _dir: tempfile::TempDir,
}

fn start() -> (Arc<Engine>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory for the test database");
    let url = format!("sqlite:{}", dir.path().join("flowgate.db").display());
    let engine =
        Engine::embedded(&url).unwrap_or_else(|e| panic!("the test harness could not start: {e}"));
    (Arc::new(engine), dir)
}

/// Starts a harness for the calling thread.
pub fn harness() -> Harness {
    let (engine, dir) = start();
    let guard = Engine::install(engine.clone());
    Harness {
        engine,
        _guard: Some(guard),
        _dir: dir,
    }
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
            _dir: dir,
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
        let paused = serde_json::json!({"flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}}});
        let runs = self.harness.post("/flow_runs/filter", paused);
        for run in runs.as_array().into_iter().flatten() {
            let cancel =
                serde_json::json!({"state": {"type": "CANCELLED", "message": "the test failed"}});
            let path = format!(
                "/flow_runs/{}/set_state",
                run["id"].as_str().unwrap_or_default()
            );
            self.harness.post(&path, cancel);
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

    /// `POST path` on the harness server, for assertions (e.g. `"/flow_runs/filter"`).
    pub fn post(&self, path: &str, body: Value) -> Value {
        let api = self.engine.api.clone();
        let path = path.to_owned();
        self.engine
            .block_on(async move { api.post("a test query", &path, &body).await })
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
