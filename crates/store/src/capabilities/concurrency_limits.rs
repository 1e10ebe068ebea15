//! Concurrency limits: named slot counts (global limits, rate limits with decay, and tag limits
//! named `tag:<tag>`), the leases that hold their slots, and batches of slot operations decided
//! by `flowgate_core::concurrency` and applied in one transaction.

use async_trait::async_trait;
use flowgate_core::Micros;
use flowgate_core::concurrency::book::{LimitState, SlotOp, SlotOutcome};
use flowgate_core::concurrency::{Lease, LimitSettings, LimitSlots, SlotLedger};
use uuid::Uuid;

use crate::model::Page;
use crate::store::Result;

/// A stored concurrency limit.
#[derive(Clone, Debug, PartialEq)]
pub struct ConcurrencyLimit {
    /// Server-assigned uuid7.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When its settings last changed.
    pub updated: Micros,
    /// Unique name; tag limits are named `tag:<tag>`.
    pub name: String,
    /// Slots, decay (as the core reads it) and whether it limits.
    pub settings: LimitSettings,
    /// The decay exactly as it was given, in slots per second (0: none).
    pub slot_decay_per_second: f64,
    /// What its slots are doing.
    pub ledger: SlotLedger,
    /// Slots refused (answered 423) since it was created or reset.
    pub denied_slots: u64,
    /// Moving average of seconds a slot is held.
    pub avg_slot_occupancy_seconds: f64,
}

impl ConcurrencyLimit {
    /// Slots occupied at `now` (a partly drained slot counts).
    pub fn active_slots(&self, now: Micros) -> u64 {
        self.ledger.active_slots(self.settings.decay, now)
    }

    /// The limit as the core's rules take it.
    pub fn state(&self) -> LimitState {
        LimitState {
            slots: LimitSlots {
                id: self.id,
                name: self.name.clone(),
                settings: self.settings,
                ledger: self.ledger,
            },
            denied_slots: self.denied_slots,
            average_occupancy_seconds: self.avg_slot_occupancy_seconds,
        }
    }
}

/// A limit to create (values checked by the caller with `flowgate_core::concurrency`).
#[derive(Clone, Debug, PartialEq)]
pub struct NewLimit {
    /// Unique name.
    pub name: String,
    /// Slots and decay.
    pub settings: LimitSettings,
    /// The decay as given.
    pub slot_decay_per_second: f64,
    /// Slots occupied from the start, held without a lease (Prefect lets a limit be created
    /// part full).
    pub active_slots: u32,
    /// Denied slots to start from.
    pub denied_slots: u64,
}

/// Changes to a limit; `None` keeps a field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LimitUpdate {
    /// A new unique name.
    pub name: Option<String>,
    /// New slot count (checked by the caller together with the decay).
    pub limit: Option<u32>,
    /// Whether it limits.
    pub active: Option<bool>,
    /// New decay in slots per second (0: none).
    pub slot_decay_per_second: Option<f64>,
    /// Sets the occupied count: 0 releases every slot, leases included.
    pub active_slots: Option<u32>,
    /// Sets the denied count.
    pub denied_slots: Option<u64>,
}

/// How a limit is addressed: Prefect's routes take an id or a name in the same place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitKey {
    /// By id.
    Id(Uuid),
    /// By name.
    Name(String),
}

impl LimitKey {
    /// A path segment: an id if it parses as one, a name otherwise (as Prefect reads it).
    pub fn parse(id_or_name: &str) -> LimitKey {
        Uuid::parse_str(id_or_name)
            .map_or_else(|_| LimitKey::Name(id_or_name.to_owned()), LimitKey::Id)
    }
}

impl std::fmt::Display for LimitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitKey::Id(id) => write!(f, "{id}"),
            LimitKey::Name(name) => write!(f, "{name:?}"),
        }
    }
}

/// Which limits a listing returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LimitKind {
    /// Every limit.
    #[default]
    All,
    /// Limits not named `tag:…`.
    Global,
    /// Tag limits only.
    Tag,
}

/// Limits and their leases.
#[async_trait]
pub trait ConcurrencyLimitStore: Send + Sync {
    /// Creates a limit; [`crate::StoreError::Conflict`] when the name is taken.
    async fn create_limit(&self, new: &NewLimit, now: Micros) -> Result<ConcurrencyLimit>;
    /// Reads a limit by id or name.
    async fn read_limit(&self, key: &LimitKey) -> Result<ConcurrencyLimit>;
    /// Limits of `kind`, by name.
    async fn read_limits(&self, kind: LimitKind, page: Page) -> Result<Vec<ConcurrencyLimit>>;
    /// Changes a limit's settings or counts; a new decay keeps the draining slots' count, a
    /// count of 0 releases every lease on it. Invalid combinations are
    /// [`crate::StoreError::Invalid`] with a sentence saying why.
    async fn update_limit(
        &self,
        key: &LimitKey,
        update: &LimitUpdate,
        now: Micros,
    ) -> Result<ConcurrencyLimit>;
    /// Deletes a limit and every lease's hold on it.
    async fn delete_limit(&self, key: &LimitKey) -> Result<ConcurrencyLimit>;
    /// Releases every slot of a limit, leases included, then gives one slot each to
    /// `task_runs` under leases that last until released (Prefect's v1 `reset` with
    /// `slot_override`).
    async fn reset_limit(
        &self,
        key: &LimitKey,
        task_runs: &[Uuid],
        now: Micros,
    ) -> Result<ConcurrencyLimit>;
    /// The live leases holding slots of `limit`, oldest first.
    async fn leases_of_limit(&self, limit: Uuid, now: Micros) -> Result<Vec<Lease>>;
    /// Applies `ops` in order in one transaction (deciding each with the core's
    /// [`flowgate_core::concurrency::book::Book`]); returns each op's outcome and the limits
    /// that got slots back, by name (their waiters deserve a turn).
    async fn apply_slot_ops(
        &self,
        ops: &[SlotOp],
        now: Micros,
    ) -> Result<(Vec<SlotOutcome>, Vec<String>)>;
    /// Frees up to `batch` leases that expired, or whose holder run has finished; returns the
    /// limits that got slots back. With several replicas each lease is freed once: limits being
    /// reaped by another replica are skipped (`FOR UPDATE SKIP LOCKED`).
    async fn reap_leases(&self, now: Micros, batch: u32) -> Result<Vec<String>>;
    /// The earliest lease deadline, if any lease exists.
    async fn next_lease_expiry(&self) -> Result<Option<Micros>>;
}
