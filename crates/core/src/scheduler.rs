//! The scheduler's decision: which runs of a deployment to create ahead of time.
//!
//! For each active schedule, the runs due from `now` on are wanted while there are fewer than
//! `min_runs` of them or they fall within `min_ahead` of now, and never more than `max_runs`
//! (or the schedule's own `max_scheduled_runs`) nor further than `max_ahead` (Prefect's scheduler
//! settings and defaults). Times already created are left out, and two schedules of one deployment
//! that want the same time make one run: the plan is idempotent, and each planned run carries the
//! idempotency key `scheduled <deployment id> <time>` so that a store that inserts with "on conflict
//! do nothing" makes one run per deployment and time even when several replicas plan at once.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::deployment::merge_parameters;
use crate::schedule::Schedule;
use crate::time::Micros;

/// How far ahead runs are created.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Horizon {
    /// Create at least this many future runs per schedule (when the schedule has them).
    pub min_runs: usize,
    /// Never more than this many future runs per schedule.
    pub max_runs: usize,
    /// Create every run due within this many seconds.
    pub min_ahead_seconds: f64,
    /// Never create a run due later than this many seconds ahead.
    pub max_ahead_seconds: f64,
}

impl Default for Horizon {
    /// Prefect's defaults: 3 to 100 runs, at least an hour ahead, at most 100 days.
    fn default() -> Horizon {
        Horizon {
            min_runs: 3,
            max_runs: 100,
            min_ahead_seconds: 3600.0,
            max_ahead_seconds: 100.0 * 86_400.0,
        }
    }
}

/// One of a deployment's schedules, as the scheduler sees it.
#[derive(Clone, Copy, Debug)]
pub struct ScheduleEntry<'a> {
    /// The deployment schedule's id.
    pub id: Uuid,
    /// When it is due.
    pub schedule: &'a Schedule,
    /// Inactive schedules create no runs.
    pub active: bool,
    /// Overrides [`Horizon::max_runs`] for this schedule.
    pub max_scheduled_runs: Option<usize>,
    /// Parameters this schedule sets on its runs, over the deployment's.
    pub parameters: &'a Map<String, Value>,
}

/// A run to create.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRun {
    /// When it is due.
    pub scheduled_time: Micros,
    /// The schedule that wants it (the first, when several do).
    pub schedule_id: Uuid,
    /// The deployment's parameters overlaid with the schedule's.
    pub parameters: Map<String, Value>,
    /// The flow run's idempotency key: one run per deployment and time.
    pub idempotency_key: String,
}

/// The idempotency key of a deployment's scheduled run at `time`.
pub fn idempotency_key(deployment_id: Uuid, time: Micros) -> String {
    format!("scheduled {deployment_id} {time}")
}

/// A deployment as the scheduler plans it.
#[derive(Clone, Copy, Debug)]
pub struct DeploymentSchedules<'a> {
    /// The deployment.
    pub deployment_id: Uuid,
    /// Its default parameters.
    pub parameters: &'a Map<String, Value>,
    /// A paused deployment plans nothing.
    pub paused: bool,
    /// Its schedules.
    pub schedules: &'a [ScheduleEntry<'a>],
    /// Due times of its scheduled runs that already exist.
    pub existing: &'a BTreeSet<Micros>,
}

/// What a deployment's schedules want created now, in time order.
pub fn plan_runs(
    deployment: &DeploymentSchedules<'_>,
    now: Micros,
    horizon: &Horizon,
) -> Vec<PlannedRun> {
    if deployment.paused {
        return Vec::new();
    }
    let min_end = now.plus_seconds(horizon.min_ahead_seconds);
    let max_end = now.plus_seconds(horizon.max_ahead_seconds);
    let mut wanted: BTreeMap<Micros, &ScheduleEntry<'_>> = BTreeMap::new();
    for entry in deployment.schedules.iter().filter(|e| e.active) {
        let max = entry.max_scheduled_runs.unwrap_or(horizon.max_runs);
        let times = entry.schedule.runs_between(now, max_end).take(max);
        for (i, at) in times.enumerate() {
            if i >= horizon.min_runs && at > min_end {
                break;
            }
            wanted.entry(at).or_insert(entry);
        }
    }
    wanted
        .into_iter()
        .filter(|(at, _)| !deployment.existing.contains(at))
        .map(|(at, entry)| PlannedRun {
            scheduled_time: at,
            schedule_id: entry.id,
            parameters: merge_parameters(deployment.parameters, entry.parameters),
            idempotency_key: idempotency_key(deployment.deployment_id, at),
        })
        .collect()
}

/// The longest the scheduler waits before looking at a deployment again, whatever its schedules.
pub const MAX_REPLAN_WAIT_SECONDS: f64 = 3600.0;

