//! Slot arithmetic: what one limit's slots are doing, exactly, at any instant.
//!
//! A limit's occupancy has two parts. **Held** slots are taken in concurrency mode (with or
//! without a lease) and stay taken until released. **Decaying** slots are taken in rate-limit
//! mode and drain by themselves at the limit's [`Decay`]. The decaying part is stored as one
//! instant, `drained_at_ns`: when it will have drained completely. Taking `s` slots moves that
//! instant `s × nanos_per_slot` later; time passing drains it with no write at all. Everything is
//! integer nanoseconds, so a million acquisitions leave exactly the occupancy the closed form
//! gives (no float is ever subtracted repeatedly), and "when will there be room" is an exact
//! answer, not a guess.
//!
//! Admission is one inequality in nanosecond units:
//! `(held + asked) × T + backlog ≤ limit × T`, where `T` is nanoseconds per slot and `backlog`
//! is what remains to drain; without decay it is `held + asked ≤ limit`.

use std::time::Duration;

use super::settings::{Decay, LimitSettings};
use crate::time::Micros;

/// How an acquisition occupies its slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Held until released (the `concurrency` context manager, tag limits).
    Concurrency,
    /// Occupied, then drained by the limit's decay; never released (`rate_limit`).
    RateLimit,
}

impl Mode {
    /// Prefect's name for the mode (`"concurrency"`, `"rate_limit"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Concurrency => "concurrency",
            Mode::RateLimit => "rate_limit",
        }
    }

    /// Reads Prefect's name for a mode.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "concurrency" => Some(Mode::Concurrency),
            "rate_limit" => Some(Mode::RateLimit),
            _ => None,
        }
    }
}

/// The occupancy of one limit, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct SlotLedger {
    /// Slots held until released (leases, and concurrency-mode increments without one).
    pub held: u32,
    /// The instant, in nanoseconds since the Unix epoch, at which the rate-limit slots will
    /// have drained; at or before now means nothing is draining.
    pub drained_at_ns: i64,
}

/// Why slots cannot be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortfall {
    /// Not now. `drains_in` is exactly how long the decay alone takes to make room, when it
    /// can (it cannot while held slots alone leave too little room: those need releases).
    Busy {
        /// Time until decay makes room, if decay alone can.
        drains_in: Option<Duration>,
    },
    /// Never, with these settings.
    Impossible(Impossible),
}

/// A request no amount of waiting satisfies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impossible {
    /// More slots than the limit holds.
    MoreThanLimit {
        /// Slots asked for.
        asked: u32,
        /// The limit.
        limit: u32,
    },
    /// Rate limiting needs a decay, or taken slots would never drain.
    RateLimitWithoutDecay,
}

/// A release of more slots than are held (refused: the count never goes negative).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot release {asked} slots: only {held} are held")]
pub struct OverRelease {
    /// Slots held.
    pub held: u32,
    /// Slots asked to release.
    pub asked: u32,
}

fn nanos(t: Micros) -> i128 {
    i128::from(t.0) * 1000
}

fn clamp_i64(x: i128) -> i64 {
    i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
}

impl SlotLedger {
    /// Nanoseconds of decay still to drain at `now`.
    pub fn backlog_ns(&self, now: Micros) -> u128 {
        (i128::from(self.drained_at_ns) - nanos(now)).max(0) as u128
    }

    /// Slots occupied at `now`, counting a partly drained slot as occupied (what Prefect shows
    /// as `active_slots`).
    pub fn active_slots(&self, decay: Option<Decay>, now: Micros) -> u64 {
        let draining = match decay {
            Some(d) => self
                .backlog_ns(now)
                .div_ceil(u128::from(d.nanos_per_slot())),
            None => 0,
        };
        u64::from(self.held).saturating_add(u64::try_from(draining).unwrap_or(u64::MAX))
    }

