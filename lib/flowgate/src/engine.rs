//! The engine: the SDK's own tokio runtime, the API client, the event and log senders, and (when
//! no server is configured) an embedded in-process server. One default engine per process, which
//! a test harness can override for its thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use uuid::Uuid;

use crate::api::Api;
use crate::error::ApiError;
use crate::sinks::EventSink;

/// A connection to one Flowgate server.
pub(crate) struct Engine {
    runtime: Option<tokio::runtime::Runtime>,
    pub api: Api,
    pub events: EventSink,
    flows: Mutex<HashMap<String, Uuid>>,
    #[cfg(feature = "embedded")]
    server: Mutex<Option<flowgate_server::RunningServer>>,
}

static DEFAULT: OnceLock<Result<Arc<Engine>, String>> = OnceLock::new();
static PROCESS: Mutex<Option<Arc<Engine>>> = Mutex::new(None);

/// Makes `engine` the engine of every thread without its own (the shared test harness).
pub(crate) fn set_process_default(engine: Arc<Engine>) {
    *PROCESS.lock().expect("not poisoned") = Some(engine);
}

thread_local! {
    static OVERRIDE: RefCell<Option<Arc<Engine>>> = const { RefCell::new(None) };
}

fn new_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("flowgate-sdk")
        .enable_all()
        .build()
        .expect("the SDK's runtime starts")
}

impl Engine {
    fn with_runtime(runtime: tokio::runtime::Runtime, api_url: &str) -> Engine {
        let api = Api::new(api_url);
        let events = EventSink::start(runtime.handle(), api_url);
        Engine {
            runtime: Some(runtime),
            api,
            events,
            flows: Mutex::new(HashMap::new()),
            #[cfg(feature = "embedded")]
            server: Mutex::new(None),
        }
    }

    /// An engine for the server at `api_url`.
    pub fn remote(api_url: &str) -> Engine {
        Engine::with_runtime(new_runtime(), api_url)
    }

    /// An engine with its own in-process server on `database_url`.
    #[cfg(feature = "embedded")]
    pub fn embedded(database_url: &str) -> Result<Engine, ApiError> {
        let runtime = new_runtime();
        let config = flowgate_server::ServerConfig {
            bind: ([127, 0, 0, 1], 0).into(),
            database_url: database_url.to_owned(),
        };
        // Spawned, not `Runtime::block_on`, so that a harness can start inside an async test.
        let started = futures_executor::block_on(runtime.spawn(flowgate_server::start(config)))
            .map_err(|e| ApiError::Embedded(e.to_string()))?;
        let server = started.map_err(|e| ApiError::Embedded(format!("{e:#}")))?;
        let engine = Engine::with_runtime(runtime, &server.api_url());
        *engine.server.lock().expect("not poisoned") = Some(server);
        Ok(engine)
    }

    /// The engine for this thread: a harness's, else the process default (from
    /// `FLOWGATE_API_URL`, or an embedded server on `$FLOWGATE_HOME/flowgate.db`).
    pub fn current() -> Result<Arc<Engine>, ApiError> {
        if let Some(e) = OVERRIDE.with(|o| o.borrow().clone()) {
            return Ok(e);
        }
        if let Some(e) = PROCESS.lock().expect("not poisoned").clone() {
            return Ok(e);
        }
        DEFAULT
            .get_or_init(|| Engine::from_env().map(Arc::new).map_err(|e| e.to_string()))
            .clone()
            .map_err(ApiError::Embedded)
    }

    fn from_env() -> Result<Engine, ApiError> {
        if let Ok(url) = std::env::var("FLOWGATE_API_URL")
            && !url.is_empty()
        {
            return Ok(Engine::remote(&url));
        }
        #[cfg(feature = "embedded")]
        {
            let home = match std::env::var_os("FLOWGATE_HOME") {
                Some(h) => std::path::PathBuf::from(h),
                None => std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                    .join(".flowgate"),
            };
            std::fs::create_dir_all(&home).map_err(|e| {
                ApiError::Embedded(format!("cannot create {}: {e}", home.display()))
            })?;
            Engine::embedded(&format!("sqlite:{}", home.join("flowgate.db").display()))
        }
        #[cfg(not(feature = "embedded"))]
        Err(ApiError::Embedded(
            "FLOWGATE_API_URL is not set and the `embedded` feature is off".into(),
        ))
    }

    /// Makes `engine` this thread's engine until the returned guard drops.
    pub fn install(engine: Arc<Engine>) -> OverrideGuard {
        let previous = OVERRIDE.with(|o| o.borrow_mut().replace(engine));
        OverrideGuard { previous }
    }

    /// Runs `fut` on the engine's runtime without waiting for it.
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.handle().spawn(fut);
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the engine")
            .handle()
    }

    /// Runs `fut` on the engine's runtime and blocks this thread until it finishes (works from
    /// any thread, including inside another runtime).
    pub fn block_on<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = self.handle().spawn(fut);
        futures_executor::block_on(task).expect("an SDK task panicked")
    }

    /// Runs `fut` on the engine's runtime and awaits it from any async context.
    pub async fn run<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle()
            .spawn(fut)
            .await
            .expect("an SDK task panicked")
    }

    /// The flow's id, created on first use and cached.
    pub async fn flow_id(&self, name: &str) -> Result<Uuid, ApiError> {
        if let Some(id) = self.flows.lock().expect("not poisoned").get(name) {
            return Ok(*id);
        }
        let id = self.api.ensure_flow(name).await?;
        self.flows
            .lock()
            .expect("not poisoned")
            .insert(name.to_owned(), id);
        Ok(id)
    }

    /// The API base URL.
    pub fn api_url(&self) -> &str {
        self.api.base()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        #[cfg(feature = "embedded")]
        if let Some(server) = self.server.lock().ok().and_then(|mut s| s.take())
            && let Some(rt) = &self.runtime
        {
            let stop = rt.spawn(server.stop());
            let _ = futures_executor::block_on(stop);
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Restores the previous thread engine on drop.
pub struct OverrideGuard {
    previous: Option<Arc<Engine>>,
}

impl Drop for OverrideGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        OVERRIDE.with(|o| *o.borrow_mut() = previous);
    }
}
