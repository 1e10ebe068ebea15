//! Work pools and their workers: statuses derived from heartbeats at read time (no service has to
//! keep a stored status up to date), and the checks on a pool's settings.

use crate::spelling::spelled_enum;
use crate::time::Micros;

/// The heartbeat interval a worker is assumed to keep when it does not say (Prefect's default).
pub const DEFAULT_HEARTBEAT_SECONDS: f64 = 30.0;

/// A worker is offline once this many of its heartbeat intervals pass without a heartbeat
/// (Prefect's inactivity multiple).
pub const MISSED_HEARTBEATS_OFFLINE: f64 = 3.0;

/// The name of the queue every pool is created with.
pub const DEFAULT_QUEUE_NAME: &str = "default";

/// The description of a pool's default queue (Prefect's words).
pub const DEFAULT_QUEUE_DESCRIPTION: &str = "The work pool's default queue.";

spelled_enum! {
    /// Whether a worker is heartbeating.
    pub enum WorkerStatus {
        /// Heard from within [`MISSED_HEARTBEATS_OFFLINE`] heartbeat intervals.
        Online = "ONLINE",
        /// Silent for longer.
        Offline = "OFFLINE",
    }
}

impl WorkerStatus {
    /// The status at `now` of a worker last heard from at `last_heartbeat`, which promised a
    /// heartbeat every `interval_seconds` (`None`: [`DEFAULT_HEARTBEAT_SECONDS`]).
    pub fn at(last_heartbeat: Micros, interval_seconds: Option<f64>, now: Micros) -> WorkerStatus {
        if now <= WorkerStatus::offline_after(last_heartbeat, interval_seconds) {
            WorkerStatus::Online
        } else {
            WorkerStatus::Offline
        }
    }

    /// The last instant a worker heard from at `last_heartbeat` still counts as online (stored
    /// with the worker, so "which workers are online" is one comparison with now).
    pub fn offline_after(last_heartbeat: Micros, interval_seconds: Option<f64>) -> Micros {
        let interval = interval_seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(DEFAULT_HEARTBEAT_SECONDS);
        last_heartbeat.plus_seconds(interval * MISSED_HEARTBEATS_OFFLINE)
    }
}

spelled_enum! {
    /// Whether a pool can run work now (the seed's "Ready" / "Not Ready" / "Paused").
    pub enum PoolStatus {
        /// Not paused, and at least one worker is online.
        Ready = "READY",
        /// Not paused, but no worker is online: its runs would wait.
        NotReady = "NOT_READY",
        /// Paused: it hands out no runs.
        Paused = "PAUSED",
    }
}

impl PoolStatus {
    /// A pool's status from its paused flag and its workers' statuses.
    pub fn of(paused: bool, workers: impl IntoIterator<Item = WorkerStatus>) -> PoolStatus {
        if paused {
            PoolStatus::Paused
        } else if workers.into_iter().any(|w| w == WorkerStatus::Online) {
            PoolStatus::Ready
        } else {
            PoolStatus::NotReady
        }
    }
}

/// A concurrency limit that is not a non-negative whole number.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {value} is not a valid concurrency limit; give 0 or more, or null for no limit")]
pub struct LimitError {
    /// The field that carried it (`concurrency_limit`).
    pub field: &'static str,
    /// The value as given.
    pub value: i64,
}

/// Checks a concurrency limit from the wire: `None` is "no limit", `0` hands out nothing.
pub fn check_limit(field: &'static str, value: Option<i64>) -> Result<Option<u32>, LimitError> {
    match value {
        None => Ok(None),
        Some(v) => u32::try_from(v)
            .map(Some)
            .map_err(|_| LimitError { field, value: v }),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_worker_goes_offline_after_three_missed_heartbeats() {
        let beat = Micros(1_000_000_000);
        assert_eq!(
            WorkerStatus::at(beat, Some(30.0), beat.plus_seconds(90.0)),
            WorkerStatus::Online
        );
        assert_eq!(
            WorkerStatus::at(beat, Some(30.0), beat.plus_seconds(90.1)),
            WorkerStatus::Offline
        );
        assert_eq!(
            WorkerStatus::at(beat, Some(5.0), beat.plus_seconds(16.0)),
            WorkerStatus::Offline
        );
        // A missing or nonsensical interval falls back to 30 s.
        assert_eq!(
            WorkerStatus::at(beat, None, beat.plus_seconds(60.0)),
            WorkerStatus::Online
        );
        assert_eq!(
            WorkerStatus::at(beat, Some(-1.0), beat.plus_seconds(60.0)),
            WorkerStatus::Online
        );
    }

    #[test]
    fn a_pool_is_ready_with_an_online_worker_and_paused_above_all() {
        use WorkerStatus::*;
        assert_eq!(PoolStatus::of(false, []), PoolStatus::NotReady);
        assert_eq!(
            PoolStatus::of(false, [Offline, Offline]),
            PoolStatus::NotReady
        );
        assert_eq!(PoolStatus::of(false, [Offline, Online]), PoolStatus::Ready);
        assert_eq!(PoolStatus::of(true, [Online]), PoolStatus::Paused);
    }

    #[test]
    fn limits_must_be_whole_and_not_negative() {
        assert_eq!(check_limit("concurrency_limit", None), Ok(None));
        assert_eq!(check_limit("concurrency_limit", Some(0)), Ok(Some(0)));
        let err = check_limit("concurrency_limit", Some(-1))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("concurrency_limit: -1"), "{err}");
    }

    proptest! {
        /// A worker is online exactly while the time since its heartbeat is within three intervals.
        #[test]
        fn online_is_monotone_in_silence(beat in 0i64..1_000_000_000_000, interval in 1.0f64..600.0, a in 0.0f64..5_000.0, b in 0.0f64..5_000.0) {
            let (early, late) = if a <= b { (a, b) } else { (b, a) };
            let at = |s: f64| WorkerStatus::at(Micros(beat), Some(interval), Micros(beat).plus_seconds(s));
            if at(late) == WorkerStatus::Online {
                prop_assert_eq!(at(early), WorkerStatus::Online);
            }
            prop_assume!((early - interval * 3.0).abs() > 1e-5);
            prop_assert_eq!(at(early) == WorkerStatus::Online, early < interval * 3.0);
        }
    }
}
