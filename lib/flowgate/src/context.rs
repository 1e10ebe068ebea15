//! Where the code is running: which flow run, which task run. Synchronous code keeps a
//! per-thread stack of frames; async flows and tasks carry theirs in a tokio task-local. The
//! process also keeps the flow runs in progress, so a task called outside any of them (in a
//! thread or a `tokio::spawn` that lost the context) is warned about instead of vanishing.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};

use uuid::Uuid;

use crate::engine::Engine;
use crate::flow::{EarlierResults, StopSignal};
use crate::future::Completion;
use crate::runner::TaskRunner;

/// A flow run in progress, shared by every task it starts.
pub(crate) struct FlowRunScope {
    pub engine: Arc<Engine>,
    pub id: Uuid,
    pub name: String,
    /// The flow's name (unknown in a task worker running one call of a remote flow run).
    pub flow: Option<&'static str>,
    pub runner: Arc<dyn TaskRunner>,
    pub run_count: i64,
    keys: Mutex<HashMap<&'static str, u64>>,
    outstanding: Mutex<Vec<Arc<dyn Completion>>>,
    /// Tasks already warned about for running outside this run's context.
    warned: Mutex<HashSet<&'static str>>,
    /// Results of task runs an earlier process completed for this run (when it was taken over).
    pub earlier: EarlierResults,
    /// Raised when the run (or, for a subflow, its top-level run) is suspended or cancelled
    /// from outside; task calls read it.
    pub stop: Arc<StopSignal>,
}

impl FlowRunScope {
    pub fn new(
        engine: Arc<Engine>,
        id: Uuid,
        name: String,
        flow: Option<&'static str>,
        runner: Arc<dyn TaskRunner>,
    ) -> FlowRunScope {
        FlowRunScope {
            engine,
            id,
            name,
            flow,
            runner,
            run_count: 1,
            keys: Mutex::new(HashMap::new()),
            outstanding: Mutex::new(Vec::new()),
            warned: Mutex::new(HashSet::new()),
            earlier: EarlierResults::default(),
            stop: Arc::new(StopSignal::new(id)),
        }
    }

    /// The scope of a subflow, which stops when its parent's run is asked to stop.
    pub fn with_stop(mut self, stop: Arc<StopSignal>) -> FlowRunScope {
        self.stop = stop;
        self
    }

    /// The scope of a run taken over from an earlier process, with that process's results.
    pub fn with_earlier(mut self, earlier: EarlierResults) -> FlowRunScope {
        self.earlier = earlier;
        self
    }

    /// The next dynamic key for a call of the task `task_key` in this flow run.
    pub fn next_key(&self, task_key: &'static str) -> u64 {
        let mut keys = self.keys.lock().expect("not poisoned");
        let n = keys.entry(task_key).or_insert(0);
        *n += 1;
        *n - 1
    }

    /// Remembers a submitted task, so the flow waits for it before it ends.
    pub fn track(&self, completion: Arc<dyn Completion>) {
        self.outstanding
            .lock()
            .expect("not poisoned")
            .push(completion);
    }

    /// Takes every tracked task.
    pub fn take_outstanding(&self) -> Vec<Arc<dyn Completion>> {
        std::mem::take(&mut *self.outstanding.lock().expect("not poisoned"))
    }
}

/// A task run in progress.
#[derive(Clone, Debug)]
pub(crate) struct TaskRunRef {
    pub id: Uuid,
    pub name: String,
}

/// The innermost flow run and task run of the running code.
#[derive(Clone)]
pub(crate) struct Frame {
    pub flow: Arc<FlowRunScope>,
    pub task: Option<TaskRunRef>,
}

thread_local! {
    static STACK: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

tokio::task_local! {
    static ASYNC_FRAME: Frame;
}

/// The current frame, if the caller runs inside a flow.
pub(crate) fn current() -> Option<Frame> {
    STACK
        .with(|s| s.borrow().last().cloned())
        .or_else(|| ASYNC_FRAME.try_with(Frame::clone).ok())
}

/// Runs `f` with `frame` as the current frame of this thread.
pub(crate) fn enter<R>(frame: Frame, f: impl FnOnce() -> R) -> R {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            STACK.with(|s| s.borrow_mut().pop());
        }
    }
    STACK.with(|s| s.borrow_mut().push(frame));
    let _pop = Pop;
    f()
}

/// Runs `fut` with `frame` as its current frame.
pub(crate) fn enter_async<F: Future>(frame: Frame, fut: F) -> impl Future<Output = F::Output> {
    ASYNC_FRAME.scope(frame, fut)
}

/// The flow runs in progress in this process.
static ACTIVE: Mutex<Vec<Weak<FlowRunScope>>> = Mutex::new(Vec::new());

/// Keeps a flow run listed as in progress until dropped.
pub(crate) struct ActiveFlow(Weak<FlowRunScope>);

impl ActiveFlow {
    pub fn register(scope: &Arc<FlowRunScope>) -> ActiveFlow {
        let weak = Arc::downgrade(scope);
        ACTIVE.lock().expect("not poisoned").push(weak.clone());
        ActiveFlow(weak)
    }
}

