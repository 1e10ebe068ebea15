//! Concurrency limits from Rust, on the server's global limits: [`concurrency`] holds slots
//! while a guard lives (at most `limit` holders at once), [`rate_limit`] spaces calls out as a
//! limit's slot decay says. Both wait while the limit is full: the server holds the request
//! and answers the moment a slot frees, first come first served, so a waiter is woken at once,
//! not by polling. Options, as a builder: a maximum wait ([`Concurrency::max_wait`]), strict
//! mode (a limit that does not exist is an error, [`Concurrency::strict`]) and, for held
//! slots, the lease the guard renews while it lives ([`Concurrency::lease_duration`]): a
//! process that dies holding slots frees them when its lease runs out.
//!
//! ```no_run
//! use std::time::Duration;
//! use flowgate::{ConcurrencyError, concurrency, rate_limit};
//!
//! fn load() -> Result<(), ConcurrencyError> {
//!     let _slot = concurrency("database", 1)
//!         .max_wait(Duration::from_secs(30))
//!         .acquire()?; // held until `_slot` drops
//!     rate_limit("github-api", 1).strict().acquire()?;
//!     Ok(())
//! }
//!
//! async fn load_async() -> Result<(), ConcurrencyError> {
//!     let slot = concurrency(["database", "warehouse"], 2).await?;
//!     slot.release_async().await
//! }
//! ```
//!
//! A task with tags (`#[task(tags = ["db"])]`) takes one slot of each tag's limit (the limit
//! named `tag:db`, which `flowgate concurrency-limit create db 2` makes) for as long as its
//! run lasts, released however the run ends.

use std::collections::HashSet;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowgate_wire::concurrency_limits::{
    LeaseGranted, LeaseHolder, LeaseRelease, MinimalLimit, SlotRequest,
};
use uuid::Uuid;

use crate::context;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::logging;

mod renewals;

pub(crate) use renewals::Renewals;

/// How long one request may wait at the server for slots (below the HTTP client's timeout);
/// a longer wait asks again.
const SERVER_WAIT: Duration = Duration::from_secs(20);

/// The lease held slots live under unless renewed, by default.
const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// Why slots were not taken (or not given back).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConcurrencyError {
    /// Strict mode, and a named limit does not exist.
    #[error(
        "concurrency limit {name:?} does not exist; create it (`flowgate global-concurrency-limit create {name} --limit N`) or leave strict mode off to run unlimited"
    )]
    NoSuchLimit {
        /// The missing limit.
        name: String,
    },
    /// The slots were not free within the maximum wait.
    #[error("no slot of {names:?} was free within {} s (the maximum wait)", waited.as_secs_f64())]
    TimedOut {
        /// The limits asked for.
        names: Vec<String>,
        /// The maximum wait.
        waited: Duration,
    },
    /// The request can never be granted (more slots than the limit has, a rate limit on a
    /// limit without slot decay) or is malformed; the server's reason.
    #[error("{0}")]
    Refused(String),
    /// The server could not be reached, or refused in another way.
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Names of one or more limits: a `&str`, a `String`, or a list of them.
pub trait LimitNames {
    /// The names.
    fn into_names(self) -> Vec<String>;
}

impl LimitNames for &str {
    fn into_names(self) -> Vec<String> {
        vec![self.to_owned()]
    }
}

impl LimitNames for String {
    fn into_names(self) -> Vec<String> {
        vec![self]
    }
}

