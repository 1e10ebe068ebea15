//! A small client for the Flowgate API, speaking the shared wire types (`flowgate_wire`), with
//! errors worded for people.

use anyhow::{Context, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

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
            .build()
            .context("could not build the HTTP client")?;
        Ok(Client {
            base: base.trim_end_matches('/').to_owned(),
            http,
        })
    }
}

/// An API client.
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

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        path: &str,
        req: reqwest::RequestBuilder,
    ) -> anyhow::Result<T> {
        let resp = req.send().await.map_err(|e| {
            anyhow::anyhow!(
                "could not reach the Flowgate server at {}: {}. Is it running? Start it with `flowgate server start`",
                self.base,
                root_cause(&e)
            )
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
        bail!("{detail} (HTTP {})", status.as_u16())
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
