//! A batch of slot operations applied to the limits and leases they touch: the whole decision
//! of one store transaction, as data. The store loads a [`Book`] (the limits named, the leases
//! referred to, the leases on those limits that have expired), calls [`Book::apply`] for each
//! operation in order, and writes back [`Book::changes`].
//!
//! Acquisitions in one batch keep their order: once one is turned away, later ones that share a
//! limit with it are turned away too without being tried, so a batch never lets a newcomer
//! overtake a waiter (see [`super::queue`]).

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::acquire::{
    Acquisition, Blocked, DecrementRefused, LimitSlots, Refusal, acquire, decrement, release_lease,
};
use super::estimate::next_average_occupancy;
use super::lease::{Holder, Lease, LeaseDuration};
use super::ledger::Mode;
use crate::time::Micros;

/// One limit with the counters kept beside its slots.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitState {
    /// Identity, settings and ledger.
    pub slots: LimitSlots,
    /// Slots asked for and refused (answered 423) since the last reset.
    pub denied_slots: u64,
    /// Moving average of seconds a slot is held.
    pub average_occupancy_seconds: f64,
}

/// The lease an acquisition asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeaseTerms {
    /// The id the new lease gets.
    pub id: Uuid,
    /// How long it lives unrenewed.
    pub duration: LeaseDuration,
    /// Who holds it.
    pub holder: Option<Holder>,
}

/// One operation on slots.
#[derive(Clone, Debug, PartialEq)]
pub enum SlotOp {
    /// Take `slots` on every named limit (names that match no limit are ignored).
    Acquire {
        /// Limit names.
        names: Vec<String>,
        /// Slots on each.
        slots: u32,
        /// Held or decaying.
        mode: Mode,
        /// Hold them under a lease (concurrency mode), or not.
        lease: Option<LeaseTerms>,
    },
    /// Give back a lease's slots (releasing a lease that is gone is not an error).
    Release {
        /// The lease.
        lease: Uuid,
    },
    /// Push a lease's deadline back.
    Renew {
        /// The lease.
        lease: Uuid,
        /// From now.
        duration: LeaseDuration,
    },
    /// Give back slots taken without a lease.
    Decrement {
        /// Limit names.
        names: Vec<String>,
        /// Slots on each.
        slots: u32,
        /// How long they were held, if the client says (feeds the average occupancy).
        occupancy_seconds: Option<f64>,
    },
    /// Give back every lease `holder` holds on the named limits (the v1 tag API's decrement).
    ReleaseHeldBy {
        /// The holder's id (a task run).
        holder: Uuid,
        /// Limit names.
        names: Vec<String>,
    },
    /// Count `slots` as denied on the named active limits (a request answered 423).
    Deny {
        /// Limit names.
        names: Vec<String>,
        /// Slots the request asked for.
        slots: u32,
    },
}

/// A limit as a grant reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitBrief {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Slots.
    pub limit: u32,
}

/// What one operation came to.
#[derive(Clone, Debug, PartialEq)]
pub enum SlotOutcome {
    /// Slots taken. `limits` lists every named limit that exists (inactive ones too, though
    /// they were not charged); `lease` is the new lease when one was asked for and any limit
    /// exists.
    Granted {
        /// The limits named that exist.
        limits: Vec<LimitBrief>,
        /// The lease holding the slots.
        lease: Option<Lease>,
    },
    /// Not now.
    Busy(Blocked),
    /// Never, with these settings.
    Refused(Refusal),
    /// A lease was released (`false`: it was already gone).
    Released(bool),
    /// A lease now lives until `expires_at`.
    Renewed {
        /// The new deadline.
        expires_at: Micros,
    },
    /// The lease to renew does not exist (never did, released, or expired and freed).
    LeaseGone,
    /// Slots given back on these limits.
    Decremented(Vec<LimitBrief>),
    /// The decrement would have freed slots not held without a lease.
    DecrementRefused(DecrementRefused),
    /// Denied slots were counted.
    Denied,
}

/// The limits and leases one batch works on, and what it changed.
#[derive(Clone, Debug, Default)]
pub struct Book {
    limits: Vec<LimitState>,
    leases: HashMap<Uuid, Lease>,
    changed_limits: HashSet<Uuid>,
    freed_limits: HashSet<Uuid>,
    inserted: Vec<Uuid>,
    deleted: Vec<Uuid>,
    renewed: HashSet<Uuid>,
    blocked: HashSet<Uuid>,
}

/// What a batch changed, for the store to write.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// Limits whose ledger or counters changed.
    pub limits: Vec<LimitState>,
    /// New leases.
    pub inserted: Vec<Lease>,
    /// Leases to delete (released or expired).
    pub deleted: Vec<Uuid>,
    /// Existing leases with a new deadline.
    pub renewed: Vec<(Uuid, Micros)>,
    /// Names of the limits that got slots back: their waiters deserve a turn.
    pub freed: Vec<String>,
}

