//! One attempt driver for every run kind. A run kind (flow run, task run) is a [`Machine`]:
//! `begin` an attempt, `settle` its outcome into "retry after a delay" or "done", `resume`
//! before the next attempt. How an attempt's body executes is an [`Attempts`]:
//!
//! - [`Inline`]: a synchronous body on the calling thread;
//! - [`Threaded`]: a synchronous body with a timeout, on a thread of its own. A thread cannot
//!   be interrupted, so at the timeout the attempt is over (`TimedOut`), and the body runs on
//!   until it returns; its value is dropped;
//! - [`Async`]: an async body, raced against its timeout (and dropped, i.e. stopped, there).
//!
//! [`drive`] is the one loop. A synchronous task drives it with `now_or_never` (nothing in it
//! waits on a waker), a synchronous flow with [`crate::block::block_on`], async runs with
//! `.await`: the same states, retries and timeouts either way.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, select};

use crate::context::{self, Frame};
use crate::engine::{Engine, run_on};
use crate::panic::{self, CatchPanic, Panic};

/// How one attempt ended.
#[doc(hidden)]
pub enum Attempted<T> {
    /// The body returned (its value may be a failure).
    Returned(T),
    /// The body panicked.
    Panicked(Panic),
    /// The body ran past the timeout.
    TimedOut(Duration),
}

impl<T> From<Result<T, Panic>> for Attempted<T> {
    fn from(r: Result<T, Panic>) -> Self {
        match r {
            Ok(v) => Attempted::Returned(v),
            Err(p) => Attempted::Panicked(p),
        }
    }
}

/// What an attempt starts with.
#[doc(hidden)]
pub struct Begin {
    /// Whether no retry may follow (the body may move its arguments instead of cloning).
    pub(crate) last: bool,
    /// The frame the body runs in; `None` for a task called outside any flow, which runs as a
    /// plain call (no record, no retries, no timeout).
    pub(crate) frame: Option<Frame>,
}

/// What the machine decided after an attempt.
pub(crate) enum Step<D> {
    /// Attempt again after the delay.
    Retry(Duration),
    /// The run is over.
    Done(D),
}

/// A run kind's state machine.
pub(crate) trait Machine<T> {
    /// How a run ends, for the caller.
    type Done;
    /// Starts an attempt.
    fn begin(&mut self) -> Begin;
    /// Records an attempt's outcome and decides what comes next.
    fn settle(&mut self, attempted: Attempted<T>) -> impl Future<Output = Step<Self::Done>>;
    /// Prepares the next attempt after a retry's delay; `Err` ends the run.
    fn resume(&mut self) -> impl Future<Output = Result<(), Self::Done>>;
}

/// How a body's attempts execute.
#[doc(hidden)]
pub trait Attempts {
    /// What the body returns.
    type Output;
    /// Runs one attempt.
    fn attempt(&mut self, begin: Begin) -> impl Future<Output = Attempted<Self::Output>>;
    /// Waits between attempts.
    fn rest(&mut self, delay: Duration) -> impl Future<Output = ()>;
    /// Runs `work` on `runtime` (the engine's) and waits for it the way the body waits: blocking
    /// the thread of a synchronous body (its driver never waits on a waker), awaiting for an
    /// async one.
    fn wait_for<W>(
        &mut self,
        runtime: &tokio::runtime::Handle,
        work: W,
    ) -> impl Future<Output = W::Output>
    where
        W: Future + Send + 'static,
        W::Output: Send + 'static;
}

/// The attempt loop shared by every run kind and every driver.
pub(crate) async fn drive<T, M, A>(machine: &mut M, attempts: &mut A) -> M::Done
where
    M: Machine<T>,
    A: Attempts<Output = T>,
{
    loop {
        let begin = machine.begin();
        let attempted = attempts.attempt(begin).await;
        match machine.settle(attempted).await {
            Step::Done(done) => return done,
            Step::Retry(delay) => {
                attempts.rest(delay).await;
                if let Err(done) = machine.resume().await {
                    return done;
                }
            }
        }
    }
}

/// A synchronous body on the calling thread: `factory(last)` gives each attempt's closure.
pub struct Inline<F>(pub F);

impl<F, G, T> Attempts for Inline<F>
where
    F: FnMut(bool) -> G,
    G: FnOnce() -> T,
{
    type Output = T;

    async fn attempt(&mut self, begin: Begin) -> Attempted<T> {
        let body = (self.0)(begin.last);
        match begin.frame {
            Some(frame) => context::enter(frame, || panic::catch(body)).into(),
            None => panic::catch(body).into(),
        }
    }

    async fn rest(&mut self, delay: Duration) {
        std::thread::sleep(delay);
    }

    async fn wait_for<W>(&mut self, runtime: &tokio::runtime::Handle, work: W) -> W::Output
    where
        W: Future + Send + 'static,
        W::Output: Send + 'static,
    {
        crate::block::block_on(run_on(runtime, work))
    }
}

