//! Who gets freed slots: requests that could not be served wait in one line, first come, first
//! served.
//!
//! Fairness is strict per limit: a waiter is offered a turn only when nobody who came before it
//! is still waiting on any limit it also needs. So a request for three slots is not starved by a
//! stream of one-slot requests behind it, and a release wakes exactly the waiters that are next
//! in line (the ones [`WaitQueue::serve`] offers a turn), never the whole line: no thundering herd.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

use uuid::Uuid;

/// The line of waiting requests, generic over how a waiter is named (`W`) and how a limit is
/// named (`K`: its id, or its name where the caller knows only names).
#[derive(Clone, Debug)]
pub struct WaitQueue<W, K = Uuid> {
    line: VecDeque<Waiting<W, K>>,
}

#[derive(Clone, Debug)]
struct Waiting<W, K> {
    waiter: W,
    limits: Vec<K>,
}

impl<W, K> Default for WaitQueue<W, K> {
    fn default() -> Self {
        WaitQueue {
            line: VecDeque::new(),
        }
    }
}

impl<W: Copy + Eq, K: Clone + Eq + Hash> WaitQueue<W, K> {
    /// Waiters in line.
    pub fn len(&self) -> usize {
        self.line.len()
    }

    /// Whether nobody waits.
    pub fn is_empty(&self) -> bool {
        self.line.is_empty()
    }

    /// Whether a newcomer needing `limits` must join the line rather than try at once: someone
    /// already waits on one of them, and serving the newcomer first would jump the line.
    pub fn must_queue(&self, limits: &[K]) -> bool {
        self.line
            .iter()
            .any(|w| w.limits.iter().any(|l| limits.contains(l)))
    }

    /// Puts `waiter` at the end of the line for `limits`.
    pub fn push(&mut self, waiter: W, limits: Vec<K>) {
        self.line.push_back(Waiting { waiter, limits });
    }

    /// Takes `waiter` out of the line (it gave up or went away); whether it was there.
    pub fn remove(&mut self, waiter: W) -> bool {
        let before = self.line.len();
        self.line.retain(|w| w.waiter != waiter);
        self.line.len() != before
    }

    /// Every limit someone waits on.
    pub fn limits(&self) -> HashSet<K> {
        self.line
            .iter()
            .flat_map(|w| w.limits.iter().cloned())
            .collect()
    }

    /// Every waiter, in arrival order, with the limits it waits on.
    pub fn iter(&self) -> impl Iterator<Item = (W, &[K])> {
        self.line.iter().map(|w| (w.waiter, w.limits.as_slice()))
    }

    /// The waiters next in line: those with nobody earlier waiting on any limit they need.
    pub fn heads(&self) -> Vec<W> {
        let mut taken: HashSet<&K> = HashSet::new();
        let mut heads = Vec::new();
        for w in &self.line {
            if !w.limits.iter().any(|l| taken.contains(l)) {
                heads.push(w.waiter);
            }
            taken.extend(w.limits.iter());
        }
        heads
    }

    /// Offers turns in arrival order. `try_grant` is called only for a waiter that nobody
    /// still waiting before it shares a limit with; it returns whether the waiter got its
    /// slots. A waiter that did not blocks everyone after it on its limits. Returns the served
    /// waiters, in the order served, and takes them out of the line.
    pub fn serve(&mut self, mut try_grant: impl FnMut(W) -> bool) -> Vec<W> {
        let mut blocked: HashSet<K> = HashSet::new();
        let mut served = Vec::new();
        self.line.retain(|w| {
            if w.limits.iter().any(|l| blocked.contains(l)) {
                blocked.extend(w.limits.iter().cloned());
                return true;
            }
            if try_grant(w.waiter) {
                served.push(w.waiter);
                false
            } else {
                blocked.extend(w.limits.iter().cloned());
                true
            }
        });
        served
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn newcomers_queue_behind_waiters_on_a_shared_limit() {
        let mut q: WaitQueue<u32> = WaitQueue::default();
        q.push(1, vec![id(1)]);
        assert!(q.must_queue(&[id(1), id(2)]));
        assert!(!q.must_queue(&[id(2)]));
        assert!(q.remove(1));
        assert!(!q.remove(1));
        assert!(q.is_empty());
    }

    #[test]
    fn a_big_request_is_not_starved_by_small_ones_behind_it() {
        // Two free slots; the first waiter wants three, the next two want one each.
        let mut free = 2;
        let want: HashMap<u32, u32> = [(1, 3), (2, 1), (3, 1)].into();
        let mut q: WaitQueue<u32> = WaitQueue::default();
        for w in [1, 2, 3] {
            q.push(w, vec![id(7)]);
        }
        let mut tried = Vec::new();
        let served = q.serve(|w| {
            tried.push(w);
            let ok = want[&w] <= free;
            if ok {
                free -= want[&w];
            }
            ok
        });
        assert!(served.is_empty());
        assert_eq!(tried, vec![1], "only the head is offered a turn");
        assert_eq!(q.heads(), vec![1]);
    }

    #[test]
    fn waiters_on_unrelated_limits_do_not_block_each_other() {
        let mut q: WaitQueue<u32, &str> = WaitQueue::default();
        q.push(1, vec!["a"]);
        q.push(2, vec!["b"]);
        q.push(3, vec!["a", "b"]);
        assert_eq!(q.heads(), vec![1, 2]);
        let served = q.serve(|w| w == 2);
        assert_eq!(served, vec![2]);
        assert_eq!(q.heads(), vec![1]);
    }

    proptest! {
        /// Against one limit with capacity freed over time, waiters are served exactly in
        /// arrival order, and each round offers a turn to at most one waiter that then fails
        /// (no herd).
        #[test]
        fn one_limit_is_served_in_arrival_order(
            demands in prop::collection::vec(1u32..4, 1..30),
            frees in prop::collection::vec(0u32..5, 1..40),
        ) {
            let mut q: WaitQueue<usize> = WaitQueue::default();
            for (w, _) in demands.iter().enumerate() {
                q.push(w, vec![id(1)]);
            }
            let mut free = 0u32;
            let mut order = Vec::new();
            for f in frees {
                free += f;
                let mut failures = 0;
                let served = q.serve(|w| {
                    let ok = demands[w] <= free;
                    if ok { free -= demands[w] } else { failures += 1 }
                    ok
                });
                prop_assert!(failures <= 1);
                order.extend(served);
            }
            let expected: Vec<usize> = (0..order.len()).collect();
            prop_assert_eq!(order, expected);
        }

        /// With several limits, nobody is ever served while someone who came earlier and shares
        /// a limit with it is still waiting.
        #[test]
        fn nobody_jumps_a_waiter_on_a_shared_limit(
            needs in prop::collection::vec(prop::collection::btree_set(0u128..4, 1..3), 1..20),
            grants in prop::collection::vec(any::<bool>(), 1..60),
        ) {
            let mut q: WaitQueue<usize> = WaitQueue::default();
            for (w, ls) in needs.iter().enumerate() {
                q.push(w, ls.iter().map(|l| id(*l)).collect());
            }
            let mut waiting: Vec<usize> = (0..needs.len()).collect();
            let mut coin = grants.iter().cycle();
            for _ in 0..4 {
                let served = q.serve(|_| *coin.next().unwrap());
                for s in &served {
                    let pos = waiting.iter().position(|w| w == s).unwrap();
                    for earlier in &waiting[..pos] {
                        prop_assert!(needs[*earlier].is_disjoint(&needs[*s]));
                    }
                    waiting.remove(pos);
                }
            }
        }
    }
}
