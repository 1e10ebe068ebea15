//! Counting events in time buckets (`/events/count-by/day` and `/time`): a window cut into
//! buckets of a whole number of microseconds, aligned to the calendar (a day bucket starts at
//! midnight UTC, a week on Monday), and the store's per-bucket counts laid out over every bucket,
//! empty ones included. The store counts in SQL, one `GROUP BY` of `(occurred - start) / width`.

use crate::Micros;

/// Most buckets one count may have (Prefect's limit too).
pub const MAX_BUCKETS: i64 = 1000;

const SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * SECOND;
const WEEK: i64 = 7 * DAY;
/// 1970-01-05, the first Monday after the epoch: where weeks are counted from.
const FIRST_MONDAY: i64 = 4 * DAY;

/// The unit of a time bucket's width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// A second.
    Second,
    /// A minute.
    Minute,
    /// An hour.
    Hour,
    /// A day.
    Day,
    /// A week (from Monday).
    Week,
}

impl TimeUnit {
    /// The unit in microseconds.
    pub fn micros(self) -> i64 {
        match self {
            TimeUnit::Second => SECOND,
            TimeUnit::Minute => 60 * SECOND,
            TimeUnit::Hour => 3600 * SECOND,
            TimeUnit::Day => DAY,
            TimeUnit::Week => WEEK,
        }
    }
}

/// Why events cannot be counted in buckets.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum BucketError {
    /// The window ends before it starts.
    #[error("filter.occurred: until is before since")]
    EmptyWindow,
    /// The width is not a usable number.
    #[error("time_interval must be at least 0.01 (and a finite number), got {0}")]
    BadInterval(f64),
    /// The window holds too many buckets.
    #[error(
        "the window holds {0} buckets of this size, more than {MAX_BUCKETS}; choose a longer \
         time_unit or time_interval, or a shorter filter.occurred"
    )]
    TooMany(i64),
}

/// A window cut into buckets of `width` microseconds from `start`; the last bucket holds `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeBuckets {
    /// Where the first bucket starts (at or before the window's start).
    pub start: Micros,
    /// The window's last instant (inclusive, as a filter's `until`).
    pub end: Micros,
    /// Each bucket's width in microseconds (above 0).
    pub width: i64,
}

/// One bucket and how many events fell in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// Where it starts.
    pub start: Micros,
    /// Where it ends (exclusive).
    pub end: Micros,
    /// Events in it.
    pub count: i64,
}

impl TimeBuckets {
    /// Buckets of `interval` `unit`s over `[since, until]`, the first aligned so a bucket
    /// boundary falls on a multiple of its width counted from the epoch (from a Monday for
    /// whole weeks), checked.
    pub fn new(
        since: Micros,
        until: Micros,
        unit: TimeUnit,
        interval: f64,
    ) -> Result<TimeBuckets, BucketError> {
        if until < since {
            return Err(BucketError::EmptyWindow);
        }
        let width = interval * unit.micros() as f64;
        if !interval.is_finite() || interval < 0.01 || width > (i64::MAX / 4) as f64 {
            return Err(BucketError::BadInterval(interval));
        }
        let width = width.round() as i64;
        let origin = if width % WEEK == 0 { FIRST_MONDAY } else { 0 };
        let start = since.0 - (since.0 - origin).rem_euclid(width);
        let buckets = TimeBuckets {
            start: Micros(start),
            end: until,
            width,
        };
        match buckets.len() {
            n if n > MAX_BUCKETS => Err(BucketError::TooMany(n)),
            _ => Ok(buckets),
        }
    }

    /// How many buckets the window holds (at least one).
    pub fn len(&self) -> i64 {
        (self.end.0 - self.start.0) / self.width + 1
    }

    /// Whether there is no bucket (never, for a checked window).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Which bucket an instant in the window falls in.
    pub fn index_of(&self, t: Micros) -> i64 {
        (t.0 - self.start.0).div_euclid(self.width)
    }

