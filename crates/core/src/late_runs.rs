//! Late runs: a Scheduled run still waiting [`LATE_AFTER_SECONDS`] past its time becomes `Late`
//! (a Scheduled state of that name, keeping its scheduled time and so its place in the queue), and
//! its deployment's [`LateRunPolicy`] decides what happens to a backlog of them.
//!
//! The policy applies to runs the scheduler created (`auto_scheduled`); a run someone asked for
//! by hand is only ever marked Late, never skipped.

use std::collections::HashMap;

use uuid::Uuid;

use crate::deployment::LateRunPolicy;
use crate::state::{State, StateType};
use crate::time::Micros;

/// Seconds past its scheduled time after which a waiting run is Late (Prefect's default).
pub const LATE_AFTER_SECONDS: f64 = 15.0;

/// The name of the Scheduled state of a late run.
pub const LATE_STATE_NAME: &str = "Late";

/// The name of the Cancelled state of a run its late-run policy skipped.
pub const SKIPPED_STATE_NAME: &str = "Skipped";

/// A Scheduled run whose time is more than [`LATE_AFTER_SECONDS`] past.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OverdueRun {
    /// The flow run.
    pub run_id: Uuid,
    /// Its deployment, if any.
    pub deployment_id: Option<Uuid>,
    /// When it was due.
    pub scheduled_time: Micros,
    /// The scheduler created it (the policy applies only to these).
    pub auto_scheduled: bool,
    /// It is already in the `Late` state.
    pub already_late: bool,
}

/// What to do with an overdue run.
#[derive(Clone, Debug, PartialEq)]
pub enum LateAction {
    /// Move it to a Scheduled state named `Late`.
    MarkLate {
        /// The flow run.
        run_id: Uuid,
    },
    /// Cancel it, as its deployment's policy says.
    Skip {
        /// The flow run.
        run_id: Uuid,
        /// The message of its Cancelled state.
        reason: String,
    },
}

impl LateAction {
    /// The state the run moves to. `current` is its Scheduled state (whose details, including
    /// the scheduled time, a Late state keeps).
    pub fn new_state(&self, current: &State, new_id: Uuid, now: Micros) -> State {
        match self {
            LateAction::MarkLate { .. } => {
                let mut state = State::new(new_id, StateType::Scheduled, now);
                state.name = LATE_STATE_NAME.to_owned();
                state.details = current.details.clone();
                state.message = current.message.clone();
                state
            }
            LateAction::Skip { reason, .. } => {
                let mut state = State::new(new_id, StateType::Cancelled, now);
                state.name = SKIPPED_STATE_NAME.to_owned();
                state.message = Some(reason.clone());
                state
            }
        }
    }
}

/// True when `state` is a Late state: Scheduled, named [`LATE_STATE_NAME`] (as
/// [`LateAction::MarkLate`] makes it).
pub fn is_late(state: &State) -> bool {
    state.state_type == StateType::Scheduled && state.name == LATE_STATE_NAME
}

/// True when a run due at `scheduled_time` is late at `now`.
pub fn is_overdue(scheduled_time: Micros, now: Micros) -> bool {
    now.seconds_since(scheduled_time) > LATE_AFTER_SECONDS
}

