//! Events: what clients emit (`POST /events`, the `/events/in` websocket), what readers get
//! (`POST /events/filter`, the `/events/out` websocket), and the websockets' frames.
//!
//! Both websockets speak Prefect's protocol: subprotocol `prefect`, a first [`AuthFrame`]
//! answered with an [`AuthAnswer`], then one frame per event. A websocket ping on `/events/in` is
//! answered only once everything sent before it is stored.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::Micros;
use crate::filters::EventFilter;
use crate::logs::LogCreate;

/// One event, as emitted and as read back.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug)]
pub struct Event {
    /// Chosen by the emitter; the server stores each id once.
    pub id: Uuid,
    /// When it happened, by the emitter's clock.
    pub occurred: Micros,
    /// Dotted name, e.g. `prefect.task-run.Completed`.
    pub event: String,
    /// Labels of the resource it is about; `prefect.resource.id` names it.
    pub resource: Map<String, Value>,
    /// Labels of related resources, each with a `prefect.resource.role`.
    #[serde(default)]
    pub related: Vec<Map<String, Value>>,
    /// Event-specific data, kept as the JSON text it arrived as (`{}` when absent).
    #[serde(default)]
    pub payload: Option<Box<RawValue>>,
    /// The event this one follows, when the emitter knows it.
    #[serde(default)]
    pub follows: Option<Uuid>,
    /// When the server received it (set by the server; absent when emitting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<Micros>,
}

/// The answer of `POST /events/filter`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug)]
pub struct EventPage {
    /// The events on this page.
    pub events: Vec<Event>,
    /// How many events match in all.
    pub total: i64,
    /// The next page's URL (`/api/events/filter/next?page-token=…`), null on the last page.
    pub next_page: Option<String>,
}

/// `GET /events/filter/next?page-token=…`: the query of a `next_page` link.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct EventPageQuery {
    /// The opaque token from the previous page's `next_page` (valid for an hour).
    #[serde(rename = "page-token")]
    pub page_token: String,
}

/// What kind of frame a websocket frame is (its `type`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FrameType {
    /// Client → server, first: authenticate.
    Auth,
    /// Server → client: authenticated.
    AuthSuccess,
    /// Server → client: not authenticated; the socket closes.
    AuthFailure,
    /// Client → server on `/events/out`: which events to stream.
    Filter,
    /// Server → client on `/events/out`: one event.
    Event,
    /// Server → client: a frame was refused (and skipped), or the subscription is invalid.
    Error,
    /// Client → server on `/events/in`: one run log line (a Flowgate extension).
    Log,
}

/// The first frame a client sends on either websocket.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct AuthFrame {
    /// [`FrameType::Auth`].
    #[serde(rename = "type")]
    pub kind: FrameType,
    /// An API key, or `NAME:KEY` (`PREFECT_API_AUTH_STRING`): checked when the server requires
    /// keys and the websocket handshake carried no `Authorization` header; null otherwise.
    #[serde(default)]
    pub token: Option<String>,
}

impl AuthFrame {
    /// An auth frame without a token.
    pub fn anonymous() -> AuthFrame {
        AuthFrame {
            kind: FrameType::Auth,
            token: None,
        }
    }
}

/// The server's answer to an [`AuthFrame`].
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct AuthAnswer {
    /// [`FrameType::AuthSuccess`] or [`FrameType::AuthFailure`].
    #[serde(rename = "type")]
    pub kind: FrameType,
    /// Why authentication failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The frame that starts a subscription on `/events/out`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct SubscribeFrame {
    /// [`FrameType::Filter`].
    #[serde(rename = "type")]
    pub kind: FrameType,
    /// Which events to stream; with `occurred.since`, stored events from then are sent first.
    pub filter: EventFilter,
}

impl SubscribeFrame {
    /// A subscription to the events `filter` matches.
    pub fn new(filter: EventFilter) -> SubscribeFrame {
        SubscribeFrame {
            kind: FrameType::Filter,
            filter,
        }
    }
}

/// One event streamed on `/events/out`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug)]
pub struct EventFrame {
    /// [`FrameType::Event`].
    #[serde(rename = "type")]
    pub kind: FrameType,
    /// The event.
    pub event: Event,
}

/// A refused frame or subscription, with what is wrong.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct ErrorFrame {
    /// [`FrameType::Error`].
    #[serde(rename = "type")]
    pub kind: FrameType,
    /// What is wrong and what to do.
    pub detail: String,
}

impl ErrorFrame {
    /// An error frame saying `detail`.
    pub fn new(detail: impl Into<String>) -> ErrorFrame {
        ErrorFrame {
            kind: FrameType::Error,
            detail: detail.into(),
        }
    }
}

/// A run log line sent on `/events/in` (a Flowgate extension: one flush then confirms a run's
/// events and logs together).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct LogFrame {
    /// [`FrameType::Log`].
    #[serde(rename = "type")]
    pub kind: FrameType,
    /// The line.
    pub log: LogCreate,
}

impl LogFrame {
    /// A frame carrying `log`.
    pub fn new(log: LogCreate) -> LogFrame {
        LogFrame {
            kind: FrameType::Log,
            log,
        }
    }
}

/// What `/events/count-by/{countable}` counts by (its path segment).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Countable {
    /// Calendar days (UTC).
    Day,
    /// Buckets of `time_interval` `time_unit`s.
    Time,
    /// Event names.
    Event,
    /// The resources events are about.
    Resource,
}

/// The unit of a time bucket.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Seconds.
    Second,
    /// Minutes.
    Minute,
    /// Hours.
    Hour,
    /// Days.
    Day,
    /// Weeks (from Monday).
    Week,
}

/// `POST /events/count-by/{countable}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct EventCountRequest {
    /// Which events (`occurred` bounds the time buckets: until now and since a day before
    /// `until` when absent).
    pub filter: Option<EventFilter>,
    /// For `time`: the bucket's unit (`day` when absent).
    pub time_unit: Option<TimeUnit>,
    /// For `time`: how many units a bucket spans (1 when absent, at least 0.01; at most 1,000
    /// buckets in all).
    pub time_interval: Option<f64>,
}

/// One group of `/events/count-by/{countable}` (Prefect's `EventCount`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct EventCount {
    /// What the events have in common: a bucket's start, an event name or a resource id.
    pub value: String,
    /// How to show it (a resource's name when one of its events names it).
    pub label: String,
    /// How many events.
    pub count: i64,
    /// A bucket's start, or when the group's earliest event occurred.
    pub start_time: Micros,
    /// A bucket's end, or when the group's latest event occurred.
    pub end_time: Micros,
}
