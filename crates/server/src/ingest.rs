//! Event ingest: events from every connection go through one channel to one writer, which
//! stores them in batches (one transaction per batch) and then publishes the new ones to live
//! subscribers. A flush barrier lets a connection wait until everything it sent is durable.

use std::sync::Arc;
use std::time::Duration;

use flowgate_core::Event;
use flowgate_store::DynStore;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::services::Shutdown;

/// Events per transaction at most.
const MAX_BATCH: usize = 1024;
/// Events that may wait in the channel before senders are slowed down.
const QUEUE: usize = 4096;
/// Write attempts before a batch is reported as failed.
const ATTEMPTS: u32 = 4;

enum Msg {
    Event(Event),
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

async fn run(
    store: DynStore,
    bus: broadcast::Sender<Arc<Event>>,
    mut rx: mpsc::Receiver<Msg>,
    mut shutdown: Shutdown,
) {
    let mut msgs = Vec::with_capacity(MAX_BATCH);
    loop {
        let n = tokio::select! {
            n = rx.recv_many(&mut msgs, MAX_BATCH) => n,
            () = shutdown.requested() => {
                // Stop taking new events, then store everything already accepted.
                rx.close();
                while rx.recv_many(&mut msgs, MAX_BATCH).await > 0 {
                    write_batch(&store, &bus, &mut msgs).await;
                }
                return;
            }
        };
        if n == 0 {
            return;
        }
        write_batch(&store, &bus, &mut msgs).await;
    }
}

async fn write_batch(store: &DynStore, bus: &broadcast::Sender<Arc<Event>>, msgs: &mut Vec<Msg>) {
    let mut events = Vec::new();
    let mut waiters = Vec::new();
    for m in msgs.drain(..) {
        match m {
            Msg::Event(e) => events.push(e),
            Msg::Flush(w) => waiters.push(w),
        }
    }
    let mut result = Ok(());
    if !events.is_empty() {
        result = store_with_retry(store, &events).await.map(|fresh| {
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

async fn store_with_retry(store: &DynStore, events: &[Event]) -> Result<Vec<uuid::Uuid>, String> {
    let mut delay = Duration::from_millis(50);
    let mut attempt = 1;
    loop {
        match store.ingest_events(events).await {
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
