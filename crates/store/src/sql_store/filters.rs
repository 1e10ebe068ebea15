//! The building blocks of filter conditions, written once for both backends; each capability
//! module composes them into its own filters.

use flowgate_core::StateType;

use crate::backend::Backend;
use crate::model::{Page, TimeRange};
use crate::sql::{Arg, Conditions, Sql, append_fragment};

/// `col IN ($…)` for any non-empty list; an empty list matches nothing.
pub(super) fn any_of<A: Into<Arg> + Clone>(c: &mut Conditions, col: &str, items: &Option<Vec<A>>) {
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

pub(super) fn time_range(c: &mut Conditions, col: &str, r: &TimeRange) {
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

pub(super) fn is_null(c: &mut Conditions, col: &str, wanted_present: Option<bool>) {
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

pub(super) fn contains<B: Backend>(c: &mut Conditions, col: &str, text: &Option<String>) {
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
pub(super) fn starts_with_any(c: &mut Conditions, col: &str, prefixes: &Option<Vec<String>>) {
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
pub(super) fn contains_text<B: Backend>(s: &mut Sql, col: &str, needle: String) {
    s.push(B::POSITION_FN)
        .push("(")
        .push(col)
        .push(", ")
        .arg(needle)
        .push(") > 0");
}

/// Tags are stored as a JSON array; each wanted tag must appear as a quoted element.
pub(super) fn has_all_tags<B: Backend>(c: &mut Conditions, col: &str, tags: &Option<Vec<String>>) {
    for tag in tags.iter().flatten() {
        let quoted = serde_json::Value::String(tag.clone()).to_string();
        c.add(|s| contains_text::<B>(s, col, quoted));
    }
}

/// `state_type IN (…)` for the state types a filter asks for.
pub(super) fn state_types(c: &mut Conditions, types: &Option<Vec<StateType>>) {
    let names = types
        .as_ref()
        .map(|ts| ts.iter().map(|t| t.as_str()).collect::<Vec<_>>());
    any_of(c, "state_type", &names);
}

/// `col IN (SELECT id FROM table WHERE …)` for a nested filter.
pub(super) fn nested(c: &mut Conditions, col: &str, table: &str, inner: Conditions) {
    nested_on(c, col, "id", table, inner);
}

/// `col IN (SELECT selected FROM from WHERE …)` for a nested filter.
pub(super) fn nested_on(
    c: &mut Conditions,
    col: &str,
    selected: &str,
    from: &str,
    inner: Conditions,
) {
    c.add(|s| {
        s.push(col)
            .push(" IN (SELECT ")
            .push(selected)
            .push(" FROM ")
            .push(from);
        let mut tail = Sql::default();
        inner.append_to(&mut tail);
        append_fragment(s, tail);
        s.push(")");
    });
}

/// ` LIMIT $n OFFSET $m`.
pub(super) fn page(sql: &mut Sql, page: Page) {
    sql.push(" LIMIT ")
        .arg(i64::from(page.limit))
        .push(" OFFSET ")
        .arg(i64::from(page.offset));
}
