//! Concurrency limits at run time: the slot engine that serves and queues acquisitions
//! ([`engine`]), the lease reaper ([`reaper`]), and the honest `Retry-After` for a request that
//! waited in vain ([`retry_after`]).

pub mod engine;
pub mod reaper;

use std::time::Duration;

use flowgate_core::concurrency::acquire::Blocked;
use flowgate_core::concurrency::estimate::{self, BusyLimit, HeldSlots};
use flowgate_store::model::{ConcurrencyLimit, LimitKey};
use flowgate_store::{DynStore, StoreError};

pub use engine::{Acquired, SlotEngine};

/// When a request for `slots` that waited behind `queued_ahead` slots' worth of other requests
/// should ask again, as of `at`: exact for a rate limit's decay, otherwise from when the holders of the
/// blocking limit took their slots and how long slots are usually held. Also returns the
/// blocking limit, when it still exists.
pub async fn retry_after(
    store: &DynStore,
    at: flowgate_core::Micros,
    blocked: &Blocked,
    slots: u32,
    queued_ahead: u32,
) -> Result<(Duration, Option<ConcurrencyLimit>), StoreError> {
    let limit = match store.read_limit(&LimitKey::Id(blocked.limit)).await {
        Ok(limit) => limit,
        // Deleted meanwhile: nothing limits the request any more.
        Err(StoreError::NotFound { .. }) => return Ok((estimate::MIN_RETRY_AFTER, None)),
        Err(e) => return Err(e),
    };
    let holders: Vec<HeldSlots> = store
        .leases_of_limit(limit.id, at)
        .await?
        .iter()
        .map(|l| HeldSlots {
            acquired_at: l.acquired_at,
            expires_at: Some(l.expires_at),
            slots: l.slots,
        })
        .collect();
    let busy = BusyLimit {
        settings: limit.settings,
        ledger: limit.ledger,
        holders: &holders,
        average_occupancy_seconds: limit.avg_slot_occupancy_seconds,
    };
    Ok((
        estimate::retry_after(&busy, slots, queued_ahead, at),
        Some(limit),
    ))
}
