//! A run's process output: each line echoed on the worker's stdout under the run's name and
//! recorded as the run's logs (stdout at INFO, stderr at WARNING), posted in batches. Lines
//! wait while the server is unreachable and go out when it is back.

use std::time::Duration;

use flowgate_core::Micros;
use flowgate_wire::logs::LogCreate;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::client::{Client, is_transient};
use crate::out::outln_or_drop;

/// The logger name of lines a worker records from a run's process.
const LOGGER: &str = "flowgate.worker.output";
/// Lines posted at once, at most.
const BATCH: usize = 500;
/// Lines kept while the server is unreachable; older ones are dropped beyond it.
const BACKLOG: usize = 50_000;
/// How long a line may wait for others to share its request.
const LINGER: Duration = Duration::from_millis(200);

/// Python-style levels of the two streams.
const INFO: i64 = 20;
const WARNING: i64 = 30;

/// Where a run's output lines go; [`Output::finish`] waits until every line is posted.
pub struct Output {
    lines: mpsc::UnboundedSender<LogCreate>,
    shipper: tokio::task::JoinHandle<()>,
}

impl Output {
    /// Starts posting lines of the run `run_id` to the server.
    pub fn new(client: Client, run_id: Uuid) -> Output {
        let (lines, rx) = mpsc::unbounded_channel();
        let shipper = tokio::spawn(ship(client, run_id, rx));
        Output { lines, shipper }
    }

    /// Reads `stream` line by line until it closes, echoing and recording each line.
    pub fn read(
        &self,
        stream: impl AsyncRead + Unpin + Send + 'static,
        run_id: Uuid,
        label: String,
        stderr: bool,
    ) -> tokio::task::JoinHandle<()> {
        let lines = self.lines.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                outln_or_drop!("{label} | {line}");
                let log = LogCreate {
                    // Its own id: a batch posted again after a lost answer is stored once.
                    id: Some(Uuid::now_v7()),
                    name: LOGGER.to_owned(),
                    level: if stderr { WARNING } else { INFO },
                    message: line,
                    timestamp: Micros::from_timestamp(jiff::Timestamp::now()),
                    flow_run_id: Some(run_id),
                    task_run_id: None,
                };
                if lines.send(log).is_err() {
                    break;
                }
            }
        })
    }

    /// Waits until every line read so far is posted (or given up on, after a refusal).
    pub async fn finish(self, readers: Vec<tokio::task::JoinHandle<()>>) {
        for r in readers {
            let _ = r.await;
        }
        drop(self.lines);
        let _ = self.shipper.await;
    }
}

/// Posts lines in batches until the channel closes and everything is posted.
async fn ship(client: Client, run_id: Uuid, mut rx: mpsc::UnboundedReceiver<LogCreate>) {
    let mut pending: Vec<LogCreate> = Vec::new();
    let mut open = true;
    let mut backoff = Duration::from_millis(200);
    while open || !pending.is_empty() {
        if open {
            // Wait for a line, then for others that come within LINGER.
            if pending.is_empty() {
                match rx.recv().await {
                    Some(l) => pending.push(l),
                    None => open = false,
                }
            }
            let deadline = tokio::time::Instant::now() + LINGER;
            while open && pending.len() < BATCH {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(l)) => pending.push(l),
                    Ok(None) => open = false,
                    Err(_) => break,
                }
            }
        }
        if pending.is_empty() {
            continue;
        }
        let n = pending.len().min(BATCH);
        match client.post_empty("/logs/", &pending[..n]).await {
            Ok(()) => {
                pending.drain(..n);
                backoff = Duration::from_millis(200);
            }
            Err(e) if is_transient(&e) => {
                if pending.len() > BACKLOG {
                    pending.drain(..pending.len() - BACKLOG);
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                eprintln!("the output of flow run {run_id} was not recorded: {e:#}");
                pending.drain(..n);
            }
        }
    }
}
