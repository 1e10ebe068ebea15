//! Work queues within a pool: priorities as Prefect keeps them, and a queue's status.
//!
//! Priority 1 is the highest. Priorities within a pool are unique: putting a queue at a priority
//! another queue holds moves that queue (and, only as far as needed, the ones after it) down by
//! one, keeping every other queue's relative order. So a pool created with `default` at 1 that gets
//! a new queue `high` at 1 ends with `high` 1, `default` 2.

use uuid::Uuid;

use crate::deployment::POLLED_RECENTLY_SECONDS;
use crate::spelling::spelled_enum;
use crate::time::Micros;

/// A queue's place in its pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuePriority {
    /// The queue.
    pub id: Uuid,
    /// Its priority (1 is highest).
    pub priority: u32,
}

/// A priority below 1.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("priority: {value} is not a valid priority; 1 is the highest, give 1 or more")]
pub struct PriorityError {
    /// The value as given.
    pub value: i64,
}

/// Checks a priority from the wire.
pub fn check_priority(value: i64) -> Result<u32, PriorityError> {
    u32::try_from(value)
        .ok()
        .filter(|p| *p >= 1)
        .ok_or(PriorityError { value })
}

/// The priority a new queue gets when none is asked for: after every existing queue.
pub fn next_priority(queues: &[QueuePriority]) -> u32 {
    queues
        .iter()
        .map(|q| q.priority)
        .max()
        .unwrap_or(0)
        .saturating_add(1)
}

/// Puts queue `moved` (new, or already in `queues`) at `priority` and returns every queue whose
/// priority changes, `moved` included, with its new priority.
///
/// The other queues keep their order; `moved` goes before every queue that had `priority` or
/// more; then, walking in order, a queue whose priority is not above the previous one's gets the
/// previous one's plus one. With unique priorities going in (the invariant), `moved` ends exactly at
/// `priority` and only queues that collide move.
pub fn place_at_priority(
    queues: &[QueuePriority],
    moved: Uuid,
    priority: u32,
) -> Vec<QueuePriority> {
    let mut ordered: Vec<QueuePriority> =
        queues.iter().copied().filter(|q| q.id != moved).collect();
    ordered.sort_by_key(|q| (q.priority, q.id));
    let at = ordered.partition_point(|q| q.priority < priority);
    ordered.insert(
        at,
        QueuePriority {
            id: moved,
            priority,
        },
    );

    let before = |id: Uuid| queues.iter().find(|q| q.id == id).map(|q| q.priority);
    let mut last = 0u32;
    let mut changes = Vec::new();
    for q in &mut ordered {
        if q.priority <= last {
            q.priority = last.saturating_add(1);
        }
        last = q.priority;
        if before(q.id) != Some(q.priority) {
            changes.push(*q);
        }
    }
    changes
}

spelled_enum! {
    /// Whether a queue is being polled by a worker.
    pub enum QueueStatus {
        /// Polled within the last minute and not paused.
        Ready = "READY",
        /// Not polled lately: its runs would wait.
        NotReady = "NOT_READY",
        /// Paused: it hands out no runs.
        Paused = "PAUSED",
    }
}

impl QueueStatus {
    /// The status at `now`.
    pub fn at(paused: bool, last_polled: Option<Micros>, now: Micros) -> QueueStatus {
        match last_polled {
            _ if paused => QueueStatus::Paused,
            Some(t) if now.seconds_since(t) <= POLLED_RECENTLY_SECONDS => QueueStatus::Ready,
            _ => QueueStatus::NotReady,
        }
    }
}

/// What makes a queue healthy (`prefect work-queue inspect`'s status).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HealthPolicy {
    /// Late runs it may hold.
    pub maximum_late_runs: u64,
    /// Seconds it may go unpolled.
    pub maximum_seconds_since_last_polled: f64,
}

impl HealthPolicy {
    /// Prefect's default: no late run, polled within the last minute.
    pub const DEFAULT: HealthPolicy = HealthPolicy {
        maximum_late_runs: 0,
        maximum_seconds_since_last_polled: POLLED_RECENTLY_SECONDS,
    };

