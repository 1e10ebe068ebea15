//! Run history for charts: a window cut into equal intervals, and per-interval counts by state
//! placed into them. The store counts in SQL (one row per interval and state that has runs);
//! [`History::intervals`] lays those rows out over every interval of the window, empty ones
//! included, so a chart needs no arithmetic of its own.

use crate::{Micros, StateType};

/// Most intervals one history may have (a chart is a few hundred pixels wide).
pub const MAX_INTERVALS: i64 = 500;

/// A window `[start, end)` cut into intervals of `interval` microseconds (the last one may be
/// shorter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct History {
    /// Where the first interval starts.
    pub start: Micros,
    /// Where the window ends (exclusive).
    pub end: Micros,
    /// Each interval's length in microseconds (above 0).
    pub interval: i64,
}

/// Why a history cannot be drawn.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum HistoryError {
    /// The window ends before it starts.
    #[error("history_end must be after history_start")]
    EmptyWindow,
    /// The interval is not a positive number of seconds.
    #[error("history_interval_seconds must be above 0 (and at least a microsecond), got {0}")]
    BadInterval(f64),
    /// The window holds too many intervals.
    #[error("the window holds {0} intervals, more than {MAX_INTERVALS}; choose a longer interval")]
    TooMany(i64),
}

/// Runs of one state in one interval, as the store counts them.
#[derive(Clone, Debug, PartialEq)]
pub struct StateCount {
    /// Which interval (0 is the first).
    pub interval: i64,
    /// The runs' state type.
    pub state_type: StateType,
    /// The runs' state name.
    pub state_name: String,
    /// How many runs.
    pub runs: i64,
    /// Their run time in seconds, summed (a running run counts its time so far).
    pub run_time: f64,
    /// How late they started (or, not started yet, are), summed in seconds.
    pub lateness: f64,
}

/// One interval of a history with its counts by state.
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    /// Where it starts.
    pub start: Micros,
    /// Where it ends (exclusive).
    pub end: Micros,
    /// Runs in it by state (none for an empty interval).
    pub states: Vec<StateCount>,
}

impl History {
    /// A window from `start` to `end` cut every `seconds`, checked.
    pub fn new(start: Micros, end: Micros, seconds: f64) -> Result<History, HistoryError> {
        if end <= start {
            return Err(HistoryError::EmptyWindow);
        }
        let interval = seconds * 1e6;
        if !interval.is_finite() || interval < 1.0 || interval > i64::MAX as f64 {
            return Err(HistoryError::BadInterval(seconds));
        }
        let history = History {
            start,
            end,
            interval: interval as i64,
        };
        match history.len() {
            n if n > MAX_INTERVALS => Err(HistoryError::TooMany(n)),
            _ => Ok(history),
        }
    }

    /// How many intervals the window holds.
    pub fn len(&self) -> i64 {
        let span = self.end.0.saturating_sub(self.start.0);
        span / self.interval + i64::from(span % self.interval != 0)
    }

    /// Whether the window holds no interval (never, for a checked history).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every interval of the window, in order, with the counts that fall in it; counts outside
    /// the window are dropped.
    pub fn intervals(&self, counts: Vec<StateCount>) -> Vec<Interval> {
        let mut out: Vec<Interval> = (0..self.len())
            .map(|i| {
                let start = self.start.0 + i * self.interval;
                Interval {
                    start: Micros(start),
                    end: Micros((start + self.interval).min(self.end.0)),
                    states: Vec::new(),
                }
            })
            .collect();
        for count in counts {
            if let Some(slot) = usize::try_from(count.interval)
                .ok()
                .and_then(|i| out.get_mut(i))
            {
                slot.states.push(count);
            }
        }
        for interval in &mut out {
            interval
                .states
                .sort_by(|a, b| (a.state_type, &a.state_name).cmp(&(b.state_type, &b.state_name)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(interval: i64, state_type: StateType, runs: i64) -> StateCount {
        StateCount {
            interval,
            state_type,
            state_name: format!("{state_type:?}"),
            runs,
            run_time: 0.0,
            lateness: 0.0,
        }
    }

    #[test]
    fn a_window_is_cut_into_equal_intervals_the_last_one_shorter() {
        let h = History::new(Micros(0), Micros(25_000_000), 10.0).unwrap();
        let got = h.intervals(Vec::new());
        let bounds: Vec<_> = got.iter().map(|i| (i.start.0, i.end.0)).collect();
        assert_eq!(
            bounds,
            [
                (0, 10_000_000),
                (10_000_000, 20_000_000),
                (20_000_000, 25_000_000)
            ]
        );
    }

    #[test]
    fn counts_land_in_their_interval_and_empty_intervals_stay() {
        let h = History::new(Micros(0), Micros(30_000_000), 10.0).unwrap();
        let got = h.intervals(vec![
            count(2, StateType::Failed, 1),
            count(0, StateType::Completed, 3),
            count(2, StateType::Completed, 2),
            count(7, StateType::Completed, 9),
        ]);
        let runs: Vec<Vec<i64>> = got
            .iter()
            .map(|i| i.states.iter().map(|s| s.runs).collect())
            .collect();
        assert_eq!(
            runs,
            [vec![3], vec![], vec![2, 1]],
            "an interval outside is dropped"
        );
    }

    #[test]
    fn bad_windows_are_refused_with_a_reason() {
        assert_eq!(
            History::new(Micros(5), Micros(5), 1.0),
            Err(HistoryError::EmptyWindow)
        );
        assert_eq!(
            History::new(Micros(0), Micros(10), 0.0),
            Err(HistoryError::BadInterval(0.0))
        );
        assert_eq!(
            History::new(Micros(0), Micros(10), f64::NAN)
                .unwrap_err()
                .to_string(),
            "history_interval_seconds must be above 0 (and at least a microsecond), got NaN"
        );
        assert_eq!(
            History::new(Micros(0), Micros(1_000_000_000), 1.0),
            Err(HistoryError::TooMany(1000))
        );
    }
}
