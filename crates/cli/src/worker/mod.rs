//! `flowgate worker start --pool P [--queue Q ...] [--limit N] [--name W]`: a worker that runs a
//! pool's flow runs as processes.
//!
//! It creates the pool if missing, heartbeats, and long-polls the hand-out
//! (`get_scheduled_flow_runs` with Flowgate's `wait_seconds`, so a new run reaches a waiting
//! worker at once) for as many runs as it has free slots; each run is supervised by
//! [`run::supervise`]. Held runs are watched for cancellation every second. Losing the server
//! changes nothing for running processes: calls are retried until it is back. The first SIGTERM
//! or Ctrl-C stops taking work and waits for the processes it holds; a second stops them.

mod output;
mod run;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use flowgate_core::StateType;
use flowgate_wire::filters::{
    FlowRunFilter, FlowRunFilterRequest, IdFilter, StateFilter, StateTypeFilter,
};
use flowgate_wire::flow_runs::FlowRun;
use flowgate_wire::work_pools::{
    GetScheduledFlowRuns, WorkPool, WorkPoolCreate, WorkerFlowRun, WorkerHeartbeat,
};
use tokio::sync::{Notify, Semaphore, watch};
use uuid::Uuid;

use crate::client::{Client, Refused, is_transient, segment};
use crate::out::outln_or_drop;
use crate::stop_signals::StopSignals;
use run::Stop;

/// Seconds between heartbeats (the pool counts a worker online for three of them).
const HEARTBEAT_SECONDS: f64 = 10.0;
/// How long one poll waits on the server for a due run.
const POLL_WAIT_SECONDS: f64 = 10.0;
/// How often held runs are checked for cancellation.
const CANCEL_CHECK: Duration = Duration::from_secs(1);

/// Options of `worker start`.
#[derive(clap::Args)]
pub struct StartArgs {
    /// The pool to take runs from (created if missing).
    #[arg(long)]
    pool: String,
    /// Only these queues of the pool (repeatable; default: all, by priority).
    #[arg(long = "queue")]
    queues: Vec<String>,
    /// Runs at once, at most.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
    /// The worker's name in the pool (default: HOST-PID).
    #[arg(long)]
    name: Option<String>,
}

/// Worker commands.
#[derive(clap::Subcommand)]
pub enum WorkerCommand {
    /// Take a pool's runs and run each as a process until stopped (SIGTERM or Ctrl-C).
    Start(StartArgs),
}

/// A running worker, shared by its tasks.
pub struct Worker {
    client: Client,
    api_url: String,
    pool: String,
    name: String,
    /// The runs being supervised, each with the channel that asks its supervisor to stop it.
    held: Mutex<HashMap<Uuid, watch::Sender<Stop>>>,
}

impl Worker {
    fn tell(&self, id: Uuid, stop: Stop) {
        if let Some(tx) = self.held.lock().expect("not poisoned").get(&id) {
            tx.send_if_modified(|s| {
                let change = *s == Stop::No;
                if change {
                    *s = stop;
                }
                change
            });
        }
    }

    fn held_ids(&self) -> Vec<Uuid> {
        self.held
            .lock()
            .expect("not poisoned")
            .keys()
            .copied()
            .collect()
    }
}

/// Runs a worker command.
pub async fn run(client: Client, command: WorkerCommand) -> anyhow::Result<()> {
    let WorkerCommand::Start(args) = command;
    let signals = StopSignals::watch()?;
    let name = args.name.unwrap_or_else(|| {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
        format!("{host}-{}", std::process::id())
    });
    let worker = Arc::new(Worker {
        api_url: client.base().to_owned(),
        client,
        pool: args.pool,
        name,
        held: Mutex::new(HashMap::new()),
    });
    ensure_pool(&worker).await?;
    heartbeat(&worker).await?;
    let queues = if args.queues.is_empty() {
        "all queues".to_owned()
    } else {
        format!("queues {}", args.queues.join(", "))
    };
    outln_or_drop!(
        "Worker {:?} takes runs from pool {:?} ({queues}), up to {} at once; API {}",
        worker.name,
        worker.pool,
        args.limit,
        worker.api_url
    );

    let (stopping_tx, stopping) = watch::channel(0u8);
    tokio::spawn(count_signals(signals, stopping_tx));
    let background = [
        tokio::spawn(heartbeats(worker.clone(), stopping.clone())),
        tokio::spawn(watch_cancellations(worker.clone())),
    ];
    let slots = Arc::new(Semaphore::new(args.limit as usize));
    let finished = Arc::new(Notify::new());
    take_runs(&worker, &args.queues, &slots, &finished, stopping.clone()).await;

    outln_or_drop!(
        "Worker {:?} takes no more runs; waiting for the ones it holds",
        worker.name
    );
    let mut stopping = stopping;
    let all = args.limit;
    loop {
        tokio::select! {
            _ = slots.acquire_many(all) => break,
            changed = stopping.changed() => {
                if changed.is_ok() && *stopping.borrow() >= 2 {
                    for id in worker.held_ids() {
                        worker.tell(id, Stop::Terminate);
                    }
                }
            }
        }
    }
    for task in background {
        task.abort();
    }
    outln_or_drop!("Worker {:?} stopped", worker.name);
    Ok(())
}

