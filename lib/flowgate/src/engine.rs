//! The engine: the SDK's own tokio runtime, the API client, the event and log senders, and (when
//! no server is configured) an embedded in-process server. One default engine per process;
//! test harnesses override it (see [`Engine::current`] for the order), and while any harness
//! is active the default is never used.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use uuid::Uuid;

use crate::api::Api;
use crate::concurrency::{Renewals, SlotChannel};
use crate::error::ApiError;
use crate::patience::Patience;
use crate::sinks::EventSink;

/// A connection to one Flowgate server.
pub(crate) struct Engine {
    runtime: Option<tokio::runtime::Runtime>,
    pub api: Api,
    pub events: EventSink,
    /// The leases of live concurrency guards, renewed by one task.
    pub renewals: Renewals,
    /// The websocket carrying concurrency slot requests.
    pub slots: SlotChannel,
    /// Whether the server was reached, shared by `api` and `events`.
    patience: Arc<Patience>,
    flows: Mutex<HashMap<String, Uuid>>,
    #[cfg(feature = "embedded")]
    server: Mutex<Option<flowgate_server::RunningServer>>,
}

static DEFAULT: OnceLock<Result<Arc<Engine>, String>> = OnceLock::new();
static PROCESS: Mutex<Option<Arc<Engine>>> = Mutex::new(None);

/// Makes `engine` the engine of every thread without its own (the shared test harness).
#[cfg(feature = "embedded")]
pub(crate) fn set_process_default(engine: Arc<Engine>) {
    *PROCESS.lock().expect("not poisoned") = Some(engine);
}

thread_local! {
    static OVERRIDE: RefCell<Option<Arc<Engine>>> = const { RefCell::new(None) };
}

tokio::task_local! {
    static ASYNC_OVERRIDE: Arc<Engine>;
}

/// An active test harness: its engine, and the tokio runtime it was started in (whose
/// threads it serves).
struct ActiveHarness {
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    id: u64,
    engine: Arc<Engine>,
    runtime: Option<tokio::runtime::Id>,
}

static HARNESSES: Mutex<Vec<ActiveHarness>> = Mutex::new(Vec::new());

/// Keeps a harness registered as active until dropped.
#[cfg(feature = "embedded")]
pub(crate) struct HarnessRegistration(u64);

#[cfg(feature = "embedded")]
impl HarnessRegistration {
    /// Registers `engine` as an active harness, serving the tokio runtime the caller runs in.
    pub fn new(engine: Arc<Engine>) -> HarnessRegistration {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let runtime = tokio::runtime::Handle::try_current().ok().map(|h| h.id());
        HARNESSES.lock().expect("not poisoned").push(ActiveHarness {
            id,
            engine,
            runtime,
        });
        HarnessRegistration(id)
    }
}

#[cfg(feature = "embedded")]
impl Drop for HarnessRegistration {
    fn drop(&mut self) {
        HARNESSES
            .lock()
            .expect("not poisoned")
            .retain(|h| h.id != self.0);
    }
}

/// The harness started in this thread's tokio runtime, if any: it serves every task and
/// blocking thread of that runtime.
fn harness_of_this_runtime() -> Option<Arc<Engine>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?.id();
    HARNESSES
        .lock()
        .expect("not poisoned")
        .iter()
        .find(|h| h.runtime == Some(runtime))
        .map(|h| h.engine.clone())
}