impl Book {
    /// A book over `limits` and the `leases` the batch refers to (including every expired lease
    /// on those limits, which [`Book::reap_expired`] frees).
    pub fn new(limits: Vec<LimitState>, leases: Vec<Lease>) -> Book {
        Book {
            limits,
            leases: leases.into_iter().map(|l| (l.id, l)).collect(),
            ..Book::default()
        }
    }

    /// Frees every loaded lease that is dead at `now`; returns their ids.
    pub fn reap_expired(&mut self, now: Micros) -> Vec<Uuid> {
        let mut dead: Vec<Uuid> = self
            .leases
            .values()
            .filter(|l| l.is_expired(now) && !self.deleted.contains(&l.id))
            .map(|l| l.id)
            .collect();
        dead.sort();
        for id in &dead {
            self.drop_lease(*id, now, false);
        }
        dead
    }

    /// Applies one operation at `now`.
    pub fn apply(&mut self, op: &SlotOp, now: Micros) -> SlotOutcome {
        match op {
            SlotOp::Acquire {
                names,
                slots,
                mode,
                lease,
            } => self.acquire(names, *slots, *mode, lease.as_ref(), now),
            SlotOp::Release { lease } => SlotOutcome::Released(self.drop_lease(*lease, now, true)),
            SlotOp::Renew { lease, duration } => self.renew(*lease, *duration, now),
            SlotOp::Decrement {
                names,
                slots,
                occupancy_seconds,
            } => self.decrement(names, *slots, *occupancy_seconds),
            SlotOp::ReleaseHeldBy { holder, names } => {
                let ids = self.ids_of(names);
                let mut held: Vec<Uuid> = self
                    .leases
                    .values()
                    .filter(|l| !self.deleted.contains(&l.id))
                    .filter(|l| l.holder.is_some_and(|h| h.id == *holder))
                    .filter(|l| l.limits.iter().any(|id| ids.contains(id)))
                    .map(|l| l.id)
                    .collect();
                held.sort();
                for id in held {
                    self.drop_lease(id, now, true);
                }
                SlotOutcome::Decremented(self.briefs(&ids))
            }
            SlotOp::Deny { names, slots } => {
                for id in self.ids_of(names) {
                    if let Some(l) = self.limit_mut(id).filter(|l| l.slots.settings.active) {
                        l.denied_slots = l.denied_slots.saturating_add(u64::from(*slots));
                        self.changed_limits.insert(id);
                    }
                }
                SlotOutcome::Denied
            }
        }
    }

    /// What the batch changed.
    pub fn changes(self) -> Changes {
        let Book {
            limits,
            mut leases,
            changed_limits,
            freed_limits,
            inserted,
            deleted,
            renewed,
            ..
        } = self;
        let renewed = renewed
            .into_iter()
            .filter(|id| !deleted.contains(id) && !inserted.contains(id))
            .filter_map(|id| leases.get(&id).map(|l| (id, l.expires_at)))
            .collect();
        let mut freed: Vec<String> = limits
            .iter()
            .filter(|l| freed_limits.contains(&l.slots.id))
            .map(|l| l.slots.name.clone())
            .collect();
        freed.sort();
        Changes {
            limits: limits
                .into_iter()
                .filter(|l| changed_limits.contains(&l.slots.id))
                .collect(),
            inserted: inserted
                .iter()
                .filter(|id| !deleted.contains(id))
                .filter_map(|id| leases.remove(id))
                .collect(),
            deleted: deleted
                .into_iter()
                .filter(|id| !inserted.contains(id))
                .collect(),
            renewed,
            freed,
        }
    }

    fn acquire(
        &mut self,
        names: &[String],
        slots: u32,
        mode: Mode,
        terms: Option<&LeaseTerms>,
        now: Micros,
    ) -> SlotOutcome {
        let ids = self.ids_of(names);
        if let Some(first) = ids.iter().find(|id| self.blocked.contains(id)) {
            // Someone earlier in this batch waits on this limit: do not overtake them.
            self.blocked.extend(ids.iter().copied());
            return SlotOutcome::Busy(Blocked {
                limit: *first,
                drains_in: None,
            });
        }
        let mut named: Vec<LimitSlots> = ids
            .iter()
            .filter_map(|id| self.limit(*id).map(|l| l.slots.clone()))
            .collect();
        match acquire(&mut named, slots, mode, now) {
            Acquisition::Granted { charged } => {
                for l in named.iter().filter(|l| charged.contains(&l.id)) {
                    if let Some(state) = self.limit_mut(l.id) {
                        state.slots.ledger = l.ledger;
                    }
                    self.changed_limits.insert(l.id);
                }
                let lease = terms.filter(|_| !ids.is_empty()).map(|t| {
                    let lease = Lease::grant(t.id, charged, slots, t.holder, now, t.duration);
                    self.leases.insert(lease.id, lease.clone());
                    self.inserted.push(lease.id);
                    lease
                });
                SlotOutcome::Granted {
                    limits: self.briefs(&ids),
                    lease,
                }
            }
            Acquisition::Busy(b) => {
                self.blocked.extend(ids.iter().copied());
                SlotOutcome::Busy(b)
            }
            Acquisition::Refused(r) => SlotOutcome::Refused(r),
        }
    }

