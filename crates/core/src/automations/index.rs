//! Which triggers an event can concern, found by its name: exact names in a hash map, name
//! prefixes (`prefect.flow-run.*`) in a short list, and triggers that look at every event.
//! An event is then evaluated only by those triggers, so a hundred automations on flow-run
//! events cost nothing for the task-run events that make up most of the traffic.

use std::collections::HashMap;

use super::labels::NamePattern;

/// A trigger in the engine: (automation slot, node within its tree).
pub(super) type Target = (u32, u32);

/// Triggers by the event names they look at.
#[derive(Debug, Default)]
pub(super) struct NameIndex {
    exact: HashMap<String, Vec<Target>>,
    prefixes: Vec<(String, Vec<Target>)>,
    every: Vec<Target>,
}

impl NameIndex {
    /// Registers `target` for `names` (`None`: every event).
    pub fn add(&mut self, target: Target, names: Option<Vec<NamePattern>>) {
        let Some(names) = names else {
            self.every.push(target);
            return;
        };
        for name in names {
            match name {
                NamePattern::Exact(n) => self.exact.entry(n).or_default().push(target),
                NamePattern::Prefix(p) => match self.prefixes.iter_mut().find(|(q, _)| *q == p) {
                    Some((_, targets)) => targets.push(target),
                    None => self.prefixes.push((p, vec![target])),
                },
            }
        }
    }

    /// The targets for an event named `name`, in (slot, node) order, each once.
    pub fn lookup(&self, name: &str, out: &mut Vec<Target>) {
        out.clear();
        let mut sources = 0;
        if let Some(t) = self.exact.get(name) {
            out.extend_from_slice(t);
            sources += 1;
        }
        for (prefix, t) in &self.prefixes {
            if name.starts_with(prefix.as_str()) {
                out.extend_from_slice(t);
                sources += 1;
            }
        }
        if !self.every.is_empty() {
            out.extend_from_slice(&self.every);
            sources += 1;
        }
        if sources > 1 || out.windows(2).any(|w| w[0] >= w[1]) {
            out.sort_unstable();
            out.dedup();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exact_prefix_and_catch_all_targets_once_each_in_order() {
        let mut idx = NameIndex::default();
        idx.add(
            (1, 0),
            Some(vec![
                NamePattern::parse("prefect.flow-run.Completed"),
                NamePattern::parse("prefect.flow-run.*"),
            ]),
        );
        idx.add((0, 2), Some(vec![NamePattern::parse("prefect.flow-run.*")]));
        idx.add((2, 0), None);
        idx.add((3, 0), Some(vec![NamePattern::parse("custom.thing")]));
        let mut out = Vec::new();
        idx.lookup("prefect.flow-run.Completed", &mut out);
        assert_eq!(out, [(0, 2), (1, 0), (2, 0)]);
        idx.lookup("prefect.task-run.Running", &mut out);
        assert_eq!(out, [(2, 0)]);
        idx.lookup("custom.thing", &mut out);
        assert_eq!(out, [(2, 0), (3, 0)]);
    }
}
