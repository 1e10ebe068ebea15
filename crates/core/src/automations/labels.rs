//! Matching events by their labels and names: a trigger's `match` / `match_related` resource
//! specifications, its `expect` / `after` event-name patterns, and the `for_each` labels that
//! split its evaluation into buckets.
//!
//! A value pattern is literal (`prefect.flow-run.1234`), a prefix with a trailing `*`
//! (`prefect.flow-run.*`), or either of those negated with a leading `!`. A label's patterns
//! match a value when some positive pattern matches it (or there is none) and no negated one
//! does; a missing label matches nothing. A resource specification matches a resource when
//! every label rule does.

use serde_json::{Map, Value};

/// One value pattern of a label rule or an event-name list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    negated: bool,
    text: String,
    prefix: bool,
}

impl Pattern {
    /// Reads `value`, `prefix*`, `!value` or `!prefix*`.
    pub fn parse(raw: &str) -> Pattern {
        let (negated, rest) = match raw.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let (prefix, text) = match rest.strip_suffix('*') {
            Some(text) => (true, text),
            None => (false, rest),
        };
        Pattern {
            negated,
            text: text.to_owned(),
            prefix,
        }
    }

    /// True when the pattern (ignoring negation) accepts `value`.
    fn accepts(&self, value: &str) -> bool {
        if self.prefix {
            value.starts_with(&self.text)
        } else {
            value == self.text
        }
    }

    /// The pattern as written.
    pub fn to_text(&self) -> String {
        format!(
            "{}{}{}",
            if self.negated { "!" } else { "" },
            self.text,
            if self.prefix { "*" } else { "" }
        )
    }
}

/// True when `value` satisfies the patterns: some positive one accepts it (or there is no
/// positive one) and no negated one does.
fn value_matches(patterns: &[Pattern], value: &str) -> bool {
    let mut any_positive = false;
    let mut positive_hit = false;
    for p in patterns {
        if p.negated {
            if p.accepts(value) {
                return false;
            }
        } else {
            any_positive = true;
            positive_hit |= p.accepts(value);
        }
    }
    positive_hit || !any_positive
}

/// One `label: value-or-values` entry of a resource specification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelRule {
    /// The label, e.g. `prefect.resource.id`.
    pub label: String,
    /// Its accepted values.
    pub patterns: Vec<Pattern>,
}

/// Which labels a resource must carry: every rule must match (`AND`), each rule's values are
/// alternatives (`OR`). Empty matches every resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceSpec {
    rules: Vec<LabelRule>,
}

impl ResourceSpec {
    /// A specification from `(label, values)` pairs.
    pub fn new<L, V, S>(pairs: impl IntoIterator<Item = (L, V)>) -> ResourceSpec
    where
        L: Into<String>,
        V: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ResourceSpec {
            rules: pairs
                .into_iter()
                .map(|(label, values)| LabelRule {
                    label: label.into(),
                    patterns: values
                        .into_iter()
                        .map(|v| Pattern::parse(v.as_ref()))
                        .collect(),
                })
                .collect(),
        }
    }

    /// True when it constrains nothing.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Its rules, in the order given.
    pub fn rules(&self) -> &[LabelRule] {
        &self.rules
    }

    /// The index of the first rule `resource` fails, or `None` when it matches.
    pub fn first_miss(&self, resource: &Map<String, Value>) -> Option<usize> {
        self.rules.iter().position(|rule| {
            !resource
                .get(&rule.label)
                .and_then(Value::as_str)
                .is_some_and(|v| value_matches(&rule.patterns, v))
        })
    }

    /// True when `resource` carries every label this specification asks for.
    pub fn matches(&self, resource: &Map<String, Value>) -> bool {
        self.first_miss(resource).is_none()
    }

    /// True when some resource in `related` matches (or the specification is empty).
    pub fn matches_any(&self, related: &[Map<String, Value>]) -> bool {
        self.is_empty() || related.iter().any(|r| self.matches(r))
    }
}

/// An event-name pattern from `expect` or `after`: a whole name or a prefix (`prefect.flow-run.*`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NamePattern {
    /// Exactly this name.
    Exact(String),
    /// Any name starting with this text (the pattern without its `*`).
    Prefix(String),
}

impl NamePattern {
    /// Reads `name` or `prefix*`.
    pub fn parse(raw: &str) -> NamePattern {
        match raw.strip_suffix('*') {
            Some(prefix) => NamePattern::Prefix(prefix.to_owned()),
            None => NamePattern::Exact(raw.to_owned()),
        }
    }

    /// True when `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NamePattern::Exact(n) => n == name,
            NamePattern::Prefix(p) => name.starts_with(p.as_str()),
        }
    }

    /// The pattern as written.
    pub fn to_text(&self) -> String {
        match self {
            NamePattern::Exact(n) => n.clone(),
            NamePattern::Prefix(p) => format!("{p}*"),
        }
    }
}

/// True when `name` matches one of `patterns`.
pub fn name_matches(patterns: &[NamePattern], name: &str) -> bool {
    patterns.iter().any(|p| p.matches(name))
}

/// A `for_each` label: on the event's own resource, or (`related:<role>:<label>`) on its first
/// related resource with that role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BucketLabel {
    /// A label of the event's resource.
    Resource(String),
    /// A label of the first related resource in `role`.
    Related {
        /// The related resource's `prefect.resource.role`.
        role: String,
        /// Its label.
        label: String,
    },
}

