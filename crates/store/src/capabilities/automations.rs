//! Automations: their definitions (trigger and actions, kept as the JSON documents the server
//! reads them from), the resources they are related to or owned by, the trigger engine's
//! stored state and feed position, and the firings the engine decided with their actions'
//! outcomes.
//!
//! The engine runs on one server at a time: it holds the `triggers` lease, and every write of
//! its state checks the lease in the same transaction (a replica that lost it writes nothing).
//! A firing is recorded under a key the engine derives deterministically, so a replica that
//! takes over and replays events from the last stored position records (and acts on) no firing
//! twice.

use async_trait::async_trait;
use flowgate_core::automations::AutomationState;
use flowgate_core::{Event, Micros};
use serde_json::Value;
use uuid::Uuid;

use crate::model::Page;
use crate::store::Result;

/// What an automation is: everything a client writes.
#[derive(Clone, Debug, PartialEq)]
pub struct AutomationSpec {
    /// Its name (not unique).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Whether the engine evaluates it.
    pub enabled: bool,
    /// Labels.
    pub tags: Vec<String>,
    /// The trigger, as a JSON document (with every trigger's id).
    pub trigger: Value,
    /// The actions (a JSON array), run when the trigger fires or resolves.
    pub actions: Value,
    /// Actions run only when it fires (a JSON array).
    pub actions_on_trigger: Value,
    /// Actions run only when it resolves (a JSON array).
    pub actions_on_resolve: Value,
}

/// A stored automation.
#[derive(Clone, Debug, PartialEq)]
pub struct Automation {
    /// Server-assigned id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When its definition last changed.
    pub updated: Micros,
    /// The definition.
    pub spec: AutomationSpec,
}

/// An enabled automation with what the engine last stored for it.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineAutomation {
    /// The automation.
    pub automation: Automation,
    /// The engine's state, if one was stored and is readable.
    pub state: Option<AutomationState>,
}

/// Which automations a listing returns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AutomationFilter {
    /// Any of these ids.
    pub ids: Option<Vec<Uuid>>,
    /// Any of these exact names.
    pub names: Option<Vec<String>>,
    /// Created at or before this time.
    pub created_before: Option<Micros>,
}

/// The order of a listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AutomationSort {
    /// Newest first.
    CreatedDesc,
    /// Most recently changed first.
    UpdatedDesc,
    /// By name, A to Z.
    #[default]
    NameAsc,
    /// By name, Z to A.
    NameDesc,
}

/// Where the engine is in the stream of stored events: it has taken every event received
/// before `received`, and of those received at `received`, the ones in `ids`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeedPosition {
    /// The latest receive time taken.
    pub received: Micros,
    /// The events received at exactly that time already taken.
    pub ids: Vec<Uuid>,
}

/// What a holder of the engine lease stores at a checkpoint.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EngineCheckpoint {
    /// How far the engine has read.
    pub position: FeedPosition,
    /// The states that changed since the last checkpoint.
    pub states: Vec<(Uuid, AutomationState)>,
}

/// One firing the engine decided, and what its actions did.
#[derive(Clone, Debug, PartialEq)]
pub struct FiringRecord {
    /// The automation.
    pub automation_id: Uuid,
    /// Deterministic identity within the automation (the same events replayed give the same
    /// key).
    pub key: String,
    /// The id of the `prefect.automation.triggered` / `resolved` event recording it.
    pub id: Uuid,
    /// `Triggered` or `Resolved`.
    pub state: String,
    /// The event time the firing is about.
    pub occurred: Micros,
    /// When the engine decided.
    pub decided: Micros,
    /// The event that completed the trigger.
    pub triggering_event: Option<Uuid>,
    /// The actions' outcomes (a JSON array), `null` until they ran.
    pub outcomes: Value,
}

/// Automations and the trigger engine's persistence.
#[async_trait]
pub trait AutomationStore: Send + Sync {
    /// Creates an automation related to the resources its actions refer to (`related`,
    /// `prefect.deployment.<id>`), and owned by `owner` when given.
    async fn create_automation(
        &self,
        spec: &AutomationSpec,
        related: &[String],
        owner: Option<&str>,
        now: Micros,
    ) -> Result<Automation>;
    /// Reads one.
    async fn read_automation(&self, id: Uuid) -> Result<Automation>;
    /// Replaces an automation's definition and the resources its actions refer to (its owner
    /// stays); its engine state is dropped.
    async fn replace_automation(
        &self,
        id: Uuid,
        spec: &AutomationSpec,
        related: &[String],
        now: Micros,
    ) -> Result<Automation>;
    /// Enables or disables one.
    async fn set_automation_enabled(
        &self,
        id: Uuid,
        enabled: bool,
        now: Micros,
    ) -> Result<Automation>;
    /// Deletes one, with its state and firings.
    async fn delete_automation(&self, id: Uuid) -> Result<()>;
    /// Automations matching `filter`.
    async fn filter_automations(
        &self,
        filter: &AutomationFilter,
        sort: AutomationSort,
        page: Page,
    ) -> Result<Vec<Automation>>;
    /// How many match.
    async fn count_automations(&self, filter: &AutomationFilter) -> Result<i64>;
    /// Automations owned by, or whose actions refer to, a resource.
    async fn automations_related_to(&self, resource_id: &str) -> Result<Vec<Automation>>;
    /// Deletes the automations a resource owns that were created by `created_before`; returns
    /// their ids.
    async fn delete_automations_owned_by(
        &self,
        resource_id: &str,
        created_before: Micros,
    ) -> Result<Vec<Uuid>>;

    /// The enabled automations with their stored engine states.
    async fn engine_automations(&self) -> Result<Vec<EngineAutomation>>;
    /// Takes (or keeps) the engine lease for `holder` until `now + ttl`; returns the stored feed
    /// position when `holder` holds it (the very first claim starts reading at `first`),
    /// `None` while another holder's lease lasts.
    async fn claim_engine(
        &self,
        holder: Uuid,
        first: Micros,
        now: Micros,
        ttl: std::time::Duration,
    ) -> Result<Option<FeedPosition>>;
    /// Stores a checkpoint and extends the lease, only while `holder` holds it; `false` (and
    /// nothing written) when it does not.
    async fn save_engine(
        &self,
        holder: Uuid,
        checkpoint: &EngineCheckpoint,
        now: Micros,
        ttl: std::time::Duration,
    ) -> Result<bool>;
    /// Gives the lease up (on shutdown) so another replica may take it at once.
    async fn release_engine(&self, holder: Uuid) -> Result<()>;
    /// Stored events received at or after `position.received` (skipping `position.ids`), in
    /// receive order, at most `limit`.
    async fn events_after(&self, position: &FeedPosition, limit: u32) -> Result<Vec<Event>>;
    /// Records a firing; `false` when one with its key was already recorded (its actions were
    /// run, or are being run, by whoever recorded it).
    async fn record_firing(&self, firing: &FiringRecord) -> Result<bool>;
    /// Stores what a firing's actions did.
    async fn finish_firing(&self, automation_id: Uuid, key: &str, outcomes: &Value) -> Result<()>;
    /// The trigger state the engine last stored for an automation (`None`: none yet, or
    /// unreadable).
    async fn automation_state(&self, id: Uuid) -> Result<Option<AutomationState>>;
    /// An automation's latest firings, newest first.
    async fn automation_firings(&self, id: Uuid, limit: u32) -> Result<Vec<FiringRecord>>;
    /// Whether several servers may share this database (PostgreSQL): the engine then reads
    /// other servers' events from the database as well.
    fn is_shared(&self) -> bool;
}
