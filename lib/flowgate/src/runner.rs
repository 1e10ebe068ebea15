//! Task runners decide where submitted tasks execute: in the caller's thread, on a pool of
//! threads, or on one thread per core. Async tasks are jobs too: by default a tokio task on the
//! caller's runtime; the pools run them on their threads (so a pool's size bounds them).

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::engine::Engine;

/// A unit of work given to a runner.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// A submitted async task run, given to a runner.
pub struct AsyncJob {
    future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>,
    engine: Arc<Engine>,
}

impl AsyncJob {
    pub(crate) fn new(
        future: impl Future<Output = ()> + Send + 'static,
        engine: Arc<Engine>,
    ) -> AsyncJob {
        AsyncJob {
            future: Box::pin(future),
            engine,
        }
    }

    /// Runs the job as a tokio task: on the caller's runtime, or the SDK's when there is none.
    pub fn spawn(self) {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn(self.future)),
            Err(_) => self.engine.spawn(self.future),
        }
    }

    /// Runs the job to its end on the calling thread (a runner's own thread, not an async
    /// executor's), with the SDK's tokio runtime available to it for timers and I/O.
    pub fn run_here(self) {
        let _runtime = self.engine.handle().enter();
        crate::block::block_on(self.future);
    }
}

/// Runs `job` as a tokio task on the caller's runtime, the SDK's default one otherwise, or a
/// thread of its own when neither exists.
pub(crate) fn spawn_detached(job: impl Future<Output = ()> + Send + 'static) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        drop(handle.spawn(job));
    } else if let Ok(engine) = Engine::current() {
        engine.spawn(job);
    } else {
        thread::spawn(move || crate::block::block_on(job));
    }
}

/// Executes submitted task runs.
pub trait TaskRunner: Send + Sync + 'static {
    /// Starts `job`; it must eventually run exactly once. By default it runs at once, in the
    /// submitting thread.
    fn spawn(&self, job: Job) {
        job();
    }
    /// Starts an async task run; by default as a tokio task ([`AsyncJob::spawn`]).
    fn spawn_async(&self, job: AsyncJob) {
        job.spawn();
    }
    /// A name for logs; by default the type's name.
    fn name(&self) -> String {
        let full = std::any::type_name::<Self>();
        full.rsplit("::").next().unwrap_or(full).to_owned()
    }
    /// Whether submitted tasks go to the server's queue instead of [`TaskRunner::spawn`].
    fn is_distributed(&self) -> bool {
        false
    }
}

/// Runs each submitted task at once, in the submitting thread (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct SequentialTaskRunner;

impl TaskRunner for SequentialTaskRunner {}

/// `max_workers` must be at least 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("max_workers must be at least 1, got {0}")]
pub struct InvalidWorkers(pub usize);

/// Runs submitted tasks concurrently on `max_workers` threads: for I/O-bound tasks (waiting on
/// networks, databases, sleeps), like the seed's elevator.
pub struct ThreadPoolTaskRunner {
    pool: Pool,
}

impl ThreadPoolTaskRunner {
    /// A pool of `max_workers` threads (started on first use).
    pub fn new(max_workers: usize) -> Result<ThreadPoolTaskRunner, InvalidWorkers> {
        if max_workers == 0 {
            return Err(InvalidWorkers(0));
        }
        Ok(ThreadPoolTaskRunner {
            pool: Pool::new("flowgate-task", max_workers),
        })
    }

    /// The number of worker threads.
    pub fn max_workers(&self) -> usize {
        self.pool.size
    }
}

/// Runs submitted tasks in parallel on one thread per CPU core: for CPU-bound tasks. Rust has no
/// global interpreter lock, so threads give real parallelism without processes.
pub struct ParallelTaskRunner {
    pool: Pool,
}