    /// Slots occupied at `now`, with the draining part as a fraction (for pictures).
    pub fn occupancy(&self, decay: Option<Decay>, now: Micros) -> f64 {
        let draining = decay.map_or(0.0, |d| {
            self.backlog_ns(now) as f64 / d.nanos_per_slot() as f64
        });
        f64::from(self.held) + draining
    }

    /// Takes `asked` slots at `now`, or says why not. Only arithmetic: whether the limit is
    /// active is the caller's business.
    pub fn take(
        &self,
        settings: &LimitSettings,
        asked: u32,
        mode: Mode,
        now: Micros,
    ) -> Result<SlotLedger, Shortfall> {
        if asked > settings.limit {
            return Err(Shortfall::Impossible(Impossible::MoreThanLimit {
                asked,
                limit: settings.limit,
            }));
        }
        let wanted_held = u64::from(self.held) + u64::from(asked);
        let Some(decay) = settings.decay else {
            if mode == Mode::RateLimit {
                return Err(Shortfall::Impossible(Impossible::RateLimitWithoutDecay));
            }
            return if wanted_held <= u64::from(settings.limit) {
                Ok(SlotLedger {
                    held: self.held + asked,
                    ..*self
                })
            } else {
                Err(Shortfall::Busy { drains_in: None })
            };
        };
        let t = u128::from(decay.nanos_per_slot());
        let backlog = self.backlog_ns(now);
        let used = u128::from(wanted_held) * t + backlog;
        let room = u128::from(settings.limit) * t;
        if used > room {
            let drains_in = (wanted_held <= u64::from(settings.limit))
                .then(|| Duration::from_nanos(u64::try_from(used - room).unwrap_or(u64::MAX)));
            return Err(Shortfall::Busy { drains_in });
        }
        Ok(match mode {
            Mode::Concurrency => SlotLedger {
                held: self.held + asked,
                ..*self
            },
            Mode::RateLimit => SlotLedger {
                held: self.held,
                drained_at_ns: clamp_i64(nanos(now) + (backlog + u128::from(asked) * t) as i128),
            },
        })
    }

    /// Gives back `slots` held slots; refuses to go below zero.
    pub fn release(&self, slots: u32) -> Result<SlotLedger, OverRelease> {
        match self.held.checked_sub(slots) {
            Some(held) => Ok(SlotLedger { held, ..*self }),
            None => Err(OverRelease {
                held: self.held,
                asked: slots,
            }),
        }
    }

    /// The same occupancy under a new decay: the draining slots keep their count (rounded up,
    /// never freeing a partial slot). Removing the decay drops the draining slots, which have
    /// no holder to release them.
    pub fn redecay(&self, from: Option<Decay>, to: Option<Decay>, now: Micros) -> SlotLedger {
        let drained_at_ns = match (from, to) {
            (Some(a), Some(b)) if a != b => {
                let backlog = self.backlog_ns(now);
                let scaled = (backlog * u128::from(b.nanos_per_slot()))
                    .div_ceil(u128::from(a.nanos_per_slot()));
                clamp_i64(nanos(now) + i128::try_from(scaled).unwrap_or(i128::MAX / 2))
            }
            (_, None) => 0,
            _ => self.drained_at_ns,
        };
        SlotLedger {
            held: self.held,
            drained_at_ns,
        }
    }

