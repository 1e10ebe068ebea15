//! Futures of submitted task runs: wait for one, wait for many, take them as they complete, or
//! pass one to another task as an input.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};

use uuid::Uuid;

use crate::error::TaskError;

/// Lets a flow wait for every task it submitted, whatever its result type.
pub(crate) trait Completion: Send + Sync {
    /// Blocks until the task run has finished.
    fn wait_done(&self);
    /// Whether the user waited for or read the result.
    fn observed(&self) -> bool;
}

struct SlotState<T> {
    result: Option<Result<T, TaskError>>,
    listeners: Vec<(Sender<usize>, usize)>,
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
                result: None,
                listeners: Vec::new(),
            }),
            done: Condvar::new(),
            observed: AtomicBool::new(false),
        })
    }

    /// Stores the result and wakes every waiter.
    pub fn complete(&self, result: Result<T, TaskError>) {
        let mut state = self.state.lock().expect("not poisoned");
        state.result = Some(result);
        for (tx, index) in state.listeners.drain(..) {
            let _ = tx.send(index);
        }
        self.done.notify_all();
    }

    fn wait(&self) -> std::sync::MutexGuard<'_, SlotState<T>> {
        self.observed.store(true, Ordering::Relaxed);
        let guard = self.state.lock().expect("not poisoned");
        self.done
            .wait_while(guard, |s| s.result.is_none())
            .expect("not poisoned")
    }

    fn listen(&self, tx: Sender<usize>, index: usize) {
        let mut state = self.state.lock().expect("not poisoned");
        if state.result.is_some() {
            let _ = tx.send(index);
        } else {
            state.listeners.push((tx, index));
        }
    }
}

impl<T: Send> Completion for Slot<T> {
    fn wait_done(&self) {
        let guard = self.state.lock().expect("not poisoned");
        drop(
            self.done
                .wait_while(guard, |s| s.result.is_none())
                .expect("not poisoned"),
        );
    }

    fn observed(&self) -> bool {
        self.observed.load(Ordering::Relaxed)
    }
}

/// The future result of a submitted task run.
pub struct TaskFuture<T> {
    slot: Arc<Slot<T>>,
    task_run_id: Uuid,
}

impl<T> Clone for TaskFuture<T> {
    fn clone(&self) -> Self {
        TaskFuture {
            slot: self.slot.clone(),
            task_run_id: self.task_run_id,
        }
    }
}

impl<T> std::fmt::Debug for TaskFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskFuture")
            .field("task_run_id", &self.task_run_id)
            .finish()
    }
}

impl<T> TaskFuture<T> {
    pub(crate) fn new(slot: Arc<Slot<T>>, task_run_id: Uuid) -> TaskFuture<T> {
        TaskFuture { slot, task_run_id }
    }

    /// The id of the task run behind this future.
    pub fn task_run_id(&self) -> Uuid {
        self.task_run_id
    }

    /// Blocks until the task run has finished (successfully or not).
    pub fn wait(&self) {
        drop(self.slot.wait());
    }

    /// Whether the task run has finished.
    pub fn is_done(&self) -> bool {
        self.slot
            .state
            .lock()
            .expect("not poisoned")
            .result
            .is_some()
    }
}

impl<T: Clone> TaskFuture<T> {
    /// Waits, then returns the task's value, or why it has none.
    pub fn result(&self) -> Result<T, TaskError> {
        self.slot.wait().result.clone().expect("waited until set")
    }
}

/// Blocks until every future has finished.
pub fn wait<T>(futures: &[TaskFuture<T>]) {
    for f in futures {
        f.wait();
    }
}

/// Yields futures in the order their task runs finish.
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
}

impl<T> From<TaskFuture<T>> for Input<T> {
    fn from(f: TaskFuture<T>) -> Self {
        Input::Future(f)
    }
}

impl<T: Clone> Input<T> {
    /// The value, waiting for a future; with the upstream task run id when there was one.
    pub(crate) fn resolve(self) -> Result<(T, Option<Uuid>), TaskError> {
        match self {
            Input::Value(v) => Ok((v, None)),
            Input::Future(f) => f.result().map(|v| (v, Some(f.task_run_id))),
        }
    }
}