/// A synchronous body with a timeout: each attempt on a thread of its own.
pub struct Threaded<F> {
    factory: F,
    timeout: Duration,
}

impl<F> Threaded<F> {
    /// Attempts of `factory` limited to `timeout_seconds` each.
    pub fn new(timeout_seconds: f64, factory: F) -> Threaded<F> {
        Threaded {
            factory,
            timeout: Duration::from_secs_f64(timeout_seconds),
        }
    }
}

impl<F, G, T> Attempts for Threaded<F>
where
    F: FnMut(bool) -> G,
    G: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    type Output = T;

    async fn attempt(&mut self, begin: Begin) -> Attempted<T> {
        let body = (self.factory)(begin.last);
        let Some(frame) = begin.frame else {
            return panic::catch(body).into();
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let started = std::thread::Builder::new()
            .name("flowgate-timed".to_owned())
            .spawn(move || {
                let began = std::time::Instant::now();
                let outcome = context::enter(frame, || panic::catch(body));
                let _ = tx.send((outcome, began.elapsed()));
            });
        if let Err(e) = started {
            return Attempted::Panicked(Panic::message_only(format!(
                "the attempt's thread could not start: {e}"
            )));
        }
        // The body's own running time decides: on a busy machine the waiting thread may only see
        // a late outcome after the body finished, and that outcome is still over its limit.
        match rx.recv_timeout(self.timeout) {
            Ok((_, took)) if took > self.timeout => Attempted::TimedOut(self.timeout),
            Ok((outcome, _)) => outcome.into(),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Attempted::TimedOut(self.timeout),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Attempted::Panicked(
                Panic::message_only("the attempt's thread ended without an outcome".to_owned()),
            ),
        }
    }

    async fn rest(&mut self, delay: Duration) {
        std::thread::sleep(delay);
    }

    async fn wait_for<W>(&mut self, runtime: &tokio::runtime::Handle, work: W) -> W::Output
    where
        W: Future + Send + 'static,
        W::Output: Send + 'static,
    {
        crate::block::block_on(run_on(runtime, work))
    }
}

/// An async body: `factory(last)` gives each attempt's future, raced against `timeout`.
pub struct Async<F> {
    factory: F,
    timeout: Option<Duration>,
    /// The run's engine, whose runtime times the timeout and the delays.
    engine: Option<Arc<Engine>>,
}

impl<F> Async<F> {
    /// Attempts of `factory`, each limited to `timeout_seconds` when given.
    pub fn new(timeout_seconds: Option<f64>, factory: F) -> Async<F> {
        Async {
            factory,
            timeout: timeout_seconds.map(Duration::from_secs_f64),
            engine: None,
        }
    }
}

impl<F, Fut, T> Attempts for Async<F>
where
    F: FnMut(bool) -> Fut,
    Fut: Future<Output = T>,
{
    type Output = T;

    async fn attempt(&mut self, begin: Begin) -> Attempted<T> {
        let body = CatchPanic::new((self.factory)(begin.last));
        let Some(frame) = begin.frame else {
            return body.await.into();
        };
        let engine = frame.flow.engine.clone();
        self.engine = Some(engine.clone());
        let caught = context::enter_async(frame, body);
        let Some(timeout) = self.timeout else {
            return caught.await.into();
        };
        let timer = pin!(engine.sleep(timeout));
        match select(pin!(caught), timer).await {
            Either::Left((outcome, _)) => outcome.into(),
            Either::Right(((), _)) => Attempted::TimedOut(timeout),
        }
    }

    async fn rest(&mut self, delay: Duration) {
        if let Some(engine) = &self.engine {
            engine.sleep(delay).await;
        }
    }

    async fn wait_for<W>(&mut self, runtime: &tokio::runtime::Handle, work: W) -> W::Output
    where
        W: Future + Send + 'static,
        W::Output: Send + 'static,
    {
        run_on(runtime, work).await
    }
}

/// How a run ended, for the caller: the body's value or its own error, a panic to re-raise or
/// report, or a failure the SDK describes (`F`: a `TaskError` or a `FlowError`).
#[doc(hidden)]
pub enum Finished<V, E, F> {
    /// The body returned a value.
    Value(V),
    /// The body returned its own error.
    UserError(E),
    /// The body panicked.
    Panicked(Panic),
    /// Anything else.
    Error(F),
}

impl<V, E, F: std::fmt::Display> Finished<V, E, F> {
    /// What a plain call returns: the body's outcome; every other failure is re-raised as a
    /// panic (the plain call has no other way to report it).
    pub(crate) fn into_plain(self) -> Result<V, E> {
        match self {
            Finished::Value(v) => Ok(v),
            Finished::UserError(e) => Err(e),
            Finished::Panicked(p) => p.resume(),
            Finished::Error(e) => panic!("{e}"),
        }
    }
}