    /// Everything released and drained (a reset).
    pub fn empty() -> SlotLedger {
        SlotLedger::default()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn settings(limit: u32, rate: f64) -> LimitSettings {
        LimitSettings::new(i64::from(limit), rate, true).unwrap()
    }

    const SEC: i64 = 1_000_000;

    #[test]
    fn concurrency_slots_are_counted_and_released() {
        let s = settings(2, 0.0);
        let now = Micros(0);
        let a = SlotLedger::empty()
            .take(&s, 1, Mode::Concurrency, now)
            .unwrap();
        let b = a.take(&s, 1, Mode::Concurrency, now).unwrap();
        assert_eq!(b.active_slots(None, now), 2);
        assert_eq!(
            b.take(&s, 1, Mode::Concurrency, now),
            Err(Shortfall::Busy { drains_in: None })
        );
        assert_eq!(b.release(2).unwrap().held, 0);
        assert_eq!(a.release(2), Err(OverRelease { held: 1, asked: 2 }));
    }

    #[test]
    fn impossible_requests_are_told_apart_from_busy_ones() {
        let s = settings(2, 0.0);
        let e = SlotLedger::empty().take(&s, 3, Mode::Concurrency, Micros(0));
        assert_eq!(
            e,
            Err(Shortfall::Impossible(Impossible::MoreThanLimit {
                asked: 3,
                limit: 2
            }))
        );
        let e = SlotLedger::empty().take(&s, 1, Mode::RateLimit, Micros(0));
        assert_eq!(
            e,
            Err(Shortfall::Impossible(Impossible::RateLimitWithoutDecay))
        );
    }

    #[test]
    fn rate_limit_slots_drain_at_the_decay_and_say_exactly_when_there_is_room() {
        // 2 slots, 4 per second: a slot drains every 250 ms.
        let s = settings(2, 4.0);
        let t0 = Micros(1_000 * SEC);
        let full = SlotLedger::empty()
            .take(&s, 2, Mode::RateLimit, t0)
            .unwrap();
        assert_eq!(full.active_slots(s.decay, t0), 2);
        assert_eq!(
            full.take(&s, 1, Mode::RateLimit, t0),
            Err(Shortfall::Busy {
                drains_in: Some(Duration::from_millis(250))
            })
        );
        let just_before = Micros(t0.0 + 250_000 - 1);
        assert!(full.take(&s, 1, Mode::RateLimit, just_before).is_err());
        assert_eq!(full.active_slots(s.decay, just_before), 2);
        let at = Micros(t0.0 + 250_000);
        assert_eq!(full.active_slots(s.decay, at), 1);
        assert!(full.take(&s, 1, Mode::RateLimit, at).is_ok());
        assert_eq!(full.active_slots(s.decay, Micros(t0.0 + 500_000)), 0);
    }

    #[test]
    fn held_slots_on_a_rate_limit_need_releases_not_time() {
        let s = settings(1, 1.0);
        let held = SlotLedger::empty()
            .take(&s, 1, Mode::Concurrency, Micros(0))
            .unwrap();
        assert_eq!(
            held.take(&s, 1, Mode::RateLimit, Micros(3600 * SEC)),
            Err(Shortfall::Busy { drains_in: None })
        );
    }

    #[test]
    fn a_million_acquisitions_at_the_decay_rate_never_drift() {
        // One slot, one acquisition exactly every drain period: each must succeed, and one a
        // microsecond early must fail, however many came before.
        for (rate, period_us) in [(4.0, 250_000), (1.0 / 3.0, 3_000_000), (1000.0, 1_000)] {
            let s = settings(1, rate);
            let mut ledger = SlotLedger::empty();
            let start = 1_800_000_000 * SEC;
            for k in 0..1_000_000i64 {
                let at = Micros(start + k * period_us);
                if k > 0 {
                    assert!(
                        ledger
                            .take(&s, 1, Mode::RateLimit, Micros(at.0 - 1))
                            .is_err()
                    );
                }
                ledger = ledger.take(&s, 1, Mode::RateLimit, at).unwrap();
                assert_eq!(ledger.active_slots(s.decay, at), 1);
            }
        }
    }

    #[test]
    fn changing_the_decay_keeps_the_count_and_removing_it_drops_draining_slots() {
        let t0 = Micros(0);
        let slow = settings(4, 1.0);
        let ledger = SlotLedger::empty()
            .take(&slow, 3, Mode::RateLimit, t0)
            .unwrap();
        let fast = settings(4, 10.0);
        let moved = ledger.redecay(slow.decay, fast.decay, t0);
        assert_eq!(moved.active_slots(fast.decay, t0), 3);
        assert_eq!(moved.active_slots(fast.decay, Micros(300_000)), 0);
        assert_eq!(
            ledger.redecay(slow.decay, None, t0).active_slots(None, t0),
            0
        );
    }

    /// One step of a random workload.
    #[derive(Clone, Debug)]
    enum Step {
        Wait(i64),
        Take(u32, Mode),
        Release(u32),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0i64..2 * SEC).prop_map(Step::Wait),
            (
                1u32..4,
                prop_oneof![Just(Mode::Concurrency), Just(Mode::RateLimit)]
            )
                .prop_map(|(s, m)| Step::Take(s, m)),
            (1u32..4).prop_map(Step::Release),
        ]
    }

    proptest! {
        /// Under any workload and clock, the exact occupancy never exceeds the limit, a
        /// release never takes the count below zero, and a refused step changes nothing.
        #[test]
        fn occupancy_never_exceeds_the_limit(
            limit in 1u32..6,
            rate in prop_oneof![Just(0.0), 0.5f64..20.0],
            steps in prop::collection::vec(step(), 1..200),
        ) {
            let s = settings(limit, rate);
            let mut now = Micros(1_700_000_000 * SEC);
            let mut ledger = SlotLedger::empty();
            for st in steps {
                let before = ledger;
                match st {
                    Step::Wait(us) => now = Micros(now.0 + us),
                    Step::Take(n, mode) => match ledger.take(&s, n, mode, now) {
                        Ok(next) => ledger = next,
                        Err(_) => prop_assert_eq!(ledger, before),
                    },
                    Step::Release(n) => if let Ok(next) = ledger.release(n) { ledger = next },
                }
                let t = s.decay.map_or(1, |d| u128::from(d.nanos_per_slot()));
                let used = u128::from(ledger.held) * t
                    + if s.decay.is_some() { ledger.backlog_ns(now) } else { 0 };
                prop_assert!(used <= u128::from(limit) * t);
                prop_assert!(ledger.active_slots(s.decay, now) <= u64::from(limit));
            }
        }

        /// When decay alone can make room, `drains_in` is exact to the microsecond clock:
        /// the request fits at `now + drains_in` (rounded up to a microsecond) and not a
        /// microsecond before.
        #[test]
        fn drains_in_is_exact(
            limit in 1u32..5,
            rate in 0.1f64..50.0,
            taken in prop::collection::vec((0i64..SEC, 1u32..3), 1..20),
            asked in 1u32..3,
        ) {
            prop_assume!(asked <= limit);
            let s = settings(limit, rate);
            let mut now = Micros(1_700_000_000 * SEC);
            let mut ledger = SlotLedger::empty();
            for (gap, n) in taken {
                now = Micros(now.0 + gap);
                if let Ok(next) = ledger.take(&s, n, Mode::RateLimit, now) { ledger = next }
            }
            if let Err(Shortfall::Busy { drains_in: Some(d) }) =
                ledger.take(&s, asked, Mode::RateLimit, now)
            {
                let wait_us = i64::try_from(d.as_nanos().div_ceil(1000)).unwrap();
                prop_assert!(ledger.take(&s, asked, Mode::RateLimit, Micros(now.0 + wait_us)).is_ok());
                if wait_us > 1 {
                    prop_assert!(ledger.take(&s, asked, Mode::RateLimit, Micros(now.0 + wait_us - 1)).is_err());
                }
            }
        }

        /// Decaying slots drain one per period: `k` periods after taking `n`, `n - k` remain.
        #[test]
        fn decay_drains_one_slot_per_period(n in 1u32..10, period_us in 1u64..100_000_000, k in 0u64..12) {
            let s = settings(10, 1e6 / period_us as f64);
            let t = s.decay.unwrap().nanos_per_slot();
            prop_assert_eq!(t, period_us * 1000);
            let t0 = Micros(1_700_000_000 * SEC);
            let ledger = SlotLedger::empty().take(&s, n, Mode::RateLimit, t0).unwrap();
            let later = Micros(t0.0 + i64::try_from(k * t / 1000).unwrap());
            prop_assert_eq!(ledger.active_slots(s.decay, later), u64::from(n).saturating_sub(k));
        }
    }
}