impl<S: Into<String>> LimitNames for Vec<S> {
    fn into_names(self) -> Vec<String> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<S: Into<String>, const N: usize> LimitNames for [S; N] {
    fn into_names(self) -> Vec<String> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<S: Into<String> + Clone> LimitNames for &[S] {
    fn into_names(self) -> Vec<String> {
        self.iter().cloned().map(Into::into).collect()
    }
}

/// Whether slots are held until released or drained by the limit's decay.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Concurrency,
    RateLimit,
}

/// A request for slots, as the builders collect it.
#[derive(Clone)]
struct Request {
    names: Vec<String>,
    occupy: u32,
    mode: Mode,
    max_wait: Option<Duration>,
    strict: bool,
    lease: Duration,
    holder: Option<LeaseHolder>,
}

impl Request {
    fn new(names: Vec<String>, occupy: u32, mode: Mode) -> Request {
        Request {
            names,
            occupy,
            mode,
            max_wait: None,
            strict: false,
            lease: DEFAULT_LEASE,
            holder: holder_here(),
        }
    }
}

/// The run the calling code belongs to, as a lease holder: the reaper frees a lease whose
/// holder run has finished.
fn holder_here() -> Option<LeaseHolder> {
    let frame = context::current()?;
    Some(match frame.task {
        Some(task) => LeaseHolder {
            kind: "task_run".to_owned(),
            id: task.id,
        },
        None => LeaseHolder {
            kind: "flow_run".to_owned(),
            id: frame.flow.id,
        },
    })
}

/// Slots of one or more limits, held while the [`ConcurrencyGuard`] lives. See [`concurrency`].
#[must_use = "nothing is acquired until `.acquire()` or `.await`"]
pub struct Concurrency(Request);

/// Takes `occupy` slots of each named limit, all or none, waiting while they are taken:
/// `.acquire()` blocks, `.await` waits asynchronously; both return a [`ConcurrencyGuard`] that
/// gives the slots back when it drops (or by [`ConcurrencyGuard::release`]). A limit that does
/// not exist limits nothing (a warning says so once), unless [`Concurrency::strict`].
pub fn concurrency(names: impl LimitNames, occupy: u32) -> Concurrency {
    Concurrency(Request::new(names.into_names(), occupy, Mode::Concurrency))
}

impl Concurrency {
    /// Gives up with [`ConcurrencyError::TimedOut`] when the slots are not free within `wait`
    /// (by default it waits as long as it takes).
    pub fn max_wait(mut self, wait: Duration) -> Concurrency {
        self.0.max_wait = Some(wait);
        self
    }

    /// Makes a limit that does not exist an error ([`ConcurrencyError::NoSuchLimit`]).
    pub fn strict(mut self) -> Concurrency {
        self.0.strict = true;
        self
    }

    /// How long the slots outlive this process if it dies holding them (default 60 s). The
    /// guard renews the lease at a third of this while it lives.
    pub fn lease_duration(mut self, lease: Duration) -> Concurrency {
        self.0.lease = lease;
        self
    }

    /// Takes the slots, blocking this thread while they are taken.
    pub fn acquire(self) -> Result<ConcurrencyGuard, ConcurrencyError> {
        self.0.blocking().map(ConcurrencyGuard::new)
    }
}

impl IntoFuture for Concurrency {
    type Output = Result<ConcurrencyGuard, ConcurrencyError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    /// Takes the slots, waiting asynchronously while they are taken.
    fn into_future(self) -> Self::IntoFuture {
        let waiting = self.0.waiting();
        Box::pin(async move { waiting.await.map(ConcurrencyGuard::new) })
    }
}

/// A rate-limited call: see [`rate_limit`].
#[must_use = "nothing is acquired until `.acquire()` or `.await`"]
pub struct RateLimit(Request);

/// Takes `occupy` slots of each named rate limit (a limit with `slot_decay_per_second`), which
/// drain by themselves: calls are spaced as the decay says. `.acquire()` blocks, `.await`
/// waits asynchronously. A limit that does not exist limits nothing unless
/// [`RateLimit::strict`]; a limit without decay is a [`ConcurrencyError::Refused`].
pub fn rate_limit(names: impl LimitNames, occupy: u32) -> RateLimit {
    RateLimit(Request::new(names.into_names(), occupy, Mode::RateLimit))
}

impl RateLimit {
    /// Gives up with [`ConcurrencyError::TimedOut`] when no slot frees within `wait`.
    pub fn max_wait(mut self, wait: Duration) -> RateLimit {
        self.0.max_wait = Some(wait);
        self
    }

    /// Makes a limit that does not exist an error ([`ConcurrencyError::NoSuchLimit`]).
    pub fn strict(mut self) -> RateLimit {
        self.0.strict = true;
        self
    }

    /// Takes the slots, blocking this thread until the decay makes room.
    pub fn acquire(self) -> Result<(), ConcurrencyError> {
        self.0.blocking().map(drop)
    }
}

impl IntoFuture for RateLimit {
    type Output = Result<(), ConcurrencyError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    /// Takes the slots, waiting asynchronously until the decay makes room.
    fn into_future(self) -> Self::IntoFuture {
        let waiting = self.0.waiting();
        Box::pin(async move { waiting.await.map(drop) })
    }
}

/// Slots taken by the calling code, with what holding them needs.
struct Acquired {
    engine: Arc<Engine>,
    lease: Option<Uuid>,
    lease_duration: Duration,
}

impl Request {
    /// Takes the slots on the engine of the calling code, blocking this thread.
    fn blocking(self) -> Result<Acquired, ConcurrencyError> {
        let engine = engine_here()?;
        let names = self.names.clone();
        let lease_duration = self.lease;
        let taken = engine.block_on(take(engine.clone(), self))?;
        warn_missing(&names, &taken.limits);
        Ok(Acquired {
            engine,
            lease: taken.lease,
            lease_duration,
        })
    }

