//! Concurrency limits, decided without IO: how many slots a limit has and how fast a rate
//! limit drains ([`settings`]), exact slot arithmetic ([`ledger`]), taking and giving back slots
//! on several limits at once ([`acquire`]), leases and what a restart means ([`lease`]), the
//! first-come-first-served line of waiters and who is woken on a release ([`queue`]), when a
//! slot is expected to free up ([`estimate`]), and tag limits for task runs ([`tags`]).
//!
//! The store loads the limits and leases a batch of operations touches into a [`book::Book`],
//! which decides every operation and returns the changes; the store writes them back in one
//! transaction, and the server wakes the waiters the queue names.

pub mod acquire;
pub mod book;
pub mod estimate;
pub mod lease;
pub mod ledger;
pub mod queue;
pub mod settings;
pub mod tags;

pub use acquire::{Acquisition, Blocked, LimitSlots, Refusal, acquire};
pub use lease::{Holder, HolderKind, Lease, LeaseDuration};
pub use ledger::{Mode, SlotLedger};
pub use queue::WaitQueue;
pub use settings::{Decay, LimitSettings, SettingsError};