    fn renew(&mut self, id: Uuid, duration: LeaseDuration, now: Micros) -> SlotOutcome {
        if self.deleted.contains(&id) {
            return SlotOutcome::LeaseGone;
        }
        let Some(lease) = self.leases.get_mut(&id) else {
            return SlotOutcome::LeaseGone;
        };
        match lease.renew(now, duration) {
            Ok(()) => {
                let expires_at = lease.expires_at;
                self.renewed.insert(id);
                SlotOutcome::Renewed { expires_at }
            }
            Err(_) => {
                self.drop_lease(id, now, false);
                SlotOutcome::LeaseGone
            }
        }
    }

    fn decrement(&mut self, names: &[String], slots: u32, occupancy: Option<f64>) -> SlotOutcome {
        let ids = self.ids_of(names);
        let active: Vec<Uuid> = ids
            .iter()
            .copied()
            .filter(|id| self.limit(*id).is_some_and(|l| l.slots.settings.active))
            .collect();
        let mut next = Vec::with_capacity(active.len());
        for id in &active {
            let leased = self.leased_slots(*id);
            let Some(state) = self.limit(*id) else {
                continue;
            };
            let mut slots_after = state.slots.clone();
            if let Err(refused) = decrement(&mut slots_after, slots, leased) {
                return SlotOutcome::DecrementRefused(refused);
            }
            next.push(slots_after);
        }
        for l in next {
            if let Some(state) = self.limit_mut(l.id) {
                state.slots.ledger = l.ledger;
                if let Some(held) = occupancy.filter(|s| s.is_finite() && *s > 0.0) {
                    state.average_occupancy_seconds = next_average_occupancy(
                        state.average_occupancy_seconds,
                        held,
                        slots,
                        state.slots.settings.limit,
                    );
                }
            }
            self.changed_limits.insert(l.id);
            self.freed_limits.insert(l.id);
        }
        SlotOutcome::Decremented(self.briefs(&ids))
    }

    /// Removes a lease and gives back its slots; whether it was there. A release by its holder
    /// is an `observed` occupancy and feeds the average; an expiry says nothing about how long
    /// the work took, so it does not.
    fn drop_lease(&mut self, id: Uuid, now: Micros, observed: bool) -> bool {
        if self.deleted.contains(&id) {
            return false;
        }
        let Some(lease) = self.leases.get(&id).cloned() else {
            return false;
        };
        let mut charged: Vec<LimitSlots> = lease
            .limits
            .iter()
            .filter_map(|l| self.limit(*l).map(|s| s.slots.clone()))
            .collect();
        release_lease(&mut charged, &lease);
        let held = lease.held_seconds(now);
        for l in charged {
            if let Some(state) = self.limit_mut(l.id) {
                state.slots.ledger = l.ledger;
                if observed {
                    state.average_occupancy_seconds = next_average_occupancy(
                        state.average_occupancy_seconds,
                        held,
                        lease.slots,
                        state.slots.settings.limit,
                    );
                }
            }
            self.changed_limits.insert(l.id);
            self.freed_limits.insert(l.id);
        }
        self.deleted.push(id);
        true
    }

    /// Slots held by live leases on `limit`.
    fn leased_slots(&self, limit: Uuid) -> u32 {
        self.leases
            .values()
            .filter(|l| !self.deleted.contains(&l.id) && l.limits.contains(&limit))
            .map(|l| l.slots)
            .fold(0u32, u32::saturating_add)
    }

    fn ids_of(&self, names: &[String]) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = names
            .iter()
            .filter_map(|n| self.limits.iter().find(|l| &l.slots.name == n))
            .map(|l| l.slots.id)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn briefs(&self, ids: &[Uuid]) -> Vec<LimitBrief> {
        ids.iter()
            .filter_map(|id| self.limit(*id))
            .map(|l| LimitBrief {
                id: l.slots.id,
                name: l.slots.name.clone(),
                limit: l.slots.settings.limit,
            })
            .collect()
    }

    fn limit(&self, id: Uuid) -> Option<&LimitState> {
        self.limits.iter().find(|l| l.slots.id == id)
    }

    fn limit_mut(&mut self, id: Uuid) -> Option<&mut LimitState> {
        self.limits.iter_mut().find(|l| l.slots.id == id)
    }
}

#[cfg(test)]
#[path = "book_tests.rs"]
mod tests;