    /// Takes the slots on the engine of the calling code, from any executor.
    fn waiting(self) -> impl Future<Output = Result<Acquired, ConcurrencyError>> + Send {
        let engine = engine_here();
        async move {
            let engine = engine?;
            let names = self.names.clone();
            let lease_duration = self.lease;
            let taken = engine.run(take(engine.clone(), self)).await?;
            warn_missing(&names, &taken.limits);
            Ok(Acquired {
                engine,
                lease: taken.lease,
                lease_duration,
            })
        }
    }
}

/// The engine the calling code reports to: its flow run's, or the thread's.
fn engine_here() -> Result<Arc<Engine>, ApiError> {
    match context::current() {
        Some(frame) => Ok(frame.flow.engine.clone()),
        None => Engine::current(),
    }
}

/// What an acquisition got: the limits that exist (and were charged, when active) and the
/// lease holding the slots (held mode, when any limit exists).
struct Taken {
    limits: Vec<MinimalLimit>,
    lease: Option<Uuid>,
}

/// The one acquisition, for both modes and both ways of waiting: asks the server, which holds
/// the request until the slots are free (up to [`SERVER_WAIT`] at a time), until granted, the
/// maximum wait has passed, or the request is refused.
async fn take(engine: Arc<Engine>, request: Request) -> Result<Taken, ConcurrencyError> {
    if request.names.is_empty() || request.occupy == 0 {
        return Err(ConcurrencyError::Refused(format!(
            "a request for slots names at least one limit and occupies at least 1 slot, got {:?} and {}",
            request.names, request.occupy
        )));
    }
    let started = Instant::now();
    let mut body = SlotRequest {
        names: request.names.clone(),
        slots: i64::from(request.occupy),
        mode: match request.mode {
            Mode::Concurrency => "concurrency",
            Mode::RateLimit => "rate_limit",
        }
        .to_owned(),
        lease_duration: request.lease.as_secs_f64(),
        holder: request.holder.clone(),
        create_if_missing: None,
        wait_seconds: None,
    };
    let taken = loop {
        let remaining = request
            .max_wait
            .map(|max| max.saturating_sub(started.elapsed()));
        let wait = remaining.map_or(SERVER_WAIT, |r| r.min(SERVER_WAIT));
        body.wait_seconds = Some(wait.as_secs_f64());
        let answer = match request.mode {
            Mode::Concurrency => engine
                .api
                .post::<LeaseGranted>(
                    "a request for concurrency slots",
                    "/v2/concurrency_limits/increment-with-lease",
                    &body,
                )
                .await
                .map(|granted| Taken {
                    lease: (!granted.limits.is_empty()).then_some(granted.lease_id),
                    limits: granted.limits,
                }),
            Mode::RateLimit => engine
                .api
                .post::<Vec<MinimalLimit>>(
                    "a request for rate-limit slots",
                    "/v2/concurrency_limits/increment",
                    &body,
                )
                .await
                .map(|limits| Taken {
                    limits,
                    lease: None,
                }),
        };
        match answer {
            Ok(taken) => break taken,
            // The server held the request as long as it was asked to.
            Err(ApiError::Refused { status: 423, .. }) if remaining.is_some_and(|r| r <= wait) => {
                return Err(ConcurrencyError::TimedOut {
                    names: request.names,
                    waited: request.max_wait.unwrap_or_default(),
                });
            }
            Err(ApiError::Refused { status: 423, .. }) => continue,
            Err(ApiError::Refused {
                status: 422,
                detail,
                ..
            }) => return Err(ConcurrencyError::Refused(detail)),
            Err(e) => return Err(e.into()),
        }
    };
    if request.strict
        && let Some(name) = missing(&request.names, &taken.limits).next()
    {
        // Rate-limit slots drain by themselves; held ones go back before the error.
        if let Some(lease) = taken.lease {
            release(&engine, lease).await?;
        }
        return Err(ConcurrencyError::NoSuchLimit {
            name: name.to_owned(),
        });
    }
    Ok(taken)
}

/// The names among `names` that no limit in `limits` answers to.
fn missing<'a>(names: &'a [String], limits: &'a [MinimalLimit]) -> impl Iterator<Item = &'a str> {
    names
        .iter()
        .filter(|n| !limits.iter().any(|l| &l.name == *n))
        .map(String::as_str)
}

/// Warns, once per name and process, in the current run's logs (or on the console), that a
/// limit does not exist and so limits nothing.
fn warn_missing(names: &[String], limits: &[MinimalLimit]) {
    static WARNED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    for name in missing(names, limits) {
        let first = WARNED
            .lock()
            .expect("not poisoned")
            .get_or_insert_with(HashSet::new)
            .insert(name.to_owned());
        if first {
            logging::logger().warning(format!(
                "concurrency limit {name:?} does not exist, so it limits nothing; create it with `flowgate global-concurrency-limit create {name} --limit N`, or use strict() to make this an error"
            ));
        }
    }
}

/// Gives back a lease's slots (a lease already gone is not an error).
async fn release(engine: &Engine, lease: Uuid) -> Result<(), ApiError> {
    engine
        .api
        .post::<()>(
            "giving back concurrency slots",
            "/v2/concurrency_limits/decrement-with-lease",
            &LeaseRelease { lease_id: lease },
        )
        .await
}

/// Held slots: given back when dropped (blocking a plain thread until the server confirms;
/// from async code, in the background), or by [`ConcurrencyGuard::release`] /
/// [`ConcurrencyGuard::release_async`], which report failures. The lease is renewed while the
/// guard lives.
#[must_use = "the slots are given back as soon as the guard drops"]
pub struct ConcurrencyGuard {
    held: Option<Held>,
}

struct Held {
    engine: Arc<Engine>,
    lease: Uuid,
}

impl ConcurrencyGuard {
    fn new(acquired: Acquired) -> ConcurrencyGuard {
        let Acquired {
            engine,
            lease,
            lease_duration,
        } = acquired;
        ConcurrencyGuard {
            held: lease.map(|lease| {
                engine.renewals.keep(&engine, lease, lease_duration);
                Held { engine, lease }
            }),
        }
    }

