//! The Flowgate server: Prefect 3's REST API (a compatible subset) and its websockets over a
//! [`flowgate_store`] store, with the background services that keep it going.
//!
//! [`start`] binds and serves until [`RunningServer::stop`]; the CLI's `server start` and the
//! tests both use it.

mod app;
mod auth;
mod automations;
mod checkpoint;
mod clock;
mod concurrency;
mod convert;
mod error;
mod extract;
mod ingest;
mod metrics;
mod openapi;
#[cfg(test)]
mod parser_properties;
mod pause_timeouts;
mod retention;
mod routes;
mod run_input;
mod scheduling;
mod secret_key;
mod services;
mod ui;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, oneshot};

pub use app::{AppState, router};
pub use auth::{ApiKeys, Caller};
pub use clock::Clock;
pub use error::ApiError;
pub use flowgate_core::retention::{Retention, parse_age};
pub use metrics::{Counter, Gauge, Metrics};
pub use secret_key::{SecretKey, SecretKeySource};
pub use services::{ServiceHealth, Services, Shutdown};

/// Where to listen, which database to use, and who may call.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to bind, e.g. `127.0.0.1:4200` (port 0 picks a free one).
    pub bind: SocketAddr,
    /// `sqlite:PATH` or `postgres://…`.
    pub database_url: String,
    /// The keys every request must carry one of; none turns authentication off.
    pub api_keys: ApiKeys,
    /// Listen beyond loopback without keys, deliberately (otherwise [`start`] refuses).
    pub insecure_no_auth: bool,
    /// How long finished runs, logs and events are kept (the `retention` service).
    pub retention: Retention,
    /// The key that seals block documents' secret values in the database.
    pub secret_key: SecretKeySource,
}

impl ServerConfig {
    /// A server on `bind` over `database_url`, without authentication (so `bind` must be a
    /// loopback address unless [`ServerConfig::insecure_no_auth`] is set), with the default
    /// retention, and its secret key beside a SQLite database ([`SecretKeySource::beside`]).
    pub fn new(bind: SocketAddr, database_url: impl Into<String>) -> ServerConfig {
        let database_url = database_url.into();
        ServerConfig {
            bind,
            secret_key: SecretKeySource::beside(&database_url),
            database_url,
            api_keys: ApiKeys::default(),
            insecure_no_auth: false,
            retention: Retention::default(),
        }
    }

    /// Refuses to serve beyond loopback without keys, unless that is deliberate.
    fn check_exposure(&self) -> anyhow::Result<()> {
        if self.api_keys.is_empty() && !self.bind.ip().is_loopback() && !self.insecure_no_auth {
            anyhow::bail!(
                "refusing to listen on {} without authentication: anyone who can reach it could \
                 read and change every run. Give an API key (--api-key NAME=KEY, or \
                 FLOWGATE_API_KEYS), listen on 127.0.0.1, or pass --insecure-no-auth if an open \
                 server is what you want",
                self.bind
            );
        }
        Ok(())
    }
}

/// A server that is accepting requests.
pub struct RunningServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL, e.g. `http://127.0.0.1:4200/api`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// Stops accepting, closes connections, drains the services and waits for all of it.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.done.await.context("server task panicked")?
    }

    /// Waits until the server stops on its own (it does not, unless it fails).
    pub async fn wait(self) -> anyhow::Result<()> {
        let RunningServer { stop, done, .. } = self;
        let result = done.await.context("server task panicked")?;
        drop(stop);
        result
    }
}

/// Opens the database (migrating it), binds, and starts serving in the background, on the
/// system clock.
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    start_with_clock(config, Clock::system()).await
}

/// [`start`] on the given clock: tests pass a [`Clock::manual`] and move time themselves.
pub async fn start_with_clock(config: ServerConfig, clock: Clock) -> anyhow::Result<RunningServer> {
    config.check_exposure()?;
    let key = config.secret_key.load()?;
    let store = flowgate_store::open(&config.database_url, &key)
        .await
        .with_context(|| {
            format!(
                "could not open the database at {}",
                redact(&config.database_url)
            )
        })?;
    let listener = TcpListener::bind(config.bind).await.with_context(|| {
        format!(
            "could not listen on {}; is another server using it?",
            config.bind
        )
    })?;
    let addr = listener.local_addr()?;
    let mut services = Services::default();
    let metrics = Metrics::default();
    let (bus, _) = broadcast::channel(4096);
    let (ingest, ingest_loop) = ingest::Ingest::new(
        store.clone(),
        bus.clone(),
        clock.clone(),
        &metrics,
        services.shutdown_signal(),
    );
    services.spawn("event-ingest", |_| ingest_loop);
    let (slots, slot_writer) = concurrency::SlotEngine::new(
        store.clone(),
        clock.clone(),
        &metrics,
        services.shutdown_signal(),
    );
    services.spawn("slot-engine", |_| slot_writer);
    if let Some(every) = store.checkpoint_every() {
        let (checkpoint_store, checkpoint_metrics) = (store.clone(), metrics.clone());
        services.spawn("checkpoint", move |shutdown| {
            checkpoint::run(checkpoint_store, every, checkpoint_metrics, shutdown)
        });
    }
    let (reaper_store, reaper_engine, reaper_clock) = (store.clone(), slots.clone(), clock.clone());
    services.spawn("lease-reaper", move |shutdown| {
        concurrency::reaper::run(reaper_store, reaper_engine, reaper_clock, shutdown)
    });
    let state = AppState {
        store,
        ingest,
        bus,
        shutdown: services.shutdown_signal(),
        queue: Arc::new(tokio::sync::Notify::new()),
        slots,
        clock,
        work: Arc::new(tokio::sync::Notify::new()),
        scheduler: Arc::new(tokio::sync::Notify::new()),
        api_keys: config.api_keys.clone(),
        automations: Arc::new(tokio::sync::Notify::new()),
        metrics,
        services: services.health(),
    };
    let for_timeouts = state.clone();
    services.spawn("pause-timeouts", move |shutdown| {
        pause_timeouts::run(for_timeouts, shutdown)
    });
    let for_scheduler = state.clone();
    services.spawn("scheduler", move |shutdown| {
        scheduling::scheduler(for_scheduler, shutdown)
    });
    let (for_retention, retention) = (state.clone(), config.retention);
    services.spawn("retention", move |shutdown| {
        retention::run(for_retention, retention, shutdown)
    });
    let for_late_runs = state.clone();
    services.spawn("late-runs", move |shutdown| {
        scheduling::late_runs(for_late_runs, shutdown)
    });
    let (for_triggers, since) = (state.clone(), state.now());
    services.spawn("triggers", move |shutdown| {
        automations::run(for_triggers, since, shutdown)
    });
    let app = router(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let services = Arc::new(tokio::sync::Mutex::new(Some(services)));
    let services_for_signal = services.clone();
    let done = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
            // Tell websockets and services to finish before the listener waits on connections.
            if let Some(s) = services_for_signal.lock().await.as_ref() {
                s.request_shutdown();
            }
        };
        // No Nagle delay: small answers (a pong, a state) must not wait for the peer's ACK.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .context("server failed");
        if let Some(s) = services.lock().await.take() {
            s.shutdown().await;
        }
        served
    });
    if config.api_keys.is_empty() {
        tracing::info!(%addr, "flowgate server listening; authentication is off");
    } else {
        let keys = config.api_keys.names().join(", ");
        tracing::info!(%addr, %keys, "flowgate server listening; API keys required");
    }
    Ok(RunningServer { addr, stop, done })
}

/// The URL with any password replaced, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