    /// Whether a queue holding `late_runs` late runs, last polled at `last_polled`, is healthy
    /// at `now`.
    pub fn is_healthy(&self, late_runs: u64, last_polled: Option<Micros>, now: Micros) -> bool {
        late_runs <= self.maximum_late_runs
            && last_polled
                .is_some_and(|t| now.seconds_since(t) <= self.maximum_seconds_since_last_polled)
    }
}

/// The pool Prefect puts work queues made without a pool in, and where its pool-less read of
/// a queue by name (`/work_queues/name/{name}`) looks.
pub const DEFAULT_AGENT_POOL: &str = "default-agent-pool";

/// Which of the queues named alike a pool-less read by name answers with, given their pools'
/// names (in the order read) and whether [`DEFAULT_AGENT_POOL`] exists: as Prefect's server,
/// the default pool's queue when that pool exists (none if it has no such queue), else the
/// first. `Err` says what is missing.
pub fn pool_less_by_name(
    name: &str,
    pools: &[&str],
    default_exists: bool,
) -> Result<usize, String> {
    if default_exists {
        return pools
            .iter()
            .position(|p| *p == DEFAULT_AGENT_POOL)
            .ok_or_else(|| {
                format!(
                    "work queue {name:?} not found in the default work pool \
                     {DEFAULT_AGENT_POOL:?}, where a read without a pool looks; name its pool \
                     (`/work_pools/{{pool}}/queues/{name}`, `--pool` in the CLI)"
                )
            });
    }
    if pools.is_empty() {
        return Err(format!(
            "work queue {name:?} not found: no work pool has a queue of that name (and there \
             is no default work pool {DEFAULT_AGENT_POOL:?})"
        ));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn apply(queues: &[QueuePriority], changes: &[QueuePriority]) -> HashMap<Uuid, u32> {
        let mut map: HashMap<_, _> = queues.iter().map(|q| (q.id, q.priority)).collect();
        map.extend(changes.iter().map(|q| (q.id, q.priority)));
        map
    }

    #[test]
    fn a_queue_is_healthy_when_polled_lately_and_without_late_runs() {
        let now = Micros(1_000_000_000);
        let ago = |s: i64| Some(Micros(now.0 - s * 1_000_000));
        let policy = HealthPolicy::DEFAULT;
        assert!(policy.is_healthy(0, ago(5), now));
        assert!(
            !policy.is_healthy(1, ago(5), now),
            "a late run makes it unhealthy"
        );
        assert!(
            !policy.is_healthy(0, ago(120), now),
            "not polled for two minutes"
        );
        assert!(!policy.is_healthy(0, None, now), "never polled");
    }

    #[test]
    fn a_new_queue_at_one_pushes_default_to_two() {
        // The capture: pool1's default queue at 1, then "high" at 1 and "low" at 5.
        let default = QueuePriority {
            id: id(1),
            priority: 1,
        };
        let high = place_at_priority(&[default], id(2), 1);
        assert_eq!(
            high,
            [
                QueuePriority {
                    id: id(2),
                    priority: 1
                },
                QueuePriority {
                    id: id(1),
                    priority: 2
                }
            ]
        );
        let queues = [
            QueuePriority {
                id: id(2),
                priority: 1,
            },
            QueuePriority {
                id: id(1),
                priority: 2,
            },
        ];
        assert_eq!(
            place_at_priority(&queues, id(3), 5),
            [QueuePriority {
                id: id(3),
                priority: 5
            }]
        );
    }

    #[test]
    fn moving_a_queue_up_shifts_only_the_colliding_ones() {
        let queues = [
            QueuePriority {
                id: id(1),
                priority: 1,
            },
            QueuePriority {
                id: id(2),
                priority: 2,
            },
            QueuePriority {
                id: id(3),
                priority: 3,
            },
            QueuePriority {
                id: id(4),
                priority: 7,
            },
        ];
        let changes = place_at_priority(&queues, id(4), 2);
        let after = apply(&queues, &changes);
        assert_eq!(
            [after[&id(1)], after[&id(4)], after[&id(2)], after[&id(3)]],
            [1, 2, 3, 4]
        );
        // Moving it back down to a free priority touches nothing else.
        let queues: Vec<_> = after
            .iter()
            .map(|(id, p)| QueuePriority {
                id: *id,
                priority: *p,
            })
            .collect();
        assert_eq!(
            place_at_priority(&queues, id(4), 9),
            [QueuePriority {
                id: id(4),
                priority: 9
            }]
        );
    }

    #[test]
    fn priorities_below_one_are_refused() {
        assert_eq!(check_priority(1), Ok(1));
        assert!(
            check_priority(0)
                .unwrap_err()
                .to_string()
                .starts_with("priority: 0")
        );
        assert!(check_priority(-3).is_err());
        assert_eq!(next_priority(&[]), 1);
        assert_eq!(
            next_priority(&[QueuePriority {
                id: id(1),
                priority: 4
            }]),
            5
        );
    }

    #[test]
    fn queue_status_follows_polls_and_pause() {
        let now = Micros(500_000_000);
        assert_eq!(QueueStatus::at(false, None, now), QueueStatus::NotReady);
        assert_eq!(
            QueueStatus::at(false, Some(now.plus_seconds(-10.0)), now),
            QueueStatus::Ready
        );
        assert_eq!(
            QueueStatus::at(false, Some(now.plus_seconds(-61.0)), now),
            QueueStatus::NotReady
        );
        assert_eq!(QueueStatus::at(true, Some(now), now), QueueStatus::Paused);
    }

    fn unique_queues() -> impl Strategy<Value = Vec<QueuePriority>> {
        proptest::collection::btree_set(1u32..30, 0..12).prop_map(|ps| {
            ps.into_iter()
                .enumerate()
                .map(|(i, p)| QueuePriority {
                    id: id(i as u128 + 1),
                    priority: p,
                })
                .collect()
        })
    }

    proptest! {
        /// Placing a queue keeps priorities unique, gives it the priority asked for, keeps the
        /// others' order, and moves no queue that did not collide.
        #[test]
        fn placement_laws(queues in unique_queues(), target in 0u128..14, priority in 1u32..32) {
            let moved = id(target);
            let changes = place_at_priority(&queues, moved, priority);
            let after = apply(&queues, &changes);
            prop_assert_eq!(after[&moved], priority);
            let mut values: Vec<_> = after.values().copied().collect();
            values.sort();
            values.dedup();
            prop_assert_eq!(values.len(), after.len(), "priorities stay unique");
            let others: Vec<_> = queues.iter().filter(|q| q.id != moved).collect();
            for a in &others {
                for b in &others {
                    if a.priority < b.priority {
                        prop_assert!(after[&a.id] < after[&b.id], "order of others kept");
                    }
                }
                // A queue moves only down, and only when something now sits at or above its old place.
                prop_assert!(after[&a.id] >= a.priority);
            }
            for q in &changes {
                if q.id != moved {
                    let old = queues.iter().find(|o| o.id == q.id).unwrap().priority;
                    prop_assert!(after.iter().any(|(other, p)| *other != q.id && *p == old), "{q:?} moved without a collision");
                }
            }
        }
    }

    #[test]
    fn a_pool_less_read_by_name_looks_in_the_default_pool_when_it_exists_else_takes_the_first() {
        let both = ["etl", DEFAULT_AGENT_POOL];
        assert_eq!(pool_less_by_name("default", &both, true), Ok(1));
        let missing = pool_less_by_name("default", &["etl", "ml"], true).unwrap_err();
        assert!(missing.contains("\"default-agent-pool\""), "{missing}");
        assert_eq!(pool_less_by_name("default", &["etl", "ml"], false), Ok(0));
        let none = pool_less_by_name("gone", &[], false).unwrap_err();
        assert!(none.contains("\"gone\" not found"), "{none}");
    }
}