    /// The lease holding the slots (none when no named limit exists).
    pub fn lease_id(&self) -> Option<Uuid> {
        self.held.as_ref().map(|h| h.lease)
    }

    /// The slots given back by a future to run on the engine's runtime (the guard's work is
    /// done when it is created).
    fn give_back(&mut self) -> impl Future<Output = Result<(), ApiError>> + Send + use<> {
        let held = self.held.take();
        async move {
            match held {
                Some(held) => {
                    held.engine.renewals.forget(held.lease);
                    release(&held.engine, held.lease).await
                }
                None => Ok(()),
            }
        }
    }

    /// Gives the slots back, blocking until the server confirms.
    pub fn release(mut self) -> Result<(), ConcurrencyError> {
        match self.held.as_ref().map(|h| h.engine.clone()) {
            Some(engine) => Ok(engine.block_on(self.give_back())?),
            None => Ok(()),
        }
    }

    /// Gives the slots back, waiting asynchronously until the server confirms.
    pub async fn release_async(mut self) -> Result<(), ConcurrencyError> {
        match self.held.as_ref().map(|h| h.engine.clone()) {
            Some(engine) => Ok(engine.run(self.give_back()).await?),
            None => Ok(()),
        }
    }
}

impl Drop for ConcurrencyGuard {
    fn drop(&mut self) {
        let Some((engine, lease)) = self.held.as_ref().map(|h| (h.engine.clone(), h.lease)) else {
            return;
        };
        let give_back = self.give_back();
        let reported = async move {
            if let Err(e) = give_back.await {
                tracing::warn!(target: "flowgate", "concurrency slots of lease {lease} were not given back ({e}); they free when the lease expires");
            }
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            engine.spawn(reported);
        } else {
            engine.block_on(reported);
        }
    }
}

/// Takes one slot of each of a task run's tag limits (`tag:<tag>`, those that exist), waiting
/// as long as it takes; the guard holds them under a lease held by the task run. Called only for
/// a task with tags: one without any has no slots to take and skips the round trip.
pub(crate) async fn take_tag_slots(
    engine: Arc<Engine>,
    task_run: Uuid,
    tags: &'static [&'static str],
) -> Result<ConcurrencyGuard, ApiError> {
    let mut request = Request::new(
        tags.iter().map(|t| format!("tag:{t}")).collect(),
        1,
        Mode::Concurrency,
    );
    request.holder = Some(LeaseHolder {
        kind: "task_run".to_owned(),
        id: task_run,
    });
    let lease_duration = request.lease;
    match take(engine.clone(), request).await {
        Ok(taken) => Ok(ConcurrencyGuard::new(Acquired {
            engine,
            lease: taken.lease,
            lease_duration,
        })),
        Err(ConcurrencyError::Api(e)) => Err(e),
        Err(other) => Err(ApiError::Refused {
            what: "a request for the task's tag slots".to_owned(),
            status: 422,
            detail: other.to_string(),
        }),
    }
}

/// Gives back a task run's tag slots (a future for the engine's runtime).
pub(crate) fn give_back_tag_slots(
    mut guard: ConcurrencyGuard,
) -> impl Future<Output = Result<(), ApiError>> + Send + 'static {
    guard.give_back()
}
