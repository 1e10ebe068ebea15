//! Retention: how long each kind of record is kept, and the cutoff that follows at a given time.
//!
//! Only finished things age out: a flow run (with its states, task runs, inputs and logs) once
//! it has been in a terminal state for its age, a task run outside any flow run likewise; log
//! lines and events by their own time. A kind without an age is kept forever.

use std::time::Duration;

use crate::Micros;

/// What retention removes, one kind at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prunable {
    /// Flow runs finished before the cutoff, with their states, task runs, inputs and logs.
    FlowRuns,
    /// Task runs outside any flow run (submitted alone) finished before the cutoff.
    TaskRuns,
    /// Log lines stamped before the cutoff.
    Logs,
    /// Events that occurred before the cutoff.
    Events,
}

impl Prunable {
    /// Every kind, in the order a pass prunes them (runs first: their logs go with them).
    pub const ALL: [Prunable; 4] = [
        Prunable::FlowRuns,
        Prunable::TaskRuns,
        Prunable::Logs,
        Prunable::Events,
    ];

    /// The kind's name in flags, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Prunable::FlowRuns => "flow_runs",
            Prunable::TaskRuns => "task_runs",
            Prunable::Logs => "logs",
            Prunable::Events => "events",
        }
    }
}

/// How long each kind is kept (`None`: forever).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Finished flow runs and task runs (the two share an age: a flow run's task runs go with it).
    pub runs: Option<Duration>,
    /// Log lines.
    pub logs: Option<Duration>,
    /// Events (Prefect keeps them 7 days by default).
    pub events: Option<Duration>,
}

/// One day.
const DAY: Duration = Duration::from_secs(24 * 3600);

impl Default for Retention {
    /// Runs 90 days, logs 30 days, events 7 days.
    fn default() -> Retention {
        Retention {
            runs: Some(DAY * 90),
            logs: Some(DAY * 30),
            events: Some(DAY * 7),
        }
    }
}

impl Retention {
    /// The age of `kind`.
    pub fn age(&self, kind: Prunable) -> Option<Duration> {
        match kind {
            Prunable::FlowRuns | Prunable::TaskRuns => self.runs,
            Prunable::Logs => self.logs,
            Prunable::Events => self.events,
        }
    }

    /// For each kind that ages out, the time before which its records go, at `now`.
    pub fn cutoffs(&self, now: Micros) -> Vec<(Prunable, Micros)> {
        Prunable::ALL
            .into_iter()
            .filter_map(|kind| {
                let age = i128::try_from(self.age(kind)?.as_micros()).unwrap_or(i128::MAX);
                let cutoff = i128::from(now.0)
                    .saturating_sub(age)
                    .max(i128::from(i64::MIN));
                Some((kind, Micros(i64::try_from(cutoff).unwrap_or(i64::MIN))))
            })
            .collect()
    }
}

/// Reads an age as flags give it: `90d`, `12h`, `30m`, `45s` (a whole number and a unit), or
/// `forever` (`None`: never pruned).
pub fn parse_age(text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("forever") {
        return Ok(None);
    }
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_at);
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 24 * 3600,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 && seconds > 0 => Ok(Some(Duration::from_secs(n.saturating_mul(seconds)))),
        _ => Err(format!(
            "{text:?} is not an age: write a whole number and a unit (90d, 12h, 30m, 45s), or forever"
        )),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn kinds_without_an_age_are_kept_forever() {
        let keep_events_only = Retention {
            runs: None,
            logs: None,
            events: Some(Duration::from_secs(60)),
        };
        assert_eq!(
            keep_events_only.cutoffs(Micros(100_000_000)),
            vec![(Prunable::Events, Micros(40_000_000))]
        );
    }

    #[test]
    fn ages_read_as_flags_give_them() {
        assert_eq!(parse_age("90d"), Ok(Some(DAY * 90)));
        assert_eq!(parse_age(" 5m "), Ok(Some(Duration::from_secs(300))));
        assert_eq!(parse_age("Forever"), Ok(None));
        for bad in ["", "d", "0d", "10", "1.5h", "-3d", "7 days", "5w"] {
            let err = parse_age(bad).unwrap_err();
            assert!(err.contains("not an age"), "{bad}: {err}");
        }
    }

    proptest! {
        /// A cutoff is exactly `age` before now, never in the future, and moves with now; an age
        /// longer than all of time keeps everything.
        #[test]
        fn cutoffs_trail_now_by_the_age(now in any::<i64>(), secs in any::<u64>()) {
            let r = Retention { runs: Some(Duration::from_secs(secs)), logs: None, events: None };
            for (_, cutoff) in r.cutoffs(Micros(now)) {
                prop_assert!(cutoff.0 <= now);
                let expected = i128::from(now) - i128::from(secs) * 1_000_000;
                prop_assert_eq!(i128::from(cutoff.0), expected.max(i128::from(i64::MIN)));
            }
        }
    }
}
