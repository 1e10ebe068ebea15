//! Taking slots: the request the builders collect, and the one acquisition behind both modes
//! and both ways of waiting. Each request goes over the engine's slot channel, or over HTTP
//! while the channel is down; the server holds it until the slots are free, up to
//! [`SERVER_WAIT`] at a time.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowgate_wire::concurrency_limits::{
    LeaseGranted, LeaseHolder, LeaseRelease, MinimalLimit, SlotRequest,
};
use flowgate_wire::slot_channel::SlotCall;
use uuid::Uuid;

use super::ConcurrencyError;
use super::channel;
use crate::context;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::logging;

/// How long one request may wait at the server for slots (below the HTTP client's timeout);
/// a longer wait asks again.
const SERVER_WAIT: Duration = Duration::from_secs(20);

/// The lease held slots live under unless renewed, by default.
const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// Whether slots are held until released or drained by the limit's decay.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Mode {
    Concurrency,
    RateLimit,
}

/// A request for slots, as the builders collect it.
#[derive(Clone)]
pub(super) struct Request {
    pub names: Vec<String>,
    pub occupy: u32,
    pub mode: Mode,
    pub max_wait: Option<Duration>,
    pub strict: bool,
    pub lease: Duration,
    pub holder: Option<LeaseHolder>,
}

impl Request {
    pub fn new(names: Vec<String>, occupy: u32, mode: Mode) -> Request {
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

    /// Takes the slots on the engine of the calling code, blocking this thread (which waits
    /// for the answer itself: no hop through the engine's runtime unless HTTP is needed).
    pub fn blocking(self) -> Result<Acquired, ConcurrencyError> {
        let engine = engine_here()?;
        let names = self.names.clone();
        let lease_duration = self.lease;
        let taken = crate::block::block_on(take(engine.clone(), self))?;
        warn_missing(&names, &taken.limits);
        Ok(Acquired {
            engine,
            lease: taken.lease,
            lease_duration,
        })
    }

    /// Takes the slots on the engine of the calling code, from any executor.
    pub fn waiting(self) -> impl Future<Output = Result<Acquired, ConcurrencyError>> + Send {
        let engine = engine_here();
        async move {
            let engine = engine?;
            let names = self.names.clone();
            let lease_duration = self.lease;
            let taken = take(engine.clone(), self).await?;
            warn_missing(&names, &taken.limits);
            Ok(Acquired {
                engine,
                lease: taken.lease,
                lease_duration,
            })
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

/// Slots taken by the calling code, with what holding them needs.
pub(super) struct Acquired {
    pub engine: Arc<Engine>,
    pub lease: Option<Uuid>,
    pub lease_duration: Duration,
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
pub(super) struct Taken {
    pub limits: Vec<MinimalLimit>,
    pub lease: Option<Uuid>,
}

/// The one acquisition, for both modes and both ways of waiting: asks the server, which holds
/// the request until the slots are free (up to [`SERVER_WAIT`] at a time), until granted, the
/// maximum wait has passed, or the request is refused. Needs no runtime of the caller's.
pub(super) async fn take(engine: Arc<Engine>, request: Request) -> Result<Taken, ConcurrencyError> {
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
        match ask(&engine, &body, request.mode).await {
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

/// One request for slots: over the slot channel, or over HTTP (on the engine's runtime) when
/// the channel is down.
async fn ask(engine: &Arc<Engine>, body: &SlotRequest, mode: Mode) -> Result<Taken, ApiError> {
    let what = match mode {
        Mode::Concurrency => "a request for concurrency slots",
        Mode::RateLimit => "a request for rate-limit slots",
    };
    let call = SlotCall::Acquire {
        id: 0,
        request: body.clone(),
    };
    if let Some(answer) = engine.slots.call(call).await {
        let (lease, limits) = channel::granted(answer, what)?;
        return Ok(Taken {
            lease: lease.filter(|_| !limits.is_empty()),
            limits,
        });
    }
    let (api, body) = (engine.api.clone(), body.clone());
    engine
        .run(async move {
            match mode {
                Mode::Concurrency => api
                    .post::<LeaseGranted>(
                        what,
                        "/v2/concurrency_limits/increment-with-lease",
                        &body,
                    )
                    .await
                    .map(|granted| Taken {
                        lease: (!granted.limits.is_empty()).then_some(granted.lease_id),
                        limits: granted.limits,
                    }),
                Mode::RateLimit => api
                    .post::<Vec<MinimalLimit>>(what, "/v2/concurrency_limits/increment", &body)
                    .await
                    .map(|limits| Taken {
                        limits,
                        lease: None,
                    }),
            }
        })
        .await
}

/// Gives back a lease's slots (a lease already gone is not an error): over the slot channel,
/// or over HTTP when it is down. Needs no runtime of the caller's.
pub(super) async fn release(engine: &Arc<Engine>, lease: Uuid) -> Result<(), ApiError> {
    const WHAT: &str = "giving back concurrency slots";
    let call = SlotCall::Release {
        id: 0,
        lease_id: lease,
    };
    if let Some(answer) = engine.slots.call(call).await {
        return channel::done(answer, WHAT);
    }
    let api = engine.api.clone();
    engine
        .run(async move {
            let body = LeaseRelease { lease_id: lease };
            api.post::<()>(WHAT, "/v2/concurrency_limits/decrement-with-lease", &body)
                .await
        })
        .await
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
