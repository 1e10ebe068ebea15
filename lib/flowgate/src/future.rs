//! Futures of submitted task runs: wait for one (blocking, or `.await` in async code), wait for
//! many, take them as they complete, or pass one to another task as an input.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once};
use std::task::{Context, Poll, Waker};

use uuid::Uuid;

use crate::error::TaskError;

/// Lets a flow wait for every task it submitted, whatever its result type.
pub(crate) trait Completion: Send + Sync {
    /// Ready once the task run has finished.
    fn poll_done(&self, cx: &mut Context<'_>) -> Poll<()>;
    /// Whether the user waited for or read the result.
    fn observed(&self) -> bool;
}

struct SlotState<T> {
    /// Whether the task run has finished.
    finished: bool,
    /// Its outcome, until the last handle takes it.
    result: Option<Result<T, TaskError>>,
    listeners: Vec<(Sender<usize>, usize)>,
    wakers: Vec<Waker>,
    /// Live [`TaskFuture`] handles: the last one may take the value instead of cloning it.
    handles: usize,
    /// Clones the value; set when a handle is cloned (only possible for `T: Clone`).
    cloner: Option<fn(&T) -> T>,
}

/// Where a task run's result lands.
pub(crate) struct Slot<T> {
    state: Mutex<SlotState<T>>,
    done: Condvar,
    observed: AtomicBool,
}

impl<T> Slot<T> {
    pub fn new() -> Arc<Slot<T>> {
        Arc::new(Slot {
            state: Mutex::new(SlotState {
                finished: false,
                result: None,
                listeners: Vec::new(),
                wakers: Vec::new(),
                handles: 0,
                cloner: None,
            }),
            done: Condvar::new(),
            observed: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, SlotState<T>> {
        self.state.lock().expect("not poisoned")
    }

    /// Stores the result and wakes every waiter.
    pub fn complete(&self, result: Result<T, TaskError>) {
        let mut state = self.lock();
        state.finished = true;
        state.result = Some(result);
        for (tx, index) in state.listeners.drain(..) {
            let _ = tx.send(index);
        }
        for waker in state.wakers.drain(..) {
            waker.wake();
        }
        self.done.notify_all();
    }

    fn wait(&self) -> MutexGuard<'_, SlotState<T>> {
        self.observed.store(true, Ordering::Relaxed);
        self.done
            .wait_while(self.lock(), |s| !s.finished)
            .expect("not poisoned")
    }

    fn listen(&self, tx: Sender<usize>, index: usize) {
        let mut state = self.lock();
        if state.finished {
            let _ = tx.send(index);
        } else {
            state.listeners.push((tx, index));
        }
    }

    /// The finished outcome for one handle: moved out when it is the last handle, cloned
    /// otherwise (other handles exist only for `Clone` values).
    fn take_or_clone(state: &mut SlotState<T>) -> Result<T, TaskError> {
        if state.handles > 1 {
            let clone = state
                .cloner
                .expect("handles are only cloned for values that are Clone");
            let result = state
                .result
                .as_ref()
                .expect("only the last handle takes it");
            return result.as_ref().map(clone).map_err(TaskError::clone);
        }
        state.result.take().expect("only the last handle takes it")
    }
}

impl<T: Send> Completion for Slot<T> {
    fn poll_done(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        if state.finished {
            return Poll::Ready(());
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    fn observed(&self) -> bool {
        self.observed.load(Ordering::Relaxed)
    }
}

/// The future result of a submitted task run. In synchronous code, [`TaskFuture::wait`] and
/// [`TaskFuture::result`] block; in async code, `.await` it (it is [`IntoFuture`]).
pub struct TaskFuture<T> {
    slot: Arc<Slot<T>>,
    task_run_id: Uuid,
}

impl<T: Clone> Clone for TaskFuture<T> {
    fn clone(&self) -> Self {
        let mut state = self.slot.lock();
        state.handles += 1;
        state.cloner = Some(T::clone);
        drop(state);
        TaskFuture {
            slot: self.slot.clone(),
            task_run_id: self.task_run_id,
        }
    }
}

impl<T> Drop for TaskFuture<T> {
    fn drop(&mut self) {
        self.slot.lock().handles -= 1;
    }
}

impl<T> std::fmt::Debug for TaskFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskFuture")
            .field("task_run_id", &self.task_run_id)
            .finish()
    }
}

/// Warns once per process when a blocking wait runs on an async executor's thread.
fn warn_if_blocking_an_executor() {
    static WARNED: Once = Once::new();
    if tokio::task::try_id().is_some() {
        WARNED.call_once(|| {
            tracing::warn!(
                target: "flowgate",
                "TaskFuture::wait/result/into_result block the thread, and this thread runs async \
                 tasks: write `future.await` in async code"
            );
        });
    }
}

impl<T> TaskFuture<T> {
    pub(crate) fn new(slot: Arc<Slot<T>>, task_run_id: Uuid) -> TaskFuture<T> {
        slot.lock().handles += 1;
        TaskFuture { slot, task_run_id }
    }

    /// The id of the task run behind this future.
    pub fn task_run_id(&self) -> Uuid {
        self.task_run_id
    }

    /// Blocks until the task run has finished (successfully or not).
    pub fn wait(&self) {
        warn_if_blocking_an_executor();
        drop(self.slot.wait());
    }

    /// Whether the task run has finished.
    pub fn is_done(&self) -> bool {
        self.slot.lock().finished
    }

    /// Waits, then returns the task's value (moved, not cloned), or why it has none.
    pub fn into_result(self) -> Result<T, TaskError> {
        warn_if_blocking_an_executor();
        let mut state = self.slot.wait();
        Slot::take_or_clone(&mut state)
    }
}

impl<T: Clone> TaskFuture<T> {
    /// Waits, then returns a clone of the task's value, or why it has none.
    pub fn result(&self) -> Result<T, TaskError> {
        warn_if_blocking_an_executor();
        let state = self.slot.wait();
        state
            .result
            .as_ref()
            .expect("no other handle took it")
            .clone()
    }
}

/// Awaits a [`TaskFuture`] (what `.await` on it does).
pub struct TaskFutureAwait<T> {
    future: Option<TaskFuture<T>>,
}

impl<T> Future for TaskFutureAwait<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.future.as_ref().expect("polled after completion");
        let slot = future.slot.clone();
        slot.observed.store(true, Ordering::Relaxed);
        let mut state = slot.lock();
        if !state.finished {
            if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                state.wakers.push(cx.waker().clone());
            }
            return Poll::Pending;
        }
        let out = Slot::take_or_clone(&mut state);
        drop(state);
        self.future = None;
        Poll::Ready(out)
    }
}

