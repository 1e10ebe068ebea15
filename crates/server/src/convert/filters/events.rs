//! The event filter of `/events/filter` and the `/events/out` subscription.

use flowgate_store::model::{EventFilter, TimeRange};
use flowgate_wire::filters as wire;

use super::{Budget, R};

/// The events an event filter (found at `path`) selects.
pub fn events(path: &str, f: Option<wire::EventFilter>) -> R<EventFilter> {
    let budget = Budget::new();
    let f = f.unwrap_or_default();
    let occurred = f.occurred.unwrap_or_default();
    let event = f.event.unwrap_or_default();
    let resource = f.resource.unwrap_or_default();
    if resource.distinct == Some(true) {
        return Err(format!(
            "{path}.resource.distinct: true is not supported; leave it out or send false"
        ));
    }
    // Prefect's event filters read an empty list as no condition (its client sends `id: []`).
    let values = |field: &str, items: Option<Vec<String>>| {
        budget.values(&format!("{path}.{field}"), items.filter(|l| !l.is_empty()))
    };
    let patterns = |field: &str, items: Option<Vec<String>>| {
        budget.patterns(&format!("{path}.{field}"), items.filter(|l| !l.is_empty()))
    };
    let mut resource_ids = values("resource.id", resource.id)?;
    if let Some(ids) = f.any_resource.and_then(|a| a.id).filter(|l| !l.is_empty()) {
        resource_ids = values("any_resource.id", Some(ids))?;
    }
    let ids = f.id.and_then(|i| i.id).filter(|l| !l.is_empty());
    Ok(EventFilter {
        occurred: TimeRange {
            after: occurred.since,
            before: occurred.until,
        },
        names: values("event.name", event.name)?,
        name_prefixes: patterns("event.prefix", event.prefix)?,
        resource_ids,
        resource_id_prefixes: patterns("resource.id_prefix", resource.id_prefix)?,
        ids: budget.values(&format!("{path}.id.id"), ids)?,
        related_resource_ids: patterns("related.id", f.related.and_then(|r| r.id))?,
        received_until: None,
        after: None,
        newest_first: f.order != Some(wire::EventOrder::Asc),
    })
}
