use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use super::*;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn queue(n: u128, priority: u32, limit: Option<u32>) -> QueueSnapshot {
    QueueSnapshot {
        id: id(n),
        priority,
        paused: false,
        slots: Slots { limit, active: 0 },
    }
}

fn due(run: u128, queue: u128, deployment: Option<u128>, at: i64) -> DueRun {
    DueRun {
        id: id(run),
        queue_id: id(queue),
        deployment_id: deployment.map(id),
        scheduled_time: Micros(at),
    }
}

fn request<'a>(
    queues: &'a [QueueSnapshot],
    deployments: &'a [DeploymentSnapshot],
    due: &'a [DueRun],
) -> HandOutRequest<'a> {
    HandOutRequest {
        pool_paused: false,
        pool_slots: Slots::default(),
        queues,
        deployments,
        due,
        max_runs: usize::MAX,
    }
}

#[test]
fn higher_priority_queues_go_first_then_earliest_scheduled() {
    let queues = [queue(10, 5, None), queue(11, 1, None)];
    let runs = [
        due(1, 10, None, 1),
        due(2, 11, None, 30),
        due(3, 11, None, 20),
    ];
    let out = hand_out(request(&queues, &[], &runs));
    assert_eq!(out.runs, [id(3), id(2), id(1)]);
}

#[test]
fn a_full_deployment_never_hides_other_deployments_runs() {
    // Prefect #19403: 200 waiting runs of a deployment limited to 1 (already running one) sit
    // ahead of another deployment's run in the same queue; the other run still goes out.
    let queues = [queue(10, 1, None)];
    let limited = DeploymentSnapshot {
        id: id(100),
        paused: false,
        slots: Slots {
            limit: Some(1),
            active: 1,
        },
        collision: CollisionStrategy::Enqueue,
    };
    let mut runs: Vec<_> = (0..200).map(|i| due(i, 10, Some(100), i as i64)).collect();
    runs.push(due(999, 10, Some(200), 10_000));
    let mut req = request(&queues, std::slice::from_ref(&limited), &runs);
    req.max_runs = 10;
    let out = hand_out(req);
    assert_eq!(out.runs, [id(999)]);
    assert!(out.cancel.is_empty());
}

#[test]
fn a_lowered_limit_counts_active_runs_at_once() {
    // Prefect #19404: a queue lowered from 5 to 2 while 4 runs are active hands out nothing.
    let mut q = queue(10, 1, Some(2));
    q.slots.active = 4;
    let runs = [due(1, 10, None, 0)];
    assert!(hand_out(request(&[q], &[], &runs)).runs.is_empty());
}

#[test]
fn cancel_new_cancels_runs_beyond_the_deployments_limit() {
    let queues = [queue(10, 1, None)];
    let dep = DeploymentSnapshot {
        id: id(100),
        paused: false,
        slots: Slots {
            limit: Some(1),
            active: 0,
        },
        collision: CollisionStrategy::CancelNew,
    };
    let runs = [due(1, 10, Some(100), 0), due(2, 10, Some(100), 1)];
    let out = hand_out(request(&queues, std::slice::from_ref(&dep), &runs));
    assert_eq!(out.runs, [id(1)]);
    assert_eq!(out.cancel.len(), 1);
    assert_eq!(out.cancel[0].run_id, id(2));
    assert!(
        out.cancel[0].reason.contains("CANCEL_NEW"),
        "{}",
        out.cancel[0].reason
    );
}

#[test]
fn paused_pools_queues_and_deployments_hand_out_nothing() {
    let mut paused_queue = queue(11, 1, None);
    paused_queue.paused = true;
    let queues = [queue(10, 2, None), paused_queue];
    let paused_dep = DeploymentSnapshot {
        id: id(100),
        paused: true,
        slots: Slots::default(),
        collision: CollisionStrategy::Enqueue,
    };
    let runs = [
        due(1, 11, None, 0),
        due(2, 10, Some(100), 0),
        due(3, 10, None, 0),
        due(4, 99, None, 0), // a queue the worker did not ask for
    ];
    let deployments = [paused_dep];
    let out = hand_out(request(&queues, &deployments, &runs));
    assert_eq!(out.runs, [id(3)]);
    let mut req = request(&queues, &deployments, &runs);
    req.pool_paused = true;
    assert_eq!(hand_out(req), HandOut::default());
}

#[test]
fn the_pool_limit_and_the_workers_capacity_cap_the_batch() {
    let queues = [queue(10, 1, None)];
    let runs: Vec<_> = (0..10).map(|i| due(i, 10, None, i as i64)).collect();
    let mut req = request(&queues, &[], &runs);
    req.pool_slots = Slots {
        limit: Some(5),
        active: 2,
    };
    assert_eq!(hand_out(req).runs, [id(0), id(1), id(2)]);
    req.pool_slots = Slots::default();
    req.max_runs = 4;
    assert_eq!(hand_out(req).runs.len(), 4);
}

/// A random pool: up to 4 queues, 4 deployments, 40 runs, limits and pauses anywhere.
#[derive(Debug, Clone)]
struct Scenario {
    pool_paused: bool,
    pool_slots: Slots,
    queues: Vec<QueueSnapshot>,
    deployments: Vec<DeploymentSnapshot>,
    due: Vec<DueRun>,
    max_runs: usize,
}