    /// Every bucket in order with its count from `counts` (bucket index, count); counts for a
    /// bucket outside the window are dropped.
    pub fn lay_out(&self, counts: &[(i64, i64)]) -> Vec<Bucket> {
        let mut out: Vec<Bucket> = (0..self.len())
            .map(|i| {
                let start = self.start.0 + i * self.width;
                Bucket {
                    start: Micros(start),
                    end: Micros(start + self.width),
                    count: 0,
                }
            })
            .collect();
        for &(index, count) in counts {
            if let Some(bucket) = usize::try_from(index).ok().and_then(|i| out.get_mut(i)) {
                bucket.count += count;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(text: &str) -> Micros {
        Micros::parse(text).unwrap()
    }

    #[test]
    fn day_buckets_start_at_midnight_and_weeks_on_monday() {
        let b = TimeBuckets::new(
            at("2026-11-25T13:00:00Z"),
            at("2026-11-27T01:00:00Z"),
            TimeUnit::Day,
            1.0,
        )
        .unwrap();
        assert_eq!(b.start, at("2026-11-25T00:00:00Z"));
        let laid = b.lay_out(&[(0, 2), (2, 5), (7, 1)]);
        let got: Vec<_> = laid
            .iter()
            .map(|x| (x.start.to_string(), x.count))
            .collect();
        assert_eq!(
            got,
            [
                ("2026-11-25T00:00:00.000000Z".to_owned(), 2),
                ("2026-11-26T00:00:00.000000Z".to_owned(), 0),
                ("2026-11-27T00:00:00.000000Z".to_owned(), 5),
            ]
        );
        let w = TimeBuckets::new(
            at("2026-11-26T13:00:00Z"),
            at("2026-11-27T01:00:00Z"),
            TimeUnit::Week,
            1.0,
        )
        .unwrap();
        assert_eq!(w.start, at("2026-11-23T00:00:00Z"), "a Monday");
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn too_many_buckets_or_a_tiny_interval_are_refused() {
        let (since, until) = (at("2026-11-25T00:00:00Z"), at("2026-11-26T00:00:00Z"));
        assert_eq!(
            TimeBuckets::new(since, until, TimeUnit::Second, 1.0),
            Err(BucketError::TooMany(86_401))
        );
        assert!(TimeBuckets::new(since, until, TimeUnit::Minute, 1.5).is_ok());
        for bad in [0.0, 0.001, -1.0, f64::NAN, f64::INFINITY, 1e300] {
            assert!(
                matches!(
                    TimeBuckets::new(since, until, TimeUnit::Hour, bad),
                    Err(BucketError::BadInterval(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            TimeBuckets::new(until, since, TimeUnit::Hour, 1.0),
            Err(BucketError::EmptyWindow)
        );
    }

    proptest! {
        /// Every instant of the window falls in exactly one bucket, the buckets tile the window
        /// without gaps, and there are never more than the limit.
        #[test]
        fn buckets_tile_the_window(
            since in -1_000_000_000_000_000i64..4_000_000_000_000_000,
            span in 0i64..40 * DAY,
            unit in prop_oneof![Just(TimeUnit::Minute), Just(TimeUnit::Hour), Just(TimeUnit::Day), Just(TimeUnit::Week)],
            interval in 0.01f64..50.0,
            offset in 0.0f64..1.0,
        ) {
            let (since, until) = (Micros(since), Micros(since + span));
            let Ok(b) = TimeBuckets::new(since, until, unit, interval) else {
                return Ok(());
            };
            prop_assert!(b.len() <= MAX_BUCKETS);
            let laid = b.lay_out(&[]);
            prop_assert!(laid[0].start <= since);
            prop_assert!(laid.last().unwrap().end > until);
            for pair in laid.windows(2) {
                prop_assert_eq!(pair[0].end, pair[1].start);
            }
            let t = Micros(since.0 + (span as f64 * offset) as i64);
            let i = b.index_of(t);
            let bucket = laid[usize::try_from(i).unwrap()];
            prop_assert!(bucket.start <= t && t < bucket.end);
        }
    }
}
