//! `flowgate automation inspect` as text: the automation, its trigger's live state (the
//! server's "why did it (not) fire" report, read into the core's report types) and its latest
//! firings with each action's outcome.

use std::fmt::Write;

use anyhow::Context;
use flowgate_core::automations::explain::{
    BucketReport, BucketStatus, CompositeKind, EventReport, MetricReport, NodeReport, Report,
};
use flowgate_wire::automations::{Automation, AutomationFiring, AutomationReport};

use crate::automation_cmd::{action_kinds, trigger_summary};
use crate::flow_run_cmd::short_time;
use crate::table;

/// The whole report.
pub fn render(a: &Automation, report: &AutomationReport) -> anyhow::Result<String> {
    let mut out = String::new();
    writeln!(out, "{}", a.name)?;
    let fields = [
        ("ID", a.id.to_string()),
        ("Enabled", if a.enabled { "yes" } else { "no" }.to_owned()),
        ("Trigger", trigger_summary(&a.trigger)),
        ("Actions", action_kinds(a)),
        ("Description", a.description.clone()),
        ("Tags", a.tags.join(", ")),
        ("Created", short_time(Some(a.created))),
        ("Updated", short_time(Some(a.updated))),
    ];
    for (k, v) in fields {
        let v = if v.is_empty() { "-" } else { v.as_str() };
        writeln!(out, "  {k:<12} {v}")?;
    }
    writeln!(out)?;
    match &report.trigger_state {
        None => writeln!(
            out,
            "Trigger state: none, the automation is disabled (enable it with `flowgate automation enable {}`).",
            a.id
        )?,
        Some(state) => {
            let state: Report = serde_json::from_value(state.clone()).context(
                "the server's trigger state is not in the shape this CLI reads; are the server and the CLI the same version?",
            )?;
            writeln!(
                out,
                "Trigger state (as of the engine's last checkpoint, at most a second old):"
            )?;
            node(&mut out, &state.trigger, 1)?;
            let last = state.last_fired.map_or_else(String::new, |t| {
                format!(", last at {}", short_time(Some(t)))
            });
            writeln!(out, "  Fired {} time(s){last}.", state.firings)?;
        }
    }
    writeln!(out)?;
    firings(&mut out, &report.firings)?;
    Ok(out)
}

fn indent(depth: usize) -> String {
    "  ".repeat(depth)
}

/// One trigger of the tree, its parts below it.
fn node(out: &mut String, n: &NodeReport, depth: usize) -> std::fmt::Result {
    let pad = indent(depth);
    match n {
        NodeReport::Event(e) => event(out, e, depth),
        NodeReport::Metric(m) => metric(out, m, depth),
        NodeReport::Composite(c) => {
            let kind = match c.kind {
                CompositeKind::Compound => "compound",
                CompositeKind::Sequence => "sequence",
            };
            writeln!(out, "{pad}{kind}: {}", c.summary)?;
            for (i, part) in c.parts.iter().enumerate() {
                let mark = if part.satisfied { "[x]" } else { "[ ]" };
                let fired = part
                    .fired_at
                    .map_or_else(String::new, |t| format!(", fired {}", short_time(Some(t))));
                writeln!(out, "{pad}  {mark} part {}{fired}", i + 1)?;
                node(out, &part.trigger, depth + 2)?;
            }
            Ok(())
        }
    }
}

fn event(out: &mut String, e: &EventReport, depth: usize) -> std::fmt::Result {
    let pad = indent(depth);
    writeln!(out, "{pad}event: {}", e.summary)?;
    writeln!(
        out,
        "{pad}  seen {}, matched {}, counted {}",
        e.seen, e.matched, e.counted
    )?;
    if let Some(m) = &e.last_matched {
        writeln!(
            out,
            "{pad}  last matched: {} at {} ({})",
            m.event,
            short_time(Some(m.occurred)),
            m.id
        )?;
    }
    if let Some(miss) = &e.last_rejected {
        writeln!(
            out,
            "{pad}  last rejected: {} at {}, failing {}",
            miss.seen.event,
            short_time(Some(miss.seen.occurred)),
            miss.rule
        )?;
    }
    if e.buckets.is_empty() {
        return Ok(());
    }
    let shown = if e.bucket_count > e.buckets.len() {
        format!(" ({} most recent of {})", e.buckets.len(), e.bucket_count)
    } else {
        String::new()
    };
    writeln!(out, "{pad}  buckets{shown}:")?;
    let rows: Vec<Vec<String>> = e.buckets.iter().map(bucket_row).collect();
    let header = [
        "BUCKET",
        "STATUS",
        "COUNTED",
        "WINDOW START",
        "DEADLINE",
        "QUIET UNTIL",
    ];
    for line in table::render(&header, &rows).lines() {
        writeln!(out, "{pad}    {line}")?;
    }
    Ok(())
}

fn bucket_row(b: &BucketReport) -> Vec<String> {
    let labels: Vec<String> = b.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let status = match b.status {
        BucketStatus::Counting => "counting",
        BucketStatus::Quiet => "quiet",
        BucketStatus::WaitingForAfter => "waiting-for-after",
        BucketStatus::Watching => "watching",
        BucketStatus::Fired => "fired",
    };
    vec![
        if labels.is_empty() {
            "(all)".to_owned()
        } else {
            labels.join(",")
        },
        status.to_owned(),
        b.counted.to_string(),
        short_time(b.window_start),
        short_time(b.deadline.or(b.fired_at)),
        short_time(b.quiet_until),
    ]
}

fn metric(out: &mut String, m: &MetricReport, depth: usize) -> std::fmt::Result {
    let pad = indent(depth);
    writeln!(out, "{pad}metric: {}", m.summary)?;
    writeln!(out, "{pad}  samples in range: {}", m.samples)
}

/// The latest firings, newest first, with each action's outcome.
fn firings(out: &mut String, firings: &[AutomationFiring]) -> std::fmt::Result {
    if firings.is_empty() {
        return writeln!(out, "No firings yet.");
    }
    writeln!(out, "Latest firings (newest first):")?;
    let rows: Vec<Vec<String>> = firings
        .iter()
        .map(|f| {
            let actions = match &f.actions {
                None => "running".to_owned(),
                Some(list) if list.is_empty() => "-".to_owned(),
                Some(list) => list
                    .iter()
                    .map(|o| match (&o.ok, &o.reason) {
                        (true, _) => format!("{} ok", o.kind),
                        (false, Some(why)) => format!("{} FAILED: {why}", o.kind),
                        (false, None) => format!("{} FAILED", o.kind),
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            vec![
                short_time(Some(f.decided)),
                f.state.clone(),
                f.triggering_event
                    .map_or_else(|| "-".to_owned(), |e| e.to_string()),
                actions,
            ]
        })
        .collect();
    for line in table::render(&["DECIDED", "STATE", "TRIGGERING EVENT", "ACTIONS"], &rows).lines() {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}
