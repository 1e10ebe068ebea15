//! Deployments' rules that need no storage: their concurrency options, what happens to a backlog
//! of late runs, how a run's parameters are put together, and the deployment's status.

use serde_json::{Map, Value};

use crate::spelling::spelled_enum;
use crate::time::Micros;

/// Seconds since a deployment's queue was last polled within which the deployment counts as
/// `READY` (Prefect's value for deployments and work queues).
pub const POLLED_RECENTLY_SECONDS: f64 = 60.0;

spelled_enum! {
    /// What happens to a new run of a deployment whose concurrency limit is full.
    #[derive(Default)]
    pub enum CollisionStrategy {
        /// The run waits in its queue, keeping its place, until a slot frees (Prefect's default).
        #[default]
        Enqueue = "ENQUEUE",
        /// The run is cancelled instead of waiting.
        CancelNew = "CANCEL_NEW",
    }
}

spelled_enum! {
    /// What happens to a deployment's scheduled runs that are already late (Prefect's issue #19313:
    /// a worker that was down for a day should not have to run 24 missed hourly runs).
    #[derive(Default)]
    pub enum LateRunPolicy {
        /// Every late run still runs (Prefect's behaviour).
        #[default]
        RunAll = "RUN_ALL",
        /// Only the newest late run of the deployment runs; older late runs are skipped.
        NewestOnly = "NEWEST_ONLY",
        /// Late scheduled runs are skipped; only runs that are on time run.
        Skip = "SKIP",
    }
}

spelled_enum! {
    /// `READY` when a worker polled the deployment's queue recently, else `NOT_READY`.
    pub enum DeploymentStatus {
        /// A worker polled for its runs within [`POLLED_RECENTLY_SECONDS`].
        Ready = "READY",
        /// Nothing has polled for its runs lately: its runs would wait.
        NotReady = "NOT_READY",
    }
}

impl DeploymentStatus {
    /// The status at `now`, given when its queue was last polled.
    pub fn at(last_polled: Option<Micros>, now: Micros) -> DeploymentStatus {
        match last_polled {
            Some(t) if now.seconds_since(t) <= POLLED_RECENTLY_SECONDS => DeploymentStatus::Ready,
            _ => DeploymentStatus::NotReady,
        }
    }
}

/// A run's parameters: the deployment's defaults, overridden key by key by the run's own (and,
/// for a scheduled run, by its schedule's), as Prefect merges them.
pub fn merge_parameters(
    defaults: &Map<String, Value>,
    overrides: &Map<String, Value>,
) -> Map<String, Value> {
    let mut merged = defaults.clone();
    merged.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn run_parameters_override_the_deployments_key_by_key() {
        let defaults = json!({"n": 7, "name": "x"});
        let overrides = json!({"n": 1, "extra": true});
        let merged = merge_parameters(
            defaults.as_object().unwrap(),
            overrides.as_object().unwrap(),
        );
        assert_eq!(
            Value::Object(merged),
            json!({"n": 1, "name": "x", "extra": true})
        );
    }

    #[test]
    fn status_follows_the_last_poll() {
        let now = Micros(100_000_000);
        assert_eq!(DeploymentStatus::at(None, now), DeploymentStatus::NotReady);
        assert_eq!(
            DeploymentStatus::at(Some(now.plus_seconds(-59.0)), now),
            DeploymentStatus::Ready
        );
        assert_eq!(
            DeploymentStatus::at(Some(now.plus_seconds(-61.0)), now),
            DeploymentStatus::NotReady
        );
    }
}
