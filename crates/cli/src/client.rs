//! A small client for the Flowgate API, with errors worded for people.

use anyhow::{Context, bail};
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
    /// `GET path`.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path))).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
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
            return Ok(body);
        }
        let detail = body
            .get("detail")
            .map(|d| {
                d.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| d.to_string())
            })
            .unwrap_or_else(|| status.to_string());
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
