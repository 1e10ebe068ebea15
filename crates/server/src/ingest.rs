//! Ingest: events and log lines from every connection go through one channel to one writer,
//! which stores them in batches (one transaction per batch) and then publishes the new events to
//! live subscribers. A flush barrier lets a connection wait until everything it sent is durable;
//! a batch of log lines is acknowledged once its transaction commits.
//!
//! One bad record never costs another its place: a batch the database refuses is split in
//! halves and retried until every record that can be stored is, and only the offenders are
//! refused, each reported to the connection that sent it.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use flowgate_core::Event;
use flowgate_store::model::LogEntry;
use flowgate_store::{DynStore, StoreError};
use tokio::sync::{broadcast, mpsc, oneshot};
use uuid::Uuid;

use crate::clock::Clock;
use crate::metrics::{Counter, Metrics};
use crate::services::Shutdown;

/// Events per transaction at most.
const MAX_BATCH: usize = 1024;
/// Events that may wait in the channel before senders are slowed down.
const QUEUE: usize = 4096;
/// How long a report may wait for others to share its transaction.
const LINGER: Duration = Duration::from_millis(5);
/// Write attempts while the database is unavailable before a batch is reported as failed.
const ATTEMPTS: u32 = 4;

/// A record the database refused, reported to the connection that sent it.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    /// The event's id, or the log line's.
    pub id: Uuid,
    /// `"event"` or `"log line"`.
    pub what: &'static str,
    /// Why, in words for the sender (never the database's own text).
    pub reason: String,
}

/// Where a connection hears about its refused records.
pub type Refusals = mpsc::UnboundedSender<Refusal>;

enum Msg {
    Event(Event, Option<Refusals>),
    Logs(Vec<LogEntry>, Option<Refusals>),
    Flush(oneshot::Sender<Result<(), IngestError>>),
}

/// The sending side of the ingest pipeline.
#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Msg>,
}

/// Why ingest could not take or confirm events.
#[derive(Clone, Debug, thiserror::Error)]
pub enum IngestError {
    /// The server is shutting down.
    #[error("the server is shutting down; send again to another server or once it is back")]
    Closed,
    /// The database stayed unavailable while the batch holding the records was written.
    #[error("the database is unavailable, so recent events were not stored; send them again")]
    Unavailable,
}

impl Ingest {
    /// Starts the writer; returns the sender and the writer's future (run it as a service).
    pub fn new(
        store: DynStore,
        bus: broadcast::Sender<Arc<Event>>,
        clock: Clock,
        metrics: &Metrics,
        shutdown: Shutdown,
    ) -> (
        Ingest,
        impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stored = |what| {
            metrics.counter(
                "flowgate_ingested_total",
                "Records through the ingest writer: events newly stored, log lines and batches written (its rate is the ingest rate)",
                &[("kind", what)],
            )
        };
        let writer = Writer {
            store,
            bus,
            clock,
            events: stored("event"),
            logs: stored("log"),
            batches: stored("batch"),
        };
        (Ingest { tx }, writer.run(rx, shutdown))
    }

    /// Messages (events, log batches, flushes) waiting for the writer.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Queues one event (waits while the queue is full); a refusal goes to `origin`.
    pub async fn submit(&self, event: Event, origin: Option<&Refusals>) -> Result<(), IngestError> {
        self.tx
            .send(Msg::Event(event, origin.cloned()))
            .await
            .map_err(|_| IngestError::Closed)
    }

    /// Queues log lines for the next batch (a later flush confirms them); a refusal goes to
    /// `origin`.
    pub async fn submit_logs(
        &self,
        logs: Vec<LogEntry>,
        origin: Option<&Refusals>,
    ) -> Result<(), IngestError> {
        self.tx
            .send(Msg::Logs(logs, origin.cloned()))
            .await
            .map_err(|_| IngestError::Closed)
    }

    /// Waits until every record queued before this call is stored or refused.
    pub async fn flush(&self) -> Result<(), IngestError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Flush(done))
            .await
            .map_err(|_| IngestError::Closed)?;
        wait.await.map_err(|_| IngestError::Closed)?
    }
}

/// The one writer: owns the store handle, the bus new events are published on, and the clock
/// that stamps folded task runs.
struct Writer {
    store: DynStore,
    bus: broadcast::Sender<Arc<Event>>,
    clock: Clock,
    /// Events newly stored, log lines and batches written.
    events: Counter,
    logs: Counter,
    batches: Counter,
}

/// One batch's records, kept in the order they arrived, with where each came from.
#[derive(Default)]
struct Batch {
    events: Vec<Event>,
    event_origins: Vec<Option<Refusals>>,
    logs: Vec<LogEntry>,
    log_origins: Vec<Option<Refusals>>,
}

/// A part of a batch: a range of its events and a range of its log lines.
#[derive(Clone, Debug, PartialEq)]
struct Part {
    events: Range<usize>,
    logs: Range<usize>,
}

impl Part {
    fn len(&self) -> usize {
        self.events.len() + self.logs.len()
    }

    /// Two non-empty parts holding this part's records (for a part of two or more).
    fn halves(&self) -> (Part, Part) {
        let e = self.events.start + self.events.len().div_ceil(2);
        let l = self.logs.start + self.logs.len() / 2;
        (
            Part {
                events: self.events.start..e,
                logs: self.logs.start..l,
            },
            Part {
                events: e..self.events.end,
                logs: l..self.logs.end,
            },
        )
    }
}

