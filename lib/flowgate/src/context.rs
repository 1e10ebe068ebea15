//! Where the code is running: which flow run, which task run. Synchronous code keeps a
//! per-thread stack of frames; async flows and tasks carry theirs in a tokio task-local.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::engine::Engine;
use crate::future::Completion;
use crate::runner::TaskRunner;

/// A flow run in progress, shared by every task it starts.
pub(crate) struct FlowRunScope {
    pub engine: Arc<Engine>,
    pub id: Uuid,
    pub name: String,
    pub runner: Arc<dyn TaskRunner>,
    pub run_count: i64,
    keys: Mutex<HashMap<&'static str, u64>>,
    outstanding: Mutex<Vec<Arc<dyn Completion>>>,
}

impl FlowRunScope {
    pub fn new(
        engine: Arc<Engine>,
        id: Uuid,
        name: String,
        runner: Arc<dyn TaskRunner>,
    ) -> FlowRunScope {
        FlowRunScope {
            engine,
            id,
            name,
            runner,
            run_count: 1,
            keys: Mutex::new(HashMap::new()),
            outstanding: Mutex::new(Vec::new()),
        }
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
pub(crate) async fn enter_async<F: Future>(frame: Frame, fut: F) -> F::Output {
    ASYNC_FRAME.scope(frame, fut).await
}