impl ParallelTaskRunner {
    /// One worker per available core.
    pub fn new() -> ParallelTaskRunner {
        let cores = thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);
        ParallelTaskRunner {
            pool: Pool::new("flowgate-cpu", cores),
        }
    }

    /// The number of worker threads.
    pub fn workers(&self) -> usize {
        self.pool.size
    }
}

impl Default for ParallelTaskRunner {
    fn default() -> Self {
        ParallelTaskRunner::new()
    }
}

/// The runners backed by a [`Pool`]: sync jobs on its threads, async jobs too (each holding a
/// thread until it finishes, so the pool's size bounds them).
macro_rules! pool_runner {
    ($($runner:ty => $label:literal),*) => {$(
        impl TaskRunner for $runner {
            fn spawn(&self, job: Job) {
                self.pool.spawn(job);
            }

            fn spawn_async(&self, job: AsyncJob) {
                self.pool.spawn(Box::new(move || job.run_here()));
            }

            fn name(&self) -> String {
                format!($label, self.pool.size)
            }
        }
    )*};
}

pool_runner!(
    ThreadPoolTaskRunner => "ThreadPoolTaskRunner(max_workers={})",
    ParallelTaskRunner => "ParallelTaskRunner(workers={})"
);

/// A fixed-size thread pool whose threads start lazily and end when the pool is dropped.
struct Pool {
    prefix: &'static str,
    size: usize,
    sender: Mutex<Option<Sender<Job>>>,
}

impl Pool {
    fn new(prefix: &'static str, size: usize) -> Pool {
        Pool {
            prefix,
            size,
            sender: Mutex::new(None),
        }
    }

    fn spawn(&self, job: Job) {
        let mut sender = self.sender.lock().expect("not poisoned");
        let tx = sender.get_or_insert_with(|| {
            let (tx, rx) = channel::<Job>();
            let rx = Arc::new(Mutex::new(rx));
            for i in 0..self.size {
                let rx = rx.clone();
                thread::Builder::new()
                    .name(format!("{}-{i}", self.prefix))
                    .spawn(move || {
                        loop {
                            let next = rx.lock().expect("not poisoned").recv();
                            match next {
                                Ok(job) => job(),
                                Err(_) => return,
                            }
                        }
                    })
                    .expect("a worker thread starts");
            }
            tx
        });
        tx.send(job).expect("workers live as long as the pool");
    }
}

/// What a flow's `task_runner = …` option accepts: a runner, or a `Result` of one.
pub trait IntoTaskRunner {
    /// The runner, or why it cannot be built.
    fn into_runner(self) -> Result<Arc<dyn TaskRunner>, String>;
}

impl<R: TaskRunner> IntoTaskRunner for R {
    fn into_runner(self) -> Result<Arc<dyn TaskRunner>, String> {
        Ok(Arc::new(self))
    }
}

impl<R: TaskRunner, E: std::fmt::Display> IntoTaskRunner for Result<R, E> {
    fn into_runner(self) -> Result<Arc<dyn TaskRunner>, String> {
        self.map(|r| Arc::new(r) as Arc<dyn TaskRunner>)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn zero_workers_is_an_error_at_construction() {
        assert_eq!(ThreadPoolTaskRunner::new(0).err(), Some(InvalidWorkers(0)));
        let Err(message) = ThreadPoolTaskRunner::new(0).into_runner() else {
            panic!("zero workers must not build a runner");
        };
        assert!(message.contains("at least 1"), "{message}");
    }

    #[test]
    fn a_pool_runs_jobs_concurrently_up_to_its_size() {
        let pool = ThreadPoolTaskRunner::new(3).unwrap();
        let (done_tx, done_rx) = channel();
        let started = Instant::now();
        for _ in 0..3 {
            let done = done_tx.clone();
            pool.spawn(Box::new(move || {
                thread::sleep(Duration::from_millis(200));
                done.send(()).unwrap();
            }));
        }
        for _ in 0..3 {
            done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_millis(550),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn sequential_runs_in_the_caller() {
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        SequentialTaskRunner.spawn(Box::new(move || {
            m.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }
}
