//! Concurrency limits on the wire: global limits (`/v2/concurrency_limits/…`), slot traffic
//! (increment, leases, decrement) and tag limits (`/concurrency_limits/…`, Prefect's v1 view
//! onto limits named `tag:<tag>`). Field names and defaults follow `prefect==3.9.1`; Flowgate's
//! extensions are marked.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Micros;

fn yes() -> bool {
    true
}

fn default_lease_seconds() -> f64 {
    300.0
}

fn concurrency_mode() -> String {
    "concurrency".to_owned()
}

/// `POST /v2/concurrency_limits/`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct GlobalLimitCreate {
    /// Unique name.
    pub name: String,
    /// Slots.
    pub limit: i64,
    /// Whether it limits (default true).
    #[serde(default = "yes")]
    pub active: bool,
    /// Slots occupied from the start.
    #[serde(default)]
    pub active_slots: i64,
    /// Denied slots to start from.
    #[serde(default)]
    pub denied_slots: i64,
    /// Drain rate in slots per second (0: a plain concurrency limit).
    #[serde(default)]
    pub slot_decay_per_second: f64,
}

/// `PATCH /v2/concurrency_limits/{id_or_name}`: fields present are changed.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
pub struct GlobalLimitUpdate {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New slot count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Whether it limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Sets the occupied count (0 releases every slot, leases included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_slots: Option<i64>,
    /// Sets the denied count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_slots: Option<i64>,
    /// New drain rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_decay_per_second: Option<f64>,
}

/// A global limit as clients read it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct GlobalLimit {
    /// Id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When its settings last changed.
    pub updated: Micros,
    /// Whether it limits.
    pub active: bool,
    /// Unique name.
    pub name: String,
    /// Slots.
    pub limit: i64,
    /// Slots occupied now (a partly drained slot counts).
    pub active_slots: i64,
    /// Slots refused since creation or the last reset.
    pub denied_slots: i64,
    /// Drain rate in slots per second.
    pub slot_decay_per_second: f64,
    /// Moving average of seconds a slot is held.
    pub avg_slot_occupancy_seconds: f64,
}

/// `POST /v2/concurrency_limits/filter` and the v1 `/filter`: a page.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
pub struct LimitPage {
    /// Most limits to return.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Limits to skip.
    #[serde(default)]
    pub offset: Option<i64>,
}

/// Who holds a lease (`{"type": "task_run", "id": …}`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct LeaseHolder {
    /// `flow_run`, `task_run` or `deployment`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: Uuid,
}

/// `POST /v2/concurrency_limits/increment` and `/increment-with-lease`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct SlotRequest {
    /// Limit names (names without a limit are ignored).
    pub names: Vec<String>,
    /// Slots on each.
    pub slots: i64,
    /// `concurrency` (held until released) or `rate_limit` (drained by the decay).
    #[serde(default = "concurrency_mode")]
    pub mode: String,
    /// Seconds the lease lives unrenewed (with a lease only).
    #[serde(default = "default_lease_seconds")]
    pub lease_duration: f64,
    /// Who will hold the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<LeaseHolder>,
    /// Deprecated by Prefect; accepted and ignored (limits must exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_if_missing: Option<bool>,
    /// Flowgate extension: how long the server may hold the request waiting for slots before
    /// answering 423 (default 20 s, at most 60 s). The wait ends the moment slots are granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<f64>,
}

/// A limit as an acquisition reports it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct MinimalLimit {
    /// Id.
    pub id: Uuid,
    /// Name (the tag, in the v1 API).
    pub name: String,
    /// Slots.
    pub limit: i64,
}

/// The answer to `/increment-with-lease`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct LeaseGranted {
    /// The lease to renew and release (unused when `limits` is empty).
    pub lease_id: Uuid,
    /// The named limits that exist.
    pub limits: Vec<MinimalLimit>,
}

/// `POST /v2/concurrency_limits/leases/{id}/renew`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct LeaseRenewal {
    /// Seconds from now.
    #[serde(default = "default_lease_seconds")]
    pub lease_duration: f64,
}

/// `POST /v2/concurrency_limits/decrement-with-lease`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct LeaseRelease {
    /// The lease.
    pub lease_id: Uuid,
}

/// `POST /v2/concurrency_limits/decrement`: gives back slots taken without a lease.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct SlotRelease {
    /// Limit names.
    pub names: Vec<String>,
    /// Slots on each.
    pub slots: i64,
    /// How long they were held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupancy_seconds: Option<f64>,
    /// Deprecated by Prefect; accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_if_missing: Option<bool>,
}

/// A lease as Flowgate shows it (in [`LimitHolders`]).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct LeaseView {
    /// Id.
    pub id: Uuid,
    /// Slots it holds on each of its limits.
    pub slots: i64,
    /// Who holds it, if the client said.
    pub holder: Option<LeaseHolder>,
    /// When the slots were taken.
    pub acquired_at: Micros,
    /// When it dies unless renewed.
    pub expires_at: Micros,
}

/// `GET /v2/concurrency_limits/{id_or_name}/holders` (a Flowgate extension): who holds the
/// limit's slots, until when, and how many requests wait in line.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct LimitHolders {
    /// The live leases, oldest first.
    pub leases: Vec<LeaseView>,
    /// Requests waiting for slots at this server.
    pub waiting: u32,
}

/// `POST /concurrency_limits/` (v1): creates or updates the tag's limit.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct TagLimitCreate {
    /// The tag.
    pub tag: String,
    /// Task runs with the tag that may run at once.
    pub concurrency_limit: i64,
}

/// A tag limit as the v1 API shows it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct TagLimit {
    /// Id (the underlying limit's).
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When its settings last changed.
    pub updated: Micros,
    /// The tag.
    pub tag: String,
    /// Task runs with the tag that may run at once.
    pub concurrency_limit: i64,
    /// The task runs holding its slots.
    pub active_slots: Vec<Uuid>,
}

/// `POST /concurrency_limits/tag/{tag}/reset`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
pub struct TagReset {
    /// Task runs to hold one slot each afterwards.
    #[serde(default)]
    pub slot_override: Option<Vec<Uuid>>,
}

/// `POST /concurrency_limits/increment` and `/decrement` (v1): a task run takes or gives back
/// one slot of each tag's limit.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct TagSlots {
    /// The tags.
    pub names: Vec<String>,
    /// The task run.
    pub task_run_id: Uuid,
    /// How long the slot was held (decrement only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupancy_seconds: Option<f64>,
}