impl Writer {
    /// Group commit: messages gather until someone waits for them (a flush), the batch is full,
    /// or the first of them has waited `LINGER`; then one transaction stores them all. Many
    /// small reports (a flow's task events, its logs) become one write instead of one each.
    async fn run(self, mut rx: mpsc::Receiver<Msg>, mut shutdown: Shutdown) {
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
                    self.write(&mut msgs).await;
                    return;
                }
            };
            if received == Some(0) {
                self.write(&mut msgs).await;
                return;
            }
            oldest.get_or_insert_with(tokio::time::Instant::now);
            let someone_waits = msgs.iter().any(|m| matches!(m, Msg::Flush(_)));
            if received.is_none() || someone_waits || msgs.len() >= MAX_BATCH {
                self.write(&mut msgs).await;
                oldest = None;
            }
        }
    }

    /// Stores what `msgs` hold, publishes the new events, and answers the flushes.
    async fn write(&self, msgs: &mut Vec<Msg>) {
        let mut batch = Batch::default();
        let mut waiters = Vec::new();
        for m in msgs.drain(..) {
            match m {
                Msg::Event(e, origin) => {
                    batch.events.push(e);
                    batch.event_origins.push(origin);
                }
                Msg::Logs(lines, origin) => {
                    batch
                        .log_origins
                        .extend(lines.iter().map(|_| origin.clone()));
                    batch.logs.extend(lines);
                }
                Msg::Flush(w) => waiters.push(w),
            }
        }
        let mut result = Ok(());
        if !batch.events.is_empty() || !batch.logs.is_empty() {
            result = self.store_all(&batch).await.map(|fresh| {
                self.events.add(fresh.len() as u64);
                self.logs.add(batch.logs.len() as u64);
                self.batches.add(1);
                self.publish(batch, fresh)
            });
        }
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }

    /// Sends the newly stored events to live subscribers.
    fn publish(&self, batch: Batch, fresh: Vec<Uuid>) {
        if self.bus.receiver_count() == 0 {
            return;
        }
        let fresh: std::collections::HashSet<_> = fresh.into_iter().collect();
        for e in batch.events.into_iter().filter(|e| fresh.contains(&e.id)) {
            let _ = self.bus.send(Arc::new(e));
        }
    }

    /// Stores every record of `batch` that can be stored: the whole batch at once, and when the
    /// database refuses it, each half on its own, down to the single records it refuses.
    /// Returns the ids of the events newly stored.
    async fn store_all(&self, batch: &Batch) -> Result<Vec<Uuid>, IngestError> {
        let mut fresh = Vec::new();
        let mut parts = vec![Part {
            events: 0..batch.events.len(),
            logs: 0..batch.logs.len(),
        }];
        while let Some(part) = parts.pop() {
            match self.store_part(batch, &part).await {
                Ok(ids) => fresh.extend(ids),
                Err(StoreError::Unavailable(_)) => return Err(IngestError::Unavailable),
                Err(e) if part.len() > 1 => {
                    tracing::warn!(records = part.len(), error = %e, "a batch was refused; storing its halves apart");
                    let (a, b) = part.halves();
                    parts.push(b);
                    parts.push(a);
                }
                Err(e) => refuse(batch, &part, &e),
            }
        }
        Ok(fresh)
    }

    /// Writes one part, retrying while the database is unavailable.
    async fn store_part(&self, batch: &Batch, part: &Part) -> Result<Vec<Uuid>, StoreError> {
        let events = &batch.events[part.events.clone()];
        let logs = &batch.logs[part.logs.clone()];
        let mut delay = Duration::from_millis(50);
        let mut attempt = 1;
        loop {
            match self.store.ingest(events, logs, self.clock.now()).await {
                Ok(outcome) => {
                    tracing::debug!(
                        stored = outcome.stored,
                        duplicates = outcome.duplicates,
                        task_runs = outcome.task_runs,
                        "event batch stored"
                    );
                    return Ok(outcome.fresh);
                }
                Err(StoreError::Unavailable(cause)) if attempt < ATTEMPTS => {
                    tracing::warn!(attempt, %cause, "event batch write failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                    attempt += 1;
                }
                Err(e) => {
                    if matches!(e, StoreError::Unavailable(_)) {
                        tracing::error!(records = part.len(), error = %e, "event batch could not be stored");
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// Refuses the single record `part` holds: logs it and tells its sender why.
fn refuse(batch: &Batch, part: &Part, error: &StoreError) {
    let reason = match error {
        StoreError::Invalid(why) | StoreError::Conflict(why) => why.clone(),
        _ => "the database refused it; the server log says why".to_owned(),
    };
    let (id, what, origin) = if let Some(i) = part.events.clone().next() {
        (batch.events[i].id, "event", &batch.event_origins[i])
    } else if let Some(i) = part.logs.clone().next() {
        (batch.logs[i].id, "log line", &batch.log_origins[i])
    } else {
        return;
    };
    tracing::warn!(%id, what, %error, "record refused by the database");
    if let Some(origin) = origin {
        let _ = origin.send(Refusal { id, what, reason });
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_are_smaller_and_cover_the_part() {
        for events in 0..6 {
            for logs in 0..6 {
                let part = Part {
                    events: 0..events,
                    logs: 0..logs,
                };
                if part.len() < 2 {
                    continue;
                }
                let (a, b) = part.halves();
                assert!(a.len() > 0 && b.len() > 0, "{part:?} -> {a:?} {b:?}");
                assert_eq!(a.len() + b.len(), part.len());
                assert_eq!((a.events.start, b.events.end), (0, events));
                assert_eq!((a.events.end, a.logs.end), (b.events.start, b.logs.start));
            }
        }
    }
}
