//! When a slot is expected to free up: the basis of an honest `Retry-After`.
//!
//! Decay is exact: a rate limit says to the nanosecond when there is room. Held slots are freed
//! by their holders, so their release is estimated from what is known: when each holder took
//! its slots, how long slots are usually held on this limit (a moving average of past
//! occupancy), and when each lease dies at the latest. Waiters already in line are counted, so
//! the tenth in line is not told the same time as the first.

use std::time::Duration;

use super::ledger::SlotLedger;
use super::settings::LimitSettings;
use crate::time::Micros;

/// Shortest `Retry-After` given: a holder past its expected time may release at any moment.
pub const MIN_RETRY_AFTER: Duration = Duration::from_millis(20);

/// Longest `Retry-After` given for held slots (Prefect caps its guesses at 30 s too): beyond
/// it, a guess is too poor to make a waiter sleep through a release.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Fewest seconds a slot is assumed to be held on average (Prefect's floor as well).
pub const MIN_AVERAGE_OCCUPANCY_SECONDS: f64 = 0.1;

/// The average occupancy of a limit nobody has released yet (Prefect's default).
pub const DEFAULT_AVERAGE_OCCUPANCY_SECONDS: f64 = 2.0;

/// Slots held by one lease (or by one lease-less acquisition).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeldSlots {
    /// When they were taken.
    pub acquired_at: Micros,
    /// When they are released at the latest (the lease's deadline), if known.
    pub expires_at: Option<Micros>,
    /// How many.
    pub slots: u32,
}

/// What is known about a busy limit.
#[derive(Clone, Debug)]
pub struct BusyLimit<'a> {
    /// Its settings.
    pub settings: LimitSettings,
    /// Its occupancy.
    pub ledger: SlotLedger,
    /// Its leases. Held slots not covered by them are treated as just taken.
    pub holders: &'a [HeldSlots],
    /// Its moving average of seconds a slot is held.
    pub average_occupancy_seconds: f64,
}

/// Expected wait before `slots` fit, with `queued_ahead` slots' worth of waiters before this
/// request, clamped to [`MIN_RETRY_AFTER`]..=[`MAX_RETRY_AFTER`] unless the decay says exactly.
pub fn retry_after(limit: &BusyLimit<'_>, slots: u32, queued_ahead: u32, now: Micros) -> Duration {
    let s = &limit.settings;
    let wanted = u64::from(limit.ledger.held) + u64::from(slots) + u64::from(queued_ahead);
    if let Some(decay) = s.decay
        && wanted <= u64::from(s.limit)
    {
        // Only draining slots stand in the way: exact.
        let t = u128::from(decay.nanos_per_slot());
        let used = u128::from(wanted) * t + limit.ledger.backlog_ns(now);
        let room = u128::from(s.limit) * t;
        let wait =
            Duration::from_nanos(u64::try_from(used.saturating_sub(room)).unwrap_or(u64::MAX));
        return wait.max(Duration::from_millis(1));
    }
    // Slots must be released: find when enough holders are expected to let go.
    let must_free = wanted.saturating_sub(u64::from(s.limit)).max(1);
    let average = limit
        .average_occupancy_seconds
        .max(MIN_AVERAGE_OCCUPANCY_SECONDS);
    let expected = |h: &HeldSlots| {
        let usual = h.acquired_at.plus_seconds(average);
        let usual = if usual <= now {
            // Past its usual time: it may let go any moment.
            Micros(now.0 + MIN_RETRY_AFTER.as_micros() as i64)
        } else {
            usual
        };
        h.expires_at.map_or(usual, |deadline| usual.min(deadline))
    };
    let leased: u64 = limit.holders.iter().map(|h| u64::from(h.slots)).sum();
    let unleased = u64::from(limit.ledger.held).saturating_sub(leased);
    let mut releases: Vec<(Micros, u64)> = limit
        .holders
        .iter()
        .map(|h| (expected(h), u64::from(h.slots)))
        .collect();
    if unleased > 0 {
        releases.push((now.plus_seconds(average), unleased));
    }
    releases.sort_by_key(|(at, _)| *at);
    let mut freed = 0;
    let mut at = now.plus_seconds(average);
    for (when, n) in releases {
        freed += n;
        at = when;
        if freed >= must_free {
            break;
        }
    }
    let wait = Duration::from_micros(u64::try_from(at.0.saturating_sub(now.0)).unwrap_or(0));
    wait.clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER)
}