impl Drop for ActiveFlow {
    fn drop(&mut self) {
        ACTIVE
            .lock()
            .expect("not poisoned")
            .retain(|w| !w.ptr_eq(&self.0) && w.strong_count() > 0);
    }
}

/// Called for a task that runs with no flow context. While flow runs are in progress on the
/// server this code reports to, that usually means the context was lost (a
/// `std::thread::spawn`, a `tokio::spawn`, a `JoinSet`): warn, once per task and flow run, in
/// the run's own logs when only one flow run is in progress (else on the console).
pub(crate) fn warn_unrecorded(task_name: &'static str, task_key: &'static str) {
    if ACTIVE.lock().expect("not poisoned").is_empty() {
        return; // a plain call, as in a unit test of the task
    }
    // Only runs on the server this code would report to (each test harness is its own).
    let engine = Engine::current().ok();
    let active: Vec<Arc<FlowRunScope>> = ACTIVE
        .lock()
        .expect("not poisoned")
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|s| engine.as_ref().is_some_and(|e| Arc::ptr_eq(e, &s.engine)))
        .collect();
    let message = format!(
        "Task '{task_name}' ran outside any flow run's context, so it is not recorded. \
         It was probably called in a thread or task that lost the context: start those with \
         flowgate::spawn / flowgate::spawn_thread, or wrap them with RunContext::current()"
    );
    match active.as_slice() {
        [] => {}
        [only] => {
            if only.warned.lock().expect("not poisoned").insert(task_key) {
                crate::logging::for_frame(&Frame {
                    flow: only.clone(),
                    task: None,
                })
                .warning(&message);
            }
        }
        many => {
            if many[0]
                .warned
                .lock()
                .expect("not poisoned")
                .insert(task_key)
            {
                tracing::warn!(
                    target: "flowgate",
                    "{message} ({} flow runs are in progress)",
                    many.len()
                );
            }
        }
    }
}

/// The id of the flow run the calling code belongs to, if any.
pub fn current_flow_run_id() -> Option<Uuid> {
    current().map(|f| f.flow.id)
}

/// The name of the flow run the calling code belongs to (what the logs and `flowgate flow-run`
/// show), if any.
pub fn current_flow_run_name() -> Option<String> {
    current().map(|f| f.flow.name.clone())
}

/// The id of the task run the calling code belongs to, if any.
pub fn current_task_run_id() -> Option<Uuid> {
    current().and_then(|f| f.task.map(|t| t.id))
}

/// The context of the calling code (the flow run and task run it belongs to, and the test
/// harness serving it), to carry into threads and tasks you start yourself. Tasks called in
/// them are then recorded as part of the run.
///
/// ```no_run
/// #[flowgate::task]
/// async fn fetch(page: u32) -> u32 {
///     page
/// }
///
/// #[flowgate::flow]
/// async fn crawl() -> u32 {
///     let ctx = flowgate::RunContext::current();
///     let mut set = tokio::task::JoinSet::new();
///     for page in 0..4 {
///         set.spawn(ctx.scope(fetch(page)));
///     }
///     set.join_all().await.into_iter().sum()
/// }
/// # fn main() {}
/// ```
#[derive(Clone, Default)]
pub struct RunContext {
    frame: Option<Frame>,
    engine: Option<Arc<Engine>>,
}

impl RunContext {
    /// The calling code's context.
    pub fn current() -> RunContext {
        RunContext {
            frame: current(),
            engine: Engine::installed(),
        }
    }

    /// The flow run's id, if the context is inside one.
    pub fn flow_run_id(&self) -> Option<Uuid> {
        self.frame.as_ref().map(|f| f.flow.id)
    }

    /// Runs `f` in this context on the calling thread.
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        let _engine = self.engine.clone().map(Engine::install);
        match &self.frame {
            Some(frame) => enter(frame.clone(), f),
            None => f(),
        }
    }

    /// `fut`, running in this context wherever it is polled.
    pub fn scope<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> + use<F> {
        let frame = self.frame.clone();
        let engine = self.engine.clone();
        async move {
            let fut = Engine::scope_async(engine, fut);
            match frame {
                Some(frame) => enter_async(frame, fut).await,
                None => fut.await,
            }
        }
    }
}

/// `tokio::spawn` that keeps the caller's run context (and test harness): tasks called in the
/// spawned future are recorded in the caller's flow run. Spawns on the caller's tokio runtime,
/// or on the SDK's own when the caller has none.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let ctx = RunContext::current();
    let handle = tokio::runtime::Handle::try_current()
        .ok()
        .or_else(|| {
            let engine = ctx.frame.as_ref().map(|f| f.flow.engine.clone());
            let engine = engine.or_else(|| ctx.engine.clone());
            engine
                .or_else(|| Engine::current().ok())
                .map(|e| e.handle().clone())
        })
        .expect("flowgate::spawn needs a tokio runtime, a flow, or a reachable Flowgate server");
    handle.spawn(ctx.scope(future))
}

/// `std::thread::spawn` that keeps the caller's run context (and test harness).
pub fn spawn_thread<F, R>(f: F) -> std::thread::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let ctx = RunContext::current();
    std::thread::spawn(move || ctx.enter(f))
}
