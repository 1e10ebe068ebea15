//! How far automations may feed on each other's events.
//!
//! An automation's firing is itself recorded as events (`prefect.automation.triggered`, one
//! `prefect.automation.action.*` per action), and those go through the engine like any other.
//! Left alone, an automation whose trigger matches its own events (an empty `match`, say) fires
//! on its firing, and again on that, without end; two automations that watch each other do the
//! same in turn. Two rules stop it, both decided here:
//!
//! - an automation never sees events about itself (resource `prefect.automation.<its id>`);
//! - each event an automation emits carries its *cascade depth* — one more than the depth of
//!   the event that fired it, 0 for anything else — in the resource label
//!   [`DEPTH_LABEL`], and the engine feeds no automation an event at [`MAX_DEPTH`] or deeper.
//!
//! So "notify me when automation X fires" works (depth 1), as does a chain of one more, but a
//! cycle ends after [`MAX_DEPTH`] rounds.

use uuid::Uuid;

use crate::event::{Event, resource_uuid};

/// The resource label carrying an automation event's cascade depth (a decimal string, as
/// every label value is).
pub const DEPTH_LABEL: &str = "flowgate.automation.cascade-depth";

/// Events at this depth or deeper are recorded but reach no automation.
pub const MAX_DEPTH: u32 = 3;

/// An event's cascade depth: its [`DEPTH_LABEL`], or 0 when it has none or an unreadable one.
pub fn depth(ev: &Event) -> u32 {
    (ev.resource.get(DEPTH_LABEL))
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The depth of events emitted by a firing that `triggering` completed (none for a firing
/// decided by a clock).
pub fn depth_after(triggering: Option<&Event>) -> u32 {
    triggering.map_or(0, depth).saturating_add(1)
}

/// The automation an event is about, if its resource is one.
pub fn automation_of(ev: &Event) -> Option<Uuid> {
    resource_uuid(ev.resource_id(), "prefect.automation")
}

/// Whether any automation may be fed `ev`.
pub fn feeds_automations(ev: &Event) -> bool {
    depth(ev) < MAX_DEPTH
}
