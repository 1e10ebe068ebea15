//! Concurrency limits from Rust, on the server's global limits: [`concurrency`] holds slots
//! while a guard lives (at most `limit` holders at once), [`rate_limit`] spaces calls out as a
//! limit's slot decay says. Both wait while the limit is full: the server holds the request
//! and answers the moment a slot frees, first come first served, so a waiter is woken at once,
//! not by polling. Options, as a builder: a maximum wait ([`Concurrency::max_wait`]), strict
//! mode (a limit that does not exist is an error, [`Concurrency::strict`]) and, for held
//! slots, the lease the guard renews while it lives ([`Concurrency::lease_duration`]): a
//! process that dies holding slots frees them when its lease runs out.
//!
//! Every acquisition, release and renewal of one engine travels over one websocket, the slot
//! channel (`channel.rs`), several to a frame when they queue up; while it cannot be opened,
//! each goes as an HTTP request instead. `take.rs` makes the requests, `guard.rs` holds the
//! slots, `renewals.rs` keeps their leases alive.
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

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use crate::error::ApiError;

mod channel;
mod guard;
mod renewals;
mod take;

pub(crate) use channel::SlotChannel;
pub use guard::ConcurrencyGuard;
pub(crate) use guard::{give_back_tag_slots, take_tag_slots};
pub(crate) use renewals::Renewals;
use take::{Mode, Request};

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