/// Counts SIGTERM and SIGINT into `stopping`.
async fn count_signals(mut signals: StopSignals, stopping: watch::Sender<u8>) {
    loop {
        signals.next().await;
        stopping.send_modify(|n| *n = n.saturating_add(1));
    }
}

/// Creates the pool unless it exists.
async fn ensure_pool(worker: &Worker) -> anyhow::Result<()> {
    let path = format!("/work_pools/{}", segment(&worker.pool));
    match worker.client.get::<WorkPool>(&path).await {
        Ok(_) => return Ok(()),
        Err(e)
            if !e
                .chain()
                .any(|c| c.downcast_ref::<Refused>().is_some_and(|r| r.status == 404)) =>
        {
            return Err(e);
        }
        Err(_) => {}
    }
    let body = WorkPoolCreate {
        name: worker.pool.clone(),
        pool_type: "process".to_owned(),
        ..Default::default()
    };
    match worker.client.post::<WorkPool>("/work_pools/", &body).await {
        Ok(_) => {
            outln_or_drop!("Created work pool {:?}", worker.pool);
            Ok(())
        }
        // Another worker created it meanwhile.
        Err(e)
            if e.chain()
                .any(|c| c.downcast_ref::<Refused>().is_some_and(|r| r.status == 409)) =>
        {
            Ok(())
        }
        Err(e) => Err(e).context("cannot create the work pool"),
    }
}

async fn heartbeat(worker: &Worker) -> anyhow::Result<()> {
    let body = WorkerHeartbeat {
        name: worker.name.clone(),
        heartbeat_interval_seconds: Some(HEARTBEAT_SECONDS),
    };
    worker
        .client
        .post_empty(
            &format!("/work_pools/{}/workers/heartbeat", segment(&worker.pool)),
            &body,
        )
        .await
}

/// Heartbeats until the worker stops taking work; a missed beat is tried again next time.
async fn heartbeats(worker: Arc<Worker>, mut stopping: watch::Receiver<u8>) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(HEARTBEAT_SECONDS));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopping.changed() => return,
        }
        if let Err(e) = heartbeat(&worker).await
            && !is_transient(&e)
        {
            eprintln!("heartbeat refused: {e:#}");
        }
    }
}

/// Takes runs while there are free slots, until the worker is asked to stop.
async fn take_runs(
    worker: &Arc<Worker>,
    queues: &[String],
    slots: &Arc<Semaphore>,
    finished: &Arc<Notify>,
    mut stopping: watch::Receiver<u8>,
) {
    let path = format!(
        "/work_pools/{}/get_scheduled_flow_runs",
        segment(&worker.pool)
    );
    let mut away: Option<Duration> = None;
    while *stopping.borrow() == 0 {
        let free = slots.available_permits();
        if free == 0 {
            tokio::select! {
                () = finished.notified() => {}
                _ = stopping.changed() => {}
            }
            continue;
        }
        let body = GetScheduledFlowRuns {
            work_queue_names: (!queues.is_empty()).then(|| queues.to_vec()),
            limit: Some(free as i64),
            wait_seconds: Some(POLL_WAIT_SECONDS),
            worker_name: Some(worker.name.clone()),
            ..Default::default()
        };
        // A poll given up at shutdown may have claimed runs: their claim lapses and another
        // worker takes them.
        let polled = tokio::select! {
            r = worker.client.post::<Vec<WorkerFlowRun>>(&path, &body) => r,
            _ = stopping.changed() => break,
        };
        let handed = match polled {
            Ok(handed) => {
                if away.take().is_some() {
                    outln_or_drop!("Reconnected to {}", worker.api_url);
                }
                handed
            }
            Err(e) => {
                let delay = away.map_or(Duration::from_millis(200), |d| {
                    (d * 2).min(Duration::from_secs(5))
                });
                if away.is_none() {
                    eprintln!("cannot take runs, trying again: {e:#}");
                }
                away = Some(delay);
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = stopping.changed() => {}
                }
                continue;
            }
        };
        for h in handed {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                break;
            };
            let (tx, rx) = watch::channel(Stop::No);
            let id = h.flow_run.id;
            worker.held.lock().expect("not poisoned").insert(id, tx);
            let (worker, finished) = (worker.clone(), finished.clone());
            tokio::spawn(async move {
                run::supervise(&worker, h.flow_run, rx).await;
                worker.held.lock().expect("not poisoned").remove(&id);
                drop(permit);
                finished.notify_one();
            });
        }
    }
}

/// Asks the supervisor of each held run that is being cancelled (or was cancelled outright)
/// to stop its process.
async fn watch_cancellations(worker: Arc<Worker>) {
    loop {
        tokio::time::sleep(CANCEL_CHECK).await;
        let held = worker.held_ids();
        if held.is_empty() {
            continue;
        }
        let body = FlowRunFilterRequest {
            flow_runs: Some(FlowRunFilter {
                id: Some(IdFilter {
                    any_: Some(held),
                    not_any_: None,
                }),
                state: Some(StateFilter {
                    state_type: Some(StateTypeFilter {
                        any_: Some(vec![StateType::Cancelling, StateType::Cancelled]),
                        not_any_: None,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        if let Ok(runs) = worker
            .client
            .post::<Vec<FlowRun>>("/flow_runs/filter", &body)
            .await
        {
            for r in runs {
                worker.tell(r.id, Stop::Cancel);
            }
        }
    }
}
