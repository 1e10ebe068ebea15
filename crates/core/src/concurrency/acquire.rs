//! Taking and giving back slots on several limits at once: all or nothing, inactive limits
//! passed over, impossible requests refused with a reason instead of waiting forever.

use std::fmt;
use std::time::Duration;

use uuid::Uuid;

use super::lease::Lease;
use super::ledger::{Impossible, Mode, OverRelease, Shortfall, SlotLedger};
use super::settings::LimitSettings;
use super::tags;
use crate::time::Micros;

/// One limit as the rules see it: who it is, its settings and its current ledger.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitSlots {
    /// The limit's id.
    pub id: Uuid,
    /// The limit's name (tag limits are named `tag:<tag>`).
    pub name: String,
    /// Its settings.
    pub settings: LimitSettings,
    /// Its occupancy.
    pub ledger: SlotLedger,
}

/// The answer to an acquisition.
#[derive(Clone, Debug, PartialEq)]
pub enum Acquisition {
    /// Taken on every active limit named; the ledgers were updated in place.
    Granted {
        /// The limits whose slots were taken (inactive ones are not).
        charged: Vec<Uuid>,
    },
    /// Not now; nothing was changed.
    Busy(Blocked),
    /// Never, with these settings; nothing was changed.
    Refused(Refusal),
}

/// Which limit stands in the way, and for how long when that is known exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// The limit with the longest (or an unknown) wait.
    pub limit: Uuid,
    /// Exact time until its decay makes room, when decay alone can.
    pub drains_in: Option<Duration>,
}

/// A request that can never be satisfied, and the limit that makes it so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The limit's name.
    pub name: String,
    /// Why.
    pub why: Impossible,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        match (self.why, tags::tag_of(name)) {
            (Impossible::MoreThanLimit { limit: 0, .. }, Some(tag)) => write!(
                f,
                "tag {tag:?} has a concurrency limit of 0, so a task run tagged with it can never start; raise the limit (flowgate concurrency-limit create {tag} N) or remove the tag"
            ),
            (Impossible::MoreThanLimit { asked, limit }, _) => write!(
                f,
                "concurrency limit {name:?} holds at most {limit} slots, so asking for {asked} can never succeed; ask for at most {limit}, or raise the limit"
            ),
            (Impossible::RateLimitWithoutDecay, _) => write!(
                f,
                "concurrency limit {name:?} has no slot decay, so it cannot rate-limit (its slots would never drain); set slot_decay_per_second above 0, or hold slots with concurrency() instead"
            ),
        }
    }
}

/// Takes `slots` on every active limit in `limits`, all or nothing. On success the ledgers in
/// `limits` are updated; otherwise nothing changes.
pub fn acquire(limits: &mut [LimitSlots], slots: u32, mode: Mode, now: Micros) -> Acquisition {
    let mut next = Vec::with_capacity(limits.len());
    let mut blocked: Option<Blocked> = None;
    for l in limits.iter().filter(|l| l.settings.active) {
        match l.ledger.take(&l.settings, slots, mode, now) {
            Ok(ledger) => next.push((l.id, ledger)),
            Err(Shortfall::Impossible(why)) => {
                return Acquisition::Refused(Refusal {
                    name: l.name.clone(),
                    why,
                });
            }
            Err(Shortfall::Busy { drains_in }) => {
                let longer = match (blocked, drains_in) {
                    (None, _)
                    | (
                        Some(Blocked {
                            drains_in: Some(_), ..
                        }),
                        None,
                    ) => true,
                    (
                        Some(Blocked {
                            drains_in: Some(a), ..
                        }),
                        Some(b),
                    ) => b > a,
                    (
                        Some(Blocked {
                            drains_in: None, ..
                        }),
                        _,
                    ) => false,
                };
                if longer {
                    blocked = Some(Blocked {
                        limit: l.id,
                        drains_in,
                    });
                }
            }
        }
    }
    if let Some(b) = blocked {
        return Acquisition::Busy(b);
    }
    for (id, ledger) in &next {
        if let Some(l) = limits.iter_mut().find(|l| l.id == *id) {
            l.ledger = *ledger;
        }
    }
    Acquisition::Granted {
        charged: next.into_iter().map(|(id, _)| id).collect(),
    }
}