/// For a thread no harness claims: the only active harness, `Err` when several are active
/// (none can be chosen), `Ok(None)` when none is.
fn only_active_harness() -> Result<Option<Arc<Engine>>, ApiError> {
    let harnesses = HARNESSES.lock().expect("not poisoned");
    match harnesses.as_slice() {
        [] => Ok(None),
        [only] => Ok(Some(only.engine.clone())),
        many => Err(ApiError::NotServed(format!(
            "{} test harnesses are active (tests run in parallel) and this thread belongs to \
             none of them, so the SDK will not guess which one, nor use the default database. \
             Start threads and tasks with flowgate::spawn_thread / flowgate::spawn (or call \
             `harness.enter()` in them), or use testing::shared_harness()",
            many.len()
        ))),
    }
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
        let patience = Arc::new(Patience::default());
        let api = Api::new(api_url, patience.clone());
        let events = EventSink::start(runtime.handle(), api_url, patience.clone());
        let slots = SlotChannel::start(runtime.handle(), api_url);
        Engine {
            runtime: Some(runtime),
            api,
            events,
            renewals: Renewals::default(),
            slots,
            patience,
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
        let config = flowgate_server::ServerConfig::new(([127, 0, 0, 1], 0).into(), database_url);
        // Spawned, not `Runtime::block_on`, so that a harness can start inside an async test.
        let started = crate::block::block_on(runtime.spawn(flowgate_server::start(config)))
            .map_err(|e| ApiError::Embedded(e.to_string()))?;
        let server = started.map_err(|e| ApiError::Embedded(format!("{e:#}")))?;
        let engine = Engine::with_runtime(runtime, &server.api_url());
        *engine.server.lock().expect("not poisoned") = Some(server);
        Ok(engine)
    }

    /// The engine for the calling code, in this order: the engine installed on this thread or
    /// task (a harness, `Harness::enter`, a `RunContext`); the harness started in this
    /// thread's tokio runtime; the shared harness; the only active harness; and, only when no
    /// harness is active, the process default (`FLOWGATE_API_URL`, or an embedded server on
    /// `$FLOWGATE_HOME/flowgate.db`).
    pub fn current() -> Result<Arc<Engine>, ApiError> {
        if let Some(e) = Engine::installed().or_else(harness_of_this_runtime) {
            return Ok(e);
        }
        if let Some(e) = PROCESS.lock().expect("not poisoned").clone() {
            return Ok(e);
        }
        if let Some(e) = only_active_harness()? {
            return Ok(e);
        }
        DEFAULT
            .get_or_init(|| Engine::from_env().map(Arc::new).map_err(|e| e.to_string()))
            .clone()
            .map_err(ApiError::Embedded)
    }

    /// The engine installed on this thread or async task, if any.
    pub fn installed() -> Option<Arc<Engine>> {
        OVERRIDE
            .with(|o| o.borrow().clone())
            .or_else(|| ASYNC_OVERRIDE.try_with(Arc::clone).ok())
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

    /// Runs `fut` with `engine` (if any) installed for it wherever it is polled.
    pub async fn scope_async<F: Future>(engine: Option<Arc<Engine>>, fut: F) -> F::Output {
        match engine {
            Some(engine) => ASYNC_OVERRIDE.scope(engine, fut).await,
            None => fut.await,
        }
    }

    /// Runs `fut` on the engine's runtime without waiting for it.
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.handle().spawn(fut);
    }

    /// The engine's tokio runtime.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the engine")
            .handle()
    }

    /// Runs `fut` on the engine's runtime and blocks this thread until it finishes (works from
    /// any thread, including inside another runtime, and nested).
    pub fn block_on<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        crate::block::block_on(self.run(fut))
    }

    /// Runs `fut` on the engine's runtime and awaits it from any executor.
    pub async fn run<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        run_on(self.handle(), fut).await
    }

    /// Waits `delay` from any executor (the engine's runtime keeps the timer).
    pub async fn sleep(&self, delay: Duration) {
        if !delay.is_zero() {
            // The timer is made on the engine's runtime: the caller may have none.
            self.run(async move { tokio::time::sleep(delay).await })
                .await;
        }
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

    /// Stops the embedded server, if this engine has one (see `Harness::stop_server`).
    #[cfg(feature = "embedded")]
    pub fn stop_embedded(&self) {
        self.patience.stopped();
        if let Some(server) = self.server.lock().expect("not poisoned").take() {
            let _ = self.block_on(server.stop());
        }
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
            let _ = crate::block::block_on(stop);
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Runs `fut` on the runtime of `handle` and awaits it from any executor (a panic in it
/// resumes here).
pub(crate) async fn run_on<F>(handle: &tokio::runtime::Handle, fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match handle.spawn(fut).await {
        Ok(out) => out,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
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