/// When planning a deployment again could create a run, once what [`plan_runs`] planned at `now`
/// exists: when its first future run passes (the window of `min_runs` moves on) or when the next
/// run beyond the planned ones comes within `min_ahead`, whichever is first; never sooner than a
/// second from now nor later than [`MAX_REPLAN_WAIT_SECONDS`]. The scheduler stores it, so a pass
/// looks only at deployments that may need runs. (Because of the one-second floor, a run may
/// become wanted before then, but never one due before then.)
pub fn replan_at(deployment: &DeploymentSchedules<'_>, now: Micros, horizon: &Horizon) -> Micros {
    let mut at = now.plus_seconds(MAX_REPLAN_WAIT_SECONDS);
    if deployment.paused {
        return at;
    }
    let max_end = now.plus_seconds(horizon.max_ahead_seconds);
    let covered = now.plus_seconds(horizon.min_ahead_seconds);
    for entry in deployment.schedules.iter().filter(|e| e.active) {
        let max = entry.max_scheduled_runs.unwrap_or(horizon.max_runs);
        let mut times = entry.schedule.runs_between(now, max_end).peekable();
        if let Some(first) = times.peek() {
            at = at.min(Micros(first.0 + 1));
        }
        // Only as far as the first run beyond the planned window: not all `max` of them.
        let beyond = times
            .take(max)
            .enumerate()
            .find(|(i, t)| *i >= horizon.min_runs && *t > covered);
        if let Some((_, next)) = beyond {
            at = at.min(next.plus_seconds(-horizon.min_ahead_seconds));
        }
    }
    at.max(now.plus_seconds(1.0))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn at(s: &str) -> Micros {
        Micros::parse(s).unwrap()
    }

    fn empty() -> Map<String, Value> {
        Map::new()
    }

    fn plan_for(
        deployment_id: Uuid,
        parameters: &Map<String, Value>,
        paused: bool,
        schedules: &[ScheduleEntry<'_>],
        existing: &BTreeSet<Micros>,
        now: Micros,
        horizon: &Horizon,
    ) -> Vec<PlannedRun> {
        let deployment = DeploymentSchedules {
            deployment_id,
            parameters,
            paused,
            schedules,
            existing,
        };
        plan_runs(&deployment, now, horizon)
    }

    #[test]
    fn an_hourly_schedule_gets_three_runs_and_every_run_within_the_hour() {
        let hourly = Schedule::cron("0 * * * *", None, true).unwrap();
        let every_ten = Schedule::cron("*/10 * * * *", None, true).unwrap();
        let now = at("2026-05-01T12:05:00Z");
        let params = empty();
        for (schedule, expected) in [(&hourly, 3), (&every_ten, 6)] {
            let entry = ScheduleEntry {
                id: Uuid::nil(),
                schedule,
                active: true,
                max_scheduled_runs: None,
                parameters: &params,
            };
            let plan = plan_for(
                Uuid::nil(),
                &params,
                false,
                &[entry],
                &BTreeSet::new(),
                now,
                &Horizon::default(),
            );
            assert_eq!(plan.len(), expected, "{plan:?}");
        }
    }

    #[test]
    fn schedule_parameters_override_the_deployments_and_keys_name_deployment_and_time() {
        let daily = Schedule::cron("0 9 * * *", None, true).unwrap();
        let dep_params = json!({"n": 1, "who": "all"}).as_object().unwrap().clone();
        let sched_params = json!({"n": 2}).as_object().unwrap().clone();
        let entry = ScheduleEntry {
            id: Uuid::from_u128(7),
            schedule: &daily,
            active: true,
            max_scheduled_runs: Some(1),
            parameters: &sched_params,
        };
        let dep = Uuid::from_u128(42);
        let plan = plan_for(
            dep,
            &dep_params,
            false,
            &[entry],
            &BTreeSet::new(),
            at("2026-05-01T00:00:00Z"),
            &Horizon::default(),
        );
        assert_eq!(plan.len(), 1);
        assert_eq!(
            Value::Object(plan[0].parameters.clone()),
            json!({"n": 2, "who": "all"})
        );
        assert_eq!(
            plan[0].idempotency_key,
            format!("scheduled {dep} 2026-05-01T09:00:00.000000Z")
        );
        assert_eq!(plan[0].schedule_id, Uuid::from_u128(7));
    }

    #[test]
    fn paused_deployments_and_inactive_schedules_plan_nothing() {
        let s = Schedule::cron("* * * * *", None, true).unwrap();
        let p = empty();
        let active = ScheduleEntry {
            id: Uuid::nil(),
            schedule: &s,
            active: true,
            max_scheduled_runs: None,
            parameters: &p,
        };
        let inactive = ScheduleEntry {
            active: false,
            ..active
        };
        let now = at("2026-05-01T00:00:00Z");
        assert!(
            plan_for(
                Uuid::nil(),
                &p,
                true,
                &[active],
                &BTreeSet::new(),
                now,
                &Horizon::default()
            )
            .is_empty()
        );
        assert!(
            plan_for(
                Uuid::nil(),
                &p,
                false,
                &[inactive],
                &BTreeSet::new(),
                now,
                &Horizon::default()
            )
            .is_empty()
        );
    }

    fn schedule() -> impl Strategy<Value = Schedule> {
        prop_oneof![
            proptest::sample::select(
                &[
                    "* * * * *",
                    "*/5 * * * *",
                    "0 * * * *",
                    "0 9 * * 1-5",
                    "0 0 1 * *"
                ][..]
            )
            .prop_map(|c| Schedule::cron(c, Some("Europe/Berlin"), true).unwrap()),
            (60u32..400_000).prop_map(|s| Schedule::interval(
                s as f64,
                Micros(1_700_000_000_000_000),
                Some("America/New_York")
            )
            .unwrap()),
        ]
    }

    proptest! {
        /// Planning again with what was planned creates nothing (idempotent); planned times are
        /// unique, not before now, within the horizon, and absent from `existing`; each schedule
        /// gets at least `min_runs` (or every run within `min_ahead`) counting what exists.
        #[test]
        fn planning_is_idempotent_and_bounded(
            schedules in proptest::collection::vec((schedule(), proptest::option::of(1usize..10), proptest::bool::weighted(0.8)), 1..4),
            now in (1_760_000_000_000_000i64..1_800_000_000_000_000).prop_map(Micros),
            existing_sample in proptest::collection::vec(0usize..50, 0..5),
        ) {
            let params = empty();
            let entries: Vec<_> = schedules.iter().enumerate().map(|(i, (s, max, active))| ScheduleEntry {
                id: Uuid::from_u128(i as u128), schedule: s, active: *active, max_scheduled_runs: *max, parameters: &params,
            }).collect();
            let horizon = Horizon { min_runs: 3, max_runs: 20, min_ahead_seconds: 3600.0, max_ahead_seconds: 30.0 * 86_400.0 };
            let dep = Uuid::from_u128(99);
            let full = plan_for(dep, &params, false, &entries, &BTreeSet::new(), now, &horizon);
            // Some of those already exist.
            let existing: BTreeSet<_> = existing_sample.iter().filter_map(|i| full.get(*i)).map(|r| r.scheduled_time).collect();
            let plan = plan_for(dep, &params, false, &entries, &existing, now, &horizon);
            let times: Vec<_> = plan.iter().map(|r| r.scheduled_time).collect();
            prop_assert!(times.windows(2).all(|w| w[0] < w[1]));
            for r in &plan {
                prop_assert!(!existing.contains(&r.scheduled_time));
                prop_assert!(r.scheduled_time >= now && r.scheduled_time < now.plus_seconds(horizon.max_ahead_seconds));
            }
            let mut all: BTreeSet<_> = existing.clone();
            all.extend(times);
            prop_assert_eq!(all.len(), full.len());
            prop_assert!(plan_for(dep, &params, false, &entries, &all, now, &horizon).is_empty());
            for e in entries.iter().filter(|e| e.active) {
                let max = e.max_scheduled_runs.unwrap_or(horizon.max_runs);
                let available = e.schedule.occurrences(now, now.plus_seconds(horizon.max_ahead_seconds), max);
                let covered = available.iter().filter(|t| all.contains(t)).count();
                prop_assert!(covered >= horizon.min_runs.min(available.len()));
                for t in available.iter().filter(|t| **t <= now.plus_seconds(horizon.min_ahead_seconds)) {
                    prop_assert!(all.contains(t));
                }
            }
        }
        /// Between a plan and `replan_at`, planning again (with the planned runs stored) creates
        /// nothing that is due before `replan_at`: the scheduler may sleep until then.
        #[test]
        fn nothing_is_missed_before_replan_at(
            schedule in schedule(),
            max in proptest::option::of(1usize..6),
            now in (1_760_000_000_000_000i64..1_800_000_000_000_000).prop_map(Micros),
            fraction in 0.0f64..1.0,
        ) {
            let params = empty();
            let entries = [ScheduleEntry { id: Uuid::nil(), schedule: &schedule, active: true, max_scheduled_runs: max, parameters: &params }];
            let horizon = Horizon { min_runs: 3, max_runs: 20, min_ahead_seconds: 3600.0, max_ahead_seconds: 30.0 * 86_400.0 };
            let existing = BTreeSet::new();
            let dep = DeploymentSchedules { deployment_id: Uuid::nil(), parameters: &params, paused: false, schedules: &entries, existing: &existing };
            let planned: BTreeSet<_> = plan_runs(&dep, now, &horizon).iter().map(|r| r.scheduled_time).collect();
            let stored = DeploymentSchedules { existing: &planned, ..dep };
            let at = replan_at(&stored, now, &horizon);
            prop_assert!(at > now && at <= now.plus_seconds(MAX_REPLAN_WAIT_SECONDS));
            let between = Micros(now.0 + ((at.0 - now.0 - 1) as f64 * fraction) as i64);
            // Anything wanted before then (only because `replan_at` waits at least a second) is
            // not due before then.
            let early = plan_runs(&stored, between, &horizon);
            prop_assert!(early.iter().all(|r| r.scheduled_time >= at), "{early:?} at {between} before {at}");
        }
    }
}
