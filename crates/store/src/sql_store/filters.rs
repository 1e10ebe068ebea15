//! Filters and sort orders turned into SQL, once for both backends.

use crate::Backend;
use crate::model::*;
use crate::sql::{Arg, Conditions, Sql, append_fragment};

/// `col IN ($…)` for any non-empty list; an empty list matches nothing.
fn any_of<A: Into<Arg> + Clone>(c: &mut Conditions, col: &str, items: &Option<Vec<A>>) {
    if let Some(items) = items {
        if items.is_empty() {
            c.add(|s| {
                s.push("1 = 0");
            });
        } else {
            c.add(|s| {
                s.push(col)
                    .push(" IN (")
                    .arg_list(items.iter().cloned())
                    .push(")");
            });
        }
    }
}

fn time_range(c: &mut Conditions, col: &str, r: &TimeRange) {
    if let Some(after) = r.after {
        c.add(|s| {
            s.push(col).push(" >= ").arg(after);
        });
    }
    if let Some(before) = r.before {
        c.add(|s| {
            s.push(col).push(" <= ").arg(before);
        });
    }
}

fn is_null(c: &mut Conditions, col: &str, wanted_present: Option<bool>) {
    if let Some(present) = wanted_present {
        c.add(|s| {
            s.push(col)
                .push(if present { " IS NOT NULL" } else { " IS NULL" });
        });
    }
}

/// Escapes LIKE wildcards so user text matches literally (with `ESCAPE '\'`).
fn like_pattern(text: &str, prefix_only: bool) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    if prefix_only {
        format!("{escaped}%")
    } else {
        format!("%{escaped}%")
    }
}

fn contains<B: Backend>(c: &mut Conditions, col: &str, text: &Option<String>) {
    if let Some(text) = text {
        c.add(|s| {
            s.push(col)
                .push(" ")
                .push(B::ILIKE)
                .push(" ")
                .arg(like_pattern(text, false))
                .push(" ESCAPE '\\'");
        });
    }
}

/// Case-sensitive prefix match on both backends (SQLite's LIKE ignores ASCII case).
fn starts_with_any(c: &mut Conditions, col: &str, prefixes: &Option<Vec<String>>) {
    if let Some(prefixes) = prefixes {
        c.add(|s| {
            s.push("(");
            for (i, p) in prefixes.iter().enumerate() {
                if i > 0 {
                    s.push(" OR ");
                }
                s.push("substr(")
                    .push(col)
                    .push(", 1, CAST(")
                    .arg(p.chars().count() as i64)
                    .push(" AS INTEGER)) = ")
                    .arg(p.as_str());
            }
            if prefixes.is_empty() {
                s.push("1 = 0");
            }
            s.push(")");
        });
    }
}

/// Case-sensitive substring match on both backends.
fn contains_text<B: Backend>(s: &mut Sql, col: &str, needle: String) {
    s.push(B::POSITION_FN)
        .push("(")
        .push(col)
        .push(", ")
        .arg(needle)
        .push(") > 0");
}

/// Tags are stored as a JSON array; each wanted tag must appear as a quoted element.
fn has_all_tags<B: Backend>(c: &mut Conditions, col: &str, tags: &Option<Vec<String>>) {
    for tag in tags.iter().flatten() {
        let quoted = serde_json::Value::String(tag.clone()).to_string();
        c.add(|s| contains_text::<B>(s, col, quoted));
    }
}

/// `col IN (SELECT id FROM table WHERE …)` for a nested filter.
fn nested(c: &mut Conditions, col: &str, table: &str, inner: Conditions) {
    c.add(|s| {
        s.push(col).push(" IN (SELECT id FROM ").push(table);
        let mut tail = Sql::default();
        inner.append_to(&mut tail);
        append_fragment(s, tail);
        s.push(")");
    });
}

pub fn flows<B: Backend>(f: &FlowFilter) -> Conditions {
    let mut c = Conditions::default();
    any_of(&mut c, "id", &f.ids);
    any_of(&mut c, "name", &f.names);
    contains::<B>(&mut c, "name", &f.name_like);
    has_all_tags::<B>(&mut c, "tags", &f.tags_all);
    c
}

pub fn flow_runs<B: Backend>(f: &FlowRunFilter) -> Conditions {
    let mut c = Conditions::default();
    any_of(&mut c, "id", &f.ids);
    if let Some(not) = &f.ids_not
        && !not.is_empty()
    {
        c.add(|s| {
            s.push("id NOT IN (")
                .arg_list(not.iter().copied())
                .push(")");
        });
    }
    any_of(&mut c, "name", &f.names);
    contains::<B>(&mut c, "name", &f.name_like);
    let types = f
        .state_types
        .as_ref()
        .map(|ts| ts.iter().map(|t| t.as_str().to_owned()).collect::<Vec<_>>());
    any_of(&mut c, "state_type", &types);
    any_of(&mut c, "state_name", &f.state_names);
    any_of(&mut c, "flow_id", &f.flow_ids);
    if let Some(flow) = &f.flow {
        nested(&mut c, "flow_id", "flows", flows::<B>(flow));
    }
    has_all_tags::<B>(&mut c, "tags", &f.tags_all);
    any_of(&mut c, "parent_task_run_id", &f.parent_task_run_ids);
    is_null(&mut c, "parent_task_run_id", f.has_parent_task_run);
    any_of(&mut c, "deployment_id", &f.deployment_ids);
    time_range(&mut c, "start_time", &f.start_time);
    time_range(&mut c, "expected_start_time", &f.expected_start_time);
    c
}

