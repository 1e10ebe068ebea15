//! Ingest: events and log lines from every connection go through one channel to one writer,
//! which stores them in batches (one transaction per batch) and then publishes the new events to
//! live subscribers. A flush barrier lets a connection wait until everything it sent is durable;
//! a batch of log lines is acknowledged once its transaction commits.

use std::sync::Arc;
use std::time::Duration;

use flowgate_core::Event;
use flowgate_store::DynStore;
use flowgate_store::model::LogEntry;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::services::Shutdown;

/// Events per transaction at most.
const MAX_BATCH: usize = 1024;
/// Events that may wait in the channel before senders are slowed down.
const QUEUE: usize = 4096;
/// How long a report may wait for others to share its transaction.
const LINGER: Duration = Duration::from_millis(5);
/// Write attempts before a batch is reported as failed.
const ATTEMPTS: u32 = 4;

enum Msg {
    Event(Event),
    Logs(Vec<LogEntry>),
    Flush(oneshot::Sender<Result<(), String>>),
}

/// The sending side of the ingest pipeline.
#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Msg>,
}

/// Why ingest could not take or confirm events.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The server is shutting down.
    #[error("the server is shutting down")]
    Closed,
    /// The batch holding the events could not be written.
    #[error("events could not be stored: {0}")]
    Write(String),
}

impl Ingest {
    /// Starts the writer; returns the sender and the writer's future (run it as a service).
    pub fn new(
        store: DynStore,
        bus: broadcast::Sender<Arc<Event>>,
        shutdown: Shutdown,
    ) -> (
        Ingest,
        impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Ingest { tx }, run(store, bus, rx, shutdown))
    }

    /// Queues one event (waits while the queue is full).
    pub async fn submit(&self, event: Event) -> Result<(), IngestError> {
        self.tx
            .send(Msg::Event(event))
            .await
            .map_err(|_| IngestError::Closed)
    }

    /// Queues log lines for the next batch (a later flush confirms them).
    pub async fn submit_log(&self, log: LogEntry) -> Result<(), IngestError> {
        self.tx
            .send(Msg::Logs(vec![log]))
            .await
            .map_err(|_| IngestError::Closed)
    }

    /// Stores log lines with the next batch; returns once they are committed.
    pub async fn submit_logs(&self, logs: Vec<LogEntry>) -> Result<(), IngestError> {
        self.tx
            .send(Msg::Logs(logs))
            .await
            .map_err(|_| IngestError::Closed)?;
        self.flush().await
    }

    /// Waits until every event queued before this call is stored.
    pub async fn flush(&self) -> Result<(), IngestError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Flush(done))
            .await
            .map_err(|_| IngestError::Closed)?;
        wait.await
            .map_err(|_| IngestError::Closed)?
            .map_err(IngestError::Write)
    }
}

/// Group commit: messages gather until someone waits for them (a flush), the batch is full, or
/// the first of them has waited `LINGER`; then one transaction stores them all. Many small
/// reports (a flow's task events, its logs) become one write instead of one each.
async fn run(
    store: DynStore,
    bus: broadcast::Sender<Arc<Event>>,
    mut rx: mpsc::Receiver<Msg>,
    mut shutdown: Shutdown,
) {
    let mut msgs = Vec::with_capacity(MAX_BATCH);
    let mut oldest: Option<tokio::time::Instant> = None;
    loop {
        let linger_until = oldest.map(|t| t + LINGER);
        let received = tokio::select! {
            n = rx.recv_many(&mut msgs, MAX_BATCH) => Some(n),
            () = sleep_until(linger_until) => None,
            () = shutdown.requested() => {
                // Stop taking new events, then store everything already accepted.
                rx.close();
                while rx.recv_many(&mut msgs, MAX_BATCH).await > 0 {}
                write_batch(&store, &bus, &mut msgs).await;
                return;
            }
        };
        if received == Some(0) {
            write_batch(&store, &bus, &mut msgs).await;
            return;
        }
        oldest.get_or_insert_with(tokio::time::Instant::now);
        let someone_waits = msgs.iter().any(|m| matches!(m, Msg::Flush(_)));
        if received.is_none() || someone_waits || msgs.len() >= MAX_BATCH {
            write_batch(&store, &bus, &mut msgs).await;
            oldest = None;
        }
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn write_batch(store: &DynStore, bus: &broadcast::Sender<Arc<Event>>, msgs: &mut Vec<Msg>) {
    let mut events = Vec::new();
    let mut logs = Vec::new();
    let mut waiters = Vec::new();
    for m in msgs.drain(..) {
        match m {
            Msg::Event(e) => events.push(e),
            Msg::Logs(l) => logs.extend(l),
            Msg::Flush(w) => waiters.push(w),
        }
    }
    let mut result = Ok(());
    if !events.is_empty() || !logs.is_empty() {
        result = store_with_retry(store, &events, &logs).await.map(|fresh| {
            if bus.receiver_count() > 0 {
                let fresh: std::collections::HashSet<_> = fresh.into_iter().collect();
                for e in events.into_iter().filter(|e| fresh.contains(&e.id)) {
                    let _ = bus.send(Arc::new(e));
                }
            }
        });
    }
    for w in waiters {
        let _ = w.send(result.clone());
    }
}

async fn store_with_retry(
    store: &DynStore,
    events: &[Event],
    logs: &[LogEntry],
) -> Result<Vec<uuid::Uuid>, String> {
    let mut delay = Duration::from_millis(50);
    let mut attempt = 1;
    loop {
        match store.ingest(events, logs, crate::app::now()).await {
            Ok(outcome) => {
                tracing::debug!(
                    stored = outcome.stored,
                    duplicates = outcome.duplicates,
                    task_runs = outcome.task_runs,
                    "event batch stored"
                );
                return Ok(outcome.fresh);
            }
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(attempt, error = %e, "event batch write failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 4;
                attempt += 1;
            }
            Err(e) => {
                tracing::error!(events = events.len(), error = %e, "event batch could not be stored");
                return Err(e.to_string());
            }
        }
    }
}
