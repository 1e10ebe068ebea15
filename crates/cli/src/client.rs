//! A small client for the Flowgate API, speaking the shared wire types (`flowgate_wire`), with
//! errors worded for people.

use std::collections::HashMap;

use anyhow::Context;
use flowgate_wire::filters::{AnyOf, FlowFilter, FlowFilterRequest};
use flowgate_wire::flows::Flow;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

/// Names as URL path segments (shared with the SDK).
pub use flowgate_wire::segment;

/// Where the API is.
#[derive(clap::Args)]
pub struct ApiArgs {
    /// API base URL [env: FLOWGATE_API_URL, else PREFECT_API_URL; default http://127.0.0.1:4200/api]
    #[arg(long, global = true)]
    api_url: Option<String>,
}

impl ApiArgs {
    /// A client for the chosen URL.
    pub fn client(&self) -> anyhow::Result<Client> {
        let base = self
            .api_url
            .clone()
            .or_else(|| {
                std::env::var("FLOWGATE_API_URL")
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .or_else(|| {
                std::env::var("PREFECT_API_URL")
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| "http://127.0.0.1:4200/api".to_owned());
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .default_headers(auth_headers()?)
            .build()
            .context("could not build the HTTP client")?;
        Ok(Client {
            base: base.trim_end_matches('/').to_owned(),
            http,
        })
    }
}

/// `Authorization` for the API key in the environment (FLOWGATE_API_KEY, else
/// PREFECT_API_KEY), marked sensitive so it is never printed; none without a key.
fn auth_headers() -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    if let Some(key) = flowgate_wire::auth::api_key_from_env() {
        let mut value = HeaderValue::from_str(&flowgate_wire::auth::bearer(&key)).context(
            "the API key in FLOWGATE_API_KEY or PREFECT_API_KEY is not valid header text",
        )?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    Ok(headers)
}

/// An API client.
#[derive(Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// `GET path`, read as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(path, self.http.get(self.url(path))).await
    }

    /// `POST path` with `body` as JSON, the answer read as `T`.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        self.send(path, self.http.post(self.url(path)).json(body))
            .await
    }

    /// `PATCH path` with `body` as JSON (the answer, usually 204, is not read).
    pub async fn patch(&self, path: &str, body: &impl Serialize) -> anyhow::Result<()> {
        self.send::<Value>(path, self.http.patch(self.url(path)).json(body))
            .await
            .map(drop)
    }

    /// `POST path` with `body` as JSON, not reading the answer (for 204s).
    pub async fn post_empty<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<()> {
        self.send::<Value>(path, self.http.post(self.url(path)).json(body))
            .await
            .map(drop)
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.send::<Value>(path, self.http.delete(self.url(path)))
            .await
            .map(drop)
    }

    /// The names of the flows with these ids (absent ids are left out).
    pub async fn flow_names(
        &self,
        ids: impl IntoIterator<Item = Uuid>,
    ) -> anyhow::Result<HashMap<Uuid, String>> {
        let ids: Vec<Uuid> = ids.into_iter().collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let body = FlowFilterRequest {
            flows: Some(FlowFilter {
                id: Some(AnyOf::new(ids)),
                ..Default::default()
            }),
            limit: Some(10_000),
            ..Default::default()
        };
        let flows: Vec<Flow> = self.post("/flows/filter", &body).await?;
        Ok(flows.into_iter().map(|f| (f.id, f.name)).collect())
    }

    /// The API's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        path: &str,
        req: reqwest::RequestBuilder,
    ) -> anyhow::Result<T> {
        let resp = req.send().await.map_err(|e| Unreachable {
            base: self.base.clone(),
            cause: root_cause(&e),
        })?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return serde_json::from_value(body).with_context(|| {
                format!(
                    "the server at {} answered {path} with something this CLI does not read; \
                     are the server and the CLI the same version?",
                    self.base
                )
            });
        }
        let detail = match serde_json::from_value::<flowgate_wire::ErrorBody>(body.clone()) {
            Ok(e) => e.detail,
            Err(_) if body.is_null() => status.to_string(),
            Err(_) => body.to_string(),
        };
        let detail = if status == reqwest::StatusCode::UNAUTHORIZED {
            format!(
                "{detail}. Set FLOWGATE_API_KEY to a key the server at {} accepts",
                self.base
            )
        } else {
            detail
        };
        Err(Refused {
            status: status.as_u16(),
            detail,
        }
        .into())
    }
}

/// The server could not be reached (a worker waits and tries again).
#[derive(Debug)]
pub struct Unreachable {
    base: String,
    cause: String,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "could not reach the Flowgate server at {}: {}. Is it running? Start it with `flowgate server start`",
            self.base, self.cause
        )
    }
}

impl std::error::Error for Unreachable {}

/// The server answered with an error status.
#[derive(Debug)]
pub struct Refused {
    /// The HTTP status.
    pub status: u16,
    /// The server's `detail`.
    pub detail: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (HTTP {})", self.detail, self.status)
    }
}

impl std::error::Error for Refused {}

/// Whether `e` (or what it wraps) is the server being unreachable or unavailable (503): an
/// error worth waiting out.
pub fn is_transient(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<Unreachable>() || c.downcast_ref::<Refused>().is_some_and(|r| r.status == 503)
    })
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