pub fn flow_run_order(sort: FlowRunSort) -> &'static str {
    match sort {
        FlowRunSort::IdDesc => " ORDER BY id DESC",
        FlowRunSort::StartTimeAsc => " ORDER BY start_time ASC NULLS LAST, id",
        FlowRunSort::StartTimeDesc => " ORDER BY start_time DESC NULLS LAST, id DESC",
        FlowRunSort::ExpectedStartTimeAsc => " ORDER BY expected_start_time ASC NULLS LAST, id",
        FlowRunSort::ExpectedStartTimeDesc => {
            " ORDER BY expected_start_time DESC NULLS LAST, id DESC"
        }
        FlowRunSort::NameAsc => " ORDER BY name ASC, id",
        FlowRunSort::NameDesc => " ORDER BY name DESC, id DESC",
        FlowRunSort::NextScheduledStartTimeAsc => {
            " ORDER BY next_scheduled_start_time ASC NULLS LAST, id"
        }
        FlowRunSort::EndTimeDesc => " ORDER BY end_time DESC NULLS LAST, id DESC",
        FlowRunSort::CreatedDesc => " ORDER BY created DESC, id DESC",
    }
}

pub fn task_runs<B: Backend>(f: &TaskRunFilter) -> Conditions {
    let mut c = Conditions::default();
    any_of(&mut c, "id", &f.ids);
    any_of(&mut c, "name", &f.names);
    let types = f
        .state_types
        .as_ref()
        .map(|ts| ts.iter().map(|t| t.as_str().to_owned()).collect::<Vec<_>>());
    any_of(&mut c, "state_type", &types);
    any_of(&mut c, "state_name", &f.state_names);
    any_of(&mut c, "flow_run_id", &f.flow_run_ids);
    is_null(&mut c, "flow_run_id", f.has_flow_run);
    has_all_tags::<B>(&mut c, "tags", &f.tags_all);
    time_range(&mut c, "start_time", &f.start_time);
    if let Some(fr) = &f.flow_run {
        nested(&mut c, "flow_run_id", "flow_runs", flow_runs::<B>(fr));
    }
    c
}

pub fn task_run_order(sort: TaskRunSort) -> &'static str {
    match sort {
        TaskRunSort::IdDesc => " ORDER BY id DESC",
        TaskRunSort::ExpectedStartTimeAsc => " ORDER BY expected_start_time ASC NULLS LAST, id",
        TaskRunSort::ExpectedStartTimeDesc => {
            " ORDER BY expected_start_time DESC NULLS LAST, id DESC"
        }
        TaskRunSort::NameAsc => " ORDER BY name ASC, id",
        TaskRunSort::NameDesc => " ORDER BY name DESC, id DESC",
        TaskRunSort::EndTimeDesc => " ORDER BY end_time DESC NULLS LAST, id DESC",
    }
}

pub fn logs(f: &LogFilter) -> Conditions {
    let mut c = Conditions::default();
    any_of(&mut c, "flow_run_id", &f.flow_run_ids);
    any_of(&mut c, "task_run_id", &f.task_run_ids);
    is_null(&mut c, "task_run_id", f.has_task_run);
    if let Some(ge) = f.level_ge {
        c.add(|s| {
            s.push("level >= ").arg(ge);
        });
    }
    if let Some(le) = f.level_le {
        c.add(|s| {
            s.push("level <= ").arg(le);
        });
    }
    time_range(&mut c, "timestamp", &f.timestamp);
    c
}

pub fn events<B: Backend>(f: &EventFilter) -> Conditions {
    let mut c = Conditions::default();
    time_range(&mut c, "occurred", &f.occurred);
    any_of(&mut c, "event", &f.names);
    starts_with_any(&mut c, "event", &f.name_prefixes);
    any_of(&mut c, "resource_id", &f.resource_ids);
    starts_with_any(&mut c, "resource_id", &f.resource_id_prefixes);
    any_of(&mut c, "id", &f.ids);
    if let Some(ids) = &f.related_resource_ids {
        c.add(|s| {
            s.push("(");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    s.push(" OR ");
                }
                let needle = format!(
                    "\"prefect.resource.id\":{}",
                    serde_json::Value::String(id.clone())
                );
                contains_text::<B>(s, "related", needle);
            }
            if ids.is_empty() {
                s.push("1 = 0");
            }
            s.push(")");
        });
    }
    c
}

/// ` LIMIT $n OFFSET $m`.
pub fn page(sql: &mut Sql, page: Page) {
    sql.push(" LIMIT ")
        .arg(i64::from(page.limit))
        .push(" OFFSET ")
        .arg(i64::from(page.offset));
}