/// The moving average of seconds a slot is held, after slots held for `held_seconds` in all
/// were released: a weighted average over about the last `2 × limit` releases.
pub fn next_average_occupancy(average: f64, held_seconds: f64, slots: u32, limit: u32) -> f64 {
    let per_slot = (held_seconds / f64::from(slots.max(1))).max(MIN_AVERAGE_OCCUPANCY_SECONDS);
    let samples = f64::from(limit.max(1)) * 2.0;
    let average = if average.is_finite() {
        average
    } else {
        DEFAULT_AVERAGE_OCCUPANCY_SECONDS
    };
    average + (per_slot - average) / samples
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::concurrency::ledger::Mode;

    const SEC: i64 = 1_000_000;

    fn held(slots: u32) -> SlotLedger {
        SlotLedger {
            held: slots,
            drained_at_ns: 0,
        }
    }

    fn busy<'a>(
        limit: u32,
        rate: f64,
        ledger: SlotLedger,
        holders: &'a [HeldSlots],
    ) -> BusyLimit<'a> {
        BusyLimit {
            settings: LimitSettings::new(i64::from(limit), rate, true).unwrap(),
            ledger,
            holders,
            average_occupancy_seconds: 0.5,
        }
    }

    #[test]
    fn a_rate_limit_says_exactly_when_and_counts_the_line() {
        let s = LimitSettings::new(1, 4.0, true).unwrap();
        let now = Micros(100 * SEC);
        let ledger = SlotLedger::empty()
            .take(&s, 1, Mode::RateLimit, now)
            .unwrap();
        let b = busy(1, 4.0, ledger, &[]);
        assert_eq!(retry_after(&b, 1, 0, now), Duration::from_millis(250));
        let later = Micros(now.0 + 100_000);
        assert_eq!(retry_after(&b, 1, 0, later), Duration::from_millis(150));
        // One waiter ahead: one more drain period. Two ahead on a limit of one: beyond decay.
        let b2 = busy(2, 4.0, ledger, &[]);
        assert_eq!(retry_after(&b2, 1, 1, now), Duration::from_millis(250));
    }

    #[test]
    fn held_slots_free_up_when_their_holders_usually_let_go() {
        let now = Micros(100 * SEC);
        let holders = [
            HeldSlots {
                acquired_at: Micros(now.0 - 200_000),
                expires_at: None,
                slots: 1,
            },
            HeldSlots {
                acquired_at: Micros(now.0 - 100_000),
                expires_at: None,
                slots: 1,
            },
        ];
        let ledger = held(2);
        let b = busy(2, 0.0, ledger, &holders);
        // Average 0.5 s: the older holder is expected to let go in 0.3 s, the other in 0.4 s.
        assert_eq!(retry_after(&b, 1, 0, now), Duration::from_millis(300));
        assert_eq!(retry_after(&b, 1, 1, now), Duration::from_millis(400));
    }

    #[test]
    fn a_lease_deadline_bounds_the_guess_and_overdue_holders_mean_soon() {
        let now = Micros(100 * SEC);
        let dying = [HeldSlots {
            acquired_at: Micros(now.0 - 100_000),
            expires_at: Some(Micros(now.0 + 50_000)),
            slots: 1,
        }];
        let b = busy(1, 0.0, held(1), &dying);
        assert_eq!(retry_after(&b, 1, 0, now), Duration::from_millis(50));
        let overdue = [HeldSlots {
            acquired_at: Micros(now.0 - 60 * SEC),
            expires_at: None,
            slots: 1,
        }];
        let b = busy(1, 0.0, held(1), &overdue);
        assert_eq!(retry_after(&b, 1, 0, now), MIN_RETRY_AFTER);
    }

    #[test]
    fn guesses_are_capped() {
        let now = Micros(100 * SEC);
        let mut b = busy(1, 0.0, held(1), &[]);
        b.average_occupancy_seconds = 3600.0;
        assert_eq!(retry_after(&b, 1, 0, now), MAX_RETRY_AFTER);
    }

    #[test]
    fn the_average_follows_observed_occupancy() {
        let mut avg = DEFAULT_AVERAGE_OCCUPANCY_SECONDS;
        for _ in 0..50 {
            avg = next_average_occupancy(avg, 0.5, 1, 1);
        }
        assert!((avg - 0.5).abs() < 1e-6, "{avg}");
        assert_eq!(
            next_average_occupancy(2.0, 0.0, 1, 1),
            2.0 + (0.1 - 2.0) / 2.0
        );
    }
}