/// Decides the fate of overdue runs. Pass every overdue run of a deployment together (the newest
/// is found among them); `policy` gives each deployment's late-run policy.
pub fn late_run_actions(
    runs: &[OverdueRun],
    policy: impl Fn(Uuid) -> LateRunPolicy,
) -> Vec<LateAction> {
    let mut newest: HashMap<Uuid, (Micros, Uuid)> = HashMap::new();
    for run in runs.iter().filter(|r| r.auto_scheduled) {
        if let Some(dep) = run.deployment_id {
            let key = (run.scheduled_time, run.run_id);
            newest
                .entry(dep)
                .and_modify(|n| *n = (*n).max(key))
                .or_insert(key);
        }
    }
    let mark = |run: &OverdueRun| {
        (!run.already_late).then_some(LateAction::MarkLate { run_id: run.run_id })
    };
    runs.iter()
        .filter_map(|run| {
            let governed = run.deployment_id.filter(|_| run.auto_scheduled);
            let Some(dep) = governed else { return mark(run) };
            match policy(dep) {
                LateRunPolicy::RunAll => mark(run),
                LateRunPolicy::Skip => Some(LateAction::Skip {
                    run_id: run.run_id,
                    reason: format!(
                        "Skipped: scheduled for {} and not started in time; the deployment's late-run policy is SKIP.",
                        run.scheduled_time
                    ),
                }),
                LateRunPolicy::NewestOnly if newest[&dep].1 == run.run_id => mark(run),
                LateRunPolicy::NewestOnly => Some(LateAction::Skip {
                    run_id: run.run_id,
                    reason: format!(
                        "Skipped: a newer late run (scheduled for {}) supersedes it; the deployment's late-run policy is NEWEST_ONLY.",
                        newest[&dep].0
                    ),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn run(n: u128, dep: Option<u128>, at: i64, auto: bool, late: bool) -> OverdueRun {
        OverdueRun {
            run_id: Uuid::from_u128(n),
            deployment_id: dep.map(Uuid::from_u128),
            scheduled_time: Micros(at),
            auto_scheduled: auto,
            already_late: late,
        }
    }

    fn skipped(actions: &[LateAction]) -> Vec<Uuid> {
        actions
            .iter()
            .filter_map(|a| match a {
                LateAction::Skip { run_id, .. } => Some(*run_id),
                LateAction::MarkLate { .. } => None,
            })
            .collect()
    }

    #[test]
    fn runs_become_late_fifteen_seconds_after_their_time() {
        let due = Micros(1_000_000_000);
        assert!(!is_overdue(due, due.plus_seconds(15.0)));
        assert!(is_overdue(due, due.plus_seconds(15.5)));
    }

    #[test]
    fn newest_only_keeps_the_last_of_a_backlog() {
        // A worker was down for three hourly runs of deployment 9, and a manual run waits too.
        let runs = [
            run(1, Some(9), 1, true, true),
            run(2, Some(9), 2, true, false),
            run(3, Some(9), 3, true, false),
            run(4, Some(9), 0, false, false),
        ];
        let actions = late_run_actions(&runs, |_| LateRunPolicy::NewestOnly);
        assert_eq!(skipped(&actions), [Uuid::from_u128(1), Uuid::from_u128(2)]);
        assert!(actions.contains(&LateAction::MarkLate {
            run_id: Uuid::from_u128(3)
        }));
        assert!(actions.contains(&LateAction::MarkLate {
            run_id: Uuid::from_u128(4)
        }));
    }

    #[test]
    fn skip_cancels_late_scheduled_runs_and_run_all_only_marks() {
        let runs = [
            run(1, Some(9), 1, true, false),
            run(2, Some(9), 2, true, true),
        ];
        let skip = late_run_actions(&runs, |_| LateRunPolicy::Skip);
        assert_eq!(skipped(&skip).len(), 2);
        let all = late_run_actions(&runs, |_| LateRunPolicy::RunAll);
        assert_eq!(
            all,
            [LateAction::MarkLate {
                run_id: Uuid::from_u128(1)
            }]
        );
    }

    #[test]
    fn a_late_state_keeps_the_scheduled_time_and_a_skip_says_why() {
        let mut current = State::new(Uuid::from_u128(1), StateType::Scheduled, Micros(0));
        current.details.insert(
            "scheduled_time".into(),
            json!("2026-01-01T00:00:00.000000Z"),
        );
        let late = LateAction::MarkLate {
            run_id: Uuid::nil(),
        }
        .new_state(&current, Uuid::from_u128(2), Micros(99));
        assert_eq!(
            (late.state_type, late.name.as_str()),
            (StateType::Scheduled, "Late")
        );
        assert_eq!(late.scheduled_time(), current.scheduled_time());
        assert!(is_late(&late) && !is_late(&current));
        let actions = late_run_actions(&[run(5, Some(9), 1, true, false)], |_| LateRunPolicy::Skip);
        let skip = actions[0].new_state(&current, Uuid::from_u128(3), Micros(99));
        assert_eq!(
            (skip.state_type, skip.name.as_str()),
            (StateType::Cancelled, "Skipped")
        );
        assert!(skip.message.unwrap().contains("SKIP"));
    }

    proptest! {
        /// NEWEST_ONLY leaves exactly one run of each deployment's automatic backlog (its newest),
        /// never skips a manual run, and never acts twice on one run.
        #[test]
        fn newest_only_leaves_one_per_deployment(
            raw in proptest::collection::vec((0u128..3, 0i64..50, proptest::bool::ANY, proptest::bool::ANY), 0..30),
        ) {
            let runs: Vec<_> = raw.iter().enumerate()
                .map(|(i, (d, t, auto, late))| run(i as u128, Some(*d), *t, *auto, *late))
                .collect();
            let actions = late_run_actions(&runs, |_| LateRunPolicy::NewestOnly);
            let skipped = skipped(&actions);
            for dep in 0u128..3 {
                let auto: Vec<_> = runs.iter().filter(|r| r.auto_scheduled && r.deployment_id == Some(Uuid::from_u128(dep))).collect();
                let kept = auto.iter().filter(|r| !skipped.contains(&r.run_id)).count();
                prop_assert_eq!(kept, auto.len().min(1));
                if let Some(kept) = auto.iter().find(|r| !skipped.contains(&r.run_id)) {
                    prop_assert!(auto.iter().all(|r| r.scheduled_time <= kept.scheduled_time));
                }
            }
            prop_assert!(runs.iter().filter(|r| !r.auto_scheduled).all(|r| !skipped.contains(&r.run_id)));
            let mut ids: Vec<_> = actions.iter().map(|a| match a { LateAction::Skip { run_id, .. } | LateAction::MarkLate { run_id } => *run_id }).collect();
            let n = ids.len();
            ids.sort();
            ids.dedup();
            prop_assert_eq!(ids.len(), n);
        }
    }
}
