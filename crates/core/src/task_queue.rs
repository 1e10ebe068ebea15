//! The distributed task queue's life cycle, as data: a queued call is claimed by a worker under
//! a lease, renewed and finished by that worker, re-claimed by another once the lease lapses
//! (its worker is gone), or given up once its workers were lost too often. [`QueueStatus::after`]
//! is the one transition function; [`sources`] turns it into what the store selects.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::spelling::spelled_enum;
use crate::state::{State, StateType};
use crate::time::Micros;

spelled_enum! {
    /// Where a task call is in the queue. Stored and sent by its lower-case name.
    #[derive(Serialize, Deserialize, Hash)]
    #[serde(rename_all = "lowercase")]
    pub enum QueueStatus {
        /// Waiting for a worker.
        Queued = "queued",
        /// Held by a worker until its lease ends.
        Claimed = "claimed",
        /// Finished, with a result or an error (final).
        Done = "done",
    }
}

/// What may happen to a queued call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueAction {
    /// A worker takes it under a lease.
    Claim,
    /// The worker holding it extends its lease.
    Renew,
    /// The worker holding it reports its outcome.
    Finish,
    /// Its workers were lost too often ([`gives_up`]): it is finished with an error.
    Abandon,
}

impl QueueAction {
    /// Every action.
    pub const ALL: [QueueAction; 4] = [
        QueueAction::Claim,
        QueueAction::Renew,
        QueueAction::Finish,
        QueueAction::Abandon,
    ];

    /// Whether only the worker holding the call may do this.
    pub fn by_holder(self) -> bool {
        matches!(self, QueueAction::Renew | QueueAction::Finish)
    }
}

impl QueueStatus {
    /// The status after `action` on a call in this status whose lease has (`lease_lapsed`) or
    /// has not run out, or `None` when the action does not apply.
    pub fn after(self, action: QueueAction, lease_lapsed: bool) -> Option<QueueStatus> {
        use QueueAction as A;
        use QueueStatus as S;
        match (self, action) {
            (S::Queued, A::Claim) => Some(S::Claimed),
            // A lapsed lease means the worker is gone: another may take the call over.
            (S::Claimed, A::Claim) if lease_lapsed => Some(S::Claimed),
            (S::Claimed, A::Abandon) if lease_lapsed => Some(S::Done),
            // A slow holder may still renew or finish while nobody has taken the call over.
            (S::Claimed, A::Renew) => Some(S::Claimed),
            (S::Claimed, A::Finish) => Some(S::Done),
            _ => None,
        }
    }
}

/// What an action requires of a call's lease, in one of the statuses it applies from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseCondition {
    /// Whatever the lease.
    Any,
    /// Only once the lease has run out.
    Lapsed,
    /// Only while the lease holds.
    Holding,
}

/// The statuses `action` applies from, each with what it requires of the lease: derived from
/// [`QueueStatus::after`], and what the store's `WHERE` clause selects.
pub fn sources(action: QueueAction) -> Vec<(QueueStatus, LeaseCondition)> {
    QueueStatus::ALL
        .iter()
        .filter_map(|&status| {
            let lapsed = status.after(action, true).is_some();
            let holding = status.after(action, false).is_some();
            match (lapsed, holding) {
                (true, true) => Some((status, LeaseCondition::Any)),
                (true, false) => Some((status, LeaseCondition::Lapsed)),
                (false, true) => Some((status, LeaseCondition::Holding)),
                (false, false) => None,
            }
        })
        .collect()
}

/// Whether a call whose lease lapsed after `attempts` claims is given up rather than handed to
/// another worker.
pub fn gives_up(attempts: i64, max_attempts: i64) -> bool {
    attempts >= max_attempts
}

/// The error a given-up call is finished with.
pub fn abandon_error(max_attempts: i64) -> String {
    format!("its worker was lost {max_attempts} times; the task run crashed")
}

/// The state a given-up call's task run enters (unless it already ended).
pub fn crashed_state(attempts: i64, id: Uuid, now: Micros) -> State {
    let mut crashed = State::new(id, StateType::Crashed, now);
    crashed.message = Some(format!("the worker running it was lost {attempts} times"));
    crashed
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_call_goes_queued_claimed_done() {
        use QueueAction as A;
        use QueueStatus as S;
        assert_eq!(S::Queued.after(A::Claim, false), Some(S::Claimed));
        assert_eq!(
            S::Claimed.after(A::Claim, false),
            None,
            "a held lease is not taken over"
        );
        assert_eq!(S::Claimed.after(A::Claim, true), Some(S::Claimed));
        assert_eq!(S::Claimed.after(A::Finish, false), Some(S::Done));
        assert_eq!(S::Claimed.after(A::Abandon, false), None);
        assert_eq!(
            S::Queued.after(A::Finish, false),
            None,
            "only a claimed call finishes"
        );
        assert_eq!(
            sources(A::Claim),
            [
                (S::Queued, LeaseCondition::Any),
                (S::Claimed, LeaseCondition::Lapsed)
            ]
        );
        assert_eq!(sources(A::Finish), [(S::Claimed, LeaseCondition::Any)]);
        assert_eq!(sources(A::Abandon), [(S::Claimed, LeaseCondition::Lapsed)]);
    }

    #[test]
    fn statuses_are_spelled_in_lower_case() {
        for s in QueueStatus::ALL {
            assert_eq!(QueueStatus::parse(s.as_str()), Some(*s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::from(s.as_str())
            );
        }
    }

    #[test]
    fn a_given_up_call_says_why() {
        assert!(gives_up(3, 3) && !gives_up(2, 3));
        assert!(abandon_error(3).contains("lost 3 times"));
        let crashed = crashed_state(3, Uuid::nil(), Micros(5));
        assert_eq!(crashed.state_type, StateType::Crashed);
        assert!(crashed.message.unwrap().contains("lost 3 times"));
    }

    fn any_action() -> impl Strategy<Value = QueueAction> {
        prop::sample::select(QueueAction::ALL.to_vec())
    }

    proptest! {
        /// Along any sequence of actions and lease outcomes: Done is final, a call is claimed
        /// only from Queued or from a lapsed claim, and `sources` selects exactly the calls
        /// `after` moves.
        #[test]
        fn the_life_cycle_holds(steps in prop::collection::vec((any_action(), any::<bool>()), 1..20)) {
            let mut status = QueueStatus::Queued;
            for (action, lapsed) in steps {
                let next = status.after(action, lapsed);
                let selected = sources(action).iter().any(|(s, lease)| *s == status && match lease {
                    LeaseCondition::Any => true,
                    LeaseCondition::Lapsed => lapsed,
                    LeaseCondition::Holding => !lapsed,
                });
                prop_assert_eq!(selected, next.is_some());
                if status == QueueStatus::Done {
                    prop_assert_eq!(next, None);
                }
                if next == Some(QueueStatus::Claimed) && action == QueueAction::Claim {
                    prop_assert!(status == QueueStatus::Queued || lapsed);
                }
                if let Some(n) = next {
                    status = n;
                }
            }
        }
    }
}
