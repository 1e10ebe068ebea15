//! Holding slots: the [`ConcurrencyGuard`] that renews its lease while it lives and gives the
//! slots back when it drops, and a task run's tag slots, held by such a guard.

use std::future::Future;
use std::sync::Arc;

use flowgate_wire::concurrency_limits::LeaseHolder;
use uuid::Uuid;

use super::ConcurrencyError;
use super::take::{Acquired, Mode, Request, release, take};
use crate::engine::Engine;
use crate::error::ApiError;

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
    pub(super) fn new(acquired: Acquired) -> ConcurrencyGuard {
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

    /// The slots given back by a future that needs no runtime of its own (the guard's work is
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
        Ok(crate::block::block_on(self.give_back())?)
    }

    /// Gives the slots back, waiting asynchronously until the server confirms.
    pub async fn release_async(mut self) -> Result<(), ConcurrencyError> {
        Ok(self.give_back().await?)
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
            crate::block::block_on(reported);
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