impl<T> Unpin for TaskFutureAwait<T> {}

impl<T> IntoFuture for TaskFuture<T> {
    type Output = Result<T, TaskError>;
    type IntoFuture = TaskFutureAwait<T>;

    fn into_future(self) -> TaskFutureAwait<T> {
        TaskFutureAwait { future: Some(self) }
    }
}

/// Blocks until every future has finished.
pub fn wait<T>(futures: &[TaskFuture<T>]) {
    for f in futures {
        f.wait();
    }
}

/// Yields futures in the order their task runs finish (blocking between them).
pub fn as_completed<T>(futures: impl IntoIterator<Item = TaskFuture<T>>) -> AsCompleted<T> {
    let (tx, rx) = channel();
    let futures: Vec<Option<TaskFuture<T>>> = futures
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            f.slot.observed.store(true, Ordering::Relaxed);
            f.slot.listen(tx.clone(), i);
            Some(f)
        })
        .collect();
    AsCompleted {
        left: futures.len(),
        futures,
        rx,
    }
}

/// The iterator [`as_completed`] returns.
pub struct AsCompleted<T> {
    futures: Vec<Option<TaskFuture<T>>>,
    rx: Receiver<usize>,
    left: usize,
}

impl<T> Iterator for AsCompleted<T> {
    type Item = TaskFuture<T>;

    fn next(&mut self) -> Option<TaskFuture<T>> {
        if self.left == 0 {
            return None;
        }
        let index = self.rx.recv().ok()?;
        self.left -= 1;
        self.futures[index].take()
    }
}

/// An argument of a submitted task: a plain value or another task's future, which is resolved
/// first and recorded as the task run's upstream input.
pub enum Input<T> {
    /// A value.
    Value(T),
    /// The result of another task run.
    Future(TaskFuture<T>),
}

impl<T> Input<T> {
    /// A plain value (`Input::value(2)` infers the type from the parameter).
    pub fn value(v: T) -> Input<T> {
        Input::Value(v)
    }

    /// The value, waiting for a future; with the upstream task run id when there was one.
    pub(crate) fn resolve(self) -> Result<(T, Option<Uuid>), TaskError> {
        match self {
            Input::Value(v) => Ok((v, None)),
            Input::Future(f) => {
                let id = f.task_run_id;
                f.into_result().map(|v| (v, Some(id)))
            }
        }
    }

    /// [`Input::resolve`], awaiting a future.
    pub(crate) async fn resolve_async(self) -> Result<(T, Option<Uuid>), TaskError> {
        match self {
            Input::Value(v) => Ok((v, None)),
            Input::Future(f) => {
                let id = f.task_run_id;
                f.await.map(|v| (v, Some(id)))
            }
        }
    }
}

impl<T> From<TaskFuture<T>> for Input<T> {
    fn from(f: TaskFuture<T>) -> Self {
        Input::Future(f)
    }
}