/// Gives back a lease's slots on the limits in `limits` it charged (limits deleted since are
/// simply absent). Acquisition adds a lease and its slots together and every removal takes
/// both away together, so a lease never holds more than its limit counts; were that ever
/// false, the count stops at zero rather than going negative.
pub fn release_lease(limits: &mut [LimitSlots], lease: &Lease) {
    for l in limits.iter_mut().filter(|l| lease.limits.contains(&l.id)) {
        l.ledger = l.ledger.release(lease.slots).unwrap_or(SlotLedger {
            held: 0,
            ..l.ledger
        });
    }
}

/// A plain (lease-less) decrement that would take slots that are not held without a lease.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot release {asked} slots of concurrency limit {name:?}: only {unleased} are held without a lease ({leased} more are held by leases, which are released with decrement-with-lease or by expiring)"
)]
pub struct DecrementRefused {
    /// The limit.
    pub name: String,
    /// Slots asked to release.
    pub asked: u32,
    /// Slots held without a lease.
    pub unleased: u32,
    /// Slots held by leases.
    pub leased: u32,
}

/// Releases `slots` taken without a lease from one limit, given how many of its held slots
/// belong to leases; refuses (changing nothing) rather than go below zero or free a lease's
/// slots behind its back.
pub fn decrement(limit: &mut LimitSlots, slots: u32, leased: u32) -> Result<(), DecrementRefused> {
    let unleased = limit.ledger.held.saturating_sub(leased);
    let refused = || DecrementRefused {
        name: limit.name.clone(),
        asked: slots,
        unleased,
        leased,
    };
    if slots > unleased {
        return Err(refused());
    }
    limit.ledger = limit
        .ledger
        .release(slots)
        .map_err(|OverRelease { .. }| refused())?;
    Ok(())
}

/// What setting a limit's occupied count comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetActiveSlots {
    /// `0`: everything is released, leases included (the caller deletes the limit's leases).
    Reset,
    /// The leases stay; the slots held without a lease make up the rest; draining slots are
    /// dropped.
    Held(SlotLedger),
}

/// Refused: fewer slots than live leases hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "active_slots {asked} is below the {leased} slots held by live leases of {name:?}; set 0 to release every slot, leases included, or at least {leased}"
)]
pub struct ActiveSlotsRefused {
    /// The limit.
    pub name: String,
    /// The count asked for.
    pub asked: u32,
    /// Slots held by leases.
    pub leased: u32,
}