impl BucketLabel {
    /// Reads `label` or `related:<role>:<label>`; `None` for a malformed `related:` form.
    pub fn parse(raw: &str) -> Option<BucketLabel> {
        match raw.strip_prefix("related:") {
            Some(rest) => {
                let (role, label) = rest.split_once(':')?;
                (!role.is_empty() && !label.is_empty()).then(|| BucketLabel::Related {
                    role: role.to_owned(),
                    label: label.to_owned(),
                })
            }
            None => (!raw.is_empty()).then(|| BucketLabel::Resource(raw.to_owned())),
        }
    }

    /// The label as written.
    pub fn to_text(&self) -> String {
        match self {
            BucketLabel::Resource(l) => l.clone(),
            BucketLabel::Related { role, label } => format!("related:{role}:{label}"),
        }
    }

    /// This label's value on an event (empty when the event lacks it).
    pub fn value_in<'e>(
        &self,
        resource: &'e Map<String, Value>,
        related: &'e [Map<String, Value>],
    ) -> &'e str {
        let found = match self {
            BucketLabel::Resource(label) => resource.get(label),
            BucketLabel::Related { role, label } => related
                .iter()
                .find(|r| r.get("prefect.resource.role").and_then(Value::as_str) == Some(role))
                .and_then(|r| r.get(label)),
        };
        found.and_then(Value::as_str).unwrap_or_default()
    }
}

/// The separator between label values in a bucket key (a character no label value carries in
/// practice, and one that keeps keys readable when printed escaped).
pub const KEY_SEPARATOR: char = '\u{1f}';

/// Writes the bucket an event falls in into `key`: its values of the `for_each` labels joined
/// by [`KEY_SEPARATOR`] (empty when there are no `for_each` labels).
pub fn write_bucket_key(
    labels: &[BucketLabel],
    resource: &Map<String, Value>,
    related: &[Map<String, Value>],
    key: &mut String,
) {
    key.clear();
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            key.push(KEY_SEPARATOR);
        }
        key.push_str(label.value_in(resource, related));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::labels;

    fn flow_run() -> Map<String, Value> {
        labels([
            ("prefect.resource.id", "prefect.flow-run.abc".to_owned()),
            ("prefect.resource.name", "cute-kittiwake".to_owned()),
        ])
    }

    #[test]
    fn values_match_literally_by_prefix_and_by_negation() {
        let spec = ResourceSpec::new([("prefect.resource.id", ["prefect.flow-run.*"])]);
        assert!(spec.matches(&flow_run()));
        let spec = ResourceSpec::new([("prefect.resource.name", ["radical-*", "cute-*"])]);
        assert!(spec.matches(&flow_run()));
        let spec = ResourceSpec::new([("prefect.resource.name", ["!cute-*"])]);
        assert!(!spec.matches(&flow_run()));
        let spec = ResourceSpec::new([("prefect.resource.name", ["!radical-*"])]);
        assert!(spec.matches(&flow_run()));
        let spec = ResourceSpec::new([("prefect.resource.name", ["cute-*", "!cute-kitti*"])]);
        assert!(
            !spec.matches(&flow_run()),
            "a negation vetoes a positive match"
        );
    }

    #[test]
    fn every_rule_must_match_and_a_missing_label_matches_nothing() {
        let spec = ResourceSpec::new([
            ("prefect.resource.id", vec!["prefect.flow-run.*"]),
            ("prefect.resource.role", vec!["flow"]),
        ]);
        assert_eq!(spec.first_miss(&flow_run()), Some(1));
        let spec = ResourceSpec::new([("nope", ["!x"])]);
        assert!(!spec.matches(&flow_run()));
        assert!(ResourceSpec::default().matches(&flow_run()));
        assert!(ResourceSpec::default().matches_any(&[]));
        assert!(!ResourceSpec::new([("a", ["b"])]).matches_any(&[]));
    }

    #[test]
    fn names_match_exactly_or_by_prefix() {
        let pats = [
            NamePattern::parse("prefect.flow-run.Completed"),
            NamePattern::parse("custom.*"),
        ];
        assert!(name_matches(&pats, "prefect.flow-run.Completed"));
        assert!(name_matches(&pats, "custom.anything"));
        assert!(!name_matches(&pats, "prefect.flow-run.Failed"));
        assert_eq!(pats[1].to_text(), "custom.*");
    }

    #[test]
    fn bucket_keys_read_resource_and_related_labels() {
        let related = vec![labels([
            ("prefect.resource.id", "prefect.flow.f".to_owned()),
            ("prefect.resource.role", "flow".to_owned()),
            ("prefect.resource.name", "etl".to_owned()),
        ])];
        let by = [
            BucketLabel::parse("prefect.resource.id").unwrap(),
            BucketLabel::parse("related:flow:prefect.resource.name").unwrap(),
            BucketLabel::parse("related:deployment:prefect.resource.id").unwrap(),
        ];
        let mut key = "stale".to_owned();
        write_bucket_key(&by, &flow_run(), &related, &mut key);
        assert_eq!(key, "prefect.flow-run.abc\u{1f}etl\u{1f}");
        assert_eq!(BucketLabel::parse("related:flow"), None);
        assert_eq!(BucketLabel::parse(""), None);
        assert_eq!(by[1].to_text(), "related:flow:prefect.resource.name");
    }
}
