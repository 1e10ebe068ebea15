//! Compound and sequence triggers: when the firings of their parts add up to a firing.
//!
//! Each part's latest firing is remembered until the composite fires, which consumes them all.
//! A **compound** fires when enough parts are satisfied at once: a part is satisfied when it
//! fired within `within` of the newest firing, or, for a proactive or metric part, while it
//! is fired and not yet resolved. The latter makes an absence a *condition* ("job C has not
//! completed in the last 10 minutes") that holds for as long as it is true, rather than a
//! moment that had to fall inside the compound's window (Prefect #17685). A **sequence** fires
//! when every part's latest firing is in the given order (ties broken by arrival) and all lie
//! within `within`; parts firing out of order wait for the earlier parts to fire again after
//! them. `within` of zero (or none) means no time limit. Resolutions of parts only close
//! conditions; composites themselves never resolve.

use super::event_trigger::Mark;
use super::state::CompositeState;
use super::trigger::Require;
use crate::time::Micros;

/// Compound (how many parts) or sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    Compound(Require),
    Sequence,
}

/// A composite trigger, ready to evaluate.
#[derive(Clone, Debug)]
pub(super) struct CompositeNode {
    pub shape: Shape,
    /// `within` in microseconds; 0 for no limit.
    pub within: i64,
    /// Per part: true for proactive event and metric parts (their firings are conditions).
    pub conditions: Vec<bool>,
}

impl CompositeNode {
    /// How many parts must be satisfied.
    pub fn needed(&self) -> usize {
        let n = self.conditions.len();
        match self.shape {
            Shape::Compound(Require::All) | Shape::Sequence => n,
            Shape::Compound(Require::Any) => 1.min(n),
            Shape::Compound(Require::AtLeast(k)) => (k as usize).min(n),
        }
    }

    /// Part `pos` fired; returns the composite's own firing when this completes it.
    pub fn on_fired(
        &self,
        st: &mut CompositeState,
        pos: usize,
        mark: &Mark,
        tick: u64,
    ) -> Option<Mark> {
        self.fit(st);
        let part = &mut st.parts[pos];
        part.fired = Some((mark.occurred, tick));
        part.event = mark.event;
        if self.conditions[pos] {
            part.open += 1;
        }
        if !self.complete(st, mark.occurred) {
            return None;
        }
        for part in &mut st.parts {
            part.fired = None;
        }
        st.last_fired = Some(mark.occurred);
        Some(Mark {
            key: String::new(),
            occurred: mark.occurred,
            event: mark.event,
        })
    }

    /// Part `pos` resolved: a condition part stops counting.
    pub fn on_resolved(&self, st: &mut CompositeState, pos: usize) {
        self.fit(st);
        if self.conditions[pos] {
            st.parts[pos].open = st.parts[pos].open.saturating_sub(1);
        }
    }

    /// True when part `pos` counts at `now` (event time).
    pub fn satisfied(&self, st: &CompositeState, pos: usize, now: Micros) -> bool {
        let Some(part) = st.parts.get(pos) else {
            return false;
        };
        let recent = part
            .fired
            .is_some_and(|(t, _)| self.within == 0 || (now.0 - t.0).abs() < self.within);
        match self.shape {
            Shape::Compound(_) => recent || (self.conditions[pos] && part.open > 0),
            Shape::Sequence => part.fired.is_some(),
        }
    }

    fn complete(&self, st: &CompositeState, now: Micros) -> bool {
        let n = self.conditions.len();
        match self.shape {
            Shape::Compound(_) => {
                (0..n).filter(|&i| self.satisfied(st, i, now)).count() >= self.needed()
            }
            Shape::Sequence => {
                let Some(times) = st.parts.iter().map(|p| p.fired).collect::<Option<Vec<_>>>()
                else {
                    return false;
                };
                let (Some(first), Some(last)) = (times.first(), times.last()) else {
                    return false;
                };
                let ordered = times.windows(2).all(|w| w[0] < w[1]);
                ordered && (self.within == 0 || last.0.0 - first.0.0 < self.within)
            }
        }
    }

    /// Makes the state's part list match the trigger (a fresh state has none).
    fn fit(&self, st: &mut CompositeState) {
        st.parts
            .resize_with(self.conditions.len(), Default::default);
    }
}