/// Sets a limit's occupied count, as an administrator's update asks (`active_slots`), given how
/// many of its slots live leases hold.
pub fn set_active_slots(
    limit: &LimitSlots,
    asked: u32,
    leased: u32,
) -> Result<SetActiveSlots, ActiveSlotsRefused> {
    if asked == 0 {
        return Ok(SetActiveSlots::Reset);
    }
    if asked < leased {
        return Err(ActiveSlotsRefused {
            name: limit.name.clone(),
            asked,
            leased,
        });
    }
    Ok(SetActiveSlots::Held(SlotLedger {
        held: asked,
        drained_at_ns: 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::concurrency::lease::LeaseDuration;

    fn limit(n: u128, name: &str, max: u32, rate: f64, active: bool) -> LimitSlots {
        LimitSlots {
            id: Uuid::from_u128(n),
            name: name.to_owned(),
            settings: LimitSettings::new(i64::from(max), rate, active).unwrap(),
            ledger: SlotLedger::empty(),
        }
    }

    #[test]
    fn all_or_nothing_across_limits() {
        let now = Micros(0);
        let mut ls = vec![limit(1, "a", 2, 0.0, true), limit(2, "b", 1, 0.0, true)];
        assert!(matches!(
            acquire(&mut ls, 1, Mode::Concurrency, now),
            Acquisition::Granted { .. }
        ));
        let before = ls.clone();
        assert_eq!(
            acquire(&mut ls, 1, Mode::Concurrency, now),
            Acquisition::Busy(Blocked {
                limit: Uuid::from_u128(2),
                drains_in: None
            })
        );
        assert_eq!(ls, before, "a refused acquisition changes no limit");
    }

    #[test]
    fn inactive_limits_do_not_limit_and_are_not_charged() {
        let mut ls = vec![limit(1, "off", 0, 0.0, false), limit(2, "on", 1, 0.0, true)];
        let got = acquire(&mut ls, 1, Mode::Concurrency, Micros(0));
        assert_eq!(
            got,
            Acquisition::Granted {
                charged: vec![Uuid::from_u128(2)]
            }
        );
        assert_eq!(ls[0].ledger.held, 0);
    }

    #[test]
    fn the_longest_wait_is_reported_and_unknown_counts_as_longest() {
        let now = Micros(0);
        let mut ls = vec![
            limit(1, "fast", 1, 10.0, true),
            limit(2, "slow", 1, 1.0, true),
        ];
        acquire(&mut ls, 1, Mode::RateLimit, now);
        match acquire(&mut ls, 1, Mode::RateLimit, now) {
            Acquisition::Busy(b) => {
                assert_eq!(b.limit, Uuid::from_u128(2));
                assert_eq!(b.drains_in, Some(Duration::from_secs(1)));
            }
            other => panic!("{other:?}"),
        }
        let mut ls = vec![
            limit(1, "rate", 1, 1.0, true),
            limit(2, "held", 1, 0.0, true),
        ];
        acquire(&mut ls, 1, Mode::Concurrency, now);
        match acquire(&mut ls, 1, Mode::Concurrency, now) {
            Acquisition::Busy(b) => assert_eq!(b.drains_in, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn impossible_requests_are_refused_with_a_sentence() {
        let mut ls = vec![limit(1, "db", 2, 0.0, true)];
        let Acquisition::Refused(r) = acquire(&mut ls, 3, Mode::Concurrency, Micros(0)) else {
            panic!()
        };
        assert!(
            r.to_string()
                .contains("holds at most 2 slots, so asking for 3 can never succeed")
        );
        let Acquisition::Refused(r) = acquire(&mut ls, 1, Mode::RateLimit, Micros(0)) else {
            panic!()
        };
        assert!(r.to_string().contains("has no slot decay"), "{r}");
        let mut ls = vec![limit(1, "tag:db-tag", 0, 0.0, true)];
        let Acquisition::Refused(r) = acquire(&mut ls, 1, Mode::Concurrency, Micros(0)) else {
            panic!()
        };
        assert!(
            r.to_string()
                .starts_with("tag \"db-tag\" has a concurrency limit of 0"),
            "{r}"
        );
    }

    #[test]
    fn a_lease_gives_back_what_it_took() {
        let now = Micros(0);
        let mut ls = vec![limit(1, "a", 3, 0.0, true), limit(2, "b", 3, 0.0, true)];
        let Acquisition::Granted { charged } = acquire(&mut ls, 2, Mode::Concurrency, now) else {
            panic!()
        };
        let lease = Lease::grant(
            Uuid::from_u128(9),
            charged,
            2,
            None,
            now,
            LeaseDuration::seconds(60.0).unwrap(),
        );
        release_lease(&mut ls, &lease);
        assert!(ls.iter().all(|l| l.ledger.held == 0));
    }

    #[test]
    fn setting_the_count_resets_or_keeps_the_leases() {
        let l = limit(1, "db", 5, 0.0, true);
        assert_eq!(set_active_slots(&l, 0, 3), Ok(SetActiveSlots::Reset));
        assert_eq!(
            set_active_slots(&l, 4, 3),
            Ok(SetActiveSlots::Held(SlotLedger {
                held: 4,
                drained_at_ns: 0
            }))
        );
        let e = set_active_slots(&l, 2, 3).unwrap_err().to_string();
        assert!(e.contains("below the 3 slots held by live leases"), "{e}");
    }

    #[test]
    fn plain_decrements_never_free_leased_slots_or_go_negative() {
        let mut l = limit(1, "db", 3, 0.0, true);
        l.ledger.held = 3;
        let e = decrement(&mut l, 2, 2).unwrap_err();
        assert_eq!(e.unleased, 1);
        assert!(
            e.to_string().contains("only 1 are held without a lease"),
            "{e}"
        );
        assert_eq!(l.ledger.held, 3);
        decrement(&mut l, 1, 2).unwrap();
        assert_eq!(l.ledger.held, 2);
        l.ledger.held = 0;
        assert!(decrement(&mut l, 1, 0).is_err());
    }
}
