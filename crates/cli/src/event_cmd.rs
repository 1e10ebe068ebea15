//! `flowgate event ls [--follow] | emit`: the events the server stored (and, following, the ones
//! arriving, through the `/events/out` websocket), and emitting a custom event.

use std::collections::HashSet;

use anyhow::{Context, bail};
use clap::Subcommand;
use flowgate_core::Micros;
use flowgate_wire::events::{
    AuthAnswer, AuthFrame, ErrorFrame, Event, EventFrame, EventPage, FrameType, SubscribeFrame,
};
use flowgate_wire::filters::{
    EventFilter, EventFilterRequest, EventNameFilter, EventOrder, OccurredFilter, ResourceFilter,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

use crate::client::Client;
use crate::out::outln;

/// Event commands.
#[derive(Subcommand)]
pub enum EventCommand {
    /// List the latest events, oldest of them first; `--follow` then prints new ones as they
    /// arrive.
    Ls {
        /// Only events whose name starts with this (`prefect.flow-run.`).
        #[arg(long)]
        name: Option<String>,
        /// Only events about this resource (`prefect.flow-run.<id>`; a trailing `*` matches
        /// ids starting with the rest).
        #[arg(long)]
        resource: Option<String>,
        /// How many of the latest events to show first.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Keep printing new events until interrupted.
        #[arg(long, short)]
        follow: bool,
        /// JSON: an array, or with --follow one event per line.
        #[arg(long)]
        json: bool,
    },
    /// Emit an event about a resource (automations can match it).
    Emit {
        /// The event's name, e.g. `acme.order.shipped`.
        name: String,
        /// The resource it is about (its `prefect.resource.id`), e.g. `acme.order.42`.
        #[arg(long)]
        resource_id: String,
        /// The event's payload, a JSON object.
        #[arg(long)]
        payload: Option<String>,
        /// Print the event as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an event command.
pub async fn run(client: Client, command: EventCommand) -> anyhow::Result<()> {
    match command {
        EventCommand::Ls {
            name,
            resource,
            limit,
            follow,
            json,
        } => {
            let filter = filter(name, resource);
            ls(&client, filter, limit, follow, json).await
        }
        EventCommand::Emit {
            name,
            resource_id,
            payload,
            json,
        } => emit(&client, name, resource_id, payload, json).await,
    }
}

fn filter(name: Option<String>, resource: Option<String>) -> EventFilter {
    let resource = resource.map(|r| match r.strip_suffix('*') {
        Some(prefix) => ResourceFilter {
            id_prefix: Some(vec![prefix.to_owned()]),
            ..Default::default()
        },
        None => ResourceFilter {
            id: Some(vec![r]),
            ..Default::default()
        },
    });
    EventFilter {
        event: name.map(|n| EventNameFilter {
            prefix: Some(vec![n]),
            ..Default::default()
        }),
        resource,
        ..Default::default()
    }
}

async fn emit(
    client: &Client,
    name: String,
    resource_id: String,
    payload: Option<String>,
    as_json: bool,
) -> anyhow::Result<()> {
    let payload = match payload {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(_)) => Some(
                serde_json::value::RawValue::from_string(text)
                    .context("the payload is not JSON")?,
            ),
            Ok(_) => bail!("--payload must be a JSON object, like '{{\"order\": 42}}'"),
            Err(e) => {
                bail!("--payload is not JSON ({e}); give an object, like '{{\"order\": 42}}'")
            }
        },
    };
    let mut resource = Map::new();
    resource.insert("prefect.resource.id".to_owned(), Value::String(resource_id));
    let event = Event {
        id: Uuid::now_v7(),
        occurred: now(),
        event: name,
        resource,
        related: Vec::new(),
        payload,
        follows: None,
        received: None,
    };
    client.post_empty("/events/", &[&event]).await?;
    if as_json {
        outln!("{}", serde_json::to_string_pretty(&event)?);
    } else {
        outln!("Emitted event {:?} ({}).", event.event, event.id);
    }
    Ok(())
}

async fn ls(
    client: &Client,
    filter: EventFilter,
    limit: u32,
    follow: bool,
    as_json: bool,
) -> anyhow::Result<()> {
    let body = EventFilterRequest {
        filter: Some(EventFilter {
            order: Some(EventOrder::Desc),
            ..filter.clone()
        }),
        limit: Some(i64::from(limit)),
        offset: None,
    };
    let page: EventPage = client.post("/events/filter", &body).await?;
    let mut latest = page.events;
    latest.reverse();
    let mut lines = Lines::new(&latest, as_json && follow);
    if as_json && !follow {
        outln!("{}", serde_json::to_string_pretty(&latest)?);
        return Ok(());
    }
    if latest.is_empty() && !follow {
        eprintln!("No events match.");
        return Ok(());
    }
    let mut printed = HashSet::new();
    for e in &latest {
        lines.print(e)?;
        printed.insert(e.id);
    }
    if !follow {
        return Ok(());
    }
    // Replay from the newest event shown (or from now), skipping what was printed: nothing
    // stored between the page above and the subscription is missed.
    let since = latest.last().map_or_else(now, |e| e.occurred);
    let subscription = EventFilter {
        occurred: Some(OccurredFilter {
            since: Some(since),
            until: None,
        }),
        ..filter
    };
    follow_events(client, subscription, |e| {
        if printed.insert(e.id) {
            lines.print(&e)?;
        }
        Ok(())
    })
    .await
}

/// Prints events one per line: `OCCURRED  EVENT  RESOURCE  ID` in columns as wide as the
/// first events needed (later longer names push their line's columns), or as JSON lines.
struct Lines {
    json: bool,
    header_printed: bool,
    event_width: usize,
    resource_width: usize,
}

impl Lines {
    fn new(first: &[Event], json: bool) -> Lines {
        let width = |f: fn(&Event) -> usize, header: &str| {
            first.iter().map(f).max().unwrap_or(0).max(header.len())
        };
        Lines {
            json,
            header_printed: false,
            event_width: width(|e| e.event.chars().count(), "EVENT").max(30),
            resource_width: width(|e| resource_id(e).chars().count(), "RESOURCE").max(30),
        }
    }

    fn print(&mut self, e: &Event) -> anyhow::Result<()> {
        if self.json {
            outln!("{}", serde_json::to_string(e)?);
            return Ok(());
        }
        if !self.header_printed {
            self.header_printed = true;
            outln!(
                "{:<23}  {:<ew$}  {:<rw$}  ID",
                "OCCURRED",
                "EVENT",
                "RESOURCE",
                ew = self.event_width,
                rw = self.resource_width
            );
        }
        outln!(
            "{:<23}  {:<ew$}  {:<rw$}  {}",
            e.occurred.to_timestamp().strftime("%Y-%m-%d %H:%M:%S%.3f"),
            e.event,
            resource_id(e),
            e.id,
            ew = self.event_width,
            rw = self.resource_width
        );
        Ok(())
    }
}

fn now() -> Micros {
    Micros::from_timestamp(jiff::Timestamp::now())
}

fn resource_id(e: &Event) -> &str {
    e.resource
        .get("prefect.resource.id")
        .and_then(Value::as_str)
        .unwrap_or("-")
}

/// `ws://…/events/out` for the API at `base`.
fn events_out_url(base: &str) -> anyhow::Result<String> {
    let rest = base
        .strip_prefix("http://")
        .map(|r| format!("ws://{r}"))
        .or_else(|| base.strip_prefix("https://").map(|r| format!("wss://{r}")));
    match rest {
        Some(url) => Ok(format!("{url}/events/out")),
        None => bail!("the API URL {base} does not start with http:// or https://"),
    }
}

/// Subscribes to `/events/out` with `filter` and hands each event to `each` until the server
/// closes the stream (an error: following ends only when interrupted).
async fn follow_events(
    client: &Client,
    filter: EventFilter,
    mut each: impl FnMut(Event) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let url = events_out_url(client.base())?;
    let mut req = url
        .as_str()
        .into_client_request()
        .with_context(|| format!("{url} is not a websocket address"))?;
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "prefect".parse()?);
    if let Some(key) = flowgate_wire::auth::api_key_from_env() {
        let mut value: tokio_tungstenite::tungstenite::http::HeaderValue =
            flowgate_wire::auth::bearer(&key).parse().context(
                "the API key in FLOWGATE_API_KEY or PREFECT_API_KEY is not valid header text",
            )?;
        value.set_sensitive(true);
        req.headers_mut().insert("Authorization", value);
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.map_err(|e| {
        anyhow::anyhow!(
            "could not open the event stream at {url}: {e}. Is the server running and the API key right?"
        )
    })?;
    ws.send(Message::text(serde_json::to_string(
        &AuthFrame::anonymous(),
    )?))
    .await?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) => match serde_json::from_str::<AuthAnswer>(&t) {
            Ok(AuthAnswer {
                kind: FrameType::AuthSuccess,
                ..
            }) => {}
            Ok(AuthAnswer { reason, .. }) => bail!(
                "the server refused the event stream: {}. Set FLOWGATE_API_KEY to a key it accepts",
                reason.unwrap_or_default()
            ),
            Err(_) => bail!("the server answered the event stream with {t}"),
        },
        _ => bail!("the server closed the event stream before authenticating it"),
    }
    ws.send(Message::text(serde_json::to_string(&SubscribeFrame::new(
        filter,
    ))?))
    .await?;
    loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(t))) => {
                    if let Ok(frame) = serde_json::from_str::<EventFrame>(&t) {
                        each(frame.event)?;
                    } else if let Ok(e) = serde_json::from_str::<ErrorFrame>(&t) {
                        bail!("the server refused the subscription: {}", e.detail);
                    }
                }
                Some(Ok(Message::Close(reason))) => bail!(
                    "the server closed the event stream{}",
                    reason.map_or_else(String::new, |r| format!(": {}", r.reason))
                ),
                Some(Ok(_)) => {}
                Some(Err(e)) => bail!("the event stream broke: {e}"),
                None => bail!("the server closed the event stream"),
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_stream_is_beside_the_api() {
        assert_eq!(
            super::events_out_url("http://127.0.0.1:4200/api").unwrap(),
            "ws://127.0.0.1:4200/api/events/out"
        );
        assert_eq!(
            super::events_out_url("https://h/api").unwrap(),
            "wss://h/api/events/out"
        );
        assert!(super::events_out_url("ftp://h").is_err());
    }
}