fn slots() -> impl Strategy<Value = Slots> {
    (proptest::option::of(0u32..6), 0u32..8).prop_map(|(limit, active)| Slots { limit, active })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let queues =
        proptest::collection::vec((1u32..6, proptest::bool::weighted(0.15), slots()), 1..5);
    let deployments = proptest::collection::vec(
        (proptest::bool::weighted(0.15), slots(), proptest::bool::ANY),
        0..5,
    );
    let due =
        proptest::collection::vec((0u128..5, proptest::option::of(0u128..5), 0i64..20), 0..40);
    (
        proptest::bool::weighted(0.1),
        slots(),
        queues,
        deployments,
        due,
        0usize..50,
    )
        .prop_map(
            |(pool_paused, pool_slots, queues, deployments, due, max_runs)| Scenario {
                pool_paused,
                pool_slots,
                queues: queues
                    .into_iter()
                    .enumerate()
                    .map(|(i, (priority, paused, slots))| QueueSnapshot {
                        id: id(i as u128),
                        priority,
                        paused,
                        slots,
                    })
                    .collect(),
                deployments: deployments
                    .into_iter()
                    .enumerate()
                    .map(|(i, (paused, slots, cancel))| DeploymentSnapshot {
                        id: id(100 + i as u128),
                        paused,
                        slots,
                        collision: if cancel {
                            CollisionStrategy::CancelNew
                        } else {
                            CollisionStrategy::Enqueue
                        },
                    })
                    .collect(),
                due: due
                    .into_iter()
                    .enumerate()
                    .map(|(i, (q, d, t))| DueRun {
                        id: id(1000 + i as u128),
                        queue_id: id(q),
                        deployment_id: d.map(|d| id(100 + d)),
                        scheduled_time: Micros(t),
                    })
                    .collect(),
                max_runs,
            },
        )
}

impl Scenario {
    fn request(&self) -> HandOutRequest<'_> {
        HandOutRequest {
            pool_paused: self.pool_paused,
            pool_slots: self.pool_slots,
            queues: &self.queues,
            deployments: &self.deployments,
            due: &self.due,
            max_runs: self.max_runs,
        }
    }
}

fn within(slots: Slots, taken: usize) -> bool {
    slots.free().is_none_or(|free| taken as u32 <= free)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// No limit is exceeded, nothing paused goes out, nothing goes out twice or to the wrong pool.
    #[test]
    fn limits_and_pauses_hold(s in scenario()) {
        let out = hand_out(s.request());
        let handed: HashSet<_> = out.runs.iter().copied().collect();
        prop_assert_eq!(handed.len(), out.runs.len());
        prop_assert!(out.runs.len() <= s.max_runs);
        prop_assert!(within(s.pool_slots, out.runs.len()));
        if s.pool_paused { prop_assert!(out.runs.is_empty() && out.cancel.is_empty()); }
        let runs: HashMap<_, _> = s.due.iter().map(|r| (r.id, r)).collect();
        for q in &s.queues {
            let n = out.runs.iter().filter(|r| runs[*r].queue_id == q.id).count();
            prop_assert!(within(q.slots, n));
            prop_assert!(!q.paused || n == 0);
        }
        for d in &s.deployments {
            let n = out.runs.iter().filter(|r| runs[*r].deployment_id == Some(d.id)).count();
            prop_assert!(within(d.slots, n));
            prop_assert!(!d.paused || n == 0);
        }
        for c in &out.cancel {
            prop_assert!(!handed.contains(&c.run_id));
            let dep = s.deployments.iter().find(|d| Some(d.id) == runs[&c.run_id].deployment_id).unwrap();
            prop_assert_eq!(dep.collision, CollisionStrategy::CancelNew);
        }
        for r in &out.runs {
            prop_assert!(s.queues.iter().any(|q| q.id == runs[r].queue_id));
        }
    }

    /// Runs go out in (priority, scheduled time) order, and a run that stays behind was blocked by
    /// its own queue or deployment, or came after the batch filled: nothing starves behind a full
    /// deployment, and lower priorities never overtake a higher one that had room.
    #[test]
    fn order_and_no_starvation(s in scenario()) {
        let out = hand_out(s.request());
        let queue = |r: &DueRun| s.queues.iter().find(|q| q.id == r.queue_id);
        let key = |r: &DueRun| (queue(r).unwrap().priority, r.scheduled_time, r.id);
        let runs: HashMap<_, _> = s.due.iter().map(|r| (r.id, r)).collect();
        let keys: Vec<_> = out.runs.iter().map(|r| key(runs[r])).collect();
        prop_assert!(keys.windows(2).all(|w| w[0] < w[1]));

        let batch_full = out.runs.len() >= s.max_runs || !s.pool_slots.has_room(out.runs.len() as u32);
        let cancelled: HashSet<_> = out.cancel.iter().map(|c| c.run_id).collect();
        for r in s.due.iter().filter(|r| !out.runs.contains(&r.id) && !cancelled.contains(&r.id)) {
            let Some(q) = queue(r) else { continue };
            if s.pool_paused { continue; }
            let q_taken = out.runs.iter().filter(|o| runs[*o].queue_id == q.id).count() as u32;
            let queue_blocked = q.paused || !q.slots.has_room(q_taken);
            let dep_blocked = r.deployment_id.and_then(|d| s.deployments.iter().find(|x| x.id == d)).is_some_and(|d| {
                let taken = out.runs.iter().filter(|o| runs[*o].deployment_id == Some(d.id)).count() as u32;
                d.paused || !d.slots.has_room(taken)
            });
            let after_last = keys.last().is_some_and(|last| key(r) > *last);
            prop_assert!(queue_blocked || dep_blocked || (batch_full && (after_last || keys.is_empty())),
                "{r:?} left behind without cause");
        }
    }
}
